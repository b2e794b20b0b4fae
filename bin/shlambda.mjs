#!/usr/bin/env node
// The `shlambda` command: bundles the TypeScript CLI with esbuild (tens of ms, so it is never stale) and runs it.
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
// One level below the root, like scripts/, so paths relative to the module resolve the same way.
const outfile = path.join(root, 'dist', 'cli.mjs');
await build({
  entryPoints: [path.join(root, 'scripts', 'cli.ts')],
  outfile,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  packages: 'external',
  logLevel: 'error',
});
const { main } = await import(pathToFileURL(outfile).href);
process.exitCode = await main(process.argv.slice(2));
