// Writes zip files that are byte-identical for identical inputs (sorted entries, one fixed timestamp, explicit Unix modes), whatever the clock or time zone.
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rename, rm, stat } from 'node:fs/promises';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ZipFile } from 'yazl';

/** One file to store in a zip. */
export interface ZipEntry {
  /** Path inside the zip, `/`-separated, relative (`bin/node`). */
  name: string;
  /** The content, or the path of a file on disk to read it from. */
  data: Buffer | string;
  /** Permission bits only, such as `0o755` or `0o644`; the regular-file type bits are added here. */
  mode: number;
}

/** What was written. */
export interface ZipResult {
  bytes: number;
  sha256: string;
}

/**
 * The timestamp of every entry: 2000-01-01 12:00:00 in DOS fields. yazl fills those fields with the
 * LOCAL-time getters, so a Date built from local components yields the same fields in every time zone;
 * it is built per call because `process.env.TZ` can change while the process runs. Noon rather than
 * midnight keeps clear of zones whose daylight-saving switch happens at midnight.
 */
function fixedMtime(): Date {
  return new Date(2000, 0, 1, 12, 0, 0);
}

const REGULAR_FILE = 0o100000;

/**
 * Writes `entries` to `outPath` as a deflated zip and returns its size and sha256 (hex).
 *
 * Entries are sorted by name (code-unit order, not locale order) and all carry the same timestamp, with
 * no extended-timestamp extra field (`forceDosTimestamp`), so two runs produce the same bytes and Lambda
 * reports the same `CodeSha256`. The file appears at `outPath` only once complete.
 */
export async function writeZip(entries: readonly ZipEntry[], outPath: string): Promise<ZipResult> {
  const sorted = [...entries].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  checkNames(sorted);

  // Everything is checked before yazl starts reading files, so a bad entry leaves nothing half-done.
  for (const entry of sorted) {
    if ((entry.mode & ~0o7777) !== 0) {
      throw new Error(
        `Zip entry ${entry.name}: mode ${entry.mode.toString(8)} must hold permission bits only`,
      );
    }
    if (typeof entry.data === 'string') {
      const info = await stat(entry.data).catch((error: unknown) => {
        throw new Error(`Zip entry ${entry.name}: cannot read ${entry.data}: ${(error as Error).message}`);
      });
      if (!info.isFile()) throw new Error(`Zip entry ${entry.name}: ${entry.data} is not a regular file`);
    }
  }

  const zip = new ZipFile();
  const mtime = fixedMtime();
  for (const entry of sorted) {
    const options = { mtime, mode: REGULAR_FILE | entry.mode, compress: true, forceDosTimestamp: true };
    if (typeof entry.data === 'string') zip.addFile(entry.data, entry.name, options);
    else zip.addBuffer(entry.data, entry.name, options);
  }
  zip.end();

  const hash = createHash('sha256');
  let bytes = 0;
  const measure = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      hash.update(chunk);
      bytes += chunk.length;
      callback(null, chunk);
    },
  });
  // A unique temporary name in the same directory, so the final rename is atomic and parallel builds
  // into one directory do not write over each other's half-finished file.
  const partial = `${outPath}.${process.pid}.${Date.now()}.partial`;
  try {
    await pipeline(zip.outputStream, measure, createWriteStream(partial));
    await rename(partial, outPath);
  } catch (error) {
    await rm(partial, { force: true });
    throw error;
  }
  return { bytes, sha256: hash.digest('hex') };
}

/** Rejects names that unzip would resolve outside the target directory, or that collide. */
function checkNames(sorted: readonly ZipEntry[]): void {
  for (let i = 0; i < sorted.length; i++) {
    const name = sorted[i]?.name ?? '';
    const bad =
      name === '' ||
      name.startsWith('/') ||
      name.endsWith('/') ||
      name.includes('\\') ||
      name.split('/').some((part) => part === '' || part === '.' || part === '..');
    if (bad) throw new Error(`Zip entry name ${JSON.stringify(name)} must be a relative path of plain names`);
    if (i > 0 && sorted[i - 1]?.name === name) throw new Error(`Zip entry ${name} is listed twice`);
  }
}
