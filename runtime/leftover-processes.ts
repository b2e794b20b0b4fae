/** Finds and ends the processes an invocation left running outside its process group. */

import { closeSync, openSync, readdirSync, readFileSync, readSync } from 'node:fs';

/** A process that outlived its invocation: its pid and its command name (`/proc/<pid>/comm`). */
export interface Leftover {
  pid: number;
  command: string;
}

/** What {@link endLeftovers} ended, and whether its last look found nothing more. */
export interface LeftoverSweep {
  ended: Leftover[];
  /** False when processes were still being started after the last pass: more may be running. */
  complete: boolean;
}

/** Where an invocation began: the last pid handed out before its event came ({@link lastPid}), and
 *  when it came (`performance.now()`). */
export interface SweepStart {
  lastPid: number | undefined;
  atMs: number;
}

/** A process that keeps forking while it is being looked for is given up on after this many passes. */
const MAX_PASSES = 3;
/** Up to this many new pids are looked up one by one (an invocation takes one to three); more, and
 *  `/proc` is listed instead: most of them have ended, and a lookup that fails costs about as much as
 *  listing a few dozen processes. */
const DIRECT_LOOKUPS = 8;
/** Past this, an invocation may have gone round the whole pid counter: `/proc` is listed instead. */
const LIST_AFTER_MS = 1000;

/**
 * Ends every process started for the invocation that carries its `LAMBDA_REQUEST_ID`, or the pid of
 * the process prepared for it in `_SHLAMBDA_PROCESS` (what a Python, PHP, Ruby, Perl or Node file's top
 * level started while that process loaded it), in its environment but is not in its process group,
 * which is killed whole anyway (by the runtime, or by the zygote once it has reaped the main process):
 * one that left the group (`setsid`, `start_new_session=True`, a daemon, job control) would otherwise
 * run on into later invocations. Every process started with an exec has those variables, and so does
 * every fork of one; a fork of an interpreter shlambda started that leaves its group and runs no
 * command keeps the environment that interpreter was started with, and is not found. Nothing else has
 * them: not a zygote, not what a bash file's top level started in its zygote, not an extension. The
 * group of each process found is killed too when it was made after the invocation's processes, so a
 * loop in a forked shell that leads it goes with its child.
 * @param group the invocation's process group (its main process's pid), which is skipped.
 */
export function endLeftovers(requestId: string, group: number | undefined, start: SweepStart): LeftoverSweep {
  const markers = [Buffer.from(`LAMBDA_REQUEST_ID=${requestId}\0`)];
  // A prepared process names itself in what its file's top level starts, before the invocation's
  // variables exist (function-*.{php,mjs}, zygote-*.{py,pl,rb}); those processes came after its pid.
  if (group !== undefined) markers.push(Buffer.from(`_SHLAMBDA_PROCESS=${group}\0`));
  const recent = performance.now() - start.atMs < LIST_AFTER_MS ? start.lastPid : undefined;
  const since = recent !== undefined && group !== undefined ? Math.min(recent, group - 1) : recent;
  return sweep(markers, group, since);
}

/**
 * Ends what a bash zygote's handler file left running once the zygote has ended: its top level ran with
 * `_SHLAMBDA_PROCESS` set to the zygote's pid (zygote-bash.sh), which what it started inherits, outside
 * the zygote's group or in it. What a file starts while loading lives as long as what loaded it.
 */
export function endLeftoversOf(pid: number): LeftoverSweep {
  return sweep([Buffer.from(`_SHLAMBDA_PROCESS=${pid}\0`)], undefined, pid - 1);
}

/** `a process ... : 27 (sleep)` or `3 processes ... : 27 (sleep), ...`, for a log line; and when the
 *  search gave up on a process that kept starting others, that some may be left. */
export function describeLeftovers({ ended, complete }: LeftoverSweep, what: string): string {
  const list = ended.map(({ pid, command }) => `${pid} (${command})`).join(', ');
  const count = ended.length === 1 ? 'a process' : `${ended.length} processes`;
  return `ended ${count} ${what}: ${list}${complete ? '' : ' (they kept starting others: some may still run)'}`;
}

function sweep(markers: Buffer[], group: number | undefined, since: number | undefined): LeftoverSweep {
  const ended: Leftover[] = [];
  for (let pass = 0; pass < MAX_PASSES; pass++) {
    const window = startedSince(since, lastPid());
    const found = findMarked(markers, group, window.pids);
    let started = 0;
    for (const { leftover, pgrp } of found) {
      // One killed in an earlier pass may still be on its way out: found again, it is not a new one.
      if (!ended.some((known) => known.pid === leftover.pid)) {
        ended.push(leftover);
        started++;
      }
      kill(leftover.pid);
      // Only a group made during the invocation: a process may have joined an older one (its zygote's).
      if (pgrp > 1 && pgrp !== group && window.isNew(pgrp)) kill(-pgrp);
    }
    if (started === 0) return { ended, complete: true };
  }
  return { ended, complete: false };
}

/**
 * The pid the kernel handed out last (the fifth field of `/proc/loadavg`, in this pid namespace). What
 * an invocation leaves behind has a later pid than the one read before its event, so the search need
 * not read the environment of every process there is (80 of them here: 0.7 ms of CPU per invocation).
 */
export function lastPid(): number | undefined {
  const last = Number(read('/proc/loadavg')?.toString('latin1').trim().split(' ')[4]);
  return Number.isInteger(last) && last > 0 ? last : undefined;
}

/**
 * The pids handed out after `since` and up to `now`: those numbers themselves when there are few (an
 * invocation takes one or two), else the processes `/proc` lists, as when the counter wrapped round;
 * every process there is when `since` is not known.
 */
function startedSince(
  since: number | undefined,
  now: number | undefined,
): { pids: number[]; isNew: (pid: number) => boolean } {
  if (since === undefined || now === undefined) return { pids: listed(), isNew: () => true };
  const isNew =
    now >= since ? (pid: number) => pid > since && pid <= now : (pid: number) => pid > since || pid <= now;
  if (now >= since && now - since <= DIRECT_LOOKUPS) {
    return { pids: Array.from({ length: now - since }, (_, index) => since + 1 + index), isNew };
  }
  return { pids: listed().filter(isNew), isNew };
}

function listed(): number[] {
  try {
    return readdirSync('/proc')
      .filter((name) => name.charCodeAt(0) >= 48 && name.charCodeAt(0) <= 57)
      .map(Number);
  } catch {
    return [];
  }
}

function findMarked(
  markers: Buffer[],
  group: number | undefined,
  pids: number[],
): { leftover: Leftover; pgrp: number }[] {
  const found: { leftover: Leftover; pgrp: number }[] = [];
  for (const pid of pids) {
    // The invocation's main process is its group's, and this runtime is not the function's.
    if (pid === process.pid || pid === group) continue;
    const environ = read(`/proc/${pid}/environ`);
    if (!markers.some((marker) => hasEntry(environ, marker))) continue;
    // A pid looked up by number may be a thread's, which belongs to a process found by its own pid.
    const tgid = /^Tgid:\s*(\d+)$/m.exec(read(`/proc/${pid}/status`)?.toString('latin1') ?? '')?.[1];
    if (Number(tgid) !== pid) continue;
    const stat = read(`/proc/${pid}/stat`)?.toString('latin1');
    // `pid (comm) state ppid pgrp ...`: comm may hold spaces and parentheses, so count from the last ')'.
    const fields = stat?.slice(stat.lastIndexOf(')') + 2).split(' ');
    const pgrp = Number(fields?.[2]);
    if (!Number.isInteger(pgrp) || pgrp === group) continue;
    const command = read(`/proc/${pid}/comm`)?.toString('utf8').trim() ?? '?';
    found.push({ leftover: { pid, command }, pgrp });
  }
  return found;
}

/** Whether `NAME=value\0` is one of the environment's entries (the first, or right after a NUL). */
function hasEntry(environ: Buffer | undefined, marker: Buffer): boolean {
  if (!environ) return false;
  for (let at = environ.indexOf(marker); at >= 0; at = environ.indexOf(marker, at + 1)) {
    if (at === 0 || environ[at - 1] === 0) return true;
  }
  return false;
}

function kill(target: number): void {
  try {
    process.kill(target, 'SIGKILL');
  } catch {
    // ESRCH: already gone.
  }
}

/** Where the /proc files are read into: they are small, and read on every invocation. Made on first
 *  use, not while the runtime starts. */
let scratch: Buffer | undefined;

/**
 * A /proc file's bytes, in a buffer that the next call reuses; a file too large for it is read whole.
 * Undefined when it is gone (the process ended) or not ours to read.
 */
function read(file: string): Buffer | undefined {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return undefined;
  }
  try {
    scratch ??= Buffer.allocUnsafe(64 * 1024);
    const into = scratch;
    let length = 0;
    for (;;) {
      const got = readSync(fd, into, length, into.length - length, null);
      if (got === 0) return into.subarray(0, length);
      length += got;
      if (length === into.length) return readFileSync(file);
    }
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}
