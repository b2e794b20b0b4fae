/** Reads the runtime's configuration from the environment, once, into a frozen and typed object. */

import { ConfigError } from './errors.ts';

export type LogFormat = 'Text' | 'JSON';
export type LogLevel = 'TRACE' | 'DEBUG' | 'INFO' | 'WARN' | 'ERROR' | 'FATAL';

export interface RuntimeConfig {
  /** `host:port` of the Runtime API (`AWS_LAMBDA_RUNTIME_API`). */
  readonly runtimeApi: string;
  /** `_HANDLER` as given, unparsed: resolution rules live in handler-resolver.ts. */
  readonly handler: string;
  /** `LAMBDA_TASK_ROOT`, where the function's code is unpacked. */
  readonly taskRoot: string;
  readonly logFormat: LogFormat;
  /** Filters the runtime's own messages; handler output is always forwarded. */
  readonly logLevel: LogLevel;
  /** Invocations handled at once: `AWS_LAMBDA_MAX_CONCURRENCY` on Lambda Managed Instances, else 1. */
  readonly concurrency: number;
  /** Forces the interpreter program (`SHLAMBDA_INTERPRETER`), or undefined to choose by file. */
  readonly interpreter: string | undefined;
  /** How long before the deadline the handler is sent SIGTERM (`SHLAMBDA_TIMEOUT_MARGIN_MS`). */
  readonly timeoutMarginMs: number;
  /** How long after SIGTERM the handler's process group gets SIGKILL (`SHLAMBDA_KILL_GRACE_MS`). */
  readonly killGraceMs: number;
  /** Where each invocation's event file is written (`SHLAMBDA_TMPDIR`, default /tmp). */
  readonly tmpDir: string;
  /** `PATH`, searched for interpreters (it includes /opt/bin of other layers on Lambda). */
  readonly path: string;
}

const LOG_LEVELS: readonly LogLevel[] = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL'];

/** Numeric rank of a level, for filtering: lower is more verbose. */
export function logLevelRank(level: LogLevel): number {
  return LOG_LEVELS.indexOf(level);
}

/**
 * Builds the configuration from an environment (normally `process.env`).
 * @throws ConfigError naming the missing or malformed variable.
 */
export function loadConfig(env: NodeJS.ProcessEnv): RuntimeConfig {
  const runtimeApi = required(env, 'AWS_LAMBDA_RUNTIME_API');
  if (!/^[^/\s]+:\d+$/.test(runtimeApi)) {
    throw new ConfigError(`AWS_LAMBDA_RUNTIME_API must be host:port, got ${JSON.stringify(runtimeApi)}`);
  }
  const concurrency = integer(env, 'AWS_LAMBDA_MAX_CONCURRENCY', 1, 1, 1024);
  return Object.freeze({
    runtimeApi,
    handler: env._HANDLER ?? '',
    taskRoot: required(env, 'LAMBDA_TASK_ROOT'),
    // Lambda Managed Instances require JSON logs when invocations interleave.
    logFormat: concurrency > 1 ? 'JSON' : logFormat(env.AWS_LAMBDA_LOG_FORMAT),
    logLevel: logLevel(env.AWS_LAMBDA_LOG_LEVEL),
    concurrency,
    interpreter: env.SHLAMBDA_INTERPRETER || undefined,
    timeoutMarginMs: integer(env, 'SHLAMBDA_TIMEOUT_MARGIN_MS', 400, 0, 60_000),
    killGraceMs: integer(env, 'SHLAMBDA_KILL_GRACE_MS', 150, 0, 60_000),
    tmpDir: env.SHLAMBDA_TMPDIR || '/tmp',
    path: env.PATH || '/usr/local/bin:/usr/bin:/bin:/opt/bin',
  });
}

function required(env: NodeJS.ProcessEnv, name: string): string {
  const value = env[name];
  if (!value) throw new ConfigError(`${name} is not set; Lambda sets it for every function`);
  return value;
}

function integer(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = /^\d+$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(raw)}`);
  }
  return value;
}

function logFormat(raw: string | undefined): LogFormat {
  return raw?.toUpperCase() === 'JSON' ? 'JSON' : 'Text';
}

function logLevel(raw: string | undefined): LogLevel {
  const upper = raw?.toUpperCase();
  return (LOG_LEVELS as readonly string[]).includes(upper ?? '') ? (upper as LogLevel) : 'INFO';
}
