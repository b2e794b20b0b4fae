/**
 * Unit tests for the HTTP/1.1 response parser the Runtime API client reads with: every way a body can be
 * delimited, split at every byte (TCP may deliver any split), and the answers that are not HTTP.
 */

import { describe, expect, it } from 'vitest';
import {
  type HttpAnswer,
  HttpProtocolError,
  HttpResponseParser,
} from '../../runtime/http-response-parser.ts';
import { thrown } from '../helpers/thrown.ts';

interface Case {
  name: string;
  wire: string;
  status: number;
  body: string;
  keepAlive: boolean;
  headers?: Record<string, string>;
}

const EVENT = '{"key":"value","emoji":"\u00e9"}';

const CASES: Case[] = [
  {
    name: 'a Content-Length body, as Lambda sends an event',
    wire:
      'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nLambda-Runtime-Aws-Request-Id: 8476a536\r\n' +
      `Lambda-Runtime-Deadline-Ms: 1542409706888\r\nContent-Length: ${EVENT.length}\r\n\r\n${EVENT}`,
    status: 200,
    body: EVENT,
    keepAlive: true,
    headers: { 'lambda-runtime-aws-request-id': '8476a536', 'lambda-runtime-deadline-ms': '1542409706888' },
  },
  {
    name: 'a chunked body with a chunk extension and a trailer',
    wire:
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n' +
      `5;name=value\r\n${EVENT.slice(0, 5)}\r\n${(EVENT.length - 5).toString(16)}\r\n${EVENT.slice(5)}\r\n` +
      '0\r\nX-Trailer: yes\r\n\r\n',
    status: 200,
    body: EVENT,
    keepAlive: true,
  },
  {
    name: 'an empty 202, as Lambda accepts a response',
    wire: 'HTTP/1.1 202 Accepted\r\nContent-Length: 16\r\n\r\n{"status":"OK"}\n',
    status: 202,
    body: '{"status":"OK"}\n',
    keepAlive: true,
  },
  {
    name: 'a body read until the connection closes',
    wire: 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nall of it',
    status: 200,
    body: 'all of it',
    keepAlive: false,
  },
  {
    name: 'Connection: close',
    wire: 'HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}',
    status: 403,
    body: '{}',
    keepAlive: false,
  },
  {
    name: 'HTTP/1.0 without keep-alive',
    wire: 'HTTP/1.0 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n',
    status: 500,
    body: '',
    keepAlive: false,
  },
  {
    name: 'HTTP/1.0 with keep-alive',
    wire: 'HTTP/1.0 202 Accepted\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n',
    status: 202,
    body: '',
    keepAlive: true,
  },
  {
    name: 'an interim 100 Continue before the answer',
    wire: 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n',
    status: 202,
    body: '',
    keepAlive: true,
  },
  {
    name: 'a 204 without a length',
    wire: 'HTTP/1.1 204 No Content\r\n\r\n',
    status: 204,
    body: '',
    keepAlive: true,
  },
  {
    name: 'bare line feeds, a status without a reason, a repeated header',
    wire: 'HTTP/1.1 200\nSet-Cookie: a=1\nSet-Cookie: b=2\nContent-Length: 3\n\nabc',
    status: 200,
    body: 'abc',
    keepAlive: true,
    headers: { 'set-cookie': 'a=1' },
  },
];

/** Feeds `pieces` in order, then the end of the connection if the answer needs it. */
function parse(pieces: Buffer[]): HttpAnswer {
  const parser = new HttpResponseParser();
  let answer: HttpAnswer | undefined;
  for (const piece of pieces) answer = parser.push(piece) ?? answer;
  return answer ?? parser.end();
}

function expectAnswer(answer: HttpAnswer, expected: Case): void {
  expect(answer.status).toBe(expected.status);
  expect(answer.body.toString('latin1')).toBe(expected.body);
  expect(answer.keepAlive).toBe(expected.keepAlive);
  for (const [name, value] of Object.entries(expected.headers ?? {}))
    expect(answer.headers.get(name)).toBe(value);
}

describe('HttpResponseParser', () => {
  it.for(CASES)('reads $name in one piece', (expected) => {
    expectAnswer(parse([Buffer.from(expected.wire, 'latin1')]), expected);
  });

  it.for(CASES)('reads $name split in two at every byte, and byte by byte', (expected) => {
    const wire = Buffer.from(expected.wire, 'latin1');
    for (let at = 0; at <= wire.length; at++) {
      expectAnswer(parse([wire.subarray(0, at), wire.subarray(at)]), expected);
    }
    expectAnswer(parse([...wire].map((byte) => Buffer.from([byte]))), expected);
  });

  it('keeps a binary body byte for byte', () => {
    const body = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const wire = Buffer.concat([
      Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n`),
      body,
    ]);
    expect(parse([wire]).body.equals(body)).toBe(true);
  });

  it('reads a 6 MB chunked body in 64 KB pieces', () => {
    const body = Buffer.alloc(6 * 1024 * 1024, 'x');
    const chunks: Buffer[] = [Buffer.from('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n')];
    for (let at = 0; at < body.length; at += 100_000) {
      const part = body.subarray(at, at + 100_000);
      chunks.push(Buffer.from(`${part.length.toString(16)}\r\n`), part, Buffer.from('\r\n'));
    }
    chunks.push(Buffer.from('0\r\n\r\n'));
    const wire = Buffer.concat(chunks);
    const pieces: Buffer[] = [];
    for (let at = 0; at < wire.length; at += 65_536) pieces.push(wire.subarray(at, at + 65_536));
    expect(parse(pieces).body.equals(body)).toBe(true);
  });

  it.for([
    ['a status line that is not HTTP', 'SSH-2.0-OpenSSH\r\n\r\n', 'status line'],
    ['a header line without a colon', 'HTTP/1.1 200 OK\r\nno colon here\r\n\r\n', 'not a header line'],
    ['a space before the colon', 'HTTP/1.1 200 OK\r\nContent-Length : 1\r\n\r\n', 'not a header line'],
    [
      'two different Content-Lengths',
      'HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n',
      'conflicting Content-Length',
    ],
    [
      'a Content-Length that is not a number',
      'HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n',
      'Content-Length',
    ],
    ['a transfer coding other than chunked', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n', 'gzip'],
    [
      'a chunk size that is not hex',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n',
      'chunk size',
    ],
    [
      'chunk data longer than its size',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab\r\n',
      'longer than its size',
    ],
    [
      'bytes after a complete answer',
      'HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\nextra',
      'unexpected bytes',
    ],
  ] as const)('refuses %s', ([, wire, message]) => {
    const error = thrown(HttpProtocolError, () => new HttpResponseParser().push(Buffer.from(wire)));
    expect(error.message).toContain(message);
  });

  it('refuses headers longer than 64 KB', () => {
    const parser = new HttpResponseParser();
    const error = thrown(HttpProtocolError, () =>
      parser.push(Buffer.from(`HTTP/1.1 200 OK\r\nX-Long: ${'a'.repeat(70_000)}`)),
    );
    expect(error.message).toContain('longer than');
  });

  it.for([
    ['before any answer', ''],
    ['in the middle of the headers', 'HTTP/1.1 200 OK\r\nContent-Le'],
    ['in the middle of a Content-Length body', 'HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc'],
    ['in the middle of a chunked body', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n'],
  ] as const)('fails when the connection ends %s', ([, wire]) => {
    const parser = new HttpResponseParser();
    parser.push(Buffer.from(wire));
    expect(parser.received).toBe(wire.length > 0);
    thrown(HttpProtocolError, () => parser.end());
  });
});
