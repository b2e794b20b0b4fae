/**
 * The built bootstrap as a black box against a Runtime API that misbehaves on purpose: what goes over
 * the wire, and what the runtime does when Lambda answers 500, 413 or 403 or is not there yet.
 * https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html
 */

import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { descendants, type ErrorPayload, writeCode } from '../helpers/function-dir.ts';
import {
  eventHeaders,
  isInitError,
  isNext,
  isPost,
  NEXT_PATH,
  type ScriptedRequest,
  ScriptedRuntimeApi,
} from '../helpers/scripted-runtime-api.ts';

const ERROR_CONTENT_TYPE = 'application/vnd.aws.lambda.error+json';
const ACCEPTED = '{"status":"OK"}';

/** Echoes the event, or fails when the event says so. */
const ECHO_OR_FAIL = `
handler() {
  case "$1" in
    fail) echo 'failing on purpose' >&2; exit 3 ;;
    *) printf 'echo:%s' "$1" ;;
  esac
}
`;

/**
 * Events \`a\` and \`b\` each wait for the other through files in $RENDEZVOUS_DIR: both can only answer
 * if they run at the same time. The wait is bounded so that a runtime that serialises them fails
 * instead of hanging.
 */
const RENDEZVOUS = `
handler() {
  local me=$1 other tries=0
  case "$me" in
    a) other=b ;;
    b) other=a ;;
    *) exit 2 ;;
  esac
  echo "$me is waiting for $other" >&2
  : > "$RENDEZVOUS_DIR/$me"
  until [ -e "$RENDEZVOUS_DIR/$other" ]; do
    tries=$((tries + 1))
    if [ "$tries" -gt 2000 ]; then echo "$other never came" >&2; exit 1; fi
    sleep 0.01
  done
  printf '%s met %s' "$me" "$other"
}
`;

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** The layer's bootstrap running as a process of its own, with everything it printed. */
interface Runtime {
  child: ChildProcess;
  /** stdout and stderr so far. */
  output(): string;
  /** Settles when the process has exited and its output is complete. */
  exited: Promise<Exit>;
  /** The first output line matching, now or when it is printed. */
  line(match: RegExp): Promise<string>;
  /** `promise`, or a rejection with the output if the runtime exits first (so a failure says why). */
  before<T>(promise: Promise<T>): Promise<T>;
}

const runtimes: Runtime[] = [];
const apis: ScriptedRuntimeApi[] = [];
const tempDirs: string[] = [];

afterEach(async () => {
  for (const runtime of runtimes.splice(0)) {
    const pid = runtime.child.pid;
    if (pid !== undefined) {
      // Handlers run in process groups of their own: reach them by pid before the runtime's group.
      const handlers = isRunning(runtime) ? descendants(pid).slice(1) : [];
      for (const target of [...handlers.reverse(), -pid]) {
        try {
          process.kill(target, 'SIGKILL');
        } catch {
          // Already gone.
        }
      }
    }
    await runtime.exited;
  }
  await Promise.all(apis.splice(0).map((api) => api.close()));
  for (const dir of tempDirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

async function api(options: Parameters<typeof ScriptedRuntimeApi.listen>[0] = {}) {
  const a = await ScriptedRuntimeApi.listen(options);
  apis.push(a);
  return a;
}

function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shlambda-protocol-'));
  tempDirs.push(dir);
  return dir;
}

/**
 * Starts the built bootstrap with a minimal Lambda environment; `env` entries override it, and an
 * `undefined` entry removes the variable.
 */
function startRuntime(env: Record<string, string | undefined>, functionSh = ECHO_OR_FAIL): Runtime {
  const taskRoot = writeCode({ 'function.sh': functionSh });
  tempDirs.push(taskRoot);
  const fullEnv: Record<string, string> = {};
  for (const [name, value] of Object.entries({
    PATH: process.env.PATH,
    _HANDLER: 'function.handler',
    LAMBDA_TASK_ROOT: taskRoot,
    ...env,
  })) {
    if (value !== undefined) fullEnv[name] = value;
  }
  const child = spawn(path.join(inject('layerDir'), 'bootstrap'), [], {
    env: fullEnv,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  const lineWaiters: { match: RegExp; resolve: (line: string) => void }[] = [];
  const findLine = (match: RegExp) => text.split('\n').find((l) => match.test(l));
  const onData = (chunk: Buffer) => {
    text += chunk.toString('utf8');
    for (const waiter of [...lineWaiters]) {
      const line = findLine(waiter.match);
      if (line !== undefined) {
        lineWaiters.splice(lineWaiters.indexOf(waiter), 1);
        waiter.resolve(line);
      }
    }
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  const exited = new Promise<Exit>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal })),
  );
  const runtime: Runtime = {
    child,
    output: () => text,
    exited,
    line(match) {
      const line = findLine(match);
      if (line !== undefined) return Promise.resolve(line);
      return new Promise((resolve) => lineWaiters.push({ match, resolve }));
    },
    before(promise) {
      return Promise.race([
        promise,
        exited.then((exit) => {
          throw new Error(`the runtime exited (${JSON.stringify(exit)}) first; it printed:\n${text}`);
        }),
      ]);
    },
  };
  runtimes.push(runtime);
  return runtime;
}

function isRunning(runtime: Runtime): boolean {
  return runtime.child.exitCode === null && runtime.child.signalCode === null;
}

/** Checks an `/error` or `/init/error` post the way Lambda reads it, and returns its payload. */
function errorPayload(post: ScriptedRequest): ErrorPayload {
  const payload = JSON.parse(post.body.toString('utf8'));
  expect(post.headers['content-type']).toBe(ERROR_CONTENT_TYPE);
  expect(post.headers['lambda-runtime-function-error-type']).toBe(payload.errorType);
  expect(Array.isArray(payload.stackTrace)).toBe(true);
  return payload;
}

describe('what the runtime sends', () => {
  it('names itself, URL-encodes the request id and posts the response body as the handler wrote it', async () => {
    const lambda = await api();
    const runtime = startRuntime({ AWS_LAMBDA_RUNTIME_API: lambda.address });
    const id = 'a/b c+d';
    await runtime.before(lambda.sendEvent(id, 'hi'));
    const post = await runtime.before(lambda.take());
    expect(post.method).toBe('POST');
    expect(post.url).toBe('/2018-06-01/runtime/invocation/a%2Fb%20c%2Bd/response');
    expect(post.body.toString()).toBe('echo:hi');
    post.answer(202, ACCEPTED);
    const next = await runtime.before(lambda.take());
    expect(next.url).toBe(NEXT_PATH);
    for (const request of lambda.requests) expect(request.headers['user-agent']).toMatch(/^shlambda\//);
  });

  it('posts a failed invocation to /error with the error type in the header and the body', async () => {
    const lambda = await api();
    const runtime = startRuntime({ AWS_LAMBDA_RUNTIME_API: lambda.address });
    await runtime.before(lambda.sendEvent('fails', 'fail'));
    const post = await runtime.before(lambda.take());
    expect(post.method).toBe('POST');
    expect(post.url).toBe('/2018-06-01/runtime/invocation/fails/error');
    expect(post.headers['user-agent']).toMatch(/^shlambda\//);
    const payload = errorPayload(post);
    expect(payload.errorType).toBe('Function.ExitError');
    expect(payload.stackTrace).toContain('failing on purpose');
    post.answer(202, ACCEPTED);
    expect((await runtime.before(lambda.take())).url).toBe(NEXT_PATH);
  });

  it('posts a handler naming a missing function to /init/error, then exits non-zero', async () => {
    const lambda = await api();
    const runtime = startRuntime({ AWS_LAMBDA_RUNTIME_API: lambda.address, _HANDLER: 'function.missing' });
    const post = await lambda.take();
    expect(isInitError(post)).toBe(true);
    expect(post.headers['user-agent']).toMatch(/^shlambda\//);
    const payload = errorPayload(post);
    expect(payload.errorType).toBe('Runtime.HandlerFunctionNotFound');
    expect(payload.errorMessage).toContain('missing');
    post.answer(202, ACCEPTED);
    const exit = await runtime.exited;
    expect(exit.signal).toBeNull();
    expect(exit.code).not.toBe(0);
    await lambda.idle();
    expect(lambda.requests.filter(isNext)).toEqual([]);
  });

  it('keeps its connection alive across invocations', async () => {
    const lambda = await api();
    const runtime = startRuntime({ AWS_LAMBDA_RUNTIME_API: lambda.address });
    for (let n = 1; n <= 5; n++) {
      await runtime.before(lambda.sendEvent(`keep-alive-${n}`, `${n}`));
      const post = await runtime.before(lambda.take(isPost('response', `keep-alive-${n}`)));
      expect(post.body.toString()).toBe(`echo:${n}`);
      post.answer(202, ACCEPTED);
    }
    await runtime.before(lambda.take(isNext));
    expect(lambda.requests).toHaveLength(11);
    expect(new Set(lambda.requests.map((r) => r.socket)).size).toBeLessThanOrEqual(2);
  });
});

describe('when the Runtime API misbehaves', () => {
  it('retries GET /next until the Runtime API is reachable, then serves the invocation', async () => {
    const port = await ScriptedRuntimeApi.freePort();
    const runtime = startRuntime({
      AWS_LAMBDA_RUNTIME_API: `127.0.0.1:${port}`,
      AWS_LAMBDA_LOG_LEVEL: 'DEBUG',
    });
    // Its last init message: from here on it asks for work, and nothing listens yet.
    await runtime.before(runtime.line(/\bDEBUG\b/));
    // When something does listen, it first drops the connection: a retry is certain to be needed.
    const lambda = await api({ port, dropFirstConnections: 1 });
    await runtime.before(lambda.sendEvent('late-api', 'hello'));
    const post = await runtime.before(lambda.take());
    expect(post.url).toBe('/2018-06-01/runtime/invocation/late-api/response');
    expect(post.body.toString()).toBe('echo:hello');
    expect(lambda.droppedConnections).toBe(1);
    post.answer(202, ACCEPTED);
  });

  it('exits non-zero, asking nothing more, when GET /next answers 500', async () => {
    const lambda = await api();
    const runtime = startRuntime({ AWS_LAMBDA_RUNTIME_API: lambda.address });
    const next = await runtime.before(lambda.take());
    next.answer(500, '{"errorMessage":"internal failure","errorType":"ServiceException"}');
    const exit = await runtime.exited;
    expect(exit.signal).toBeNull();
    expect(exit.code).not.toBe(0);
    await lambda.idle();
    expect(lambda.requests).toEqual([next]);
    expect(runtime.output()).toContain('500');
  });

  it('exits non-zero, without posting /error, when POST /response answers 500', async () => {
    const lambda = await api();
    const runtime = startRuntime({ AWS_LAMBDA_RUNTIME_API: lambda.address });
    await runtime.before(lambda.sendEvent('response-500', 'x'));
    const post = await runtime.before(lambda.take());
    expect(isPost('response', 'response-500')(post)).toBe(true);
    post.answer(500, '{"errorMessage":"internal failure","errorType":"ServiceException"}');
    const exit = await runtime.exited;
    expect(exit.signal).toBeNull();
    expect(exit.code).not.toBe(0);
    await lambda.idle();
    expect(lambda.requests).toHaveLength(2);
  });

  it('after a 413 on /response posts no /error for that request and asks for the next event', async () => {
    const lambda = await api();
    const runtime = startRuntime({ AWS_LAMBDA_RUNTIME_API: lambda.address });
    await runtime.before(lambda.sendEvent('refused-413', 'small'));
    const post = await runtime.before(lambda.take());
    expect(isPost('response', 'refused-413')(post)).toBe(true);
    post.answer(
      413,
      '{"errorMessage":"Exceeded maximum allowed payload size (6291556 bytes).","errorType":"RequestEntityTooLarge"}',
    );
    // The runtime is sequential: an /error for `refused-413` would come before this.
    const next = await runtime.before(lambda.take());
    expect(next.url).toBe(NEXT_PATH);
    next.answer(200, 'later', eventHeaders('after-413'));
    const later = await runtime.before(lambda.take());
    expect(isPost('response', 'after-413')(later)).toBe(true);
    expect(later.body.toString()).toBe('echo:later');
    later.answer(202, ACCEPTED);
    expect(lambda.requests.filter(isPost('error', 'refused-413'))).toEqual([]);
    expect(await runtime.before(runtime.line(/refused-413/))).toMatch(/\bERROR\b/);
  });

  it('after a 403 on /response (already answered) logs it and asks for the next event', async () => {
    const lambda = await api();
    const runtime = startRuntime({ AWS_LAMBDA_RUNTIME_API: lambda.address });
    await runtime.before(lambda.sendEvent('answered-twice', 'once'));
    const post = await runtime.before(lambda.take());
    expect(isPost('response', 'answered-twice')(post)).toBe(true);
    post.answer(
      403,
      '{"errorMessage":"Invalid state transition: already answered","errorType":"InvalidStateTransition"}',
    );
    const next = await runtime.before(lambda.take());
    expect(next.url).toBe(NEXT_PATH);
    expect(lambda.requests.filter(isPost('error', 'answered-twice'))).toEqual([]);
    expect(await runtime.before(runtime.line(/\banswered-twice\b/))).toMatch(/\bWARN\b/);
    next.answer(200, 'again', eventHeaders('after-403'));
    const later = await runtime.before(lambda.take());
    expect(isPost('response', 'after-403')(later)).toBe(true);
    later.answer(202, ACCEPTED);
  });
});

describe('AWS_LAMBDA_MAX_CONCURRENCY (Lambda Managed Instances)', () => {
  it('keeps two GET /next in flight, runs two invocations at once, and logs JSON lines', async () => {
    const lambda = await api();
    const rendezvous = tempDir();
    const runtime = startRuntime(
      { AWS_LAMBDA_RUNTIME_API: lambda.address, AWS_LAMBDA_MAX_CONCURRENCY: '2', RENDEZVOUS_DIR: rendezvous },
      RENDEZVOUS,
    );
    // Neither is answered before both have arrived.
    const first = await runtime.before(lambda.take());
    const second = await runtime.before(lambda.take());
    expect([first.url, second.url]).toEqual([NEXT_PATH, NEXT_PATH]);
    first.answer(200, 'a', eventHeaders('req-a'));
    second.answer(200, 'b', eventHeaders('req-b'));

    const [a, b] = await runtime.before(
      Promise.all([lambda.take(isPost('response', 'req-a')), lambda.take(isPost('response', 'req-b'))]),
    );
    expect(a.body.toString()).toBe('a met b');
    expect(b.body.toString()).toBe('b met a');
    a.answer(202, ACCEPTED);
    b.answer(202, ACCEPTED);
    // Both slots ask again.
    await runtime.before(Promise.all([lambda.take(isNext), lambda.take(isNext)]));
    expect(lambda.requests.filter((r) => r.url.endsWith('/error'))).toEqual([]);

    await runtime.before(
      Promise.all([runtime.line(/a is waiting for b/), runtime.line(/b is waiting for a/)]),
    );
    const lines = runtime
      .output()
      .split('\n')
      .filter((l) => l.trim() !== '');
    expect(lines.length).toBeGreaterThanOrEqual(2);
    for (const line of lines) {
      expect(line.startsWith('{'), line).toBe(true);
      expect(JSON.parse(line)).toMatchObject({ level: expect.any(String), message: expect.any(String) });
    }
    const records = lines.map((l) => JSON.parse(l));
    expect(records).toContainEqual(
      expect.objectContaining({ requestId: 'req-a', message: 'a is waiting for b' }),
    );
    expect(records).toContainEqual(
      expect.objectContaining({ requestId: 'req-b', message: 'b is waiting for a' }),
    );
  });
});

describe('configuration errors', () => {
  it('exits non-zero and names AWS_LAMBDA_RUNTIME_API when it is missing', async () => {
    const runtime = startRuntime({});
    const exit = await runtime.exited;
    expect(exit.signal).toBeNull();
    expect(exit.code).not.toBe(0);
    expect(runtime.output()).toContain('AWS_LAMBDA_RUNTIME_API');
  });

  it('posts Runtime.InvalidConfig naming LAMBDA_TASK_ROOT to /init/error when it is missing', async () => {
    const lambda = await api();
    const runtime = startRuntime({ AWS_LAMBDA_RUNTIME_API: lambda.address, LAMBDA_TASK_ROOT: undefined });
    const post = await lambda.take();
    expect(isInitError(post)).toBe(true);
    const payload = errorPayload(post);
    expect(payload.errorType).toBe('Runtime.InvalidConfig');
    expect(payload.errorMessage).toContain('LAMBDA_TASK_ROOT');
    post.answer(202, ACCEPTED);
    const exit = await runtime.exited;
    expect(exit.code).not.toBe(0);
  });

  it('with an unwritable SHLAMBDA_TMPDIR fails each invocation with Runtime.InternalError and keeps serving', async () => {
    const lambda = await api();
    const runtime = startRuntime({
      AWS_LAMBDA_RUNTIME_API: lambda.address,
      SHLAMBDA_TMPDIR: '/nonexistent/dir',
    });
    for (const id of ['no-tmp-1', 'no-tmp-2']) {
      await runtime.before(lambda.sendEvent(id, 'x'));
      const post = await runtime.before(lambda.take());
      expect(isPost('error', id)(post)).toBe(true);
      const payload = errorPayload(post);
      expect(payload.errorType).toBe('Runtime.InternalError');
      expect(payload.errorMessage).toContain('/nonexistent/dir');
      post.answer(202, ACCEPTED);
    }
    const third = await runtime.before(lambda.take());
    expect(third.url).toBe(NEXT_PATH);
    expect(isRunning(runtime)).toBe(true);
  });
});
