/** `shlambda package`: writes a function zip holding only the handler files. */

import { parseArgs } from 'node:util';
import { CommandOutput } from './command-output.ts';
import { packageFunction } from './function-zip.ts';

const HELP = `Usage: shlambda package <dir|file>... [-o dist/function.zip] [--json]

Writes a deterministic function zip: a directory contributes its files under their relative names, a
file goes at the zip root; executable files keep mode 0755. The runtime comes from the shlambda layer,
so the zip must not hold a 'bootstrap'. Prints the path, the size and the sha256 (as Lambda's CodeSha256).`;

export async function runPackageCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      output: { type: 'string', short: 'o', default: 'dist/function.zip' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const zip = await packageFunction(positionals, values.output);
  new CommandOutput(values.json).result(zip, [
    `${zip.path}  ${zip.bytes} bytes  ${zip.files.length} files`,
    `CodeSha256 ${zip.codeSha256}`,
  ]);
  return 0;
}
