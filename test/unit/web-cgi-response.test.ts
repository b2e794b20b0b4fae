/** Unit tests for reading CGI output and shaping the proxy response for each event source. */

import { describe, expect, it } from 'vitest';
import { InvalidCgiResponseError } from '../../runtime/errors.ts';
import {
  DEFAULT_BINARY_TYPES,
  isBinaryContentType,
  parseBinaryTypes,
} from '../../runtime/web/binary-types.ts';
import { type CgiResponse, parseCgiOutput, toProxyResponse } from '../../runtime/web/cgi-response.ts';
import type { HttpSource } from '../../runtime/web/http-event.ts';
import { thrown } from '../helpers/thrown.ts';

const out = (text: string | Buffer) =>
  parseCgiOutput(Buffer.isBuffer(text) ? text : Buffer.from(text, 'latin1'));

describe('parseCgiOutput', () => {
  it.each([
    ['LF line ends', 'Content-Type: text/plain\n\nhello', 200, 'hello'],
    ['CRLF line ends', 'Content-Type: text/plain\r\n\r\nhello', 200, 'hello'],
    ['a Status line', 'Status: 404 Not Found\nContent-Type: text/html\n\nnope', 404, 'nope'],
    ['a Status without reason', 'Status: 201\nContent-Type: text/plain\n\n', 201, ''],
    ['a Location only (redirect)', 'Location: https://example.com/\n\n', 302, ''],
    ['a Location with a Status', 'Status: 301 Moved\nLocation: /new\n\n', 301, ''],
    ['a body with blank lines', 'Content-Type: text/plain\n\na\n\nb\r\n\r\n', 200, 'a\n\nb\r\n\r\n'],
  ])('reads %s', (_, text, status, body) => {
    const parsed = out(text);
    expect(parsed.status).toBe(status);
    expect(parsed.body.toString('latin1')).toBe(body);
    expect(parsed.headers.some(([n]) => n.toLowerCase() === 'status')).toBe(false);
  });

  it('keeps repeated headers in order, names as written, and joins folded lines', () => {
    const parsed = out('Set-Cookie: a=1\nset-cookie: b=2\nX-Long: one\n  two\nContent-Type: text/plain\n\n');
    expect(parsed.headers).toEqual([
      ['Set-Cookie', 'a=1'],
      ['set-cookie', 'b=2'],
      ['X-Long', 'one two'],
      ['Content-Type', 'text/plain'],
    ]);
  });

  it('reads UTF-8 header values as the script wrote them, and other bytes one character each', () => {
    const parsed = out(
      Buffer.concat([
        Buffer.from('Location: /café\r\nContent-Disposition: attachment; filename="naïve ☃.txt"\r\n', 'utf8'),
        Buffer.from('X-Legacy: caf\xe9\r\n\r\n', 'latin1'),
      ]),
    );
    expect(parsed.headers).toEqual([
      ['Location', '/café'],
      ['Content-Disposition', 'attachment; filename="naïve ☃.txt"'],
      ['X-Legacy', 'caf\u00e9'],
    ]);
    expect(proxy('api-gateway-v2', parsed).response.headers).toEqual({
      Location: '/café',
      'Content-Disposition': 'attachment; filename="naïve ☃.txt"',
      'X-Legacy': 'caf\u00e9',
    });
  });

  it('keeps a binary body byte for byte', () => {
    const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0xff]);
    const parsed = out(Buffer.concat([Buffer.from('Content-Type: image/png\r\n\r\n'), png]));
    expect(parsed.body.equals(png)).toBe(true);
  });

  it.each([
    ['nothing', '', 'wrote nothing'],
    ['a body without headers', 'Hello World', 'line 1 is "Hello World"'],
    ['a bad second line', 'Content-Type: text/plain\nthis is not a header\n\n', 'line 2'],
    ['headers without the blank line', 'Content-Type: text/plain\n', 'without the blank line'],
    ['an invalid Status', 'Status: OK\n\n', 'invalid Status header "OK"'],
    ['a Status out of range', 'Status: 700 Odd\n\n', 'invalid Status'],
    ['no blank line in 64 KB', `X-Big: ${'a'.repeat(70_000)}\n\n`, 'no blank line'],
    [
      'a NUL in a value',
      'Content-Type: text/plain\nX-N: a\0b\n\n',
      'line 2 holds the control character 0x00',
    ],
    ['a bare CR in a value', 'X-A: a\rSet-Cookie: b=1\n\n', 'line 1 holds the control character 0x0d'],
    ['an escape in a value', 'X-E: \x1b[31mred\n\n', 'control character 0x1b'],
    ['a DEL in a name', 'X-\x7f: 1\n\n', 'control character 0x7f'],
    [
      'a bare CR in a folded line',
      'X-A: ok\n\tx\rSet-Cookie: a=1\n\n',
      'line 2 holds the control character 0x0d',
    ],
  ])('refuses %s', (_, text, message) => {
    const error = thrown(InvalidCgiResponseError, () => out(text));
    expect(error.name).toBe('Function.InvalidCgiResponse');
    expect(error.message).toContain(message);
  });
});

const COOKIES_AND_MORE: CgiResponse = {
  status: 404,
  reason: 'Gone Fishing',
  headers: [
    ['Content-Type', 'text/html'],
    ['Set-Cookie', 'a=1; Path=/'],
    ['Set-Cookie', 'b=2; Expires=Wed, 21 Oct 2037 07:28:00 GMT'],
    ['Vary', 'Accept'],
    ['vary', 'Cookie'],
  ],
  body: Buffer.from('<p>not here</p>'),
};

function proxy(source: HttpSource, cgi: CgiResponse = COOKIES_AND_MORE, method = 'GET') {
  return toProxyResponse(cgi, {
    source,
    method,
    binaryTypes: DEFAULT_BINARY_TYPES,
    defaultContentType: undefined,
  });
}

describe('toProxyResponse: one shape per source', () => {
  /** API Gateway v1 and ALB with multi-value headers: every header as a list, cookies among them. */
  const MULTI_VALUE = {
    statusCode: 404,
    multiValueHeaders: {
      'Content-Type': ['text/html'],
      'Set-Cookie': ['a=1; Path=/', 'b=2; Expires=Wed, 21 Oct 2037 07:28:00 GMT'],
      Vary: ['Accept', 'Cookie'],
    },
    body: '<p>not here</p>',
    isBase64Encoded: false,
  };
  /** API Gateway v2 and function URLs: joined headers, cookies apart. */
  const WITH_COOKIES = {
    statusCode: 404,
    headers: { 'Content-Type': 'text/html', Vary: 'Accept, Cookie' },
    cookies: ['a=1; Path=/', 'b=2; Expires=Wed, 21 Oct 2037 07:28:00 GMT'],
    body: '<p>not here</p>',
    isBase64Encoded: false,
  };

  it.each<[HttpSource, Record<string, unknown>]>([
    ['api-gateway-v1', MULTI_VALUE],
    ['api-gateway-v2', WITH_COOKIES],
    ['function-url', WITH_COOKIES],
    ['alb-multi-value', { ...MULTI_VALUE, statusDescription: '404 Gone Fishing' }],
    [
      'alb',
      {
        statusCode: 404,
        statusDescription: '404 Gone Fishing',
        headers: {
          'Content-Type': 'text/html',
          Vary: 'Accept, Cookie',
          'Set-Cookie': 'b=2; Expires=Wed, 21 Oct 2037 07:28:00 GMT',
        },
        body: '<p>not here</p>',
        isBase64Encoded: false,
      },
    ],
  ])('%s', (source, expected) => {
    expect(proxy(source).response).toEqual(expected);
  });

  it('warns when a single-value ALB cannot carry every cookie', () => {
    expect(proxy('alb').warnings.join()).toContain('only the last Set-Cookie');
    expect(proxy('alb-multi-value').warnings).toEqual([]);
  });

  it('describes the status in standard words for ALB when the script gave none', () => {
    const cgi = { ...COOKIES_AND_MORE, status: 302, reason: undefined };
    expect(proxy('alb', cgi).response.statusDescription).toBe('302 Found');
  });
});

describe('toProxyResponse: bodies', () => {
  const bytes = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 0xff]);
  const withType = (type: string | undefined, body: Buffer = Buffer.from('text')): CgiResponse => ({
    status: 200,
    reason: undefined,
    headers: type ? [['Content-Type', type]] : [],
    body,
  });

  it.each([
    ['image/png', bytes, true],
    ['application/pdf', Buffer.from('%PDF-1.4'), true],
    ['text/html; charset=UTF-8', Buffer.from('<p>é</p>'), false],
    ['application/json', Buffer.from('{"a":1}'), false],
    ['image/svg+xml', Buffer.from('<svg/>'), false],
    ['text/plain', bytes, true],
    [undefined, Buffer.from('plain'), false],
  ])('%s: base64 is %s', (type, body, base64) => {
    const { response } = proxy('api-gateway-v2', withType(type, body));
    expect(response.isBase64Encoded).toBe(base64);
    const decoded = Buffer.from(response.body as string, base64 ? 'base64' : 'utf8');
    expect(decoded.equals(body)).toBe(true);
  });

  it('base64-encodes a compressed body whatever its type', () => {
    const cgi: CgiResponse = {
      status: 200,
      reason: undefined,
      headers: [
        ['Content-Type', 'text/html'],
        ['Content-Encoding', 'gzip'],
      ],
      body: Buffer.from('abc'),
    };
    expect(proxy('function-url', cgi).response.isBase64Encoded).toBe(true);
  });

  it('sends no body for HEAD, keeping the headers', () => {
    const { response } = proxy('api-gateway-v2', COOKIES_AND_MORE, 'HEAD');
    expect(response.body).toBe('');
    expect(response.headers).toMatchObject({ 'Content-Type': 'text/html' });
  });

  it('adds the default content type only when the script sent none', () => {
    const options = {
      source: 'api-gateway-v2' as const,
      method: 'GET',
      binaryTypes: DEFAULT_BINARY_TYPES,
      defaultContentType: 'text/html; charset=UTF-8',
    };
    expect(toProxyResponse(withType(undefined), options).response.headers).toEqual({
      'Content-Type': 'text/html; charset=UTF-8',
    });
    expect(toProxyResponse(withType('text/plain'), options).response.headers).toEqual({
      'Content-Type': 'text/plain',
    });
  });
});

describe('binary types', () => {
  it.each([
    ['image/webp', true],
    ['IMAGE/PNG; q=1', true],
    ['font/woff2', true],
    ['application/octet-stream', true],
    ['image/svg+xml', false],
    ['text/csv', false],
    ['application/xml', false],
    [undefined, false],
    ['garbage', false],
  ])('%s is binary by default: %s', (type, expected) => {
    expect(isBinaryContentType(type, DEFAULT_BINARY_TYPES)).toBe(expected);
  });

  it('matches a configured list with wildcards; an exact entry reaches structured text', () => {
    const { types } = parseBinaryTypes(' application/x-thing , text/* ,image/svg+xml');
    expect(types).toEqual(['application/x-thing', 'text/*', 'image/svg+xml']);
    expect(isBinaryContentType('application/x-thing', types)).toBe(true);
    expect(isBinaryContentType('image/svg+xml', types)).toBe(true);
    expect(isBinaryContentType('image/png', types)).toBe(false);
    expect(isBinaryContentType('text/csv', types)).toBe(true);
    expect(isBinaryContentType('text/html', parseBinaryTypes('*/*').types)).toBe(true);
  });

  it('names an entry that is not a media type', () => {
    expect(parseBinaryTypes('image/png,png').bad).toBe('png');
  });
});
