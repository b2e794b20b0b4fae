/** `shlambda publish`: publishes the built layer as a Lambda layer version, shares it, and remembers its ARN. */

import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import {
  AddLayerVersionPermissionCommand,
  type LayerVersionContentInput,
  PublishLayerVersionCommand,
} from '@aws-sdk/client-lambda';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import {
  AWS_OPTIONS,
  AWS_OPTIONS_HELP,
  type AwsContext,
  connectAws,
  explainingErrors,
  loadAwsSettings,
} from './aws-clients.ts';
import { ensureLayerBuilt } from './build-command.ts';
import { CommandOutput } from './command-output.ts';
import { LAMBDA_CODE_LIMITS } from './function-zip.ts';
import { ARCHITECTURES, type Architecture, layerZipPath, parseArchitecture } from './layer-paths.ts';
import { rememberLayer, statePath } from './shlambda-state.ts';

const HELP = `Usage: shlambda publish [options]

Builds the layer if it is stale and publishes it for provided.al2023. Prints the LayerVersionArn and
remembers it in .shlambda/state.json, so 'shlambda deploy' attaches it without --layer.

Options:
  --arch A             x86_64, arm64 or all (default x86_64); all publishes one layer per architecture,
                       named <name>-x86_64 and <name>-arm64
  --layer-name N       layer name (default shlambda)
  --description D      layer description
  --public             let every AWS account use the layer
  --principal ACCOUNT  let this account use the layer
  --organization ORG   let the accounts of this organization use the layer
  --s3-bucket B        upload through this bucket (required for a zip over 50 MB)
  --zip PATH           publish this zip instead of the built dist/layer-<arch>.zip

${AWS_OPTIONS_HELP}`;

export interface Sharing {
  principal: string;
  organizationId?: string;
  statementId: string;
}

/** The publish options, checked; exported for tests. */
export function parsePublishOptions(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    options: {
      ...AWS_OPTIONS,
      arch: { type: 'string', default: 'x86_64' },
      'layer-name': { type: 'string', default: 'shlambda' },
      description: { type: 'string' },
      public: { type: 'boolean', default: false },
      principal: { type: 'string' },
      organization: { type: 'string' },
      's3-bucket': { type: 'string' },
      zip: { type: 'string' },
    },
  });
  const arches: Architecture[] =
    values.arch === 'all' ? [...ARCHITECTURES] : [parseArchitecture(values.arch)];
  if (values.zip && arches.length > 1) {
    throw new Error('--zip holds one architecture: pass --arch x86_64 or --arch arm64 with it');
  }
  const shareFlags = [values.public, values.principal, values.organization].filter(Boolean);
  if (shareFlags.length > 1) throw new Error('pass only one of --public, --principal, --organization');
  if (!/^[a-zA-Z0-9-_]{1,140}$/.test(values['layer-name'])) {
    throw new Error(`--layer-name '${values['layer-name']}': use letters, digits, - and _ only`);
  }
  let sharing: Sharing | undefined;
  if (values.public) sharing = { principal: '*', statementId: 'shlambda-public' };
  else if (values.principal) {
    if (!/^\d{12}$/.test(values.principal)) throw new Error('--principal must be a 12-digit account id');
    sharing = { principal: values.principal, statementId: `shlambda-account-${values.principal}` };
  } else if (values.organization) {
    if (!/^o-[a-z0-9]{10,32}$/.test(values.organization)) {
      throw new Error(`--organization '${values.organization}' is not an organization id (o-xxxxxxxxxx)`);
    }
    sharing = {
      principal: '*',
      organizationId: values.organization,
      statementId: `shlambda-org-${values.organization}`,
    };
  }
  return { values, arches, sharing };
}

export async function runPublishCommand(argv: string[]): Promise<number> {
  const { values, arches, sharing } = parsePublishOptions(argv);
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const out = new CommandOutput(values.json);
  const settings = loadAwsSettings(values, process.env);
  const aws = await connectAws(settings);
  const stateFile = statePath(process.cwd());
  const published: object[] = [];
  const lines: string[] = [];
  if (arches.length > 1) {
    out.status(
      `shlambda publish: one layer per architecture: ${arches.map((a) => `${values['layer-name']}-${a}`).join(', ')}`,
    );
  }
  for (const arch of arches) {
    const layerName = arches.length > 1 ? `${values['layer-name']}-${arch}` : values['layer-name'];
    let zip = values.zip;
    if (!zip) {
      zip = layerZipPath(arch);
      await ensureLayerBuilt(arch, zip, (line) => out.status(line));
    }
    const content = await explainingErrors(aws, () =>
      layerContent(aws, zip, layerName, values['s3-bucket'], out),
    );
    const upload = out.upload(`${zip} as ${layerName}`, fs.statSync(zip).size, aws.uploads);
    const result = await explainingErrors(aws, () =>
      aws.lambda.send(
        new PublishLayerVersionCommand({
          LayerName: layerName,
          Description: values.description ?? `shlambda: run any script on provided.al2023 (${arch})`,
          Content: content,
          CompatibleRuntimes: ['provided.al2023'],
          CompatibleArchitectures: [arch],
          LicenseInfo: 'MIT',
        }),
      ),
    );
    upload.done();
    const arn = result.LayerVersionArn ?? '';
    if (!arn) throw new Error('PublishLayerVersion answered without a LayerVersionArn');
    if (sharing) {
      const share = sharing;
      await explainingErrors(aws, () =>
        aws.lambda.send(
          new AddLayerVersionPermissionCommand({
            LayerName: layerName,
            VersionNumber: result.Version,
            StatementId: share.statementId,
            Action: 'lambda:GetLayerVersion',
            Principal: share.principal,
            ...(share.organizationId ? { OrganizationId: share.organizationId } : {}),
          }),
        ),
      );
    }
    rememberLayer(stateFile, aws.region, arch, arn);
    const shared = sharing
      ? sharing.organizationId
        ? `organization ${sharing.organizationId}`
        : sharing.principal === '*'
          ? 'public'
          : `account ${sharing.principal}`
      : undefined;
    published.push({
      layerName,
      arch,
      version: result.Version,
      layerVersionArn: arn,
      codeSha256: result.Content?.CodeSha256,
      codeSize: result.Content?.CodeSize,
      ...(shared ? { sharedWith: shared } : {}),
    });
    lines.push(arn);
    if (shared) out.status(`shlambda publish: ${layerName} version ${result.Version} shared with ${shared}`);
  }
  out.status(`shlambda publish: remembered in ${statePath('.')} for region ${aws.region}`);
  out.result({ region: aws.region, layers: published }, lines);
  aws.lambda.destroy();
  return 0;
}

/** The zip inline, or through S3 when it is over the direct upload limit (or a bucket is given). */
async function layerContent(
  aws: AwsContext,
  zip: string,
  layerName: string,
  bucket: string | undefined,
  out: CommandOutput,
): Promise<LayerVersionContentInput> {
  const size = fs.statSync(zip).size;
  if (!bucket) {
    if (size > LAMBDA_CODE_LIMITS.maxZipBytes) {
      throw new Error(
        `${zip} is ${(size / 1024 / 1024).toFixed(1)} MB, over the 50 MB limit of a direct upload: pass --s3-bucket BUCKET (in the same region) to upload it through S3`,
      );
    }
    return { ZipFile: fs.readFileSync(zip) };
  }
  const body = fs.readFileSync(zip);
  const sha = createHash('sha256').update(body).digest('hex');
  const key = `shlambda/${layerName}/${sha}.zip`;
  const upload = out.upload(`${zip} to s3://${bucket}/${key}`, size, aws.uploads);
  await aws.s3().send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentLength: size }));
  upload.done();
  return { S3Bucket: bucket, S3Key: key };
}
