/**
 * Recognises the HTTP events Lambda receives (API Gateway REST and HTTP APIs, ALB, function URLs) and
 * normalises them into one request shape; anything else is refused with a clear error.
 */

import { NotHttpEventError } from '../errors.ts';

/**
 * Where an HTTP event came from; it decides how the response must be shaped.
 * - `api-gateway-v1`: REST API proxy integration, or an HTTP API with payload format 1.0.
 * - `api-gateway-v2`: HTTP API with payload format 2.0.
 * - `function-url`: a Lambda function URL (payload 2.0, domain `*.lambda-url.*`).
 * - `alb` / `alb-multi-value`: an Application Load Balancer target group, without or with multi-value headers.
 */
export type HttpSource = 'api-gateway-v1' | 'api-gateway-v2' | 'function-url' | 'alb' | 'alb-multi-value';

/** One HTTP request, whatever front door it came through. */
export interface HttpRequest {
  readonly source: HttpSource;
  /** Upper case: `GET`, `POST`, ... */
  readonly method: string;
  /** The request path as sent, percent-encoded, starting with `/`. */
  readonly path: string;
  /** The query string without `?`, percent-encoded as a browser sends it; empty when there is none. */
  readonly query: string;
  /** Every header value in order, names in lower case; a repeated header has one entry per value. */
  readonly headers: readonly (readonly [string, string])[];
  /** The body, decoded when the event says `isBase64Encoded`. */
  readonly body: Buffer;
  /** `HTTP/1.1`, or what the front door reports. */
  readonly protocol: string;
  /** The client address the front door saw, when it says. */
  readonly sourceIp: string | undefined;
  /** The host name the request was sent to (from the event's context when there is no Host header). */
  readonly domainName: string | undefined;
}

type Json = Record<string, unknown>;

/**
 * Parses a Lambda event and returns the HTTP request it carries.
 * @throws NotHttpEventError when the event is not JSON, or is JSON of no HTTP shape.
 * @see https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html
 * @see https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-lambda-proxy-integrations.html
 * @see https://docs.aws.amazon.com/elasticloadbalancing/latest/application/lambda-functions.html
 * @see https://docs.aws.amazon.com/lambda/latest/dg/urls-invocation.html
 */
export function parseHttpEvent(raw: Buffer): HttpRequest {
  let event: unknown;
  try {
    event = JSON.parse(raw.toString('utf8'));
  } catch {
    throw notHttp(`the event is not JSON (${raw.length} bytes)`);
  }
  if (!isObject(event)) throw notHttp(`the event is ${Array.isArray(event) ? 'an array' : typeof event}`);
  const context = isObject(event.requestContext) ? event.requestContext : undefined;

  if (event.version === '2.0' && context && isObject(context.http))
    return fromV2(event, context, context.http);
  if (context && isObject(context.elb) && typeof event.httpMethod === 'string') return fromAlb(event);
  if (typeof event.httpMethod === 'string' && typeof event.path === 'string' && context) {
    return fromV1(event, context);
  }
  const keys = Object.keys(event).slice(0, 8).join(', ');
  throw notHttp(`it has none of their shapes (its keys: ${keys || 'none'})`);
}

function fromV2(event: Json, context: Json, http: Json): HttpRequest {
  const domainName = str(context.domainName);
  const headers = singleValueHeaders(event.headers);
  // Payload 2.0 moves the Cookie header into `cookies`; put it back for the script.
  const cookies = Array.isArray(event.cookies) ? event.cookies.filter((c) => typeof c === 'string') : [];
  if (cookies.length > 0 && !headers.some(([name]) => name === 'cookie')) {
    headers.push(['cookie', cookies.join('; ')]);
  }
  return {
    source: domainName?.includes('.lambda-url.') ? 'function-url' : 'api-gateway-v2',
    method: (str(http.method) ?? 'GET').toUpperCase(),
    path: encodeLoosely(str(event.rawPath) ?? str(http.path) ?? '/'),
    query: encodeLoosely(str(event.rawQueryString) ?? ''),
    headers,
    body: body(event),
    protocol: str(http.protocol) ?? 'HTTP/1.1',
    sourceIp: str(http.sourceIp),
    domainName,
  };
}

function fromV1(event: Json, context: Json): HttpRequest {
  const identity = isObject(context.identity) ? context.identity : {};
  return {
    source: 'api-gateway-v1',
    method: String(event.httpMethod).toUpperCase(),
    path: encodeLoosely(String(event.path)),
    // API Gateway hands over the parameters decoded: encode them again.
    query: buildQuery(event.multiValueQueryStringParameters, event.queryStringParameters, encodeComponent),
    headers: isObject(event.multiValueHeaders)
      ? multiValueHeaders(event.multiValueHeaders)
      : singleValueHeaders(event.headers),
    body: body(event),
    protocol: str(context.protocol) ?? 'HTTP/1.1',
    sourceIp: str(identity.sourceIp),
    domainName: str(context.domainName),
  };
}

function fromAlb(event: Json): HttpRequest {
  const multi = isObject(event.multiValueHeaders) ? event.multiValueHeaders : undefined;
  const headers = multi ? multiValueHeaders(multi) : singleValueHeaders(event.headers);
  // The load balancer appends the address it saw to X-Forwarded-For: the last entry is the one to trust.
  const forwarded = headers.filter(([name]) => name === 'x-forwarded-for').map(([, value]) => value);
  const sourceIp = forwarded.join(',').split(',').pop()?.trim() || undefined;
  return {
    source: multi ? 'alb-multi-value' : 'alb',
    method: String(event.httpMethod).toUpperCase(),
    path: encodeLoosely(str(event.path) ?? '/'),
    // An ALB passes query parameters as the client sent them, still encoded.
    query: buildQuery(event.multiValueQueryStringParameters, event.queryStringParameters, encodeLoosely),
    headers,
    body: body(event),
    protocol: 'HTTP/1.1',
    sourceIp,
    domainName: undefined,
  };
}

function notHttp(why: string): NotHttpEventError {
  return new NotHttpEventError(
    `This handler serves HTTP requests (API Gateway, an Application Load Balancer or a function URL), ` +
      `but ${why}. Invoke it through one of them, or use a handler that is not a web page for other events`,
  );
}

function body(event: Json): Buffer {
  const text = typeof event.body === 'string' ? event.body : '';
  return event.isBase64Encoded === true ? Buffer.from(text, 'base64') : Buffer.from(text, 'utf8');
}

function singleValueHeaders(value: unknown): [string, string][] {
  if (!isObject(value)) return [];
  const out: [string, string][] = [];
  for (const [name, v] of Object.entries(value)) {
    if (typeof v === 'string') out.push([name.toLowerCase(), v]);
  }
  return out;
}

function multiValueHeaders(value: Json): [string, string][] {
  const out: [string, string][] = [];
  for (const [name, values] of Object.entries(value)) {
    if (!Array.isArray(values)) continue;
    for (const v of values) if (typeof v === 'string') out.push([name.toLowerCase(), v]);
  }
  return out;
}

/** Rebuilds `a=1&a=2&b=3` from the parameter maps, preferring the multi-value one (it has every value). */
function buildQuery(multi: unknown, single: unknown, encode: (text: string) => string): string {
  const pairs: string[] = [];
  if (isObject(multi)) {
    for (const [name, values] of Object.entries(multi)) {
      if (!Array.isArray(values)) continue;
      for (const v of values) pairs.push(pair(name, v, encode));
    }
  } else if (isObject(single)) {
    for (const [name, v] of Object.entries(single)) pairs.push(pair(name, v, encode));
  }
  return pairs.join('&');
}

function pair(name: string, value: unknown, encode: (text: string) => string): string {
  const text = typeof value === 'string' ? value : value == null ? '' : String(value);
  return text === '' ? `${encode(name)}=` : `${encode(name)}=${encode(text)}`;
}

/** Percent-encodes everything but RFC 3986's unreserved characters: a decoded value becomes one query component. */
export function encodeComponent(text: string): string {
  return text.replace(/[^A-Za-z0-9\-._~]/gu, percentEncode);
}

/**
 * Percent-encodes only what may not appear in a URL as it is (spaces, controls, non-ASCII, quotes and
 * the like), leaving `%XX`, `+`, `&` and `=` alone: for text that is already encoded, or nearly.
 */
export function encodeLoosely(text: string): string {
  return text.replace(/%(?![0-9A-Fa-f]{2})|[^A-Za-z0-9\-._~!$&'()*+,;=:@/?%]/gu, percentEncode);
}

/** `%XX` for each UTF-8 byte; a lone surrogate becomes U+FFFD rather than an exception. */
function percentEncode(char: string): string {
  let out = '';
  for (const byte of Buffer.from(char, 'utf8')) out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  return out;
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
