/** Parses and builds the names and ARNs the Lambda API accepts for functions and layers. */

import { invalidParameter, notFound } from './errors.ts';

// Formats: https://docs.aws.amazon.com/lambda/latest/api/API_GetFunction.html#API_GetFunction_RequestSyntax
// and https://docs.aws.amazon.com/lambda/latest/api/API_CreateFunction.html (Layers pattern).

const NAME = '[a-zA-Z0-9_-]+';
const FUNCTION_ID = new RegExp(
  `^(?:arn:aws[a-zA-Z-]*:lambda:([a-z0-9-]+):(\\d{12}):function:|(\\d{12}):function:)?(${NAME})(?::(\\$LATEST|${NAME}))?$`,
);
const LAYER_NAME = new RegExp(`^(?:arn:aws[a-zA-Z-]*:lambda:([a-z0-9-]+):(\\d{12}):layer:)?(${NAME})$`);
const LAYER_VERSION_ARN = new RegExp(
  `^arn:aws[a-zA-Z-]*:lambda:([a-z0-9-]+):(\\d{12}):layer:(${NAME}):([0-9]+)$`,
);

/** Where this API pretends to be. */
export interface Place {
  region: string;
  accountId: string;
}

export function functionArn(place: Place, name: string): string {
  return `arn:aws:lambda:${place.region}:${place.accountId}:function:${name}`;
}

export function layerArn(place: Place, name: string): string {
  return `arn:aws:lambda:${place.region}:${place.accountId}:layer:${name}`;
}

export function layerVersionArn(place: Place, name: string, version: number): string {
  return `${layerArn(place, name)}:${version}`;
}

/**
 * The function name in a name, partial ARN (`ACCOUNT:function:NAME`) or full ARN, each with an optional
 * `:QUALIFIER`. Only `$LATEST` exists here; another region, account or qualifier is a function not found.
 */
export function parseFunctionId(place: Place, id: string, qualifier?: string): string {
  const match = FUNCTION_ID.exec(id);
  if (!match || (match[4] ?? '').length > 64) {
    throw invalidParameter(`Invalid function name or ARN: ${id}. Use a name, a partial ARN or a full ARN.`);
  }
  const [, region, account, partialAccount, name = '', idQualifier] = match;
  const wanted = qualifier ?? idQualifier;
  const wrongPlace =
    (region && region !== place.region) || (account ?? partialAccount ?? place.accountId) !== place.accountId;
  if (wrongPlace || (wanted !== undefined && wanted !== '$LATEST')) {
    throw notFound(`Function not found: ${id}${qualifier ? `:${qualifier}` : ''}`);
  }
  return name;
}

/** A layer name given as a name or a layer ARN (without version). */
export function parseLayerName(place: Place, id: string): string {
  const match = LAYER_NAME.exec(id);
  if (!match || (match[3] ?? '').length > 140) throw invalidParameter(`Invalid layer name or ARN: ${id}`);
  const [, region, account, name = ''] = match;
  if ((region && region !== place.region) || (account && account !== place.accountId)) {
    throw notFound(`Layer not found: ${id}`);
  }
  return name;
}

/** A layer version ARN as a function's `Layers` lists it, checked against this API's region and account. */
export function parseLayerVersionArn(place: Place, arn: unknown): { name: string; version: number } {
  const match = typeof arn === 'string' ? LAYER_VERSION_ARN.exec(arn) : null;
  if (!match) {
    throw invalidParameter(
      `Layer version ARN ${JSON.stringify(arn)} is malformed: expected arn:aws:lambda:REGION:ACCOUNT:layer:NAME:VERSION`,
    );
  }
  const [, region, account, name = '', version = '0'] = match;
  if (region !== place.region) {
    throw invalidParameter(
      `Layer ${arn} is in region ${region}, not in the function's region: layers must be in region ${place.region}`,
    );
  }
  if (account !== place.accountId) throw notFound(`Layer version ${arn} does not exist.`);
  return { name, version: Number(version) };
}

/** A layer version number from a path segment. */
export function parseVersionNumber(text: string): number {
  const version = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(version) || version < 1) {
    throw invalidParameter(`Invalid layer version number: ${text}`);
  }
  return version;
}
