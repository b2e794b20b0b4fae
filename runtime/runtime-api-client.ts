/**
 * Speaks the Lambda Runtime API over kept-alive HTTP/1.1 connections (`http-connection.ts`).
 * https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html
 */

import type { ErrorPayload } from './errors.ts';
import { ConnectionFailure, HttpConnection } from './http-connection.ts';
import type { HttpAnswer } from './http-response-parser.ts';

/** One event from `GET /next`, with the headers that describe its invocation. */
export interface Invocation {
  requestId: string;
  deadlineMs: number;
  invokedFunctionArn: string;
  traceId: string | undefined;
  clientContext: string | undefined;
  cognitoIdentity: string | undefined;
  tenantId: string | undefined;
  event: Buffer;
}

/** How the Runtime API answered a `/response` or `/error` post. */
export type PostOutcome = 'accepted' | 'too-large' | 'rejected';

/** The Runtime API answered 500, or not at all: the runtime must exit (Lambda restarts it). */
export class RuntimeApiFatalError extends Error {
  override readonly name = 'RuntimeApiFatalError';
}

const ERROR_CONTENT_TYPE = 'application/vnd.aws.lambda.error+json';
const NEXT_RETRY_DELAYS_MS = [10, 20, 50, 100, 200, 500, 1000, 1000, 1000, 1000];

export class RuntimeApiClient {
  readonly #host: string;
  readonly #port: number;
  /** `host:port` as Lambda gave it, brackets and all: the Host header. */
  readonly #address: string;
  readonly #userAgent: string;
  /** Connections with no request in flight. Each concurrent loop uses one at a time, so there are
   *  never more connections than loops. */
  readonly #idle: HttpConnection[] = [];
  readonly #all = new Set<HttpConnection>();

  constructor(address: string, userAgent: string) {
    const colon = address.lastIndexOf(':');
    // An IPv6 address comes in brackets ([::1]:9001); net.connect wants it without.
    this.#host = address.slice(0, colon).replace(/^\[(.*)\]$/, '$1');
    this.#port = Number(address.slice(colon + 1));
    this.#address = address;
    this.#userAgent = userAgent;
  }

  /** Opens a connection ahead of the first request, so that request does not wait for it. */
  connect(): void {
    if (this.#idle.length === 0) this.#idle.push(this.#open());
  }

  /**
   * Waits for the next event. No timeout: `/next` blocks until Lambda has work.
   * Connection errors are retried with a short backoff (the API may still be starting);
   * any answer but 200 is fatal.
   */
  async next(): Promise<Invocation> {
    for (let attempt = 0; ; attempt++) {
      let answer: HttpAnswer;
      try {
        answer = await this.#request('GET', '/runtime/invocation/next', undefined, {});
      } catch (error) {
        const delay = NEXT_RETRY_DELAYS_MS[attempt];
        if (delay === undefined) throw new RuntimeApiFatalError(`GET /next failed: ${describe(error)}`);
        await new Promise((resolve) => setTimeout(resolve, delay));
        continue;
      }
      if (answer.status !== 200) {
        throw new RuntimeApiFatalError(
          `GET /next answered ${answer.status}: ${answer.body.toString('utf8')}`,
        );
      }
      const h = answer.headers;
      const requestId = h.get('lambda-runtime-aws-request-id');
      if (!requestId)
        throw new RuntimeApiFatalError('GET /next answered without Lambda-Runtime-Aws-Request-Id');
      return {
        requestId,
        deadlineMs: deadlineOf(h.get('lambda-runtime-deadline-ms')),
        invokedFunctionArn: h.get('lambda-runtime-invoked-function-arn') ?? '',
        traceId: h.get('lambda-runtime-trace-id'),
        clientContext: h.get('lambda-runtime-client-context'),
        cognitoIdentity: h.get('lambda-runtime-cognito-identity'),
        tenantId: h.get('lambda-runtime-aws-tenant-id'),
        event: answer.body,
      };
    }
  }

  /** Posts a buffered response, given as chunks so a large body is never copied into one buffer. */
  postResponse(requestId: string, chunks: readonly Buffer[]): Promise<PostOutcome> {
    const path = `/runtime/invocation/${encodeURIComponent(requestId)}/response`;
    return this.#post(path, chunks, { 'Content-Type': 'application/octet-stream' });
  }

  /** Posts an invocation error. The caller must not do this after a response or a 413. */
  postError(requestId: string, payload: ErrorPayload): Promise<PostOutcome> {
    const path = `/runtime/invocation/${encodeURIComponent(requestId)}/error`;
    return this.#post(path, [Buffer.from(JSON.stringify(payload))], errorHeaders(payload));
  }

  /** Posts an init error; Lambda serves it to the first invocation. The runtime exits afterwards. */
  postInitError(payload: ErrorPayload): Promise<PostOutcome> {
    return this.#post('/runtime/init/error', [Buffer.from(JSON.stringify(payload))], errorHeaders(payload));
  }

  /** Closes every connection so the process can exit. */
  close(): void {
    for (const connection of this.#all) connection.close();
    this.#all.clear();
    this.#idle.length = 0;
  }

  async #post(
    path: string,
    chunks: readonly Buffer[],
    headers: Record<string, string>,
  ): Promise<PostOutcome> {
    let answer: HttpAnswer;
    try {
      answer = await this.#request('POST', path, chunks, headers);
    } catch (error) {
      throw new RuntimeApiFatalError(`POST ${path} failed: ${describe(error)}`);
    }
    if (answer.status === 202) return 'accepted';
    if (answer.status === 413) return 'too-large';
    if (answer.status >= 500) {
      throw new RuntimeApiFatalError(
        `POST ${path} answered ${answer.status}: ${answer.body.toString('utf8')}`,
      );
    }
    return 'rejected';
  }

  async #request(
    method: string,
    path: string,
    chunks: readonly Buffer[] | undefined,
    headers: Record<string, string>,
  ): Promise<HttpAnswer> {
    const head = this.#head(method, path, chunks, headers);
    for (;;) {
      const connection = this.#take();
      try {
        const answer = await connection.request(head, chunks ?? []);
        if (connection.idle) this.#idle.push(connection);
        else this.#all.delete(connection);
        return answer;
      } catch (error) {
        connection.close();
        this.#all.delete(connection);
        // A kept-alive connection the server closed just as the request went out: the request never
        // arrived, so it is sent again on a new connection (which is not retried: no loop).
        if (error instanceof ConnectionFailure && error.beforeAnswer && connection.answered > 0) continue;
        throw error;
      }
    }
  }

  #take(): HttpConnection {
    for (let connection = this.#idle.pop(); connection; connection = this.#idle.pop()) {
      if (connection.idle) return connection;
      this.#all.delete(connection);
    }
    return this.#open();
  }

  #open(): HttpConnection {
    const connection = new HttpConnection(this.#host, this.#port);
    this.#all.add(connection);
    return connection;
  }

  #head(
    method: string,
    path: string,
    chunks: readonly Buffer[] | undefined,
    headers: Record<string, string>,
  ): Buffer {
    let head = `${method} /2018-06-01${path} HTTP/1.1\r\nHost: ${this.#address}\r\nUser-Agent: ${this.#userAgent}\r\n`;
    if (chunks) head += `Content-Length: ${chunks.reduce((sum, c) => sum + c.length, 0)}\r\n`;
    for (const [name, value] of Object.entries(headers)) {
      // Header values must be visible ASCII: no character may end the line early.
      head += `${name}: ${value.replace(/[^\x20-\x7e]/g, '?')}\r\n`;
    }
    return Buffer.from(`${head}\r\n`, 'latin1');
  }
}

function errorHeaders(payload: ErrorPayload): Record<string, string> {
  return {
    'Content-Type': ERROR_CONTENT_TYPE,
    // The body keeps the exact type; the header gets it with anything but visible ASCII replaced.
    'Lambda-Runtime-Function-Error-Type': payload.errorType,
  };
}

function describe(error: unknown): string {
  return error instanceof Error
    ? `${(error as NodeJS.ErrnoException).code ?? error.name}: ${error.message}`
    : String(error);
}

/** Lambda's longest function timeout: what an invocation without a deadline gets, so the runtime never
 *  ends a handler sooner than Lambda itself would (Lambda always sends one; some emulators do not). */
const LONGEST_TIMEOUT_MS = 900_000;

/** The invocation's deadline, epoch ms, from `Lambda-Runtime-Deadline-Ms`. */
function deadlineOf(header: string | undefined): number {
  const deadline = Number(header);
  return header && Number.isFinite(deadline) && deadline > 0 ? deadline : Date.now() + LONGEST_TIMEOUT_MS;
}
