/**
 * Web handlers through the built layer: HTTP events from every front door served by real php-cgi and
 * bash CGI scripts, checked as the front door would read the response.
 */

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalFunction } from '../../scripts/local-function.ts';
import type { InvocationOutcome } from '../../scripts/local-runtime-api.ts';
import { type CodeFiles, type ErrorPayload, startFunction } from '../helpers/function-dir.ts';
import { EVENT_SHAPES, type EventShape, httpEvent, type RequestSpec } from '../helpers/http-events.ts';

const HANDLERS = fileURLToPath(new URL('../../handlers/', import.meta.url));
const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==',
  'base64',
);

/** A PHP page that reports what it received, or does what ?do= asks. */
const PROBE: CodeFiles = {
  'index.php': `<?php
switch ($_GET['do'] ?? '') {
  case 'redirect': header('Location: /elsewhere?x=1'); exit;
  case 'missing': http_response_code(404); echo 'no such page'; exit;
  case 'cookies': setcookie('a', '1'); setcookie('b', 'two words', ['path' => '/', 'httponly' => true]); echo 'set'; exit;
  case 'png': header('Content-Type: image/png'); echo base64_decode('${PNG.toString('base64')}'); exit;
  case 'die': error_log('about to die'); undefined_function();
}
header('Content-Type: application/json');
$keys = ['REQUEST_METHOD', 'QUERY_STRING', 'REQUEST_URI', 'SCRIPT_NAME', 'PATH_INFO', 'SCRIPT_FILENAME',
  'CONTENT_TYPE', 'CONTENT_LENGTH', 'SERVER_NAME', 'SERVER_PORT', 'SERVER_PROTOCOL', 'HTTPS', 'REMOTE_ADDR',
  'HTTP_ACCEPT', 'HTTP_X_CUSTOM', 'HTTP_COOKIE', 'GATEWAY_INTERFACE', 'LAMBDA_REQUEST_ID', 'PHP_SELF'];
echo json_encode([
  'server' => array_intersect_key($_SERVER, array_flip($keys)),
  'get' => $_GET,
  'post' => $_POST,
  'cookie' => $_COOKIE,
  'input' => base64_encode(file_get_contents('php://input')),
]);
`,
};

/** What a front door reads back: status, headers (one map, lower-case names, all values), cookies, body. */
interface WebResponse {
  status: number;
  headers: Record<string, string[]>;
  cookies: string[];
  body: Buffer;
  raw: Record<string, unknown>;
}

function web(outcome: InvocationOutcome): WebResponse {
  if (outcome.kind !== 'response') {
    const shown = 'body' in outcome ? outcome.body.toString('utf8').slice(0, 600) : '';
    throw new Error(`expected a response, got ${outcome.kind} ${shown}`);
  }
  const raw = JSON.parse(outcome.body.toString('utf8')) as Record<string, unknown>;
  const headers: Record<string, string[]> = {};
  const add = (name: string, value: string) => {
    const key = name.toLowerCase();
    headers[key] = [...(headers[key] ?? []), value];
  };
  for (const [k, v] of Object.entries((raw.headers ?? {}) as Record<string, string>)) add(k, v);
  for (const [k, vs] of Object.entries((raw.multiValueHeaders ?? {}) as Record<string, string[]>)) {
    for (const v of vs) add(k, v);
  }
  const cookies = [...((raw.cookies as string[] | undefined) ?? []), ...(headers['set-cookie'] ?? [])];
  const body = Buffer.from(raw.body as string, raw.isBase64Encoded ? 'base64' : 'utf8');
  return { status: raw.statusCode as number, headers, cookies, body, raw };
}

function errorOf(outcome: InvocationOutcome): ErrorPayload {
  if (outcome.kind !== 'error') throw new Error(`expected an error, got ${outcome.kind}`);
  return JSON.parse(outcome.body.toString('utf8'));
}

async function call(f: LocalFunction, shape: EventShape, spec: RequestSpec = {}) {
  const { outcome, logs } = await f.invoke(JSON.stringify(httpEvent(shape, spec)));
  return { outcome, logs };
}

async function probe(f: LocalFunction, shape: EventShape, spec: RequestSpec = {}) {
  const response = web((await call(f, shape, spec)).outcome);
  expect(response.status).toBe(200);
  return JSON.parse(response.body.toString('utf8')) as {
    server: Record<string, string>;
    get: Record<string, unknown>;
    post: Record<string, unknown>;
    cookie: Record<string, string>;
    input: string;
  };
}

const started: LocalFunction[] = [];
async function fn(
  code: CodeFiles | string,
  handler: string,
  env: Record<string, string> = {},
  timeoutSeconds = 10,
) {
  const f = await startFunction(code, handler, { env, timeoutSeconds });
  started.push(f);
  return f;
}
afterAll(async () => {
  await Promise.all(started.splice(0).map((f) => f.close()));
});

describe('the seed page, handlers/php-page/index.php, behind every front door', () => {
  let page: LocalFunction;
  beforeAll(async () => {
    page = await fn(path.join(HANDLERS, 'php-page'), 'index.php');
  });

  it.each(EVENT_SHAPES)('%s: 200 text/html with the request URI', async (shape) => {
    const { outcome } = await call(page, shape, { path: '/some/page', query: [['x', '1']] });
    const response = web(outcome);
    expect(response.status).toBe(200);
    expect(response.headers['content-type']).toEqual(['text/html; charset=UTF-8']);
    expect(response.body.toString()).toBe("Hello World! You've reached /some/page?x=1");
    expect(response.raw.isBase64Encoded).toBe(false);
  });

  it.each<[EventShape, string[]]>([
    ['api-gateway-v1', ['statusCode', 'multiValueHeaders', 'body', 'isBase64Encoded']],
    ['api-gateway-v2', ['statusCode', 'headers', 'body', 'isBase64Encoded']],
    ['function-url', ['statusCode', 'headers', 'body', 'isBase64Encoded']],
    ['alb', ['statusCode', 'statusDescription', 'headers', 'body', 'isBase64Encoded']],
    ['alb-multi-value', ['statusCode', 'statusDescription', 'multiValueHeaders', 'body', 'isBase64Encoded']],
  ])('%s: answers in the shape that front door reads', async (shape, keys) => {
    const { raw } = web((await call(page, shape)).outcome);
    expect(Object.keys(raw).sort()).toEqual([...keys].sort());
    if (shape.startsWith('alb')) expect(raw.statusDescription).toBe('200 OK');
  });

  it('refuses an event that is not an HTTP request, clearly, and serves the next one', async () => {
    const { outcome } = await page.invoke('{"hello":"world"}');
    const error = errorOf(outcome);
    expect(error.errorType).toBe('Runtime.NotAnHttpEvent');
    expect(error.errorMessage).toContain('API Gateway');
    expect(error.errorMessage).toContain('hello');
    expect(web((await call(page, 'function-url')).outcome).status).toBe(200);
  });
});

describe('requests, through php-cgi', () => {
  let f: LocalFunction;
  beforeAll(async () => {
    f = await fn(PROBE, 'index.php');
  });

  it.each(EVENT_SHAPES)('%s: the CGI variables PHP sees', async (shape) => {
    const { server } = await probe(f, shape, {
      path: '/users/42',
      query: [['a', '1']],
      headers: [
        ['Accept', 'text/html'],
        ['X-Custom', 'yes'],
      ],
    });
    expect(server).toMatchObject({
      GATEWAY_INTERFACE: 'CGI/1.1',
      REQUEST_METHOD: 'GET',
      REQUEST_URI: '/users/42?a=1',
      QUERY_STRING: 'a=1',
      SCRIPT_NAME: '/index.php',
      PATH_INFO: '/users/42',
      SERVER_PORT: '443',
      SERVER_PROTOCOL: 'HTTP/1.1',
      HTTPS: 'on',
      REMOTE_ADDR: '203.0.113.7',
      HTTP_ACCEPT: 'text/html',
      HTTP_X_CUSTOM: 'yes',
    });
    expect(server.SCRIPT_FILENAME).toMatch(/\/index\.php$/);
    expect(server.LAMBDA_REQUEST_ID).toMatch(/^[0-9a-f-]{36}$/);
  });

  it.each(EVENT_SHAPES)('%s: a query string with spaces, +, %%, & and unicode', async (shape) => {
    const { get } = await probe(f, shape, {
      query: [
        ['q', 'a b+c%d&e=f'],
        ['city', 'Zürich 東京 😀'],
        ['empty', ''],
      ],
    });
    expect(get).toEqual({ q: 'a b+c%d&e=f', city: 'Zürich 東京 😀', empty: '' });
  });

  it.each(['api-gateway-v2', 'function-url', 'alb-multi-value'] as const)(
    '%s: repeated names and form-encoded + in a raw query string',
    async (shape) => {
      const { get } = await probe(f, shape, { rawQuery: 'tag[]=a&tag[]=b&s=hello+world%21' });
      expect(get).toEqual({ tag: ['a', 'b'], s: 'hello world!' });
    },
  );

  it.each(EVENT_SHAPES)('%s: an urlencoded POST', async (shape) => {
    const body = 'name=J%C3%BCrgen+M%C3%BCller&tags%5B%5D=a&tags%5B%5D=b%26c';
    const { post, server } = await probe(f, shape, {
      method: 'POST',
      headers: [['Content-Type', 'application/x-www-form-urlencoded']],
      body,
    });
    expect(post).toEqual({ name: 'Jürgen Müller', tags: ['a', 'b&c'] });
    expect(server.CONTENT_LENGTH).toBe(String(body.length));
  });

  it.each(EVENT_SHAPES)('%s: a JSON POST arrives as php://input, byte for byte', async (shape) => {
    const body = JSON.stringify({ text: 'é "quoted" \\ back', n: [1, 2] });
    const { input, server } = await probe(f, shape, {
      method: 'POST',
      headers: [['Content-Type', 'application/json']],
      body,
    });
    expect(Buffer.from(input, 'base64').toString('utf8')).toBe(body);
    expect(server.CONTENT_TYPE).toBe('application/json');
  });

  it.each(EVENT_SHAPES)('%s: a binary POST (base64 in the event) arrives decoded', async (shape) => {
    const bytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const { input, server } = await probe(f, shape, {
      method: 'PUT',
      headers: [['Content-Type', 'application/octet-stream']],
      body: bytes,
    });
    expect(Buffer.from(input, 'base64').equals(bytes)).toBe(true);
    expect(server.CONTENT_LENGTH).toBe('256');
  });

  it.each(EVENT_SHAPES)('%s: cookies in', async (shape) => {
    const { cookie } = await probe(f, shape, { headers: [['Cookie', 'session=abc123; theme=dark']] });
    expect(cookie).toEqual({ session: 'abc123', theme: 'dark' });
  });

  it.each(EVENT_SHAPES.filter((s) => s !== 'alb'))('%s: several cookies out', async (shape) => {
    const response = web((await call(f, shape, { query: [['do', 'cookies']] })).outcome);
    expect(response.cookies).toEqual(['a=1', 'b=two%20words; path=/; HttpOnly']);
    if (shape === 'api-gateway-v2' || shape === 'function-url') {
      expect(response.raw.cookies).toHaveLength(2);
      expect(response.headers['set-cookie']).toBeUndefined();
    }
  });

  it('alb without multi-value headers: the last cookie, and a warning in the log', async () => {
    const { outcome, logs } = await call(f, 'alb', { query: [['do', 'cookies']] });
    expect(web(outcome).cookies).toEqual(['b=two%20words; path=/; HttpOnly']);
    expect(logs.join('\n')).toContain('Enable multi-value headers on the target group');
  });

  it.each(EVENT_SHAPES)('%s: a redirect', async (shape) => {
    const response = web((await call(f, shape, { query: [['do', 'redirect']] })).outcome);
    expect(response.status).toBe(302);
    expect(response.headers.location).toEqual(['/elsewhere?x=1']);
    if (shape.startsWith('alb')) expect(response.raw.statusDescription).toBe('302 Found');
  });

  it.each(EVENT_SHAPES)('%s: a 404 set by the script', async (shape) => {
    const response = web((await call(f, shape, { query: [['do', 'missing']] })).outcome);
    expect(response.status).toBe(404);
    expect(response.body.toString()).toBe('no such page');
    if (shape.startsWith('alb')) expect(response.raw.statusDescription).toBe('404 Not Found');
  });

  it.each(EVENT_SHAPES)('%s: HEAD has the headers and no body', async (shape) => {
    const response = web((await call(f, shape, { method: 'HEAD', path: '/x' })).outcome);
    expect(response.status).toBe(200);
    expect(response.headers['content-type']).toEqual(['application/json']);
    expect(response.body.length).toBe(0);
  });

  it.each(EVENT_SHAPES)('%s: a binary response is base64 with isBase64Encoded', async (shape) => {
    const response = web((await call(f, shape, { query: [['do', 'png']] })).outcome);
    expect(response.raw.isBase64Encoded).toBe(true);
    expect(response.headers['content-type']).toEqual(['image/png']);
    expect(response.body.equals(PNG)).toBe(true);
  });

  it('a PHP fatal error: the 500 page PHP wrote, with the error and the exit code in the log', async () => {
    const { outcome, logs } = await call(f, 'api-gateway-v2', { query: [['do', 'die']] });
    const response = web(outcome);
    expect(response.status).toBe(500);
    const log = logs.join('\n');
    expect(log).toContain('about to die');
    expect(log).toContain('undefined_function');
    expect(log).toMatch(/Handler exited with code 255 after \d+ ms, after writing a complete response/);
  });
});

describe('the form example, handlers/php-form', () => {
  let form: LocalFunction;
  beforeAll(async () => {
    form = await fn(path.join(HANDLERS, 'php-form'), 'index.php');
  });

  it('shows the forms on GET', async () => {
    const response = web((await call(form, 'function-url')).outcome);
    expect(response.body.toString()).toContain('enctype="multipart/form-data"');
  });

  it('reads an urlencoded POST', async () => {
    const response = web(
      (
        await call(form, 'api-gateway-v1', {
          method: 'POST',
          headers: [['Content-Type', 'application/x-www-form-urlencoded']],
          body: 'name=Ada+Lovelace',
        })
      ).outcome,
    );
    expect(JSON.parse(response.body.toString())).toMatchObject({
      fields: { name: 'Ada Lovelace' },
      files: [],
    });
  });

  it('reads a multipart POST with a binary file', async () => {
    const boundary = '----shlambda7MA4YWxkTrZu0gW';
    const file = Buffer.concat([PNG, Buffer.from([0, 255, 13, 10])]);
    const body = Buffer.concat([
      Buffer.from(
        `--${boundary}\r\nContent-Disposition: form-data; name="name"\r\n\r\nGrace Hopper\r\n` +
          `--${boundary}\r\nContent-Disposition: form-data; name="upload"; filename="dot.png"\r\n` +
          'Content-Type: image/png\r\n\r\n',
      ),
      file,
      Buffer.from(`\r\n--${boundary}--\r\n`),
    ]);
    const response = web(
      (
        await call(form, 'api-gateway-v2', {
          method: 'POST',
          headers: [['Content-Type', `multipart/form-data; boundary=${boundary}`]],
          body,
        })
      ).outcome,
    );
    const { createHash } = await import('node:crypto');
    expect(JSON.parse(response.body.toString())).toEqual({
      contentType: `multipart/form-data; boundary=${boundary}`,
      fields: { name: 'Grace Hopper' },
      files: {
        upload: {
          name: 'dot.png',
          type: 'image/png',
          size: file.length,
          sha256: createHash('sha256').update(file).digest('hex'),
        },
      },
    });
  });
});

describe('CGI scripts in other languages (SHLAMBDA_CGI=1)', () => {
  it('the bash example greets, sets a cookie and logs', async () => {
    const f = await fn(path.join(HANDLERS, 'cgi-bash'), 'hello.sh', { SHLAMBDA_CGI: '1' });
    const { outcome, logs } = await call(f, 'api-gateway-v2', {
      path: '/hi',
      query: [['name', 'Zoë <script>']],
    });
    const response = web(outcome);
    expect(response.status).toBe(200);
    expect(response.body.toString()).toContain('<h1>Hello, Zoë &lt;script&gt;!</h1>');
    expect(response.body.toString()).toContain('GET /hi?name=Zo%C3%AB%20%3Cscript%3E from 203.0.113.7');
    expect(response.cookies[0]).toMatch(/^greeted=\d+; Path=\/; HttpOnly$/);
    expect(logs.join('\n')).toContain('greeting Zoë <script>');
  });

  it('the image example returns a PNG, base64-encoded', async () => {
    const f = await fn(path.join(HANDLERS, 'cgi-image'), 'pixel.sh', { SHLAMBDA_CGI: '1' });
    for (const shape of EVENT_SHAPES) {
      const response = web((await call(f, shape)).outcome);
      expect(response.raw.isBase64Encoded).toBe(true);
      expect(response.body.equals(PNG)).toBe(true);
      expect(response.headers['cache-control']).toEqual(['public, max-age=86400']);
    }
  });

  it('SHLAMBDA_BINARY_TYPES decides what is binary', async () => {
    const f = await fn(
      { 'data.sh': "printf 'Content-Type: application/x-custom\\r\\n\\r\\nabc'" },
      'data.sh',
      { SHLAMBDA_CGI: '1', SHLAMBDA_BINARY_TYPES: 'application/x-custom' },
    );
    const response = web((await call(f, 'function-url')).outcome);
    expect(response.raw).toMatchObject({
      isBase64Encoded: true,
      body: Buffer.from('abc').toString('base64'),
    });
  });

  const FAILING = {
    'fail.sh': `
case "$QUERY_STRING" in
  exit*) echo "cannot reach the database" >&2; exit 3 ;;
  malformed*) echo "Hello without headers"; echo "more" ;;
  late-exit*) printf 'Status: 503 Busy\\r\\nContent-Type: text/plain\\r\\n\\r\\ntry later'; exit 1 ;;
  slow*) printf 'Content-Type: text/plain\\r\\n\\r\\nstarted'; echo "sleeping" >&2; sleep 30 ;;
  big*) printf 'Content-Type: application/octet-stream\\r\\n\\r\\n'; head -c 5000000 /dev/zero ;;
esac
`,
  };

  it('a script that exits non-zero before its headers: Function.ExitError, stderr in the log and trace', async () => {
    const f = await fn(FAILING, 'fail.sh', { SHLAMBDA_CGI: '1' });
    const { outcome, logs } = await call(f, 'api-gateway-v1', { query: [['exit', '']] });
    const error = errorOf(outcome);
    expect(error.errorType).toBe('Function.ExitError');
    expect(error.errorMessage).toMatch(/^Handler exited with code 3 after \d+ ms$/);
    expect(error.stackTrace).toContain('cannot reach the database');
    expect(logs.join('\n')).toContain('cannot reach the database');
  });

  it('a script that writes malformed headers: Function.InvalidCgiResponse, its output in the log', async () => {
    const f = await fn(FAILING, 'fail.sh', { SHLAMBDA_CGI: '1' });
    const { outcome, logs } = await call(f, 'function-url', { rawQuery: 'malformed' });
    const error = errorOf(outcome);
    expect(error.errorType).toBe('Function.InvalidCgiResponse');
    expect(error.errorMessage).toContain('line 1 is "Hello without headers"');
    expect(logs.join('\n')).toContain('CGI output: "Hello without headers\\nmore\\n"');
  });

  it('a script that exits non-zero after complete headers: its response, and a warning', async () => {
    const f = await fn(FAILING, 'fail.sh', { SHLAMBDA_CGI: '1' });
    const { outcome, logs } = await call(f, 'alb', { rawQuery: 'late-exit' });
    const response = web(outcome);
    expect(response.status).toBe(503);
    expect(response.raw.statusDescription).toBe('503 Busy');
    expect(response.body.toString()).toBe('try later');
    expect(logs.join('\n')).toContain('Handler exited with code 1');
  });

  it('a script that times out: Function.Timeout, even after writing headers', async () => {
    const f = await fn(FAILING, 'fail.sh', { SHLAMBDA_CGI: '1' }, 2);
    const { outcome, logs } = await call(f, 'api-gateway-v2', { rawQuery: 'slow' });
    const error = errorOf(outcome);
    expect(error.errorType).toBe('Function.Timeout');
    expect(logs.join('\n')).toContain('sleeping');
  });

  it('a binary response that base64 makes too large: Function.ResponseSizeTooLarge', async () => {
    const f = await fn(FAILING, 'fail.sh', { SHLAMBDA_CGI: '1' });
    const error = errorOf((await call(f, 'api-gateway-v2', { rawQuery: 'big' })).outcome);
    expect(error.errorType).toBe('Function.ResponseSizeTooLarge');
    expect(error.errorMessage).toContain('6291556');
    expect(error.stackTrace.join('\n')).toContain('5000000-byte body, base64-encoded');
  });
});

describe('choosing the mode', () => {
  it('SHLAMBDA_CGI=0 runs a PHP page with the php command line, the event on stdin', async () => {
    const f = await fn({ 'index.php': '<?php echo strlen(file_get_contents("php://stdin"));' }, 'index.php', {
      SHLAMBDA_CGI: '0',
    });
    const { outcome } = await f.invoke('{"hello":"world"}');
    expect(outcome.kind === 'response' && outcome.body.toString()).toBe('17');
  });

  it('a PHP function handler still gets the event, not a web request', async () => {
    const f = await fn(path.join(HANDLERS, 'php'), 'handler.handler');
    const { outcome } = await f.invoke('{"name":"web"}');
    expect(outcome.kind === 'response' && JSON.parse(outcome.body.toString()).message).toBe('Hello, web!');
  });

  it('SHLAMBDA_CGI=1 with a function handler is an init error', async () => {
    const f = await fn(
      { 'function.sh': fs.readFileSync(path.join(HANDLERS, 'echo/function.sh'), 'utf8') },
      'function.handler',
      { SHLAMBDA_CGI: '1' },
    );
    const { outcome } = await f.invoke('{}');
    expect(outcome.kind).toBe('init-error');
    expect(outcome.kind === 'init-error' && outcome.errorType).toBe('Runtime.InvalidConfig');
  });
});
