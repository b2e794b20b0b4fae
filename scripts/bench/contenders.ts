/**
 * The runtimes the benchmark compares, each started the same way against the same local Runtime API:
 * shlambda's built bootstrap, a bootstrap in the style of the AWS custom-runtime tutorial (bash + curl
 * per call), and a floor that answers without starting any process.
 */

import fs from 'node:fs';
import path from 'node:path';

export type ContenderName = 'shlambda' | 'tutorial' | 'floor';
export const HANDLER_LANGUAGES = ['bash', 'python', 'php', 'ruby', 'perl'] as const;
export type HandlerLanguage = (typeof HANDLER_LANGUAGES)[number];

export interface LaunchSpec {
  command: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  cwd: string;
}

/** A bootstrap written the way the AWS tutorial shows: curl for every Runtime API call, a handler per
 *  invocation, the response passed through a shell variable. It is the baseline the targets refer to.
 *  Its Perl uses the JSON modules shlambda's shim uses (events decoded by Cpanel::JSON::XS when installed,
 *  responses encoded by JSON::PP), so that the two differ in how they run a handler, not in their JSON
 *  library. */
const TUTORIAL_BOOTSTRAP = `#!/bin/bash
set -euo pipefail
cd "$LAMBDA_TASK_ROOT"
case "$BENCH_LANGUAGE" in bash) source ./function.sh ;; esac
api="http://\${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/invocation"
headers="$(mktemp)"
while true; do
  event="$(mktemp)"
  curl -sS -LD "$headers" -o "$event" "$api/next"
  request_id=$(grep -Fi Lambda-Runtime-Aws-Request-Id "$headers" | tr -d '[:space:]' | cut -d: -f2)
  case "$BENCH_LANGUAGE" in
    bash) response=$(handler "$(cat "$event")") ;;
    python) response=$(python3 -c 'import handler, json, sys; print(json.dumps(handler.handler(json.load(sys.stdin), None)))' < "$event") ;;
    php) response=$(php -r 'require "handler.php"; echo json_encode(handler(json_decode(stream_get_contents(STDIN), true), null));' < "$event") ;;
    ruby) response=$(ruby -rjson -e 'require "./handler"; print JSON.generate(handler(event: JSON.parse($stdin.read), context: nil))' < "$event") ;;
    perl) response=$(perl -MJSON::PP -e 'my $d = eval { require Cpanel::JSON::XS; Cpanel::JSON::XS->new->allow_nonref->allow_dupkeys } || JSON::PP->new->allow_nonref; require "./handler.pl"; local $/; print JSON::PP->new->allow_nonref->encode(handler($d->decode(<STDIN>), undef))' < "$event") ;;
  esac
  rm -f "$event"
  printf '%s' "$response" | curl -sS -o /dev/null -X POST --data-binary @- "$api/$request_id/response"
done
`;

/** The floor: a Node loop that answers every event with the event itself, no process started. CommonJS,
 *  as the runtime's bundle is: an ESM import of node:http would load undici and cost it ~35 ms of start. */
const FLOOR_RUNTIME = `const http = require('node:http');
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const [host, port] = process.env.AWS_LAMBDA_RUNTIME_API.split(':');
function call(method, path, body) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host, port, method, path: '/2018-06-01' + path, agent,
      headers: body ? { 'Content-Length': body.length } : {} }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end(body);
  });
}
(async () => {
  for (;;) {
    const next = await call('GET', '/runtime/invocation/next');
    const id = next.headers['lambda-runtime-aws-request-id'];
    await call('POST', '/runtime/invocation/' + encodeURIComponent(id) + '/response', next.body);
  }
})();
`;

/** The handler each contender runs: it answers with the event, so every contender does the same work. */
const HANDLERS: Record<HandlerLanguage, { handler: string; file: string; text: string }> = {
  bash: { handler: 'function.handler', file: 'function.sh', text: 'handler() { printf \'%s\' "$1"; }\n' },
  python: {
    handler: 'handler.handler',
    file: 'handler.py',
    text: 'def handler(event, context):\n    return event\n',
  },
  php: {
    handler: 'handler.handler',
    file: 'handler.php',
    text: '<?php\nfunction handler($event, $context) { return $event; }\n',
  },
  ruby: {
    handler: 'handler.handler',
    file: 'handler.rb',
    text: 'def handler(event:, context:)\n  event\nend\n',
  },
  perl: {
    handler: 'handler.handler',
    file: 'handler.pl',
    text: 'sub handler { my ($event, $context) = @_; return $event; }\n1;\n',
  },
};

/** Writes the bench's handlers and helper scripts under `dir`; returns the task root for a language. */
export function prepareFiles(dir: string): (language: HandlerLanguage) => string {
  for (const [language, spec] of Object.entries(HANDLERS)) {
    const taskRoot = path.join(dir, 'task', language);
    fs.mkdirSync(taskRoot, { recursive: true });
    fs.writeFileSync(path.join(taskRoot, spec.file), spec.text);
  }
  fs.writeFileSync(path.join(dir, 'tutorial-bootstrap'), TUTORIAL_BOOTSTRAP, { mode: 0o755 });
  fs.writeFileSync(path.join(dir, 'floor.cjs'), FLOOR_RUNTIME);
  return (language) => path.join(dir, 'task', language);
}

/** How to start a contender for one handler language. */
export function launchSpec(
  contender: ContenderName,
  language: HandlerLanguage,
  options: { layerDir: string; benchDir: string; taskRoot: string; runtimeApi: string },
): LaunchSpec {
  const env: NodeJS.ProcessEnv = {
    PATH: `/usr/local/bin:/usr/bin:/bin:${options.layerDir}/bin`,
    HOME: '/tmp',
    LANG: 'en_US.UTF-8',
    AWS_LAMBDA_RUNTIME_API: options.runtimeApi,
    LAMBDA_TASK_ROOT: options.taskRoot,
    _HANDLER: HANDLERS[language].handler,
    AWS_LAMBDA_FUNCTION_NAME: 'bench',
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '1024',
    AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
    BENCH_LANGUAGE: language,
  };
  switch (contender) {
    case 'shlambda':
      return { command: path.join(options.layerDir, 'bootstrap'), args: [], env, cwd: options.taskRoot };
    case 'tutorial':
      return {
        command: path.join(options.benchDir, 'tutorial-bootstrap'),
        args: [],
        env,
        cwd: options.taskRoot,
      };
    case 'floor':
      return {
        command: path.join(options.layerDir, 'bin', 'node'),
        args: [path.join(options.benchDir, 'floor.cjs')],
        env,
        cwd: options.taskRoot,
      };
  }
}
