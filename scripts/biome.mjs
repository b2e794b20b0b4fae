// Runs Biome (the project's formatter and linter) from its Linux binary package.
// Why not @biomejs/biome: it lists a binary package per platform as optional dependencies, and the npm
// registry this project is built from serves only the Linux ones, so npm writes a lockfile that `npm ci`
// then rejects. Depending on the two Linux packages directly keeps the lockfile complete.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';

const arch = { x64: 'x64', arm64: 'arm64' }[process.arch];
let binary;
try {
  binary = createRequire(import.meta.url).resolve(`@biomejs/cli-linux-${arch}/biome`);
} catch {
  console.error(
    `biome: no @biomejs/cli-linux-${arch ?? process.arch} installed; run npm ci on Linux x64 or arm64`,
  );
  process.exit(2);
}
const result = spawnSync(binary, process.argv.slice(2), { stdio: 'inherit' });
process.exit(result.status ?? 1);
