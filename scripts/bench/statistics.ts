/** Percentiles and the summary of many trials: pure arithmetic, no I/O. */

import type { TrialSamples } from './trial.ts';

/** The q-th quantile (0..1) of the values, by linear interpolation between closest ranks. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const position = (sorted.length - 1) * q;
  const low = Math.floor(position);
  const high = Math.ceil(position);
  const lowValue = sorted[low] ?? Number.NaN;
  return lowValue + ((sorted[high] ?? lowValue) - lowValue) * (position - low);
}

export interface Summary {
  latency: { p50: number; p90: number; p99: number };
  billed: { p50: number; p90: number; p99: number };
  spacedLatency: { p50: number; p90: number; p99: number };
  spacedBilled: { p50: number; p90: number; p99: number };
  perSecond: number;
  coldMs: number;
  initMs: number;
  rssMiB: number;
  treeRssMiB: number;
  trials: number;
  invocations: number;
}

/** Pools the warm samples of all trials; cold start, init and memory are medians over trials. */
export function summarize(trials: readonly TrialSamples[]): Summary {
  const latency = trials.flatMap((t) => t.latencyMs);
  const billed = trials.flatMap((t) => t.billedMs);
  const spread = (values: number[]) => ({
    p50: quantile(values, 0.5),
    p90: quantile(values, 0.9),
    p99: quantile(values, 0.99),
  });
  return {
    latency: spread(latency),
    billed: spread(billed),
    spacedLatency: spread(trials.flatMap((t) => t.spacedLatencyMs)),
    spacedBilled: spread(trials.flatMap((t) => t.spacedBilledMs)),
    perSecond: quantile(
      trials.map((t) => t.perSecond),
      0.5,
    ),
    coldMs: quantile(
      trials.map((t) => t.coldMs),
      0.5,
    ),
    initMs: quantile(
      trials.map((t) => t.initMs),
      0.5,
    ),
    rssMiB:
      quantile(
        trials.map((t) => t.rssKiB),
        0.5,
      ) / 1024,
    treeRssMiB:
      quantile(
        trials.map((t) => t.treeRssKiB),
        0.5,
      ) / 1024,
    trials: trials.length,
    invocations: latency.length,
  };
}
