/** Parses repeated `--env NAME=value` options, shared by the commands that set a function's environment. */

/** `['A=1', 'B=x=y']` -> `{ A: '1', B: 'x=y' }`; a pair without a name before `=` is refused. */
export function parseEnvPairs(pairs: readonly string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new Error(`--env ${pair}: expected NAME=value`);
    env[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return env;
}
