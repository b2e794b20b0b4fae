/** Builds the x86_64 layer once (when stale) and unpacks it, so integration tests run the real built bootstrap. */

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { ensureLayerBuilt } from '../scripts/build-command.ts';
import { hostArchitecture, layerZipPath } from '../scripts/layer-paths.ts';
import { unzipTo } from '../scripts/unzip.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The built layer zip for this machine's architecture. */
    layerZip: string;
    /** That zip unpacked: what Lambda would put at /opt. */
    layerDir: string;
  }
}

export default async function setup(project: TestProject): Promise<() => void> {
  const arch = hostArchitecture();
  const zip = layerZipPath(arch);
  await ensureLayerBuilt(arch, zip, (line) => console.log(line));
  const layerDir = fs.mkdtempSync(path.join(os.tmpdir(), 'shlambda-test-layer-'));
  await unzipTo(zip, layerDir);
  project.provide('layerZip', zip);
  project.provide('layerDir', layerDir);
  return () => fs.rmSync(layerDir, { recursive: true, force: true });
}
