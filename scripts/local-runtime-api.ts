/** Serves the AWS Lambda Runtime API on 127.0.0.1 so a real runtime process can be driven locally, as strictly as Lambda does. */

// Protocol reference for every route and status below: https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html
// Lambda's lifecycle (init, invoke, reset after a timeout or an exit):
// https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html

import { randomBytes, randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';

/** Largest buffered `/response` (and `/error`) body Lambda accepts; one byte more gets 413. */
export const MAX_BUFFERED_RESPONSE_BYTES = 6_291_556;
/**
 * Largest body accepted with `Lambda-Runtime-Function-Response-Mode: streaming` (Lambda's 200 MB streaming
 * limit). The stream is still buffered here, so this also bounds the memory one answer can take.
 */
export const MAX_STREAMED_RESPONSE_BYTES = 200 * 1024 * 1024;
/** A synchronous invoke's event must be strictly under this many bytes. */
export const MAX_SYNC_EVENT_BYTES = 6_291_456;
/** `Lambda-Runtime-Invoked-Function-Arn` when the caller gives none. */
export const DEFAULT_FUNCTION_ARN = 'arn:aws:lambda:us-east-1:000000000000:function:local';
/** Function timeout when the caller gives none: Lambda's default of 3 s. */
export const DEFAULT_TIMEOUT_MS = 3000;
/** Grace after the deadline before an invocation counts as timed out. */
export const DEFAULT_TIMEOUT_SLACK_MS = 200;
/** Recorded requests kept (the oldest are dropped first). */
export const MAX_RECORDED_REQUESTS = 10_000;

/** Finished request ids remembered so a late answer gets 403 rather than 400. */
const MAX_REMEMBERED_FINISHED_IDS = 10_000;
/** Error type recorded when `/error` or `/init/error` comes without `Lambda-Runtime-Function-Error-Type`. */
const MISSING_ERROR_TYPE = 'Runtime.Unknown';

const BASE_PATH = '/2018-06-01';
const NEXT_PATH = `${BASE_PATH}/runtime/invocation/next`;
const INIT_ERROR_PATH = `${BASE_PATH}/runtime/init/error`;
const ANSWER_PATH = /^\/2018-06-01\/runtime\/invocation\/([^/]+)\/(response|error)$/;

// Header names as Node exposes incoming ones (lower case).
const ERROR_TYPE_HEADER = 'lambda-runtime-function-error-type';
const ERROR_BODY_TRAILER = 'lambda-runtime-function-error-body';
const RESPONSE_MODE_HEADER = 'lambda-runtime-function-response-mode';

/** What one invocation looks like to the runtime; everything is optional. */
export interface InvokeOptions {
  /** Function timeout in ms, default 3000; `Lambda-Runtime-Deadline-Ms` is the delivery time plus this. */
  timeoutMs?: number;
  /** `Lambda-Runtime-Invoked-Function-Arn`, default {@link DEFAULT_FUNCTION_ARN}. */
  functionArn?: string;
  /** `Lambda-Runtime-Trace-Id`; default a generated X-Ray header `Root=1-...;Parent=...;Sampled=0`. */
  traceId?: string;
  /** `Lambda-Runtime-Client-Context`, sent only when given. */
  clientContext?: string;
  /** `Lambda-Runtime-Cognito-Identity`, sent only when given. */
  cognitoIdentity?: string;
  /** `Lambda-Runtime-Aws-Tenant-Id`, sent only when given. */
  tenantId?: string;
}

/**
 * How an invocation ended. `durationMs` runs from the moment the event was handed to the runtime on
 * `/next` (Lambda's "Duration"), or from the `invoke()` call when it never was.
 */
export type InvocationOutcome =
  | {
      kind: 'response';
      requestId: string;
      body: Buffer;
      durationMs: number;
      /** The runtime's `Content-Type`, if it sent one (streamed HTTP responses use their own). */
      contentType?: string;
      /** True when posted with `Lambda-Runtime-Function-Response-Mode: streaming`. */
      streamed?: boolean;
    }
  | {
      kind: 'error';
      requestId: string;
      /** `Lambda-Runtime-Function-Error-Type` exactly as sent, or `Runtime.Unknown` when absent. */
      errorType: string;
      body: Buffer;
      /** The body parsed as JSON, or undefined when it is not JSON. */
      payload: unknown;
      durationMs: number;
    }
  /** No answer by the deadline plus the slack: the owner must kill and restart the runtime. */
  | { kind: 'timeout'; requestId: string; durationMs: number }
  | {
      kind: 'runtime-exit';
      requestId: string;
      exitCode: number | null;
      signal: string | null;
      durationMs: number;
    }
  | { kind: 'init-error'; errorType: string; body: Buffer; payload: unknown }
  /** The response was over the limit: the runtime got 413, the caller would see `Function.ResponseSizeTooLarge`. */
  | { kind: 'too-large'; requestId: string; size: number };

/** One HTTP request the runtime made, for tests to assert on. */
export interface RecordedRequest {
  method: string;
  /** The request target as sent, query string included. */
  path: string;
  headers: Record<string, string | string[] | undefined>;
  /** Bytes of body received so far. */
  bodyLength: number;
  /** Status answered; 0 while unanswered (a parked `/next`) or if the client went away first. */
  status: number;
  /** Arrival time, epoch ms. */
  at: number;
}

/** Payload of the `'next'` event: when a `GET /next` arrived. */
export interface NextArrival {
  /** Epoch ms. */
  at: number;
  /** `performance.now()`, for measuring init against a spawn time taken the same way. */
  monotonicMs: number;
}

/** Payload of the `'timeout'` event. */
export interface TimeoutNotice {
  requestId: string;
}

/** Events a {@link LocalRuntimeApi} emits. */
export interface LocalRuntimeApiEvents {
  next: [NextArrival];
  timeout: [TimeoutNotice];
}

/** Options of {@link LocalRuntimeApi.start}. */
export interface LocalRuntimeApiOptions {
  /** Port on 127.0.0.1; 0 (the default) picks a free one. */
  port?: number;
  /** Grace after the deadline before an unanswered invocation resolves as `timeout`; default 200 ms. */
  timeoutSlackMs?: number;
}

/**
 * Where the current runtime process is in Lambda's lifecycle. It starts in `initializing`; the first
 * `/next` makes it `ready`; `/init/error` makes it `init-failed`; an invocation timeout makes it
 * `timed-out`. Only `runtimeExited()` brings a failed or timed-out runtime back to `initializing`.
 */
type RuntimePhase = 'initializing' | 'ready' | 'init-failed' | 'timed-out';

interface Invocation {
  readonly requestId: string;
  readonly event: Buffer;
  readonly timeoutMs: number;
  readonly headers: Record<string, string>;
  readonly invokedAt: number;
  deliveredAt: number | undefined;
  timer: NodeJS.Timeout | undefined;
  /** A `/response` or `/error` for it is being received: any other answer is a second one (403). */
  answering: boolean;
  settled: boolean;
  readonly resolve: (outcome: InvocationOutcome) => void;
}

interface InitError {
  errorType: string;
  body: Buffer;
  payload: unknown;
}

interface BodyRead {
  /** The body, or empty when it went over the limit (it is then counted, not kept). */
  body: Buffer;
  size: number;
  overLimit: boolean;
  /** False when the client went away before the end of the body. */
  complete: boolean;
}

/**
 * A strict local Lambda Runtime API for one runtime process at a time. The owner starts the runtime with
 * `AWS_LAMBDA_RUNTIME_API=<address>`, calls {@link invoke}, and reports the process's death with
 * {@link runtimeExited}; this class never starts or kills processes.
 *
 * Emits `'next'` ({@link NextArrival}) when a `GET /next` arrives and `'timeout'` ({@link TimeoutNotice})
 * when an invocation times out, after which the owner should kill and restart the runtime.
 */
export class LocalRuntimeApi extends EventEmitter<LocalRuntimeApiEvents> {
  /** `host:port`, the value for `AWS_LAMBDA_RUNTIME_API`. */
  readonly address: string;
  /** Every request received, in arrival order; only the last {@link MAX_RECORDED_REQUESTS} are kept. */
  readonly requests: RecordedRequest[] = [];

  private readonly server: Server;
  private readonly timeoutSlackMs: number;
  /** Invocations not yet handed to the runtime, oldest first. */
  private readonly queue: Invocation[] = [];
  /** Parked `GET /next` responses, oldest first. */
  private readonly waitingNexts: ServerResponse[] = [];
  /** Ids answered, timed out or abandoned: another answer for them is a state error (403), not an unknown id. */
  private readonly finishedIds = new Set<string>();
  private inFlight: Invocation | undefined;
  private phase: RuntimePhase = 'initializing';
  private initError: InitError | undefined;
  /** An `/init/error` body is being received: a second one is refused. */
  private initErrorClaimed = false;
  /** Bumped by `runtimeExited()` so late requests from a dead process do not touch the new one's state. */
  private generation = 0;
  private closing: Promise<void> | undefined;

  private constructor(server: Server, timeoutSlackMs: number) {
    super();
    this.server = server;
    this.timeoutSlackMs = timeoutSlackMs;
    const { address, port } = server.address() as AddressInfo;
    this.address = `${address}:${port}`;
  }

  /** Listens on 127.0.0.1 (port 0 by default) and resolves once the server accepts connections. */
  static async start(options: LocalRuntimeApiOptions = {}): Promise<LocalRuntimeApi> {
    const timeoutSlackMs = options.timeoutSlackMs ?? DEFAULT_TIMEOUT_SLACK_MS;
    if (!Number.isFinite(timeoutSlackMs) || timeoutSlackMs < 0) {
      throw new RangeError(`timeoutSlackMs must be a non-negative number, got ${timeoutSlackMs}`);
    }
    const server = createServer({
      // A /response body may legitimately stream for as long as the function's timeout (up to 15 min):
      // the invocation timeout governs, not Node's 5-minute request timeout.
      requestTimeout: 0,
      // The runtime's keep-alive socket may sit idle between its answer and its next /next; closing it
      // after Node's default 5 s invites ECONNRESET races in the runtime's keep-alive Agent.
      keepAliveTimeout: 60_000,
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    const api = new LocalRuntimeApi(server, timeoutSlackMs);
    server.on('request', (req: IncomingMessage, res: ServerResponse) => api.handleRequest(req, res));
    return api;
  }

  /**
   * Queues one invocation and resolves with how it ended. Invocations are handed to the runtime one at a
   * time, oldest first. Never rejects for what the runtime does; rejects with a RangeError for an event
   * at or over the synchronous payload limit, and with an Error once the server is closed.
   */
  async invoke(event: Buffer | string, options: InvokeOptions = {}): Promise<InvocationOutcome> {
    if (this.closing) throw new Error('LocalRuntimeApi is closed');
    const eventBody = typeof event === 'string' ? Buffer.from(event) : event;
    if (eventBody.length >= MAX_SYNC_EVENT_BYTES) {
      // Lambda refuses such a request before any runtime sees it (RequestTooLargeException).
      throw new RangeError(
        `Event of ${eventBody.length} bytes is not under the synchronous invocation payload limit of ` +
          `${MAX_SYNC_EVENT_BYTES} bytes`,
      );
    }
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
      throw new RangeError(`timeoutMs must be a positive number, got ${timeoutMs}`);
    }
    if (this.phase === 'init-failed' && this.initError) return initErrorOutcome(this.initError);

    const requestId = randomUUID();
    return new Promise<InvocationOutcome>((resolve) => {
      this.queue.push({
        requestId,
        event: eventBody,
        timeoutMs,
        headers: invocationHeaders(requestId, options),
        invokedAt: performance.now(),
        deliveredAt: undefined,
        timer: undefined,
        answering: false,
        settled: false,
        resolve,
      });
      this.deliverQueued();
    });
  }

  /**
   * The owner reports that the runtime process died. The invocation it was running resolves as
   * `runtime-exit`; so does the oldest queued one if the process died before its first `/next` (that
   * invocation was waiting on this init, as a cold-start invoke does on Lambda). Other queued invocations
   * wait for the next runtime, whose first `/next` is a fresh init.
   */
  runtimeExited(exitCode: number | null, signal: string | null): void {
    const victim = this.inFlight ?? (this.phase === 'initializing' ? this.queue[0] : undefined);
    this.generation += 1;
    this.phase = 'initializing';
    this.initError = undefined;
    this.initErrorClaimed = false;
    // A dead process's parked /next must never receive the next runtime's event, even if its socket's
    // close has not reached us yet.
    for (const res of this.waitingNexts.splice(0)) res.destroy();
    if (victim) this.settle(victim, exitOutcome(victim, exitCode, signal));
  }

  /** True while a runtime is blocked in `GET /next` (it finished init, or its last invocation). */
  nextWaiting(): boolean {
    return this.waitingNexts.some(isOpen);
  }

  /** Closes the server and every socket; pending invocations resolve as `runtime-exit` with no code. */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    const pending = [...(this.inFlight ? [this.inFlight] : []), ...this.queue];
    this.closing = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const res of this.waitingNexts.splice(0)) res.destroy();
    for (const invocation of pending) this.settle(invocation, exitOutcome(invocation, null, null));
    this.server.closeAllConnections();
    return this.closing;
  }

  private handleRequest(req: IncomingMessage, res: ServerResponse): void {
    const record: RecordedRequest = {
      method: req.method ?? '',
      path: req.url ?? '',
      headers: { ...req.headers },
      bodyLength: 0,
      status: 0,
      at: Date.now(),
    };
    this.record(record);
    req.on('data', (chunk: Buffer) => {
      record.bodyLength += chunk.length;
    });
    recordOfResponse.set(res, record);

    const pathname = (req.url ?? '/').split('?')[0] ?? '/';
    const route = routeOf(pathname);
    if (!route) {
      sendJson(res, 404, { errorMessage: `No Runtime API route for ${pathname}`, errorType: 'NotFound' });
    } else if (req.method !== route.method) {
      sendJson(
        res,
        405,
        { errorMessage: `Use ${route.method} for ${pathname}`, errorType: 'MethodNotAllowed' },
        { Allow: route.method },
      );
    } else if (route.name === 'next') {
      this.handleNext(req, res);
    } else if (route.name === 'init-error') {
      failOnThrow(res, this.handleInitError(req, res));
    } else if (route.requestId === undefined) {
      sendInvalidRequestId(res, pathname);
    } else {
      failOnThrow(res, this.handleAnswer(req, res, route.requestId, route.name));
    }
  }

  private handleNext(req: IncomingMessage, res: ServerResponse): void {
    const arrival: NextArrival = { at: Date.now(), monotonicMs: performance.now() };
    if (this.phase === 'init-failed') {
      // After /init/error the runtime must exit; Lambda refuses it any invocation.
      sendInvalidStateTransition(res, 'The runtime reported an init error and must exit');
    } else {
      if (this.phase === 'initializing') this.phase = 'ready';
      this.waitingNexts.push(res);
      // No timeout on a parked /next: it waits as long as no event comes. If the runtime hangs up, its
      // event (when one comes) stays queued for the next /next.
      const forget = (): void => {
        const index = this.waitingNexts.indexOf(res);
        if (index !== -1) this.waitingNexts.splice(index, 1);
      };
      // A /next that arrived on a keep-alive connection before the previous answer on it was flushed
      // waits behind that answer: it has no socket yet and gets no 'close' if the connection drops, so
      // the connection itself is watched too.
      const connection = req.socket;
      connection.once('close', forget);
      res.once('close', () => {
        connection.off('close', forget);
        forget();
      });
      this.deliverQueued();
    }
    this.emit('next', arrival);
  }

  private async handleInitError(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (this.phase !== 'initializing' || this.initErrorClaimed) {
      // Lambda only accepts an init error before the runtime's first /next, and only once.
      return sendInvalidStateTransition(res, `An init error is not accepted now (runtime is ${this.phase})`);
    }
    this.initErrorClaimed = true;
    const generation = this.generation;
    const read = await readBodyBounded(req, MAX_BUFFERED_RESPONSE_BYTES);
    if (generation !== this.generation) {
      return sendInvalidStateTransition(res, 'The runtime that sent this init error has exited');
    }
    if (!read.complete) {
      this.initErrorClaimed = false;
      return;
    }
    // An oversized init error still fails the init: the runtime gets 413 and invokes get the error type.
    const initError: InitError = {
      errorType: errorTypeOf(req.headers[ERROR_TYPE_HEADER]),
      body: read.body,
      payload: parseJson(read.body),
    };
    this.initError = initError;
    this.phase = 'init-failed';
    if (read.overLimit) sendTooLarge(res, MAX_BUFFERED_RESPONSE_BYTES);
    else sendAccepted(res);
    // Lambda serves the init error to the invoke that was waiting on this init; here every queued one.
    for (const invocation of this.queue.splice(0)) this.settle(invocation, initErrorOutcome(initError));
  }

  private async handleAnswer(
    req: IncomingMessage,
    res: ServerResponse,
    requestId: string,
    answerKind: 'response' | 'error',
  ): Promise<void> {
    const invocation = this.inFlight;
    if (!invocation || invocation.requestId !== requestId) {
      if (this.finishedIds.has(requestId)) {
        return sendInvalidStateTransition(res, `Invocation ${requestId} is already finished`);
      }
      return sendInvalidRequestId(res, requestId);
    }
    if (invocation.answering) {
      return sendInvalidStateTransition(res, `Invocation ${requestId} is already being answered`);
    }
    invocation.answering = true;

    // Streaming mode is accepted and buffered whole (Lambda's streaming limit applies instead of the
    // buffered one); an error after the first byte arrives in trailers and becomes an 'error' outcome.
    const streamed =
      answerKind === 'response' &&
      headerValue(req.headers[RESPONSE_MODE_HEADER])?.toLowerCase() === 'streaming';
    const limit = streamed ? MAX_STREAMED_RESPONSE_BYTES : MAX_BUFFERED_RESPONSE_BYTES;
    const read = await readBodyBounded(req, limit);

    if (invocation.settled) {
      // It timed out or the runtime was declared dead while the body was arriving.
      return sendInvalidStateTransition(res, `Invocation ${requestId} is already finished`);
    }
    if (read.overLimit) {
      // Over the limit the answer is final: the runtime may not post /error afterwards (403).
      if (read.complete) sendTooLarge(res, limit);
      return this.settle(invocation, { kind: 'too-large', requestId, size: read.size });
    }
    if (!read.complete) {
      // The runtime hung up mid-body: nothing was answered, so it may still answer (or time out).
      invocation.answering = false;
      return;
    }
    sendAccepted(res);
    const durationMs = performance.now() - (invocation.deliveredAt ?? invocation.invokedAt);
    const trailerErrorType = streamed ? headerValue(req.trailers[ERROR_TYPE_HEADER]) : undefined;
    if (answerKind === 'error' || trailerErrorType !== undefined) {
      const body =
        trailerErrorType !== undefined
          ? Buffer.from(headerValue(req.trailers[ERROR_BODY_TRAILER]) ?? '', 'base64')
          : read.body;
      return this.settle(invocation, {
        kind: 'error',
        requestId,
        errorType: trailerErrorType ?? errorTypeOf(req.headers[ERROR_TYPE_HEADER]),
        body,
        payload: parseJson(body),
        durationMs,
      });
    }
    const contentType = headerValue(req.headers['content-type']);
    this.settle(invocation, {
      kind: 'response',
      requestId,
      body: read.body,
      durationMs,
      ...(contentType === undefined ? {} : { contentType }),
      streamed,
    });
  }

  /** Hands the oldest queued invocation to the oldest live parked `/next`, if the runtime may take one. */
  private deliverQueued(): void {
    while (this.phase === 'ready' && !this.inFlight && !this.closing && this.queue.length > 0) {
      const res = this.waitingNexts.shift();
      if (!res) return;
      if (!isOpen(res)) continue;
      const invocation = this.queue.shift();
      if (invocation) this.deliver(invocation, res);
    }
  }

  private deliver(invocation: Invocation, res: ServerResponse): void {
    invocation.deliveredAt = performance.now();
    // The deadline counts from delivery: on Lambda the timeout clock starts after init.
    const deadlineMs = Date.now() + invocation.timeoutMs;
    res.writeHead(200, {
      'Content-Type': 'application/json',
      'Content-Length': invocation.event.length,
      'Lambda-Runtime-Deadline-Ms': String(deadlineMs),
      ...invocation.headers,
    });
    res.end(invocation.event);
    noteStatus(res, 200);
    this.inFlight = invocation;
    invocation.timer = setTimeout(() => this.expire(invocation), invocation.timeoutMs + this.timeoutSlackMs);
  }

  private expire(invocation: Invocation): void {
    if (invocation.settled) return;
    // Lambda resets the environment after a timeout: no event goes to this process again.
    this.phase = 'timed-out';
    this.settle(invocation, {
      kind: 'timeout',
      requestId: invocation.requestId,
      durationMs: performance.now() - (invocation.deliveredAt ?? invocation.invokedAt),
    });
    this.emit('timeout', { requestId: invocation.requestId });
  }

  private settle(invocation: Invocation, outcome: InvocationOutcome): void {
    if (invocation.settled) return;
    invocation.settled = true;
    clearTimeout(invocation.timer);
    if (this.inFlight === invocation) this.inFlight = undefined;
    const queued = this.queue.indexOf(invocation);
    if (queued !== -1) this.queue.splice(queued, 1);
    if (invocation.deliveredAt !== undefined) this.rememberFinished(invocation.requestId);
    invocation.resolve(outcome);
    this.deliverQueued();
  }

  private rememberFinished(requestId: string): void {
    this.finishedIds.add(requestId);
    if (this.finishedIds.size > MAX_REMEMBERED_FINISHED_IDS) {
      const oldest = this.finishedIds.values().next().value;
      if (oldest !== undefined) this.finishedIds.delete(oldest);
    }
  }

  private record(request: RecordedRequest): void {
    this.requests.push(request);
    if (this.requests.length > MAX_RECORDED_REQUESTS) {
      this.requests.splice(0, this.requests.length - MAX_RECORDED_REQUESTS);
    }
  }
}

type Route =
  | { name: 'next'; method: 'GET' }
  | { name: 'init-error'; method: 'POST' }
  /** `requestId` is undefined when the path segment is not valid percent-encoding. */
  | { name: 'response' | 'error'; method: 'POST'; requestId: string | undefined };

function routeOf(pathname: string): Route | undefined {
  if (pathname === NEXT_PATH) return { name: 'next', method: 'GET' };
  if (pathname === INIT_ERROR_PATH) return { name: 'init-error', method: 'POST' };
  const answer = ANSWER_PATH.exec(pathname);
  if (!answer) return undefined;
  return {
    name: answer[2] === 'error' ? 'error' : 'response',
    method: 'POST',
    requestId: safeDecode(answer[1] ?? ''),
  };
}

/** The fixed headers of one invocation's `/next` answer (the deadline is added at delivery). */
function invocationHeaders(requestId: string, options: InvokeOptions): Record<string, string> {
  const headers: Record<string, string> = {
    'Lambda-Runtime-Aws-Request-Id': requestId,
    'Lambda-Runtime-Invoked-Function-Arn': options.functionArn ?? DEFAULT_FUNCTION_ARN,
    'Lambda-Runtime-Trace-Id': options.traceId ?? generateTraceId(),
  };
  // Lambda sends these only when the caller supplied them.
  if (options.clientContext !== undefined) headers['Lambda-Runtime-Client-Context'] = options.clientContext;
  if (options.cognitoIdentity !== undefined) {
    headers['Lambda-Runtime-Cognito-Identity'] = options.cognitoIdentity;
  }
  if (options.tenantId !== undefined) headers['Lambda-Runtime-Aws-Tenant-Id'] = options.tenantId;
  return headers;
}

/**
 * An X-Ray trace header as Lambda passes it: root `1-<epoch seconds, 8 hex>-<96 random bits>`, a 64-bit
 * parent id, not sampled. https://docs.aws.amazon.com/xray/latest/devguide/xray-concepts.html#xray-concepts-tracingheader
 */
export function generateTraceId(): string {
  const epochSecondsHex = Math.floor(Date.now() / 1000)
    .toString(16)
    .padStart(8, '0');
  return `Root=1-${epochSecondsHex}-${randomBytes(12).toString('hex')};Parent=${randomBytes(8).toString('hex')};Sampled=0`;
}

function initErrorOutcome(initError: InitError): InvocationOutcome {
  return { kind: 'init-error', ...initError };
}

function exitOutcome(
  invocation: Invocation,
  exitCode: number | null,
  signal: string | null,
): InvocationOutcome {
  return {
    kind: 'runtime-exit',
    requestId: invocation.requestId,
    exitCode,
    signal,
    durationMs: performance.now() - (invocation.deliveredAt ?? invocation.invokedAt),
  };
}

/**
 * Reads a request body, keeping at most `limit` bytes: past it the body is only counted and drained, so
 * a runaway runtime cannot make this process hold unbounded memory.
 */
function readBodyBounded(req: IncomingMessage, limit: number): Promise<BodyRead> {
  return new Promise((resolve) => {
    let chunks: Buffer[] = [];
    let size = 0;
    const result = (complete: boolean): BodyRead => {
      const overLimit = size > limit;
      return { body: overLimit ? Buffer.alloc(0) : Buffer.concat(chunks, size), size, overLimit, complete };
    };
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) chunks = [];
      else chunks.push(chunk);
    });
    req.on('end', () => resolve(result(true)));
    // 'close' also follows 'end'; the first resolve wins, so this only matters for a hang-up.
    req.on('close', () => resolve(result(req.complete)));
  });
}

/** The error type as the runtime sent it: Lambda accepts any string, so it is not normalised here. */
function errorTypeOf(header: string | string[] | undefined): string {
  return headerValue(header) ?? MISSING_ERROR_TYPE;
}

function headerValue(header: string | string[] | undefined): string | undefined {
  return Array.isArray(header) ? header[0] : header;
}

function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
}

function safeDecode(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

/**
 * Whether a parked `/next` can still be answered. Its connection is the request's socket: `res.socket` is
 * null while the response waits behind an earlier one on the same keep-alive connection, and such a
 * response is neither destroyed nor closed when that connection drops.
 */
function isOpen(res: ServerResponse): boolean {
  return !res.destroyed && !res.writableEnded && !res.req.socket.destroyed;
}

/**
 * The record of each response's request, so its status is set the moment it is answered: a test that has
 * read the answer must see the status, which the response's 'finish' event does not guarantee.
 */
const recordOfResponse = new WeakMap<ServerResponse, RecordedRequest>();

function noteStatus(res: ServerResponse, status: number): void {
  const record = recordOfResponse.get(res);
  if (record) record.status = status;
}

/** A bug here must not leave the runtime hanging: answer 500, which tells a runtime to exit. */
function failOnThrow(res: ServerResponse, handling: Promise<void>): void {
  handling.catch((error: unknown) => {
    sendJson(res, 500, { errorMessage: String(error), errorType: 'ServiceException' });
  });
}

function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent || res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
  noteStatus(res, status);
}

function sendAccepted(res: ServerResponse): void {
  sendJson(res, 202, { status: 'OK' });
}

function sendInvalidRequestId(res: ServerResponse, requestId: string): void {
  sendJson(res, 400, {
    errorMessage: `Invalid request ID: ${requestId} is not the invocation in flight`,
    errorType: 'InvalidRequestID',
  });
}

function sendInvalidStateTransition(res: ServerResponse, message: string): void {
  sendJson(res, 403, { errorMessage: message, errorType: 'InvalidStateTransition' });
}

function sendTooLarge(res: ServerResponse, limit: number): void {
  sendJson(res, 413, {
    errorMessage: `Exceeded maximum allowed payload size (${limit} bytes).`,
    errorType: 'RequestEntityTooLarge',
  });
}
