/** The seed workflow and its error paths through the real AWS SDK (and the AWS CLI) against the local Lambda API over HTTP. */

import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import {
  AddLayerVersionPermissionCommand,
  CreateFunctionCommand,
  DeleteFunctionCommand,
  DeleteLayerVersionCommand,
  GetFunctionCommand,
  GetLayerVersionCommand,
  InvokeCommand,
  LambdaClient,
  ListLayerVersionsCommand,
  PublishLayerVersionCommand,
  UpdateFunctionCodeCommand,
  UpdateFunctionConfigurationCommand,
  waitUntilFunctionActiveV2,
  waitUntilFunctionUpdatedV2,
} from '@aws-sdk/client-lambda';
import {
  CopyObjectCommand,
  GetObjectCommand,
  PutObjectCommand,
  PutObjectTaggingCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type LocalLambdaApi, startLocalLambdaApi } from '../../scripts/local-lambda-api/server.ts';
import { functionZip } from '../helpers/local-lambda-api-zip.ts';

const ROLE = 'arn:aws:iam::000000000000:role/lambda-role';
const ECHO = fs.readFileSync(path.join(import.meta.dirname, '../../handlers/echo/function.sh'), 'utf8');
const WAIT = { maxWaitTime: 30, minDelay: 1, maxDelay: 1 };

let dataDir: string;
let api: LocalLambdaApi;
let lambda: LambdaClient;
let layerArn: string;
const logs: string[] = [];

async function start(): Promise<void> {
  api = await startLocalLambdaApi({ port: 0, dataDir, log: (line) => logs.push(line) });
  lambda = new LambdaClient({
    endpoint: api.url,
    region: 'us-east-1',
    credentials: { accessKeyId: 'x', secretAccessKey: 'y' },
    maxAttempts: 1,
  });
}

async function stop(): Promise<void> {
  lambda.destroy();
  await api.close();
}

/** Creates a function on the published layer and waits until it is active. */
async function createFunction(
  name: string,
  files: Record<string, string>,
  extra: Record<string, unknown> = {},
) {
  const created = await lambda.send(
    new CreateFunctionCommand({
      FunctionName: name,
      Runtime: 'provided.al2023',
      Handler: 'function.handler',
      Role: ROLE,
      Code: { ZipFile: await functionZip(files) },
      Layers: [layerArn],
      ...extra,
    }),
  );
  await waitUntilFunctionActiveV2({ client: lambda, ...WAIT }, { FunctionName: name });
  return created;
}

async function invoke(name: string, payload: string, logType?: 'Tail') {
  const out = await lambda.send(
    new InvokeCommand({ FunctionName: name, Payload: Buffer.from(payload), LogType: logType }),
  );
  return { ...out, text: Buffer.from(out.Payload ?? []).toString('utf8') };
}

/** The error the SDK raised, for asserting on its name and message. */
async function failure(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected the call to fail');
}

beforeAll(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'shlambda-lambda-api-'));
  await start();
  const published = await lambda.send(
    new PublishLayerVersionCommand({
      LayerName: 'shlambda',
      Content: { ZipFile: fs.readFileSync(inject('layerZip')) },
      CompatibleRuntimes: ['provided.al2023'],
      CompatibleArchitectures: ['x86_64', 'arm64'],
      Description: 'test layer',
    }),
  );
  layerArn = published.LayerVersionArn ?? '';
});

afterAll(async () => {
  await stop();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

describe('layers', () => {
  it('publishes a layer version with its ARN, size and sha256', async () => {
    expect(layerArn).toBe('arn:aws:lambda:us-east-1:000000000000:layer:shlambda:1');
    const got = await lambda.send(new GetLayerVersionCommand({ LayerName: 'shlambda', VersionNumber: 1 }));
    expect(got.LayerArn).toBe('arn:aws:lambda:us-east-1:000000000000:layer:shlambda');
    expect(got.Version).toBe(1);
    expect(got.Content?.CodeSize).toBe(fs.statSync(inject('layerZip')).size);
    expect(got.Content?.CodeSha256).toMatch(/^[A-Za-z0-9+/]{43}=$/);
    expect(got.CompatibleRuntimes).toEqual(['provided.al2023']);
    const zip = await fetch(got.Content?.Location ?? '');
    expect(Buffer.from(await zip.arrayBuffer()).equals(fs.readFileSync(inject('layerZip')))).toBe(true);
  });

  it('lists, shares and deletes layer versions', async () => {
    const tiny = await functionZip({ 'bin/hello': 'echo hi' });
    const v = await lambda.send(
      new PublishLayerVersionCommand({ LayerName: 'extra', Content: { ZipFile: tiny } }),
    );
    const v2 = await lambda.send(
      new PublishLayerVersionCommand({ LayerName: 'extra', Content: { ZipFile: tiny } }),
    );
    expect([v.Version, v2.Version]).toEqual([1, 2]);
    const listed = await lambda.send(new ListLayerVersionsCommand({ LayerName: 'extra' }));
    expect(listed.LayerVersions?.map((item) => item.Version)).toEqual([2, 1]);

    const shared = await lambda.send(
      new AddLayerVersionPermissionCommand({
        LayerName: 'extra',
        VersionNumber: 2,
        StatementId: 'everyone',
        Action: 'lambda:GetLayerVersion',
        Principal: '*',
      }),
    );
    expect(JSON.parse(shared.Statement ?? '{}')).toMatchObject({
      Sid: 'everyone',
      Action: 'lambda:GetLayerVersion',
    });
    const badAction = await failure(
      lambda.send(
        new AddLayerVersionPermissionCommand({
          LayerName: 'extra',
          VersionNumber: 2,
          StatementId: 'x',
          Action: 'lambda:InvokeFunction',
          Principal: '*',
        }),
      ),
    );
    expect(badAction.name).toBe('InvalidParameterValueException');

    await lambda.send(new DeleteLayerVersionCommand({ LayerName: 'extra', VersionNumber: 1 }));
    const after = await lambda.send(new ListLayerVersionsCommand({ LayerName: 'extra' }));
    expect(after.LayerVersions?.map((item) => item.Version)).toEqual([2]);
    const gone = await failure(
      lambda.send(new GetLayerVersionCommand({ LayerName: 'extra', VersionNumber: 1 })),
    );
    expect(gone.name).toBe('ResourceNotFoundException');
    // Version numbers are not reused after a delete.
    const v3 = await lambda.send(
      new PublishLayerVersionCommand({ LayerName: 'extra', Content: { ZipFile: tiny } }),
    );
    expect(v3.Version).toBe(3);
  });

  it('takes a zip put into its own S3, and says which object is missing as Lambda does', async () => {
    const tiny = await functionZip({ 'bin/hello': 'echo hi' });
    const s3 = new S3Client({
      endpoint: api.url,
      forcePathStyle: true,
      region: 'us-east-1',
      credentials: { accessKeyId: 'x', secretAccessKey: 'y' },
      maxAttempts: 1,
    });
    const fromS3 = (LayerName: string, S3Bucket: string, S3Key: string) =>
      lambda.send(new PublishLayerVersionCommand({ LayerName, Content: { S3Bucket, S3Key } }));
    await s3.send(new PutObjectCommand({ Bucket: 'zips', Key: 'layers/tiny v1.zip', Body: tiny }));
    const published = await fromS3('from-s3', 'zips', 'layers/tiny v1.zip');
    expect(published.Content?.CodeSize).toBe(tiny.length);
    const noKey = await failure(fromS3('x', 'zips', 'other.zip'));
    expect(noKey.name).toBe('InvalidParameterValueException');
    expect(noKey.message).toContain('S3 Error Code: NoSuchKey');
    const noBucket = await failure(fromS3('x', 'nobucket', 'k'));
    expect(noBucket.message).toContain('S3 Error Code: NoSuchBucket');
    // A key is its own characters, `..` too: nothing is resolved, nothing lands in another bucket.
    await s3.send(new PutObjectCommand({ Bucket: 'zips', Key: '../other/x/../tiny.zip', Body: tiny }));
    const dotted = await fromS3('dotted', 'zips', '../other/x/../tiny.zip');
    expect(dotted.Content?.CodeSize).toBe(tiny.length);
    expect(fs.existsSync(path.join(dataDir, 's3', 'other'))).toBe(false);
    const badBucket = await failure(fromS3('x', '../functions', 'k'));
    expect(badBucket.message).toContain("'../functions' is not a bucket name");
    // A stream is sent aws-chunked, its CRC32 in a trailer.
    await s3.send(
      new PutObjectCommand({
        Bucket: 'zips',
        Key: 'streamed.zip',
        Body: Readable.from([tiny]),
        ContentLength: tiny.length,
      }),
    );
    const streamed = await fromS3('streamed', 'zips', 'streamed.zip');
    expect(streamed.Content?.CodeSha256).toBe(published.Content?.CodeSha256);
    // Only PutObject is emulated; S3's own error shape says so, and another PUT on a key changes nothing.
    const get = await failure(s3.send(new GetObjectCommand({ Bucket: 'zips', Key: 'layers/tiny v1.zip' })));
    expect(get.name).toBe('NotImplemented');
    const tagging = await failure(
      s3.send(new PutObjectTaggingCommand({ Bucket: 'zips', Key: 'streamed.zip', Tagging: { TagSet: [] } })),
    );
    expect(tagging.name).toBe('NotImplemented');
    const copy = await failure(
      s3.send(
        new CopyObjectCommand({ Bucket: 'zips', Key: 'streamed.zip', CopySource: 'zips/layers/tiny v1.zip' }),
      ),
    );
    expect(copy.name).toBe('NotImplemented');
    const again = await fromS3('streamed', 'zips', 'streamed.zip');
    expect(again.Content?.CodeSha256).toBe(published.Content?.CodeSha256);
    s3.destroy();
  });

  it('refuses an upload whose bytes are not the ones it signed', async () => {
    const tiny = await functionZip({ 'bin/hello': 'echo hi' });
    const answer = await fetch(`${api.url}/zips/forged.zip`, {
      method: 'PUT',
      headers: {
        authorization:
          'AWS4-HMAC-SHA256 Credential=x/20261202/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0',
        'x-amz-content-sha256': '0'.repeat(64),
      },
      body: tiny,
    });
    expect(answer.status).toBe(400);
    expect(await answer.text()).toContain('<Code>XAmzContentSHA256Mismatch</Code>');
  });
});

describe('functions', () => {
  it('creates, invokes, updates code and configuration, as on Lambda', async () => {
    const created = await createFunction(
      'echo',
      { 'function.sh': ECHO },
      { Environment: { Variables: { A: '1' } } },
    );
    expect(created.FunctionArn).toBe('arn:aws:lambda:us-east-1:000000000000:function:echo');
    expect(created).toMatchObject({
      Timeout: 3,
      MemorySize: 128,
      LastUpdateStatus: 'Successful',
      Runtime: 'provided.al2023',
    });
    expect(created.Layers).toEqual([{ Arn: layerArn, CodeSize: fs.statSync(inject('layerZip')).size }]);

    const first = await invoke('echo', '{"hello":"world"}', 'Tail');
    expect(first.StatusCode).toBe(200);
    expect(first.FunctionError).toBeUndefined();
    expect(first.ExecutedVersion).toBe('$LATEST');
    expect(first.text).toBe('{"hello":"world"}');
    const log = Buffer.from(first.LogResult ?? '', 'base64').toString('utf8');
    expect(log).toContain('echo: received 17 bytes');
    expect(log).toMatch(/^START RequestId: /);
    expect(log).toContain('REPORT RequestId: ');

    // Full ARN and partial ARN name the same function.
    expect((await invoke(created.FunctionArn ?? '', '"a"')).text).toBe('"a"');
    expect((await invoke('000000000000:function:echo', '"b"')).text).toBe('"b"');

    await lambda.send(
      new UpdateFunctionCodeCommand({
        FunctionName: 'echo',
        ZipFile: await functionZip({ 'function.sh': 'handler() { printf "new code"; }\n' }),
      }),
    );
    await waitUntilFunctionUpdatedV2({ client: lambda, ...WAIT }, { FunctionName: 'echo' });
    expect((await invoke('echo', '{}')).text).toBe('new code');

    await lambda.send(
      new UpdateFunctionCodeCommand({
        FunctionName: 'echo',
        ZipFile: await functionZip({ 'function.sh': 'handler() { printf "greeting=%s" "$GREETING"; }\n' }),
      }),
    );
    await waitUntilFunctionUpdatedV2({ client: lambda, ...WAIT }, { FunctionName: 'echo' });
    expect((await invoke('echo', '{}')).text).toBe('greeting=');
    const updated = await lambda.send(
      new UpdateFunctionConfigurationCommand({
        FunctionName: 'echo',
        Environment: { Variables: { GREETING: 'hi' } },
      }),
    );
    expect(updated.Environment?.Variables).toEqual({ GREETING: 'hi' });
    await waitUntilFunctionUpdatedV2({ client: lambda, ...WAIT }, { FunctionName: 'echo' });
    expect((await invoke('echo', '{}')).text).toBe('greeting=hi');

    const got = await lambda.send(new GetFunctionCommand({ FunctionName: 'echo' }));
    expect(got.Configuration?.State).toBe('Active');
    expect(got.Code?.RepositoryType).toBe('S3');
  });

  it('reports a handler failure as an Unhandled function error with its type', async () => {
    await createFunction('fails', { 'function.sh': 'handler() { echo "going down" >&2; exit 3; }\n' });
    const out = await invoke('fails', '{}', 'Tail');
    expect(out.StatusCode).toBe(200);
    expect(out.FunctionError).toBe('Unhandled');
    expect(JSON.parse(out.text)).toMatchObject({ errorType: 'Function.ExitError' });
    expect(Buffer.from(out.LogResult ?? '', 'base64').toString()).toContain('going down');
  });

  it('stops a handler that runs past the timeout', async () => {
    // The runtime sends the handler SIGTERM shortly before Lambda's deadline (SHLAMBDA_TIMEOUT_MARGIN_MS)
    // and reports Function.Timeout itself, so the environment's Sandbox.Timedout is not reached.
    await createFunction('slow', { 'function.sh': 'handler() { sleep 30; }\n' }, { Timeout: 1 });
    const out = await invoke('slow', '{}');
    expect(out.FunctionError).toBe('Unhandled');
    expect(JSON.parse(out.text).errorType).toBe('Function.Timeout');
    // The environment is still usable afterwards.
    expect((await invoke('slow', '{}')).FunctionError).toBe('Unhandled');
  });

  it('reports Runtime.InvalidEntrypoint when no layer provides a bootstrap', async () => {
    await createFunction('no-runtime', { 'function.sh': ECHO }, { Layers: [] });
    const out = await invoke('no-runtime', '{}');
    expect(out.FunctionError).toBe('Unhandled');
    expect(JSON.parse(out.text).errorType).toBe('Runtime.InvalidEntrypoint');
  });

  it('runs a bootstrap shipped in the function zip, as Lambda looks in /var/task first', async () => {
    const bootstrap = [
      '#!/bin/bash',
      'api="http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime/invocation"',
      'while true; do',
      '  headers=$(mktemp)',
      '  curl -sS -D "$headers" -o /dev/null "$api/next"',
      "  id=$(grep -i '^lambda-runtime-aws-request-id:' \"$headers\" | tr -d '\\r' | cut -d' ' -f2)",
      '  curl -sS -o /dev/null -X POST "$api/$id/response" -d "own bootstrap"',
      'done',
      '',
    ].join('\n');
    await createFunction('own-bootstrap', { bootstrap }, { Layers: [] });
    expect((await invoke('own-bootstrap', '{}')).text).toBe('own bootstrap');
  });

  it('reports a runtime that never answers as Sandbox.Timedout, and one that exits as Runtime.ExitError', async () => {
    const next = 'curl -sS -o /dev/null "http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime/invocation/next"';
    await createFunction(
      'stuck',
      { bootstrap: `#!/bin/bash\n${next}\nsleep 60\n` },
      { Layers: [], Timeout: 1 },
    );
    const stuck = await invoke('stuck', '{}', 'Tail');
    expect(stuck.FunctionError).toBe('Unhandled');
    expect(JSON.parse(stuck.text)).toMatchObject({
      errorType: 'Sandbox.Timedout',
      errorMessage: expect.stringContaining('Task timed out after 1.00 seconds'),
    });
    expect(Buffer.from(stuck.LogResult ?? '', 'base64').toString()).toContain(
      'Task timed out after 1.00 seconds',
    );

    await createFunction('quits', { bootstrap: `#!/bin/bash\n${next}\nexit 7\n` }, { Layers: [] });
    const quits = await invoke('quits', '{}');
    expect(quits.FunctionError).toBe('Unhandled');
    expect(JSON.parse(quits.text)).toMatchObject({
      errorType: 'Runtime.ExitError',
      errorMessage: expect.stringContaining('exit status 7'),
    });
  });

  it('accepts Event (202) and DryRun (204) invocations', async () => {
    await createFunction('async', { 'function.sh': ECHO });
    const event = await lambda.send(
      new InvokeCommand({ FunctionName: 'async', InvocationType: 'Event', Payload: '{}' }),
    );
    expect(event.StatusCode).toBe(202);
    const dry = await lambda.send(new InvokeCommand({ FunctionName: 'async', InvocationType: 'DryRun' }));
    expect(dry.StatusCode).toBe(204);
  });

  it('passes a client context to synchronous invocations only, as Lambda does', async () => {
    const code = {
      'function.sh':
        'handler() { if printenv LAMBDA_CLIENT_CONTEXT >/dev/null; then exit 3; fi; printf none; }\n',
    };
    await createFunction('context-only-sync', code);
    const ClientContext = Buffer.from('{"custom":{"a":1}}').toString('base64');
    const sync = await lambda.send(new InvokeCommand({ FunctionName: 'context-only-sync', ClientContext }));
    expect(sync.FunctionError).toBe('Unhandled');
    const event = await lambda.send(
      new InvokeCommand({ FunctionName: 'context-only-sync', InvocationType: 'Event', ClientContext }),
    );
    expect(event.StatusCode).toBe(202);
    // The function's invocations run one at a time: once this one answers, the asynchronous one has
    // run, without it, and answered: nothing failed in the log.
    expect(await invoke('context-only-sync', '{}')).toMatchObject({ text: 'none' });
    expect(logs.filter((line) => line.includes('context-only-sync: asynchronous invocation'))).toEqual([]);
  });

  it('refuses an unknown function, bad layers and a bad role with typed errors', async () => {
    const unknown = await failure(invoke('nope', '{}'));
    expect(unknown.name).toBe('ResourceNotFoundException');
    expect(unknown.message).toContain('nope');

    const zip = await functionZip({ 'function.sh': ECHO });
    const create = (extra: Record<string, unknown>) =>
      failure(
        lambda.send(
          new CreateFunctionCommand({
            FunctionName: 'bad',
            Runtime: 'provided.al2023',
            Handler: 'function.handler',
            Role: ROLE,
            Code: { ZipFile: zip },
            ...extra,
          }),
        ),
      );
    const malformed = await create({ Layers: ['not-an-arn'] });
    expect(malformed.name).toBe('InvalidParameterValueException');
    expect(malformed.message).toContain('not-an-arn');
    const foreign = 'arn:aws:lambda:eu-west-1:000000000000:layer:shlambda:1';
    const otherRegion = await create({ Layers: [foreign] });
    expect(otherRegion.name).toBe('InvalidParameterValueException');
    expect(otherRegion.message).toContain(foreign);
    const missing = 'arn:aws:lambda:us-east-1:000000000000:layer:shlambda:99';
    const notThere = await create({ Layers: [missing] });
    expect(notThere.name).toBe('ResourceNotFoundException');
    expect(notThere.message).toContain(missing);
    const badRole = await create({ Role: 'lambda-role' });
    expect(badRole.name).toBe('InvalidParameterValueException');
    const noRuntime = await create({ Runtime: undefined });
    expect(noRuntime.name).toBe('InvalidParameterValueException');

    await createFunction('twice', { 'function.sh': ECHO });
    const again = await failure(createFunction('twice', { 'function.sh': ECHO }));
    expect(again.name).toBe('ResourceConflictException');
  });

  it('refuses a payload that is not JSON with InvalidRequestContentException, as Lambda does', async () => {
    await createFunction('strict', { 'function.sh': ECHO });
    const error = await failure(invoke('strict', 'not json'));
    expect(error.name).toBe('InvalidRequestContentException');
    expect(error.message).toContain('Could not parse request body into json');
    const text = await invoke('strict', '"just a string"');
    expect(Buffer.from(text.Payload ?? []).toString()).toBe('"just a string"');
  });

  it('refuses the environment variables Lambda reserves, naming them', async () => {
    await createFunction('reserved', { 'function.sh': ECHO });
    const error = await failure(
      lambda.send(
        new UpdateFunctionConfigurationCommand({
          FunctionName: 'reserved',
          Environment: { Variables: { LAMBDA_TASK_ROOT: '/nope', AWS_REGION: 'eu-west-1', MINE: '1' } },
        }),
      ),
    );
    expect(error.name).toBe('InvalidParameterValueException');
    expect(error.message).toContain('reserved keys');
    expect(error.message).toContain('LAMBDA_TASK_ROOT, AWS_REGION');
    const allowed = await lambda.send(
      new UpdateFunctionConfigurationCommand({
        FunctionName: 'reserved',
        Environment: { Variables: { TZ: 'Europe/Paris', MINE: '1' } },
      }),
    );
    expect(allowed.Environment?.Variables).toEqual({ TZ: 'Europe/Paris', MINE: '1' });
  });

  it('attaches a layer whatever architectures it lists, as Lambda does (they only filter ListLayers)', async () => {
    const tiny = await functionZip({ 'bin/tool': 'x' });
    const armOnly = await lambda.send(
      new PublishLayerVersionCommand({
        LayerName: 'arm-tools',
        Content: { ZipFile: tiny },
        CompatibleArchitectures: ['arm64'],
      }),
    );
    await createFunction('mixed', { 'function.sh': ECHO });
    const updated = await lambda.send(
      new UpdateFunctionConfigurationCommand({
        FunctionName: 'mixed',
        Layers: [layerArn, armOnly.LayerVersionArn ?? ''],
      }),
    );
    expect(updated.Layers?.map((layer) => layer.Arn)).toEqual([layerArn, armOnly.LayerVersionArn]);
    await waitUntilFunctionUpdatedV2({ client: lambda, ...WAIT }, { FunctionName: 'mixed' });
    const zip = await functionZip({ 'function.sh': ECHO });
    const moved = await lambda.send(
      new UpdateFunctionCodeCommand({ FunctionName: 'mixed', ZipFile: zip, Architectures: ['arm64'] }),
    );
    expect(moved.Architectures).toEqual(['arm64']);
  });

  it('refuses a synchronous payload of 6 MB with RequestEntityTooLargeException', async () => {
    await createFunction('big', { 'function.sh': ECHO });
    const error = await failure(invoke('big', `"${'x'.repeat(6 * 1024 * 1024)}"`));
    expect(error.name).toBe('RequestEntityTooLargeException');
  });

  it('takes an Event payload of exactly 1 MB and refuses one byte more, saying both sizes', async () => {
    await createFunction('big-event', { 'function.sh': ECHO });
    const event = (bytes: number) =>
      lambda.send(
        new InvokeCommand({
          FunctionName: 'big-event',
          InvocationType: 'Event',
          Payload: `"${'x'.repeat(bytes - 2)}"`,
        }),
      );
    expect((await event(1_048_576)).StatusCode).toBe(202);
    const error = await failure(event(1_048_577));
    expect(error.name).toBe('RequestEntityTooLargeException');
    expect(error.message).toBe(
      '1048577 byte payload is too large for the Event invocation type (limit 1048576 bytes)',
    );
  });

  it('answers an unknown route with UnknownOperationException', async () => {
    const answer = await fetch(`${api.url}/2015-03-31/nothing-here`);
    expect(answer.status).toBe(404);
    expect(answer.headers.get('x-amzn-errortype')).toBe('UnknownOperationException');
  });
});

describe('regions', () => {
  it('refuses a request signed for another region, saying how to serve that one', async () => {
    const elsewhere = new LambdaClient({
      endpoint: api.url,
      region: 'eu-west-1',
      credentials: { accessKeyId: 'x', secretAccessKey: 'y' },
      maxAttempts: 1,
    });
    const error = await failure(elsewhere.send(new GetFunctionCommand({ FunctionName: 'echo' })));
    elsewhere.destroy();
    expect(error.name).toBe('InvalidSignatureException');
    expect(error.message).toContain(
      "serves us-east-1 and the request was signed for eu-west-1: start it with 'shlambda local serve --region eu-west-1'",
    );
  });

  it("serves the region it is started for, and keeps a data directory to that region's", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shlambda-region-'));
    const irish = await startLocalLambdaApi({ port: 0, dataDir: dir, region: 'eu-west-1' });
    const client = new LambdaClient({
      endpoint: irish.url,
      region: 'eu-west-1',
      credentials: { accessKeyId: 'x', secretAccessKey: 'y' },
      maxAttempts: 1,
    });
    const tiny = await functionZip({ 'bin/tool': 'x' });
    const layer = await client.send(
      new PublishLayerVersionCommand({ LayerName: 'tools', Content: { ZipFile: tiny } }),
    );
    expect(layer.LayerVersionArn).toBe('arn:aws:lambda:eu-west-1:000000000000:layer:tools:1');
    client.destroy();
    await irish.close();
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'shlambda-region-'));
    await (await startLocalLambdaApi({ port: 0, dataDir: empty, region: 'eu-west-1' })).close();
    // Nothing made there yet: another region may use it.
    await (await startLocalLambdaApi({ port: 0, dataDir: empty, region: 'us-east-1' })).close();
    fs.rmSync(empty, { recursive: true, force: true });
    await expect(startLocalLambdaApi({ port: 0, dataDir: dir, region: 'us-east-1' })).rejects.toThrow(
      `the data directory ${dir} holds the layers and functions of eu-west-1: serve us-east-1 from another one (--data DIR)`,
    );
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

describe('persistence', () => {
  it('keeps layers and functions across a restart, and isolates a corrupt function', async () => {
    await createFunction('survivor', { 'function.sh': ECHO });
    await createFunction('victim', { 'function.sh': ECHO });
    await createFunction('zipless', { 'function.sh': ECHO });
    await stop();
    fs.writeFileSync(path.join(dataDir, 'functions', 'victim', 'function.json'), '{"FunctionName": "vic');
    fs.rmSync(path.join(dataDir, 'functions', 'zipless', 'code.zip'));
    await start();

    expect((await invoke('survivor', '"still here"')).text).toBe('"still here"');
    const corrupt = await failure(invoke('victim', '{}'));
    expect(corrupt.name).toBe('ServiceException');
    expect(corrupt.message).toContain(path.join(dataDir, 'functions', 'victim', 'function.json'));
    expect(logs.some((line) => line.includes('victim') && line.includes('corrupt'))).toBe(true);
    const layer = await lambda.send(new GetLayerVersionCommand({ LayerName: 'shlambda', VersionNumber: 1 }));
    expect(layer.LayerVersionArn).toBe(layerArn);

    const noZip = await failure(invoke('zipless', '{}'));
    expect(noZip.name).toBe('ServiceException');
    expect(noZip.message).toContain(path.join(dataDir, 'functions', 'zipless', 'code.zip'));
    // The server is still up and the other functions still run.
    expect((await invoke('survivor', '"again"')).text).toBe('"again"');
  });

  it('keeps a function working after its layer version is deleted, then deletes the function', async () => {
    const tiny = await functionZip({ 'bin/hello': 'echo hi' });
    const own = await lambda.send(
      new PublishLayerVersionCommand({
        LayerName: 'runtime-copy',
        Content: { ZipFile: fs.readFileSync(inject('layerZip')) },
      }),
    );
    await lambda.send(new PublishLayerVersionCommand({ LayerName: 'unused', Content: { ZipFile: tiny } }));
    await createFunction('orphan', { 'function.sh': ECHO }, { Layers: [own.LayerVersionArn] });
    await lambda.send(
      new DeleteLayerVersionCommand({ LayerName: 'runtime-copy', VersionNumber: own.Version }),
    );
    expect((await invoke('orphan', '"ok"')).text).toBe('"ok"');
    await lambda.send(new DeleteFunctionCommand({ FunctionName: 'orphan' }));
    expect((await failure(invoke('orphan', '{}'))).name).toBe('ResourceNotFoundException');
    expect(fs.existsSync(path.join(dataDir, 'functions', 'orphan'))).toBe(false);
  });
});

describe('AWS CLI', () => {
  const run = promisify(execFile);

  it('publishes, creates and invokes with the unmodified AWS CLI', async () => {
    const which = await run('sh', ['-c', 'command -v aws']).catch(() => undefined);
    if (!which)
      throw new Error(
        'The AWS CLI (aws) is not installed: install it (apt-get install awscli) to run this test',
      );
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shlambda-cli-'));
    const zip = path.join(dir, 'function.zip');
    fs.writeFileSync(zip, await functionZip({ 'function.sh': ECHO }));
    const env = {
      ...process.env,
      AWS_ACCESS_KEY_ID: 'x',
      AWS_SECRET_ACCESS_KEY: 'y',
      AWS_PAGER: '',
      AWS_CONFIG_FILE: path.join(dir, 'none'),
      AWS_SHARED_CREDENTIALS_FILE: path.join(dir, 'none'),
    };
    const aws = async (...args: string[]) =>
      (
        await run(
          'aws',
          ['--endpoint-url', api.url, '--region', 'us-east-1', '--output', 'json', 'lambda', ...args],
          { env },
        )
      ).stdout;

    const layer = JSON.parse(
      await aws(
        'publish-layer-version',
        '--layer-name',
        'cli-layer',
        '--zip-file',
        `fileb://${inject('layerZip')}`,
        '--compatible-runtimes',
        'provided.al2023',
      ),
    );
    expect(layer.LayerVersionArn).toBe('arn:aws:lambda:us-east-1:000000000000:layer:cli-layer:1');
    const fn = JSON.parse(
      await aws(
        'create-function',
        '--function-name',
        'cli-echo',
        '--runtime',
        'provided.al2023',
        '--handler',
        'function.handler',
        '--role',
        ROLE,
        '--layers',
        layer.LayerVersionArn,
        '--zip-file',
        `fileb://${zip}`,
      ),
    );
    expect(fn.FunctionArn).toBe('arn:aws:lambda:us-east-1:000000000000:function:cli-echo');
    await aws('wait', 'function-active-v2', '--function-name', 'cli-echo');
    const outFile = path.join(dir, 'out.json');
    // AWS CLI v1 sends --payload as given; v2 needs --cli-binary-format raw-in-base64-out for raw JSON.
    const version =
      (await run('aws', ['--version'], { env })).stdout + (await run('aws', ['--version'], { env })).stderr;
    const binaryFormat = version.startsWith('aws-cli/1') ? [] : ['--cli-binary-format', 'raw-in-base64-out'];
    const invoked = JSON.parse(
      await aws(
        'invoke',
        '--function-name',
        'cli-echo',
        '--payload',
        '{"via":"cli"}',
        '--log-type',
        'Tail',
        ...binaryFormat,
        outFile,
      ),
    );
    expect(invoked.StatusCode).toBe(200);
    expect(Buffer.from(invoked.LogResult, 'base64').toString()).toContain('echo: received 13 bytes');
    expect(fs.readFileSync(outFile, 'utf8')).toBe('{"via":"cli"}');
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
