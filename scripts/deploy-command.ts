/** `shlambda deploy`: creates a provided.al2023 function with the shlambda layer, or updates its code and configuration. */

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import {
  CreateFunctionCommand,
  type FunctionConfiguration,
  GetFunctionCommand,
  Runtime,
  UpdateFunctionCodeCommand,
  UpdateFunctionConfigurationCommand,
  waitUntilFunctionActiveV2,
  waitUntilFunctionUpdatedV2,
} from '@aws-sdk/client-lambda';
import {
  AWS_OPTIONS,
  AWS_OPTIONS_HELP,
  type AwsContext,
  connectAws,
  explainingErrors,
  loadAwsSettings,
} from './aws-clients.ts';
import { CommandOutput } from './command-output.ts';
import { parseEnvPairs } from './env-pairs.ts';
import { LAMBDA_CODE_LIMITS, packageFunction } from './function-zip.ts';
import { checkFunctionLayers, parseLayerVersionArn } from './layer-arn.ts';
import { type Architecture, parseArchitecture } from './layer-paths.ts';
import { layerNames } from './layers-command.ts';
import { readState, rememberedArch, rememberedLayer, statePath } from './shlambda-state.ts';

const HELP = `Usage: shlambda deploy --function-name NAME --code DIR|ZIP --handler file.method [options]

Packages the code (like 'shlambda package') and creates the function on provided.al2023 with the
shlambda layer, or updates the code and configuration of an existing one, waiting until it is ready.

Options:
  --function-name NAME  the function
  --code DIR|ZIP        the handler files (a directory or file is packaged; a .zip is sent as is)
  --handler H           _HANDLER: file.method (function.handler) or a file to run whole
  --layer ARN           a layer version ARN (repeatable; replaces the function's list; default: the one
                        'shlambda publish' remembered, in place of an older version of it or last,
                        beside the function's other layers)
  --role ARN            the execution role (required to create)
  --arch A              x86_64 or arm64 (default: the function's, else the remembered layer's, else x86_64)
  --timeout S           timeout in seconds
  --memory MB           memory size
  --env K=V             an environment variable (repeatable; replaces all of them)

${AWS_OPTIONS_HELP}`;

/** The OS-only runtime: the one that starts the layer's `bootstrap`. */
const RUNTIME = Runtime.providedal2023;

const ROLE_HELP = `create one (once per account) with:

  aws iam create-role --role-name shlambda-lambda \\
    --assume-role-policy-document '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}'
  aws iam attach-role-policy --role-name shlambda-lambda \\
    --policy-arn arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole

then pass --role arn:aws:iam::ACCOUNT:role/shlambda-lambda`;

/** The deploy options, checked; exported for tests. */
export function parseDeployOptions(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    options: {
      ...AWS_OPTIONS,
      'function-name': { type: 'string' },
      code: { type: 'string' },
      handler: { type: 'string' },
      layer: { type: 'string', multiple: true, default: [] },
      role: { type: 'string' },
      arch: { type: 'string' },
      timeout: { type: 'string' },
      memory: { type: 'string' },
      env: { type: 'string', multiple: true, default: [] },
    },
  });
  if (values.help) return { help: true as const };
  const functionName = values['function-name'];
  if (!functionName || !values.code || !values.handler) {
    throw new Error('--function-name, --code and --handler are required');
  }
  if (!fs.existsSync(values.code)) throw new Error(`--code ${values.code}: no such file or directory`);
  if (values.role !== undefined && !/^arn:aws[a-zA-Z-]*:iam::\d{12}:role\/\S+$/.test(values.role)) {
    throw new Error(`--role '${values.role}' is not an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME)`);
  }
  return {
    help: false as const,
    values,
    functionName,
    code: values.code,
    handler: values.handler,
    layers: values.layer,
    role: values.role,
    arch: values.arch === undefined ? undefined : parseArchitecture(values.arch),
    timeout: values.timeout === undefined ? undefined : integer('--timeout', values.timeout, 1, 900),
    memory: values.memory === undefined ? undefined : integer('--memory', values.memory, 128, 10240),
    env: values.env.length ? parseEnvPairs(values.env) : undefined,
  };
}

export async function runDeployCommand(argv: string[]): Promise<number> {
  const options = parseDeployOptions(argv);
  if (options.help) {
    console.log(HELP);
    return 0;
  }
  const { values, functionName } = options;
  const out = new CommandOutput(values.json);
  const settings = loadAwsSettings(values, process.env);
  const aws = await connectAws(settings);
  try {
    const state = readState(statePath(process.cwd()));
    // Malformed and foreign-region ARNs (and an --arch that contradicts a known layer) fail before any call.
    if (options.layers.length) {
      checkFunctionLayers(options.layers, aws.region, options.arch ?? 'x86_64', (arn) =>
        options.arch ? rememberedArch(state, arn) : undefined,
      );
    }
    const existing = await explainingErrors(aws, () => getFunction(aws, functionName));
    const arch: Architecture =
      options.arch ??
      (existing?.Architectures?.[0] as Architecture | undefined) ??
      (options.layers[0] ? rememberedArch(state, options.layers[0]) : undefined) ??
      (rememberedLayer(state, aws.region, 'x86_64') || !rememberedLayer(state, aws.region, 'arm64')
        ? 'x86_64'
        : 'arm64');
    let layers: string[] | undefined = options.layers.length ? options.layers : undefined;
    if (!layers) {
      const remembered = rememberedLayer(state, aws.region, arch);
      if (remembered) {
        const current = existing?.Layers?.map((layer) => layer.Arn ?? '') ?? [];
        layers = withLayer(current, remembered, (arn) => rememberedArch(state, arn) !== undefined);
      } else if (!existing) {
        throw new Error(
          `no shlambda layer for ${aws.region}/${arch}: run 'shlambda publish --region ${aws.region} --arch ${arch}' first, or pass --layer ARN`,
        );
      }
    }
    if (layers) checkFunctionLayers(layers, aws.region, arch, (arn) => rememberedArch(state, arn));
    if (!existing && !options.role) {
      throw new Error(`creating ${functionName} needs an execution role (--role ARN); ${ROLE_HELP}`);
    }

    const zipFile = await codeZip(options.code);
    const upload = out.upload(`${functionName} code`, zipFile.length, aws.uploads);
    let config: FunctionConfiguration;
    // Set the same way on create and on update.
    const tuning = {
      ...(options.timeout ? { Timeout: options.timeout } : {}),
      ...(options.memory ? { MemorySize: options.memory } : {}),
      ...(options.env ? { Environment: { Variables: options.env } } : {}),
    };
    if (!existing) {
      out.status(`shlambda deploy: creating ${functionName} (${arch}) in ${aws.region}`);
      await explainingErrors(
        aws,
        () =>
          aws.lambda.send(
            new CreateFunctionCommand({
              FunctionName: functionName,
              Runtime: RUNTIME,
              Handler: options.handler,
              Role: options.role,
              Code: { ZipFile: zipFile },
              Layers: layers,
              Architectures: [arch],
              ...tuning,
            }),
          ),
        functionName,
      );
      upload.done();
      config = await explainingErrors(
        aws,
        () => waitFor(waitUntilFunctionActiveV2, aws, functionName),
        functionName,
      );
    } else {
      out.status(`shlambda deploy: updating ${functionName} (${arch}) in ${aws.region}`);
      // Any other runtime would never run the layer's bootstrap (a python3.12 function imports the
      // handler as a Python module), so the function moves to the OS-only runtime.
      const runtimeChange = existing.Runtime === RUNTIME ? {} : { Runtime: RUNTIME };
      if (existing.Runtime !== RUNTIME) {
        out.status(
          `shlambda deploy: changing ${functionName}'s runtime from ${existing.Runtime ?? 'none'} to ${RUNTIME}, where the layer's bootstrap runs`,
        );
      }
      await explainingErrors(
        aws,
        async () => {
          await aws.lambda.send(
            new UpdateFunctionCodeCommand({
              FunctionName: functionName,
              ZipFile: zipFile,
              Architectures: [arch],
            }),
          );
          upload.done();
          await waitFor(waitUntilFunctionUpdatedV2, aws, functionName);
          await aws.lambda.send(
            new UpdateFunctionConfigurationCommand({
              FunctionName: functionName,
              Handler: options.handler,
              ...runtimeChange,
              ...(options.role ? { Role: options.role } : {}),
              ...(layers ? { Layers: layers } : {}),
              ...tuning,
            }),
          );
        },
        functionName,
      );
      config = await explainingErrors(
        aws,
        () => waitFor(waitUntilFunctionUpdatedV2, aws, functionName),
        functionName,
      );
    }
    const result = {
      functionName,
      functionArn: config.FunctionArn,
      state: config.State,
      lastUpdateStatus: config.LastUpdateStatus,
      created: !existing,
      architecture: arch,
      layers: config.Layers?.map((l) => l.Arn) ?? layers ?? [],
      codeSha256: config.CodeSha256,
    };
    out.result(result, [
      `${result.functionArn}`,
      `State ${result.state}  LastUpdateStatus ${result.lastUpdateStatus}`,
    ]);
    return 0;
  } finally {
    aws.lambda.destroy();
  }
}

/** The function's configuration, or undefined when there is no such function. */
async function getFunction(aws: AwsContext, name: string): Promise<FunctionConfiguration | undefined> {
  try {
    return (await aws.lambda.send(new GetFunctionCommand({ FunctionName: name }))).Configuration;
  } catch (error) {
    if ((error as Error).name === 'ResourceNotFoundException') return undefined;
    throw error;
  }
}

/** Waits with one of the SDK's function waiters and returns the configuration it last saw. */
async function waitFor(
  waiter: typeof waitUntilFunctionActiveV2 | typeof waitUntilFunctionUpdatedV2,
  aws: AwsContext,
  name: string,
): Promise<FunctionConfiguration> {
  const { reason } = await waiter(
    { client: aws.lambda, maxWaitTime: 300, minDelay: 1, maxDelay: 5 },
    { FunctionName: name },
  );
  return (reason as { Configuration?: FunctionConfiguration } | undefined)?.Configuration ?? {};
}

/** A .zip as is; anything else packaged like `shlambda package` would. */
async function codeZip(code: string): Promise<Buffer> {
  if (code.endsWith('.zip') && fs.statSync(code).isFile()) {
    const size = fs.statSync(code).size;
    if (size > LAMBDA_CODE_LIMITS.maxZipBytes) {
      throw new Error(
        `${code} is over the 50 MB limit of a direct upload: ship less, or deploy it through S3`,
      );
    }
    return fs.readFileSync(code);
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shlambda-deploy-'));
  try {
    const zip = await packageFunction([code], path.join(dir, 'function.zip'));
    return fs.readFileSync(zip.path);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function integer(flag: string, value: string, min: number, max: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new Error(`${flag} must be a whole number from ${min} to ${max}, got '${value}'`);
  }
  return n;
}

/**
 * A function's layers with the remembered shlambda layer in them: it takes the place of the first
 * shlambda layer there (another version of it, one under another of the names `publish` gives, or one
 * `remembered` knows), the others go, and otherwise it comes last, so that its `bootstrap` is the one
 * in `/opt` (later layers overwrite earlier ones). Two shlambda layers of 109 MB unzipped each would
 * leave little of the 250 MB a function may have. Its other layers (an interpreter's, say) stay.
 */
export function withLayer(
  current: readonly string[],
  layer: string,
  remembered: (arn: string) => boolean = () => false,
): string[] {
  // The same layer: its ARN but for the version. (An ARN that does not parse fails here, with the
  // message the check of the list right after would give.)
  const unversioned = (arn: string): string => {
    const { region, account, name } = parseLayerVersionArn(arn);
    return `${region}:${account}:${name}`;
  };
  const ours = (arn: string): boolean =>
    unversioned(arn) === unversioned(layer) ||
    layerNames(undefined).includes(parseLayerVersionArn(arn).name) ||
    remembered(arn);
  const at = current.findIndex(ours);
  if (at < 0) return [...current, layer];
  return current.flatMap((arn, index) => (index === at ? [layer] : ours(arn) ? [] : [arn]));
}
