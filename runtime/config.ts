/** Reads the runtime's configuration from the environment, once, into a frozen and typed object. */

import { ConfigError } from './errors.ts';
import { DEFAULT_BINARY_TYPES, parseBinaryTypes } from './web/binary-types.ts';

export type LogFormat = 'Text' | 'JSON';
export type LogLevel = 'TRACE' | 'DEBUG' | 'INFO' | 'WARN' | 'ERROR' | 'FATAL';
/** `SHLAMBDA_CGI`: `auto` runs `.php` scripts through php-cgi; `on` also any other whole script; `off` none. */
export type CgiSwitch = 'auto' | 'on' | 'off';

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
  /** Which whole-script handlers serve HTTP events as CGI scripts (`SHLAMBDA_CGI`). */
  readonly cgi: CgiSwitch;
  /** Response media types returned base64-encoded by CGI handlers (`SHLAMBDA_BINARY_TYPES`). */
  readonly binaryTypes: readonly string[];
  /** Whether function-mode handlers are started, and their file loaded, before the event arrives
   *  (`SHLAMBDA_PRESTART`, default on). */
  readonly prestart: boolean;
  /** Libraries a Python, Ruby or Perl function's zygote loads once for all its processes
   *  (`SHLAMBDA_PRELOAD`); the shims read and load them, the runtime only says where it does nothing. */
  readonly preload: string | undefined;
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
    logFormat: logFormatOf(env),
    logLevel: logLevel(env.AWS_LAMBDA_LOG_LEVEL),
    concurrency,
    interpreter: env.SHLAMBDA_INTERPRETER || undefined,
    timeoutMarginMs: integer(env, 'SHLAMBDA_TIMEOUT_MARGIN_MS', 400, 0, 60_000),
    killGraceMs: integer(env, 'SHLAMBDA_KILL_GRACE_MS', 150, 0, 60_000),
    tmpDir: env.SHLAMBDA_TMPDIR || '/tmp',
    path: env.PATH || '/usr/local/bin:/usr/bin:/bin:/opt/bin',
    cgi: cgiSwitch(env.SHLAMBDA_CGI),
    binaryTypes: binaryTypes(env.SHLAMBDA_BINARY_TYPES),
    prestart: onOff(env, 'SHLAMBDA_PRESTART', true),
    preload: env.SHLAMBDA_PRELOAD?.trim() || undefined,
  });
}

function cgiSwitch(raw: string | undefined): CgiSwitch {
  const value = (raw ?? '').trim().toLowerCase();
  if (value === '' || value === 'auto') return 'auto';
  if (['1', 'true', 'on', 'yes'].includes(value)) return 'on';
  if (['0', 'false', 'off', 'no'].includes(value)) return 'off';
  throw new ConfigError(`SHLAMBDA_CGI must be 1 (on), 0 (off) or auto, got ${JSON.stringify(raw)}`);
}

function onOff(env: NodeJS.ProcessEnv, name: string, fallback: boolean): boolean {
  const value = (env[name] ?? '').trim().toLowerCase();
  if (value === '') return fallback;
  if (['1', 'true', 'on', 'yes'].includes(value)) return true;
  if (['0', 'false', 'off', 'no'].includes(value)) return false;
  throw new ConfigError(`${name} must be 1 (on) or 0 (off), got ${JSON.stringify(env[name])}`);
}

function binaryTypes(raw: string | undefined): readonly string[] {
  if (raw === undefined || raw.trim() === '') return DEFAULT_BINARY_TYPES;
  const { types, bad } = parseBinaryTypes(raw);
  if (bad !== undefined) {
    throw new ConfigError(
      `SHLAMBDA_BINARY_TYPES must be comma-separated media types such as image/png or image/*, got ${JSON.stringify(bad)}`,
    );
  }
  return Object.freeze(types);
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

/**
 * The log format: the one the function asked for, or JSON where Lambda Managed Instances run
 * invocations side by side (they require it). Also for reporting a configuration that could not be
 * read, whatever else in it was wrong.
 */
export function logFormatOf(env: NodeJS.ProcessEnv): LogFormat {
  return Number(env.AWS_LAMBDA_MAX_CONCURRENCY) > 1 ? 'JSON' : logFormat(env.AWS_LAMBDA_LOG_FORMAT);
}

function logFormat(raw: string | undefined): LogFormat {
  return raw?.toUpperCase() === 'JSON' ? 'JSON' : 'Text';
}

function logLevel(raw: string | undefined): LogLevel {
  const upper = raw?.toUpperCase();
  return (LOG_LEVELS as readonly string[]).includes(upper ?? '') ? (upper as LogLevel) : 'INFO';
}
