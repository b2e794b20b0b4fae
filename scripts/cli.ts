/** The `shlambda` command line: parses arguments and dispatches to the command modules. */

import { runBenchCommand } from './bench-command.ts';
import { runBuildCommand } from './build-command.ts';
import { runDeployCommand } from './deploy-command.ts';
import { runDestroyCommand } from './destroy-command.ts';
import { runInvokeCommand } from './invoke-command.ts';
import { runLayersCommand } from './layers-command.ts';
import { runLocalCommand } from './local-command.ts';
import { runLocalServeCommand } from './local-serve-command.ts';
import { runPackageCommand } from './package-command.ts';
import { runPublishCommand } from './publish-command.ts';

const USAGE = `Usage: shlambda <command> [options]

Commands:
  bench   Benchmark the runtime against a tutorial-style bootstrap and a no-spawn floor (npm run bench)
          [--rounds N] [--warm N] [--languages bash,python,php] [--out FILE]
  build   Build the layer zips: dist/layer-x86_64.zip, dist/layer-arm64.zip, dist/layer-slim.zip
          [--arch x86_64|arm64|all] [--out DIR]
  local   Run a function once on the local Runtime API, through the built layer's real bootstrap
          --code DIR|ZIP --handler file.method [--event JSON|@file] [--timeout S] [--memory MB]
          [--env K=V]... [--sandbox auto|bwrap|none] [--arch x86_64|arm64]
  local serve   Serve a local Lambda API (control plane and Invoke) that runs functions for real
          [--port 9000] [--data DIR]
  package Write a function zip with only the handler files: <dir|file>... [-o dist/function.zip]
  publish Publish the layer and remember its ARN
          [--arch x86_64|arm64|all] [--layer-name N] [--public|--principal ACCOUNT|--organization ORG]
          [--s3-bucket B] [--zip PATH]
  deploy  Create or update a function with the layer attached
          --function-name NAME --code DIR|ZIP --handler file.method [--layer ARN]... [--role ARN]
          [--arch A] [--timeout S] [--memory MB] [--env K=V]...
  invoke  Invoke a function: --function-name NAME [--payload JSON|@file] [--log]
  layers  List the layer's versions [--layer-name N]
  destroy Delete a function and/or layer versions
          [--function-name NAME] [--layer-name N --version V|--all-versions]

AWS commands take --region, --profile, --endpoint-url and --json.

Run 'shlambda <command> --help' for details.`;

/** Runs the command line; returns the process exit code. */
export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'bench':
        return await runBenchCommand(rest);
      case 'build':
        return await runBuildCommand(rest);
      case 'local':
        return rest[0] === 'serve' ? await runLocalServeCommand(rest.slice(1)) : await runLocalCommand(rest);
      case 'package':
        return await runPackageCommand(rest);
      case 'publish':
        return await runPublishCommand(rest);
      case 'deploy':
        return await runDeployCommand(rest);
      case 'invoke':
        return await runInvokeCommand(rest);
      case 'layers':
        return await runLayersCommand(rest);
      case 'destroy':
        return await runDestroyCommand(rest);
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
