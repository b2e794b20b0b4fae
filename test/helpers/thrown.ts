/** Test helpers: expect a call to throw, and get the error back for further checks. */

import { expect } from 'vitest';

type ErrorClass<T extends Error> = abstract new (...args: never[]) => T;

/** Runs `fn`, expecting it to throw an instance of `type`; returns the error for further checks. */
export function thrown<T extends Error>(type: ErrorClass<T>, fn: () => unknown): T {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(type);
    return error as T;
  }
  throw new Error(`expected ${type.name} to be thrown, but nothing was`);
}

/** Awaits `fn`, expecting it to reject with an instance of `type`; returns the error for further checks. */
export async function thrownAsync<T extends Error>(type: ErrorClass<T>, fn: () => unknown): Promise<T> {
  try {
    await fn();
  } catch (error) {
    expect(error).toBeInstanceOf(type);
    return error as T;
  }
  throw new Error(`expected ${type.name} to be thrown, but nothing was`);
}
