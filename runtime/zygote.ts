/**
 * Function mode's process factory for bash, Python, Perl, Ruby and PHP: one interpreter that forks a
 * process per invocation, so no invocation waits for an interpreter to start. Bash's
 * (`layer/shlambda/zygote-bash.sh`) has loaded the handler file, and a fork of it replaces a spawn from
 * the runtime's Node.js (~1.5 ms of billed time per invocation, see the README). The others
 * (`zygote-python.py`...) have loaded only the shim: each forked process loads the handler file, so no
 * module state is shared between invocations, and the file is loaded before the event comes, as a
 * prestarted process does. Each zygote serves up to {@link ZYGOTE_SETS} invocations (16 for bash, 48
 * for the others), then a new one is started.
 */

import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, ftruncateSync } from 'node:fs';
import { constants } from 'node:os';
import { HandlerLoadError, InternalError } from './errors.ts';
import { openEventFile } from './event-file.ts';
import { endLeftoversOf, type LeftoverSweep } from './leftover-processes.ts';
import { LineSplitter, STACK_TRACE_LINES } from './logger.ts';
import {
  type Deadline,
  ignore,
  type RunResult,
  type Supervision,
  superviseHandler,
} from './process-supervisor.ts';
import { handOver, type PreparedHandler } from './spare-process.ts';

/**
 * Invocations per zygote: each needs five descriptors in the runtime, and a new zygote costs a spawn and
 * its interpreter's start. A bash zygote starts in about 2 ms, and more than 16 sets did not pay (32:
 * back-to-back latency p50 0.87-0.91 ms against 0.85-0.86); its sets must also stay below fd 398 (the
 * zygote script says why). Python, Ruby, Perl and PHP load the shim's libraries first, 8-40 ms of CPU
 * (`hyperfine`: Ruby with `json` 39 ms, Python 17, Perl with JSON::PP 10, PHP 8), which 48 sets spread
 * over three times as many invocations.
 */
export const ZYGOTE_SETS: Readonly<Record<ZygoteKind, number>> = { bash: 16, fork: 48, php: 48 };

/** Sets of a slot's first zygote: it starts during init, where each set costs cold start (16 sets
 *  took init from 55 to 65 ms, see the README). */
const FIRST_ZYGOTE_SETS = 2;

/** How many processes before a zygote's last its successor starts (see {@link Zygote.wantsSuccessor}):
 *  back to back, four invocations take 5-15 ms, about the time Python's zygote takes to start. */
const SUCCESSOR_LEAD = 4;

/** Sets of a slot's second zygote, started during the environment's first invocations: a spawn blocks
 *  the runtime for 5-7 ms with 16 sets and 9-25 ms with 48 (two files of ~85 us each per set). */
const SECOND_ZYGOTE_SETS = 16;

/**
 * Sets for a slot's next zygote, given its predecessor's (none for the first), for a number of
 * concurrent loops: all of them together stay within ~400 of Lambda's 1,024 descriptors.
 */
export function zygoteSets(kind: ZygoteKind, concurrency: number, previous: number | undefined): number {
  const most =
    previous === undefined
      ? FIRST_ZYGOTE_SETS
      : previous < SECOND_ZYGOTE_SETS
        ? Math.min(SECOND_ZYGOTE_SETS, ZYGOTE_SETS[kind])
        : ZYGOTE_SETS[kind];
  return Math.max(1, Math.min(most, Math.floor(400 / (SET_SIZE * concurrency))));
}
/** Descriptors per set, from fd 4 on: event file, context file, stdout, stderr, go socket. */
const SET_SIZE = 5;

/**
 * How a zygote works. `bash`: the zygote loads the file (its `R`), a forked process acknowledges the go
 * (`A`) and reports its exit status (`E`), and the zygote's `X` status is wait's (128 + n for a signal).
 * `fork`: each forked process loads the file and says `R` on its go socket, as a prestarted shim does
 * (runtime/spare-process.ts), and the zygote reports exact exit codes (`X`) and signals (`K`).
 * `php`: as `fork`, but the forked process keeps the zygote's stdout and stderr (both go to the log),
 * writes its result to its set's stdout, and, once its shutdown functions and destructors have run,
 * marks the end of its log on both (`\0shlambda:end <set>`) and reports `E <set> <status> <bytes>` on
 * the zygote's socket, since that pipe never reaches end of file (`zygote-php.php` says why). A zygote
 * that cannot fork says `N` and serves its first set itself.
 */
export type ZygoteKind = 'bash' | 'fork' | 'php';

export interface ZygoteOptions {
  kind: ZygoteKind;
  /** The interpreter, and its arguments before the number of sets. */
  command: string;
  args: readonly string[];
  cwd: string;
  env: NodeJS.ProcessEnv;
  tmpDir: string;
  slot: number;
  /** How many invocations this zygote serves ({@link zygoteSets}). */
  sets: number;
  onStderrLines: (lines: string[], requestId: string | undefined) => void;
  /** Bash: told what the file's top level had left running when the zygote ended, and was ended then. */
  onLeftovers?: (sweep: LeftoverSweep, zygotePid: number) => void;
}

/** How long an exit status above 128 waits for the process's own report of it. */
const REPORT_WAIT_MS = 50;

/** A PHP process that has reported its end still closes what its function left open, then ends itself;
 *  past this it is killed, so that nothing of it can run on for long (a close stuck on a full socket). */
const PHP_EXIT_GRACE_MS = 2000;

/** Ends a forked PHP process's log on the zygote's stdout and stderr, followed by its set number. */
const LOG_END_MARK = '\u0000shlambda:end ';

/** How long a PHP process's end waits for the marks that end its log: they were written before its
 *  report, so only a stalled runtime or a broken zygote takes long. */
const LOG_MARK_WAIT_MS = 1000;

const READY = 0x52; // 'R'

const SIGNAL_NAMES = new Map(Object.entries(constants.signals).map(([name, number]) => [number, name]));

export class Zygote {
  /** True once the zygote runs (bash: and has loaded the file and found the function); false when it
   *  ended first. */
  readonly ready: Promise<boolean>;
  private readonly child: ChildProcess;
  /** By set; a process's entry is dropped once the zygote has reaped it, so that its output (a whole
   *  response, held by its settled result) can be collected before the zygote's other sets are used. */
  private readonly children: (ZygoteChild | undefined)[] = [];
  private taken = 0;
  private ended = false;
  /** How many invocations it serves. */
  readonly sets: number;
  private readonly kind: ZygoteKind;
  /** False once a PHP zygote said it cannot fork: it serves its first set itself, and nothing more. */
  canFork = true;
  /** PHP: each set's request id, once handed an invocation; its processes log through the zygote. */
  private readonly requestIds: (string | undefined)[] = [];
  /** PHP: whose log the zygote's stderr and stdout carry now: a set, which the end mark moves on. */
  private readonly logOwners = [0, 0];
  private readonly onLog: (lines: string[], requestId: string | undefined) => void;

  constructor(options: ZygoteOptions) {
    this.sets = options.sets;
    this.kind = options.kind;
    this.onLog = options.onStderrLines;
    const files: number[] = [];
    try {
      for (let set = 0; set < this.sets; set++) {
        files.push(openEventFile(options.tmpDir, `${options.slot}-z${set}`, Buffer.alloc(0)));
        files.push(openEventFile(options.tmpDir, `${options.slot}-z${set}-context`, Buffer.alloc(0)));
      }
    } catch (error) {
      for (const fd of files) closeSync(fd);
      throw error;
    }
    const stdio: ('ignore' | 'pipe' | number)[] = [
      'ignore',
      options.kind === 'php' ? 'pipe' : 'ignore',
      'pipe',
      'pipe',
    ];
    for (let set = 0; set < this.sets; set++) {
      stdio.push(files[2 * set] as number, files[2 * set + 1] as number, 'pipe', 'pipe', 'pipe');
    }
    this.child = spawn(options.command, [...options.args, String(this.sets)], {
      cwd: options.cwd,
      env: options.env,
      stdio,
      // Its own session: the zygote and the processes it forks never share the runtime's group.
      detached: true,
    });
    const log = new LineSplitter();
    this.child.on('error', (error) =>
      this.zygoteEnded(`could not start ${options.command}: ${error.message}`, log),
    );
    if (!this.child.stdio || this.child.stdio.length < stdio.length) {
      // Out of descriptors (EMFILE): no process, no pipes. The caller starts processes itself.
      for (const fd of files) closeSync(fd);
      throw new Error(`could not start the ${options.command} zygote (out of file descriptors?)`);
    }
    let resolveReady: (ready: boolean) => void = () => {};
    this.ready = new Promise((resolve) => {
      resolveReady = resolve;
    });
    for (let set = 0; set < this.sets; set++) {
      const at = 4 + SET_SIZE * set;
      this.children.push(
        new ZygoteChild(
          options.kind,
          files[2 * set] as number,
          files[2 * set + 1] as number,
          this.child.stdio[at + 2] as never,
          this.child.stdio[at + 3] as never,
          this.child.stdio[at + 4] as never,
          this.ready,
          options.onStderrLines,
          () => this.discard(),
          (requestId) => {
            this.requestIds[set] = requestId;
          },
          () => this.release(set),
        ),
      );
    }

    // The zygote's own stderr (and a PHP zygote's stdout): what the file's top level printed, and the
    // log of its PHP processes.
    const outLog = new LineSplitter();
    this.child.stderr?.on('data', (chunk: Buffer) => this.ownLog(0, log.push(chunk)));
    this.child.stderr?.on('error', ignore);
    this.child.stdout?.on('data', (chunk: Buffer) => this.ownLog(1, outLog.push(chunk)));
    this.child.stdout?.on('error', ignore);
    const control = this.child.stdio[3] as NodeJS.ReadableStream | null;
    const lines = new LineSplitter();
    control?.on('error', () => {});
    control?.on('data', (chunk: Buffer) => {
      for (const line of lines.push(chunk)) {
        const [kind, set, value, bytes] = line.split(' ');
        const child = this.children[Number(set)];
        if (kind === 'R') resolveReady(true);
        else if (kind === 'N') this.canFork = false;
        else if (kind === 'P') child?.forked(Number(value));
        else if (kind === 'E') child?.reported(Number(value), Number(bytes));
        else if (kind === 'X') child?.ended(Number(value));
        else if (kind === 'K') child?.killed(Number(value));
      }
    });
    this.child.on('exit', (code, signal) => {
      resolveReady(false);
      // A zygote that could not fork was its first set's process: its exit is that process's.
      const own = this.canFork ? undefined : this.children[0];
      if (own && signal) own.killed(constants.signals[signal]);
      else if (own && code !== null) own.ended(code);
      const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
      this.ownLog(0, log.flush());
      this.ownLog(1, outLog.flush());
      this.zygoteEnded(how, log);
      // A bash zygote ran the file's top level itself: what that started ends with it.
      const pid = this.child.pid;
      if (this.kind === 'bash' && pid !== undefined) {
        const sweep = endLeftoversOf(pid);
        if (sweep.ended.length > 0) options.onLeftovers?.(sweep, pid);
      }
    });
  }

  /** The process for the next invocation: forked, or about to be; undefined once this zygote is used up. */
  take(): ZygoteChild | undefined {
    if (this.usedUp) return undefined;
    return this.children[this.taken++];
  }

  /** Whether {@link take} has nothing more to give. A used-up zygote ends by itself after its last
   *  process, which must not be discarded: that would end a running invocation. */
  get usedUp(): boolean {
    return this.taken >= this.capacity || this.ended;
  }

  /** How many processes it hands out: one if it turned out it cannot fork. */
  private get capacity(): number {
    return this.canFork ? this.sets : 1;
  }

  /** The zygote that takes over once this one is used up, when it was started ahead of that. */
  successor: Zygote | undefined;

  /**
   * Whether its successor should start now: when its last process is handed out, or for Python, Ruby,
   * Perl and PHP, whose interpreters take 8-40 ms of CPU to start, {@link SUCCESSOR_LEAD} processes
   * before, so that the invocation after its last does not wait for the new interpreter. Not for a
   * slot's first zygote, whose few sets are taken during init and the first invocations.
   */
  get wantsSuccessor(): boolean {
    if (this.successor || this.ended) return false;
    const lead = this.kind === 'bash' || this.sets <= FIRST_ZYGOTE_SETS ? 0 : SUCCESSOR_LEAD;
    return this.usedUp || this.capacity - this.taken <= lead;
  }

  /** Ends the zygote and every process it has forked that has not been handed an invocation, and a
   *  successor started ahead. */
  discard(): void {
    this.successor?.discard();
    for (const child of this.children.slice(this.taken)) child?.discard();
    // No pid: it never started. (-0 would be the runtime's own group.)
    if (this.child.pid === undefined) return;
    try {
      process.kill(-this.child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }

  /** Logs lines of the zygote's own stderr (0) or stdout (1): a PHP zygote's by the set that wrote them. */
  private ownLog(stream: 0 | 1, lines: readonly string[]): void {
    if (this.kind === 'php') this.phpLog(stream, lines);
    else if (lines.length > 0) this.onLog([...lines], undefined);
  }

  /**
   * Logs lines of a PHP zygote's stderr or stdout under the request id of the set whose process wrote
   * them, and keeps them as that process's log tail. The end mark a process writes after its last line
   * (or its zygote writes, for one that died) hands the stream to the next set.
   */
  private phpLog(stream: 0 | 1, lines: readonly string[]): void {
    let batch: string[] = [];
    const flush = (): void => {
      if (batch.length === 0) return;
      const owner = this.logOwners[stream] as number;
      this.onLog(batch, this.requestIds[owner]);
      this.children[owner]?.noteLog(batch);
      batch = [];
    };
    for (const line of lines) {
      const at = line.indexOf(LOG_END_MARK);
      if (at < 0) {
        batch.push(line);
        continue;
      }
      if (at > 0) batch.push(line.slice(0, at));
      flush();
      const set = Number(line.slice(at + LOG_END_MARK.length));
      if (!Number.isInteger(set) || set < 0 || set >= this.sets) continue;
      this.logOwners[stream] = set + 1;
      this.children[set]?.logEnded();
    }
    flush();
  }

  /** Forgets a set's process once nothing more will come for it, so its result can be collected. */
  private release(set: number): void {
    if (set < this.taken) this.children[set] = undefined;
  }

  private zygoteEnded(how: string, log: LineSplitter): void {
    if (this.ended) return;
    this.ended = true;
    for (const child of this.children) child?.zygoteEnded(how, log.tail());
  }
}

/** One invocation's process from a zygote: forked and waiting, then activated once. */
export class ZygoteChild implements PreparedHandler {
  private readonly supervision: Supervision;
  private pid: number | undefined;
  private reportedStatus: number | undefined;
  private requestId: string | undefined;
  private open = true;

  private goClosed = false;
  /** Reaped by the zygote, though what ended it may still be being decided. */
  private dead = false;
  private activated = false;
  private pendingSignal: NodeJS.Signals | undefined;
  private acknowledged = false;
  /** Bash and PHP: its exit report came; the zygote has yet to reap it (and then kill its group). */
  private exiting = false;
  /** PHP: kills a process that is still ending long after its exit report. */
  private exitGuard: NodeJS.Timeout | undefined;
  /** PHP: its last log lines (it logs through the zygote), and how many of its two log streams have
   *  reached its end mark; its end (report or exit) waits for both. */
  private readonly logTail: string[] = [];
  private logMarks = 0;
  private pendingEnd: (() => void) | undefined;
  private reaped = false;
  /** PHP: its report came, which settles its invocation whatever the zygote says of its end. */
  private reportCame = false;
  /** True once the file is loaded: the zygote's word for bash, the process's own for `fork`. */
  readonly ready: Promise<boolean>;

  constructor(
    private readonly kind: ZygoteKind,
    private readonly eventFd: number,
    private readonly contextFd: number,
    stdout: NodeJS.ReadableStream & { destroy(): void },
    stderr: NodeJS.ReadableStream & { destroy(): void },
    private readonly go: NodeJS.ReadWriteStream & { destroy(): void },
    /** The zygote's: true once it runs (bash: with the file loaded). */
    zygoteReady: Promise<boolean>,
    onStderrLines: (lines: string[], requestId: string | undefined) => void,
    /** Ends the zygote: for a process it never forked, whose deadline has passed. */
    private readonly endZygote: () => void,
    /** Tells the zygote the request id its output belongs to. */
    private readonly onActivate: (requestId: string) => void,
    /** Tells the zygote nothing more will come for this process. */
    private readonly release: () => void,
  ) {
    this.supervision = superviseHandler({
      stdout,
      stderr,
      pid: () => this.pid,
      killGroup: (signal) => this.signal(signal),
      onStderrLines: (lines) => onStderrLines(lines, this.requestId),
      ...(kind === 'php' ? { logTail: () => [...this.logTail] } : {}),
      onSettled: () => {
        this.closeFiles();
        go.destroy();
        // The zygote's process holds this socket until it exits, up to 48 invocations on: nothing of this
        // one (its response above all) may stay reachable from it.
        go.off('data', onData);
        go.off('close', onClose);
      },
    });
    const onClose = (): void => {
      this.goClosed = true;
    };
    go.on('error', ignore);
    go.on('close', onClose);
    let resolveLoaded: (loaded: boolean) => void = () => {};
    this.ready =
      kind === 'bash'
        ? zygoteReady
        : new Promise((resolve) => {
            resolveLoaded = resolve;
            void zygoteReady.then((running) => running || resolve(false));
            void this.supervision.handle.result.then(() => resolve(false));
          });
    const statusLine = new LineSplitter();
    const onData = (chunk: Buffer): void => {
      // A forked Python or PHP says `R` (no line end) once it has loaded the file; nothing else before
      // the go (PHP reports its end on the zygote's socket).
      if (kind === 'php' || (kind === 'fork' && !this.activated)) {
        if (chunk.includes(READY)) resolveLoaded(true);
        return;
      }
      for (const line of statusLine.push(chunk)) {
        if (line === 'A') this.acknowledged = true;
        const status = /^E (\d+)$/.exec(line)?.[1];
        if (status === undefined) continue;
        this.reportedStatus = Number(status);
        // The exit report is written only on a real exit, after stdout and stderr are closed: the
        // process is ending, and the zygote's word on it, which comes a little later, would add nothing.
        if (this.activated && this.acknowledged) {
          this.dead = true;
          this.exiting = true;
          this.supervision.processExited(this.reportedStatus, null);
        }
      }
    };
    go.on('data', onData);
  }

  /**
   * A PHP process's report (on the zygote's socket, before the zygote's word of its exit): its result is
   * `bytes` long, and its shutdown functions and destructors have run. What is left is PHP's teardown.
   */
  reported(status: number, bytes: number): void {
    if (this.dead) return;
    this.reportCame = true;
    this.dead = true;
    this.exiting = true;
    this.exitGuard = setTimeout(() => {
      if (this.exiting) this.killGroup('SIGKILL');
    }, PHP_EXIT_GRACE_MS);
    this.exitGuard.unref();
    this.endWhenLogged(() => this.supervision.processReported(status, bytes));
  }

  /** PHP: lines of its log, as the zygote read them. */
  noteLog(lines: readonly string[]): void {
    this.logTail.push(...lines);
    if (this.logTail.length > STACK_TRACE_LINES)
      this.logTail.splice(0, this.logTail.length - STACK_TRACE_LINES);
  }

  /** PHP: one of the zygote's log streams has reached this process's end mark. */
  logEnded(): void {
    this.logMarks++;
    if (this.logMarks >= 2) this.runPendingEnd();
    this.maybeRelease();
  }

  /**
   * PHP: settles once its log is all in (both end marks seen), so every line is logged, and kept for
   * the stack trace, before the answer. The marks were written before the report or exit that calls
   * this, so the wait is short; it is capped in case the zygote broke.
   */
  private endWhenLogged(end: () => void): void {
    if (this.logMarks >= 2) {
      end();
      return;
    }
    this.pendingEnd = end;
    setTimeout(() => this.runPendingEnd(), LOG_MARK_WAIT_MS).unref();
  }

  private runPendingEnd(): void {
    const end = this.pendingEnd;
    this.pendingEnd = undefined;
    end?.();
  }

  private maybeRelease(): void {
    if (this.reaped && (this.kind !== 'php' || this.logMarks >= 2)) this.release();
  }

  get exited(): boolean {
    return this.dead || this.supervision.handle.exited;
  }

  get result(): Promise<RunResult> {
    return this.supervision.handle.result;
  }

  activate(
    requestId: string,
    event: Buffer,
    variables: Record<string, string>,
    deadline: Deadline,
  ): Promise<RunResult> {
    if (this.activated || !this.open) throw new Error('a prestarted handler can be activated only once');
    this.requestId = requestId;
    this.activated = true;
    this.onActivate(requestId);
    // The files stay open until the invocation settles, to be emptied then (closeFiles).
    handOver(this.eventFd, this.contextFd, event, variables);
    this.go.end('G');
    this.supervision.handle.setDeadline(deadline);
    return this.supervision.handle.result;
  }

  discard(): void {
    this.closeFiles();
    this.go.destroy();
    if (this.pid === undefined) this.supervision.failedToStart(new Error('discarded before it was forked'));
    else this.supervision.handle.kill();
  }

  /** The zygote forked this process; its pid is also its process group. */
  forked(pid: number): void {
    this.pid = pid;
    // A deadline that passed before the fork was reported still applies.
    if (this.pendingSignal) this.signal(this.pendingSignal);
  }

  private signal(signal: NodeJS.Signals): void {
    if (this.pid === undefined) {
      this.pendingSignal = signal;
      // The deadline's kill is due and the zygote never forked this process (its file's top level hangs
      // on a reload, say): end the zygote, and the invocation as timed out. (A process whose exit report
      // came before the zygote's word of its fork is not stuck: the zygote kills its group itself.)
      if (signal === 'SIGKILL' && this.activated && !this.dead) {
        this.endZygote();
        this.supervision.processExited(null, 'SIGKILL');
      }
      return;
    }
    // The process is exiting on its own, and the zygote kills its group once it has reaped it: a kill
    // now could catch it mid-exit, and bash would log "Killed" with the whole forked subshell's text.
    if (signal === 'SIGKILL' && this.exiting) return;
    this.killGroup(signal);
  }

  private killGroup(signal: NodeJS.Signals): void {
    // Never -0: that would be the runtime's own group.
    if (this.pid === undefined) return;
    try {
      process.kill(-this.pid, signal);
    } catch {
      // ESRCH: the group is already gone.
    }
  }

  /**
   * The zygote reaped it with this exit status: exact from a `fork` zygote (signals come as
   * {@link killed}); from bash, wait's status, where 128 + n may be signal n or that exit code. The
   * process's own lines on the go socket (`A` when it took the invocation, `E <status>` from its exit
   * trap) settle both: an `E` equal to the status means the process exited with it; anything else above
   * 128 is a signal (bash runs the exit trap before a signal ends it, with the last command's status).
   * They travel on another socket than the status, so the decision waits for that socket to close (at
   * most {@link REPORT_WAIT_MS}, if an escaped process still holds it).
   */
  ended(status: number): void {
    this.dead = true;
    this.exiting = false;
    this.reaped = true;
    clearTimeout(this.exitGuard);
    this.maybeRelease();
    // Its report decided the outcome; a PHP process ends itself with SIGKILL right after it.
    if (this.reportCame) return;
    if (this.kind === 'php') {
      // Without a report its result is not complete: no more output will matter.
      this.endWhenLogged(() => this.supervision.processExited(status, null, true));
      return;
    }
    if (this.kind === 'fork') {
      this.supervision.processExited(status, null);
      return;
    }
    const decide = (): void => {
      if (this.supervision.handle.exited) return;
      const signal = SIGNAL_NAMES.get(status - 128);
      if (this.activated && !this.acknowledged) {
        this.supervision.failedToStart(
          new InternalError(
            `the prepared bash process ended (status ${status}) before it took the invocation`,
          ),
        );
      } else if (status <= 128 || this.reportedStatus === status || signal === undefined) {
        this.supervision.processExited(status, null);
      } else {
        this.supervision.processExited(null, signal as NodeJS.Signals);
      }
    };
    // Settled already (on its exit report, most often): nothing is left to decide, and a listener on
    // the socket, which the zygote holds for its other sets, would keep this invocation reachable.
    if (this.goClosed || this.supervision.handle.exited) {
      decide();
      return;
    }
    const onClose = (): void => {
      clearTimeout(timer);
      decide();
    };
    const timer = setTimeout(() => {
      this.go.off('close', onClose);
      decide();
    }, REPORT_WAIT_MS);
    this.go.once('close', onClose);
  }

  /** A `fork` zygote reaped it: killed by signal number `signal`. */
  killed(signal: number): void {
    this.dead = true;
    this.exiting = false;
    this.reaped = true;
    clearTimeout(this.exitGuard);
    this.maybeRelease();
    if (this.reportCame) return;
    const name = (SIGNAL_NAMES.get(signal) ?? 'SIGKILL') as NodeJS.Signals;
    if (this.kind === 'php') {
      this.endWhenLogged(() => this.supervision.processExited(null, name, true));
      return;
    }
    this.supervision.processExited(null, name);
  }

  /** Without its zygote no exit status will come: a waiting or running process is ended now. */
  zygoteEnded(how: string, zygoteLog: string[]): void {
    // No end mark will come any more.
    this.runPendingEnd();
    if (this.exiting) {
      // It reported its exit, but the zygote died before it could end the group: do that here.
      this.exiting = false;
      this.killGroup('SIGKILL');
    }
    if (this.exited) return;
    if (this.pid === undefined) {
      this.closeFiles();
      this.go.destroy();
      this.supervision.failedToStart(
        new HandlerLoadError(
          `the ${this.kind === 'bash' ? 'bash that loads the handler file' : 'process that forks the handler processes'} ${how}`,
          zygoteLog.slice(-20),
        ),
      );
      return;
    }
    this.supervision.handle.kill();
    this.supervision.processExited(null, 'SIGKILL');
  }

  private closeFiles(): void {
    if (!this.open) return;
    this.open = false;
    for (const fd of [this.eventFd, this.contextFd]) {
      // The zygote holds copies of these files: emptied, they give no process it forks later this
      // invocation's event or context.
      try {
        ftruncateSync(fd, 0);
      } catch {
        // nothing to empty
      }
      closeSync(fd);
    }
  }
}
