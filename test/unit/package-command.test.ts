/** The function zip (entries, modes, determinism, refusals), layer ARN checks, the state file and option parsing. */

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import yauzl from 'yauzl';
import { loadAwsSettings } from '../../scripts/aws-clients.ts';
import { parseDeployOptions } from '../../scripts/deploy-command.ts';
import { parseEnvPairs } from '../../scripts/env-pairs.ts';
import { packageFunction } from '../../scripts/function-zip.ts';
import { checkFunctionLayers, parseLayerVersionArn } from '../../scripts/layer-arn.ts';
import { parsePublishOptions } from '../../scripts/publish-command.ts';
import {
  forgetLayers,
  readState,
  rememberedArch,
  rememberedLayer,
  rememberLayer,
  statePath,
} from '../../scripts/shlambda-state.ts';
import { type CodeFiles, writeCode } from '../helpers/function-dir.ts';

const temps: string[] = [];
afterEach(() => {
  for (const dir of temps.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shlambda-package-test-'));
  temps.push(dir);
  return dir;
}

function code(files: CodeFiles): string {
  const dir = writeCode(files);
  temps.push(dir);
  return dir;
}

/** name -> Unix permission bits, as Lambda will unpack them. */
async function zipModes(zipPath: string): Promise<Record<string, number>> {
  const zip = await yauzl.openPromise(zipPath, { lazyEntries: true });
  const modes: Record<string, number> = {};
  for await (const entry of zip.eachEntry())
    modes[entry.fileName] = (entry.externalFileAttributes >>> 16) & 0o777;
  return modes;
}

describe('packageFunction', () => {
  it('puts a directory’s files under relative names and a file at the root, keeping executable bits', async () => {
    const dir = code({
      'function.sh': 'handler() { echo hi; }\n',
      'lib/util.sh': 'util() { :; }\n',
      'bin/tool': { text: '#!/bin/sh\necho tool\n', mode: 0o755 },
    });
    const extra = code({ count: { text: '#!/bin/bash\necho 1\n', mode: 0o755 } });
    const out = path.join(tempDir(), 'dist', 'function.zip');
    const result = await packageFunction([dir, path.join(extra, 'count')], out);
    expect(await zipModes(out)).toEqual({
      'bin/tool': 0o755,
      count: 0o755,
      'function.sh': 0o644,
      'lib/util.sh': 0o644,
    });
    expect(result.files).toEqual(['bin/tool', 'count', 'function.sh', 'lib/util.sh']);
    expect(result.bytes).toBe(fs.statSync(out).size);
    expect(result.codeSha256).toMatch(/^[A-Za-z0-9+/]{43}=$/);
  });

  it('writes byte-identical zips on two runs', async () => {
    const dir = code({ 'function.sh': 'handler() { :; }\n', 'a/b.txt': 'b' });
    const out = tempDir();
    const first = await packageFunction([dir], path.join(out, 'one.zip'));
    fs.utimesSync(path.join(dir, 'function.sh'), new Date(2020, 1, 1), new Date(2020, 1, 1));
    const second = await packageFunction([dir], path.join(out, 'two.zip'));
    expect(
      fs.readFileSync(path.join(out, 'two.zip')).equals(fs.readFileSync(path.join(out, 'one.zip'))),
    ).toBe(true);
    expect(second.codeSha256).toBe(first.codeSha256);
  });

  it('leaves out the zip it is writing when that lies inside the packaged directory', async () => {
    const dir = code({ 'function.sh': 'handler() { :; }\n' });
    await packageFunction([dir], path.join(dir, 'function.zip'));
    await packageFunction([dir], path.join(dir, 'function.zip'));
    expect(Object.keys(await zipModes(path.join(dir, 'function.zip')))).toEqual(['function.sh']);
  });

  it.each([
    ['no inputs', () => [], /nothing to package/],
    ['an empty directory', () => [tempDir()], /nothing to package: .* holds no files/],
    ['a missing path', () => ['/nonexistent/handler.sh'], /\/nonexistent\/handler.sh: no such file/],
    [
      'a bootstrap',
      () => [code({ bootstrap: { text: '#!/bin/sh\n', mode: 0o755 } })],
      /'bootstrap' at the root of the function zip would replace the shlambda layer's bootstrap/,
    ],
    [
      'a CRLF shebang',
      () => [code({ 'handler.py': '#!/usr/bin/env python3\r\nprint(1)\r\n' })],
      /handler\.py: the shebang line ends in CRLF/,
    ],
  ])('refuses %s', async (_name, inputs, message) => {
    await expect(packageFunction(inputs(), path.join(tempDir(), 'f.zip'))).rejects.toThrow(message);
  });

  it.each([
    [
      'a dangling link (an editor lock file)',
      (dir: string) => fs.symlinkSync('user@host.1234', path.join(dir, '.#function.sh')),
      'is a symbolic link to user@host.1234, which does not exist',
    ],
    [
      'a link to itself',
      (dir: string) => fs.symlinkSync('self', path.join(dir, 'self')),
      'leads back to itself',
    ],
    [
      'a link to a directory it is in',
      (dir: string) => fs.symlinkSync('..', path.join(dir, 'sub', 'up')),
      'a directory it is inside of',
    ],
  ])('refuses %s, naming it', async (_, link, message) => {
    const dir = writeCode({ 'function.sh': 'handler() { :; }\n', 'sub/x.txt': 'x' });
    temps.push(dir);
    link(dir);
    await expect(packageFunction([dir], path.join(tempDir(), 'f.zip'))).rejects.toThrow(message);
  });

  it('accepts CRLF in a file without a shebang', async () => {
    const dir = code({ 'notes.txt': 'a\r\nb\r\n' });
    await expect(packageFunction([dir], path.join(tempDir(), 'f.zip'))).resolves.toMatchObject({
      files: ['notes.txt'],
    });
  });

  it('refuses contents over the unzipped limit before writing anything', async () => {
    const dir = code({ 'big.bin': Buffer.alloc(2048) });
    const out = path.join(tempDir(), 'f.zip');
    await expect(
      packageFunction([dir], out, { maxZipBytes: 1 << 20, maxUnzippedBytes: 1024 }),
    ).rejects.toThrow(/unzipped, over Lambda's 0\.0 MB limit for function and layers together/);
    expect(fs.existsSync(out)).toBe(false);
  });

  it('refuses a zip over the direct upload limit and says to use S3', async () => {
    const dir = code({ 'random.bin': Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 251)) });
    await expect(
      packageFunction([dir], path.join(tempDir(), 'f.zip'), { maxZipBytes: 100, maxUnzippedBytes: 1 << 20 }),
    ).rejects.toThrow(/zipped, over the 0\.0 MB limit of a direct upload: upload it to S3/);
  });
});

describe('layer ARNs', () => {
  const arn = 'arn:aws:lambda:eu-west-1:123456789012:layer:shlambda:7';

  it('parses a layer version ARN', () => {
    expect(parseLayerVersionArn(arn)).toEqual({
      arn,
      partition: 'aws',
      region: 'eu-west-1',
      account: '123456789012',
      name: 'shlambda',
      version: 7,
    });
  });

  it.each([
    'arn:aws:lambda:eu-west-1:123456789012:layer:shlambda',
    'arn:aws:lambda:eu-west-1:123456789012:function:shlambda:7',
    'arn:aws:lambda:eu-west-1:1234:layer:shlambda:7',
    'shlambda:7',
  ])('refuses the malformed %s, naming it', (bad) => {
    expect(() => parseLayerVersionArn(bad)).toThrow(`layer ARN '${bad}' is malformed`);
  });

  it('refuses a layer from another region', () => {
    expect(() => checkFunctionLayers([arn], 'us-east-1', 'x86_64', () => undefined)).toThrow(
      `layer ${arn} is in eu-west-1, but the function is in us-east-1`,
    );
  });

  it('refuses a layer known to be for another architecture', () => {
    expect(() => checkFunctionLayers([arn], 'eu-west-1', 'x86_64', () => 'arm64')).toThrow(
      `layer ${arn} was published for arm64, but the function is x86_64`,
    );
    expect(checkFunctionLayers([arn], 'eu-west-1', 'arm64', () => 'arm64')).toHaveLength(1);
  });
});

describe('state file', () => {
  it('round-trips remembered layers by region and architecture, and forgets deleted ones', () => {
    const file = statePath(tempDir());
    expect(readState(file)).toEqual({ layers: {} });
    const x86 = 'arn:aws:lambda:us-east-1:000000000000:layer:shlambda:1';
    const arm = 'arn:aws:lambda:us-east-1:000000000000:layer:shlambda:2';
    rememberLayer(file, 'us-east-1', 'x86_64', x86);
    rememberLayer(file, 'us-east-1', 'arm64', arm);
    const state = readState(file);
    expect(rememberedLayer(state, 'us-east-1', 'x86_64')).toBe(x86);
    expect(rememberedLayer(state, 'eu-west-1', 'x86_64')).toBeUndefined();
    expect(rememberedArch(state, arm)).toBe('arm64');
    forgetLayers(file, 'us-east-1', ['shlambda:2']);
    expect(readState(file)).toEqual({ layers: { 'us-east-1': { x86_64: x86 } } });
  });

  it('names a corrupt state file', () => {
    const file = statePath(tempDir());
    fs.mkdirSync(path.dirname(file));
    fs.writeFileSync(file, '{not json');
    expect(() => readState(file)).toThrow(`${file} is not valid JSON: fix or delete it`);
  });
});

describe('option parsing', () => {
  it('takes the endpoint from --endpoint-url, then AWS_ENDPOINT_URL_LAMBDA, then AWS_ENDPOINT_URL', () => {
    const env = { AWS_ENDPOINT_URL: 'http://127.0.0.1:1', AWS_ENDPOINT_URL_LAMBDA: 'http://127.0.0.1:2' };
    expect(loadAwsSettings({ 'endpoint-url': 'http://127.0.0.1:3' }, env).lambdaEndpoint).toBe(
      'http://127.0.0.1:3',
    );
    expect(loadAwsSettings({}, env).lambdaEndpoint).toBe('http://127.0.0.1:2');
    expect(loadAwsSettings({}, { AWS_ENDPOINT_URL: 'http://127.0.0.1:1' }).lambdaEndpoint).toBe(
      'http://127.0.0.1:1',
    );
    expect(loadAwsSettings({ region: 'eu-west-1', profile: 'dev' }, {})).toEqual({
      region: 'eu-west-1',
      profile: 'dev',
      lambdaEndpoint: undefined,
      s3Endpoint: undefined,
    });
    expect(() => loadAwsSettings({ 'endpoint-url': 'localhost:9000' }, {})).toThrow(
      /--endpoint-url: 'localhost:9000'/,
    );
  });

  it('sends S3 uploads to AWS_ENDPOINT_URL_S3, else where --endpoint-url sends Lambda, else AWS_ENDPOINT_URL', () => {
    const env = { AWS_ENDPOINT_URL: 'http://127.0.0.1:1' };
    expect(loadAwsSettings({}, { ...env, AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:4' }).s3Endpoint).toBe(
      'http://127.0.0.1:4',
    );
    // Never to real S3 while Lambda is a local one; a remote Lambda endpoint is Lambda's alone.
    expect(loadAwsSettings({ 'endpoint-url': 'http://127.0.0.1:3' }, {}).s3Endpoint).toBe(
      'http://127.0.0.1:3',
    );
    expect(
      loadAwsSettings({ 'endpoint-url': 'https://lambda-fips.us-east-1.amazonaws.com' }, {}).s3Endpoint,
    ).toBeUndefined();
    expect(loadAwsSettings({}, env).s3Endpoint).toBe('http://127.0.0.1:1');
  });

  it('parses publish sharing and architectures', () => {
    expect(parsePublishOptions(['--arch', 'all']).arches).toEqual(['x86_64', 'arm64']);
    expect(parsePublishOptions([]).arches).toEqual(['x86_64']);
    expect(parsePublishOptions(['--public']).sharing).toEqual({
      principal: '*',
      statementId: 'shlambda-public',
    });
    expect(parsePublishOptions(['--organization', 'o-abcdefghij']).sharing).toEqual({
      principal: '*',
      organizationId: 'o-abcdefghij',
      statementId: 'shlambda-org-o-abcdefghij',
    });
    expect(() => parsePublishOptions(['--public', '--principal', '123456789012'])).toThrow(/only one of/);
    expect(() => parsePublishOptions(['--arch', 'all', '--zip', 'x.zip'])).toThrow(
      /--zip holds one architecture/,
    );
    expect(() => parsePublishOptions(['--arch', 'sparc'])).toThrow(/--arch must be x86_64 or arm64/);
  });

  it('parses deploy options', () => {
    const dir = code({ 'function.sh': '' });
    const parsed = parseDeployOptions([
      '--function-name',
      'echo',
      '--code',
      dir,
      '--handler',
      'function.handler',
      '--layer',
      'a',
      '--layer',
      'b',
      '--env',
      'A=1',
      '--env',
      'B=x=y',
      '--timeout',
      '10',
      '--memory',
      '256',
      '--arch',
      'aarch64',
    ]);
    expect(parsed).toMatchObject({
      functionName: 'echo',
      layers: ['a', 'b'],
      env: { A: '1', B: 'x=y' },
      timeout: 10,
      memory: 256,
      arch: 'arm64',
    });
    expect(() => parseDeployOptions(['--code', dir])).toThrow(
      /--function-name, --code and --handler are required/,
    );
    expect(() =>
      parseDeployOptions(['--function-name', 'f', '--code', dir, '--handler', 'h', '--timeout', '0']),
    ).toThrow(/--timeout must be a whole number from 1 to 900/);
    expect(() =>
      parseDeployOptions(['--function-name', 'f', '--code', dir, '--handler', 'h', '--role', 'lambda']),
    ).toThrow(/--role 'lambda' is not an IAM role ARN/);
    expect(() => parseEnvPairs(['=x'])).toThrow('--env =x: expected NAME=value');
  });
});
