/**
 * Runs a function locally as Lambda would: layers unpacked into /opt, code into /var/task, the layer's
 * real bootstrap started against the project's local Runtime API, warm between invocations and started
 * again after a crash or a timeout.
 */

import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type InvocationOutcome, type InvokeOptions, LocalRuntimeApi } from './local-runtime-api.ts';
import { bwrapArgs, chooseSandbox, type Sandbox, type SandboxChoice } from './sandbox.ts';
import { unzipTo } from './unzip.ts';

export interface LocalFunctionOptions {
  /** Layer zips, unpacked into /opt in this order (a later layer overwrites an earlier one's files). */
  layerZips?: readonly string[];
  /** An already unpacked /opt to use as it is, instead of `layerZips` (tests share one). */
  optDir?: string;
  /** The function's code: a directory (copied) or a zip (unpacked). */
  code: string;
  handler: string;
  /** Function timeout in seconds (Lambda's default is 3). */
  timeoutSeconds?: number;
  memoryMb?: number;
  functionName?: string;
  /** The function's environment variables, on top of those Lambda sets. */
  env?: Readonly<Record<string, string>>;
  sandbox?: SandboxChoice;
  /** Receives every line the runtime writes (its log), as it arrives. */
  onLog?: (line: string) => void;
}

export interface LocalInvokeResult {
  outcome: InvocationOutcome;
  /** Log lines written during this invocation (including init, on a cold start). */
  logs: string[];
  coldStart: boolean;
}

/** What the host's PATH must add so that Lambda's own PATH finds the layer's programs outside a sandbox. */
const LAMBDA_PATH = '/usr/local/bin:/usr/bin/:/bin:/opt/bin';
const LAMBDA_LD_LIBRARY_PATH =
  '/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib';

/** A function laid out on disk, with at most one runtime process serving it at a time. */
export class LocalFunction {
  readonly sandbox: Sandbox;
  /** Directory holding `opt/` (layers) and `var/task/` (code). */
  readonly root: string;
  readonly api: LocalRuntimeApi;
  readonly #options: LocalFunctionOptions;
  #runtime: ChildProcess | undefined;
  #runtimeExit: Promise<void> | undefined;
  #logs: string[] | undefined;
  #queue: Promise<unknown> = Promise.resolve();

  private constructor(options: LocalFunctionOptions, root: string, sandbox: Sandbox, api: LocalRuntimeApi) {
    this.#options = options;
    this.root = root;
    this.sandbox = sandbox;
    this.api = api;
    api.on('timeout', () => void this.#stopRuntime());
  }

  /** Lays the function out in a new temporary directory and starts its Runtime API (not the runtime: that is a cold start, on the first invoke). */
  static async create(options: LocalFunctionOptions): Promise<LocalFunction> {
    const sandbox = chooseSandbox(options.sandbox ?? 'auto');
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'shlambda-local-'));
    try {
      return await LocalFunction.#layOut(options, root, sandbox);
    } catch (error) {
      fs.rmSync(root, { recursive: true, force: true });
      throw error;
    }
  }

  static async #layOut(
    options: LocalFunctionOptions,
    root: string,
    sandbox: Sandbox,
  ): Promise<LocalFunction> {
    const optDir = path.join(root, 'opt');
    const taskDir = path.join(root, 'var', 'task');
    fs.mkdirSync(taskDir, { recursive: true });
    if (options.optDir) {
      fs.symlinkSync(path.resolve(options.optDir), optDir);
    } else {
      fs.mkdirSync(optDir);
      for (const zip of options.layerZips ?? []) await unzipTo(zip, optDir);
    }
    if (fs.statSync(options.code).isDirectory()) fs.cpSync(options.code, taskDir, { recursive: true });
    else await unzipTo(options.code, taskDir);
    const api = await LocalRuntimeApi.start();
    return new LocalFunction(options, root, sandbox, api);
  }

  /** Path of the unpacked code (what the runtime sees as /var/task). */
  get taskDir(): string {
    return path.join(this.root, 'var', 'task');
  }

  /** Pid of the process started for the runtime (bwrap, or the bootstrap itself), while one runs. */
  get runtimePid(): number | undefined {
    return this.#runtime?.pid;
  }

  /** Sends one event; invocations are served one at a time, in order, as by one Lambda environment. */
  invoke(event: Buffer | string, options: Omit<InvokeOptions, 'timeoutMs'> = {}): Promise<LocalInvokeResult> {
    const run = this.#queue.then(() => this.#invokeNow(event, options));
    this.#queue = run.catch(() => undefined);
    return run;
  }

  /** Stops the runtime, closes the Runtime API and removes the temporary layout. */
  async close(): Promise<void> {
    await this.#stopRuntime();
    await this.api.close();
    fs.rmSync(this.root, { recursive: true, force: true });
  }

  async #invokeNow(
    event: Buffer | string,
    options: Omit<InvokeOptions, 'timeoutMs'>,
  ): Promise<LocalInvokeResult> {
    const coldStart = this.#runtime === undefined;
    this.#logs = [];
    if (coldStart) this.#startRuntime();
    const outcome = await this.api.invoke(event, {
      ...options,
      timeoutMs: (this.#options.timeoutSeconds ?? 3) * 1000,
    });
    if (outcome.kind === 'timeout' || outcome.kind === 'init-error') await this.#stopRuntime();
    else await this.#settleLogs();
    const logs = this.#logs;
    this.#logs = undefined;
    return { outcome, logs, coldStart };
  }

  /** The runtime writes its log before it posts the answer, but the pipe is read asynchronously: wait
   *  until it asks for the next event (or exits) so the lines of this invocation are all in. */
  async #settleLogs(): Promise<void> {
    if (this.api.nextWaiting() || !this.#runtime) return;
    await new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(cap);
        this.api.off('next', done);
        resolve();
      };
      const cap = setTimeout(done, 200);
      this.api.on('next', done);
      this.#runtimeExit?.then(done);
    });
    await new Promise((resolve) => setImmediate(resolve));
  }

  #startRuntime(): void {
    const { command, args, env } = this.#launchSpec();
    const child = spawn(command, args, {
      cwd: this.taskDir,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    this.#runtime = child;
    for (const stream of [child.stdout, child.stderr]) {
      let pending = '';
      stream?.setEncoding('utf8');
      stream?.on('data', (text: string) => {
        const lines = (pending + text).split('\n');
        pending = lines.pop() ?? '';
        for (const line of lines) this.#log(line);
      });
      stream?.on('end', () => {
        if (pending) this.#log(pending);
      });
    }
    this.#runtimeExit = new Promise((resolve) => {
      child.on('exit', (code, signal) => {
        if (this.#runtime === child) this.#runtime = undefined;
        this.api.runtimeExited(code, signal);
        resolve();
      });
      child.on('error', (error) => {
        this.#log(`shlambda local: could not start the runtime: ${error.message}`);
        if (this.#runtime === child) this.#runtime = undefined;
        this.api.runtimeExited(null, null);
        resolve();
      });
    });
  }

  #log(line: string): void {
    this.#logs?.push(line);
    this.#options.onLog?.(line);
  }

  async #stopRuntime(): Promise<void> {
    const child = this.#runtime;
    if (!child?.pid) return;
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
    await this.#runtimeExit;
  }

  #launchSpec(): { command: string; args: string[]; env: NodeJS.ProcessEnv } {
    const o = this.#options;
    const name = o.functionName ?? 'local';
    const inSandbox = this.sandbox === 'bwrap';
    const optDir = inSandbox ? '/opt' : path.join(this.root, 'opt');
    const taskDir = inSandbox ? '/var/task' : this.taskDir;
    const env: NodeJS.ProcessEnv = {
      // Only what Lambda sets, so a function that works here does not lean on the host's environment.
      _HANDLER: o.handler,
      LAMBDA_TASK_ROOT: taskDir,
      LAMBDA_RUNTIME_DIR: '/var/runtime',
      AWS_LAMBDA_RUNTIME_API: this.api.address,
      AWS_REGION: process.env.AWS_REGION ?? 'us-east-1',
      AWS_DEFAULT_REGION: process.env.AWS_REGION ?? 'us-east-1',
      AWS_LAMBDA_FUNCTION_NAME: name,
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(o.memoryMb ?? 128),
      AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
      AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${name}`,
      AWS_LAMBDA_LOG_STREAM_NAME: `${new Date().toISOString().slice(0, 10).replaceAll('-', '/')}/[$LATEST]local`,
      AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
      TZ: ':UTC',
      LANG: 'en_US.UTF-8',
      PATH: inSandbox ? LAMBDA_PATH : `${LAMBDA_PATH.replace('/opt/bin', `${optDir}/bin`)}`,
      LD_LIBRARY_PATH: inSandbox ? LAMBDA_LD_LIBRARY_PATH : `${LAMBDA_LD_LIBRARY_PATH}:${optDir}/lib`,
      ...credentials(),
      ...o.env,
    };
    // Lambda looks for /var/task/bootstrap before /opt/bootstrap: a function may bring its own runtime.
    const bootstrap = isExecutableFile(path.join(this.taskDir, 'bootstrap'))
      ? path.join(taskDir, 'bootstrap')
      : path.join(optDir, 'bootstrap');
    if (inSandbox) {
      const optHost = path.join(this.root, 'opt');
      return { command: 'bwrap', args: [...bwrapArgs(optHost, this.taskDir), bootstrap], env };
    }
    return { command: bootstrap, args: [], env };
  }
}

/** The host's AWS credentials, passed on as Lambda passes the execution role's. */
function credentials(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN']) {
    const value = process.env[name];
    if (value) out[name] = value;
  }
  return out;
}

/** Whether `file` is a regular file with an execute bit. */
export function isExecutableFile(file: string): boolean {
  try {
    const stat = fs.statSync(file);
    return stat.isFile() && (stat.mode & 0o111) !== 0;
  } catch {
    return false;
  }
}
