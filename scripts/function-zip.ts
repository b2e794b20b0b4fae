/** Packs a function's handler files into a deterministic zip, refusing what Lambda would reject or misrun. */

import fs from 'node:fs';
import path from 'node:path';
import { writeZip, type ZipEntry } from './deterministic-zip.ts';

/** Lambda's code size limits (https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html). */
export interface CodeLimits {
  /** A zip sent in the request body (ZipFile): 50 MB. */
  maxZipBytes: number;
  /** Function and layers, unzipped: 250 MB. */
  maxUnzippedBytes: number;
}

export const LAMBDA_CODE_LIMITS: CodeLimits = Object.freeze({
  maxZipBytes: 50 * 1024 * 1024,
  maxUnzippedBytes: 250 * 1024 * 1024,
});

export interface FunctionZip {
  path: string;
  bytes: number;
  /** Base64 sha256 of the zip, as Lambda reports CodeSha256. */
  codeSha256: string;
  files: string[];
  unzippedBytes: number;
}

/**
 * Writes the files of `inputs` to `outPath`: a directory contributes its files recursively under their
 * relative names, a file goes at the zip root. Modes are 0755 for executable files, 0644 otherwise.
 */
export async function packageFunction(
  inputs: readonly string[],
  outPath: string,
  limits: CodeLimits = LAMBDA_CODE_LIMITS,
): Promise<FunctionZip> {
  if (inputs.length === 0) throw new Error('nothing to package: name the handler files or directories');
  const out = path.resolve(outPath);
  const entries: ZipEntry[] = [];
  let unzippedBytes = 0;
  for (const input of inputs) {
    let info: fs.Stats;
    try {
      info = fs.statSync(input);
    } catch {
      throw new Error(`${input}: no such file or directory`);
    }
    const files = info.isDirectory()
      ? listFiles(input).map((rel) => ({ name: rel, file: path.join(input, rel) }))
      : [{ name: path.basename(input), file: input }];
    for (const { name, file } of files) {
      // The zip being written may sit inside a packaged directory (`package . -o function.zip`).
      if (path.resolve(file) === out) continue;
      const stats = statOrExplain(file);
      if (!stats.isFile()) continue;
      checkFile(name, file);
      unzippedBytes += stats.size;
      entries.push({ name, data: file, mode: stats.mode & 0o111 ? 0o755 : 0o644 });
    }
  }
  if (entries.length === 0) throw new Error(`nothing to package: ${inputs.join(', ')} holds no files`);
  if (unzippedBytes > limits.maxUnzippedBytes) {
    throw new Error(
      `the function's files are ${mb(unzippedBytes)} unzipped, over Lambda's ${mb(limits.maxUnzippedBytes)} limit for function and layers together`,
    );
  }
  fs.mkdirSync(path.dirname(out), { recursive: true });
  const { bytes, sha256 } = await writeZip(entries, out);
  if (bytes > limits.maxZipBytes) {
    throw new Error(
      `${outPath} is ${mb(bytes)} zipped, over the ${mb(limits.maxZipBytes)} limit of a direct upload: ` +
        `upload it to S3 (aws s3 cp ${outPath} s3://BUCKET/) and create the function from there, or ship less`,
    );
  }
  return {
    path: outPath,
    bytes,
    codeSha256: Buffer.from(sha256, 'hex').toString('base64'),
    files: entries.map((e) => e.name).sort(),
    unzippedBytes,
  };
}

function checkFile(name: string, file: string): void {
  if (name === 'bootstrap') {
    throw new Error(
      `${file}: a 'bootstrap' at the root of the function zip would replace the shlambda layer's bootstrap; rename it`,
    );
  }
  const head = readHead(file);
  if (head.subarray(0, 2).toString('latin1') === '#!') {
    const eol = head.indexOf(0x0a);
    if (eol > 0 && head[eol - 1] === 0x0d) {
      throw new Error(
        `${file}: the shebang line ends in CRLF, so the kernel would look for an interpreter named with a trailing CR; convert the file to LF line endings (dos2unix)`,
      );
    }
  }
}

function readHead(file: string): Buffer {
  const fd = fs.openSync(file, 'r');
  try {
    const buffer = Buffer.alloc(4096);
    const n = fs.readSync(fd, buffer, 0, buffer.length, 0);
    return buffer.subarray(0, n);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Files under `dir`, relative and `/`-separated; symlinks are followed so real files get shipped.
 * @param within real paths of the directories being listed, from `dir` down: a link back to one of
 *   them would be listed without end.
 */
function listFiles(dir: string, prefix = '', within: readonly string[] = [fs.realpathSync(dir)]): string[] {
  const names: string[] = [];
  for (const entry of fs.readdirSync(path.join(dir, prefix), { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
    const full = path.join(dir, rel);
    const isDir = entry.isDirectory() || (entry.isSymbolicLink() && statOrNull(full)?.isDirectory());
    if (!isDir) {
      names.push(rel);
      continue;
    }
    const real = fs.realpathSync(full);
    if (within.includes(real)) {
      throw new Error(
        `${full} is a symbolic link to ${real}, a directory it is inside of: packaging it would never end; remove the link`,
      );
    }
    names.push(...listFiles(dir, rel, [...within, real]));
  }
  return names;
}

/** The file's stats, or an error that says what is wrong with it (a dangling or looping link). */
function statOrExplain(file: string): fs.Stats {
  try {
    return fs.statSync(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    let target: string | undefined;
    try {
      target = fs.readlinkSync(file);
    } catch {
      target = undefined;
    }
    if (target !== undefined && code === 'ENOENT') {
      throw new Error(
        `${file} is a symbolic link to ${target}, which does not exist (an editor's lock file, say): remove it, or point it at the file to ship`,
      );
    }
    if (target !== undefined && code === 'ELOOP') {
      throw new Error(`${file} is a symbolic link that leads back to itself (through ${target}): remove it`);
    }
    throw new Error(`${file}: cannot read it (${code ?? (error as Error).message})`);
  }
}

function statOrNull(file: string): fs.Stats | null {
  try {
    return fs.statSync(file);
  } catch {
    return null;
  }
}

function mb(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}
