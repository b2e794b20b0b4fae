/**
 * Speaks the Lambda Runtime API over `node:http` with one keep-alive connection pool.
 * https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html
 */

import http from 'node:http';
import type { ErrorPayload } from './errors.ts';

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
  readonly #agent: http.Agent;
  readonly #userAgent: string;

  constructor(address: string, concurrency: number, userAgent: string) {
    const colon = address.lastIndexOf(':');
    this.#host = address.slice(0, colon);
    this.#port = Number(address.slice(colon + 1));
    // One socket per concurrent /next plus one for posting answers while others wait.
    this.#agent = new http.Agent({ keepAlive: true, maxSockets: concurrency + 1 });
    this.#userAgent = userAgent;
  }

  /**
   * Waits for the next event. No timeout: `/next` blocks until Lambda has work.
   * Connection errors are retried with a short backoff (the API may still be starting);
   * any answer but 200 is fatal.
   */
  async next(): Promise<Invocation> {
    for (let attempt = 0; ; attempt++) {
      let answer: RawAnswer;
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
      const requestId = header(h, 'lambda-runtime-aws-request-id');
      if (!requestId)
        throw new RuntimeApiFatalError('GET /next answered without Lambda-Runtime-Aws-Request-Id');
      return {
        requestId,
        deadlineMs: Number(header(h, 'lambda-runtime-deadline-ms')) || Date.now() + 3000,
        invokedFunctionArn: header(h, 'lambda-runtime-invoked-function-arn') ?? '',
        traceId: header(h, 'lambda-runtime-trace-id'),
        clientContext: header(h, 'lambda-runtime-client-context'),
        cognitoIdentity: header(h, 'lambda-runtime-cognito-identity'),
        tenantId: header(h, 'lambda-runtime-aws-tenant-id'),
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

  /** Closes idle keep-alive sockets so the process can exit. */
  close(): void {
    this.#agent.destroy();
  }

  async #post(
    path: string,
    chunks: readonly Buffer[],
    headers: http.OutgoingHttpHeaders,
  ): Promise<PostOutcome> {
    let answer: RawAnswer;
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

  #request(
    method: string,
    path: string,
    chunks: readonly Buffer[] | undefined,
    headers: http.OutgoingHttpHeaders,
  ): Promise<RawAnswer> {
    return new Promise((resolve, reject) => {
      const length = chunks ? chunks.reduce((sum, c) => sum + c.length, 0) : undefined;
      const req = http.request(
        {
          host: this.#host,
          port: this.#port,
          method,
          path: `/2018-06-01${path}`,
          agent: this.#agent,
          headers: {
            'User-Agent': this.#userAgent,
            ...(length === undefined ? {} : { 'Content-Length': length }),
            ...headers,
          },
        },
        (res) => {
          const body: Buffer[] = [];
          res.on('data', (chunk: Buffer) => body.push(chunk));
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(body) }),
          );
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      if (chunks) for (const chunk of chunks) req.write(chunk);
      req.end();
    });
  }
}

interface RawAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

function errorHeaders(payload: ErrorPayload): http.OutgoingHttpHeaders {
  return {
    'Content-Type': ERROR_CONTENT_TYPE,
    // Header values must be latin1 without control characters; the body keeps the exact type.
    'Lambda-Runtime-Function-Error-Type': payload.errorType.replace(/[^\x20-\x7e]/g, '?'),
  };
}

function header(headers: http.IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function describe(error: unknown): string {
  return error instanceof Error
    ? `${(error as NodeJS.ErrnoException).code ?? error.name}: ${error.message}`
    : String(error);
}
