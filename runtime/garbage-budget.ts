/**
 * Bounds the memory that large events and responses leave behind: once invocations have moved a few
 * MiB through the runtime, the next one collects the garbage while its handler runs.
 *
 * Why: each byte of an event or response passes through several Buffers (socket reads, the event, the
 * handler's stdout), whose memory lives outside V8's heap. V8 collects it only once ~64 MiB of such
 * memory has piled up, so a function answering 1 MB responses grew from 53 to 98 MiB RSS over 40
 * invocations (the bench's 1 MB event sent back to back to a bash echo; the test in
 * runtime.test.ts, "1 MB events and responses", saw +66 MiB over 48). On a
 * 128 MB function that is the road to an out-of-memory kill. A collection costs 3-7 ms of the
 * runtime's CPU; started just after the handler got its event, it overlaps the handler's own work.
 */

/** Event and response bytes after which the next invocation collects garbage. */
export const GARBAGE_BUDGET_BYTES = 4 * 1024 * 1024;

export class GarbageBudget {
  #moved = 0;

  /** @param collect a full garbage collection ({@link fullCollection}). */
  constructor(private readonly collect: () => void) {}

  /** Counts the bytes an invocation moved (its event and its response). */
  spent(bytes: number): void {
    this.#moved += bytes;
  }

  /** Collects now if the budget is spent: call it once a handler has its event. */
  collectIfDue(): void {
    if (this.#moved < GARBAGE_BUDGET_BYTES) return;
    this.#moved = 0;
    this.collect();
  }
}

/**
 * A full garbage collection, made available on first use. `--expose-gc` on node's command line would
 * cost every cold start ~8 ms (the flag changes V8's flag hash, and Node's built-in code cache no
 * longer matches: bash echo, 20 interleaved cold starts, 46.4 -> 54.6 ms); set at run time, only the
 * first collection pays for it (~4 ms, once), and only functions with large payloads ever get there.
 */
export function fullCollection(): () => void {
  let gc: (() => void) | undefined;
  return () => {
    if (!gc) {
      process.getBuiltinModule('node:v8').setFlagsFromString('--expose-gc');
      gc = process.getBuiltinModule('node:vm').runInNewContext('gc') as () => void;
    }
    gc();
  };
}
