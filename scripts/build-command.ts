/** `shlambda build`: builds the layer zips. */

import path from 'node:path';
import { parseArgs } from 'node:util';
import { buildLayers } from './build-layer.ts';
import { ARCHITECTURES, type Architecture, PROJECT_ROOT, parseArchitecture } from './layer-paths.ts';

const HELP = `Usage: shlambda build [--arch x86_64|arm64|all] [--out DIR]

Builds dist/layer-x86_64.zip and dist/layer-arm64.zip (runtime + Node.js, for provided.al2023) and
dist/layer-slim.zip (runtime only, for a managed nodejs runtime with AWS_LAMBDA_EXEC_WRAPPER).`;

export async function runBuildCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { arch: { type: 'string', default: 'all' }, out: { type: 'string' }, help: { type: 'boolean' } },
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const arches: Architecture[] =
    values.arch === 'all' ? [...ARCHITECTURES] : [parseArchitecture(values.arch)];
  await buildLayers({ outDir: values.out ?? path.join(PROJECT_ROOT, 'dist'), arches });
  return 0;
}

/** Builds the layer for one architecture when it is missing or older than its sources. */
export async function ensureLayerBuilt(
  arch: Architecture,
  zip: string,
  log: (line: string) => void,
): Promise<void> {
  const { layerIsStale } = await import('./layer-paths.ts');
  if (!layerIsStale(zip)) return;
  log(
    `shlambda: building ${path.relative(process.cwd(), zip) || zip} (first run fetches Node.js through npm)`,
  );
  await buildLayers({ outDir: path.dirname(zip), arches: [arch], log });
}
