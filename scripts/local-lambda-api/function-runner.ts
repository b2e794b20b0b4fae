/** Runs invoked functions for real: one warm LocalFunction per function, invocations served one at a time, restarted cold after a change. */

import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { isExecutableFile, LocalFunction } from '../local-function.ts';
import { type InvocationOutcome, MAX_BUFFERED_RESPONSE_BYTES } from '../local-runtime-api.ts';
import type { SandboxChoice } from '../sandbox.ts';
import { StorageError } from './errors.ts';

/** Lambda returns at most this much of the log in `X-Amz-Log-Result`. */
const LOG_TAIL_BYTES = 4096;

/** Everything needed to start a function's environment, read from the store at invoke time. */
export interface FunctionSpec {
  name: string;
  arn: string;
  region: string;
  /** Changes whenever code or configuration changes: a warm environment of another revision is replaced. */
  revisionId: string;
  handler: string;
  timeoutSeconds: number;
  memoryMb: number;
  env: Record<string, string>;
  codeZip: string;
  layerZips: string[];
}

/** How an invocation ended, as the Invoke API reports it. */
export interface InvokeResult {
  /** The response body, or the error JSON for a function error. */
  payload: Buffer;
  /** `Unhandled` for any function error, undefined on success. */
  functionError?: 'Unhandled';
  /** The invocation's log, START to REPORT, as Lambda would return with `LogType: Tail`. */
  log: string;
  requestId: string;
}

interface Slot {
  /** Every operation on this function's environment runs after the previous one. */
  chain: Promise<unknown>;
  env?: { fn: LocalFunction; revisionId: string };
}

/** The warm environments of all functions. */
export class FunctionRunner {
  readonly #slots = new Map<string, Slot>();
  readonly #sandbox: SandboxChoice;
  readonly #log: (line: string) => void;

  constructor(sandbox: SandboxChoice, log: (line: string) => void) {
    this.#sandbox = sandbox;
    this.#log = log;
  }

  /** Invokes the function, after any invocation already running or queued for it. */
  invoke(spec: FunctionSpec, event: Buffer, clientContext?: string): Promise<InvokeResult> {
    return this.#enqueue(spec.name, async (slot) => {
      if (slot.env && slot.env.revisionId !== spec.revisionId) await this.#retireNow(slot);
      if (!slot.env) {
        const fn = await startEnvironment(spec, this.#sandbox, (line) => this.#log(`${spec.name}: ${line}`));
        slot.env = { fn, revisionId: spec.revisionId };
      }
      const fn = slot.env.fn;
      if (!hasBootstrap(fn)) {
        const requestId = randomUUID();
        // The runtime never starts: https://docs.aws.amazon.com/lambda/latest/dg/runtimes-custom.html
        const payload = errorJson(
          'Runtime.InvalidEntrypoint',
          `RequestId: ${requestId} Error: Couldn't find valid bootstrap(s): [/var/task/bootstrap /opt/bootstrap]`,
        );
        return { payload, functionError: 'Unhandled', requestId, log: tail(requestId, [], 0, spec.memoryMb) };
      }
      const result = await fn.invoke(event, { functionArn: spec.arn, clientContext });
      return toInvokeResult(result.outcome, result.logs, spec);
    });
  }

  /** Stops the function's warm environment (after what is running), so the next invoke starts cold. */
  retire(name: string): Promise<void> {
    return this.#enqueue(name, (slot) => this.#retireNow(slot));
  }

  /** Stops every environment. */
  async close(): Promise<void> {
    await Promise.all([...this.#slots.keys()].map((name) => this.retire(name)));
  }

  #enqueue<T>(name: string, work: (slot: Slot) => Promise<T>): Promise<T> {
    let slot = this.#slots.get(name);
    if (!slot) {
      slot = { chain: Promise.resolve() };
      this.#slots.set(name, slot);
    }
    const current = slot;
    const run = current.chain.then(() => work(current));
    current.chain = run.catch(() => undefined);
    return run;
  }

  async #retireNow(slot: Slot): Promise<void> {
    const env = slot.env;
    slot.env = undefined;
    if (env)
      await env.fn.close().catch((error: unknown) => this.#log(`closing an environment failed: ${error}`));
  }
}

/** Lays the function out (layers in order into /opt, code into /var/task), checking every file first. */
async function startEnvironment(
  spec: FunctionSpec,
  sandbox: SandboxChoice,
  onLog: (line: string) => void,
): Promise<LocalFunction> {
  for (const file of [...spec.layerZips, spec.codeZip]) {
    if (!fs.existsSync(file)) throw new StorageError(file, `is missing (needed by function ${spec.name})`);
  }
  let fn: LocalFunction;
  try {
    fn = await LocalFunction.create({
      layerZips: spec.layerZips,
      code: spec.codeZip,
      handler: spec.handler,
      timeoutSeconds: spec.timeoutSeconds,
      memoryMb: spec.memoryMb,
      functionName: spec.name,
      env: { AWS_REGION: spec.region, AWS_DEFAULT_REGION: spec.region, ...spec.env },
      sandbox,
      onLog,
    });
  } catch (error) {
    throw new StorageError(
      `${spec.codeZip} or a layer zip of function ${spec.name}`,
      `cannot be unpacked: ${(error as Error).message}`,
    );
  }
  return fn;
}

function hasBootstrap(fn: LocalFunction): boolean {
  return (
    isExecutableFile(path.join(fn.root, 'opt', 'bootstrap')) ||
    isExecutableFile(path.join(fn.taskDir, 'bootstrap'))
  );
}

function errorJson(errorType: string, errorMessage: string): Buffer {
  return Buffer.from(JSON.stringify({ errorType, errorMessage }));
}

/** Maps the local Runtime API's outcome to what Lambda's Invoke returns. */
function toInvokeResult(outcome: InvocationOutcome, logs: string[], spec: FunctionSpec): InvokeResult {
  const requestId = 'requestId' in outcome ? outcome.requestId : randomUUID();
  const durationMs = 'durationMs' in outcome ? outcome.durationMs : 0;
  const log = tail(requestId, logs, durationMs, spec.memoryMb, outcome.kind === 'timeout' ? spec : undefined);
  switch (outcome.kind) {
    case 'response':
      return { payload: outcome.body, requestId, log };
    case 'error':
    case 'init-error':
      return { payload: outcome.body, functionError: 'Unhandled', requestId, log };
    case 'timeout':
      return {
        payload: errorJson(
          'Sandbox.Timedout',
          `RequestId: ${requestId} Error: Task timed out after ${spec.timeoutSeconds.toFixed(2)} seconds`,
        ),
        functionError: 'Unhandled',
        requestId,
        log,
      };
    case 'runtime-exit': {
      const how = outcome.signal
        ? `signal: ${signalName(outcome.signal)}`
        : `exit status ${outcome.exitCode ?? 1}`;
      return {
        payload: errorJson(
          'Runtime.ExitError',
          `RequestId: ${requestId} Error: Runtime exited with error: ${how}`,
        ),
        functionError: 'Unhandled',
        requestId,
        log,
      };
    }
    case 'too-large':
      return {
        payload: errorJson(
          'Function.ResponseSizeTooLarge',
          `Response payload size exceeded maximum allowed payload size (${MAX_BUFFERED_RESPONSE_BYTES} bytes).`,
        ),
        functionError: 'Unhandled',
        requestId,
        log,
      };
  }
}

function signalName(signal: string): string {
  return signal === 'SIGKILL' ? 'killed' : signal.replace(/^SIG/, '').toLowerCase();
}

/** The invocation's log as Lambda writes it (START, the function's lines, END, REPORT), last 4 KB. */
function tail(
  requestId: string,
  logs: readonly string[],
  durationMs: number,
  memoryMb: number,
  timedOut?: FunctionSpec,
): string {
  const lines = [`START RequestId: ${requestId} Version: $LATEST`, ...logs];
  if (timedOut) {
    lines.push(
      `${lambdaLogTime()} ${requestId} Task timed out after ${timedOut.timeoutSeconds.toFixed(2)} seconds`,
    );
  }
  lines.push(
    `END RequestId: ${requestId}`,
    `REPORT RequestId: ${requestId}\tDuration: ${durationMs.toFixed(2)} ms\tBilled Duration: ${Math.ceil(durationMs)} ms\tMemory Size: ${memoryMb} MB`,
    '',
  );
  const bytes = Buffer.from(lines.join('\n'));
  return bytes.subarray(Math.max(0, bytes.length - LOG_TAIL_BYTES)).toString('base64');
}

function lambdaLogTime(): string {
  return new Date().toISOString();
}
