/** `shlambda destroy`: deletes a function and/or layer versions, so users can clean up what they made. */

import { parseArgs } from 'node:util';
import { DeleteFunctionCommand, DeleteLayerVersionCommand } from '@aws-sdk/client-lambda';
import {
  AWS_OPTIONS,
  AWS_OPTIONS_HELP,
  connectAws,
  explainingErrors,
  loadAwsSettings,
} from './aws-clients.ts';
import { CommandOutput } from './command-output.ts';
import { layerNames, listLayerVersions } from './layers-command.ts';
import { forgetLayers, statePath } from './shlambda-state.ts';

const HELP = `Usage: shlambda destroy [--function-name NAME] [--layer-name N --version V | --all-versions]

Deletes the function, and/or one or all versions of the layer. Without --layer-name, --version
means layer shlambda, and --all-versions also deletes shlambda-x86_64 and shlambda-arm64, which
'shlambda publish --arch all' makes.

${AWS_OPTIONS_HELP}`;

export async function runDestroyCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      ...AWS_OPTIONS,
      'function-name': { type: 'string' },
      'layer-name': { type: 'string' },
      version: { type: 'string' },
      'all-versions': { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const functionName = values['function-name'];
  if (values.version !== undefined && values['all-versions']) {
    throw new Error('pass --version V or --all-versions, not both');
  }
  const version = values.version === undefined ? undefined : Number(values.version);
  if (version !== undefined && (!Number.isInteger(version) || version < 1)) {
    throw new Error(`--version must be a layer version number, got '${values.version}'`);
  }
  if (!functionName && version === undefined && !values['all-versions']) {
    throw new Error(
      `nothing to destroy: pass --function-name and/or --version V or --all-versions\n\n${HELP}`,
    );
  }
  const out = new CommandOutput(values.json);
  const settings = loadAwsSettings(values, process.env);
  const aws = await connectAws(settings);
  const lines: string[] = [];
  const deletedLayers: string[] = [];
  try {
    if (functionName) {
      await explainingErrors(
        aws,
        () => aws.lambda.send(new DeleteFunctionCommand({ FunctionName: functionName })),
        functionName,
      );
      lines.push(`deleted function ${functionName} in ${aws.region}`);
    }
    if (version !== undefined || values['all-versions']) {
      const names =
        version !== undefined
          ? layerNames(values['layer-name']).slice(0, 1)
          : layerNames(values['layer-name']);
      for (const layerName of names) {
        const numbers =
          version !== undefined
            ? [version]
            : (await explainingErrors(aws, () => listLayerVersions(aws, layerName))).map(
                (v) => v.Version ?? 0,
              );
        for (const n of numbers) {
          await explainingErrors(aws, () =>
            aws.lambda.send(new DeleteLayerVersionCommand({ LayerName: layerName, VersionNumber: n })),
          );
          deletedLayers.push(`${layerName}:${n}`);
          lines.push(`deleted layer version ${layerName}:${n} in ${aws.region}`);
        }
      }
      if (deletedLayers.length === 0) {
        lines.push(
          names.length === 1
            ? `layer ${names[0]} has no versions in ${aws.region}`
            : `layers ${names.join(', ')} have no versions in ${aws.region}`,
        );
      }
      // Forget deleted versions so deploy does not attach them.
      forgetLayers(statePath(process.cwd()), aws.region, deletedLayers);
    }
    out.result(
      {
        region: aws.region,
        ...(functionName ? { deletedFunction: functionName } : {}),
        deletedLayerVersions: deletedLayers,
      },
      lines,
    );
    return 0;
  } finally {
    aws.lambda.destroy();
  }
}
