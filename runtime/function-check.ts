/** Checks at init that the function `_HANDLER` names exists, so a typo fails once at init, not on every call. */

import { closeSync, openSync, readFileSync } from 'node:fs';
import { basename } from 'node:path';
import {
  HandlerExitError,
  HandlerFunctionNotFoundError,
  HandlerLoadError,
  HandlerSignalError,
  HandlerTimeoutError,
} from './errors.ts';
import type { ResolvedHandler } from './handler-resolver.ts';
import { HandlerReportedError, type RunResult, runHandlerProcess } from './process-supervisor.ts';
import type { PreparedHandler } from './spare-process.ts';

export interface FunctionCheckOptions {
  taskRoot: string;
  /** Environment the handler file is loaded with (the function's, HOME=/tmp). */
  env: NodeJS.ProcessEnv;
  /** Init has 10 s in all; loading a file must not take most of it. */
  timeoutMs: number;
}

const LOADED_MARKER = '__shlambda_loaded__';

/**
 * Bash: sources the file in a throwaway bash (stdin and stdout closed off, its own process group so a
 * background job at the top level cannot hold the check) and asks bash which functions exist; the method
 * was already checked to be a plain identifier, so nothing of a hostile name runs.
 * Other languages: a cheap text check, since loading them costs more than the check is worth: a file
 * that never mentions the name cannot define it.
 * @throws HandlerFunctionNotFoundError, HandlerLoadError
 */
export async function checkFunctionDefined(
  handler: ResolvedHandler,
  options: FunctionCheckOptions,
): Promise<void> {
  if (handler.mode !== 'function' || !handler.language || !handler.method) return;
  const fileName = basename(handler.file);
  if (handler.language.name === 'bash') {
    const { defined, stderr } = await bashFunctions(handler.command, handler.file, options);
    if (defined.includes(handler.method)) return;
    // A syntax error stops `source` early and leaves the function undefined: say so, not "not defined".
    if (stderr.some((line) => line.includes('syntax error'))) {
      throw new HandlerLoadError(`${fileName} has a bash syntax error: ${stderr.join(' ')}`, stderr);
    }
    throw notFound(fileName, handler.method, defined);
  }
  const text = readFileSync(handler.file, 'utf8');
  if (!new RegExp(`(^|[^\\w$])${handler.method}([^\\w$]|$)`).test(text)) {
    const defined = [...text.matchAll(handler.language.definitions)].map(
      (m) => m.slice(1).find(Boolean) ?? '',
    );
    throw notFound(fileName, handler.method, defined);
  }
}

function loadFailure(error: Error, timeoutMs: number): string {
  if (error instanceof HandlerTimeoutError) return `ran for more than ${timeoutMs} ms`;
  if (error instanceof HandlerExitError) return `exited with code ${error.exitCode}`;
  if (error instanceof HandlerSignalError) return `was killed by ${error.signal}`;
  return `failed (${error.message})`;
}

function notFound(fileName: string, method: string, defined: string[]): HandlerFunctionNotFoundError {
  const list = defined.length > 0 ? `defined: ${[...new Set(defined)].join(', ')}` : 'it defines none';
  return new HandlerFunctionNotFoundError(
    `${fileName} defines no function '${method}' (${list}); set the handler to ${fileName.replace(/\.[^.]+$/, '')}.<function>`,
  );
}

async function bashFunctions(
  bash: string,
  file: string,
  options: FunctionCheckOptions,
): Promise<{ defined: string[]; stderr: string[] }> {
  const script = `source "$1" >/dev/null </dev/null; echo ${LOADED_MARKER}; declare -F`;
  const stderr: string[] = [];
  const devNull = openSync('/dev/null', 'r');
  let result: RunResult;
  try {
    const running = runHandlerProcess({
      command: bash,
      args: ['-c', script, 'shlambda-init', file],
      cwd: options.taskRoot,
      env: options.env,
      stdinFd: devNull,
      deadlineMs: Date.now() + options.timeoutMs,
      timeoutMarginMs: 0,
      killGraceMs: 100,
      onStderrLines: (lines) => stderr.push(...lines),
    });
    closeSync(devNull);
    result = await running;
  } catch (error) {
    closeSync(devNull);
    throw error;
  }
  const stdout = result.ok ? Buffer.concat(result.chunks).toString('utf8') : '';
  const marker = stdout.indexOf(`${LOADED_MARKER}\n`);
  if (!result.ok || marker < 0) {
    const why = result.ok ? 'stopped' : loadFailure(result.error, options.timeoutMs);
    throw new HandlerLoadError(
      `${basename(file)} ${why} while being loaded at init; its top level must only define functions and ` +
        'must not exit or wait for input',
      stderr.slice(-20),
    );
  }
  const defined = stdout
    .slice(marker + LOADED_MARKER.length + 1)
    .split('\n')
    .map((line) => /^declare -f\S* (\S+)$/.exec(line)?.[1])
    .filter((name): name is string => name !== undefined);
  return { defined, stderr: stderr.slice(-20) };
}

/**
 * With prestarted handlers: waits until the first process has loaded the file and found the function.
 * A process that ends first is the init error: the shim's own report (`Runtime.ImportModuleError`,
 * `Runtime.HandlerFunctionNotFound`...), or for bash what the throwaway check above finds.
 * @throws the shim's reported error, HandlerFunctionNotFoundError, HandlerLoadError
 */
export async function checkSpareLoaded(
  handler: ResolvedHandler,
  spare: PreparedHandler,
  options: FunctionCheckOptions,
): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), options.timeoutMs);
  });
  const ready = await Promise.race([spare.ready, timedOut]);
  clearTimeout(timer);
  const fileName = basename(handler.file);
  if (ready === true) return;
  if (ready === 'timeout') {
    spare.discard();
    throw new HandlerLoadError(
      `${fileName} was still loading after ${options.timeoutMs} ms at init; its top level must not wait for input`,
      [],
    );
  }
  const result = await spare.result;
  if (handler.language?.name === 'bash') await checkFunctionDefined(handler, options);
  if (result.ok) {
    throw new HandlerLoadError(
      `${fileName} stopped while being loaded at init; its top level must not exit`,
      [],
    );
  }
  if (result.error instanceof HandlerReportedError) throw result.error;
  throw new HandlerLoadError(
    `${fileName} ${loadFailure(result.error, options.timeoutMs)} while being loaded at init; its top level must not exit`,
    'stderrTail' in result.error ? (result.error.stderrTail as string[]) : [],
  );
}
