import { describe, expect, it } from 'vitest';
import { GARBAGE_BUDGET_BYTES, GarbageBudget } from '../../runtime/garbage-budget.ts';

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

  it('does nothing without a way to collect (Node.js started without --expose-gc)', () => {
    const budget = new GarbageBudget(undefined);
    budget.spent(10 * GARBAGE_BUDGET_BYTES);
    expect(() => budget.collectIfDue()).not.toThrow();
  });
});
