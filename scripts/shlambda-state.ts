/** The small state file (`.shlambda/state.json`) that remembers published layer ARNs by region and architecture. */

import fs from 'node:fs';
import path from 'node:path';
import type { Architecture } from './layer-paths.ts';

export interface ShlambdaState {
  /** region -> architecture -> the latest LayerVersionArn published from here. */
  layers: Record<string, Partial<Record<Architecture, string>>>;
}

/** `.shlambda/state.json` under `dir` (the current directory for the commands). */
export function statePath(dir: string): string {
  return path.join(dir, '.shlambda', 'state.json');
}

/** Reads the state; a missing file is an empty state, a corrupt one an error naming the file. */
export function readState(file: string): ShlambdaState {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { layers: {} };
    throw new Error(`cannot read ${file}: ${(error as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new Error(`${file} is not valid JSON: fix or delete it`);
  }
  const layers = (parsed as { layers?: unknown } | null)?.layers;
  if (typeof layers !== 'object' || layers === null || Array.isArray(layers)) {
    throw new Error(`${file} has no "layers" object: fix or delete it`);
  }
  return { layers: layers as ShlambdaState['layers'] };
}

/** Writes the state atomically (a temporary file, then rename). */
export function writeState(file: string, state: ShlambdaState): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const partial = `${file}.${process.pid}.partial`;
  fs.writeFileSync(partial, `${JSON.stringify(state, null, 2)}\n`);
  fs.renameSync(partial, file);
}

/** Records a published layer version as the one to use for this region and architecture. */
export function rememberLayer(file: string, region: string, arch: Architecture, arn: string): void {
  const state = readState(file);
  state.layers[region] = { ...state.layers[region], [arch]: arn };
  writeState(file, state);
}

/** Forgets deleted layer versions of a region, given as `NAME:VERSION`. */
export function forgetLayers(file: string, region: string, nameVersions: readonly string[]): void {
  if (!fs.existsSync(file)) return;
  const state = readState(file);
  const byArch = state.layers[region];
  if (!byArch) return;
  for (const [arch, arn] of Object.entries(byArch)) {
    if (arn && nameVersions.some((nv) => arn.endsWith(`:layer:${nv}`))) delete byArch[arch as Architecture];
  }
  writeState(file, state);
}

/** The remembered layer for a region and architecture. */
export function rememberedLayer(
  state: ShlambdaState,
  region: string,
  arch: Architecture,
): string | undefined {
  return state.layers[region]?.[arch];
}

/** The architecture a remembered layer ARN was published for, if it is remembered. */
export function rememberedArch(state: ShlambdaState, arn: string): Architecture | undefined {
  for (const byArch of Object.values(state.layers)) {
    for (const [arch, known] of Object.entries(byArch)) if (known === arn) return arch as Architecture;
  }
  return undefined;
}
