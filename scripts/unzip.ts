/** Unpacks a zip into a directory the way Lambda does for layers and code: Unix modes kept, nothing outside it. */

import fs from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import yauzl from 'yauzl';

/**
 * Extracts every entry of `zipPath` under `destDir`, keeping the executable bits recorded in the zip.
 * @throws when an entry would land outside `destDir` (a "zip slip") or the zip is unreadable.
 */
export async function unzipTo(zipPath: string, destDir: string): Promise<void> {
  fs.mkdirSync(destDir, { recursive: true });
  const root = fs.realpathSync(destDir);
  const zip = await yauzl.openPromise(zipPath, { lazyEntries: true, autoClose: false });
  try {
    for await (const entry of zip.eachEntry()) {
      const target = path.resolve(root, entry.fileName);
      if (target !== root && !target.startsWith(root + path.sep)) {
        throw new Error(
          `${zipPath}: entry ${JSON.stringify(entry.fileName)} would be written outside ${destDir}`,
        );
      }
      if (entry.fileName.endsWith('/')) {
        fs.mkdirSync(target, { recursive: true });
        continue;
      }
      fs.mkdirSync(path.dirname(target), { recursive: true });
      const unixMode = (entry.externalFileAttributes >>> 16) & 0o777;
      const readStream = await zip.openReadStreamPromise(entry);
      await pipeline(readStream, fs.createWriteStream(target, { mode: unixMode || 0o644 }));
      if (unixMode) fs.chmodSync(target, unixMode);
    }
  } finally {
    zip.close();
  }
}
