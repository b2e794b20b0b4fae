/** Unit tests for recognising HTTP events and normalising them into one request. */

import { describe, expect, it } from 'vitest';
import { NotHttpEventError } from '../../runtime/errors.ts';
import { encodeComponent, encodeLoosely, parseHttpEvent } from '../../runtime/web/http-event.ts';
import { EVENT_SHAPES, httpEvent } from '../helpers/http-events.ts';
import { thrown } from '../helpers/thrown.ts';

function parse(event: unknown) {
  return parseHttpEvent(Buffer.from(JSON.stringify(event)));
}

describe('parseHttpEvent: recognises every front door', () => {
  it.each(EVENT_SHAPES)('%s', (shape) => {
    const request = parse(
      httpEvent(shape, {
        method: 'post',
        path: '/users/42',
        query: [['a', '1']],
        headers: [['Content-Type', 'text/plain']],
        body: 'hi',
      }),
    );
    expect(request).toMatchObject({
      source: shape,
      method: 'POST',
      path: '/users/42',
      query: 'a=1',
      protocol: 'HTTP/1.1',
      sourceIp: '203.0.113.7',
    });
    expect(request.body.toString()).toBe('hi');
    expect(request.headers).toContainEqual(['content-type', 'text/plain']);
  });

  it('tells a function URL from an HTTP API by its domain', () => {
    expect(parse(httpEvent('function-url')).source).toBe('function-url');
    expect(parse(httpEvent('api-gateway-v2')).source).toBe('api-gateway-v2');
  });

  it('takes an HTTP API event with payload 1.0 as API Gateway 1.0', () => {
    const event = { ...httpEvent('api-gateway-v1'), version: '1.0' };
    expect(parse(event).source).toBe('api-gateway-v1');
  });
});

describe('parseHttpEvent: query strings', () => {
  const value = 'a b+c%d&e=é😀';
  const encoded = 'q=a%20b%2Bc%25d%26e%3D%C3%A9%F0%9F%98%80';

  it.each(EVENT_SHAPES)('%s: spaces, +, %%, &, = and unicode arrive encoded, once', (shape) => {
    expect(parse(httpEvent(shape, { query: [['q', value]] })).query).toBe(encoded);
  });

  // A single-value ALB target group sends only the last value of a repeated name.
  it.each(EVENT_SHAPES.filter((s) => s !== 'alb'))('%s: keeps repeated names and their order', (shape) => {
    const query: [string, string][] = [
      ['x', '1'],
      ['x', '2'],
      ['y', ''],
    ];
    expect(parse(httpEvent(shape, { query })).query).toBe('x=1&x=2&y=');
  });

  it.each(['api-gateway-v2', 'function-url', 'alb'] as const)(
    '%s: passes a raw query string as sent (+ stays a form-encoded space)',
    (shape) => {
      expect(parse(httpEvent(shape, { rawQuery: 'q=a+b&r=%2B' })).query).toBe('q=a+b&r=%2B');
    },
  );

  it('encodes what may not appear raw in a URL, leaving escapes alone', () => {
    expect(encodeLoosely('/a b/é?x=%41&y=100%')).toBe('/a%20b/%C3%A9?x=%41&y=100%25');
    expect(encodeComponent("a b!'()*~")).toBe('a%20b%21%27%28%29%2A~');
    expect(encodeComponent('\ud800')).toBe('%EF%BF%BD');
  });
});

describe('parseHttpEvent: headers and bodies', () => {
  it('keeps every value of a repeated header (1.0 and ALB multi-value)', () => {
    for (const shape of ['api-gateway-v1', 'alb-multi-value'] as const) {
      const request = parse(
        httpEvent(shape, {
          headers: [
            ['Accept', 'text/html'],
            ['Accept', 'application/json'],
          ],
        }),
      );
      expect(request.headers.filter(([n]) => n === 'accept')).toEqual([
        ['accept', 'text/html'],
        ['accept', 'application/json'],
      ]);
    }
  });

  it('puts payload 2.0 cookies back into a Cookie header', () => {
    const request = parse(httpEvent('api-gateway-v2', { headers: [['Cookie', 'a=1; b=2']] }));
    expect(request.headers).toContainEqual(['cookie', 'a=1; b=2']);
  });

  it('decodes a base64 body to the exact bytes', () => {
    const bytes = Buffer.from([0, 1, 2, 0xff, 0xfe, 0x0a]);
    for (const shape of EVENT_SHAPES) {
      expect(parse(httpEvent(shape, { body: bytes })).body.equals(bytes)).toBe(true);
    }
  });

  it('gives an empty body when the event has none', () => {
    for (const shape of EVENT_SHAPES) expect(parse(httpEvent(shape)).body.length).toBe(0);
  });

  it('takes the ALB client address from the last X-Forwarded-For entry', () => {
    expect(parse(httpEvent('alb', { sourceIp: '192.0.2.9' })).sourceIp).toBe('192.0.2.9');
  });
});

describe('parseHttpEvent: other events are refused', () => {
  it.each([
    ['a plain JSON object', '{"hello":"world"}', 'its keys: hello'],
    ['an S3 notification', '{"Records":[{"eventSource":"aws:s3"}]}', 'Records'],
    ['not JSON', 'hello', 'not JSON'],
    ['a JSON array', '[1,2]', 'an array'],
    ['a JSON string', '"GET /"', 'string'],
    ['version 2.0 without requestContext.http', '{"version":"2.0","rawPath":"/"}', 'version'],
  ])('%s', (_, event, detail) => {
    const error = thrown(NotHttpEventError, () => parseHttpEvent(Buffer.from(event)));
    const message = error.message;
    expect(error.name).toBe('Runtime.NotAnHttpEvent');
    expect(message).toContain('API Gateway');
    expect(message).toContain(detail);
  });
});
