/** `shlambda local serve`: runs the local Lambda API, so the AWS CLI, the SDK and shlambda's commands work offline. */

import path from 'node:path';
import { parseArgs } from 'node:util';
import { startLocalLambdaApi } from './local-lambda-api/server.ts';
import type { SandboxChoice } from './sandbox.ts';

const HELP = `Usage: shlambda local serve [--port 9000] [--region R] [--data DIR] [--sandbox auto|bwrap|none]

Serves Lambda's control-plane and Invoke API on 127.0.0.1, running functions for real with their
layers. Layers and functions persist in the data directory (default .shlambda/local). It serves one
region (default: AWS_REGION, else AWS_DEFAULT_REGION, else us-east-1) and refuses requests signed for
another, as a regional endpoint does. Stop with Ctrl-C.`;

export async function runLocalServeCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      port: { type: 'string', default: '9000' },
      data: { type: 'string', default: path.join('.shlambda', 'local') },
      region: { type: 'string' },
      sandbox: { type: 'string', default: 'auto' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`--port must be a port number, got '${values.port}'`);
  }
  const sandbox = values.sandbox as SandboxChoice;
  if (!['auto', 'bwrap', 'none'].includes(sandbox)) throw new Error('--sandbox must be auto, bwrap or none');
  const log = (line: string): void => void process.stderr.write(`${line}\n`);
  const region = values.region ?? (process.env.AWS_REGION || process.env.AWS_DEFAULT_REGION || 'us-east-1');
  if (!/^[a-z]{2}(-[a-z]+)+-\d+$/.test(region)) {
    throw new Error(`--region must be a region name such as eu-west-1, got '${region}'`);
  }
  const server = await startLocalLambdaApi({
    port,
    region,
    dataDir: path.resolve(values.data),
    sandbox,
    log,
  }).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'EADDRINUSE') throw error;
    throw new Error(
      `port ${port} on 127.0.0.1 is in use (another 'shlambda local serve'?): stop that, or pick another with --port`,
    );
  });
  console.log(`shlambda local serve: the Lambda API is at ${server.url} (data in ${values.data})`);
  console.log('Point the AWS CLI, the SDK or shlambda at it:');
  console.log(
    `  export AWS_ENDPOINT_URL=${server.url} AWS_REGION=${region} AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test`,
  );
  await new Promise<void>((resolve) => {
    const stop = (signal: NodeJS.Signals): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      log(`shlambda local serve: ${signal}, stopping`);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  await server.close();
  return 0;
}
