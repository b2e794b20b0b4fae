/**
 * A handler process started before its invocation (function mode): the interpreter is running and the
 * handler file loaded when the event arrives, and the invocation is handed over through descriptors.
 *
 * The protocol between the runtime and the shims (`layer/shlambda/function-*`), used when the handler
 * process is started with `_SHLAMBDA_SPARE=1` in its environment:
 * - fd 0 is an event file, empty until the invocation: the runtime writes the event at byte 0.
 * - fd 3 is a socket. The shim writes `R` once the file is loaded and the function found, then reads
 *   one byte: `G` means go; end of file means the runtime discarded it, and the shim exits quietly.
 * - fd 4 is a context file, empty until the invocation: `NAME=value` lines, one per invocation
 *   variable (`LAMBDA_REQUEST_ID`...), which the shim exports before it calls the function.
 * The shim closes fds 3 and 4 and removes `_SHLAMBDA_SPARE` before any of the function runs (PHP
 * cannot close the originals: its function's processes inherit a closed socket and a read file).
 */

import { closeSync } from 'node:fs';
import { fillEventFile, openEventFile } from './event-file.ts';
import {
  type Deadline,
  type HandlerProcess,
  type RunResult,
  startHandlerProcess,
} from './process-supervisor.ts';

export const SPARE_VARIABLE = '_SHLAMBDA_SPARE';

/**
 * Names the descriptor a shim writes its result on, when it is not stdout. Node's shim cannot point
 * its fd 1 at stderr (Node has no dup2), so a child process it starts with `stdio: 'inherit'` would
 * write into the response; given its own pipe for the result, its fd 1 is logged like stderr. The
 * shim removes the variable before the function runs.
 */
export const RESULT_FD_VARIABLE = '_SHLAMBDA_RESULT_FD';

/** A handler process made ready before its invocation, whatever made it. */
export interface PreparedHandler {
  /** True once the handler file is loaded; false when that failed. */
  readonly ready: Promise<boolean>;
  /** Whether it has already ended: it can no longer serve an invocation. */
  readonly exited: boolean;
  /** Its outcome, whether or not it was activated (for init errors). */
  readonly result: Promise<RunResult>;
  /** Hands it the invocation; the deadline applies from now. Once only. */
  activate(
    requestId: string,
    event: Buffer,
    variables: Record<string, string>,
    deadline: Deadline,
  ): Promise<RunResult>;
  /** Ends it unused, with its process group. */
  discard(): void;
}
const READY = 0x52; // 'R'

export interface SpareOptions {
  command: string;
  args: readonly string[];
  cwd: string;
  /** The function's environment, without any invocation's variables. */
  env: NodeJS.ProcessEnv;
  tmpDir: string;
  /** Which concurrent loop this spare serves: names its files. */
  slot: number;
  /** Receives stderr lines with the request id of the invocation they belong to, once there is one. */
  onStderrLines: (lines: string[], requestId: string | undefined) => void;
  /** The shim takes {@link RESULT_FD_VARIABLE}: its result comes on fd 5, and its stdout is logged. */
  resultOnOwnPipe?: boolean;
}

export class SpareProcess implements PreparedHandler {
  /** True once the shim said it loaded the file; false when the process ended first. */
  readonly ready: Promise<boolean>;
  private readonly handler: HandlerProcess;
  private eventFd: number | undefined;
  private contextFd: number | undefined;
  private requestId: string | undefined;

  /** Starts the process; it loads the handler file, then waits for {@link activate}. */
  constructor(options: SpareOptions) {
    this.eventFd = openEventFile(options.tmpDir, options.slot, Buffer.alloc(0));
    try {
      this.contextFd = openEventFile(options.tmpDir, `${options.slot}-context`, Buffer.alloc(0));
      this.handler = startHandlerProcess({
        command: options.command,
        args: options.args,
        cwd: options.cwd,
        env: {
          ...options.env,
          [SPARE_VARIABLE]: '1',
          ...(options.resultOnOwnPipe ? { [RESULT_FD_VARIABLE]: '5' } : {}),
        },
        stdinFd: this.eventFd,
        extraFds: options.resultOnOwnPipe ? ['pipe', this.contextFd, 'pipe'] : ['pipe', this.contextFd],
        ...(options.resultOnOwnPipe ? { resultFd: 5 } : {}),
        onStderrLines: (lines) => options.onStderrLines(lines, this.requestId),
      });
    } catch (error) {
      this.closeFiles();
      throw error;
    }
    const control = this.handler.sockets.get(3);
    this.ready = new Promise((resolve) => {
      control?.on('data', (chunk: Buffer) => {
        if (chunk.includes(READY)) resolve(true);
      });
      void this.handler.result.then(() => resolve(false));
    });
  }

  /** Whether the process has already ended: it can no longer serve an invocation. */
  get exited(): boolean {
    return this.handler.exited;
  }

  /** The outcome of the process, whether or not it was activated (for init errors). */
  get result(): Promise<RunResult> {
    return this.handler.result;
  }

  /**
   * Hands the process its invocation: the event on stdin, the variables in the context file, then the
   * go; the deadline applies from now.
   */
  activate(
    requestId: string,
    event: Buffer,
    variables: Record<string, string>,
    deadline: Deadline,
  ): Promise<RunResult> {
    const control = this.handler.sockets.get(3);
    if (this.eventFd === undefined || this.contextFd === undefined || !control) {
      throw new Error('a prestarted handler can be activated only once');
    }
    this.requestId = requestId;
    handOver(this.eventFd, this.contextFd, event, variables);
    this.closeFiles();
    control.end('G');
    this.handler.setDeadline(deadline);
    return this.handler.result;
  }

  /** Ends an unused process and its group. */
  discard(): void {
    this.closeFiles();
    this.handler.kill();
  }

  private closeFiles(): void {
    // The child holds its own copies; ours only serve to write the invocation.
    if (this.eventFd !== undefined) closeSync(this.eventFd);
    if (this.contextFd !== undefined) closeSync(this.contextFd);
    this.eventFd = undefined;
    this.contextFd = undefined;
  }
}

/** Writes an invocation into a prepared process's (still empty) event and context files. */
export function handOver(
  eventFd: number,
  contextFd: number,
  event: Buffer,
  variables: Record<string, string>,
): void {
  fillEventFile(eventFd, event);
  fillEventFile(contextFd, Buffer.from(contextLines(variables)));
}

/**
 * `NAME=value` lines. Values come from Runtime API headers, which cannot hold line breaks or NUL; any
 * that did would be dropped here rather than let a value start a line of its own.
 */
export function contextLines(variables: Record<string, string>): string {
  let text = '';
  for (const [name, value] of Object.entries(variables)) {
    // biome-ignore lint/suspicious/noControlCharactersInRegex: removing them is the point
    text += `${name}=${value.replace(/[\r\n\x00]/g, '')}\n`;
  }
  return text;
}
