/** Unit tests for the init check that the handler's function exists: real bash for .sh files, a text check for the rest. */

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { HandlerFunctionNotFoundError, HandlerLoadError, toErrorPayload } from '../../runtime/errors.ts';
import { checkFunctionDefined } from '../../runtime/function-check.ts';
import { type ResolvedHandler, resolveHandler } from '../../runtime/handler-resolver.ts';
import { LANGUAGES_BY_EXTENSION } from '../../runtime/interpreters.ts';
import { thrownAsync } from '../helpers/thrown.ts';

const temps: string[] = [];
afterAll(() => {
  for (const dir of temps) fs.rmSync(dir, { recursive: true, force: true });
});

/** A task root holding `files`, by its real path. */
function taskRoot(files: Record<string, string>): string {
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'shlambda-check-')));
  temps.push(dir);
  for (const [name, content] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), content);
  return dir;
}

const ENV: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: '/tmp' };

function resolve(root: string, handler: string): ResolvedHandler {
  return resolveHandler({
    handler,
    taskRoot: root,
    shimDir: '/opt/shlambda',
    searchPath: process.env.PATH ?? '',
    forcedInterpreter: undefined,
    nodePath: process.execPath,
  });
}

/** Resolves `handler` in a task root holding `files` and runs the init check on it. */
async function check(files: Record<string, string>, handler = 'function.handler', env = ENV): Promise<void> {
  const root = taskRoot(files);
  await checkFunctionDefined(resolve(root, handler), { taskRoot: root, env, timeoutMs: 10_000 });
}

describe('checkFunctionDefined: bash, by sourcing the file in a real bash', () => {
  it.each([
    ['name() form', 'handler() {\n  echo "$1"\n}\n'],
    ['function keyword', 'function handler {\n  echo "$1"\n}\n'],
    ['function keyword and parentheses', 'function handler() { echo "$1"; }\n'],
    ['helpers around it', 'log() { echo "$*" >&2; }\nhandler() { log hi; echo "$1"; }\nutil() { :; }\n'],
    [
      'top-level output, which is not the response',
      'echo "loading" \nprintf "%s\\n" __shlambda_loaded__\nhandler() { :; }\n',
    ],
    [
      'top-level read of stdin, which gets end of file',
      'read -r first_line || true\ncat\nhandler() { :; }\n',
    ],
    [
      'a top level that ends with a failed test',
      'handler() { :; }\n[ -n "$UNSET_SETTING" ] && echo configured\n',
    ],
  ])('passes a file that defines the function: %s', async (_, content) => {
    await expect(check({ 'function.sh': content })).resolves.toBeUndefined();
  });

  it('loads the file from the task root, so it can source its own helpers', async () => {
    await expect(
      check({ 'function.sh': 'source ./lib.sh\n', 'lib.sh': 'handler() { :; }\n' }),
    ).resolves.toBeUndefined();
  });

  it("loads the file with the function's environment", async () => {
    const files = { 'function.sh': 'if [ "$FEATURE" = on ]; then handler() { :; }; fi\n' };
    await expect(check(files, 'function.handler', { ...ENV, FEATURE: 'on' })).resolves.toBeUndefined();
    await thrownAsync(HandlerFunctionNotFoundError, () => check(files, 'function.handler', ENV));
  });

  it.each([
    ['a typo', 'handlr', 'handler() { :; }\n', "function.sh defines no function 'handlr' (defined: handler)"],
    [
      'several functions',
      'main',
      'handler() { :; }\nhelper() { :; }\n',
      "function.sh defines no function 'main' (defined: handler, helper)",
    ],
    [
      'no function at all',
      'handler',
      'echo hello\n',
      "function.sh defines no function 'handler' (it defines none)",
    ],
    [
      'the name only in a comment and a variable',
      'handler',
      '# handler: the entry point\nhandler=1\nmain() { :; }\n',
      "function.sh defines no function 'handler' (defined: main)",
    ],
  ])('fails with HandlerFunctionNotFoundError for %s', async (_, method, content, message) => {
    const error = await thrownAsync(HandlerFunctionNotFoundError, () =>
      check({ 'function.sh': content }, `function.${method}`),
    );
    expect(error.name).toBe('Runtime.HandlerFunctionNotFound');
    expect(error.message).toContain(message);
    expect(error.message).toContain('set the handler to function.<function>');
  });

  it('fails with HandlerLoadError, carrying its stderr, when the top level exits', async () => {
    const content = 'echo "CONFIG_URL is not set" >&2\nexit 3\nhandler() { :; }\n';
    const error = await thrownAsync(HandlerLoadError, () => check({ 'function.sh': content }));
    expect(error.message).toContain('function.sh exited with code 3 while being loaded at init');
    expect(toErrorPayload(error)).toMatchObject({
      errorType: 'Runtime.HandlerLoadFailed',
      stackTrace: ['CONFIG_URL is not set'],
    });
  });

  it('fails with HandlerLoadError when the top level runs past the time allowed', async () => {
    const root = taskRoot({ 'function.sh': 'while :; do :; done\nhandler() { :; }\n' });
    const handler = resolve(root, 'function.handler');
    await thrownAsync(HandlerLoadError, () =>
      checkFunctionDefined(handler, { taskRoot: root, env: ENV, timeoutMs: 300 }),
    );
  });

  it('reports the syntax error of a file that does not parse, not just a missing function', async () => {
    const error = await thrownAsync(Error, () => check({ 'function.sh': 'handler() {\n  echo "$1"\n' }));
    const payload = toErrorPayload(error);
    expect([payload.errorMessage, ...payload.stackTrace].join('\n')).toMatch(/syntax error/);
  });
});

describe('checkFunctionDefined: other languages, by reading the text only', () => {
  const cases = [
    [
      '.py',
      'import json\n\ndef handler(event, context):\n    return helper(event)\n\ndef helper(e):\n    return e\n\nasync def other(event, context):\n    pass\n',
      'handler, helper, other',
    ],
    [
      '.php',
      '<?php\nfunction handler($event, $context) {\n  return $event;\n}\nFunction &byRef() {}\n',
      'handler, byRef',
    ],
    [
      '.rb',
      'require "json"\n\ndef handler(event:, context:)\n  event\nend\n\ndef helper; end\n',
      'handler, helper',
    ],
    ['.pl', 'use strict;\nsub handler {\n  my ($event) = @_;\n}\nsub helper { }\n', 'handler, helper'],
    [
      '.mjs',
      'export async function handler(event) {\n  return event;\n}\nexport const other = () => 1;\n',
      'handler, other',
    ],
    ['.js', 'exports.handler = async (event) => event;\nexports.other = () => 1;\n', 'handler, other'],
    ['.cjs', 'exports.handler = async (event) => event;\n', 'handler'],
  ] as const;

  /** A function-mode handler for `file`, whose interpreter does not exist: the check must not run it. */
  function textHandler(root: string, file: string, method: string): ResolvedHandler {
    const language = LANGUAGES_BY_EXTENSION.get(path.extname(file));
    return {
      mode: 'function',
      file: path.join(root, file),
      method,
      language,
      command: path.join(root, 'no-such-interpreter'),
      args: [],
    };
  }

  async function checkText(extension: string, content: string, method: string): Promise<void> {
    const file = `function${extension}`;
    const root = taskRoot({ [file]: content });
    await checkFunctionDefined(textHandler(root, file, method), {
      taskRoot: root,
      env: ENV,
      timeoutMs: 10_000,
    });
  }

  it.each(cases)('passes a %s file that defines the function', async (extension, content) => {
    await expect(checkText(extension, content, 'handler')).resolves.toBeUndefined();
  });

  it.each(cases)(
    'fails for a %s file that never mentions the name, listing what it defines',
    async (extension, content, defined) => {
      const error = await thrownAsync(HandlerFunctionNotFoundError, () =>
        checkText(extension, content, 'handlr'),
      );
      expect(error.message).toContain(
        `function${extension} defines no function 'handlr' (defined: ${defined})`,
      );
    },
  );

  it.each([
    ['a prefix of a defined name', 'handle'],
    ['a name that only ends a defined one', 'andler'],
  ])('does not accept %s', async (_, method) => {
    await thrownAsync(HandlerFunctionNotFoundError, () =>
      checkText('.py', 'def handler(event, context):\n    pass\n', method),
    );
  });

  it('says so when the file defines no function at all', async () => {
    const error = await thrownAsync(HandlerFunctionNotFoundError, () =>
      checkText('.py', 'print("hello")\n', 'handler'),
    );
    expect(error.message).toContain("function.py defines no function 'handler' (it defines none)");
  });
});

describe('checkFunctionDefined: modes without a function', () => {
  it('does not run a whole-script handler at init', async () => {
    const root = taskRoot({ 'run.sh': 'touch "$PWD/executed"\nexit 3\n' });
    await expect(
      checkFunctionDefined(resolve(root, 'run.sh'), { taskRoot: root, env: ENV, timeoutMs: 10_000 }),
    ).resolves.toBeUndefined();
    expect(fs.existsSync(path.join(root, 'executed'))).toBe(false);
  });
});
