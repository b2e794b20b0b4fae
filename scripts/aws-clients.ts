/** Makes the AWS SDK clients of the control-plane commands from the shared options and explains SDK errors in words. */

import { LambdaClient } from '@aws-sdk/client-lambda';
import { S3Client } from '@aws-sdk/client-s3';
import { ProgressHttpHandler } from './upload-progress.ts';

/** The `parseArgs` options every AWS command accepts. */
export const AWS_OPTIONS = {
  region: { type: 'string' },
  profile: { type: 'string' },
  'endpoint-url': { type: 'string' },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', default: false },
} as const;

export const AWS_OPTIONS_HELP = `Common options:
  --region R           AWS region (default: AWS_REGION, then the profile's region)
  --profile P          shared config profile (default: AWS_PROFILE, then "default")
  --endpoint-url URL   Lambda endpoint, such as http://127.0.0.1:9000 for 'shlambda local serve'
                       (default: AWS_ENDPOINT_URL_LAMBDA, then AWS_ENDPOINT_URL)
  --json               print one JSON object with the results instead of text`;

/** What the commands need to make clients: explicit values only; the SDK resolves the rest. */
export interface AwsSettings {
  readonly region: string | undefined;
  readonly profile: string | undefined;
  readonly lambdaEndpoint: string | undefined;
  readonly s3Endpoint: string | undefined;
}

/** Builds the settings from the parsed options and the environment (the one place that reads it). */
export function loadAwsSettings(
  values: { region?: string | undefined; profile?: string | undefined; 'endpoint-url'?: string | undefined },
  env: NodeJS.ProcessEnv,
): AwsSettings {
  const lambdaEndpoint = values['endpoint-url'] || env.AWS_ENDPOINT_URL_LAMBDA || env.AWS_ENDPOINT_URL;
  checkUrl(
    values['endpoint-url'] ? '--endpoint-url' : 'AWS_ENDPOINT_URL_LAMBDA/AWS_ENDPOINT_URL',
    lambdaEndpoint,
  );
  // --endpoint-url names where Lambda is. When that is this machine (shlambda local serve, which takes
  // both), an upload through S3 goes there too unless S3 has its own: not to real S3 while Lambda is a
  // local one. A remote one (a FIPS or VPC endpoint of Lambda's) is Lambda's alone.
  const localLambda = isLoopback(values['endpoint-url']) ? values['endpoint-url'] : undefined;
  const s3Endpoint = env.AWS_ENDPOINT_URL_S3 || localLambda || env.AWS_ENDPOINT_URL;
  checkUrl(env.AWS_ENDPOINT_URL_S3 ? 'AWS_ENDPOINT_URL_S3' : 'AWS_ENDPOINT_URL', s3Endpoint);
  return Object.freeze({
    region: values.region || undefined,
    profile: values.profile || undefined,
    lambdaEndpoint: lambdaEndpoint || undefined,
    s3Endpoint: s3Endpoint || undefined,
  });
}

/** Whether a URL points at this machine (an emulator), not at a service elsewhere. */
function isLoopback(value: string | undefined): boolean {
  if (!value) return false;
  try {
    return ['127.0.0.1', 'localhost', '[::1]'].includes(new URL(value).hostname);
  } catch {
    return false;
  }
}

function checkUrl(name: string, value: string | undefined): void {
  if (!value) return;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error(`${name}: '${value}' is not a URL (expected e.g. http://127.0.0.1:9000)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new Error(`${name}: '${value}' must be an http:// or https:// URL`);
  }
}

/** A Lambda client with its region resolved, and an S3 client made on demand. */
export interface AwsContext {
  readonly lambda: LambdaClient;
  /** The clients' HTTP handler: set its `listener` to follow an upload. */
  readonly uploads: ProgressHttpHandler;
  readonly region: string;
  /** The Lambda endpoint given instead of AWS's, if any: errors name it. */
  readonly endpoint: string | undefined;
  s3(): S3Client;
}

/**
 * Makes the clients and resolves the region now, so a missing region is reported before any work.
 * Credentials come from the SDK's default chain (environment, shared config and SSO for `profile`).
 */
export async function connectAws(settings: AwsSettings): Promise<AwsContext> {
  const common = {
    ...(settings.region ? { region: settings.region } : {}),
    ...(settings.profile ? { profile: settings.profile } : {}),
  };
  const uploads = new ProgressHttpHandler();
  const lambda = new LambdaClient({
    ...common,
    requestHandler: uploads,
    ...(settings.lambdaEndpoint ? { endpoint: settings.lambdaEndpoint } : {}),
  });
  let region: string;
  try {
    region = await lambda.config.region();
  } catch {
    region = '';
  }
  if (!region) {
    lambda.destroy();
    throw new Error(
      `no AWS region: set --region or AWS_REGION${settings.profile ? ` (or region in profile ${settings.profile})` : ''}`,
    );
  }
  let s3: S3Client | undefined;
  return {
    lambda,
    uploads,
    region,
    endpoint: settings.lambdaEndpoint,
    s3() {
      s3 ??= new S3Client({
        ...common,
        region,
        requestHandler: uploads,
        ...(settings.s3Endpoint ? { endpoint: settings.s3Endpoint, forcePathStyle: true } : {}),
      });
      return s3;
    },
  };
}

/** What an error is about, so the explanation can name it. */
export interface ErrorSubject {
  region: string;
  functionName?: string | undefined;
  endpoint?: string | undefined;
}

/** Turns an SDK error into one that says what went wrong and what to do; other errors pass through. */
export function explainAwsError(error: unknown, subject: ErrorSubject): Error {
  if (!(error instanceof Error)) return new Error(String(error));
  const code = (error as { code?: string }).code;
  if (error.name === 'CredentialsProviderError') {
    return new Error(
      'no AWS credentials found: run `aws configure` (or `aws sso login --profile P` and pass --profile P), ' +
        'or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY. Against a local endpoint any values do ' +
        '(AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test).',
    );
  }
  if (error.name === 'ResourceNotFoundException' && subject.functionName) {
    return new Error(`no function ${subject.functionName} in ${subject.region}`);
  }
  if (code === 'ECONNREFUSED' || code === 'ENOTFOUND') {
    return new Error(
      `cannot reach the Lambda endpoint${subject.endpoint ? ` ${subject.endpoint}` : ''} (${code}): ${error.message}`,
    );
  }
  if ('$metadata' in error && error.name !== 'Error') return new Error(`${error.name}: ${error.message}`);
  return error;
}

/** Runs `work`, explaining any AWS error it throws; `functionName` names the function it is about. */
export async function explainingErrors<T>(
  aws: Pick<AwsContext, 'region' | 'endpoint'>,
  work: () => Promise<T>,
  functionName?: string,
): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw explainAwsError(error, { region: aws.region, endpoint: aws.endpoint, functionName });
  }
}
