/** `shlambda layers`: lists the versions of the shlambda layer in a region. */

import { parseArgs } from 'node:util';
import { type LayerVersionsListItem, ListLayerVersionsCommand } from '@aws-sdk/client-lambda';
import type { AwsContext } from './aws-clients.ts';
import {
  AWS_OPTIONS,
  AWS_OPTIONS_HELP,
  connectAws,
  explainingErrors,
  loadAwsSettings,
} from './aws-clients.ts';
import { CommandOutput, formatTable } from './command-output.ts';

const HELP = `Usage: shlambda layers [--layer-name shlambda]

Lists the versions of the layer (newest first).

${AWS_OPTIONS_HELP}`;

export async function runLayersCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { ...AWS_OPTIONS, 'layer-name': { type: 'string', default: 'shlambda' } },
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const out = new CommandOutput(values.json);
  const settings = loadAwsSettings(values, process.env);
  const aws = await connectAws(settings);
  try {
    const layerName = values['layer-name'];
    const versions = await explainingErrors(aws, () => listLayerVersions(aws, layerName));
    const table = versions.length
      ? formatTable(
          ['VERSION', 'ARCH', 'CREATED', 'DESCRIPTION', 'ARN'],
          versions.map((v) => [
            String(v.Version ?? ''),
            (v.CompatibleArchitectures ?? []).join(','),
            v.CreatedDate ?? '',
            v.Description ?? '',
            v.LayerVersionArn ?? '',
          ]),
        )
      : [`no versions of layer ${layerName} in ${aws.region}`];
    out.result(
      {
        region: aws.region,
        layerName,
        versions: versions.map((v) => ({
          version: v.Version,
          layerVersionArn: v.LayerVersionArn,
          architectures: v.CompatibleArchitectures ?? [],
          runtimes: v.CompatibleRuntimes ?? [],
          createdDate: v.CreatedDate,
          description: v.Description,
        })),
      },
      table,
    );
    return 0;
  } finally {
    aws.lambda.destroy();
  }
}

/** Every version of the layer, following the pagination marker. */
export async function listLayerVersions(
  aws: AwsContext,
  layerName: string,
): Promise<LayerVersionsListItem[]> {
  const versions: LayerVersionsListItem[] = [];
  let marker: string | undefined;
  do {
    const page = await aws.lambda.send(
      new ListLayerVersionsCommand({ LayerName: layerName, ...(marker ? { Marker: marker } : {}) }),
    );
    versions.push(...(page.LayerVersions ?? []));
    marker = page.NextMarker;
  } while (marker);
  return versions;
}
