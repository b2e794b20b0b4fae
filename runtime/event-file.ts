/** Hands an event to a handler as a regular file on stdin: seekable, so bash reads it in bulk, not byte by byte. */

import fs from 'node:fs';
import path from 'node:path';

/**
 * Writes the event to an unlinked temporary file and returns an open descriptor positioned at byte 0.
 * The name is removed at once, so nothing is left behind even if the runtime is killed; the handler
 * reads the bytes through the descriptor (and `/dev/stdin` reopens them from the start).
 * @param slot distinguishes concurrent invocations of this runtime.
 */
export function openEventFile(tmpDir: string, slot: number, event: Buffer): number {
  const file = path.join(tmpDir, `.shlambda-event-${process.pid}-${slot}`);
  const fd = fs.openSync(file, 'w+', 0o600);
  try {
    fs.unlinkSync(file);
    // Positional writes leave the shared file offset at 0, where the handler starts reading.
    let written = 0;
    while (written < event.length)
      written += fs.writeSync(fd, event, written, event.length - written, written);
    return fd;
  } catch (error) {
    fs.closeSync(fd);
    throw error;
  }
}
