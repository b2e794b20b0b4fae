/** How many invocations each zygote serves: few while the environment is new, more once it runs. */

import { describe, expect, it } from 'vitest';
import { type ZygoteKind, zygoteSets } from '../../runtime/zygote.ts';

describe('zygoteSets', () => {
  it.each([
    // kind, concurrent loops, the previous zygote's sets, expected
    ['bash', 1, undefined, 2],
    ['bash', 1, 2, 16],
    ['bash', 1, 16, 16],
    ['fork', 1, undefined, 2],
    ['fork', 1, 2, 16],
    ['fork', 1, 16, 48],
    ['fork', 1, 48, 48],
    ['php', 1, 16, 48],
    // Within ~400 descriptors for all loops together: 5 per set.
    ['fork', 4, 16, 20],
    ['bash', 10, 16, 8],
    ['fork', 100, 48, 1],
  ] as [ZygoteKind, number, number | undefined, number][])(
    '%s, %d loop(s), after %s sets: %d',
    (kind, concurrency, previous, expected) => {
      expect(zygoteSets(kind, concurrency, previous)).toBe(expected);
    },
  );
});
