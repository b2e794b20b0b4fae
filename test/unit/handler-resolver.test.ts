/** Unit tests for _HANDLER parsing and resolution against a real task root on disk. */

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  ConfigError,
  HandlerNotExecutableError,
  HandlerNotFoundError,
  InterpreterNotFoundError,
  InvalidHandlerError,
} from '../../runtime/errors.ts';
import {
  parseHandlerName,
  type ResolvedHandler,
  type ResolveOptions,
  resolveHandler,
} from '../../runtime/handler-resolver.ts';
import { thrown } from '../helpers/thrown.ts';

const SHIM_DIR = '/opt/shlambda';
const SEARCH_PATH = process.env.PATH ?? '';

const temps: string[] = [];
afterAll(() => {
  for (const dir of temps) fs.rmSync(dir, { recursive: true, force: true });
});

/** A fresh directory, by its real path (os.tmpdir() may itself be a symlink). */
function tempDir(): string {
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'shlambda-resolver-')));
  temps.push(dir);
  return dir;
}

type Files = Record<string, string | { content: string; mode: number }>;

/** Writes files (relative paths, parent folders created) into `dir`; returns `dir`. */
function writeFiles(dir: string, files: Files): string {
  for (const [name, spec] of Object.entries(files)) {
    const file = path.join(dir, name);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const { content, mode } = typeof spec === 'string' ? { content: spec, mode: 0o644 } : spec;
    fs.writeFileSync(file, content);
    fs.chmodSync(file, mode);
  }
  return dir;
}

function taskRoot(files: Files = {}): string {
  return writeFiles(tempDir(), files);
}

function resolve(handler: string, root: string, overrides: Partial<ResolveOptions> = {}): ResolvedHandler {
  return resolveHandler({
    handler,
    taskRoot: root,
    shimDir: SHIM_DIR,
    searchPath: SEARCH_PATH,
    forcedInterpreter: undefined,
    nodePath: process.execPath,
    ...overrides,
  });
}

/** Where a POSIX shell finds `program` on the test's PATH: the oracle for interpreter lookup. */
function onPath(program: string): string {
  return execFileSync('sh', ['-c', 'command -v "$1"', 'sh', program], { encoding: 'utf8' }).trim();
}

/** Every path under `dir` with its size and mtime, to show a resolution changed nothing. */
function snapshot(dir: string): string[] {
  return (fs.readdirSync(dir, { recursive: true }) as string[]).sort().map((name) => {
    const stat = fs.lstatSync(path.join(dir, name));
    return `${name} ${stat.size} ${stat.mtimeMs}`;
  });
}

const EXECUTABLE = 0o755;
const BASH_FUNCTIONS = 'handler() { cat; }\neval() { echo evaluated; }\n';

describe('parseHandlerName', () => {
  it.each([
    ['function.handler', 'function', 'handler'],
    ['index.php', 'index', 'php'],
    ['src/app.main', 'src/app', 'main'],
    ['a.b.handler', 'a.b', 'handler'],
    ['./function.handler', './function', 'handler'],
    ['function', undefined, undefined],
    ['function.', undefined, undefined],
    ['.handler', undefined, undefined],
    ['src/.handler', undefined, undefined],
    ['v1.2/run', undefined, undefined],
  ])('splits %j on the last dot into file %j and method %j', (handler, file, method) => {
    expect(parseHandlerName(handler)).toEqual({ whole: handler, file, method });
  });

  it.each([
    ['', /empty/],
    ['/etc/passwd', /absolute/],
    ['/abs.handler', /absolute/],
    ['../x.handler', /'\.\.'/],
    ['a/../../x.handler', /'\.\.'/],
    ['..', /'\.\.'/],
    ['function.handler\n', /control characters/],
    ['function\u0000.handler', /control characters/],
    ['func\ttion.handler', /control characters/],
    ['function.handler\u007f', /control characters/],
    ['function\\x.handler', /backslashes/],
    ['..\\x.handler', /backslashes/],
    ['x'.repeat(257), /longer than 256/],
  ])('rejects %j with InvalidHandlerError (%s)', (handler, message) => {
    const error = thrown(InvalidHandlerError, () => parseHandlerName(handler));
    expect(error.name).toBe('Runtime.InvalidHandler');
    expect(error.message).toMatch(message);
  });
});

describe('resolveHandler: hostile or malformed _HANDLER values', () => {
  // The task root holds a function.sh that defines everything a hostile name could reach, and the
  // folder above it holds x.sh, so a rejection is the validation's doing, not a missing file's.
  const parent = tempDir();
  writeFiles(parent, { 'x.sh': 'handler() { :; }\n' });
  const root = writeFiles(path.join(parent, 'task'), {
    'function.sh': BASH_FUNCTIONS,
    'a/keep.txt': '',
  });

  it.each([
    'function.$(id)',
    'function.$(touch pwned)',
    'function.`touch pwned`',
    'function.handler;touch pwned',
    'function.a b',
    'function.1abc',
    'function.-e',
    'function.handler\n',
    'function.hand\u0000ler',
    'function.hand\\ler',
    'func\ttion.handler',
    '../x.handler',
    'a/../../x.handler',
    '..',
    '/etc/passwd',
    '/abs.handler',
    '',
  ])('rejects %j with InvalidHandlerError and touches no file', (handler) => {
    const before = snapshot(parent);
    const error = thrown(InvalidHandlerError, () => resolve(handler, root));
    expect(error.name).toBe('Runtime.InvalidHandler');
    expect(snapshot(parent)).toEqual(before);
    expect(fs.existsSync(path.join(process.cwd(), 'pwned'))).toBe(false);
  });

  it.each(['function', 'function.', '.handler', '.', './'])(
    'reports %j, which is no file and not file.method, as HandlerNotFoundError',
    (handler) => {
      const error = thrown(HandlerNotFoundError, () => resolve(handler, root));
      expect(error.name).toBe('Runtime.HandlerNotFound');
      expect(error.message).toContain('file.method');
    },
  );

  it("resolves 'function.eval' only as a method name passed to the shim, never running anything", () => {
    const dir = taskRoot({ 'function.sh': 'touch "$PWD/executed"\neval() { :; }\n' });
    const resolved = resolve('function.eval', dir);
    expect(resolved.mode).toBe('function');
    expect(resolved.method).toBe('eval');
    expect(resolved.args).toEqual([
      path.join(SHIM_DIR, 'function-bash.sh'),
      path.join(dir, 'function.sh'),
      'eval',
    ]);
    expect(fs.existsSync(path.join(dir, 'executed'))).toBe(false);
    expect(fs.existsSync(path.join(process.cwd(), 'executed'))).toBe(false);
  });

  it("reports 'function.eval' as HandlerNotFoundError when there is no function file", () => {
    thrown(HandlerNotFoundError, () => resolve('function.eval', taskRoot({ 'other.sh': BASH_FUNCTIONS })));
  });
});

describe('resolveHandler: symlinks', () => {
  const outside = writeFiles(tempDir(), {
    'evil.sh': 'handler() { :; }\n',
    'index.php': '<?php echo 1;',
    'lib/x.sh': 'handler() { :; }\n',
  });

  it.each([
    ['function.handler', 'function.sh', 'evil.sh'],
    ['index.php', 'index.php', 'index.php'],
    ['lib/x.handler', 'lib', 'lib'],
    ['run.main', 'run', 'evil.sh'],
  ])('rejects %j when %s is a symlink to %s outside the task root', (handler, link, target) => {
    const root = taskRoot();
    fs.symlinkSync(path.join(outside, target), path.join(root, link));
    const error = thrown(InvalidHandlerError, () => resolve(handler, root));
    expect(error.message).toContain('outside the task root');
  });

  it('follows a symlink that stays inside the task root, to the real file', () => {
    const root = taskRoot({ 'lib/handler.sh': BASH_FUNCTIONS });
    fs.symlinkSync('lib/handler.sh', path.join(root, 'function.sh'));
    const resolved = resolve('function.handler', root);
    expect(resolved.file).toBe(path.join(root, 'lib/handler.sh'));
    expect(resolved.args[1]).toBe(path.join(root, 'lib/handler.sh'));
  });

  it('resolves against the real path of a task root that is itself a symlink', () => {
    const root = taskRoot({ 'function.sh': BASH_FUNCTIONS });
    const link = path.join(tempDir(), 'task');
    fs.symlinkSync(root, link);
    expect(resolve('function.handler', link).file).toBe(path.join(root, 'function.sh'));
  });
});

describe('resolveHandler: script mode (_HANDLER names a file)', () => {
  it.each([
    ['index.php', 'php-cgi', 'php'],
    ['app.py', 'python3', 'python'],
    ['run.sh', 'bash', 'bash'],
    ['run.bash', 'bash', 'bash'],
    ['main.rb', 'ruby', 'ruby'],
    ['main.pl', 'perl', 'perl'],
    ['src/index.php', 'php-cgi', 'php'],
  ])('runs %s whole with %s', (handler, program, language) => {
    const root = taskRoot({ [handler]: '' });
    const resolved = resolve(handler, root);
    expect(resolved).toMatchObject({ mode: 'script', method: undefined, command: onPath(program) });
    expect(resolved.language?.name).toBe(language);
    expect(resolved.file).toBe(path.join(root, handler));
    expect(resolved.args).toEqual([path.join(root, handler)]);
  });

  it.each(['server.js', 'server.mjs', 'server.cjs'])(
    'runs %s with the Node binary running the runtime',
    (handler) => {
      const root = taskRoot({ [handler]: '' });
      const resolved = resolve(handler, root, { searchPath: tempDir() });
      expect(resolved.command).toBe(process.execPath);
      expect(resolved.args).toEqual([path.join(root, handler)]);
    },
  );

  it('runs an executable with a shebang as the command itself', () => {
    const root = taskRoot({ tool: { content: '#!/bin/sh\necho hello\n', mode: EXECUTABLE } });
    expect(resolve('tool', root)).toMatchObject({
      mode: 'script',
      file: path.join(root, 'tool'),
      language: undefined,
      command: path.join(root, 'tool'),
      args: [],
    });
  });

  it('refuses a file with no known extension that is not executable', () => {
    const root = taskRoot({ tool: '#!/bin/sh\necho hello\n' });
    const error = thrown(HandlerNotExecutableError, () => resolve('tool', root));
    expect(error.name).toBe('Runtime.HandlerNotExecutable');
    expect(error.message).toContain('chmod 755');
  });

  it('refuses an executable whose shebang line ends in CRLF, naming the cause', () => {
    const root = taskRoot({ tool: { content: '#!/bin/sh\r\necho hello\r\n', mode: EXECUTABLE } });
    const error = thrown(HandlerNotExecutableError, () => resolve('tool', root));
    expect(error.message).toContain('CRLF');
  });

  it.each([
    ['#!/nonexistent/interpreter\n', '/nonexistent/interpreter'],
    ['#!/usr/bin/env shlambda-no-such-program\n', 'shlambda-no-such-program'],
  ])('refuses an executable whose shebang %j names a missing interpreter', (shebang, missing) => {
    const root = taskRoot({ tool: { content: shebang, mode: EXECUTABLE } });
    const error = thrown(InterpreterNotFoundError, () => resolve('tool', root));
    expect(error.message).toContain(missing);
  });

  it('prefers the whole file over function mode when _HANDLER names an existing file', () => {
    const root = taskRoot({ 'index.php': '', 'index.sh': BASH_FUNCTIONS });
    expect(resolve('index.php', root).mode).toBe('script');
  });
});

describe('resolveHandler: function mode (file.method)', () => {
  const node = process.execPath;
  const order = [
    ['.sh', onPath('bash'), 'bash', 'function-bash.sh'],
    ['.bash', onPath('bash'), 'bash', 'function-bash.sh'],
    ['.php', onPath('php'), 'php', 'function-php.php'],
    ['.py', onPath('python3'), 'python', 'function-python.py'],
    ['.rb', onPath('ruby'), 'ruby', 'function-ruby.rb'],
    ['.pl', onPath('perl'), 'perl', 'function-perl.pl'],
    ['.js', node, 'node', 'function-node.mjs'],
    ['.mjs', node, 'node', 'function-node.mjs'],
    ['.cjs', node, 'node', 'function-node.mjs'],
  ] as const;

  it.each(order.map((row, index) => [...row, index] as const))(
    'picks function%s before every later extension, run by %s through its shim',
    (extension, command, language, shim, index) => {
      // The root holds this extension and every one after it in the order.
      const root = taskRoot(Object.fromEntries(order.slice(index).map(([ext]) => [`function${ext}`, ''])));
      const file = path.join(root, `function${extension}`);
      const resolved = resolve('function.handler', root);
      expect(resolved).toMatchObject({ mode: 'function', file, method: 'handler', command });
      expect(resolved.language?.name).toBe(language);
      expect(resolved.args).toEqual([path.join(SHIM_DIR, shim), file, 'handler']);
    },
  );

  it('finds function files in a folder of the task root', () => {
    const root = taskRoot({ 'src/function.sh': BASH_FUNCTIONS });
    expect(resolve('src/function.handler', root).file).toBe(path.join(root, 'src/function.sh'));
  });

  it('skips a folder that has the name of a handler file', () => {
    const root = taskRoot({ 'function.sh/readme': '', 'function.py': 'def handler(e, c): pass\n' });
    expect(resolve('function.handler', root).file).toBe(path.join(root, 'function.py'));
  });

  it('runs an executable without extension with the method as its argument', () => {
    const root = taskRoot({ run: { content: '#!/bin/sh\necho "$1"\n', mode: EXECUTABLE } });
    expect(resolve('run.main', root)).toEqual({
      mode: 'executable',
      file: path.join(root, 'run'),
      method: 'main',
      language: undefined,
      command: path.join(root, 'run'),
      args: ['main'],
    });
  });

  it('refuses a file without extension for file.method when it is not executable', () => {
    const root = taskRoot({ run: '#!/bin/sh\necho "$1"\n' });
    thrown(HandlerNotExecutableError, () => resolve('run.main', root));
  });

  it('names the fix when the handler setting includes the file extension (function.sh.handler)', () => {
    const root = taskRoot({ 'function.sh': BASH_FUNCTIONS });
    const error = thrown(InvalidHandlerError, () => resolve('function.sh.handler', root));
    expect(error.name).toBe('Runtime.InvalidHandler');
    expect(error.message).toContain('set it to function.handler');
  });

  it('lists every file it looked for when none exists', () => {
    const root = taskRoot({ 'other.sh': BASH_FUNCTIONS });
    const error = thrown(HandlerNotFoundError, () => resolve('function.handler', root));
    expect(error.name).toBe('Runtime.HandlerNotFound');
    for (const tried of [
      'function.handler',
      'function.sh',
      'function.bash',
      'function.php',
      'function.py',
      'function.rb',
      'function.pl',
      'function.js',
      'function.mjs',
      'function.cjs',
      'function (an executable)',
      root,
    ]) {
      expect(error.message).toContain(tried);
    }
  });

  it('reports a task root that does not exist', () => {
    const missing = path.join(tempDir(), 'nope');
    const error = thrown(HandlerNotFoundError, () => resolve('function.handler', missing));
    expect(error.message).toContain('LAMBDA_TASK_ROOT');
    expect(error.message).toContain(missing);
  });
});

describe('resolveHandler: interpreters', () => {
  it.each([
    ['function.handler', 'function.py', 'python3'],
    ['function.handler', 'function.sh', 'bash'],
    ['function.handler', 'function.rb', 'ruby'],
    ['index.php', 'index.php', 'php-cgi'],
    ['app.pl', 'app.pl', 'perl'],
  ])(
    '%s with %s and no %s on PATH fails with InterpreterNotFoundError naming it and PATH',
    (handler, file, program) => {
      const emptyPath = tempDir();
      const error = thrown(InterpreterNotFoundError, () =>
        resolve(handler, taskRoot({ [file]: '' }), { searchPath: emptyPath }),
      );
      expect(error.name).toBe('Runtime.InterpreterNotFound');
      expect(error.message).toContain(`'${program}'`);
      expect(error.message).toContain(emptyPath);
    },
  );

  it('needs nothing on PATH for Node handlers', () => {
    const root = taskRoot({ 'function.mjs': 'export const handler = () => 1;\n' });
    expect(resolve('function.handler', root, { searchPath: tempDir() }).command).toBe(process.execPath);
  });

  describe('forcedInterpreter (SHLAMBDA_INTERPRETER)', () => {
    const bin = writeFiles(tempDir(), { php82: { content: '#!/bin/sh\nexec php "$@"\n', mode: EXECUTABLE } });
    const php82 = path.join(bin, 'php82');

    it.each([
      ['an absolute path', php82, SEARCH_PATH],
      ['a name on PATH', 'php82', `${bin}:${SEARCH_PATH}`],
    ])('overrides the interpreter of a known extension, given as %s', (_, forced, searchPath) => {
      const root = taskRoot({ 'index.php': '' });
      const resolved = resolve('index.php', root, { forcedInterpreter: forced, searchPath });
      expect(resolved.command).toBe(php82);
      expect(resolved.args).toEqual([path.join(root, 'index.php')]);
    });

    it('says to correct SHLAMBDA_INTERPRETER when what it names is not there', () => {
      const root = taskRoot({ 'function.py': 'def handler(e, c): pass\n' });
      const error = thrown(InterpreterNotFoundError, () =>
        resolve('function.handler', root, { forcedInterpreter: 'python9' }),
      );
      expect(error.message).toContain("need 'python9'");
      expect(error.message).toContain('SHLAMBDA_INTERPRETER names it: correct the variable');
    });

    it('runs a function file with the forced interpreter and the usual shim', () => {
      const root = taskRoot({ 'function.php': '<?php function handler() {}' });
      const resolved = resolve('function.handler', root, { forcedInterpreter: php82 });
      expect(resolved.command).toBe(php82);
      expect(resolved.args).toEqual([
        path.join(SHIM_DIR, 'function-php.php'),
        path.join(root, 'function.php'),
        'handler',
      ]);
    });

    it('runs a file without extension through it, without needing the executable bit', () => {
      const root = taskRoot({ page: '<?php echo 1;' });
      expect(resolve('page', root, { forcedInterpreter: php82 })).toMatchObject({
        mode: 'script',
        command: php82,
        args: [path.join(root, 'page')],
      });
    });

    it('passes the method after the file in executable mode', () => {
      const root = taskRoot({ run: { content: '<?php echo 1;', mode: EXECUTABLE } });
      expect(resolve('run.main', root, { forcedInterpreter: php82 })).toMatchObject({
        mode: 'executable',
        command: php82,
        args: [path.join(root, 'run'), 'main'],
      });
    });

    it('fails with InterpreterNotFoundError naming a forced interpreter that does not exist', () => {
      const root = taskRoot({ 'index.php': '' });
      const error = thrown(InterpreterNotFoundError, () =>
        resolve('index.php', root, { forcedInterpreter: 'php-none-such' }),
      );
      expect(error.message).toContain('php-none-such');
      expect(error.message).toContain('SHLAMBDA_INTERPRETER');
    });
  });
});

describe('resolveHandler: web handlers (CGI)', () => {
  it('runs a PHP page through php-cgi as a CGI script', () => {
    const root = taskRoot({ 'index.php': '<?php echo 1;' });
    expect(resolve('index.php', root)).toMatchObject({
      mode: 'script',
      command: onPath('php-cgi'),
      cgi: 'php',
    });
  });

  it('keeps the php command line for PHP function handlers', () => {
    const root = taskRoot({ 'function.php': '<?php function handler() {}' });
    const resolved = resolve('function.handler', root);
    expect(resolved.command).toBe(onPath('php'));
    expect(resolved.cgi).toBeUndefined();
  });

  it('runs a PHP page with the php command line, not as CGI, with SHLAMBDA_CGI=0', () => {
    const root = taskRoot({ 'index.php': '' });
    const resolved = resolve('index.php', root, { cgi: 'off' });
    expect(resolved.command).toBe(onPath('php'));
    expect(resolved.cgi).toBeUndefined();
  });

  it('names php-cgi and how to get it when it is not on PATH', () => {
    const bin = writeFiles(tempDir(), { php: { content: '#!/bin/sh\n', mode: EXECUTABLE } });
    const error = thrown(InterpreterNotFoundError, () =>
      resolve('index.php', taskRoot({ 'index.php': '' }), { searchPath: bin }),
    );
    expect(error.message).toContain("'php-cgi'");
    expect(error.message).toContain('apt-get install php-cgi');
    expect(error.message).toContain('/opt/bin');
  });

  it.each([
    ['page.sh', '', 0o644, onPath('bash')],
    ['app.py', '', 0o644, onPath('python3')],
    ['hello.cgi', '#!/bin/sh\necho\n', EXECUTABLE, 'self'],
  ])('runs %s as a CGI script with SHLAMBDA_CGI=1', (handler, content, mode, command) => {
    const root = taskRoot({ [handler]: { content, mode } });
    const resolved = resolve(handler, root, { cgi: 'on' });
    expect(resolved).toMatchObject({ mode: 'script', cgi: 'script' });
    expect(resolved.command).toBe(command === 'self' ? path.join(root, handler) : command);
  });

  it('leaves other scripts alone without SHLAMBDA_CGI', () => {
    expect(resolve('page.sh', taskRoot({ 'page.sh': '' })).cgi).toBeUndefined();
  });

  it('refuses SHLAMBDA_CGI=1 with a function handler, at init', () => {
    const root = taskRoot({ 'function.sh': BASH_FUNCTIONS });
    const error = thrown(ConfigError, () => resolve('function.handler', root, { cgi: 'on' }));
    expect(error.name).toBe('Runtime.InvalidConfig');
    expect(error.message).toContain('SHLAMBDA_CGI');
  });
});
