/** Test helper: writes a function zip (handler files only) into a temp dir with the project's deterministic zip writer. */

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { writeZip } from '../../scripts/deterministic-zip.ts';

/** Zips `files` (name -> content; executable when the name is `bootstrap` or ends in `.sh`) and returns the zip's bytes. */
export async function functionZip(files: Record<string, string>): Promise<Buffer> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shlambda-test-zip-'));
  try {
    const out = path.join(dir, 'function.zip');
    await writeZip(
      Object.entries(files).map(([name, text]) => ({
        name,
        data: Buffer.from(text),
        mode: name === 'bootstrap' || name.endsWith('.sh') ? 0o755 : 0o644,
      })),
      out,
    );
    return fs.readFileSync(out);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
