/** How the control-plane commands report: text or one JSON object on stdout, status and progress on stderr. */

/** Where a command writes; `process` streams by default, so tests can pass their own. */
export interface OutputStreams {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
}

export class CommandOutput {
  readonly #streams: OutputStreams;
  readonly #json: boolean;

  constructor(json: boolean, streams: OutputStreams = process) {
    this.#json = json;
    this.#streams = streams;
  }

  get json(): boolean {
    return this.#json;
  }

  /** A status line on stderr (never part of the results). */
  status(line: string): void {
    this.#streams.stderr.write(`${line}\n`);
  }

  /** The results: `result` as JSON with --json, else the text lines. */
  result(result: object, lines: readonly string[]): void {
    if (this.#json) this.#streams.stdout.write(`${JSON.stringify(result)}\n`);
    else for (const line of lines) this.#streams.stdout.write(`${line}\n`);
  }

  /**
   * Reports an upload of `bytes` on a terminal only. The SDK sends a zip as one request body, so
   * progress is the size being sent, then done.
   */
  upload(label: string, bytes: number): { done(): void } {
    const stderr = this.#streams.stderr;
    if (!stderr.isTTY) return { done() {} };
    stderr.write(`uploading ${label}: 0 / ${formatBytes(bytes)} (0%)`);
    return {
      done() {
        stderr.write(`\ruploading ${label}: ${formatBytes(bytes)} / ${formatBytes(bytes)} (100%)\n`);
      },
    };
  }
}

/** 1536 -> "1.5 KB". */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KB', 'MB', 'GB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}

/** Left-aligned columns, two spaces apart. */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)];
}
