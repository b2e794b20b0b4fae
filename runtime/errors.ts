/** The errors Lambda sees: one class per errorType string, and the one function that turns any error into a payload. */

/** The body Lambda expects on `/error` and `/init/error`. */
export interface ErrorPayload {
  errorType: string;
  errorMessage: string;
  stackTrace: string[];
}

/** Base class: `name` is the errorType Lambda reports, always in `Category.Reason` form. */
export abstract class ShlambdaError extends Error {
  abstract override readonly name: string;
  /** Lines that explain the failure better than a JS stack (for a handler: the tail of its stderr). */
  readonly trace: string[] = [];
}

// --- init: the function cannot be set up; posted to /init/error ---

/** A required environment variable is missing or malformed. */
export class ConfigError extends ShlambdaError {
  readonly name = 'Runtime.InvalidConfig';
}

/** `_HANDLER` is empty, malformed, or tries to leave the task root. */
export class InvalidHandlerError extends ShlambdaError {
  readonly name = 'Runtime.InvalidHandler';
}

/** No file in the task root matches `_HANDLER`. */
export class HandlerNotFoundError extends ShlambdaError {
  readonly name = 'Runtime.HandlerNotFound';
}

/** The handler file exists but does not define the function `_HANDLER` names. */
export class HandlerFunctionNotFoundError extends ShlambdaError {
  readonly name = 'Runtime.HandlerFunctionNotFound';
}

/** The interpreter for the handler's language is not on PATH. */
export class InterpreterNotFoundError extends ShlambdaError {
  readonly name = 'Runtime.InterpreterNotFound';
}

/** The handler has no known extension and cannot be executed itself. */
export class HandlerNotExecutableError extends ShlambdaError {
  readonly name = 'Runtime.HandlerNotExecutable';
}

/** Loading the handler file at init failed (it exited while being sourced, say). */
export class HandlerLoadError extends ShlambdaError {
  readonly name = 'Runtime.HandlerLoadFailed';
  constructor(message: string, trace: string[]) {
    super(message);
    this.trace.push(...trace);
  }
}

// --- invocation: posted to /invocation/{id}/error ---

/** What is known of a handler process that failed. */
export interface ProcessFailure {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  durationMs: number;
  stderrTail: string[];
}

/** Base for failures of a handler process: carries what a user needs to find the cause. */
export abstract class HandlerProcessError extends ShlambdaError implements ProcessFailure {
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly durationMs: number;
  readonly stderrTail: string[];
  constructor(message: string, failure: ProcessFailure) {
    super(message);
    this.exitCode = failure.exitCode;
    this.signal = failure.signal;
    this.durationMs = failure.durationMs;
    this.stderrTail = failure.stderrTail;
    this.trace.push(...failure.stderrTail);
  }
}

/** The handler exited with a non-zero status. */
export class HandlerExitError extends HandlerProcessError {
  readonly name = 'Function.ExitError';
  /** @param detail what the exit left undone, appended to the message. */
  constructor(failure: ProcessFailure, detail?: string) {
    super(
      `Handler exited with code ${failure.exitCode} after ${failure.durationMs} ms${detail ? ` ${detail}` : ''}`,
      failure,
    );
  }
}

/** The handler was killed by a signal it did not get from the runtime. */
export class HandlerSignalError extends HandlerProcessError {
  readonly name = 'Function.KilledBySignal';
  constructor(failure: ProcessFailure) {
    super(`Handler was killed by ${failure.signal} after ${failure.durationMs} ms`, failure);
  }
}

/** The handler ran into the deadline and the runtime stopped its process group. */
export class HandlerTimeoutError extends HandlerProcessError {
  readonly name = 'Function.Timeout';
  constructor(failure: ProcessFailure, stoppedWith: NodeJS.Signals) {
    super(
      `Handler timed out: stopped with ${stoppedWith} after ${failure.durationMs} ms, before the invocation's deadline`,
      failure,
    );
  }
}

/** The handler wrote more to stdout than Lambda accepts as a response. */
export class ResponseTooLargeError extends HandlerProcessError {
  readonly name = 'Function.ResponseSizeTooLarge';
  constructor(bytes: number, limit: number, failure: ProcessFailure) {
    super(
      `Response of at least ${bytes} bytes exceeds Lambda's limit of ${limit} bytes; ` +
        'return less, or write large results to S3 and return a reference',
      failure,
    );
  }
}

/** A web (CGI) handler was invoked with an event that is not an HTTP request; the script is not run. */
export class NotHttpEventError extends ShlambdaError {
  readonly name = 'Runtime.NotAnHttpEvent';
}

/** A CGI script's output does not start with a valid header block (RFC 3875 section 6). */
export class InvalidCgiResponseError extends ShlambdaError {
  readonly name = 'Function.InvalidCgiResponse';
  constructor(message: string, trace: string[] = []) {
    super(message);
    this.trace.push(...trace);
  }
}

/** The handler process could not be started at all. */
export class SpawnError extends ShlambdaError {
  readonly name = 'Runtime.SpawnFailed';
}

/** A bug in the runtime itself: reported so the invocation fails cleanly, and the loop goes on. */
export class InternalError extends ShlambdaError {
  readonly name = 'Runtime.InternalError';
}

const CATEGORY_REASON = /^(Runtime|Function)\.[A-Z][a-zA-Z]+$/;

/**
 * Turns anything thrown into the payload Lambda expects. Never throws: it runs on the error path.
 * Errors that are not ours become `Runtime.InternalError` with their JS stack.
 */
export function toErrorPayload(error: unknown): ErrorPayload {
  try {
    if (error instanceof ShlambdaError) {
      return { errorType: error.name, errorMessage: error.message, stackTrace: [...error.trace] };
    }
    if (error instanceof Error) {
      const errorType = CATEGORY_REASON.test(error.name) ? error.name : 'Runtime.InternalError';
      const stack = (error.stack ?? '').split('\n').slice(1);
      return {
        errorType,
        errorMessage: `${error.name}: ${error.message}`,
        stackTrace: stack.map((l) => l.trim()),
      };
    }
    return { errorType: 'Runtime.InternalError', errorMessage: String(error), stackTrace: [] };
  } catch {
    return { errorType: 'Runtime.InternalError', errorMessage: 'unprintable error', stackTrace: [] };
  }
}
