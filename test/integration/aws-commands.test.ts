/** The publish/deploy/invoke/destroy workflow through the real CLI and the real AWS SDK, against the local Lambda API. */

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  GetFunctionConfigurationCommand,
  LambdaClient,
  PublishLayerVersionCommand,
  UpdateFunctionConfigurationCommand,
  waitUntilFunctionUpdatedV2,
} from '@aws-sdk/client-lambda';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { PROJECT_ROOT } from '../../scripts/layer-paths.ts';
import { type LocalLambdaApi, startLocalLambdaApi } from '../../scripts/local-lambda-api/server.ts';
import { writeCode } from '../helpers/function-dir.ts';

const ROLE = 'arn:aws:iam::000000000000:role/lambda';
const ECHO = path.join(PROJECT_ROOT, 'handlers', 'echo');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

let api: LocalLambdaApi;
let work: string;
let home: string;
/** The CLI bundled once for this file, one level below the root like dist/cli.mjs (so its paths resolve). */
let cli: string;

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'shlambda-aws-test-'));
  home = path.join(work, 'home');
  fs.mkdirSync(home);
  cli = path.join(PROJECT_ROOT, 'dist', `cli-test-${process.pid}.mjs`);
  await build({
    stdin: {
      contents:
        "import { main } from './scripts/cli.ts'; process.exitCode = await main(process.argv.slice(2));",
      resolveDir: PROJECT_ROOT,
      loader: 'ts',
    },
    outfile: cli,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    logLevel: 'error',
  });
  api = await startLocalLambdaApi({ port: 0, dataDir: path.join(work, 'data'), sandbox: 'none' });
});

afterAll(async () => {
  await api?.close();
  fs.rmSync(cli, { force: true });
  fs.rmSync(work, { recursive: true, force: true });
});

/** Runs `shlambda ARGS` in the work directory with only the environment given (plus PATH and HOME). */
function shlambda(args: string[], env: Record<string, string> = awsEnv()): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, ...args], {
      cwd: work,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

function awsEnv(): Record<string, string> {
  return {
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    AWS_ENDPOINT_URL: api.url,
    // The SDK warns on Node 20 that its 2027 releases need Node 22; stderr is asserted on here.
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  };
}

describe('shlambda against the local Lambda API', () => {
  let layerArn = '';

  it('publishes the layer, prints its ARN and remembers it', async () => {
    const run = await shlambda(['publish', '--zip', inject('layerZip'), '--arch', 'x86_64', '--json']);
    expect(run.stderr).not.toMatch(/error/i);
    expect(run.code).toBe(0);
    const result = JSON.parse(run.stdout);
    layerArn = result.layers[0].layerVersionArn;
    expect(layerArn).toMatch(/^arn:aws:lambda:us-east-1:000000000000:layer:shlambda:\d+$/);
    const state = JSON.parse(fs.readFileSync(path.join(work, '.shlambda', 'state.json'), 'utf8'));
    expect(state.layers['us-east-1'].x86_64).toBe(layerArn);

    const layers = await shlambda(['layers']);
    expect(layers.code).toBe(0);
    expect(layers.stdout).toContain(layerArn);
    expect(layers.stdout).toMatch(/^LAYER\s+VERSION\s+ARCH\s+CREATED/);
  });

  it('refuses to create a function without a role, showing how to make one', async () => {
    const run = await shlambda([
      'deploy',
      '--function-name',
      'echo',
      '--code',
      ECHO,
      '--handler',
      'function.handler',
    ]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('needs an execution role (--role ARN)');
    expect(run.stderr).toContain('aws iam create-role --role-name shlambda-lambda');
    expect(run.stderr).toContain('arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole');
  });

  it('deploys the echo with the remembered layer and invokes it', async () => {
    const deploy = await shlambda([
      'deploy',
      '--function-name',
      'echo',
      '--code',
      ECHO,
      '--handler',
      'function.handler',
      '--role',
      ROLE,
    ]);
    expect(deploy.stderr).toContain('creating echo (x86_64) in us-east-1');
    expect(deploy.code).toBe(0);
    expect(deploy.stdout).toContain('arn:aws:lambda:us-east-1:000000000000:function:echo');
    expect(deploy.stdout).toContain('State Active  LastUpdateStatus Successful');

    const invoke = await shlambda(['invoke', '--function-name', 'echo', '--payload', '{"hello":"world"}']);
    expect(invoke.stderr).toBe('');
    expect(invoke.code).toBe(0);
    expect(invoke.stdout).toBe('{"hello":"world"}');
  });

  it('updates the code of an existing function: the new code answers', async () => {
    const code = writeCode({
      'function.sh': 'handler() { echo "updated log line" >&2; printf \'{"v":2}\'; }\n',
    });
    const deploy = await shlambda([
      'deploy',
      '--function-name',
      'echo',
      '--code',
      code,
      '--handler',
      'function.handler',
      '--layer',
      layerArn,
      '--json',
    ]);
    expect(deploy.code).toBe(0);
    expect(JSON.parse(deploy.stdout)).toMatchObject({
      created: false,
      state: 'Active',
      lastUpdateStatus: 'Successful',
    });

    const invoke = await shlambda(['invoke', '--function-name', 'echo', '--log']);
    expect(invoke.code).toBe(0);
    expect(invoke.stdout).toBe('{"v":2}');
    expect(invoke.stderr).toContain('updated log line');
  });

  it('moves a function made on another runtime to provided.al2023 and keeps its other layers', async () => {
    const lambda = new LambdaClient({
      endpoint: api.url,
      region: 'us-east-1',
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      maxAttempts: 1,
    });
    const extra = await lambda.send(
      new PublishLayerVersionCommand({
        LayerName: 'php-bin',
        Content: { ZipFile: fs.readFileSync(inject('layerZip')) },
      }),
    );
    await lambda.send(
      new UpdateFunctionConfigurationCommand({
        FunctionName: 'echo',
        Runtime: 'python3.12',
        Layers: [extra.LayerVersionArn ?? '', layerArn],
      }),
    );
    await waitUntilFunctionUpdatedV2({ client: lambda, maxWaitTime: 30 }, { FunctionName: 'echo' });

    const deploy = await shlambda([
      'deploy',
      '--function-name',
      'echo',
      '--code',
      ECHO,
      '--handler',
      'function.handler',
    ]);
    expect(deploy.code).toBe(0);
    expect(deploy.stderr).toContain("changing echo's runtime from python3.12 to provided.al2023");
    const config = await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: 'echo' }));
    expect(config.Runtime).toBe('provided.al2023');
    expect(config.Layers?.map((layer) => layer.Arn)).toEqual([extra.LayerVersionArn, layerArn]);
    expect((await shlambda(['invoke', '--function-name', 'echo', '--payload', '{"a":1}'])).stdout).toBe(
      '{"a":1}',
    );
    lambda.destroy();
  });

  it('shows a function error with its type and exits 1', async () => {
    const code = writeCode({ 'function.sh': 'handler() { echo "bad input" >&2; return 3; }\n' });
    const deploy = await shlambda([
      'deploy',
      '--function-name',
      'failing',
      '--code',
      code,
      '--handler',
      'function.handler',
      '--role',
      ROLE,
    ]);
    expect(deploy.code).toBe(0);
    const invoke = await shlambda(['invoke', '--function-name', 'failing']);
    expect(invoke.code).toBe(1);
    expect(invoke.stdout).toBe('');
    expect(invoke.stderr).toMatch(/shlambda invoke: failing failed \(Unhandled\): \w+\.\w+: /);
  });

  it("says when the code's own bootstrap runs instead of the layer's", async () => {
    const code = writeCode({
      bootstrap: { text: '#!/bin/sh\nexit 0\n', mode: 0o755 },
      'function.sh': 'handler() { :; }\n',
    });
    const run = await shlambda([
      'local',
      '--code',
      code,
      '--handler',
      'function.handler',
      '--layer',
      inject('layerZip'),
      '--sandbox',
      'none',
    ]);
    fs.rmSync(code, { recursive: true, force: true });
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain(`${path.join(code, 'bootstrap')} runs instead of the layer's bootstrap`);
  });

  it('refuses a local event that is not JSON before building anything, as Lambda would refuse it', async () => {
    const run = await shlambda([
      'local',
      '--code',
      ECHO,
      '--handler',
      'function.handler',
      '--event',
      'hello',
    ]);
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain(`--event must be JSON (Lambda's Invoke refuses anything else), got "hello"`);
  });

  it('says an unknown function is unknown', async () => {
    const run = await shlambda(['invoke', '--function-name', 'nope']);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('no function nope in us-east-1');
  });

  it.each([
    ['a malformed layer ARN', 'arn:aws:lambda:us-east-1:000000000000:layer:shlambda', /is malformed/],
    [
      'a layer from another region',
      'arn:aws:lambda:eu-west-1:000000000000:layer:shlambda:1',
      /is in eu-west-1, but the function is in us-east-1/,
    ],
  ])('refuses %s before any call', async (_name, arn, message) => {
    const run = await shlambda(
      [
        'deploy',
        '--function-name',
        'other',
        '--code',
        ECHO,
        '--handler',
        'function.handler',
        '--role',
        ROLE,
        '--layer',
        arn,
      ],
      // Nothing listens here: a refusal that made a call would fail differently.
      { ...awsEnv(), AWS_ENDPOINT_URL: 'http://127.0.0.1:9' },
    );
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(message);
    expect(run.stderr).toContain(arn);
  });

  it('refuses a layer published for another architecture', async () => {
    const publish = await shlambda([
      'publish',
      '--zip',
      inject('layerZip'),
      '--arch',
      'arm64',
      '--layer-name',
      'arm',
      '--json',
    ]);
    expect(publish.code).toBe(0);
    const armArn: string = JSON.parse(publish.stdout).layers[0].layerVersionArn;
    const run = await shlambda([
      'deploy',
      '--function-name',
      'other',
      '--code',
      ECHO,
      '--handler',
      'function.handler',
      '--role',
      ROLE,
      '--layer',
      armArn,
      '--arch',
      'x86_64',
    ]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`layer ${armArn} was published for arm64, but the function is x86_64`);
    expect((await shlambda(['destroy', '--layer-name', 'arm', '--all-versions'])).code).toBe(0);
  });

  it('says how to configure credentials when there are none', async () => {
    const { AWS_ACCESS_KEY_ID: _, AWS_SECRET_ACCESS_KEY: __, ...env } = awsEnv();
    const run = await shlambda(['layers'], { ...env, AWS_EC2_METADATA_DISABLED: 'true' });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('no AWS credentials found: run `aws configure`');
  });

  it('asks for a region when none is set', async () => {
    const { AWS_REGION: _, ...env } = awsEnv();
    const run = await shlambda(['layers'], env);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('no AWS region: set --region or AWS_REGION');
  });

  it('destroys the functions and the layer versions, those publish --arch all names per architecture too', async () => {
    // What 'publish --arch all' makes for arm64 (this machine builds only the x86_64 zip for the tests).
    const arm = await shlambda([
      'publish',
      '--zip',
      inject('layerZip'),
      '--arch',
      'arm64',
      '--layer-name',
      'shlambda-arm64',
    ]);
    expect(arm.code).toBe(0);
    const listed = await shlambda(['layers']);
    expect(listed.stdout).toMatch(/^shlambda-arm64\s+1\s+arm64\s/m);
    expect(listed.stdout).toMatch(/^shlambda\s+\d+\s+x86_64\s/m);

    const run = await shlambda(['destroy', '--function-name', 'echo', '--all-versions']);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('deleted layer version shlambda-arm64:1 in us-east-1');
    expect(run.stdout).toContain('deleted function echo in us-east-1');
    expect(run.stdout).toContain(`deleted layer version shlambda:${layerArn.split(':').pop()}`);
    expect((await shlambda(['invoke', '--function-name', 'echo'])).stderr).toContain(
      'no function echo in us-east-1',
    );
    expect((await shlambda(['destroy', '--function-name', 'failing', '--json'])).stdout).toContain(
      '"deletedFunction":"failing"',
    );
    const state = JSON.parse(fs.readFileSync(path.join(work, '.shlambda', 'state.json'), 'utf8'));
    expect(state.layers['us-east-1']).toEqual({});
  });
});

describe('shlambda publish --s3-bucket, against the local Lambda API and its S3', () => {
  it('uploads the zip with PutObject, makes the layer from the object, and a function runs on it', async () => {
    const run = await shlambda([
      'publish',
      '--zip',
      inject('layerZip'),
      '--layer-name',
      'shlambda-s3',
      '--s3-bucket',
      'my-layers',
      '--json',
    ]);
    expect(run.stderr).not.toMatch(/error/i);
    expect(run.code).toBe(0);
    // The SDK's S3 client sent it to the same endpoint (AWS_ENDPOINT_URL), which checked its SHA-256
    // and CRC32 and kept it byte for byte.
    const objects = path.join(work, 'data', 's3', 'my-layers');
    const [stored] = fs.readdirSync(objects);
    expect(
      fs.readFileSync(path.join(objects, stored ?? '')).equals(fs.readFileSync(inject('layerZip'))),
    ).toBe(true);
    const layer = JSON.parse(run.stdout).layers[0].layerVersionArn;
    expect(layer).toMatch(/:layer:shlambda-s3:1$/);

    const deploy = await shlambda([
      'deploy',
      '--function-name',
      'echo-s3',
      '--code',
      ECHO,
      '--handler',
      'function.handler',
      '--role',
      ROLE,
    ]);
    expect(deploy.code).toBe(0);
    const invoke = await shlambda(['invoke', '--function-name', 'echo-s3', '--payload', '{"via":"s3"}']);
    expect(invoke.stdout).toBe('{"via":"s3"}');
  });
});

describe('shlambda local serve', () => {
  it('prints the URL and the export line, answers, and stops cleanly on SIGTERM', async () => {
    const child = spawn(process.execPath, [cli, 'local', 'serve', '--port', '0', '--data', 'served'], {
      cwd: work,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home },
    });
    let stdout = '';
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (chunk: Buffer) => {
        stdout += chunk;
        const match = /export AWS_ENDPOINT_URL=(http:\/\/127\.0\.0\.1:\d+)/.exec(stdout);
        if (match?.[1]) resolve(match[1]);
      });
      child.on('close', () => reject(new Error(`local serve exited early: ${stdout}`)));
    });
    const layers = await shlambda(['layers'], { ...awsEnv(), AWS_ENDPOINT_URL: url });
    expect(layers.stdout).toContain(
      'no versions of layer shlambda, shlambda-x86_64, shlambda-arm64 in us-east-1',
    );
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });

  it('says a port in use is in use, and how to pick another', async () => {
    const taken = await startLocalLambdaApi({ port: 0, dataDir: path.join(work, 'taken'), sandbox: 'none' });
    const port = new URL(taken.url).port;
    try {
      const run = await shlambda(['local', 'serve', '--port', port, '--data', 'second']);
      expect(run.code).toBe(1);
      expect(run.stderr).toContain(`port ${port} on 127.0.0.1 is in use`);
      expect(run.stderr).toContain('pick another with --port');
    } finally {
      await taken.close();
    }
  });
});
