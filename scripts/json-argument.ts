/** Reads an event given on the command line: inline JSON or `@file`, refused unless it is JSON. */

import fs from 'node:fs';

/**
 * The event's bytes as given (`@file` read from the file), JSON only, since Lambda's Invoke takes
 * nothing else.
 * @param flag the option it came from, for the error message (`--event`, `--payload`).
 */
export function readJsonArgument(flag: string, value: string): Buffer {
  let bytes = Buffer.from(value);
  if (value.startsWith('@')) {
    const file = value.slice(1);
    try {
      bytes = fs.readFileSync(file);
    } catch {
      throw new Error(`${flag} ${value}: cannot read ${file}`);
    }
  }
  try {
    JSON.parse(bytes.toString('utf8'));
  } catch {
    const text = bytes.toString('utf8', 0, 80);
    throw new Error(
      `${flag} must be JSON (Lambda's Invoke refuses anything else), got ${JSON.stringify(text)}`,
    );
  }
  return bytes;
}
