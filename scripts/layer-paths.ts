/** Where the built layer zips live and which one fits this machine: a contract shared by every command. */

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export type Architecture = 'x86_64' | 'arm64';

/** Lambda's architectures, in the order commands build and publish them. */
export const ARCHITECTURES: readonly Architecture[] = ['x86_64', 'arm64'];

/** The project root: scripts/ (from source) and dist/cli.mjs (bundled) both sit one level below it. */
export const PROJECT_ROOT = fileURLToPath(new URL('..', import.meta.url));

/** `dist/layer-<arch>.zip` under the project root. */
export function layerZipPath(arch: Architecture, distDir = path.join(PROJECT_ROOT, 'dist')): string {
  return path.join(distDir, `layer-${arch}.zip`);
}

/** Lambda's name for the architecture Node runs on here. */
export function hostArchitecture(): Architecture {
  if (process.arch === 'x64') return 'x86_64';
  if (process.arch === 'arm64') return 'arm64';
  throw new Error(`Lambda has no ${process.arch} architecture; run on x86_64 or arm64`);
}

/** Parses an --arch value. */
export function parseArchitecture(value: string): Architecture {
  if (value === 'x86_64' || value === 'arm64') return value;
  if (value === 'x64' || value === 'amd64') return 'x86_64';
  if (value === 'aarch64') return 'arm64';
  throw new Error(`--arch must be x86_64 or arm64, got '${value}'`);
}

/** True when the zip is missing or older than any source that goes into it. */
export function layerIsStale(zip: string): boolean {
  let built: number;
  try {
    built = fs.statSync(zip).mtimeMs;
  } catch {
    return true;
  }
  return [path.join(PROJECT_ROOT, 'runtime'), path.join(PROJECT_ROOT, 'layer')].some((dir) =>
    newerThan(dir, built),
  );
}

function newerThan(dir: string, time: number): boolean {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory() ? newerThan(full, time) : fs.statSync(full).mtimeMs > time) return true;
  }
  return false;
}
