/** `shlambda local`: runs a function once through the built layer and a local Runtime API, and shows the result. */

import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ensureLayerBuilt } from './build-command.ts';
import { parseEnvPairs } from './env-pairs.ts';
import { readJsonArgument } from './json-argument.ts';
import { hostArchitecture, layerZipPath, parseArchitecture } from './layer-paths.ts';
import { LocalFunction } from './local-function.ts';
import type { SandboxChoice } from './sandbox.ts';

const HELP = `Usage: shlambda local --code DIR|ZIP --handler file.method [options]

Runs the function once, as Lambda would: the layer at /opt, the code at /var/task, the layer's real
bootstrap against a local Runtime API. Prints the response on stdout, the log on stderr.

Options:
  --code DIR|ZIP       the function's code (a directory or a zip)
  --handler H          _HANDLER: file.method (function.handler) or a file to run whole (index.php)
  --event JSON|@FILE   the event (default {})
  --timeout S          function timeout in seconds (default 3)
  --memory MB          AWS_LAMBDA_FUNCTION_MEMORY_SIZE (default 128)
  --env K=V            a function environment variable (repeatable)
  --sandbox MODE       auto (bubblewrap when it works), bwrap, or none (default auto)
  --arch ARCH          layer architecture (default: this machine's)
  --layer ZIP          use this layer zip instead of building (repeatable; unpacked in order)`;

export async function runLocalCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      code: { type: 'string' },
      handler: { type: 'string' },
      event: { type: 'string', default: '{}' },
      timeout: { type: 'string', default: '3' },
      memory: { type: 'string', default: '128' },
      env: { type: 'string', multiple: true, default: [] },
      sandbox: { type: 'string', default: 'auto' },
      arch: { type: 'string' },
      layer: { type: 'string', multiple: true },
      help: { type: 'boolean' },
    },
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  if (!values.code || !values.handler) throw new Error(`--code and --handler are required\n\n${HELP}`);
  if (!fs.existsSync(values.code)) throw new Error(`--code ${values.code}: no such file or directory`);
  const timeoutSeconds = positiveNumber('--timeout', values.timeout);
  const memoryMb = positiveNumber('--memory', values.memory);
  const sandbox = values.sandbox as SandboxChoice;
  if (!['auto', 'bwrap', 'none'].includes(sandbox)) throw new Error('--sandbox must be auto, bwrap or none');
  const event = readJsonArgument('--event', values.event);

  const log = (line: string): void => void process.stderr.write(`${line}\n`);
  let layerZips = values.layer;
  if (!layerZips?.length) {
    const arch = values.arch ? parseArchitecture(values.arch) : hostArchitecture();
    const zip = layerZipPath(arch);
    await ensureLayerBuilt(arch, zip, log);
    layerZips = [zip];
  }

  const fn = await LocalFunction.create({
    layerZips,
    code: values.code,
    handler: values.handler,
    timeoutSeconds,
    memoryMb,
    env: parseEnvPairs(values.env),
    sandbox,
    onLog: (line) => log(`  | ${line}`),
  });
  if (fs.existsSync(path.join(values.code, 'bootstrap'))) {
    // What the layer's bootstrap would say never comes: a user sees only that some runtime exited.
    log(
      `shlambda local: ${path.join(values.code, 'bootstrap')} runs instead of the layer's bootstrap (Lambda looks in /var/task first); remove it to run the shlambda runtime`,
    );
  }
  log(
    fn.sandbox === 'bwrap'
      ? 'shlambda local: sandbox bubblewrap (layer at /opt, code at /var/task, read-only root, private /tmp)'
      : `shlambda local: no sandbox (bubblewrap unavailable or off): layer and code under ${fn.root}`,
  );
  try {
    const { outcome } = await fn.invoke(event);
    switch (outcome.kind) {
      case 'response':
        log(
          `shlambda local: response, ${outcome.body.length} bytes in ${Math.round(outcome.durationMs)} ms:`,
        );
        writeBody(outcome.body);
        return 0;
      case 'error':
      case 'init-error':
        log(
          `shlambda local: ${outcome.kind === 'init-error' ? 'init error' : 'function error'} ${outcome.errorType}:`,
        );
        writeBody(outcome.body);
        return 1;
      case 'timeout':
        log(`shlambda local: Sandbox.Timedout: Task timed out after ${timeoutSeconds} seconds`);
        return 1;
      case 'too-large':
        log(`shlambda local: Function.ResponseSizeTooLarge: the runtime posted ${outcome.size} bytes`);
        return 1;
      case 'runtime-exit':
        log(
          `shlambda local: Runtime.ExitError: the runtime exited (code ${outcome.exitCode}, signal ${outcome.signal})`,
        );
        return 1;
    }
  } finally {
    await fn.close();
  }
}

/** The body byte for byte; a newline after it only for a terminal, so piped output stays exact. */
function writeBody(body: Buffer): void {
  process.stdout.write(body);
  if (process.stdout.isTTY) process.stdout.write('\n');
}

function positiveNumber(flag: string, value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${flag} must be a positive number, got '${value}'`);
  return n;
}
