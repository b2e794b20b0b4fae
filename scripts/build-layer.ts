// Builds the layer zips: the runtime bundle, the files under layer/, and per architecture the Node.js binary.
import { mkdir, readdir, readFile, stat } from 'node:fs/promises';
import { join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { writeZip, type ZipEntry } from './deterministic-zip.ts';
import {
  assertGlibcAtMost,
  type BinaryNeeds,
  describeBinaryNeeds,
  getNodeBinary,
  type LayerArch,
  readBinaryNeeds,
} from './node-binary.ts';

/** The most a layer zip may weigh: under Lambda's 50 MB direct upload, with room for the runtime to grow. */
export const MAX_LAYER_ZIP_BYTES = 45 * 1024 * 1024;

/** Both scripts/ (run from source) and bin/ (the bundled CLI) sit one level below the project root. */
const PROJECT_ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Layer files that must be executable even without a shebang check. */
const EXECUTABLES = new Set(['bootstrap', 'shlambda/exec-wrapper']);

/** Path of the bundle inside the layer (`/opt/shlambda/runtime.cjs` once deployed). */
const BUNDLE_NAME = 'shlambda/runtime.cjs';

/** Options for {@link buildLayers}. */
export interface BuildLayersOptions {
  /** Where the zips go; default `dist` under the current directory. */
  outDir?: string;
  /** Architectures to build a full layer for; default both. The slim layer is always built. */
  arches?: LayerArch[];
  log?: (line: string) => void;
  /** Runtime entry point to bundle; default `runtime/main.ts`. */
  entry?: string;
  /** Directory whose files go into the layer beside the bundle; default `layer/`. */
  layerDir?: string;
  /** Cache for Node.js downloads; default as in `defaultCacheDir()`. */
  cacheDir?: string;
}

/** One zip written by {@link buildLayers}. */
export interface BuiltZip {
  /** `x86_64` or `arm64` for a full layer; `slim` for the layer without Node.js. */
  variant: LayerArch | 'slim';
  /** Absolute path. */
  path: string;
  bytes: number;
  /** Hex sha256 of the zip (Lambda's `CodeSha256` is the base64 of the same digest). */
  sha256: string;
  /** The Node.js binary inside, for full layers. */
  node?: { version: string; stripped: boolean; needs: BinaryNeeds | null };
}

/** What {@link buildLayers} produced. */
export interface BuildResult {
  zips: BuiltZip[];
}

/**
 * Builds `layer-<arch>.zip` for each architecture (bootstrap, `bin/node`, `bin/NODE-LICENSE`, the
 * bundled runtime and the shims) and `layer-slim.zip` (the runtime and shims only, for a managed
 * `nodejs` runtime with `AWS_LAMBDA_EXEC_WRAPPER=/opt/shlambda/exec-wrapper`), and prints path, size,
 * sha256 and the binary's glibc needs of each. The zips are deterministic: the same inputs give the same
 * bytes. Throws when a zip exceeds {@link MAX_LAYER_ZIP_BYTES} or Node.js needs a newer glibc than
 * provided.al2023 has.
 */
export async function buildLayers(options: BuildLayersOptions = {}): Promise<BuildResult> {
  const log = options.log ?? ((line: string) => console.log(line));
  const outDir = resolve(options.outDir ?? 'dist');
  const arches = options.arches ?? ['x86_64', 'arm64'];
  const layerDir = resolve(options.layerDir ?? join(PROJECT_ROOT, 'layer'));
  const entry = resolve(options.entry ?? join(PROJECT_ROOT, 'runtime', 'main.ts'));

  const [bundle, layerFiles] = await Promise.all([bundleRuntime(entry), collectLayerFiles(layerDir)]);
  if (layerFiles.some((file) => file.name === BUNDLE_NAME)) {
    throw new Error(
      `${join(layerDir, BUNDLE_NAME)} would be overwritten by the bundle: remove it from layer/`,
    );
  }
  if (!layerFiles.some((file) => file.name === 'bootstrap')) {
    throw new Error(`${join(layerDir, 'bootstrap')} is missing`);
  }
  const common: ZipEntry[] = [...layerFiles, { name: BUNDLE_NAME, data: bundle, mode: 0o644 }];

  // One binary after the other: each may download 50 MB and strip 120 MB, which gains nothing in parallel.
  const nodes = [];
  for (const arch of arches) {
    const node = await getNodeBinary(arch, { cacheDir: options.cacheDir, log });
    const needs = await readBinaryNeeds(node.path, arch);
    if (needs) assertGlibcAtMost(needs, `node ${node.version} ${arch}`);
    nodes.push({ arch, node, needs });
  }

  await mkdir(outDir, { recursive: true });
  const slimEntries = common.filter((file) => file.name !== 'bootstrap');
  const jobs: Promise<BuiltZip>[] = nodes.map(async ({ arch, node, needs }) => {
    const path = join(outDir, `layer-${arch}.zip`);
    const entries: ZipEntry[] = [
      ...common,
      { name: 'bin/node', data: node.path, mode: 0o755 },
      { name: 'bin/NODE-LICENSE', data: node.licensePath, mode: 0o644 },
    ];
    const written = await writeZip(entries, path);
    return {
      variant: arch,
      path,
      ...written,
      node: { version: node.version, stripped: node.stripped, needs },
    };
  });
  jobs.push(
    writeZip(slimEntries, join(outDir, 'layer-slim.zip')).then((written) => ({
      variant: 'slim',
      path: join(outDir, 'layer-slim.zip'),
      ...written,
    })),
  );
  // Deflating runs on libuv's thread pool, so the zips compress side by side.
  const zips = await Promise.all(jobs);

  for (const zip of zips) {
    log(
      `${zip.path}: ${zip.bytes} bytes (${(zip.bytes / 1024 / 1024).toFixed(2)} MiB), sha256 ${zip.sha256}`,
    );
    if (zip.node) {
      const what = zip.node.needs
        ? describeBinaryNeeds(zip.node.needs)
        : 'glibc needs not checked: no objdump on PATH (install binutils)';
      log(`  bin/node ${zip.node.version}${zip.node.stripped ? ', stripped' : ', NOT stripped'}: ${what}`);
    }
  }
  const tooBig = zips.filter((zip) => zip.bytes > MAX_LAYER_ZIP_BYTES);
  if (tooBig.length > 0) {
    const list = tooBig.map((zip) => `${zip.path} (${(zip.bytes / 1024 / 1024).toFixed(2)} MiB)`).join(', ');
    throw new Error(
      `Layer zip over the 45 MiB budget: ${list}. Is a strip tool for that architecture on PATH?`,
    );
  }
  return { zips };
}

/** Bundles the runtime into one CommonJS file. */
async function bundleRuntime(entry: string): Promise<Buffer> {
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    platform: 'node',
    // CommonJS, not ESM: importing a builtin as ESM builds a facade that reads every export, and
    // node:http's lazy exports then load undici: 35-40 ms of a cold start (measured with --cpu-prof).
    format: 'cjs',
    target: 'node20',
    // Readable stack traces from Lambda logs without a source map: --enable-source-maps would cost
    // start-up time, and the unminified bundle is small next to bin/node.
    minify: false,
    sourcemap: false,
    legalComments: 'none',
    outfile: BUNDLE_NAME,
    // esbuild writes each module's path relative to this into the bundle; a fixed base keeps the
    // bundle, and so the zip, the same whichever directory the build runs from.
    absWorkingDir: PROJECT_ROOT,
    write: false,
    logLevel: 'silent',
  }).catch((error: unknown) => {
    throw new Error(`Could not bundle ${entry}: ${(error as Error).message}`);
  });
  const [output] = result.outputFiles;
  if (!output) throw new Error(`esbuild produced no output for ${entry}`);
  return Buffer.from(output.contents);
}

/**
 * Reads every file under `dir` (dotfiles aside) as a zip entry named by its relative path. Executable:
 * {@link EXECUTABLES} and any file with a shebang; the rest 0644. Refuses CRLF in a first line, since
 * a shebang ending in CR is an invalid entry point for Lambda, and a shim with one is a bad checkout.
 */
async function collectLayerFiles(dir: string): Promise<ZipEntry[]> {
  const entries: ZipEntry[] = [];
  const walk = async (current: string): Promise<void> => {
    for (const item of await readdir(current, { withFileTypes: true })) {
      if (item.name.startsWith('.')) continue;
      const path = join(current, item.name);
      // stat follows symlinks: the zip gets real files, since how Lambda treats zipped links is unconfirmed.
      const info = await stat(path);
      if (info.isDirectory()) {
        await walk(path);
        continue;
      }
      if (!info.isFile()) continue;
      const name = relative(dir, path).split(sep).join('/');
      const data = await readFile(path);
      const firstLineEnd = data.indexOf(0x0a);
      if (firstLineEnd > 0 && data[firstLineEnd - 1] === 0x0d) {
        throw new Error(`${path} has a CRLF line ending in its first line: convert it to LF`);
      }
      const shebang = data[0] === 0x23 && data[1] === 0x21;
      if (EXECUTABLES.has(name) && !shebang) throw new Error(`${path} must start with a #! line`);
      entries.push({ name, data, mode: EXECUTABLES.has(name) || shebang ? 0o755 : 0o644 });
    }
  };
  await walk(dir);
  return entries;
}
