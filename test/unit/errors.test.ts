/** Unit tests for the error payloads Lambda shows: errorType names, messages in words, and a converter that never throws. */

import { describe, expect, it } from 'vitest';
import {
  ConfigError,
  HandlerExitError,
  HandlerFunctionNotFoundError,
  HandlerLoadError,
  HandlerNotExecutableError,
  HandlerNotFoundError,
  HandlerSignalError,
  HandlerTimeoutError,
  InternalError,
  InterpreterNotFoundError,
  InvalidHandlerError,
  type ProcessFailure,
  ResponseTooLargeError,
  SpawnError,
  toErrorPayload,
} from '../../runtime/errors.ts';
import { HandlerReportedError } from '../../runtime/process-supervisor.ts';

const STDERR_TAIL = ['line 1: jq: command not found', 'fatal: could not parse event'];

function failure(overrides: Partial<ProcessFailure> = {}): ProcessFailure {
  return { exitCode: null, signal: null, durationMs: 15, stderrTail: STDERR_TAIL, ...overrides };
}

describe('toErrorPayload: our error classes', () => {
  it.each([
    [new ConfigError('m'), 'Runtime.InvalidConfig'],
    [new InvalidHandlerError('m'), 'Runtime.InvalidHandler'],
    [new HandlerNotFoundError('m'), 'Runtime.HandlerNotFound'],
    [new HandlerFunctionNotFoundError('m'), 'Runtime.HandlerFunctionNotFound'],
    [new InterpreterNotFoundError('m'), 'Runtime.InterpreterNotFound'],
    [new HandlerNotExecutableError('m'), 'Runtime.HandlerNotExecutable'],
    [new HandlerLoadError('m', []), 'Runtime.HandlerLoadFailed'],
    [new SpawnError('m'), 'Runtime.SpawnFailed'],
    [new InternalError('m'), 'Runtime.InternalError'],
    [new HandlerExitError(failure({ exitCode: 1 })), 'Function.ExitError'],
    [new HandlerSignalError(failure({ signal: 'SIGSEGV' })), 'Function.KilledBySignal'],
    [new HandlerTimeoutError(failure({ signal: 'SIGTERM' }), 'SIGTERM'), 'Function.Timeout'],
    [
      new ResponseTooLargeError(7_000_000, 6_291_556, failure({ exitCode: 0 })),
      'Function.ResponseSizeTooLarge',
    ],
  ])('%s is reported as %s', (error, errorType) => {
    const payload = toErrorPayload(error);
    expect(payload.errorType).toBe(errorType);
    expect(payload.errorType).toMatch(/^(Runtime|Function)\.[A-Z][A-Za-z]+$/);
    expect(payload.errorMessage).toBe(error.message);
    expect(error).toBeInstanceOf(Error);
  });

  it('gives an init error without a trace an empty stackTrace, not a JS stack', () => {
    expect(toErrorPayload(new HandlerNotFoundError('No handler file'))).toEqual({
      errorType: 'Runtime.HandlerNotFound',
      errorMessage: 'No handler file',
      stackTrace: [],
    });
  });

  it('carries the stderr of a handler that failed to load as the stackTrace', () => {
    const payload = toErrorPayload(new HandlerLoadError('function.sh exited with code 3', ['boom']));
    expect(payload.stackTrace).toEqual(['boom']);
  });
});

describe('toErrorPayload: handler process failures', () => {
  it.each([
    [new HandlerExitError(failure({ exitCode: 2 })), 'Handler exited with code 2 after 15 ms'],
    [
      new HandlerSignalError(failure({ signal: 'SIGKILL', durationMs: 3000 })),
      'Handler was killed by SIGKILL after 3000 ms',
    ],
    [
      new HandlerTimeoutError(failure({ signal: 'SIGTERM', durationMs: 2600 }), 'SIGTERM'),
      "Handler timed out: stopped with SIGTERM after 2600 ms, before the invocation's deadline",
    ],
    [
      new ResponseTooLargeError(7_000_000, 6_291_556, failure({ exitCode: 0 })),
      "Response of at least 7000000 bytes exceeds Lambda's limit of 6291556 bytes; " +
        'return less, or write large results to S3 and return a reference',
    ],
  ])('says what happened in words: %s', (error, message) => {
    const payload = toErrorPayload(error);
    expect(payload.errorMessage).toBe(message);
    expect(payload.stackTrace).toEqual(STDERR_TAIL);
  });

  it('keeps exit code, signal, duration and stderr tail on the error for the log', () => {
    const error = new HandlerSignalError(failure({ signal: 'SIGKILL', durationMs: 3000 }));
    expect(error).toMatchObject({
      exitCode: null,
      signal: 'SIGKILL',
      durationMs: 3000,
      stderrTail: STDERR_TAIL,
    });
  });

  it('returns a stackTrace that later changes to the error do not reach', () => {
    const error = new HandlerExitError(failure({ exitCode: 2, stderrTail: ['one'] }));
    const payload = toErrorPayload(error);
    error.trace.push('two');
    expect(payload.stackTrace).toEqual(['one']);
  });
});

describe('toErrorPayload: anything else that was thrown', () => {
  it('reports a plain TypeError as Runtime.InternalError with its stack', () => {
    const error = new TypeError("Cannot read properties of undefined (reading 'x')");
    const payload = toErrorPayload(error);
    expect(payload.errorType).toBe('Runtime.InternalError');
    expect(payload.errorMessage).toBe("TypeError: Cannot read properties of undefined (reading 'x')");
    expect(payload.stackTrace.length).toBeGreaterThan(0);
    expect(payload.stackTrace[0]).toMatch(/^at /);
    expect(payload.stackTrace.join('\n')).toContain('errors.test.ts');
  });

  it('keeps a Category.Reason name an error already has', () => {
    const error = new Error('custom');
    error.name = 'Function.Custom';
    expect(toErrorPayload(error)).toMatchObject({
      errorType: 'Function.Custom',
      errorMessage: 'Function.Custom: custom',
    });
  });

  it.each([
    ['a string', 'something broke', 'something broke'],
    ['a number', 42, '42'],
    ['undefined', undefined, 'undefined'],
    ['null', null, 'null'],
  ])('reports %s as Runtime.InternalError with its text', (_, thrownValue, message) => {
    expect(toErrorPayload(thrownValue)).toEqual({
      errorType: 'Runtime.InternalError',
      errorMessage: message,
      stackTrace: [],
    });
  });

  const throwing = () => {
    throw new Error('getter threw');
  };
  const errorWithThrowingName = new Error('x');
  Object.defineProperty(errorWithThrowingName, 'name', { get: throwing });
  const errorWithThrowingStack = new Error('x');
  Object.defineProperty(errorWithThrowingStack, 'stack', { get: throwing });
  const ours = new InternalError('x');
  Object.defineProperty(ours, 'message', { get: throwing });

  it.each([
    ['an object whose toString throws', { toString: throwing }],
    ['an object with no prototype', Object.create(null)],
    ['an Error whose name getter throws', errorWithThrowingName],
    ['an Error whose stack getter throws', errorWithThrowingStack],
    ['one of our errors whose message getter throws', ours],
    ['a proxy whose every trap throws', new Proxy({}, { get: throwing, getPrototypeOf: throwing })],
  ])('never throws, even for %s', (_, value) => {
    let payload: ReturnType<typeof toErrorPayload> | undefined;
    expect(() => {
      payload = toErrorPayload(value);
    }).not.toThrow();
    expect(payload?.errorType).toBe('Runtime.InternalError');
    expect(typeof payload?.errorMessage).toBe('string');
    expect(Array.isArray(payload?.stackTrace)).toBe(true);
    expect(() => JSON.stringify(payload)).not.toThrow();
  });
});

describe("a handler's own error object", () => {
  it('keeps its type, and of a long stack the first 20 and last 80 lines, saying how many were left out', () => {
    const trace = Array.from({ length: 300 }, (_, i) => `frame ${i}`);
    const payload = toErrorPayload(new HandlerReportedError('Validation.Deep', 'too deep', trace));
    expect(payload.errorType).toBe('Validation.Deep');
    expect(payload.stackTrace).toEqual([...trace.slice(0, 20), '... (200 more lines)', ...trace.slice(-80)]);
  });

  it('cuts a message and a stack line that would make the posted error too large', () => {
    const payload = toErrorPayload(new HandlerReportedError('Big', 'm'.repeat(300_000), ['l'.repeat(5000)]));
    expect(payload.errorMessage).toBe(`${'m'.repeat(262_144)}... (37856 more characters)`);
    expect(payload.stackTrace).toEqual([`${'l'.repeat(4096)}... (904 more characters)`]);
  });

  it('keeps a short stack as it is', () => {
    const payload = toErrorPayload(new HandlerReportedError('Small', 'ok', ['a', 'b']));
    expect(payload).toEqual({ errorType: 'Small', errorMessage: 'ok', stackTrace: ['a', 'b'] });
  });
});
