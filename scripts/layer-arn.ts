/** Parses and checks Lambda layer version ARNs before they are sent anywhere. */

import type { Architecture } from './layer-paths.ts';

/** The parts of `arn:aws:lambda:REGION:ACCOUNT:layer:NAME:VERSION`. */
export interface LayerVersionArn {
  arn: string;
  partition: string;
  region: string;
  account: string;
  name: string;
  version: number;
}

// https://docs.aws.amazon.com/lambda/latest/api/API_CreateFunction.html (Layers: pattern of each item)
const LAYER_VERSION_ARN =
  /^arn:(aws[a-zA-Z-]*):lambda:([a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}):(\d{12}):layer:([a-zA-Z0-9-_]+):([0-9]+)$/;

/** Parses a layer version ARN, failing with a message that names it. */
export function parseLayerVersionArn(arn: string): LayerVersionArn {
  const match = LAYER_VERSION_ARN.exec(arn);
  if (!match) {
    throw new Error(
      `layer ARN '${arn}' is malformed: expected arn:aws:lambda:REGION:ACCOUNT:layer:NAME:VERSION`,
    );
  }
  return {
    arn,
    partition: match[1] ?? '',
    region: match[2] ?? '',
    account: match[7] ?? '',
    name: match[8] ?? '',
    version: Number(match[9]),
  };
}

/**
 * Checks the layers a function will get: well formed, in the function's region (Lambda cannot attach a
 * layer from another region), and not known to be built for another architecture.
 */
export function checkFunctionLayers(
  arns: readonly string[],
  region: string,
  arch: Architecture,
  knownArch: (arn: string) => Architecture | undefined,
): LayerVersionArn[] {
  if (arns.length > 5) throw new Error(`a function takes at most 5 layers, got ${arns.length}`);
  return arns.map((arn) => {
    const parsed = parseLayerVersionArn(arn);
    if (parsed.region !== region) {
      throw new Error(
        `layer ${arn} is in ${parsed.region}, but the function is in ${region}: publish the layer in ${region} (shlambda publish --region ${region})`,
      );
    }
    const layerArch = knownArch(arn);
    if (layerArch && layerArch !== arch) {
      throw new Error(
        `layer ${arn} was published for ${layerArch}, but the function is ${arch}: pass --arch ${layerArch} or publish with --arch ${arch}`,
      );
    }
    return parsed;
  });
}
