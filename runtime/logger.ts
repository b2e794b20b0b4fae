/** Writes the function's log: handler stderr lines and the runtime's own messages, as text or JSON lines. */

import { writeSync } from 'node:fs';
import { type LogFormat, type LogLevel, logLevelRank } from './config.ts';

export interface Logger {
  /** Forwards lines a handler wrote to stderr; never filtered by level. */
  handlerLines(requestId: string | undefined, lines: readonly string[]): void;
  /** A message of the runtime itself, dropped when below the configured level. */
  log(level: LogLevel, message: string, requestId?: string): void;
}

/** Something to wait on for a moment without spinning (Atomics.wait needs a shared buffer). */
const PAUSE = new Int32Array(new SharedArrayBuffer(4));

/**
 * Writes all of `text` to `fd`, however long it takes. stderr can be a non-blocking pipe (Node.js
 * makes it one: seen once the runtime's first child with piped stdio has exited), so a write can take
 * part of the text or none (EAGAIN) while the reader is behind. Lines must not be lost, nor the runtime
 * crash (a handler writing 80,000 lines in a row ended it with exit code 7): it waits for the reader.
 */
export function writeFully(fd: number, text: string): void {
  const bytes = Buffer.from(text);
  let offset = 0;
  while (offset < bytes.length) {
    try {
      offset += writeSync(fd, bytes, offset, bytes.length - offset);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') throw error;
      Atomics.wait(PAUSE, 0, 0, 1);
    }
  }
}

/**
 * Makes a logger. Text lines are `timestamp<TAB>requestId<TAB>message` (runtime messages add the level
 * before the message, as Lambda's managed runtimes do); JSON lines carry `timestamp`, `level`,
 * `requestId` and `message`, the shape Lambda's JSON log format uses.
 * @param write sink for whole lines; the default writes synchronously to stderr so nothing is lost
 *   when the process exits.
 */
export function createLogger(
  format: LogFormat,
  level: LogLevel,
  write: (text: string) => void = (text) => writeFully(2, text),
): Logger {
  const minimum = logLevelRank(level);
  return {
    handlerLines(requestId, lines) {
      if (lines.length === 0) return;
      const timestamp = new Date().toISOString();
      let text = '';
      for (const line of lines) {
        text +=
          format === 'JSON'
            ? `${jsonHandlerLine(timestamp, requestId, line)}\n`
            : `${timestamp}\t${requestId ?? '-'}\t${line}\n`;
      }
      write(text);
    },
    log(messageLevel, message, requestId) {
      if (logLevelRank(messageLevel) < minimum) return;
      const timestamp = new Date().toISOString();
      write(
        format === 'JSON'
          ? `${JSON.stringify({ timestamp, level: messageLevel, requestId, message })}\n`
          : `${timestamp}\t${requestId ?? '-'}\t${messageLevel}\t${message}\n`,
      );
    },
  };
}

/**
 * A handler line in the JSON log format. A line that is itself a JSON object (a structured logger's,
 * with its own `level`) is passed on as written, with `timestamp` and `requestId` added when it has
 * none: Lambda reads `level` from such a line for its application log-level filter, and wrapping it
 * as an INFO `message` would hide an ERROR line behind a WARN filter
 * (https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-log-level.html).
 * Any other line becomes an INFO record with the line as its `message`.
 */
function jsonHandlerLine(timestamp: string, requestId: string | undefined, line: string): string {
  const trimmed = line.trim();
  if (trimmed.startsWith('{') && trimmed.endsWith('}')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(trimmed);
    } catch {
      parsed = undefined;
    }
    if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) {
      const own = parsed as Record<string, unknown>;
      if (Object.hasOwn(own, 'timestamp') && !isRfc3339(own.timestamp)) {
        // Lambda files a record whose timestamp it cannot read as INFO, whatever its level: the
        // runtime's takes its place, and the line's own is kept beside it.
        const { timestamp: written, ...rest } = own;
        return JSON.stringify({
          timestamp,
          ...(requestId === undefined ? {} : { requestId }),
          ...rest,
          writtenTimestamp: written,
        });
      }
      let added = '';
      if (!Object.hasOwn(own, 'timestamp')) added += `"timestamp":${JSON.stringify(timestamp)},`;
      if (requestId !== undefined && !Object.hasOwn(own, 'requestId')) {
        added += `"requestId":${JSON.stringify(requestId)},`;
      }
      if (added === '') return trimmed;
      const rest = trimmed.slice(1);
      // The original text is kept byte for byte (a number JSON.parse would round stays as written).
      return Object.keys(own).length === 0 ? `{${added.slice(0, -1)}}` : `{${added}${rest}`;
    }
  }
  return JSON.stringify({ timestamp, level: 'INFO', requestId, message: line });
}

/** An RFC 3339 date and time, the only timestamp Lambda reads from a JSON log line. */
function isRfc3339(value: unknown): boolean {
  return (
    typeof value === 'string' &&
    /^\d{4}-\d\d-\d\d[Tt ]\d\d:\d\d:\d\d(\.\d+)?([Zz]|[+-]\d\d:\d\d)$/.test(value) &&
    !Number.isNaN(Date.parse(value.replace(' ', 'T')))
  );
}

/** Lines of a handler's log kept for a failed invocation's `stackTrace`. */
export const STACK_TRACE_LINES = 20;

/** Longest line forwarded as one log event; longer ones are split (CloudWatch caps events at 256 KB). */
const MAX_LINE_BYTES = 64 * 1024;

/**
 * Splits a byte stream into lines without assuming chunk boundaries fall on characters or lines.
 * Also keeps the last lines, which become the `stackTrace` of a failed invocation.
 */
export class LineSplitter {
  readonly #tail: string[] = [];
  readonly #tailLines: number;
  #pending: Buffer = Buffer.alloc(0);

  constructor(tailLines = STACK_TRACE_LINES) {
    this.#tailLines = tailLines;
  }

  /** Returns the complete lines in this chunk (and whatever was pending before it). */
  push(chunk: Buffer): string[] {
    let data = this.#pending.length > 0 ? Buffer.concat([this.#pending, chunk]) : chunk;
    const lines: string[] = [];
    let newline = data.indexOf(10);
    while (newline >= 0) {
      this.#emit(data.subarray(0, newline), lines, true);
      data = data.subarray(newline + 1);
      newline = data.indexOf(10);
    }
    this.#pending = Buffer.from(this.#emit(data, lines, false));
    return lines;
  }

  /** Returns what is left after the last newline, as a final line. */
  flush(): string[] {
    const lines: string[] = [];
    if (this.#pending.length > 0) this.#emit(this.#pending, lines, true);
    this.#pending = Buffer.alloc(0);
    return lines;
  }

  /**
   * Adds `bytes` to `lines` in pieces of at most MAX_LINE_BYTES, cut between UTF-8 characters; with
   * `whole` false, keeps back (returns) the last piece, which may still grow.
   */
  #emit(bytes: Buffer, lines: string[], whole: boolean): Buffer {
    let rest = bytes;
    while (rest.length > MAX_LINE_BYTES) {
      let cut = MAX_LINE_BYTES;
      // Continuation bytes are 10xxxxxx: back up to the start of the character.
      while (cut > 0 && ((rest[cut] ?? 0) & 0xc0) === 0x80) cut--;
      if (cut === 0) cut = MAX_LINE_BYTES;
      lines.push(this.#decode(rest.subarray(0, cut)));
      rest = rest.subarray(cut);
    }
    if (!whole) return rest;
    lines.push(this.#decode(rest));
    return Buffer.alloc(0);
  }

  /** The last lines seen, oldest first. */
  tail(): string[] {
    return [...this.#tail];
  }

  #decode(bytes: Buffer): string {
    const end = bytes.length > 0 && bytes[bytes.length - 1] === 13 ? bytes.length - 1 : bytes.length;
    const line = bytes.toString('utf8', 0, end);
    this.#tail.push(line.length > 1000 ? `${line.slice(0, 1000)}...` : line);
    if (this.#tail.length > this.#tailLines) this.#tail.shift();
    return line;
  }
}
