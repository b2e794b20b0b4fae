/** One benchmark trial: start a runtime cold, time its first answer, then time warm invocations. */

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { LocalRuntimeApi, type NextArrival } from '../local-runtime-api.ts';
import type { LaunchSpec } from './contenders.ts';

export interface TrialSamples {
  /** Spawn to the first GET /next (the runtime is ready). */
  initMs: number;
  /** Spawn to the first answer, with the event queued before the spawn. */
  coldMs: number;
  /** Invoke to answer, per warm invocation, each sent the moment the runtime asks (back to back). */
  latencyMs: number[];
  /** Invoke to the runtime's next GET /next: what Lambda bills. */
  billedMs: number[];
  /** The same for warm invocations sent {@link SPACED_GAP_MS} after the runtime asked (sporadic traffic). */
  spacedLatencyMs: number[];
  spacedBilledMs: number[];
  /** Warm invocations per second, one after another. */
  perSecond: number;
  /** Resident memory of the runtime while it waits for an event, KiB: the started process and its
   *  children (shlambda's bootstrap and node; the tutorial's bash and its curl), not their children. */
  rssKiB: number;
  /** The same for the whole process tree, with any handler process prepared for the next event. */
  treeRssKiB: number;
}

/** How long a spaced invocation waits after the runtime's GET /next: enough for any interpreter to start. */
export const SPACED_GAP_MS = 50;

/** Runs one trial; throws when the runtime answers anything but a response equal to the event. */
export async function runTrial(
  launch: LaunchSpec,
  event: Buffer,
  warmInvocations: number,
  spacedInvocations = 0,
): Promise<TrialSamples> {
  const api = await LocalRuntimeApi.start();
  const nextArrivals: NextArrival[] = [];
  api.on('next', (arrival) => nextArrivals.push(arrival));
  const started = performance.now();
  const child = spawn(launch.command, launch.args, {
    cwd: launch.cwd,
    env: { ...launch.env, AWS_LAMBDA_RUNTIME_API: api.address },
    stdio: ['ignore', 'ignore', 'pipe'],
    detached: true,
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  try {
    const cold = await api.invoke(event, { timeoutMs: 60_000 });
    const coldMs = performance.now() - started;
    check(cold, event, stderr);
    const initMs = (nextArrivals[0]?.monotonicMs ?? Number.NaN) - started;

    // Every invocation consumes one GET /next: arrival k delivers warm invocation k (0 is the cold one),
    // and arrival k + 1 is the runtime asking for more, where Lambda stops billing invocation k.
    const latencyMs: number[] = [];
    const billedMs: number[] = [];
    const spacedLatencyMs: number[] = [];
    const spacedBilledMs: number[] = [];
    const invokeWarm = async (k: number, gapMs: number, latency: number[], billed: number[]) => {
      await arrival(api, nextArrivals, k); // parked: nothing of the previous invocation is measured here
      if (gapMs > 0) await new Promise((resolve) => setTimeout(resolve, gapMs));
      const t0 = performance.now();
      const outcome = await api.invoke(event, { timeoutMs: 60_000 });
      latency.push(performance.now() - t0);
      check(outcome, event, stderr);
      billed.push((await arrival(api, nextArrivals, k + 1)) - t0);
    };
    const warmStart = performance.now();
    for (let k = 1; k <= warmInvocations; k++) await invokeWarm(k, 0, latencyMs, billedMs);
    const perSecond = warmInvocations / ((performance.now() - warmStart) / 1000);
    for (let k = warmInvocations + 1; k <= warmInvocations + spacedInvocations; k++) {
      await invokeWarm(k, SPACED_GAP_MS, spacedLatencyMs, spacedBilledMs);
    }
    const rss = rssByDepth(child.pid ?? 0);
    return {
      initMs,
      coldMs,
      latencyMs,
      billedMs,
      spacedLatencyMs,
      spacedBilledMs,
      perSecond,
      rssKiB: rss.runtime,
      treeRssKiB: rss.tree,
    };
  } finally {
    if (child.pid) {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await api.close();
  }
}

/** Resolves with the time (performance.now() ms) of the index-th GET /next, counting from 0. */
function arrival(api: LocalRuntimeApi, arrivals: NextArrival[], index: number): Promise<number> {
  const seen = arrivals[index];
  if (seen) return Promise.resolve(seen.monotonicMs);
  return new Promise((resolve) => {
    const listener = (): void => {
      const arrived = arrivals[index];
      if (!arrived) return;
      api.off('next', listener);
      resolve(arrived.monotonicMs);
    };
    api.on('next', listener);
  });
}

function check(outcome: Awaited<ReturnType<LocalRuntimeApi['invoke']>>, event: Buffer, stderr: string): void {
  if (outcome.kind !== 'response') {
    throw new Error(
      `expected a response, got ${outcome.kind}: ${'body' in outcome ? outcome.body : ''}\n${stderr}`,
    );
  }
  // Handlers re-encode JSON; compare decoded values so whitespace differences do not count.
  if (JSON.stringify(JSON.parse(outcome.body.toString())) !== JSON.stringify(JSON.parse(event.toString()))) {
    throw new Error(`the response differs from the event\n${stderr}`);
  }
}

/** RSS of the process tree under `pid`: the top two levels (the runtime) and the whole tree, KiB. */
function rssByDepth(pid: number): { runtime: number; tree: number } {
  const total = { runtime: 0, tree: 0 };
  const visit = (p: number, depth: number): void => {
    try {
      const kib = Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${p}/status`, 'utf8'))?.[1] ?? 0);
      total.tree += kib;
      if (depth <= 1) total.runtime += kib;
      for (const child of fs
        .readFileSync(`/proc/${p}/task/${p}/children`, 'utf8')
        .split(' ')
        .filter(Boolean)) {
        visit(Number(child), depth + 1);
      }
    } catch {
      // the process ended meanwhile
    }
  };
  visit(pid, 0);
  return total;
}
