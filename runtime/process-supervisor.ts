/**
 * Runs one handler process in its own process group: feeds the event, collects stdout against the
 * response limit, forwards stderr, enforces the deadline, and leaves nothing of the handler running.
 */

import { spawn } from 'node:child_process';
import {
  HandlerExitError,
  HandlerSignalError,
  HandlerTimeoutError,
  type ProcessFailure,
  ResponseTooLargeError,
  ShlambdaError,
  SpawnError,
} from './errors.ts';
import { LineSplitter } from './logger.ts';

/** Lambda's buffered response limit, in bytes (LAMBDA_FACTS.md; `/response` answers 413 above it). */
export const RESPONSE_LIMIT_BYTES = 6_291_556;

/** How long to wait for stdout/stderr to reach EOF once the handler's group is dead. Only a process
 *  that escaped the group (setsid) can hold a pipe open that long; its output is then cut off. */
const DRAIN_CAP_MS = 100;

/** Largest stdout, on a failed run, that is read as a handler-chosen error object. */
const ERROR_OBJECT_MAX_BYTES = 256 * 1024;

export interface RunOptions {
  command: string;
  args: readonly string[];
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** File descriptor of the event file, given to the handler as stdin. */
  stdinFd: number;
  /** Epoch ms after which Lambda would kill the whole environment. */
  deadlineMs: number;
  /** SIGTERM goes to the group this long before the deadline... */
  timeoutMarginMs: number;
  /** ...and SIGKILL this long after SIGTERM. */
  killGraceMs: number;
  responseLimit?: number;
  /** Receives complete stderr lines as they arrive. */
  onStderrLines: (lines: string[]) => void;
}

export type RunResult =
  | { ok: true; chunks: Buffer[]; bytes: number; durationMs: number }
  /** `stdout` is kept when the handler exited non-zero: a CGI script may have written a whole response first. */
  | { ok: false; error: Error; stdout?: Buffer[] };

/** A failure the handler reported itself: a non-zero exit with `{"errorType": ...}` on stdout. */
export class HandlerReportedError extends ShlambdaError {
  override readonly name: string;
  constructor(errorType: string, message: string, trace: string[]) {
    super(message);
    this.name = errorType;
    this.trace.push(...trace);
  }
}

/**
 * Runs the handler to completion. Resolves, never rejects: every failure is a `RunResult` error whose
 * class names what went wrong.
 */
export function runHandlerProcess(options: RunOptions): Promise<RunResult> {
  return new Promise((resolve) => {
    const limit = options.responseLimit ?? RESPONSE_LIMIT_BYTES;
    const started = performance.now();
    const stderr = new LineSplitter();
    const chunks: Buffer[] = [];
    let bytes = 0;
    let stopSignal: NodeJS.Signals | undefined;
    let exit: { code: number | null; signal: NodeJS.Signals | null; durationMs: number } | undefined;
    let openStreams = 2;
    let settled = false;
    const timers: NodeJS.Timeout[] = [];

    const child = spawn(options.command, options.args, {
      cwd: options.cwd,
      env: options.env,
      stdio: [options.stdinFd, 'pipe', 'pipe'],
      // A new session makes the handler the leader of its own process group: one kill reaches its children.
      detached: true,
    });

    const killGroup = (signal: NodeJS.Signals): void => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, signal);
      } catch {
        // ESRCH: the group is already gone.
      }
    };

    const finish = (): void => {
      if (settled || !exit) return;
      settled = true;
      for (const timer of timers) clearTimeout(timer);
      child.stdout?.destroy();
      child.stderr?.destroy();
      options.onStderrLines(stderr.flush());
      resolve(outcome(exit, stopSignal, chunks, bytes, limit, stderr.tail()));
    };

    child.on('error', (error) => {
      // Spawn failed (ENOENT, EACCES, E2BIG...): no process, no exit event will follow.
      if (settled) return;
      settled = true;
      for (const timer of timers) clearTimeout(timer);
      resolve({
        ok: false,
        error: new SpawnError(
          `Could not start ${options.command}: ${(error as NodeJS.ErrnoException).code ?? error.message}`,
        ),
      });
    });

    child.stdout?.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      // Past the limit the response is lost anyway: keep counting, stop holding memory.
      if (bytes <= limit) chunks.push(chunk);
      else chunks.length = 0;
    });
    child.stderr?.on('data', (chunk: Buffer) => options.onStderrLines(stderr.push(chunk)));
    for (const stream of [child.stdout, child.stderr]) {
      stream?.on('close', () => {
        openStreams--;
        if (openStreams === 0) finish();
      });
    }

    child.on('exit', (code, signal) => {
      exit = { code, signal, durationMs: Math.round(performance.now() - started) };
      // The main process is done: whatever it left behind in its group goes now, so that nothing of
      // this invocation runs on and the pipes it holds reach EOF.
      killGroup('SIGKILL');
      if (openStreams === 0) finish();
      else timers.push(setTimeout(finish, DRAIN_CAP_MS));
    });

    const termInMs = Math.max(0, options.deadlineMs - options.timeoutMarginMs - Date.now());
    timers.push(
      setTimeout(() => {
        stopSignal = 'SIGTERM';
        killGroup('SIGTERM');
        timers.push(
          setTimeout(() => {
            stopSignal = 'SIGKILL';
            killGroup('SIGKILL');
          }, options.killGraceMs),
        );
      }, termInMs),
    );
  });
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
  return { ok: true, chunks, bytes, durationMs: exit.durationMs };
}

/** The documented way for a script to choose its error: exit non-zero with a JSON object on stdout. */
function reportedError(
  chunks: Buffer[],
  bytes: number,
  stderrTail: string[],
): HandlerReportedError | undefined {
  if (bytes === 0 || bytes > ERROR_OBJECT_MAX_BYTES || chunks[0]?.[0] !== 0x7b /* { */) return undefined;
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
