/** Test helpers: write a function's code to a temp dir and run it through the built layer on a local Runtime API. */

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { inject } from 'vitest';
import { LocalFunction, type LocalFunctionOptions } from '../../scripts/local-function.ts';

/** File contents by relative path; a `{ text, mode }` entry sets the mode (0o755 for executables). */
export type CodeFiles = Record<string, string | Buffer | { text: string | Buffer; mode: number }>;

/** The JSON body of an error a function reports, as Lambda reads it. */
export interface ErrorPayload {
  errorType: string;
  errorMessage: string;
  stackTrace: string[];
}

/** Writes the files into a new temporary directory and returns its path. */
export function writeCode(files: CodeFiles): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shlambda-test-code-'));
  for (const [name, content] of Object.entries(files)) {
    const file = path.join(dir, name);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const isPlain = typeof content === 'string' || Buffer.isBuffer(content);
    fs.writeFileSync(file, isPlain ? content : content.text, { mode: isPlain ? 0o644 : content.mode });
  }
  return dir;
}

/** Starts a function from code files (or a directory) on the built layer; call `close()` when done. */
export async function startFunction(
  code: CodeFiles | string,
  handler: string,
  options: Partial<LocalFunctionOptions> = {},
): Promise<LocalFunction> {
  return LocalFunction.create({
    optDir: inject('layerDir'),
    code: typeof code === 'string' ? code : writeCode(code),
    handler,
    ...options,
  });
}

/** Pids of a process and all its descendants, from /proc. */
export function descendants(pid: number): number[] {
  const out = [pid];
  for (const task of safeReaddir(`/proc/${pid}/task`)) {
    let children = '';
    try {
      children = fs.readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8');
    } catch {
      continue;
    }
    for (const child of children.split(' ').filter(Boolean)) out.push(...descendants(Number(child)));
  }
  return out;
}

/** The pids among `pid` and its descendants whose command line contains `fragment`, parents first. */
export function descendantsRunning(pid: number, fragment: string): number[] {
  return descendants(pid).filter((p) => {
    try {
      return fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(fragment);
    } catch {
      return false;
    }
  });
}

function safeReaddir(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}
