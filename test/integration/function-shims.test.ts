/**
 * The function-mode shims in `layer/shlambda/`, run on the real interpreters exactly as the runtime starts
 * them: what a handler author sees of the event, the context, the response, the log and the errors.
 */

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import type net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ErrorPayload } from '../helpers/function-dir.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SHIMS = path.join(ROOT, 'layer/shlambda');
const FIXTURES = path.join(ROOT, 'test/fixtures/shims');
const HANDLERS = path.join(ROOT, 'handlers');

interface Language {
  name: string;
  /** What the tests are titled by: the name, and what else sets this entry apart. */
  title: string;
  /** Added to the interpreter's environment. */
  env?: Record<string, string>;
  /** The interpreter, as the runtime starts it (Node: the runtime's own binary). */
  program: string;
  /** How to get it when it is missing; CI installs these. */
  install: string;
  shim: string;
  ext: string;
  /** The class of what the fixture's `fail` throws. */
  failType: string;
  /** Source that does not compile (written by the test: Biome would refuse a broken .mjs in the tree). */
  syntaxError: string;
  /** Whether its JSON decoder stops at some depth (512 levels, Python's at its recursion limit). */
  limitsEventDepth: boolean;
  /** The descriptor the runtime gives it for the result (`_SHLAMBDA_RESULT_FD`), its stdout then being
   *  log; else the result is its stdout. */
  resultFd?: number;
}

const LANGUAGES: Language[] = [
  {
    name: 'python',
    title: 'python',
    program: 'python3',
    install: 'apt-get install python3',
    shim: 'function-python.py',
    ext: 'py',
    failType: 'ValueError',
    syntaxError: 'def handler(event, context):\n    return {"unclosed": [1, 2}\n',
    limitsEventDepth: true,
  },
  {
    name: 'php',
    title: 'php',
    program: 'php',
    install: 'apt-get install php-cli',
    shim: 'function-php.php',
    ext: 'php',
    failType: 'RuntimeException',
    syntaxError: '<?php\nfunction handler($event, $context) {\n    return [1, 2;\n}\n',
    limitsEventDepth: true,
  },
  {
    name: 'ruby',
    title: 'ruby',
    program: 'ruby',
    install: 'apt-get install ruby',
    shim: 'function-ruby.rb',
    ext: 'rb',
    failType: 'ArgumentError',
    syntaxError: 'def handler(event:, context:)\n  { unclosed: [1, 2 }\nend\n',
    limitsEventDepth: true,
  },
  {
    name: 'perl',
    title: 'perl',
    program: 'perl',
    install: 'apt-get install perl libcpanel-json-xs-perl',
    shim: 'function-perl.pl',
    ext: 'pl',
    failType: 'My::Error',
    syntaxError: 'sub handler {\n  return { unclosed => [1, 2 };\n}\n1;\n',
    limitsEventDepth: true,
  },
  {
    // The same shim where Perl has no Cpanel::JSON::XS: it falls back to JSON::PP, part of core Perl.
    name: 'perl',
    title: 'perl (JSON::PP)',
    env: { PERL5LIB: path.join(ROOT, 'test/fixtures/perl-without-xs') },
    program: 'perl',
    install: 'apt-get install perl',
    shim: 'function-perl.pl',
    ext: 'pl',
    failType: 'My::Error',
    syntaxError: 'sub handler {\n  return { unclosed => [1, 2 };\n}\n1;\n',
    limitsEventDepth: true,
  },
  {
    name: 'node',
    title: 'node',
    program: process.execPath,
    install: 'install Node.js 20 or later',
    shim: 'function-node.mjs',
    ext: 'mjs',
    failType: 'TypeError',
    syntaxError: 'export const handler = async (event) => {\n  return { unclosed: [1, 2 };\n};\n',
    limitsEventDepth: false,
    resultFd: 3,
  },
];

/** How far ahead the invocation's deadline is; the context's remaining time can never exceed it. */
const DEADLINE_AHEAD_MS = 600_000;

interface ShimRun {
  requestId: string;
  status: number | null;
  stdout: Buffer;
  stderr: string;
}

let workDir: string;
let runs = 0;

beforeAll(() => {
  workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'shlambda-shims-'));
  // Copies, so nothing the interpreters write (Python's __pycache__) lands in the source tree.
  fs.cpSync(FIXTURES, path.join(workDir, 'task'), { recursive: true });
  fs.cpSync(HANDLERS, path.join(workDir, 'examples'), { recursive: true });
  for (const language of LANGUAGES) {
    fs.writeFileSync(taskFile(language, `syntax_error.${language.ext}`), language.syntaxError);
  }
});

afterAll(() => {
  fs.rmSync(workDir, { recursive: true, force: true });
});

function taskFile(language: Language, file: string): string {
  return path.join(workDir, 'task', language.name, file);
}

/**
 * Runs `<program> <shim> <file> <method>` as the runtime does: cwd the task root, the invocation's
 * variables in the environment, and the event as a regular file on stdin.
 */
function runShim(language: Language, file: string, method: string, event: string | Buffer): Promise<ShimRun> {
  const requestId = `req-${language.name}-${++runs}`;
  const eventFile = path.join(workDir, `event-${runs}`);
  fs.writeFileSync(eventFile, event);
  const stdinFd = fs.openSync(eventFile, 'r');
  const { NODE_OPTIONS: _ignored, ...inherited } = process.env;
  const env: NodeJS.ProcessEnv = {
    ...inherited,
    LAMBDA_TASK_ROOT: path.dirname(file),
    LAMBDA_REQUEST_ID: requestId,
    LAMBDA_DEADLINE_MS: String(Date.now() + DEADLINE_AHEAD_MS),
    LAMBDA_INVOKED_FUNCTION_ARN: 'arn:aws:lambda:eu-west-1:123456789012:function:shims',
    _X_AMZN_TRACE_ID: 'Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1',
    AWS_LAMBDA_FUNCTION_NAME: 'shims',
    AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '256',
    AWS_LAMBDA_LOG_GROUP_NAME: '/aws/lambda/shims',
    AWS_LAMBDA_LOG_STREAM_NAME: '2024/01/01/[$LATEST]abcdef',
    ...language.env,
    ...(language.resultFd ? { _SHLAMBDA_RESULT_FD: String(language.resultFd) } : {}),
  };
  return new Promise((resolve, reject) => {
    const child = spawn(language.program, [path.join(SHIMS, language.shim), file, method], {
      cwd: path.dirname(file),
      env,
      stdio: language.resultFd ? [stdinFd, 'pipe', 'pipe', 'pipe'] : [stdinFd, 'pipe', 'pipe'],
    });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    const result = language.resultFd ? child.stdio[language.resultFd] : child.stdout;
    result?.on('data', (chunk: Buffer) => stdout.push(chunk));
    // Logged, as the runtime logs it, when the result has a descriptor of its own.
    if (language.resultFd) child.stdout?.on('data', (chunk: Buffer) => stderr.push(chunk));
    child.stderr?.on('data', (chunk: Buffer) => stderr.push(chunk));
    child.on('error', (error: NodeJS.ErrnoException) => {
      fs.closeSync(stdinFd);
      reject(
        error.code === 'ENOENT'
          ? new Error(
              `${language.program} is not installed: ${language.install} to run the ${language.name} shim tests`,
            )
          : error,
      );
    });
    child.on('close', (status) => {
      fs.closeSync(stdinFd);
      resolve({
        requestId,
        status,
        stdout: Buffer.concat(stdout),
        stderr: Buffer.concat(stderr).toString('utf8'),
      });
    });
  });
}

/**
 * Runs a shim the way the runtime prestarts it (runtime/spare-process.ts): started with empty event and
 * context files and no invocation variables; once it says `R` on fd 3, the event and the context are
 * written and the go is sent, or with `go: false` the socket is just closed, as when it is discarded.
 */
function runPrestarted(
  language: Language,
  file: string,
  method: string,
  event: string,
  go = true,
): Promise<ShimRun & { saidReady: boolean }> {
  const requestId = `req-${language.name}-${++runs}`;
  const eventFd = fs.openSync(path.join(workDir, `event-${runs}`), 'w+');
  const contextFd = fs.openSync(path.join(workDir, `context-${runs}`), 'w+');
  const { NODE_OPTIONS: _ignored, ...inherited } = process.env;
  const env: NodeJS.ProcessEnv = {
    ...inherited,
    LAMBDA_TASK_ROOT: path.dirname(file),
    AWS_LAMBDA_FUNCTION_NAME: 'shims',
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '256',
    _SHLAMBDA_SPARE: '1',
    ...language.env,
  };
  const context = [
    `LAMBDA_REQUEST_ID=${requestId}`,
    `LAMBDA_DEADLINE_MS=${Date.now() + DEADLINE_AHEAD_MS}`,
    'LAMBDA_INVOKED_FUNCTION_ARN=arn:aws:lambda:eu-west-1:123456789012:function:shims',
    'NOT_A_CONTEXT_NAME=ignored',
    '',
  ].join('\n');
  return new Promise((resolve, reject) => {
    const child = spawn(language.program, [path.join(SHIMS, language.shim), file, method], {
      cwd: path.dirname(file),
      env,
      stdio: [eventFd, 'pipe', 'pipe', 'pipe', contextFd],
    });
    const control = child.stdio[3] as net.Socket;
    let saidReady = false;
    control.on('error', () => {});
    control.on('data', (chunk: Buffer) => {
      if (saidReady || !chunk.includes(0x52)) return;
      saidReady = true;
      if (!go) {
        control.end();
        return;
      }
      for (const [fd, text] of [
        [eventFd, event],
        [contextFd, context],
      ] as const) {
        const bytes = Buffer.from(text);
        fs.writeSync(fd, bytes, 0, bytes.length, 0);
      }
      control.end('G');
    });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout?.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr?.on('data', (chunk: Buffer) => stderr.push(chunk));
    child.on('error', reject);
    child.on('close', (status) => {
      fs.closeSync(eventFd);
      fs.closeSync(contextFd);
      resolve({
        requestId,
        status,
        saidReady,
        stdout: Buffer.concat(stdout),
        stderr: Buffer.concat(stderr).toString('utf8'),
      });
    });
  });
}

function exampleFile(language: Language): string {
  return path.join(workDir, 'examples', language.name, `handler.${language.ext}`);
}

function functionsFile(language: Language): string {
  return taskFile(language, `functions.${language.ext}`);
}

/** The response of a run that must have succeeded, decoded; says what went wrong otherwise. */
function responseOf(run: ShimRun): unknown {
  expect(run.status, `exit status; stderr:\n${run.stderr}`).toBe(0);
  return JSON.parse(run.stdout.toString('utf8'));
}

function errorOf(run: ShimRun): ErrorPayload {
  expect(run.status, `exit status; stderr:\n${run.stderr}`).toBe(1);
  const payload = JSON.parse(run.stdout.toString('utf8')) as ErrorPayload;
  expect(Object.keys(payload).sort()).toEqual(['errorMessage', 'errorType', 'stackTrace']);
  expect(Array.isArray(payload.stackTrace)).toBe(true);
  for (const line of payload.stackTrace) expect(typeof line).toBe('string');
  return payload;
}

interface Report {
  event: unknown;
  requestId: string;
  functionName: string;
  invokedFunctionArn: string;
  memoryLimitInMB: string;
  remainingMs: number;
}

describe.each(LANGUAGES)('$title function shim', (language) => {
  it('answers with the JSON of the return value, with no trailing newline', async () => {
    const event = { name: 'Ada', nested: { list: [1, 2.5, true, null, 'x'] } };
    const run = await runShim(language, functionsFile(language), 'report', JSON.stringify(event));
    const report = responseOf(run) as Report;
    expect(report.event).toEqual(event);
    expect(run.stdout.at(-1)).not.toBe(0x0a);
  });

  it("sends the function's printed output to stderr, not into the response", async () => {
    const run = await runShim(language, functionsFile(language), 'report', '{}');
    expect(run.status).toBe(0);
    expect(run.stderr).toContain(`log line from ${language.name}`);
    expect(run.stdout.toString('utf8')).not.toContain('log line');
  });

  it('passes the invocation context', async () => {
    const run = await runShim(language, functionsFile(language), 'report', '{}');
    const report = responseOf(run) as Report;
    expect(report.requestId).toBe(run.requestId);
    expect(report.functionName).toBe('shims');
    expect(report.invokedFunctionArn).toBe('arn:aws:lambda:eu-west-1:123456789012:function:shims');
    expect(report.memoryLimitInMB).toBe('256');
    expect(report.remainingMs).toBeGreaterThan(0);
    expect(report.remainingMs).toBeLessThanOrEqual(DEADLINE_AHEAD_MS);
  });

  it('round-trips unicode in the event and the response as UTF-8', async () => {
    const event = { name: 'Zoë 🚀 日本語', quote: 'say "hi" / \\ \u2028 tab\t' };
    const run = await runShim(language, functionsFile(language), 'report', JSON.stringify(event));
    expect(() => new TextDecoder('utf-8', { fatal: true }).decode(run.stdout)).not.toThrow();
    expect((responseOf(run) as Report).event).toEqual(event);
  });

  it('passes an event that is not JSON as a string', async () => {
    const run = await runShim(language, functionsFile(language), 'report', 'name=Ada&not json {');
    expect((responseOf(run) as Report).event).toBe('name=Ada&not json {');
  });

  it('decodes an event nested 300 levels deep, and one deeper than its decoder takes is Runtime.UnmarshalError', async () => {
    const nested = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`;
    let event = (
      responseOf(await runShim(language, functionsFile(language), 'report', nested(300))) as Report
    ).event;
    let depth = 0;
    for (; Array.isArray(event); depth++) event = event[0];
    expect(depth).toBe(300);
    if (!language.limitsEventDepth) return;
    // Before, Ruby, PHP and Perl handed the function the JSON text as a string, and Python crashed.
    const error = errorOf(await runShim(language, functionsFile(language), 'report', nested(100_000)));
    expect(error.errorType).toBe('Runtime.UnmarshalError');
    expect(error.errorMessage).toMatch(/^Unable to unmarshal input: the event is nested (more|deeper) than/);
  });

  it('passes an empty event as null', async () => {
    const run = await runShim(language, functionsFile(language), 'report', '');
    expect((responseOf(run) as Report).event).toBeNull();
  });

  it('answers null when the function returns nothing', async () => {
    const run = await runShim(language, functionsFile(language), 'nothing', '{}');
    expect(run.status).toBe(0);
    expect(run.stdout.toString('utf8')).toBe('null');
  });

  it("reports an exception with its class, message and the function's stack", async () => {
    const run = await runShim(language, functionsFile(language), 'fail', '{}');
    const error = errorOf(run);
    expect(error.errorType).toBe(language.failType);
    expect(error.errorMessage).toBe('boom');
    expect(error.stackTrace.join('\n')).toContain(`functions.${language.ext}`);
    expect(run.stderr).toContain(`${language.failType}: boom`);
  });

  it('reports a function the file does not define, naming it and what is there', async () => {
    const run = await runShim(language, functionsFile(language), 'nope', '{}');
    const error = errorOf(run);
    expect(error.errorType).toBe('Runtime.HandlerFunctionNotFound');
    expect(error.errorMessage).toContain("'nope'");
    expect(error.errorMessage).toContain(`functions.${language.ext}`);
    expect(error.errorMessage).toContain('report');
    expect(run.stderr).toContain('Runtime.HandlerFunctionNotFound');
  });

  it('reports a syntax error with where it is', async () => {
    const run = await runShim(language, taskFile(language, `syntax_error.${language.ext}`), 'handler', '{}');
    const error = errorOf(run);
    expect(error.errorType).toBe('Runtime.UserCodeSyntaxError');
    expect([error.errorMessage, ...error.stackTrace].join('\n')).toContain(`syntax_error.${language.ext}`);
  });

  it('reports a file that fails while loading as an import error', async () => {
    const run = await runShim(language, taskFile(language, `load_error.${language.ext}`), 'handler', '{}');
    const error = errorOf(run);
    expect(error.errorType).toBe('Runtime.ImportModuleError');
    expect(error.errorMessage).toContain('cannot start');
  });
});

describe.each(LANGUAGES)('$title function shim', (language) => {
  it("sends a child process's stdout to the log, not into the response", async () => {
    const run = await runShim(language, functionsFile(language), 'shell', '{}');
    expect(responseOf(run)).toBe('done');
    expect(run.stderr).toContain('line from a child process');
  });
});

describe('node function shim, callback style', () => {
  const node = LANGUAGES.find((language) => language.name === 'node') as Language;
  const callbackFile = () => taskFile(node, 'callback.cjs');

  it('answers with the callback result once the event loop is empty, from a CommonJS export', async () => {
    const run = await runShim(node, callbackFile(), 'later', '{}');
    expect(responseOf(run)).toEqual({ answered: 'first' });
    expect(run.stderr).toContain('timer after callback ran');
  });

  it('reports an error passed to the callback', async () => {
    const error = errorOf(await runShim(node, callbackFile(), 'refuse', '{}'));
    expect(error.errorType).toBe('Error');
    expect(error.errorMessage).toBe('refused');
  });
});

describe('perl function shim, its JSON modules', () => {
  const [xs, pp] = LANGUAGES.filter((language) => language.name === 'perl') as [Language, Language];

  it('decodes events with Cpanel::JSON::XS where Perl has it, with JSON::PP where it does not', async () => {
    const backend = async (language: Language) =>
      responseOf(await runShim(language, functionsFile(language), 'json_backend', '{}'));
    expect(await backend(xs), 'apt-get install libcpanel-json-xs-perl (CI does)').toBe('Cpanel::JSON::XS');
    expect(await backend(pp)).toBe('JSON::PP');
  });

  it.each([
    ['a float and the last of duplicate keys', '{"n":1e2,"n":3}', '[2,{"n":3}]'],
    ['an event behind a byte order mark, which is not JSON', '\uFEFF{"n":1}', '[2,"\uFEFF{\\"n\\":1}"]'],
  ])('answers the same bytes with either: %s', async (_, event, expected) => {
    for (const language of [xs, pp]) {
      const run = await runShim(language, functionsFile(language), 'halves', event);
      expect(run.status, run.stderr).toBe(0);
      expect(run.stdout.toString('utf8')).toBe(expected);
    }
  });
});

describe('perl function shim, plain die', () => {
  it('reports a string exception as Error, with where it died', async () => {
    const perl = LANGUAGES.find((language) => language.name === 'perl') as Language;
    const error = errorOf(await runShim(perl, functionsFile(perl), 'fail_with_string', '{}'));
    expect(error.errorType).toBe('Error');
    expect(error.errorMessage).toBe('plain boom');
    expect(error.stackTrace.join('\n')).toContain('functions.pl');
  });
});

describe.each(LANGUAGES)('$title example handler', (language) => {
  it('greets the name from the event with the request id, and logs a line', async () => {
    const run = await runShim(language, exampleFile(language), 'handler', JSON.stringify({ name: 'Ada' }));
    expect(responseOf(run)).toEqual({ message: 'Hello, Ada!', requestId: run.requestId });
    expect(run.stderr).toContain('greeting Ada');
  });

  it('greets the world when the event has no name', async () => {
    const run = await runShim(language, exampleFile(language), 'handler', '{}');
    expect(responseOf(run)).toMatchObject({ message: 'Hello, world!' });
  });
});

describe.each(LANGUAGES)('$title function shim, prestarted before its event', (language) => {
  it('loads the file, says so, then runs on the event and context handed over at the go', async () => {
    const event = { name: 'Ada', list: [1, 2] };
    const run = await runPrestarted(language, functionsFile(language), 'report', JSON.stringify(event));
    expect(run.saidReady).toBe(true);
    const report = responseOf(run) as Report;
    expect(report.event).toEqual(event);
    expect(report.requestId).toBe(run.requestId);
    expect(report.invokedFunctionArn).toBe('arn:aws:lambda:eu-west-1:123456789012:function:shims');
    expect(report.remainingMs).toBeGreaterThan(0);
    expect(report.remainingMs).toBeLessThanOrEqual(DEADLINE_AHEAD_MS);
  });

  it('exits quietly with nothing on stdout when discarded before its event', async () => {
    const run = await runPrestarted(language, functionsFile(language), 'report', '{}', false);
    expect(run.saidReady).toBe(true);
    expect(run.status).toBe(0);
    expect(run.stdout.length).toBe(0);
  });

  it('reports a file that does not load without ever saying it is ready', async () => {
    const run = await runPrestarted(
      language,
      taskFile(language, `syntax_error.${language.ext}`),
      'handler',
      '{}',
    );
    expect(run.saidReady).toBe(false);
    expect(errorOf(run).errorType).toBe('Runtime.UserCodeSyntaxError');
  });
});

describe("python function shim, the logging module as in Lambda's managed runtime", () => {
  const python = LANGUAGES.find((language) => language.name === 'python') as Language;
  const json: Language = { ...python, env: { AWS_LAMBDA_LOG_FORMAT: 'JSON', AWS_LAMBDA_LOG_LEVEL: 'debug' } };
  const logsFile = () => taskFile(python, 'logs.py');
  const records = (run: ShimRun) =>
    run.stderr
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line));

  it('writes each record as one JSON object with its level, so a WARN filter keeps the errors', async () => {
    const run = await runShim(json, logsFile(), 'levels', '{"card":"4242"}');
    expect(responseOf(run)).toBe('done');
    const base = { timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/) };
    const ours = { ...base, requestId: run.requestId, logger: 'orders' };
    expect(records(run)).toEqual([
      // AWS_LAMBDA_LOG_LEVEL sets the root logger's level, so the top level's INFO is there too.
      { ...base, requestId: run.requestId, logger: 'root', level: 'INFO', message: 'loaded' },
      { ...ours, level: 'DEBUG', message: 'debug detail' },
      { ...ours, level: 'INFO', message: 'info' },
      { ...ours, level: 'WARNING', message: 'warning' },
      // Fields given with extra= are fields of the record; one JSON cannot hold is logged as its str().
      {
        ...ours,
        level: 'ERROR',
        message: 'card 4242 declined',
        orderId: 7,
        opaque: expect.stringMatching(/^<object object at /),
      },
      // A level of the function's own is filed under the standard one below it.
      { ...ours, level: 'INFO', message: 'between info and warning' },
      {
        ...ours,
        level: 'ERROR',
        message: 'lookup failed',
        errorType: 'KeyError',
        errorMessage: "'missing'",
        stackTrace: [expect.stringContaining('logs.py')],
        location: expect.stringMatching(/logs\.py:levels:\d+$/),
      },
    ]);
  });

  it("writes text records as [LEVEL] and the message, at Python's default level (WARNING)", async () => {
    const run = await runShim(python, logsFile(), 'levels', '{"card":"4242"}');
    expect(responseOf(run)).toBe('done');
    expect(run.stderr).toContain('[WARNING]\twarning\n');
    expect(run.stderr).toContain('[ERROR]\tcard 4242 declined\n');
    // The traceback follows its record, as Python's own formatter writes it.
    expect(run.stderr).toMatch(/\[ERROR\]\tlookup failed\nTraceback \(most recent call last\):\n/);
    for (const hidden of ['loaded', 'debug detail', '\tinfo\n']) expect(run.stderr).not.toContain(hidden);
  });

  it('logs INFO once the function lowers the level, as it would in the managed runtime', async () => {
    const run = await runShim(python, logsFile(), 'info_after_set_level', '{}');
    expect(responseOf(run)).toBe('done');
    expect(run.stderr).toContain('[INFO]\tnow shown\n');
    expect(run.stderr).not.toContain('still hidden');
  });

  it("gives every record aws_request_id for a format of the function's own", async () => {
    const run = await runShim(python, logsFile(), 'own_format', '{}');
    expect(responseOf(run)).toBe('done');
    expect(run.stderr).toContain(`${run.requestId} WARNING formatted\n`);
  });

  it('leaves basicConfig without effect, since the root logger already has its handler', async () => {
    const run = await runShim(python, logsFile(), 'basic_config', '{}');
    expect(responseOf(run)).toBe(1);
    expect(run.stderr).toContain('[WARNING]\tonce\n');
    expect(run.stderr).not.toContain('BASIC');
  });

  it('names the invocation only on records made after its variables arrived, when prestarted', async () => {
    const run = await runPrestarted(json, logsFile(), 'levels', '{"card":"1"}');
    expect(responseOf(run)).toBe('done');
    const [loaded, ...rest] = records(run);
    expect(loaded).toMatchObject({ message: 'loaded', level: 'INFO' });
    expect(loaded).not.toHaveProperty('requestId');
    expect(rest.length).toBe(6);
    for (const record of rest) expect(record.requestId).toBe(run.requestId);
  });

  it('writes a record whose extra fields hold NaN as JSON all the same, its level kept', async () => {
    const run = await runShim(json, logsFile(), 'not_a_number', '{}');
    expect(responseOf(run)).toBe('done');
    expect(records(run)).toContainEqual(
      expect.objectContaining({ level: 'ERROR', message: 'no total', total: 'nan', parts: ['inf'] }),
    );
  });

  it('gives logging its handler even when the function looked it up with find_spec first', async () => {
    const run = await runShim(python, taskFile(python, 'find_first.py'), 'handler', '{}');
    expect(responseOf(run)).toBe(1);
    expect(run.stderr).toContain('[WARNING]\tafter find_spec\n');
  });

  it("imports a logging.py of the function's own as it is", async () => {
    const file = path.join(workDir, 'task', 'python', 'own-logging', 'app.py');
    const run = await runShim(python, file, 'handler', '{}');
    expect(responseOf(run)).toBe('noted: own module');
    expect(run.stderr).toBe('');
  });
});
