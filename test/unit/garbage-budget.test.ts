import { describe, expect, it, vi } from 'vitest';
import { fullCollection, GARBAGE_BUDGET_BYTES, GarbageBudget } from '../../runtime/garbage-budget.ts';

describe('GarbageBudget', () => {
  it('collects once the bytes moved reach the budget, then counts again from zero', () => {
    let collections = 0;
    const budget = new GarbageBudget(() => collections++);
    budget.spent(GARBAGE_BUDGET_BYTES - 1);
    budget.collectIfDue();
    expect(collections).toBe(0);
    budget.spent(1);
    budget.collectIfDue();
    budget.collectIfDue();
    expect(collections).toBe(1);
    budget.spent(GARBAGE_BUDGET_BYTES);
    budget.collectIfDue();
    expect(collections).toBe(2);
  });

  it('never collects small invocations in a row until they add up', () => {
    let collections = 0;
    const budget = new GarbageBudget(() => collections++);
    const perInvocation = 20;
    const invocations = Math.ceil(GARBAGE_BUDGET_BYTES / perInvocation);
    for (let i = 0; i < invocations - 1; i++) {
      budget.spent(perInvocation);
      budget.collectIfDue();
    }
    expect(collections).toBe(0);
  });

  it('collects for real: garbage Buffers are freed without node started with --expose-gc', async () => {
    const collect = fullCollection();
    const held = Array.from({ length: 32 }, () => Buffer.alloc(1024 * 1024, 1));
    // As an invocation's Buffers do, these outlive a few young-generation collections (forced here by
    // short-lived garbage), so that only a full collection can free them once dropped.
    let churn = 0;
    for (let i = 0; i < 40_000; i++) churn += new Array(256).fill(i).length;
    expect(churn).toBeGreaterThan(0);
    held.length = 0;
    const before = process.memoryUsage().arrayBuffers;
    expect(before).toBeGreaterThan(30 * 1024 * 1024);
    collect();
    // V8 frees the memory of dead Buffers on a background thread, right after the collection.
    await vi.waitFor(
      () => expect(process.memoryUsage().arrayBuffers).toBeLessThan(before - 16 * 1024 * 1024),
      { timeout: 2_000, interval: 10 },
    );
  });
});
