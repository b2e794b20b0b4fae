// Loads a Node.js handler file and calls one function in it, as Lambda's managed Node.js runtime does.
//
// Contract (the same for the Python, PHP, Ruby and Perl shims):
//   node function-node.mjs <absolute path of the handler file> <function name>
//   cwd is the task root. The environment holds LAMBDA_TASK_ROOT, LAMBDA_REQUEST_ID, LAMBDA_DEADLINE_MS
//   (epoch ms), LAMBDA_INVOKED_FUNCTION_ARN, _X_AMZN_TRACE_ID, LAMBDA_CLIENT_CONTEXT and
//   LAMBDA_COGNITO_IDENTITY (JSON), LAMBDA_TENANT_ID (the optional ones only when Lambda sent them) and
//   Lambda's own AWS_LAMBDA_FUNCTION_NAME, _VERSION, _MEMORY_SIZE, AWS_LAMBDA_LOG_GROUP_NAME, _STREAM_NAME.
//   stdin is the event (a regular file): JSON, decoded; empty -> null; anything else -> a string.
//   The function is called as fn(event, context), awaited when it returns a promise, or as
//   fn(event, context, callback) when it declares three parameters. The result goes on the descriptor
//   _SHLAMBDA_RESULT_FD names (else stdout), and only the result:
//   the JSON of the return value, no trailing newline, exit 0. Anything the user code prints goes to
//   stderr, the log. On failure it carries {"errorType", "errorMessage", "stackTrace"}, exit 1.
//   With _SHLAMBDA_SPARE=1 the runtime started this process ahead of its event: the file is loaded
//   first, then the invocation arrives through fds 3 and 4 (the protocol is in runtime/spare-process.ts).

import { closeSync, readFileSync, readSync, writeSync } from 'node:fs';
import { basename } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

// The runtime gives the result a pipe of its own and logs fd 1, because Node cannot dup a descriptor
// to point fd 1 at stderr as the other shims do: so what a child process started with stdio 'inherit'
// prints goes to the log, not into the response. Started without it, the result goes to fd 1.
const RESULT_FD = Number(process.env._SHLAMBDA_RESULT_FD) || 1;
delete process.env._SHLAMBDA_RESULT_FD;
const SHIM_FILE = fileURLToPath(import.meta.url);

// Everything JavaScript-level that would write to fd 1 goes to stderr, in order with the rest of the
// log. The global console resolves process.stdout on first use, so this happens before any user code.
Object.defineProperty(process, 'stdout', { configurable: true, enumerable: true, get: () => process.stderr });

// In Lambda's JSON log format the console's methods write records with their level, as the managed
// Node.js runtime's do, so that Lambda's log-level filter keeps a console.error at WARN: one JSON
// object per call, a multi-line message included (the runtime adds the timestamp and request id).
// https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-log-level.html
if (process.env.AWS_LAMBDA_LOG_FORMAT === 'JSON') {
  // Imported only here: a static import of node:util adds 2-5 ms to every Node handler's start
  // (hyperfine, 40 runs of a module with and without it).
  const { format } = await import('node:util');
  const levels = { log: 'INFO', info: 'INFO', warn: 'WARN', error: 'ERROR', debug: 'DEBUG', trace: 'TRACE' };
  for (const [method, level] of Object.entries(levels)) {
    console[method] = (...args) => {
      let message = format(...args);
      if (method === 'trace') message += `\n${new Error().stack.split('\n').slice(2).join('\n')}`;
      process.stderr.write(`${jsonRecord(level, message)}\n`);
    };
  }
}

/** The runtime splits log lines at 64 KiB (runtime/logger.ts): a record stays whole under that, its
 *  message cut with a note of what was left out, so that its level is never lost. */
const MAX_RECORD_BYTES = 64 * 1024 - 1;

function jsonRecord(level, message) {
  let record = JSON.stringify({ level, message });
  let kept = message.length;
  while (Buffer.byteLength(record) > MAX_RECORD_BYTES && kept > 0) {
    kept = Math.floor(((kept * MAX_RECORD_BYTES) / Buffer.byteLength(record)) * 0.95);
    const cut = `${message.slice(0, kept)}... (${message.length - kept} more characters)`;
    record = JSON.stringify({ level, message: cut });
  }
  return record;
}

/** A failure that is not the user's exception: its errorType is a Runtime.* name. */
class HandlerFailure extends Error {
  constructor(errorType, message, trace = []) {
    super(message);
    this.errorType = errorType;
    this.trace = trace;
  }
}

let finished = false;

function main() {
  const [file, method] = process.argv.slice(2);
  const prestarted = process.env._SHLAMBDA_SPARE === '1';
  delete process.env._SHLAMBDA_SPARE;
  // What the file's top level starts, before the invocation's own variables are set, inherits this
  // process's pid, so that it can be ended with this invocation all the same.
  if (prestarted) process.env._SHLAMBDA_PROCESS = String(process.pid);
  process.on('uncaughtException', (error) => fail(error));
  process.on('unhandledRejection', (reason) => fail(reason));
  loadFunction(file, method).then((fn) => {
    if (prestarted) awaitInvocation();
    invoke(fn, readEvent(), makeContext(process.env));
  }, fail);
}

/** Prestarted: says the file is loaded, waits for the go, and takes the invocation's variables. */
function awaitInvocation() {
  writeSync(3, 'R');
  const go = Buffer.alloc(1);
  let got = 0;
  try {
    // The runtime's socket end blocks; this process waits here, as the other shims do.
    got = readSync(3, go, 0, 1, null);
  } catch {
    got = 0;
  }
  // The runtime discarded this process before using it.
  if (got !== 1 || go[0] !== 0x47 /* G */) process.exit(0);
  closeSync(3);
  const text = readFileSync(4, 'latin1');
  closeSync(4);
  for (const line of text.split('\n')) {
    const at = line.indexOf('=');
    const name = line.slice(0, at);
    if (at > 0 && (name.startsWith('LAMBDA_') || name === '_X_AMZN_TRACE_ID')) {
      process.env[name] = Buffer.from(line.slice(at + 1), 'latin1').toString('utf8');
    }
  }
}

function readEvent() {
  const raw = readFileSync(0);
  const text = raw.toString('utf8');
  if (text.trim() === '') return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

async function loadFunction(file, method) {
  let module;
  try {
    module = await import(pathToFileURL(file).href);
  } catch (error) {
    if (error instanceof SyntaxError) {
      const where = await syntaxErrorLocation(error, file);
      throw new HandlerFailure('Runtime.UserCodeSyntaxError', `${error.name}: ${error.message}`, where);
    }
    throw new HandlerFailure(
      'Runtime.ImportModuleError',
      `Unable to import module '${basename(file)}': ${describe(error)}`,
      stackLines(error),
    );
  }
  // ESM and statically analysable CommonJS exports are named exports; anything else lives on default.
  const candidates = [module, module.default].filter((value) => value !== null && typeof value === 'object');
  if (typeof module.default === 'function') candidates.push(module.default);
  for (const exports of candidates) {
    if (typeof exports[method] === 'function') return exports[method];
  }
  const defined = new Set();
  for (const exports of candidates) {
    for (const key of Object.keys(exports)) if (typeof exports[key] === 'function') defined.add(key);
  }
  const listing =
    defined.size > 0 ? `it exports: ${[...defined].sort().join(', ')}` : 'it exports no functions';
  throw new HandlerFailure(
    'Runtime.HandlerFunctionNotFound',
    `Handler function '${method}' is not exported by ${basename(file)} (${listing})`,
  );
}

/** The file, line and source excerpt of a syntax error, which Node keeps out of an ES module's stack. */
async function syntaxErrorLocation(error, file) {
  const excerpt = (text) => {
    const lines = text.split('\n');
    const end = lines.findIndex((line) => line.startsWith('SyntaxError'));
    return end > 0 ? lines.slice(0, end).filter((line) => line.trim() !== '') : [];
  };
  const fromStack = excerpt(String(error.stack));
  if (fromStack.length > 0) return fromStack;
  // Only on this error path: a syntax check of the handler file prints where the mistake is.
  const { spawnSync } = await import('node:child_process');
  const check = spawnSync(process.execPath, ['--check', file], { encoding: 'utf8', timeout: 5000 });
  return excerpt(check.stderr ?? '');
}

function makeContext(env) {
  const deadline = Number(env.LAMBDA_DEADLINE_MS) || 0;
  return {
    awsRequestId: env.LAMBDA_REQUEST_ID,
    invokedFunctionArn: env.LAMBDA_INVOKED_FUNCTION_ARN,
    functionName: env.AWS_LAMBDA_FUNCTION_NAME,
    functionVersion: env.AWS_LAMBDA_FUNCTION_VERSION,
    memoryLimitInMB: env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    logGroupName: env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: env.AWS_LAMBDA_LOG_STREAM_NAME,
    identity: parseJsonEnv(env.LAMBDA_COGNITO_IDENTITY),
    clientContext: parseJsonEnv(env.LAMBDA_CLIENT_CONTEXT),
    tenantId: env.LAMBDA_TENANT_ID,
    // Honoured for callback-style handlers, as in the managed runtime.
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
  };
}

function parseJsonEnv(raw) {
  if (!raw) return undefined;
  try {
    return JSON.parse(raw);
  } catch {
    return undefined;
  }
}

function invoke(fn, event, context) {
  let answerFromCallback;
  // When the event loop runs dry, a callback that waited for it is answered; a handler that never
  // answered at all gets null, as in the managed runtime.
  process.on('beforeExit', () => (answerFromCallback ? answerFromCallback() : succeed(null)));
  let returned;
  try {
    if (fn.length >= 3) {
      const callback = (error, result) => {
        if (answerFromCallback) return;
        answerFromCallback = () => (error === null || error === undefined ? succeed(result) : fail(error));
        if (!context.callbackWaitsForEmptyEventLoop) answerFromCallback();
      };
      returned = fn(event, context, callback);
    } else {
      returned = fn(event, context);
    }
  } catch (error) {
    fail(error);
    return;
  }
  // A callback-style handler may be async too: whichever answers first wins.
  if (isThenable(returned)) returned.then(succeed, fail);
  else if (fn.length < 3) succeed(returned);
}

function isThenable(value) {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof value.then === 'function'
  );
}

function succeed(result) {
  if (finished) return;
  let json;
  try {
    json = JSON.stringify(result);
  } catch (error) {
    fail(new HandlerFailure('Runtime.MarshalError', `Unable to stringify response: ${describe(error)}`));
    return;
  }
  // undefined (nothing returned) and functions have no JSON form: the managed runtime answers null.
  finish(json === undefined ? 'null' : json, 0);
}

function fail(error) {
  if (finished) return;
  let payload;
  try {
    payload = errorPayload(error);
  } catch {
    payload = { errorType: 'Error', errorMessage: 'unprintable error', stackTrace: [] };
  }
  const lines = [
    `[ERROR] ${payload.errorType}: ${payload.errorMessage}`,
    ...payload.stackTrace.map((l) => `  ${l}`),
  ];
  process.stderr.write(`${lines.join('\n')}\n`);
  finish(JSON.stringify(payload), 1);
}

function errorPayload(error) {
  if (error instanceof HandlerFailure) {
    return { errorType: error.errorType, errorMessage: error.message, stackTrace: error.trace };
  }
  if (error instanceof Error) {
    return { errorType: error.name || 'Error', errorMessage: error.message, stackTrace: stackLines(error) };
  }
  return { errorType: 'Error', errorMessage: describe(error), stackTrace: [] };
}

/** The stack's frame lines without the message line and without this shim's own frames. */
function stackLines(error) {
  const stack = typeof error?.stack === 'string' ? error.stack.split('\n') : [];
  return stack
    .filter((line) => /^\s+at /.test(line))
    .map((line) => line.trim())
    .filter((line) => !line.includes(SHIM_FILE) && !line.includes('node:internal/'));
}

function describe(value) {
  if (value instanceof Error) return `${value.name}: ${value.message}`;
  try {
    return typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value));
  } catch {
    return String(value);
  }
}

function finish(json, status) {
  finished = true;
  const data = Buffer.from(json, 'utf8');
  let offset = 0;
  while (offset < data.length) {
    try {
      offset += writeSync(RESULT_FD, data, offset, data.length - offset);
    } catch (error) {
      // The runtime went away (EPIPE): nobody is left to answer.
      if (error.code !== 'EAGAIN') process.exit(status || 1);
      // A non-blocking pipe that is full: wait a moment for the runtime to read, then go on.
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
    }
  }
  // Exit only once the log lines already written have drained: process.exit would drop them.
  process.stderr.write('', () => process.exit(status));
}

main();
