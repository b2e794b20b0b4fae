/**
 * Runs one handler process in its own process group: feeds the event, collects stdout against the
 * response limit, forwards stderr, enforces the deadline, and leaves nothing of the handler running.
 */

import { spawn } from 'node:child_process';
import {
  HandlerExitError,
  HandlerSignalError,
  HandlerTimeoutError,
  InternalError,
  type ProcessFailure,
  ResponseTooLargeError,
  ShlambdaError,
  SpawnError,
} from './errors.ts';
import { LineSplitter } from './logger.ts';

/** For 'error' events that must not crash the runtime; shared, so that it keeps nothing reachable. */
export function ignore(): void {}

/** Lambda's buffered response limit, in bytes (LAMBDA_FACTS.md; `/response` answers 413 above it). */
export const RESPONSE_LIMIT_BYTES = 6_291_556;

/** How long to wait for stdout/stderr to reach EOF once the handler's group is dead. Only a process
 *  that escaped the group (setsid) can hold a pipe open that long; its output is then cut off. */
const DRAIN_CAP_MS = 100;

/** The longest delay `setTimeout` takes (2^31 - 1 ms, about 24.8 days). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** How long bytes a process reported as written may take to arrive: they are already in the pipe, so
 *  only a stalled runtime takes long; past this the invocation fails rather than answer part of them. */
const REPORTED_BYTES_CAP_MS = 1000;

export interface StartOptions {
  command: string;
  args: readonly string[];
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** File descriptor of the event file, given to the handler as stdin. */
  stdinFd: number;
  /** Descriptors from 3 on: `'pipe'` makes a socket the runtime keeps, a number is inherited. */
  extraFds?: readonly ('pipe' | number)[];
  /** A `'pipe'` of `extraFds` that carries the response instead of stdout, which is then logged like
   *  stderr (for a shim that cannot point its stdout at stderr itself, as Node's cannot). */
  resultFd?: number;
  responseLimit?: number;
  /** Receives complete stderr lines as they arrive. */
  onStderrLines: (lines: string[]) => void;
}

export interface Deadline {
  /** Epoch ms after which Lambda would kill the whole environment. */
  deadlineMs: number;
  /** SIGTERM goes to the group this long before the deadline... */
  timeoutMarginMs: number;
  /** ...and SIGKILL this long after SIGTERM. */
  killGraceMs: number;
}

export type RunOptions = StartOptions & Deadline;

type RunOutcome =
  /** `stderrTail` is the last lines the process logged, for an answer that turns out to be an error. */
  | { ok: true; chunks: Buffer[]; bytes: number; durationMs: number; stderrTail?: string[] }
  /** `stdout` is kept when the handler exited non-zero: a CGI script may have written a whole response first. */
  | { ok: false; error: Error; stdout?: Buffer[] };

/** `group` is the process group the handler ran in (its main process's pid), when it ran. */
export type RunResult = RunOutcome & { group?: number };

/** Longest message, stack line and stack of a handler's own error that is passed on: what it writes is
 *  posted again as JSON, where each byte of invalid UTF-8 takes three, and Lambda refuses an error
 *  payload over its response limit (after which nothing more can be posted for the invocation). */
const REPORTED_MESSAGE_MAX = 256 * 1024;
const REPORTED_LINE_MAX = 4096;
/** Of a longer stack, its first and last lines are kept: Python and Ruby put the frame that failed
 *  last, Node and PHP first. */
const REPORTED_FIRST_LINES = 20;
const REPORTED_LAST_LINES = 80;

/** A failure the handler reported itself: a non-zero exit with `{"errorType": ...}` on stdout. Its
 *  message and stack are cut to a size that is always posted (the log line says how much was cut). */
export class HandlerReportedError extends ShlambdaError {
  override readonly name: string;
  constructor(errorType: string, message: string, trace: string[]) {
    super(cut(message, REPORTED_MESSAGE_MAX));
    this.name = cut(errorType, REPORTED_LINE_MAX);
    const left = trace.length - REPORTED_FIRST_LINES - REPORTED_LAST_LINES;
    const kept =
      left > 0
        ? [
            ...trace.slice(0, REPORTED_FIRST_LINES),
            `... (${left} more lines)`,
            ...trace.slice(-REPORTED_LAST_LINES),
          ]
        : trace;
    this.trace.push(...kept.map((line) => cut(line, REPORTED_LINE_MAX)));
  }
}

function cut(text: string, most: number): string {
  return text.length <= most ? text : `${text.slice(0, most)}... (${text.length - most} more characters)`;
}

/** A started handler process: its outcome, and the deadline, which may be set after the start. */
export interface HandlerProcess {
  /** Resolves, never rejects: every failure is a `RunResult` error whose class names what went wrong. */
  readonly result: Promise<RunResult>;
  /** The sockets asked for with `'pipe'` in `extraFds`, by descriptor number. */
  readonly sockets: ReadonlyMap<number, NodeJS.ReadWriteStream & { destroy(): void }>;
  /** True once the process has exited (or could not be started). */
  readonly exited: boolean;
  /** Arms the TERM-then-KILL timers; until then the process may wait as long as it likes. */
  setDeadline(deadline: Deadline): void;
  /** Kills the whole group now; `result` then reports the signal. */
  kill(): void;
}

/** Runs the handler to completion under a deadline. */
export function runHandlerProcess(options: RunOptions): Promise<RunResult> {
  const handler = startHandlerProcess(options);
  handler.setDeadline(options);
  return handler.result;
}

/**
 * Starts the handler in a new session (its own process group), collecting stdout against the response
 * limit and forwarding stderr from the first byte. No deadline applies until `setDeadline`.
 */
export function startHandlerProcess(options: StartOptions): HandlerProcess {
  const child = spawn(options.command, options.args, {
    cwd: options.cwd,
    env: options.env,
    stdio: [options.stdinFd, 'pipe', 'pipe', ...(options.extraFds ?? [])],
    // A new session makes the handler the leader of its own process group: one kill reaches its children.
    detached: true,
  });
  const sockets = new Map<number, NodeJS.ReadWriteStream & { destroy(): void }>();
  (options.extraFds ?? []).forEach((fd, index) => {
    const stream = child.stdio[index + 3];
    if (fd === 'pipe' && stream) sockets.set(index + 3, stream as never);
  });
  // No stream at all (a spawn that failed): the result is the spawn error, reported below.
  const resultStream =
    options.resultFd === undefined ? child.stdout : (sockets.get(options.resultFd) ?? null);
  const supervision = superviseHandler({
    stdout: resultStream,
    stderr: child.stderr,
    ...(options.resultFd === undefined ? {} : { alsoLogged: child.stdout }),
    pid: () => child.pid,
    responseLimit: options.responseLimit,
    onStderrLines: options.onStderrLines,
    onSettled: () => {
      for (const socket of sockets.values()) socket.destroy();
    },
  });
  child.on('error', (error) => {
    // Spawn failed (ENOENT, EACCES, E2BIG...): no process, no exit event will follow.
    supervision.failedToStart(
      new SpawnError(
        `Could not start ${options.command}: ${(error as NodeJS.ErrnoException).code ?? error.message}`,
      ),
    );
  });
  // A handler that closes its end early must not crash the runtime with EPIPE.
  for (const socket of sockets.values()) socket.on('error', () => {});
  child.on('exit', (code, signal) => supervision.processExited(code, signal));
  const { handle } = supervision;
  return {
    result: handle.result,
    sockets,
    // A getter, not a copy: a spread would freeze the value it has now.
    get exited() {
      return handle.exited;
    },
    setDeadline: (deadline) => handle.setDeadline(deadline),
    kill: () => handle.kill(),
  };
}

export interface SupervisionOptions {
  stdout: (NodeJS.ReadableStream & { destroy(): void }) | null;
  stderr: (NodeJS.ReadableStream & { destroy(): void }) | null;
  /** Another stream whose lines go to the log as stderr's do (a Node handler's stdout). */
  alsoLogged?: (NodeJS.ReadableStream & { destroy(): void }) | null;
  /** The process (and process group) id, once known. */
  pid: () => number | undefined;
  /** Signals the process group; by default `kill(-pid)`, and nothing while the pid is unknown. */
  killGroup?: (signal: NodeJS.Signals) => void;
  responseLimit?: number | undefined;
  onStderrLines: (lines: string[]) => void;
  /** Called once, when the result is settled. */
  onSettled?: () => void;
  /** The last lines of the process's log, for a failure's `stackTrace`, when they do not come through
   *  `stderr` (a forked PHP process logs through its zygote). */
  logTail?: () => string[];
}

/** Watches a handler process whose output streams the runtime holds, whoever started it. */
export interface Supervision {
  handle: Omit<HandlerProcess, 'sockets'>;
  /**
   * The main process ended: its group is killed and the output drained. With `outputComplete`, nothing
   * more is to come on stdout and stderr (a forked PHP process, whose pipes never close), so the result
   * is settled at once.
   */
  processExited(code: number | null, signal: NodeJS.Signals | null, outputComplete?: boolean): void;
  /**
   * The main process reported its exit status and how many bytes it wrote to stdout: the result is
   * complete once those bytes are in, with no end of file to wait for (PHP's forked processes share
   * copies of their pipes, which never close). Its group is killed as by {@link processExited}.
   */
  processReported(code: number, stdoutBytes: number): void;
  /** There is no process, or it did not run the handler: the result is this error. */
  failedToStart(error: Error): void;
}

/**
 * The supervision every handler process gets: stdout counted against the limit as it arrives, stderr
 * forwarded line by line, the group killed when the main process exits (nothing of an invocation runs
 * on), the TERM-then-KILL timers once a deadline is set, and one result naming what happened.
 */
export function superviseHandler(options: SupervisionOptions): Supervision {
  const limit = options.responseLimit ?? RESPONSE_LIMIT_BYTES;
  // Durations count from the deadline being set: a prestarted handler's wait is not its run time.
  let started = performance.now();
  const stderr = new LineSplitter();
  const otherLog = options.alsoLogged ? new LineSplitter() : undefined;
  const chunks: Buffer[] = [];
  let bytes = 0;
  let stopSignal: NodeJS.Signals | undefined;
  let exit: { code: number | null; signal: NodeJS.Signals | null; durationMs: number } | undefined;
  let openStreams = 3;
  /** Set by processReported: stdout is complete at this many bytes. */
  let expectedBytes: number | undefined;
  let settled = false;
  let failed = false;
  const timers: NodeJS.Timeout[] = [];
  let resolveResult: (result: RunResult) => void = () => {};
  const result = new Promise<RunResult>((resolve) => {
    resolveResult = resolve;
  });

  const killGroup = (signal: NodeJS.Signals): void => {
    if (options.killGroup) {
      options.killGroup(signal);
      return;
    }
    const pid = options.pid();
    if (pid === undefined) return;
    try {
      process.kill(-pid, signal);
    } catch {
      // ESRCH: the group is already gone.
    }
  };

  const settle = (outcomeOfRun: RunResult): void => {
    settled = true;
    release();
    for (const timer of timers) clearTimeout(timer);
    options.onSettled?.();
    resolveResult({ ...outcomeOfRun, group: options.pid() });
  };

  const finish = (): void => {
    if (settled || !exit) return;
    options.stdout?.destroy();
    options.stderr?.destroy();
    options.alsoLogged?.destroy();
    options.onStderrLines(stderr.flush());
    if (otherLog) options.onStderrLines(otherLog.flush());
    if (expectedBytes !== undefined && bytes < expectedBytes && !stopSignal) {
      settle({
        ok: false,
        error: new InternalError(
          `the handler reported a ${expectedBytes}-byte response, but only ${bytes} bytes arrived`,
        ),
      });
      return;
    }
    settle(outcome(exit, stopSignal, chunks, bytes, limit, options.logTail?.() ?? stderr.tail()));
  };

  const onStdout = (chunk: Buffer): void => {
    bytes += chunk.length;
    // Past the limit the response is lost anyway: keep counting, stop holding memory.
    if (bytes <= limit) chunks.push(chunk);
    else chunks.length = 0;
    if (expectedBytes !== undefined && bytes >= expectedBytes) finish();
  };
  const onStderr = (chunk: Buffer): void => options.onStderrLines(stderr.push(chunk));
  const onOtherLog = (chunk: Buffer): void => options.onStderrLines(otherLog?.push(chunk) ?? []);
  const onClose = (): void => {
    openStreams--;
    if (openStreams === 0) finish();
  };
  options.stdout?.on('data', onStdout);
  options.stderr?.on('data', onStderr);
  options.alsoLogged?.on('data', onOtherLog);
  for (const stream of [options.stdout, options.stderr, options.alsoLogged]) {
    if (!stream) {
      openStreams--;
      continue;
    }
    stream.on('error', ignore);
    stream.on('close', onClose);
  }
  // The streams can outlive the invocation (a zygote's process holds every set's until it exits): once
  // settled, nothing of this supervision, the response least of all, may stay reachable from them.
  function release(): void {
    options.stdout?.off('data', onStdout);
    options.stderr?.off('data', onStderr);
    options.stdout?.off('close', onClose);
    options.stderr?.off('close', onClose);
    options.alsoLogged?.off('data', onOtherLog);
    options.alsoLogged?.off('close', onClose);
  }

  return {
    handle: {
      result,
      get exited() {
        return exit !== undefined || failed;
      },
      setDeadline(deadline: Deadline): void {
        if (settled) return;
        started = performance.now();
        // Node fires a longer timer at once (with a warning): a deadline weeks away (only an emulator
        // sends one; Lambda's timeout is at most 15 minutes) is then enforced after 24.8 days instead.
        const termInMs = Math.min(
          MAX_TIMER_MS,
          Math.max(0, deadline.deadlineMs - deadline.timeoutMarginMs - Date.now()),
        );
        timers.push(
          setTimeout(() => {
            stopSignal = 'SIGTERM';
            killGroup('SIGTERM');
            timers.push(
              setTimeout(() => {
                stopSignal = 'SIGKILL';
                killGroup('SIGKILL');
              }, deadline.killGraceMs),
            );
          }, termInMs),
        );
      },
      kill(): void {
        killGroup('SIGKILL');
      },
    },
    processExited(code, signal, outputComplete = false): void {
      if (exit || settled) return;
      exit = { code, signal, durationMs: Math.round(performance.now() - started) };
      // The main process is done: whatever it left behind in its group goes now, so that nothing of
      // this invocation runs on and the pipes it holds reach EOF.
      killGroup('SIGKILL');
      if (openStreams === 0 || outputComplete) finish();
      else timers.push(setTimeout(finish, DRAIN_CAP_MS));
    },
    processReported(code, stdoutBytes): void {
      if (exit || settled) return;
      exit = { code, signal: null, durationMs: Math.round(performance.now() - started) };
      expectedBytes = stdoutBytes;
      killGroup('SIGKILL');
      if (bytes >= stdoutBytes) finish();
      else timers.push(setTimeout(finish, REPORTED_BYTES_CAP_MS));
    },
    failedToStart(error): void {
      if (settled) return;
      failed = true;
      options.stdout?.destroy();
      options.stderr?.destroy();
      options.alsoLogged?.destroy();
      settle({ ok: false, error });
    },
  };
}

function outcome(
  exit: { code: number | null; signal: NodeJS.Signals | null; durationMs: number },
  stopSignal: NodeJS.Signals | undefined,
  chunks: Buffer[],
  bytes: number,
  limit: number,
  stderrTail: string[],
): RunResult {
  const failure: ProcessFailure = {
    exitCode: exit.code,
    signal: exit.signal,
    durationMs: exit.durationMs,
    stderrTail,
  };
  if (stopSignal) return { ok: false, error: new HandlerTimeoutError(failure, stopSignal) };
  if (bytes > limit) return { ok: false, error: new ResponseTooLargeError(bytes, limit, failure) };
  if (exit.signal) return { ok: false, error: new HandlerSignalError(failure) };
  if (exit.code !== 0) {
    const error = reportedError(chunks, bytes, stderrTail) ?? new HandlerExitError(failure);
    return { ok: false, error, stdout: chunks };
  }
  return { ok: true, chunks, bytes, durationMs: exit.durationMs, stderrTail };
}

/**
 * The result of a function-mode shim that was handed its invocation. Those shims answer at least `null`,
 * so a clean exit with nothing on stdout means the function ended its process (`sys.exit(0)`, `exit`,
 * `process.exit()`) before it returned, or, far more rarely, that code the file started while loading
 * ended it before it took the invocation.
 */
export function requireAnswer(result: RunResult): RunResult {
  if (!result.ok || result.bytes > 0) return result;
  const failure = {
    exitCode: 0,
    signal: null,
    durationMs: result.durationMs,
    stderrTail: result.stderrTail ?? [],
  };
  return {
    ok: false,
    error: new HandlerExitError(
      failure,
      'without an answer: in function mode the response is what the function returns, so return a value instead of exiting',
    ),
    group: result.group,
  };
}

/** The documented way for a script to choose its error: exit non-zero with a JSON object on stdout. */
function reportedError(
  chunks: Buffer[],
  bytes: number,
  stderrTail: string[],
): HandlerReportedError | undefined {
  // Whatever its size (it is within the response limit, or this is not reached): a shim reports an
  // exception with a message of megabytes this way too, and its type must not be lost (the message is
  // cut, see HandlerReportedError).
  if (bytes === 0 || chunks[0]?.[0] !== 0x7b /* { */) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const { errorType, errorMessage, stackTrace } = parsed as Record<string, unknown>;
  if (typeof errorType !== 'string' || errorType === '') return undefined;
  const trace = Array.isArray(stackTrace) ? stackTrace.map(String) : stderrTail;
  return new HandlerReportedError(errorType, typeof errorMessage === 'string' ? errorMessage : '', trace);
}
