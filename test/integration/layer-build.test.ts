/** Builds the real layer zips and checks what Lambda and a user would see of them: size, modes, determinism, a running node, and a bootstrap that reports a node that cannot start. */

import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, cp, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Entry, open as openZip, type ZipFile } from 'yauzl';
import { type BuildResult, buildLayers, MAX_LAYER_ZIP_BYTES } from '../../scripts/build-layer.ts';
import { writeZip } from '../../scripts/deterministic-zip.ts';
import { NODE_VERSION } from '../../scripts/node-binary.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const REAL_ENTRY = join(ROOT, 'runtime', 'main.ts');
const INIT_ERROR = '/2018-06-01/runtime/init/error';

interface ZipItem {
  name: string;
  mode: number;
  data: Buffer;
  entry: Entry;
}

/** Reads every entry of a zip, in stored order, with its Unix mode and content. */
function readZip(path: string): Promise<ZipItem[]> {
  return new Promise((resolve, reject) => {
    openZip(path, { lazyEntries: true }, (openError, zip?: ZipFile) => {
      if (openError || !zip) return reject(openError);
      const items: ZipItem[] = [];
      zip.on('error', reject);
      zip.on('end', () => resolve(items));
      zip.on('entry', (entry: Entry) => {
        zip.openReadStream(entry, (streamError, stream) => {
          if (streamError || !stream) return reject(streamError);
          const chunks: Buffer[] = [];
          stream.on('data', (chunk: Buffer) => chunks.push(chunk));
          stream.on('error', reject);
          stream.on('end', () => {
            items.push({
              name: entry.fileName,
              mode: entry.externalFileAttributes >>> 16,
              data: Buffer.concat(chunks),
              entry,
            });
            zip.readEntry();
          });
        });
      });
      zip.readEntry();
    });
  });
}

/** Unpacks a zip as Lambda does into /opt, keeping each file's Unix permissions. */
async function unpack(zipPath: string, dir: string): Promise<void> {
  for (const item of await readZip(zipPath)) {
    const path = join(dir, item.name);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, item.data);
    await chmod(path, item.mode & 0o777);
  }
}

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

function run(
  command: string,
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<Ran> {
  return new Promise((resolve) => {
    execFile(command, args, { ...options, encoding: 'utf8' }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

interface Recorded {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** A stand-in Runtime API on 127.0.0.1 that answers 202 and records every request. */
async function startRecorder(): Promise<{
  address: string;
  requests: Recorded[];
  close: () => Promise<void>;
}> {
  const requests: Recorded[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      requests.push({
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      });
      res.writeHead(202, { 'content-type': 'application/json' }).end('{"status":"OK"}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    address: `127.0.0.1:${port}`,
    requests,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

const sha256 = async (path: string) =>
  createHash('sha256')
    .update(await readFile(path))
    .digest('hex');

describe('layer build', () => {
  let work: string;
  let entry: string;
  let layerDir: string;
  let result: BuildResult;
  const logLines: string[] = [];
  const zipPath = (variant: string) => {
    const zip = result.zips.find((candidate) => candidate.variant === variant);
    if (!zip) throw new Error(`no ${variant} zip was built`);
    return zip.path;
  };

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'shlambda-layer-build-'));
    // Both builds read a snapshot of the sources, so that files being edited meanwhile cannot make
    // the rebuild differ for reasons other than the build itself.
    layerDir = join(work, 'src', 'layer');
    await cp(join(ROOT, 'layer'), layerDir, { recursive: true });
    entry = join(work, 'src', 'runtime', 'main.ts');
    if (existsSync(REAL_ENTRY)) {
      await cp(join(ROOT, 'runtime'), dirname(entry), { recursive: true });
    } else {
      // A stand-in keeps this test about the layer while the runtime's entry point is being written.
      await mkdir(dirname(entry), { recursive: true });
      await writeFile(entry, "console.log('shlambda runtime stand-in');\n");
    }
    result = await buildLayers({
      outDir: join(work, 'dist'),
      arches: ['x86_64', 'arm64'],
      entry,
      layerDir,
      log: (line) => logLines.push(line),
    });
  });

  afterAll(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('writes the x86_64, arm64 and slim zips, each within 45 MiB', async () => {
    expect(result.zips.map((zip) => zip.variant).sort()).toEqual(['arm64', 'slim', 'x86_64']);
    for (const zip of result.zips) {
      expect(zip.path).toBe(join(work, 'dist', `layer-${zip.variant}.zip`));
      const size = (await stat(zip.path)).size;
      expect(size).toBe(zip.bytes);
      expect(size).toBeLessThanOrEqual(MAX_LAYER_ZIP_BYTES);
      expect(await sha256(zip.path)).toBe(zip.sha256);
    }
  });

  it("logs each zip's size and sha256, and the glibc the node binary needs", () => {
    for (const zip of result.zips) {
      expect(logLines.some((line) => line.includes(zip.path) && line.includes(zip.sha256))).toBe(true);
    }
    const glibcLines = logLines.filter((line) => line.includes('bin/node') && line.includes('GLIBC <='));
    expect(glibcLines).toHaveLength(2);
    for (const zip of result.zips.filter((candidate) => candidate.node)) {
      expect(zip.node?.needs?.maxGlibc).toBeDefined();
      expect(zip.node?.needs?.needed).toContain('libc.so.6');
    }
  });

  it('rebuilds byte-identical zips, also in another time zone', async () => {
    const savedTz = process.env.TZ;
    // Auckland is on daylight-saving time in January, UTC+13: far from wherever the first build ran.
    process.env.TZ = savedTz === 'Pacific/Auckland' ? 'America/Los_Angeles' : 'Pacific/Auckland';
    try {
      const again = await buildLayers({
        outDir: join(work, 'dist-again'),
        arches: ['x86_64', 'arm64'],
        entry,
        layerDir,
        log: () => {},
      });
      const digests = (build: BuildResult) =>
        Object.fromEntries(build.zips.map((zip) => [zip.variant, zip.sha256]));
      expect(digests(again)).toEqual(digests(result));
    } finally {
      if (savedTz === undefined) delete process.env.TZ;
      else process.env.TZ = savedTz;
    }
  }, 300_000);

  it('stores sorted entries with a fixed DOS timestamp and Unix modes: executables 0755, the rest 0644', async () => {
    for (const zip of result.zips) {
      const items = await readZip(zip.path);
      const names = items.map((item) => item.name);
      expect(names).toEqual([...names].sort());
      for (const item of items) {
        expect(item.mode & 0o170000, item.name).toBe(0o100000);
        const executable = ['bootstrap', 'bin/node', 'shlambda/exec-wrapper'].includes(item.name);
        const shebang = item.data.subarray(0, 2).toString() === '#!';
        expect(item.mode & 0o7777, item.name).toBe(executable || shebang ? 0o755 : 0o644);
        // 2000-01-01 12:00:00 in DOS fields, with no extra field that could carry a zone-dependent time.
        expect(item.entry.lastModFileDate).toBe(((2000 - 1980) << 9) | (1 << 5) | 1);
        expect(item.entry.lastModFileTime).toBe(12 << 11);
        expect(item.entry.extraFields).toEqual([]);
      }
      const expected =
        zip.variant === 'slim'
          ? ['shlambda/exec-wrapper', 'shlambda/runtime.cjs']
          : ['bin/NODE-LICENSE', 'bin/node', 'bootstrap', 'shlambda/exec-wrapper', 'shlambda/runtime.cjs'];
      expect(names).toEqual(expect.arrayContaining(expected));
      if (zip.variant === 'slim') {
        expect(names).not.toContain('bootstrap');
        expect(names.some((name) => name.startsWith('bin/'))).toBe(false);
      }
    }
  });

  it('ships a bootstrap that is LF-only POSIX sh', async () => {
    const bootstrap = (await readZip(zipPath('x86_64'))).find((item) => item.name === 'bootstrap');
    const text = bootstrap?.data.toString('utf8') ?? '';
    expect(text.startsWith('#!/bin/sh\n')).toBe(true);
    expect(text).not.toContain('\r');
  });

  it('ships an x86_64 bin/node that runs from wherever the layer is unpacked', async () => {
    const dir = join(work, 'unpacked-node');
    await unpack(zipPath('x86_64'), dir);
    const ran = await run(join(dir, 'bin', 'node'), ['--version'], { cwd: tmpdir() });
    expect(ran).toMatchObject({ code: 0, stdout: `v${NODE_VERSION}\n` });
  });

  describe('bootstrap', () => {
    let api: Awaited<ReturnType<typeof startRecorder>>;
    beforeAll(async () => {
      api = await startRecorder();
    });
    afterAll(async () => {
      await api?.close();
    });

    /** Unpacks the x86_64 layer with `bin/node` replaced by a shell script. */
    async function layerWithNode(name: string, script: string): Promise<string> {
      const dir = join(work, name);
      await unpack(zipPath('x86_64'), dir);
      await writeFile(join(dir, 'bin', 'node'), script);
      await chmod(join(dir, 'bin', 'node'), 0o755);
      return dir;
    }

    it('posts Runtime.NodeStartFailed to /init/error when node cannot load, and exits with its status', async () => {
      const dir = await layerWithNode(
        'unpacked-broken-node',
        '#!/bin/sh\necho "node: error while loading shared libraries: libstdc++.so.6: cannot open shared object file" >&2\nexit 127\n',
      );
      api.requests.length = 0;
      const ran = await run(join(dir, 'bootstrap'), [], {
        cwd: tmpdir(),
        env: { PATH: process.env.PATH, AWS_LAMBDA_RUNTIME_API: api.address },
      });
      expect(ran.code).toBe(127);
      expect(ran.stderr).toContain('Runtime.NodeStartFailed');
      expect(ran.stderr).toContain('libstdc++.so.6');
      expect(api.requests).toHaveLength(1);
      const [post] = api.requests;
      expect(post).toMatchObject({ method: 'POST', url: INIT_ERROR });
      expect(post?.headers['lambda-runtime-function-error-type']).toBe('Runtime.NodeStartFailed');
      expect(post?.headers['content-type']).toBe('application/vnd.aws.lambda.error+json');
      const body = JSON.parse(post?.body ?? '');
      expect(body).toMatchObject({ errorType: 'Runtime.NodeStartFailed', stackTrace: [] });
      expect(body.errorMessage).toContain('libstdc++.so.6');
    });

    it('passes any other exit status of node through without reporting it as a start failure', async () => {
      const dir = await layerWithNode('unpacked-exiting-node', '#!/bin/sh\nexit 3\n');
      api.requests.length = 0;
      const ran = await run(join(dir, 'bootstrap'), [], {
        cwd: tmpdir(),
        env: { PATH: process.env.PATH, AWS_LAMBDA_RUNTIME_API: api.address },
      });
      expect(ran.code).toBe(3);
      expect(api.requests).toEqual([]);
    });

    it('runs bin/node, with its memory bound, on the bundled runtime of its own directory', async () => {
      const dir = await layerWithNode('unpacked-echo-node', '#!/bin/sh\nprintf "%s\\n" "$0" "$@"\n');
      const ran = await run(join(dir, 'bootstrap'), [], { cwd: tmpdir(), env: { PATH: process.env.PATH } });
      expect(ran).toMatchObject({
        code: 0,
        stdout: `${join(dir, 'bin', 'node')}\n--max-semi-space-size=1\n${join(dir, 'shlambda', 'runtime.cjs')}\n`,
      });
    });
  });

  it("slim exec-wrapper runs PATH's node on its runtime.cjs and ignores the managed bootstrap arguments", async () => {
    const dir = join(work, 'unpacked-slim');
    await unpack(zipPath('slim'), dir);
    await writeFile(
      join(dir, 'shlambda', 'runtime.cjs'),
      'console.log(JSON.stringify(process.argv.slice(1)));\n',
    );
    const ran = await run(join(dir, 'shlambda', 'exec-wrapper'), ['/var/runtime/bootstrap', '--flag'], {
      cwd: tmpdir(),
    });
    expect(ran.code).toBe(0);
    expect(JSON.parse(ran.stdout)).toEqual([join(dir, 'shlambda', 'runtime.cjs')]);
  });
});

describe('writeZip', () => {
  it('gives the same bytes in any time zone and for any input order', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'shlambda-zip-'));
    const savedTz = process.env.TZ;
    try {
      const entries = [
        { name: 'b.txt', data: Buffer.from('b'), mode: 0o644 },
        { name: 'a/run', data: Buffer.from('#!/bin/sh\n'), mode: 0o755 },
      ];
      process.env.TZ = 'UTC';
      const first = await writeZip(entries, join(dir, 'first.zip'));
      process.env.TZ = 'Asia/Kathmandu';
      const second = await writeZip([...entries].reverse(), join(dir, 'second.zip'));
      expect(second).toEqual(first);
      expect(await readFile(join(dir, 'second.zip'))).toEqual(await readFile(join(dir, 'first.zip')));
    } finally {
      if (savedTz === undefined) delete process.env.TZ;
      else process.env.TZ = savedTz;
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses names that would unpack outside the target directory, and duplicates', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'shlambda-zip-'));
    try {
      for (const name of ['../evil', '/abs', 'a//b', 'a\\b', 'a/./b']) {
        await expect(
          writeZip([{ name, data: Buffer.from(''), mode: 0o644 }], join(dir, 'x.zip')),
        ).rejects.toThrow(/relative path/);
      }
      const twice = [
        { name: 'same', data: Buffer.from('1'), mode: 0o644 },
        { name: 'same', data: Buffer.from('2'), mode: 0o644 },
      ];
      await expect(writeZip(twice, join(dir, 'x.zip'))).rejects.toThrow(/listed twice/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
