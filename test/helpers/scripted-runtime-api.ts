/**
 * A Runtime API on 127.0.0.1 that records every request and answers only what the test tells it to,
 * wrong answers included (500, 413, 403, a dropped connection), to drive a real runtime through them.
 */

import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export const NEXT_PATH = '/2018-06-01/runtime/invocation/next';
export const INIT_ERROR_PATH = '/2018-06-01/runtime/init/error';

/** One request as the runtime sent it; answered at most once, by the test. */
export interface ScriptedRequest {
  readonly method: string;
  /** The request target exactly as sent, percent-encoding and all. */
  readonly url: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Buffer;
  /** The TCP connection it came on: the same object for every request on a kept-alive connection. */
  readonly socket: Socket;
  answer(status: number, body?: string | Buffer, headers?: http.OutgoingHttpHeaders): void;
}

/** Events the runtime can be given on `/next`; the headers are those Lambda always sends. */
export function eventHeaders(requestId: string): http.OutgoingHttpHeaders {
  return {
    'Lambda-Runtime-Aws-Request-Id': requestId,
    // Far away: these tests are not about timeouts.
    'Lambda-Runtime-Deadline-Ms': String(Date.now() + 120_000),
    'Lambda-Runtime-Invoked-Function-Arn': 'arn:aws:lambda:us-east-1:000000000000:function:protocol-test',
    'Lambda-Runtime-Trace-Id': 'Root=1-00000000-000000000000000000000000;Parent=0000000000000000;Sampled=0',
  };
}

export class ScriptedRuntimeApi {
  /** Every complete request, in arrival order. */
  readonly requests: ScriptedRequest[] = [];
  readonly #server: http.Server;
  readonly #taken = new Set<ScriptedRequest>();
  readonly #waiters: { match: (r: ScriptedRequest) => boolean; resolve: (r: ScriptedRequest) => void }[] = [];
  readonly #sockets = new Set<Socket>();
  #dropNextConnections: number;
  #dropped = 0;
  #whenIdle: (() => void)[] = [];

  private constructor(server: http.Server, dropFirstConnections: number) {
    this.#server = server;
    this.#dropNextConnections = dropFirstConnections;
    server.on('connection', (socket: Socket) => {
      if (this.#dropNextConnections > 0) {
        this.#dropNextConnections--;
        this.#dropped++;
        socket.destroy();
        return;
      }
      this.#sockets.add(socket);
      socket.on('close', () => {
        this.#sockets.delete(socket);
        if (this.#sockets.size === 0) for (const resolve of this.#whenIdle.splice(0)) resolve();
      });
    });
    server.on('request', (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        let answered = false;
        const recorded: ScriptedRequest = {
          method: req.method ?? '',
          url: req.url ?? '',
          headers: req.headers,
          body: Buffer.concat(chunks),
          socket: req.socket,
          answer(status, body = '', headers = {}) {
            if (answered) throw new Error(`${recorded.method} ${recorded.url} was already answered`);
            answered = true;
            res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
            res.end(body);
          },
        };
        this.requests.push(recorded);
        const waiter = this.#waiters.findIndex((w) => w.match(recorded));
        if (waiter >= 0) {
          this.#taken.add(recorded);
          this.#waiters.splice(waiter, 1)[0]?.resolve(recorded);
        }
      });
    });
  }

  /**
   * Starts listening on 127.0.0.1.
   * @param port 0 (the default) for any free port.
   * @param dropFirstConnections how many connections to reset as soon as they are accepted.
   */
  static async listen({ port = 0, dropFirstConnections = 0 } = {}): Promise<ScriptedRuntimeApi> {
    const server = http.createServer();
    const api = new ScriptedRuntimeApi(server, dropFirstConnections);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    return api;
  }

  /** A port nothing listens on (it was free a moment ago), for starting a runtime before its API. */
  static async freePort(): Promise<number> {
    const probe = http.createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', () => resolve()));
    const { port } = probe.address() as AddressInfo;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    return port;
  }

  get port(): number {
    return (this.#server.address() as AddressInfo).port;
  }

  /** The value for `AWS_LAMBDA_RUNTIME_API`. */
  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** How many connections were reset on purpose. */
  get droppedConnections(): number {
    return this.#dropped;
  }

  /**
   * The first request not taken yet that matches (by default any), waiting for it if need be.
   * Each request is taken once, so consecutive calls walk through the traffic.
   */
  take(match: (r: ScriptedRequest) => boolean = () => true): Promise<ScriptedRequest> {
    const found = this.requests.find((r) => !this.#taken.has(r) && match(r));
    if (found) {
      this.#taken.add(found);
      return Promise.resolve(found);
    }
    return new Promise((resolve) => this.#waiters.push({ match, resolve }));
  }

  /** Takes the next `GET /next` and hands it an event. */
  async sendEvent(requestId: string, event: string | Buffer): Promise<ScriptedRequest> {
    const next = await this.take(isNext);
    next.answer(200, event, eventHeaders(requestId));
    return next;
  }

  /** Resolves once no connection is open (after the runtime died, every request it sent is recorded). */
  idle(): Promise<void> {
    if (this.#sockets.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#whenIdle.push(resolve));
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

export function isNext(r: ScriptedRequest): boolean {
  return r.method === 'GET' && r.url === NEXT_PATH;
}

/** `POST /runtime/invocation/{id}/{kind}` for this id, matched on the encoding the runtime must use. */
export function isPost(kind: 'response' | 'error', requestId: string): (r: ScriptedRequest) => boolean {
  const url = `/2018-06-01/runtime/invocation/${encodeURIComponent(requestId)}/${kind}`;
  return (r) => r.method === 'POST' && r.url === url;
}

export function isInitError(r: ScriptedRequest): boolean {
  return r.method === 'POST' && r.url === INIT_ERROR_PATH;
}
