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
import { ARCHITECTURES } from './layer-paths.ts';

const HELP = `Usage: shlambda layers [--layer-name N]

Lists the versions of the layer (newest first). Without --layer-name: of shlambda, and of
shlambda-x86_64 and shlambda-arm64, which 'shlambda publish --arch all' makes.

${AWS_OPTIONS_HELP}`;

export async function runLayersCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { ...AWS_OPTIONS, 'layer-name': { type: 'string' } },
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const out = new CommandOutput(values.json);
  const settings = loadAwsSettings(values, process.env);
  const aws = await connectAws(settings);
  try {
    const names = layerNames(values['layer-name']);
    const versions: (LayerVersionsListItem & { layerName: string })[] = [];
    for (const name of names) {
      const found = await explainingErrors(aws, () => listLayerVersions(aws, name));
      versions.push(...found.map((v) => ({ ...v, layerName: name })));
    }
    const table = versions.length
      ? formatTable(
          ['LAYER', 'VERSION', 'ARCH', 'CREATED', 'DESCRIPTION', 'ARN'],
          versions.map((v) => [
            v.layerName,
            String(v.Version ?? ''),
            (v.CompatibleArchitectures ?? []).join(','),
            v.CreatedDate ?? '',
            v.Description ?? '',
            v.LayerVersionArn ?? '',
          ]),
        )
      : [`no versions of layer ${names.join(', ')} in ${aws.region}`];
    out.result(
      {
        region: aws.region,
        layerNames: names,
        versions: versions.map((v) => ({
          layerName: v.layerName,
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

/** The default layer name, as `publish` uses it for one architecture and for each of `--arch all`. */
const DEFAULT_LAYER_NAME = 'shlambda';

/** The layers a command means: the one named, or, by default, shlambda's under each name `publish` gives. */
export function layerNames(named: string | undefined): string[] {
  if (named !== undefined) return [named];
  return [DEFAULT_LAYER_NAME, ...ARCHITECTURES.map((arch) => `${DEFAULT_LAYER_NAME}-${arch}`)];
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
