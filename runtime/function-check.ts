/** Checks at init that the function `_HANDLER` names exists, so a typo fails once at init, not on every call. */

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { HandlerFunctionNotFoundError, HandlerLoadError } from './errors.ts';
import type { ResolvedHandler } from './handler-resolver.ts';

export interface FunctionCheckOptions {
  taskRoot: string;
  /** Environment the handler file is loaded with (the function's, HOME=/tmp). */
  env: NodeJS.ProcessEnv;
  /** Init has 10 s in all; loading a file must not take most of it. */
  timeoutMs: number;
}

const LOADED_MARKER = '__shlambda_loaded__';

/**
 * Bash: sources the file in a throwaway bash (stdin and stdout closed off) and asks bash which functions
 * exist; the method was already checked to be a plain identifier, so nothing of a hostile name runs.
 * Other languages: a cheap text check, since loading them costs more than the check is worth: a file
 * that never mentions the name cannot define it.
 * @throws HandlerFunctionNotFoundError, HandlerLoadError
 */
export function checkFunctionDefined(handler: ResolvedHandler, options: FunctionCheckOptions): void {
  if (handler.mode !== 'function' || !handler.language || !handler.method) return;
  const fileName = path.basename(handler.file);
  if (handler.language.name === 'bash') {
    const defined = bashFunctions(handler.command, handler.file, options);
    if (!defined.includes(handler.method)) throw notFound(fileName, handler.method, defined);
    return;
  }
  const text = fs.readFileSync(handler.file, 'utf8');
  if (!new RegExp(`(^|[^\\w$])${handler.method}([^\\w$]|$)`).test(text)) {
    const defined = [...text.matchAll(handler.language.definitions)].map((m) => m.slice(1).find(Boolean) ?? '');
    throw notFound(fileName, handler.method, defined);
  }
}

function notFound(fileName: string, method: string, defined: string[]): HandlerFunctionNotFoundError {
  const list = defined.length > 0 ? `defined: ${[...new Set(defined)].join(', ')}` : 'it defines none';
  return new HandlerFunctionNotFoundError(
    `${fileName} defines no function '${method}' (${list}); set the handler to ${fileName.replace(/\.[^.]+$/, '')}.<function>`,
  );
}

function bashFunctions(bash: string, file: string, options: FunctionCheckOptions): string[] {
  const script = `source "$1" >/dev/null </dev/null; echo ${LOADED_MARKER}; declare -F`;
  const result = spawnSync(bash, ['-c', script, 'shlambda-init', file], {
    cwd: options.taskRoot,
    env: options.env,
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: options.timeoutMs,
    encoding: 'utf8',
    maxBuffer: 1 << 20,
  });
  const stdout = result.stdout ?? '';
  const marker = stdout.indexOf(`${LOADED_MARKER}\n`);
  if (marker < 0) {
    const why = result.error
      ? result.error.message
      : result.signal
        ? `killed by ${result.signal}`
        : `exited with code ${result.status}`;
    const stderrLines = (result.stderr ?? '').split('\n').filter(Boolean).slice(-20);
    throw new HandlerLoadError(
      `${path.basename(file)} ${why} while being loaded at init; its top level must only define functions and ` +
        'must not exit or wait for input',
      stderrLines,
    );
  }
  return stdout
    .slice(marker + LOADED_MARKER.length + 1)
    .split('\n')
    .map((line) => /^declare -f\S* (\S+)$/.exec(line)?.[1])
    .filter((name): name is string => name !== undefined);
}
