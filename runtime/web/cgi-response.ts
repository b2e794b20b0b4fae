/**
 * Reads a CGI script's output (RFC 3875 section 6: header lines, a blank line, the body) and turns it
 * into the proxy response the event's source expects.
 */

import { isUtf8 } from 'node:buffer';
import { STATUS_CODES } from 'node:http';
import { InvalidCgiResponseError } from '../errors.ts';
import { isBinaryContentType } from './binary-types.ts';
import type { HttpSource } from './http-event.ts';

/** The parsed output of a CGI script. */
export interface CgiResponse {
  readonly status: number;
  /** The reason phrase from a `Status:` line, if it gave one. */
  readonly reason: string | undefined;
  /** Headers in the order written, names as written; without `Status`. */
  readonly headers: readonly (readonly [string, string])[];
  readonly body: Buffer;
}

/** A header block longer than this without its blank line is not a header block. */
const MAX_HEADER_BYTES = 64 * 1024;

const HEADER_LINE = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+):[ \t]*([^\r\n]*?)[ \t]*$/;

/** Field values hold visible characters, spaces and tabs only (RFC 9110 section 5.5). */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding them is the point
const CONTROL_CHARACTER = /[\x00-\x08\x0a-\x1f\x7f]/;

/**
 * Splits a CGI script's output into status, headers and body. Lines may end in LF or CRLF; folded
 * lines are joined. `Location:` without `Status:` is a redirect, 302 (RFC 3875 section 6.2.3).
 * @throws InvalidCgiResponseError naming what is wrong (and where), for output that is not a CGI response.
 */
export function parseCgiOutput(output: Buffer): CgiResponse {
  if (output.length === 0) throw new InvalidCgiResponseError('The CGI script wrote nothing on stdout');
  const headers: [string, string][] = [];
  let position = 0;
  let bodyStart = -1;
  for (let lineNumber = 1; position < output.length; lineNumber++) {
    const newline = output.indexOf(0x0a, position);
    const end = newline === -1 ? output.length : newline;
    if (end > MAX_HEADER_BYTES) break;
    // UTF-8 as written (a `Location` or a file name in `Content-Disposition`); other bytes are obs-text,
    // kept one character per byte.
    const bytes = output.subarray(position, end);
    let line = bytes.toString(isUtf8(bytes) ? 'utf8' : 'latin1');
    if (line.endsWith('\r')) line = line.slice(0, -1);
    position = newline === -1 ? output.length : newline + 1;
    if (line === '') {
      bodyStart = position;
      break;
    }
    // Before folding: a continuation line joins its header's value, control characters and all.
    const control = CONTROL_CHARACTER.exec(line);
    if (control) {
      const code = control[0].charCodeAt(0).toString(16).padStart(2, '0');
      throw new InvalidCgiResponseError(
        `The CGI script's header line ${lineNumber} holds the control character 0x${code}: ${quote(line)}. ` +
          'Header lines hold visible characters, spaces and tabs only, and end with LF or CRLF',
      );
    }
    const last = headers[headers.length - 1];
    if (/^[ \t]/.test(line) && last) {
      last[1] = `${last[1]} ${line.trim()}`;
      continue;
    }
    const match = HEADER_LINE.exec(line);
    if (!match?.[1]) {
      throw new InvalidCgiResponseError(
        `The CGI script's output is not a header block: line ${lineNumber} is ${quote(line)}, not 'Name: value'. ` +
          'A CGI script writes headers (at least Content-Type), a blank line, then the body',
      );
    }
    headers.push([match[1], match[2] ?? '']);
  }
  if (bodyStart === -1) {
    throw new InvalidCgiResponseError(
      position < output.length
        ? `The CGI script's output has no blank line after its headers within ${MAX_HEADER_BYTES} bytes`
        : "The CGI script's output ends without the blank line that closes its headers",
    );
  }

  let status = 200;
  let reason: string | undefined;
  const statusHeader = headers.find(([name]) => name.toLowerCase() === 'status');
  if (statusHeader) {
    const match = /^([1-5]\d\d)(?:[ \t]+(.*))?$/.exec(statusHeader[1]);
    if (!match?.[1]) {
      throw new InvalidCgiResponseError(
        `The CGI script wrote an invalid Status header ${quote(statusHeader[1])}; expected e.g. 'Status: 404 Not Found'`,
      );
    }
    status = Number(match[1]);
    reason = match[2] || undefined;
  } else if (headers.some(([name]) => name.toLowerCase() === 'location')) {
    status = 302;
  }
  return {
    status,
    reason,
    headers: headers.filter(([name]) => name.toLowerCase() !== 'status'),
    body: output.subarray(bodyStart),
  };
}

export interface ProxyResponseOptions {
  readonly source: HttpSource;
  readonly method: string;
  readonly binaryTypes: readonly string[];
  /** Added when the script sent no Content-Type (`text/html; charset=UTF-8` for PHP), or none. */
  readonly defaultContentType: string | undefined;
}

/** The JSON object Lambda returns to the front door, and anything worth a warning in the log. */
export interface ProxyResponse {
  readonly response: Record<string, unknown>;
  readonly warnings: string[];
}

/**
 * Builds the response object for the event's source:
 * - API Gateway payload 1.0: `statusCode`, `multiValueHeaders` (every value, several Set-Cookie), `body`, `isBase64Encoded`;
 * - payload 2.0 and function URLs: `headers` (repeated ones joined with `, `), `cookies` (each Set-Cookie), ...;
 * - ALB: `statusDescription` too, and `multiValueHeaders` when the target group has them enabled (the
 *   event says so), else `headers`, where only the last Set-Cookie fits.
 * The body is base64 when its type is binary, it has a Content-Encoding, or it is not valid UTF-8;
 * HEAD responses have no body.
 */
export function toProxyResponse(cgi: CgiResponse, options: ProxyResponseOptions): ProxyResponse {
  const warnings: string[] = [];
  const headers: [string, string][] = cgi.headers.map(([name, value]) => [name, value]);
  if (options.defaultContentType && !headers.some(([name]) => name.toLowerCase() === 'content-type')) {
    headers.push(['Content-Type', options.defaultContentType]);
  }
  const contentType = headers.find(([name]) => name.toLowerCase() === 'content-type')?.[1];
  const encoding = headers.find(([name]) => name.toLowerCase() === 'content-encoding')?.[1];
  const body = options.method === 'HEAD' ? Buffer.alloc(0) : cgi.body;
  const base64 =
    isBinaryContentType(contentType, options.binaryTypes) ||
    (encoding !== undefined && encoding.trim().toLowerCase() !== 'identity') ||
    !isUtf8(body);

  const response: Record<string, unknown> = { statusCode: cgi.status };
  if (options.source === 'alb' || options.source === 'alb-multi-value') {
    response.statusDescription = `${cgi.status} ${cgi.reason ?? STATUS_CODES[cgi.status] ?? ''}`.trim();
  }
  switch (options.source) {
    case 'api-gateway-v1':
    case 'alb-multi-value':
      response.multiValueHeaders = groupHeaders(headers);
      break;
    case 'api-gateway-v2':
    case 'function-url': {
      const cookies = headers.filter(([name]) => name.toLowerCase() === 'set-cookie').map(([, v]) => v);
      response.headers = joinedHeaders(headers.filter(([name]) => name.toLowerCase() !== 'set-cookie'));
      if (cookies.length > 0) response.cookies = cookies;
      break;
    }
    case 'alb': {
      const cookies = headers.filter(([name]) => name.toLowerCase() === 'set-cookie');
      if (cookies.length > 1) {
        warnings.push(
          `The script set ${cookies.length} cookies, but this ALB target group sends single-value headers: ` +
            'only the last Set-Cookie is returned. Enable multi-value headers on the target group to return all',
        );
      }
      const others = joinedHeaders(headers.filter(([name]) => name.toLowerCase() !== 'set-cookie'));
      const lastCookie = cookies[cookies.length - 1];
      response.headers = lastCookie ? { ...others, [lastCookie[0]]: lastCookie[1] } : others;
      break;
    }
  }
  response.body = body.toString(base64 ? 'base64' : 'utf8');
  response.isBase64Encoded = base64;
  return { response, warnings };
}

/** name -> every value, names grouped without regard to case (the first spelling wins). */
function groupHeaders(headers: readonly (readonly [string, string])[]): Record<string, string[]> {
  const spelling = new Map<string, string>();
  const grouped: Record<string, string[]> = {};
  for (const [name, value] of headers) {
    const key = spelling.get(name.toLowerCase()) ?? name;
    spelling.set(name.toLowerCase(), key);
    grouped[key] = [...(grouped[key] ?? []), value];
  }
  return grouped;
}

/** name -> one value, repeated headers joined with `, ` as HTTP allows for all but Set-Cookie. */
function joinedHeaders(headers: readonly (readonly [string, string])[]): Record<string, string> {
  const joined: Record<string, string> = {};
  for (const [name, values] of Object.entries(groupHeaders(headers))) joined[name] = values.join(', ');
  return joined;
}

function quote(text: string): string {
  return JSON.stringify(text.length > 80 ? `${text.slice(0, 80)}...` : text);
}
