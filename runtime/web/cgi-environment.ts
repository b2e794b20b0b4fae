/** Builds the CGI/1.1 meta-variables (RFC 3875 section 4.1) for one HTTP request. */

import type { HttpRequest } from './http-event.ts';

export interface CgiScript {
  /** Real path of the script (`SCRIPT_FILENAME`). */
  readonly file: string;
  /** The handler as configured, relative to the task root (`index.php`): `SCRIPT_NAME` is `/` + this. */
  readonly name: string;
  /** The task root (`DOCUMENT_ROOT`). */
  readonly taskRoot: string;
  /** `SERVER_SOFTWARE`. */
  readonly serverSoftware: string;
}

/** Every name this module may set: removed from the base environment first, so none leaks in from it. */
export const CGI_VARIABLES = [
  'GATEWAY_INTERFACE',
  'SERVER_SOFTWARE',
  'SERVER_NAME',
  'SERVER_PORT',
  'SERVER_PROTOCOL',
  'REQUEST_METHOD',
  'REQUEST_URI',
  'REQUEST_SCHEME',
  'QUERY_STRING',
  'SCRIPT_NAME',
  'SCRIPT_FILENAME',
  'PATH_INFO',
  'PATH_TRANSLATED',
  'DOCUMENT_ROOT',
  'CONTENT_TYPE',
  'CONTENT_LENGTH',
  'REMOTE_ADDR',
  'HTTPS',
  'REDIRECT_STATUS',
  'AUTH_TYPE',
  'REMOTE_USER',
] as const;

/**
 * The CGI variables for a request: the RFC 3875 set, `REQUEST_URI`, `SCRIPT_FILENAME`, `DOCUMENT_ROOT`,
 * `HTTPS`, `REDIRECT_STATUS=200` (php-cgi refuses to run without it), and `HTTP_*` for each header.
 * Pure: the caller merges it over the process environment.
 */
export function cgiVariables(request: HttpRequest, script: CgiScript): Record<string, string> {
  const headers = joinHeaders(request.headers);
  const https = isHttps(request, headers);
  const host = headers.get('host') ?? request.domainName ?? 'localhost';
  const { name: serverName, port: hostPort } = splitHost(host);
  const scriptName = `/${script.name}`;
  const decodedPath = decodePath(request.path);
  const pathInfo = decodedPath.startsWith(`${scriptName}/`)
    ? decodedPath.slice(scriptName.length)
    : decodedPath === scriptName
      ? ''
      : decodedPath;

  const env: Record<string, string> = {
    GATEWAY_INTERFACE: 'CGI/1.1',
    SERVER_SOFTWARE: script.serverSoftware,
    SERVER_NAME: serverName,
    SERVER_PORT: headers.get('x-forwarded-port') ?? hostPort ?? (https ? '443' : '80'),
    SERVER_PROTOCOL: request.protocol,
    REQUEST_METHOD: request.method,
    REQUEST_URI: request.query ? `${request.path}?${request.query}` : request.path,
    REQUEST_SCHEME: https ? 'https' : 'http',
    QUERY_STRING: request.query,
    SCRIPT_NAME: scriptName,
    SCRIPT_FILENAME: script.file,
    PATH_INFO: pathInfo,
    DOCUMENT_ROOT: script.taskRoot,
    REDIRECT_STATUS: '200',
  };
  if (https) env.HTTPS = 'on';
  if (request.sourceIp) env.REMOTE_ADDR = request.sourceIp;
  if (request.body.length > 0) env.CONTENT_LENGTH = String(request.body.length);
  const contentType = headers.get('content-type');
  if (contentType !== undefined) env.CONTENT_TYPE = contentType;

  for (const [name, value] of headers) {
    // Content-Type and Content-Length are CONTENT_*; Proxy would become HTTP_PROXY, which HTTP
    // clients read as their proxy setting ("httpoxy"); names with other characters than letters,
    // digits and '-' could collide once '-' becomes '_'.
    if (name === 'content-type' || name === 'content-length' || name === 'proxy') continue;
    if (!/^[a-z0-9-]+$/.test(name)) continue;
    env[`HTTP_${name.toUpperCase().replaceAll('-', '_')}`] = value;
  }
  return env;
}

/**
 * One value per header name: repeated headers joined with `, ` as HTTP allows (RFC 9110 section 5.3),
 * except Cookie, whose pairs are joined with `; ` (RFC 6265 section 5.4). NUL bytes cannot be in an
 * environment variable and are dropped.
 */
export function joinHeaders(headers: readonly (readonly [string, string])[]): Map<string, string> {
  const joined = new Map<string, string>();
  for (const [name, raw] of headers) {
    const value = raw.replaceAll('\0', '');
    const previous = joined.get(name);
    if (previous === undefined) joined.set(name, value);
    else joined.set(name, `${previous}${name === 'cookie' ? '; ' : ', '}${value}`);
  }
  return joined;
}

/** API Gateway and function URLs serve HTTPS only; an ALB says what the client used in X-Forwarded-Proto. */
function isHttps(request: HttpRequest, headers: Map<string, string>): boolean {
  const proto = headers.get('x-forwarded-proto')?.split(',')[0]?.trim().toLowerCase();
  if (proto) return proto === 'https';
  return !request.source.startsWith('alb');
}

function splitHost(host: string): { name: string; port: string | undefined } {
  const match = /^(\[[^\]]*\]|[^:]*)(?::(\d+))?$/.exec(host.trim());
  return { name: match?.[1] || 'localhost', port: match?.[2] };
}

/** PATH_INFO is decoded (RFC 3875 section 4.1.5); an invalid escape is left as it is, a NUL dropped. */
function decodePath(path: string): string {
  let decoded = path;
  try {
    decoded = decodeURIComponent(path);
  } catch {
    // keep the encoded form
  }
  return decoded.replaceAll('\0', '');
}
