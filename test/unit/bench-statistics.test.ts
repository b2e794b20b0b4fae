/** The benchmark's arithmetic: percentiles and how trials are pooled, which decide the numbers in the README. */

import { describe, expect, it } from 'vitest';
import { quantile, summarize } from '../../scripts/bench/statistics.ts';

describe('quantile', () => {
  it.each([
    [[5], 0.5, 5],
    [[1, 2, 3, 4], 0.5, 2.5],
    [[4, 1, 3, 2], 0, 1],
    [[4, 1, 3, 2], 1, 4],
    [[10, 20, 30, 40, 50, 60, 70, 80, 90, 100], 0.9, 91],
  ])('of %j at %d is %d', (values, q, expected) => {
    expect(quantile(values, q)).toBeCloseTo(expected);
  });

  it('is NaN for no values, so an empty column shows as missing rather than zero', () => {
    expect(quantile([], 0.5)).toBeNaN();
  });
});

describe('summarize', () => {
  it('pools warm samples across trials and takes medians of the per-trial figures', () => {
    // One trial per row: init, cold, latencies, billed, invocations/s, runtime RSS (MiB); the tree is 4 MiB more.
    const rows: [number, number, number[], number[], number, number][] = [
      [10, 30, [1, 2], [2, 3], 100, 50],
      [20, 50, [3, 4], [4, 5], 200, 70],
      [30, 40, [5], [6], 300, 60],
    ];
    const summary = summarize(
      rows.map(([initMs, coldMs, latencyMs, billedMs, perSecond, rssMiB]) => ({
        initMs,
        coldMs,
        latencyMs,
        billedMs,
        // Spaced samples are pooled apart from the back-to-back ones.
        spacedLatencyMs: latencyMs.map((ms) => ms / 10),
        spacedBilledMs: [],
        perSecond,
        rssKiB: rssMiB * 1024,
        treeRssKiB: (rssMiB + 4) * 1024,
      })),
    );
    expect(summary.latency.p50).toBe(3);
    expect(summary.billed.p50).toBe(4);
    expect(summary.spacedLatency.p50).toBe(0.3);
    expect(summary.spacedBilled.p50).toBeNaN();
    expect(summary.coldMs).toBe(40);
    expect(summary.initMs).toBe(20);
    expect(summary.perSecond).toBe(200);
    expect(summary.rssMiB).toBe(60);
    expect(summary.treeRssMiB).toBe(64);
    expect(summary).toMatchObject({ trials: 3, invocations: 5 });
  });
});
