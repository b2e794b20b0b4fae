/** How the control-plane commands report: text or one JSON object on stdout, status and progress on stderr. */

import type { UploadListener } from './upload-progress.ts';

export class CommandOutput {
  readonly #json: boolean;

  constructor(json: boolean) {
    this.#json = json;
  }

  get json(): boolean {
    return this.#json;
  }

  /** A status line on stderr (never part of the results). */
  status(line: string): void {
    process.stderr.write(`${line}\n`);
  }

  /** The results: `result` as JSON with --json, else the text lines. */
  result(result: object, lines: readonly string[]): void {
    if (this.#json) process.stdout.write(`${JSON.stringify(result)}\n`);
    else for (const line of lines) process.stdout.write(`${line}\n`);
  }

  /** Reports an upload of `bytes` on a terminal only, as `handler` (the clients' HTTP handler) sends them. */
  upload(label: string, bytes: number, handler: { listener: UploadListener | undefined }): { done(): void } {
    const stderr = process.stderr;
    if (!stderr.isTTY) return { done() {} };
    const show = (sent: number): void => {
      const percent = bytes > 0 ? Math.floor((sent * 100) / bytes) : 100;
      stderr.write(`\ruploading ${label}: ${formatBytes(sent)} / ${formatBytes(bytes)} (${percent}%)`);
    };
    show(0);
    handler.listener = show;
    return {
      done() {
        handler.listener = undefined;
        show(bytes);
        stderr.write('\n');
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
