/** Checks the local Runtime API over real HTTP, playing the runtime's part by hand. */

import { once } from 'node:events';
import { type IncomingHttpHeaders, request } from 'node:http';
import { connect } from 'node:net';
import { describe, expect, test, vi } from 'vitest';
import {
  DEFAULT_FUNCTION_ARN,
  type InvocationOutcome,
  type InvokeOptions,
  LocalRuntimeApi,
  MAX_BUFFERED_RESPONSE_BYTES,
  MAX_SYNC_EVENT_BYTES,
  type NextArrival,
} from '../../scripts/local-runtime-api.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const NEXT = '/2018-06-01/runtime/invocation/next';
const INIT_ERROR = '/2018-06-01/runtime/init/error';
const responsePath = (id: string) => `/2018-06-01/runtime/invocation/${encodeURIComponent(id)}/response`;
const errorPath = (id: string) => `/2018-06-01/runtime/invocation/${encodeURIComponent(id)}/error`;

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

interface CallOptions {
  headers?: Record<string, string>;
  /** Sent with Content-Length. */
  body?: Buffer | string;
  /** Sent chunked, one write each, then the trailers. */
  chunks?: Buffer[];
  trailers?: Record<string, string>;
  signal?: AbortSignal;
}

/** One HTTP request to the API, as a runtime would make it. */
function call(
  api: LocalRuntimeApi,
  method: string,
  path: string,
  options: CallOptions = {},
): Promise<Answer> {
  const [host, port] = api.address.split(':');
  return new Promise((resolve, reject) => {
    const req = request(
      { host, port: Number(port), method, path, headers: options.headers, signal: options.signal },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    if (options.chunks) {
      for (const chunk of options.chunks) req.write(chunk);
      if (options.trailers) req.addTrailers(options.trailers);
      req.end();
    } else {
      req.end(options.body);
    }
  });
}

const json = (answer: Answer): unknown => JSON.parse(answer.body.toString('utf8'));
const requestIdOf = (answer: Answer): string => String(answer.headers['lambda-runtime-aws-request-id']);
const next = (api: LocalRuntimeApi) => call(api, 'GET', NEXT);

/**
 * Function timeout of the invocations the tests answer: Lambda's longest (15 min), far past the test
 * timeout, so that no invocation expires while a slow (loaded) test is still about to answer it. An
 * expired invocation would fail the answer with 403 and leave every later /next unanswered.
 */
const ANSWER_WITHIN_MS = 900_000;

/** Queues an invocation that cannot time out while the test runs (unless the test sets `timeoutMs`). */
const invoke = (
  api: LocalRuntimeApi,
  event: Buffer | string,
  options: InvokeOptions = {},
): Promise<InvocationOutcome> => api.invoke(event, { timeoutMs: ANSWER_WITHIN_MS, ...options });

/**
 * Sends a GET /next that has no event to take and resolves once the server holds it. It waits for the
 * API's 'next' event, which is listened for before the request is sent and emitted once the request is
 * parked, so it cannot be missed however slowly the request travels. `answer` settles when the /next is.
 */
async function parkNext(
  api: LocalRuntimeApi,
  options: CallOptions = {},
): Promise<{ answer: Promise<Answer>; arrival: NextArrival }> {
  const arrived = once(api, 'next') as Promise<[NextArrival]>;
  const answer = call(api, 'GET', NEXT, options);
  const [arrival] = await Promise.race([
    arrived,
    answer.then((early): never => {
      throw new Error(`GET /next was answered ${early.status} instead of waiting`);
    }),
  ]);
  expect(api.nextWaiting()).toBe(true);
  return { answer, arrival };
}

/**
 * Resolves once the server has seen that no /next is parked any more. Only the server's processing of a
 * closed connection tells it that a parked /next has gone, and nothing announces that, so this polls,
 * with a timeout far beyond any delay in handling a closed connection.
 */
async function untilNoNextWaiting(api: LocalRuntimeApi): Promise<void> {
  await vi.waitFor(() => expect(api.nextWaiting()).toBe(false), { timeout: 30_000 });
}

/** Each test gets its own API, so nothing a test leaves running (even after it timed out) reaches another's. */
const it = test.extend<{ api: LocalRuntimeApi }>({
  // biome-ignore lint/correctness/noEmptyPattern: Vitest reads a fixture's dependencies from this pattern.
  api: async ({}, use) => {
    const api = await LocalRuntimeApi.start();
    await use(api);
    await api.close();
  },
});

describe('GET /next', () => {
  it('serves the event with the required headers and no optional ones', async ({ api }) => {
    expect(api.address).toMatch(/^127\.0\.0\.1:\d+$/);
    const before = Date.now();
    const outcome = invoke(api, '{"hello":"world"}');
    const event = await next(api);
    const after = Date.now();

    expect(event.status).toBe(200);
    expect(event.body.toString()).toBe('{"hello":"world"}');
    expect(event.headers['content-type']).toBe('application/json');
    expect(requestIdOf(event)).toMatch(UUID);
    expect(event.headers['lambda-runtime-invoked-function-arn']).toBe(DEFAULT_FUNCTION_ARN);
    expect(event.headers['lambda-runtime-trace-id']).toMatch(
      /^Root=1-[0-9a-f]{8}-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=0$/,
    );
    const deadline = Number(event.headers['lambda-runtime-deadline-ms']);
    expect(deadline).toBeGreaterThanOrEqual(before + ANSWER_WITHIN_MS);
    expect(deadline).toBeLessThanOrEqual(after + ANSWER_WITHIN_MS);
    for (const optional of [
      'lambda-runtime-client-context',
      'lambda-runtime-cognito-identity',
      'lambda-runtime-aws-tenant-id',
    ]) {
      expect(event.headers).not.toHaveProperty(optional);
    }

    await call(api, 'POST', responsePath(requestIdOf(event)), { body: 'ok' });
    expect((await outcome).kind).toBe('response');
  });

  it('passes the caller-given ARN, trace id and optional headers', async ({ api }) => {
    const outcome = invoke(api, '{}', {
      functionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:greeter:live',
      traceId: 'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1',
      clientContext: '{"custom":{"a":1}}',
      cognitoIdentity: '{"cognitoIdentityId":"id","cognitoIdentityPoolId":"pool"}',
      tenantId: 'tenant-7',
    });
    const event = await next(api);

    expect(event.headers['lambda-runtime-invoked-function-arn']).toBe(
      'arn:aws:lambda:eu-west-1:123456789012:function:greeter:live',
    );
    expect(event.headers['lambda-runtime-trace-id']).toBe(
      'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1',
    );
    expect(event.headers['lambda-runtime-client-context']).toBe('{"custom":{"a":1}}');
    expect(event.headers['lambda-runtime-cognito-identity']).toBe(
      '{"cognitoIdentityId":"id","cognitoIdentityPoolId":"pool"}',
    );
    expect(event.headers['lambda-runtime-aws-tenant-id']).toBe('tenant-7');

    await call(api, 'POST', responsePath(requestIdOf(event)), { body: '{}' });
    await outcome;
  });

  it('blocks until an event is queued and emits "next" when it arrives', async ({ api }) => {
    const { answer: pending, arrival } = await parkNext(api);
    expect(arrival).toEqual({ at: expect.any(Number), monotonicMs: expect.any(Number) });

    const outcome = invoke(api, '"late event"');
    const event = await pending;
    expect(event.body.toString()).toBe('"late event"');
    expect(api.nextWaiting()).toBe(false);

    await call(api, 'POST', responsePath(requestIdOf(event)), { body: 'done' });
    expect(await outcome).toMatchObject({ kind: 'response', body: Buffer.from('done') });
  });

  it.for<[string, (api: LocalRuntimeApi) => Promise<void>]>([
    [
      'the runtime hangs up while waiting',
      async (api) => {
        const controller = new AbortController();
        const { answer: abandoned } = await parkNext(api, { signal: controller.signal });
        controller.abort();
        await expect(abandoned).rejects.toThrow();
      },
    ],
    [
      'a runtime that pipelined two /next hangs up',
      async (api) => {
        // The second /next waits on the connection behind the first, unanswered one: it has no socket yet.
        let arrived = 0;
        const bothParked = new Promise<void>((resolve) =>
          api.on('next', () => {
            arrived += 1;
            if (arrived === 2) resolve();
          }),
        );
        const [host, port] = api.address.split(':');
        const runtime = connect(Number(port), host);
        runtime.on('error', () => undefined);
        runtime.write(`GET ${NEXT} HTTP/1.1\r\nHost: ${api.address}\r\n\r\n`.repeat(2));
        await bothParked;
        runtime.destroy();
      },
    ],
  ])('keeps the event queued when %s', async ([, hangUp], { api }) => {
    await hangUp(api);
    await untilNoNextWaiting(api);

    const outcome = invoke(api, '"kept"');
    const event = await next(api);
    expect(event.body.toString()).toBe('"kept"');
    await call(api, 'POST', responsePath(requestIdOf(event)), { body: 'ok' });
    expect((await outcome).kind).toBe('response');
  });

  it('serves queued invocations one at a time, oldest first', async ({ api }) => {
    const outcomes = [invoke(api, '"first"'), invoke(api, '"second"'), invoke(api, '"third"')];

    const first = await next(api);
    expect(first.body.toString()).toBe('"first"');
    // A second /next while "first" is unanswered waits: the runtime gets one invocation at a time.
    const { answer: secondPending } = await parkNext(api);
    await call(api, 'POST', responsePath(requestIdOf(first)), { body: '1' });
    const second = await secondPending;
    expect(second.body.toString()).toBe('"second"');
    await call(api, 'POST', errorPath(requestIdOf(second)), { body: '{}' });
    const third = await next(api);
    expect(third.body.toString()).toBe('"third"');
    await call(api, 'POST', responsePath(requestIdOf(third)), { body: '3' });

    const settled = await Promise.all(outcomes);
    expect(settled.map((outcome) => outcome.kind)).toEqual(['response', 'error', 'response']);
    expect(settled.map((outcome) => ('requestId' in outcome ? outcome.requestId : ''))).toEqual([
      requestIdOf(first),
      requestIdOf(second),
      requestIdOf(third),
    ]);
  });

  it('answers 405 to a wrong method and 404 to an unknown path, with JSON errors', async ({ api }) => {
    const wrongMethod = await call(api, 'POST', NEXT, { body: '{}' });
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.allow).toBe('GET');
    expect(json(wrongMethod)).toMatchObject({ errorType: 'MethodNotAllowed' });

    const getResponse = await call(api, 'GET', responsePath('x'));
    expect(getResponse.status).toBe(405);
    expect(getResponse.headers.allow).toBe('POST');

    const unknown = await call(api, 'GET', '/2018-06-01/runtime/invocation');
    expect(unknown.status).toBe(404);
    expect(json(unknown)).toMatchObject({ errorType: 'NotFound', errorMessage: expect.any(String) });
    const otherVersion = await call(api, 'GET', '/2020-01-01/runtime/invocation/next');
    expect(otherVersion.status).toBe(404);
  });
});

describe('POST /response', () => {
  it('accepts the answer once, then refuses another with 403; an unknown id gets 400', async ({ api }) => {
    const outcome = invoke(api, '{}');
    const event = await next(api);
    const id = requestIdOf(event);

    const accepted = await call(api, 'POST', responsePath(id), {
      headers: { 'Content-Type': 'text/plain' },
      body: 'hello',
    });
    expect(accepted.status).toBe(202);
    expect(json(accepted)).toEqual({ status: 'OK' });
    expect(await outcome).toEqual({
      kind: 'response',
      requestId: id,
      body: Buffer.from('hello'),
      durationMs: expect.any(Number),
      contentType: 'text/plain',
      streamed: false,
    });

    for (const path of [responsePath(id), errorPath(id)]) {
      const again = await call(api, 'POST', path, { body: 'again' });
      expect(again.status).toBe(403);
      expect(json(again)).toMatchObject({
        errorType: 'InvalidStateTransition',
        errorMessage: expect.any(String),
      });
    }

    const unknown = await call(api, 'POST', responsePath('00000000-0000-4000-8000-000000000000'), {
      body: 'x',
    });
    expect(unknown.status).toBe(400);
    expect(json(unknown)).toMatchObject({ errorType: 'InvalidRequestID', errorMessage: expect.any(String) });
  });

  it('answers 400 for an id that is queued but was never handed to the runtime', async ({ api }) => {
    const outcome = invoke(api, '"in flight"');
    const queued = invoke(api, '"queued"');
    const event = await next(api);
    // The queued invocation's id is not known to the runtime; any other id is simply invalid.
    const wrong = await call(api, 'POST', responsePath('not-the-id'), { body: 'x' });
    expect(wrong.status).toBe(400);
    await call(api, 'POST', responsePath(requestIdOf(event)), { body: 'ok' });
    expect((await outcome).kind).toBe('response');
    const second = await next(api);
    await call(api, 'POST', responsePath(requestIdOf(second)), { body: 'ok' });
    expect((await queued).kind).toBe('response');
  });

  it('accepts a body of exactly the buffered limit', async ({ api }) => {
    const outcome = invoke(api, '{}');
    const event = await next(api);
    const body = Buffer.alloc(MAX_BUFFERED_RESPONSE_BYTES, 'a');
    const answer = await call(api, 'POST', responsePath(requestIdOf(event)), { body });
    expect(answer.status).toBe(202);
    const settled = await outcome;
    expect(settled.kind).toBe('response');
    expect(settled.kind === 'response' && settled.body.length).toBe(MAX_BUFFERED_RESPONSE_BYTES);
  });

  it.for<[string, CallOptions]>([
    ['with Content-Length', { body: Buffer.alloc(MAX_BUFFERED_RESPONSE_BYTES + 1, 'a') }],
    [
      'chunked',
      {
        chunks: [
          Buffer.alloc(4_000_000, 'a'),
          Buffer.alloc(MAX_BUFFERED_RESPONSE_BYTES - 4_000_000 + 1, 'b'),
        ],
      },
    ],
  ])(
    'answers 413 to a body one byte over the limit (%s) and refuses a later /error',
    async ([, send], { api }) => {
      const outcome = invoke(api, '{}');
      const event = await next(api);
      const id = requestIdOf(event);

      const answer = await call(api, 'POST', responsePath(id), send);
      expect(answer.status).toBe(413);
      expect(json(answer)).toMatchObject({
        errorType: 'RequestEntityTooLarge',
        errorMessage: expect.any(String),
      });
      expect(await outcome).toEqual({
        kind: 'too-large',
        requestId: id,
        size: MAX_BUFFERED_RESPONSE_BYTES + 1,
      });

      const lateError = await call(api, 'POST', errorPath(id), {
        headers: { 'Lambda-Runtime-Function-Error-Type': 'Function.ResponseSizeTooLarge' },
        body: '{}',
      });
      expect(lateError.status).toBe(403);
      expect(json(lateError)).toMatchObject({ errorType: 'InvalidStateTransition' });
    },
  );

  it('takes a streaming-mode response as one buffered body', async ({ api }) => {
    const outcome = invoke(api, '{}');
    const event = await next(api);
    const answer = await call(api, 'POST', responsePath(requestIdOf(event)), {
      headers: { 'Lambda-Runtime-Function-Response-Mode': 'streaming', 'Content-Type': 'text/plain' },
      chunks: [Buffer.from('part one, '), Buffer.from('part two')],
    });
    expect(answer.status).toBe(202);
    expect(await outcome).toMatchObject({
      kind: 'response',
      body: Buffer.from('part one, part two'),
      streamed: true,
      contentType: 'text/plain',
    });
  });

  it('turns a streamed error sent in trailers into an error outcome', async ({ api }) => {
    const outcome = invoke(api, '{}');
    const event = await next(api);
    const errorBody = { errorType: 'Function.Broke', errorMessage: 'after the first byte', stackTrace: [] };
    const answer = await call(api, 'POST', responsePath(requestIdOf(event)), {
      headers: {
        'Lambda-Runtime-Function-Response-Mode': 'streaming',
        Trailer: 'Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body',
      },
      chunks: [Buffer.from('partial')],
      trailers: {
        'Lambda-Runtime-Function-Error-Type': 'Function.Broke',
        'Lambda-Runtime-Function-Error-Body': Buffer.from(JSON.stringify(errorBody)).toString('base64'),
      },
    });
    expect(answer.status).toBe(202);
    expect(await outcome).toMatchObject({ kind: 'error', errorType: 'Function.Broke', payload: errorBody });
  });
});

describe('POST /error', () => {
  it.for<[string, Record<string, string>, string]>([
    [
      'a Category.Reason type',
      { 'Lambda-Runtime-Function-Error-Type': 'Function.Crashed' },
      'Function.Crashed',
    ],
    [
      'any other string, unchanged',
      { 'Lambda-Runtime-Function-Error-Type': 'oops happened' },
      'oops happened',
    ],
    ['no header', {}, 'Runtime.Unknown'],
  ])('records the error type given as %s', async ([, headers, errorType], { api }) => {
    const outcome = invoke(api, '{}');
    const event = await next(api);
    const id = requestIdOf(event);
    const payload = { errorMessage: 'boom', errorType: 'Error', stackTrace: ['at handler'] };
    const answer = await call(api, 'POST', errorPath(id), {
      headers: { ...headers, 'Content-Type': 'application/vnd.aws.lambda.error+json' },
      body: JSON.stringify(payload),
    });
    expect(answer.status).toBe(202);
    expect(json(answer)).toEqual({ status: 'OK' });
    expect(await outcome).toEqual({
      kind: 'error',
      requestId: id,
      errorType,
      body: Buffer.from(JSON.stringify(payload)),
      payload,
      durationMs: expect.any(Number),
    });
  });

  it('gives payload undefined for a body that is not JSON, and 403/400 like /response', async ({ api }) => {
    const outcome = invoke(api, '{}');
    const event = await next(api);
    const id = requestIdOf(event);
    await call(api, 'POST', errorPath(id), { body: 'not json' });
    expect(await outcome).toMatchObject({ kind: 'error', body: Buffer.from('not json'), payload: undefined });

    expect((await call(api, 'POST', errorPath(id), { body: '{}' })).status).toBe(403);
    expect((await call(api, 'POST', responsePath(id), { body: '{}' })).status).toBe(403);
    const unknown = await call(api, 'POST', errorPath('unknown-id'), { body: '{}' });
    expect(unknown.status).toBe(400);
    expect(json(unknown)).toMatchObject({ errorType: 'InvalidRequestID' });
  });
});

describe('POST /init/error', () => {
  const initError = {
    errorMessage: 'Cannot find handler',
    errorType: 'Runtime.HandlerNotFound',
    stackTrace: [],
  };
  const postInitError = (api: LocalRuntimeApi) =>
    call(api, 'POST', INIT_ERROR, {
      headers: { 'Lambda-Runtime-Function-Error-Type': 'Runtime.HandlerNotFound' },
      body: JSON.stringify(initError),
    });
  const expectedOutcome: InvocationOutcome = {
    kind: 'init-error',
    errorType: 'Runtime.HandlerNotFound',
    body: Buffer.from(JSON.stringify(initError)),
    payload: initError,
  };

  it('serves the init error to the waiting invoke and every later one until the runtime exits', async ({
    api,
  }) => {
    const waiting = invoke(api, '{}');
    const answer = await postInitError(api);
    expect(answer.status).toBe(202);
    expect(json(answer)).toEqual({ status: 'OK' });
    expect(await waiting).toEqual(expectedOutcome);
    expect(await invoke(api, '{}')).toEqual(expectedOutcome);

    const second = await postInitError(api);
    expect(second.status).toBe(403);
    expect(json(second)).toMatchObject({ errorType: 'InvalidStateTransition' });
    const nextAfterInitError = await next(api);
    expect(nextAfterInitError.status).toBe(403);
    expect(json(nextAfterInitError)).toMatchObject({ errorType: 'InvalidStateTransition' });

    // A new runtime starts afresh: it may fail its init again, or serve invocations.
    api.runtimeExited(1, null);
    const outcome = invoke(api, '"after restart"');
    const event = await next(api);
    expect(event.body.toString()).toBe('"after restart"');
    await call(api, 'POST', responsePath(requestIdOf(event)), { body: 'fine' });
    expect((await outcome).kind).toBe('response');
  });

  it('serves the init error to an invoke made after it', async ({ api }) => {
    expect((await postInitError(api)).status).toBe(202);
    expect(await invoke(api, '{}')).toEqual(expectedOutcome);
  });

  it('answers 403 to an init error after the first /next', async ({ api }) => {
    const { answer: waiting } = await parkNext(api);
    const answer = await postInitError(api);
    expect(answer.status).toBe(403);
    expect(json(answer)).toMatchObject({ errorType: 'InvalidStateTransition' });
    const outcome = invoke(api, '{}');
    const event = await waiting;
    await call(api, 'POST', responsePath(requestIdOf(event)), { body: 'ok' });
    expect((await outcome).kind).toBe('response');
  });
});

describe('timeouts and runtime exits', () => {
  it('times out an unanswered invocation, emits "timeout" and refuses a late answer', async ({ api }) => {
    const timeoutEvent = once(api, 'timeout');
    const outcome = invoke(api, '{}', { timeoutMs: 50 });
    const event = await next(api);
    const id = requestIdOf(event);

    expect(await outcome).toEqual({ kind: 'timeout', requestId: id, durationMs: expect.any(Number) });
    expect(await timeoutEvent).toEqual([{ requestId: id }]);
    const late = await call(api, 'POST', responsePath(id), { body: 'too late' });
    expect(late.status).toBe(403);
    expect(json(late)).toMatchObject({ errorType: 'InvalidStateTransition' });
  });

  it('sends nothing more to a timed-out runtime; the restarted one gets the queued event', async ({
    api,
  }) => {
    const timedOut = invoke(api, '"slow"', { timeoutMs: 50 });
    await next(api);
    expect((await timedOut).kind).toBe('timeout');

    const queued = invoke(api, '"queued"');
    const { answer: stuck } = await parkNext(api);
    const stuckNext = stuck.catch(() => undefined);
    // The owner kills the stuck runtime and says so; its parked /next is dropped, not served.
    api.runtimeExited(null, 'SIGKILL');
    expect(await stuckNext).toBeUndefined();

    const event = await next(api);
    expect(event.body.toString()).toBe('"queued"');
    await call(api, 'POST', responsePath(requestIdOf(event)), { body: 'ok' });
    expect((await queued).kind).toBe('response');
  });

  it('resolves the invocation in flight as runtime-exit when the runtime dies', async ({ api }) => {
    const outcome = invoke(api, '{}');
    const event = await next(api);
    const id = requestIdOf(event);
    api.runtimeExited(2, null);
    expect(await outcome).toEqual({
      kind: 'runtime-exit',
      requestId: id,
      exitCode: 2,
      signal: null,
      durationMs: expect.any(Number),
    });
    expect((await call(api, 'POST', responsePath(id), { body: 'x' })).status).toBe(403);

    // The next runtime is a fresh init: an init error is accepted again.
    expect((await call(api, 'POST', INIT_ERROR, { body: '{}' })).status).toBe(202);
  });

  it('fails the invoke waiting on an init that crashed before its first /next', async ({ api }) => {
    const waiting = invoke(api, '{}');
    const queuedBehind = invoke(api, '"for the next runtime"');
    api.runtimeExited(127, null);
    expect(await waiting).toMatchObject({ kind: 'runtime-exit', exitCode: 127, signal: null });

    const event = await next(api);
    expect(event.body.toString()).toBe('"for the next runtime"');
    await call(api, 'POST', responsePath(requestIdOf(event)), { body: 'ok' });
    expect((await queuedBehind).kind).toBe('response');
  });

  it('resolves pending invokes as runtime-exit on close and refuses invokes afterwards', async ({ api }) => {
    const inFlight = invoke(api, '"one"');
    const queued = invoke(api, '"two"');
    const event = await next(api);
    // Close must also finish with a /next parked, an answer half sent and a connection that sent nothing.
    const { answer: parked } = await parkNext(api);
    const halfSent = request({
      host: '127.0.0.1',
      port: Number(api.address.split(':')[1]),
      method: 'POST',
      path: responsePath(requestIdOf(event)),
      headers: { 'Content-Length': '10' },
    });
    halfSent.on('error', () => undefined);
    halfSent.write('abc');
    const [host, port] = api.address.split(':');
    const silent = connect(Number(port), host);
    silent.on('error', () => undefined);
    await once(silent, 'connect');

    await api.close();
    expect(await inFlight).toMatchObject({ kind: 'runtime-exit', exitCode: null, signal: null });
    expect(await queued).toMatchObject({ kind: 'runtime-exit', exitCode: null, signal: null });
    await expect(parked).rejects.toThrow();
    await expect(invoke(api, '{}')).rejects.toThrow(/closed/);
    silent.destroy();
  });
});

describe('invoke', () => {
  it('rejects an event at the synchronous payload limit with a RangeError naming it', async ({ api }) => {
    const tooBig = Buffer.alloc(MAX_SYNC_EVENT_BYTES, 'a');
    await expect(invoke(api, tooBig)).rejects.toThrow(RangeError);
    await expect(invoke(api, tooBig)).rejects.toThrow(/6291456 bytes/);
    expect(api.requests).toEqual([]);
  });

  it('accepts an event one byte under the limit', async ({ api }) => {
    const outcome = invoke(api, Buffer.alloc(MAX_SYNC_EVENT_BYTES - 1, 'a'));
    const event = await next(api);
    expect(event.body.length).toBe(MAX_SYNC_EVENT_BYTES - 1);
    await call(api, 'POST', responsePath(requestIdOf(event)), { body: 'ok' });
    expect((await outcome).kind).toBe('response');
  });
});

describe('recorded requests', () => {
  it('records every request in arrival order with its status and body length', async ({ api }) => {
    const outcome = invoke(api, '{"a":1}');
    const event = await next(api);
    const id = requestIdOf(event);
    await call(api, 'POST', responsePath(id), { headers: { 'X-Probe': 'yes' }, body: 'abc' });
    await outcome;
    await call(api, 'GET', '/nowhere');

    expect(api.requests).toEqual([
      {
        method: 'GET',
        path: NEXT,
        headers: expect.any(Object),
        bodyLength: 0,
        status: 200,
        at: expect.any(Number),
      },
      {
        method: 'POST',
        path: responsePath(id),
        headers: expect.objectContaining({ 'x-probe': 'yes', 'content-length': '3' }),
        bodyLength: 3,
        status: 202,
        at: expect.any(Number),
      },
      {
        method: 'GET',
        path: '/nowhere',
        headers: expect.any(Object),
        bodyLength: 0,
        status: 404,
        at: expect.any(Number),
      },
    ]);
  });

  it('shows a parked /next with status 0 until it is answered', async ({ api }) => {
    const { answer: pending } = await parkNext(api);
    expect(api.requests).toMatchObject([{ method: 'GET', path: NEXT, status: 0 }]);
    const outcome = invoke(api, '{}');
    const event = await pending;
    expect(api.requests).toMatchObject([{ method: 'GET', path: NEXT, status: 200 }]);
    await call(api, 'POST', responsePath(requestIdOf(event)), { body: 'ok' });
    await outcome;
  });
});
