/** Turns `_HANDLER` into the command that runs one invocation, refusing anything unsafe or missing. */

import { realpathSync, statSync } from 'node:fs';
import { extname, join, sep } from 'node:path';
import type { CgiSwitch } from './config.ts';
import {
  ConfigError,
  HandlerNotFoundError,
  InterpreterNotFoundError,
  InvalidHandlerError,
} from './errors.ts';
import {
  checkExecutable,
  findProgram,
  isExecutableFile,
  LANGUAGES_BY_EXTENSION,
  type Language,
  requireProgram,
} from './interpreters.ts';

/** How a handler runs; fixed at init, the same for every invocation. */
export interface ResolvedHandler {
  /** script: the whole file runs; function: a shim calls one function in it; executable: run with the method as $1. */
  readonly mode: 'script' | 'function' | 'executable';
  /** Real path of the handler file. */
  readonly file: string;
  /** Function name in function and executable modes. */
  readonly method: string | undefined;
  readonly language: Language | undefined;
  /** Program and arguments to spawn; the event comes on stdin. */
  readonly command: string;
  readonly args: readonly string[];
  /** Set when the handler serves HTTP events as a CGI script: `php` through php-cgi, `script` any other. */
  readonly cgi?: 'php' | 'script';
}

export interface ResolveOptions {
  handler: string;
  taskRoot: string;
  /** Directory holding the shims (`function-bash.sh`, ...): the layer's `shlambda/`. */
  shimDir: string;
  searchPath: string;
  forcedInterpreter: string | undefined;
  /** The Node binary that runs this runtime, used for .js/.mjs/.cjs handlers. */
  nodePath: string;
  /** `SHLAMBDA_CGI`; `auto` when not given. */
  cgi?: CgiSwitch;
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Parsed but unresolved `_HANDLER`: the file part and the method, validated as text only. */
export interface HandlerName {
  /** The whole value, a file path relative to the task root (script mode candidate). */
  whole: string;
  /** Text before the last dot, or undefined when there is no usable dot. */
  file: string | undefined;
  /** Text after the last dot, a plain identifier, or undefined. */
  method: string | undefined;
}

/**
 * Validates `_HANDLER` as text: a relative path without `..`, control characters or backslashes.
 * Pure; no file system access.
 */
export function parseHandlerName(handler: string): HandlerName {
  if (handler === '') {
    throw new InvalidHandlerError(
      '_HANDLER is empty: set the function handler to file.method, e.g. function.handler',
    );
  }
  if (handler.length > 256) throw new InvalidHandlerError('_HANDLER is longer than 256 characters');
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
  if (/[\x00-\x1f\x7f\\]/.test(handler)) {
    throw new InvalidHandlerError(
      `_HANDLER ${JSON.stringify(handler)} contains control characters or backslashes`,
    );
  }
  if (handler.startsWith('/')) {
    throw new InvalidHandlerError(
      `_HANDLER ${JSON.stringify(handler)} is absolute; name a file relative to the task root`,
    );
  }
  if (handler.split('/').some((segment) => segment === '..')) {
    throw new InvalidHandlerError(`_HANDLER ${JSON.stringify(handler)} leaves the task root with '..'`);
  }
  const dot = handler.lastIndexOf('.');
  const slash = handler.lastIndexOf('/');
  if (dot <= slash + 1 || dot === handler.length - 1)
    return { whole: handler, file: undefined, method: undefined };
  return { whole: handler, file: handler.slice(0, dot), method: handler.slice(dot + 1) };
}

/**
 * Resolves `_HANDLER` against the task root: script mode when it names a file, otherwise function mode
 * on `file.<ext>` for a known extension (or an executable `file`).
 * @throws InvalidHandlerError, HandlerNotFoundError, InterpreterNotFoundError, HandlerNotExecutableError
 */
export function resolveHandler(options: ResolveOptions): ResolvedHandler {
  const name = parseHandlerName(options.handler);
  const root = realRoot(options.taskRoot);

  const scriptFile = realFileInside(root, name.whole, options.handler);
  if (scriptFile) return scriptMode(scriptFile, name.whole, options);
  if (options.cgi === 'on') {
    throw new ConfigError(
      `SHLAMBDA_CGI=1 runs a whole script as CGI, but _HANDLER ${JSON.stringify(options.handler)} names no file ` +
        'in the task root: set _HANDLER to the script itself (e.g. index.cgi), or unset SHLAMBDA_CGI',
    );
  }

  if (name.method === undefined || name.file === undefined) {
    throw new HandlerNotFoundError(
      `${name.whole} is not a file in ${options.taskRoot}, and _HANDLER is not of the form file.method ` +
        '(e.g. function.handler for function.sh, or index.php to run a whole file)',
    );
  }
  if (!IDENTIFIER.test(name.method)) {
    throw new InvalidHandlerError(
      `_HANDLER ${JSON.stringify(options.handler)}: '${name.method}' is not a function name ` +
        '(letters, digits and _ only, not starting with a digit)',
    );
  }
  for (const [extension, language] of LANGUAGES_BY_EXTENSION) {
    const file = realFileInside(root, name.file + extension, options.handler);
    if (!file) continue;
    const program = languageProgram(language, options);
    return {
      mode: 'function',
      file,
      method: name.method,
      language,
      command: program,
      args: [join(options.shimDir, language.shim), file, name.method],
    };
  }
  const bare = realFileInside(root, name.file, options.handler);
  if (bare) {
    const stem = name.file.slice(0, name.file.length - extname(name.file).length);
    if (
      LANGUAGES_BY_EXTENSION.has(extname(name.file)) &&
      !options.forcedInterpreter &&
      !isExecutableFile(bare)
    ) {
      // function.sh.handler: the extension was written into the handler setting.
      throw new InvalidHandlerError(
        `_HANDLER ${JSON.stringify(options.handler)} includes the file's extension: a handler is ` +
          `file.method without it, so set it to ${stem}.${name.method} (or to ${name.file} to run the whole file)`,
      );
    }
    checkExecutable(bare, name.file, options.searchPath);
    return withProgram('executable', bare, name.method, options, [name.method]);
  }
  const tried = [...LANGUAGES_BY_EXTENSION.keys()].map((ext) => name.file + ext).join(', ');
  throw new HandlerNotFoundError(
    `No handler file for _HANDLER ${JSON.stringify(options.handler)} in ${options.taskRoot}: ` +
      `looked for ${name.whole} (a whole script), ${tried}, and ${name.file} (an executable). ` +
      'Check the file is in the root of the function zip',
  );
}

function scriptMode(file: string, displayName: string, options: ResolveOptions): ResolvedHandler {
  const language = LANGUAGES_BY_EXTENSION.get(extname(file));
  const cgiSwitch = options.cgi ?? 'auto';
  if (language?.name === 'php' && cgiSwitch !== 'off') {
    // A PHP page is a web page: php-cgi gives it $_GET, $_POST, $_COOKIE, header() and the status.
    // php-cgi ignores its arguments in CGI mode (it reads SCRIPT_FILENAME); the file is there for ps.
    const program = options.forcedInterpreter
      ? languageProgram(language, options)
      : phpCgi(displayName, options);
    return { mode: 'script', file, method: undefined, language, command: program, args: [file], cgi: 'php' };
  }
  const cgi = cgiSwitch === 'on' ? ('script' as const) : undefined;
  if (language) {
    const program = languageProgram(language, options);
    return { mode: 'script', file, method: undefined, language, command: program, args: [file], cgi };
  }
  if (options.forcedInterpreter) {
    return { ...withProgram('script', file, undefined, options, []), cgi };
  }
  checkExecutable(file, displayName, options.searchPath);
  return { mode: 'script', file, method: undefined, language: undefined, command: file, args: [], cgi };
}

function phpCgi(displayName: string, options: ResolveOptions): string {
  const found = findProgram('php-cgi', options.searchPath);
  if (found) return found;
  throw new InterpreterNotFoundError(
    `${displayName} is a PHP page, run by 'php-cgi', which is not on PATH (${options.searchPath}). ` +
      'Add a layer that provides php-cgi in /opt/bin (a PHP build with the CGI SAPI); locally, install it ' +
      '(Debian: apt-get install php-cgi). Or set SHLAMBDA_INTERPRETER to its path, or SHLAMBDA_CGI=0 to ' +
      'run the file with the php command line instead (the event on stdin, no web request)',
  );
}

/** A file without a known extension: run it directly, or through SHLAMBDA_INTERPRETER when set. */
function withProgram(
  mode: 'script' | 'executable',
  file: string,
  method: string | undefined,
  options: ResolveOptions,
  extraArgs: string[],
): ResolvedHandler {
  if (options.forcedInterpreter) {
    const program = requireProgram(
      undefined,
      options.forcedInterpreter,
      'SHLAMBDA_INTERPRETER',
      options.searchPath,
      options.nodePath,
    );
    return { mode, file, method, language: undefined, command: program, args: [file, ...extraArgs] };
  }
  return { mode, file, method, language: undefined, command: file, args: extraArgs };
}

function realRoot(taskRoot: string): string {
  try {
    return realpathSync(taskRoot);
  } catch {
    throw new HandlerNotFoundError(`LAMBDA_TASK_ROOT ${taskRoot} does not exist`);
  }
}

/** The real path of `relative` when it is a regular file whose real path stays inside the root. */
function realFileInside(root: string, relative: string, handler: string): string | undefined {
  let real: string;
  try {
    real = realpathSync(join(root, relative));
  } catch {
    return undefined;
  }
  // The root itself ("." or "./"): a directory, not outside.
  if (real === root) return undefined;
  if (!real.startsWith(root + sep)) {
    throw new InvalidHandlerError(
      `_HANDLER ${JSON.stringify(handler)} resolves outside the task root (${real})`,
    );
  }
  return statSync(real).isFile() ? real : undefined;
}

function languageProgram(language: Language, options: ResolveOptions): string {
  return requireProgram(
    language,
    options.forcedInterpreter,
    `${language.name} handlers`,
    options.searchPath,
    options.nodePath,
  );
}

/** Languages whose shims load `SHLAMBDA_PRELOAD`'s libraries (in their zygote, or before the file). */
const PRELOADING_LANGUAGES: ReadonlySet<string> = new Set(['python', 'ruby', 'perl']);

/**
 * What to tell the user when `SHLAMBDA_PRELOAD` is set for a handler that never loads it (bash, PHP,
 * Node, a script, CGI), so that a setting that does nothing is not taken for one that works.
 */
export function preloadIgnored(preload: string | undefined, handler: ResolvedHandler): string | undefined {
  if (preload === undefined) return undefined;
  if (handler.mode === 'function' && PRELOADING_LANGUAGES.has(handler.language?.name ?? '')) return undefined;
  const what =
    handler.mode === 'function'
      ? `a ${handler.language?.name} function`
      : `${handler.mode === 'executable' ? 'an' : 'a'} ${handler.mode}-mode handler`;
  return `SHLAMBDA_PRELOAD is ignored for ${what}: only Python, Ruby and Perl functions (file.method) load libraries ahead`;
}
