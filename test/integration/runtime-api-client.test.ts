/**
 * The Runtime API client against a raw TCP server that writes HTTP/1.1 by hand: the answers Lambda's
 * server may give (chunked events, closed connections) and the bytes the client must send.
 */

import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { RuntimeApiClient, RuntimeApiFatalError } from '../../runtime/runtime-api-client.ts';
import { thrownAsync } from '../helpers/thrown.ts';

interface RawRequest {
  head: string;
  body: Buffer;
  /** Which TCP connection it came on, counting from 0. */
  connection: number;
}

type Responder = (request: RawRequest, socket: net.Socket) => unknown;

/** A server that reads whole requests (Content-Length bodies) and lets the test write the answer bytes. */
class RawServer {
  readonly requests: RawRequest[] = [];
  connections = 0;
  readonly #server: net.Server;
  readonly #sockets = new Set<net.Socket>();

  private constructor(server: net.Server) {
    this.#server = server;
  }

  static async start(respond: Responder): Promise<RawServer> {
    const raw = new RawServer(net.createServer());
    raw.#server.on('connection', (socket) => raw.#accept(socket, respond));
    await new Promise<void>((resolve) => raw.#server.listen(0, '127.0.0.1', resolve));
    return raw;
  }

  get address(): string {
    return `127.0.0.1:${(this.#server.address() as net.AddressInfo).port}`;
  }

  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise((resolve) => this.#server.close(resolve));
  }

  #accept(socket: net.Socket, respond: Responder): void {
    const connection = this.connections++;
    this.#sockets.add(socket);
    socket.on('close', () => this.#sockets.delete(socket));
    socket.on('error', () => {});
    let pending = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      for (;;) {
        const end = pending.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = pending.toString('latin1', 0, end);
        const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
        if (pending.length < end + 4 + length) return;
        const request = { head, body: pending.subarray(end + 4, end + 4 + length), connection };
        pending = pending.subarray(end + 4 + length);
        this.requests.push(request);
        void respond(request, socket);
      }
    });
  }
}

const EVENT_HEADERS =
  'Lambda-Runtime-Aws-Request-Id: 8476a536-e9f4-11e8-9739-2dfe598c3fcd\r\n' +
  'Lambda-Runtime-Deadline-Ms: 1542409706888\r\n' +
  'Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-2:123456789012:function:custom-runtime\r\n' +
  'Lambda-Runtime-Trace-Id: Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1\r\n';

function eventAnswer(event: string, extraHeaders = ''): string {
  return `HTTP/1.1 200 OK\r\n${EVENT_HEADERS}${extraHeaders}Content-Length: ${Buffer.byteLength(event)}\r\n\r\n${event}`;
}

const ACCEPTED =
  'HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: 16\r\n\r\n{"status":"OK"}\n';

const isNext = (request: RawRequest): boolean =>
  request.head.startsWith('GET /2018-06-01/runtime/invocation/next ');

let server: RawServer | undefined;
let client: RuntimeApiClient | undefined;
afterEach(async () => {
  client?.close();
  await server?.close();
  client = undefined;
  server = undefined;
});

async function setUp(respond: Responder): Promise<{ server: RawServer; client: RuntimeApiClient }> {
  server = await RawServer.start(respond);
  client = new RuntimeApiClient(server.address, 'shlambda/test');
  return { server, client };
}

describe('RuntimeApiClient over raw HTTP/1.1', () => {
  it('reads an event sent chunked, a few bytes per write, with every header of the invocation', async () => {
    const event = JSON.stringify({ text: 'h\u00e9llo', list: Array.from({ length: 50 }, (_, i) => i) });
    const body = Buffer.from(event);
    const { client } = await setUp(async (request, socket) => {
      if (!isNext(request)) return;
      const wire = Buffer.concat([
        Buffer.from(`HTTP/1.1 200 OK\r\n${EVENT_HEADERS}Transfer-Encoding: chunked\r\n\r\n`),
        Buffer.from(`10\r\n`),
        body.subarray(0, 16),
        Buffer.from(`\r\n${(body.length - 16).toString(16)}\r\n`),
        body.subarray(16),
        Buffer.from('\r\n0\r\n\r\n'),
      ]);
      for (let at = 0; at < wire.length; at += 7) {
        socket.write(wire.subarray(at, at + 7));
        await new Promise((resolve) => setImmediate(resolve));
      }
    });
    const invocation = await client.next();
    expect(invocation.event.toString()).toBe(event);
    expect(invocation.requestId).toBe('8476a536-e9f4-11e8-9739-2dfe598c3fcd');
    expect(invocation.deadlineMs).toBe(1542409706888);
    expect(invocation.invokedFunctionArn).toBe(
      'arn:aws:lambda:us-east-2:123456789012:function:custom-runtime',
    );
    expect(invocation.traceId).toBe(
      'Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1',
    );
  });

  it.each([
    ['no deadline header', ''],
    ['a deadline that is not a number', 'Lambda-Runtime-Deadline-Ms: soon\r\n'],
  ])("gives an invocation with %s Lambda's longest timeout, 900 s, not a shorter one", async (_, header) => {
    const { client } = await setUp((request, socket) => {
      if (!isNext(request)) return;
      const headers = EVENT_HEADERS.replace(/Lambda-Runtime-Deadline-Ms: [^\r]*\r\n/, header);
      socket.write(`HTTP/1.1 200 OK\r\n${headers}Content-Length: 2\r\n\r\n{}`);
    });
    const before = Date.now();
    const invocation = await client.next();
    expect(invocation.deadlineMs).toBeGreaterThanOrEqual(before + 900_000);
    expect(invocation.deadlineMs).toBeLessThanOrEqual(Date.now() + 900_000);
  });

  it('sends Host, User-Agent and Content-Length, and an error type that cannot break its header line', async () => {
    const { server, client } = await setUp((request, socket) => {
      socket.write(isNext(request) ? eventAnswer('{}') : ACCEPTED);
    });
    const { requestId } = await client.next();
    const errorType = 'Function.Bad\r\nX-Injected: yes';
    expect(await client.postError(requestId, { errorType, errorMessage: 'no', stackTrace: [] })).toBe(
      'accepted',
    );

    const [next, post] = server.requests;
    expect(next?.head).toBe(
      `GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: ${server.address}\r\nUser-Agent: shlambda/test`,
    );
    const lines = post?.head.split('\r\n') ?? [];
    expect(lines[0]).toBe(`POST /2018-06-01/runtime/invocation/${requestId}/error HTTP/1.1`);
    expect(lines).toContain(`Content-Length: ${post?.body.length}`);
    expect(lines).toContain('Lambda-Runtime-Function-Error-Type: Function.Bad??X-Injected: yes');
    expect(lines.filter((line) => line.startsWith('X-Injected'))).toEqual([]);
    expect(JSON.parse(post?.body.toString() ?? '').errorType).toBe(errorType);
  });

  it('keeps one connection, opened ahead by connect(), for every request', async () => {
    const { server, client } = await setUp((request, socket) => {
      socket.write(isNext(request) ? eventAnswer('{"n":1}') : ACCEPTED);
    });
    client.connect();
    for (let i = 0; i < 3; i++) {
      const { requestId } = await client.next();
      expect(await client.postResponse(requestId, [Buffer.from('{"ok":'), Buffer.from('true}')])).toBe(
        'accepted',
      );
    }
    expect(server.requests).toHaveLength(6);
    expect(server.connections).toBe(1);
    expect(server.requests[1]?.body.toString()).toBe('{"ok":true}');
  });

  it('opens a new connection for each request when the server answers Connection: close', async () => {
    const { server, client } = await setUp((request, socket) => {
      socket.write(
        isNext(request)
          ? eventAnswer('{}', 'Connection: close\r\n')
          : ACCEPTED.replace('\r\n', '\r\nConnection: close\r\n'),
      );
    });
    for (let i = 0; i < 2; i++) {
      const { requestId } = await client.next();
      expect(await client.postResponse(requestId, [Buffer.from('{}')])).toBe('accepted');
    }
    expect(server.requests.map((r) => r.connection)).toEqual([0, 1, 2, 3]);
  });

  it('serves on when the server ends every connection after answering, without saying so', async () => {
    const { server, client } = await setUp((request, socket) => {
      socket.end(isNext(request) ? eventAnswer('{}') : ACCEPTED);
    });
    for (let i = 0; i < 3; i++) {
      const { requestId } = await client.next();
      expect(await client.postResponse(requestId, [Buffer.from('{}')])).toBe('accepted');
    }
    // A request may go out on a connection whose end is still on its way, and is then sent again.
    expect(server.connections).toBeGreaterThanOrEqual(6);
  });

  it('sends a request again on a new connection when a kept-alive one closes as the request goes out', async () => {
    const { server, client } = await setUp((request, socket) => {
      if (isNext(request)) socket.write(eventAnswer('{}'));
      // The first post, on the connection that carried /next, finds it closing: no answer at all.
      else if (request.connection === 0) socket.destroy();
      else socket.write(ACCEPTED);
    });
    const { requestId } = await client.next();
    expect(await client.postResponse(requestId, [Buffer.from('{"answer":42}')])).toBe('accepted');
    expect(server.requests.map((r) => [r.connection, r.body.toString()])).toEqual([
      [0, ''],
      [0, '{"answer":42}'],
      [1, '{"answer":42}'],
    ]);
  });

  it('fails with RuntimeApiFatalError when a post on a new connection gets no answer', async () => {
    const { client } = await setUp((_request, socket) => socket.destroy());
    const error = await thrownAsync(RuntimeApiFatalError, () =>
      client.postResponse('id', [Buffer.from('{}')]),
    );
    expect(error.message).toContain('POST /runtime/invocation/id/response failed');
  });

  it('fails with RuntimeApiFatalError naming the problem when the answer is not HTTP', async () => {
    const { client } = await setUp((_request, socket) => socket.write('SSH-2.0-OpenSSH_9.2\r\n\r\n'));
    const error = await thrownAsync(RuntimeApiFatalError, () =>
      client.postResponse('id', [Buffer.from('{}')]),
    );
    expect(error.message).toContain('not an HTTP/1.x status line');
    expect(error.message).toContain('SSH-2.0');
  });
});
