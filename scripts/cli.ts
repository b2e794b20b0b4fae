/** The `shlambda` command line: parses arguments and dispatches to the command modules. */

import { runBuildCommand } from './build-command.ts';
import { runLocalCommand } from './local-command.ts';

const USAGE = `Usage: shlambda <command> [options]

Commands:
  build   Build the layer zips: dist/layer-x86_64.zip, dist/layer-arm64.zip, dist/layer-slim.zip
          [--arch x86_64|arm64|all] [--out DIR]
  local   Run a function once on the local Runtime API, through the built layer's real bootstrap
          --code DIR|ZIP --handler file.method [--event JSON|@file] [--timeout S] [--memory MB]
          [--env K=V]... [--sandbox auto|bwrap|none] [--arch x86_64|arm64]

Run 'shlambda <command> --help' for details.`;

/** Runs the command line; returns the process exit code. */
export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'build':
        return await runBuildCommand(rest);
      case 'local':
        return await runLocalCommand(rest);
      case undefined:
      case '-h':
      case '--help':
      case 'help':
        console.log(USAGE);
        return command === undefined ? 2 : 0;
      default:
        console.error(`shlambda: unknown command '${command}'\n\n${USAGE}`);
        return 2;
    }
  } catch (error) {
    console.error(`shlambda ${command}: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  }
}
