/** Which program runs a handler file: the extension table, PATH lookup and shebang checks. */

import { accessSync, closeSync, constants, openSync, readSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { HandlerNotExecutableError, InterpreterNotFoundError } from './errors.ts';

/** A language shlambda knows by file extension, with the shim that calls a function in it. */
export interface Language {
  readonly name: 'bash' | 'php' | 'python' | 'ruby' | 'perl' | 'node';
  /** Program looked up on PATH; `node` means the runtime's own Node binary. */
  readonly program: string;
  /** File under the layer's `shlambda/` directory that loads a file and calls one function. */
  readonly shim: string;
  /** Finds the names a file defines, for error messages; cheap and approximate. */
  readonly definitions: RegExp;
}

const BASH: Language = {
  name: 'bash',
  program: 'bash',
  shim: 'function-bash.sh',
  definitions: /^\s*(?:function\s+)?([A-Za-z_][\w]*)\s*\(\s*\)/gm,
};
const PYTHON: Language = {
  name: 'python',
  program: 'python3',
  shim: 'function-python.py',
  definitions: /^(?:async\s+)?def\s+([A-Za-z_]\w*)/gm,
};
const PHP: Language = {
  name: 'php',
  program: 'php',
  shim: 'function-php.php',
  definitions: /^\s*function\s+&?\s*([A-Za-z_]\w*)/gim,
};
const RUBY: Language = {
  name: 'ruby',
  program: 'ruby',
  shim: 'function-ruby.rb',
  definitions: /^def\s+([A-Za-z_]\w*)/gm,
};
const PERL: Language = {
  name: 'perl',
  program: 'perl',
  shim: 'function-perl.pl',
  definitions: /^\s*sub\s+([A-Za-z_]\w*)/gm,
};
const NODE: Language = {
  name: 'node',
  program: 'node',
  shim: 'function-node.mjs',
  definitions:
    /(?:export\s+(?:async\s+)?function\*?\s+([A-Za-z_$][\w$]*))|(?:export\s+(?:const|let|var)\s+([A-Za-z_$][\w$]*))|(?:exports\.([A-Za-z_$][\w$]*)\s*=)/g,
};

/** Extensions in the order function mode tries them (`function.handler` -> function.sh first). */
export const LANGUAGES_BY_EXTENSION: ReadonlyMap<string, Language> = new Map([
  ['.sh', BASH],
  ['.bash', BASH],
  ['.php', PHP],
  ['.py', PYTHON],
  ['.rb', RUBY],
  ['.pl', PERL],
  ['.js', NODE],
  ['.mjs', NODE],
  ['.cjs', NODE],
]);

/** Finds an executable program by name on a PATH string, as a shell would; absolute or relative paths are checked as given. */
export function findProgram(program: string, searchPath: string): string | undefined {
  if (program.includes('/')) return isExecutableFile(program) ? resolve(program) : undefined;
  for (const dir of searchPath.split(':')) {
    if (!dir) continue;
    const candidate = join(dir, program);
    if (isExecutableFile(candidate)) return candidate;
  }
  return undefined;
}

/**
 * The absolute path of the program that runs a handler: the forced interpreter if set, else the
 * language's program on PATH (for Node: the binary running this runtime).
 * @param purpose what needs it, for the error message ("python handlers", "run.sh").
 */
export function requireProgram(
  language: Language | undefined,
  forced: string | undefined,
  purpose: string,
  searchPath: string,
  nodePath: string,
): string {
  const wanted = forced ?? (language?.name === 'node' ? nodePath : (language?.program ?? ''));
  const found = findProgram(wanted, searchPath);
  if (found) return found;
  const fix =
    forced === undefined
      ? 'Add a layer that provides it in /opt/bin, or set SHLAMBDA_INTERPRETER to its path'
      : 'SHLAMBDA_INTERPRETER names it: correct the variable (a name on PATH or an absolute path), or add a layer that provides it in /opt/bin';
  throw new InterpreterNotFoundError(
    `${purpose} need '${wanted}', which is not on PATH (${searchPath}). ${fix}`,
  );
}

/**
 * Checks that a file with no known extension can be executed as it is: the executable bit, and a
 * shebang that the kernel will accept (a CRLF shebang fails with a baffling "not found").
 */
export function checkExecutable(file: string, displayName: string, searchPath: string): void {
  if (!isExecutableFile(file)) {
    throw new HandlerNotExecutableError(
      `${displayName} has no known extension (${[...LANGUAGES_BY_EXTENSION.keys()].join(' ')}) and is not executable: ` +
        `chmod 755 it and start it with a shebang line, or rename it`,
    );
  }
  const head = readHead(file, 256);
  if (!head.startsWith('#!')) return; // a binary, or a script the kernel will refuse: execve reports it
  const line = head.split('\n', 1)[0] ?? '';
  if (line.endsWith('\r')) {
    throw new HandlerNotExecutableError(
      `${displayName} has Windows line endings (CRLF) in its shebang line; convert it to LF (dos2unix)`,
    );
  }
  const interpreter = line.slice(2).trim().split(/\s+/)[0] ?? '';
  if (interpreter.startsWith('/') && !isExecutableFile(interpreter)) {
    throw new InterpreterNotFoundError(
      `${displayName} asks for ${interpreter} in its shebang, which does not exist here`,
    );
  }
  const envTarget = line.slice(2).trim().split(/\s+/);
  if (envTarget[0] === '/usr/bin/env' && envTarget[1] && !envTarget[1].startsWith('-')) {
    if (!findProgram(envTarget[1], searchPath)) {
      throw new InterpreterNotFoundError(
        `${displayName} asks for '${envTarget[1]}' in its shebang, which is not on PATH (${searchPath})`,
      );
    }
  }
}

export function isExecutableFile(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

function readHead(file: string, bytes: number): string {
  const fd = openSync(file, 'r');
  try {
    const buffer = Buffer.alloc(bytes);
    const read = readSync(fd, buffer, 0, bytes, 0);
    return buffer.subarray(0, read).toString('latin1');
  } finally {
    closeSync(fd);
  }
}
