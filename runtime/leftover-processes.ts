/** Finds and ends the processes an invocation left running outside its process group. */

import { existsSync, readdirSync, readFileSync } from 'node:fs';

/** A process that outlived its invocation: its pid and its command name (`/proc/<pid>/comm`). */
export interface Leftover {
  pid: number;
  command: string;
}

/** A process that keeps forking while it is being looked for is given up on after this many passes. */
const MAX_PASSES = 3;
/** Up to this many new pids are looked up one by one; more, and `/proc` is listed instead. */
const DIRECT_LOOKUPS = 64;

/**
 * The pid the kernel handed out last (the fifth field of `/proc/loadavg`, in this pid namespace), read
 * when an invocation starts: what it leaves behind has a later pid, so the search need not read the
 * environment of every process there is (80 of them here: 0.7 ms of CPU per invocation).
 */
export function lastPid(procDir = '/proc'): number | undefined {
  const last = Number(read(`${procDir}/loadavg`)?.toString('latin1').trim().split(' ')[4]);
  return Number.isInteger(last) && last > 0 ? last : undefined;
}

/**
 * Ends every process started since `since` (see {@link lastPid}; every process when undefined) that
 * carries this invocation's `LAMBDA_REQUEST_ID` in its environment but is not
 * in the invocation's own process group, which the runtime kills whole: one that left the group
 * (`setsid`, `start_new_session=True`, a daemon, job control) would otherwise run on into later
 * invocations. Every process the function starts with exec inherits that variable; a forked
 * interpreter that leaves its group without an exec keeps the environment it was started with, and is
 * not found. Nothing started before the invocation (the zygote, a process started at init, an
 * extension) has it. Each such process's whole group is killed.
 * @param group the invocation's process group (its main process's pid), which is skipped: its members
 *   have been sent SIGKILL already and may not have died yet.
 * @returns what was ended, for the log; empty in the usual case.
 */
export function endLeftovers(
  requestId: string,
  group: number | undefined,
  since: number | undefined,
  procDir = '/proc',
): Leftover[] {
  const marker = Buffer.from(`LAMBDA_REQUEST_ID=${requestId}\0`);
  const ended: Leftover[] = [];
  for (let pass = 0; pass < MAX_PASSES; pass++) {
    const found = findMarked(procDir, marker, group, startedSince(procDir, since, lastPid(procDir)));
    if (found.length === 0) break;
    for (const leftover of found) {
      if (!ended.some((known) => known.pid === leftover.pid)) ended.push(leftover);
      signalGroupAndProcess(leftover);
    }
  }
  return ended;
}

/**
 * The pids handed out after `since` and up to `now`: those numbers themselves when there are few (an
 * invocation takes one or two), else the processes `/proc` lists, as it does when the counter wrapped.
 */
function startedSince(procDir: string, since: number | undefined, now: number | undefined): number[] {
  if (since !== undefined && now !== undefined && now >= since && now - since <= DIRECT_LOOKUPS) {
    return Array.from({ length: now - since }, (_, index) => since + 1 + index);
  }
  let names: string[];
  try {
    names = readdirSync(procDir);
  } catch {
    return [];
  }
  const pids = names.filter((name) => name.charCodeAt(0) >= 48 && name.charCodeAt(0) <= 57).map(Number);
  if (since === undefined || now === undefined) return pids;
  return pids.filter(now >= since ? (pid) => pid > since && pid <= now : (pid) => pid > since || pid <= now);
}

function findMarked(procDir: string, marker: Buffer, group: number | undefined, pids: number[]): Leftover[] {
  const found: Leftover[] = [];
  for (const pid of pids) {
    if (pid === process.pid || !hasEntry(read(`${procDir}/${pid}/environ`), marker)) continue;
    // A pid looked up by number may be a thread's, which belongs to a process found by its own pid.
    const tgid = /^Tgid:\s*(\d+)$/m.exec(read(`${procDir}/${pid}/status`)?.toString('latin1') ?? '')?.[1];
    if (Number(tgid) !== pid) continue;
    const stat = read(`${procDir}/${pid}/stat`)?.toString('latin1');
    // `pid (comm) state ppid pgrp ...`: comm may hold spaces and parentheses, so count from the last ')'.
    const fields = stat?.slice(stat.lastIndexOf(')') + 2).split(' ');
    const pgrp = Number(fields?.[2]);
    if (!Number.isInteger(pgrp) || pgrp === group) continue;
    found.push({ pid, command: read(`${procDir}/${pid}/comm`)?.toString('utf8').trim() ?? '?' });
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

function signalGroupAndProcess({ pid }: Leftover): void {
  for (const target of [-pid, pid]) {
    try {
      process.kill(target, 'SIGKILL');
    } catch {
      // ESRCH: not a group leader, or already gone.
    }
  }
}

function read(file: string): Buffer | undefined {
  // Most pids looked up are of processes that have ended: no exception for those.
  if (!existsSync(file)) return undefined;
  try {
    return readFileSync(file);
  } catch {
    // Gone meanwhile, or not ours to read.
    return undefined;
  }
}
