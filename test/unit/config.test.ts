/** Unit tests for loadConfig: what a function gets from its environment, and the init error when it is wrong. */

import { describe, expect, it } from 'vitest';
import { loadConfig, logFormatOf } from '../../runtime/config.ts';
import { ConfigError } from '../../runtime/errors.ts';
import { DEFAULT_BINARY_TYPES } from '../../runtime/web/binary-types.ts';
import { thrown } from '../helpers/thrown.ts';

/** The variables Lambda always sets for a custom runtime. */
const BASE: NodeJS.ProcessEnv = {
  AWS_LAMBDA_RUNTIME_API: '127.0.0.1:9001',
  LAMBDA_TASK_ROOT: '/var/task',
  _HANDLER: 'function.handler',
  PATH: '/usr/local/bin:/usr/bin:/bin',
};

function configError(env: NodeJS.ProcessEnv): ConfigError {
  return thrown(ConfigError, () => loadConfig(env));
}

describe('loadConfig: required variables', () => {
  it.each([
    ['AWS_LAMBDA_RUNTIME_API', undefined],
    ['AWS_LAMBDA_RUNTIME_API', ''],
    ['LAMBDA_TASK_ROOT', undefined],
    ['LAMBDA_TASK_ROOT', ''],
  ])('%s = %j fails with a ConfigError naming it', (name, value) => {
    const error = configError({ ...BASE, [name]: value });
    expect(error.name).toBe('Runtime.InvalidConfig');
    expect(error.message).toContain(name);
  });
});

describe('loadConfig: AWS_LAMBDA_RUNTIME_API', () => {
  it.each(['localhost', 'http://127.0.0.1:9001', '127.0.0.1:9001/', '127.0.0.1:port', 'host: 9001', ':'])(
    'rejects %j as not host:port',
    (value) => {
      const error = configError({ ...BASE, AWS_LAMBDA_RUNTIME_API: value });
      expect(error.message).toContain('AWS_LAMBDA_RUNTIME_API');
      expect(error.message).toContain(JSON.stringify(value));
    },
  );

  it.each(['127.0.0.1:9001', 'localhost:8080', '[::1]:9001', 'runtime.internal:1'])('accepts %j', (value) => {
    expect(loadConfig({ ...BASE, AWS_LAMBDA_RUNTIME_API: value }).runtimeApi).toBe(value);
  });
});

describe('loadConfig: integer variables', () => {
  it.each([
    ['SHLAMBDA_TIMEOUT_MARGIN_MS', 'abc'],
    ['SHLAMBDA_TIMEOUT_MARGIN_MS', '1.5'],
    ['SHLAMBDA_TIMEOUT_MARGIN_MS', '-1'],
    ['SHLAMBDA_TIMEOUT_MARGIN_MS', '400ms'],
    ['SHLAMBDA_TIMEOUT_MARGIN_MS', '60001'],
    ['SHLAMBDA_KILL_GRACE_MS', 'NaN'],
    ['SHLAMBDA_KILL_GRACE_MS', 'Infinity'],
    ['SHLAMBDA_KILL_GRACE_MS', '-5'],
    ['AWS_LAMBDA_MAX_CONCURRENCY', '0'],
    ['AWS_LAMBDA_MAX_CONCURRENCY', 'two'],
    ['AWS_LAMBDA_MAX_CONCURRENCY', '2.5'],
    ['AWS_LAMBDA_MAX_CONCURRENCY', '1025'],
  ])('%s = %j fails with a ConfigError naming the variable and the value', (name, value) => {
    const error = configError({ ...BASE, [name]: value });
    expect(error.message).toContain(name);
    expect(error.message).toContain(JSON.stringify(value));
  });

  it.each([
    ['SHLAMBDA_TIMEOUT_MARGIN_MS', '0', 'timeoutMarginMs', 0],
    ['SHLAMBDA_TIMEOUT_MARGIN_MS', '1000', 'timeoutMarginMs', 1000],
    ['SHLAMBDA_KILL_GRACE_MS', '60000', 'killGraceMs', 60_000],
    ['AWS_LAMBDA_MAX_CONCURRENCY', '1', 'concurrency', 1],
    ['AWS_LAMBDA_MAX_CONCURRENCY', '64', 'concurrency', 64],
  ] as const)('%s = %j gives %s = %d', (name, value, key, expected) => {
    expect(loadConfig({ ...BASE, [name]: value })[key]).toBe(expected);
  });
});

describe('loadConfig: defaults', () => {
  it('fills in every optional setting when only the required variables are set', () => {
    const config = loadConfig({ AWS_LAMBDA_RUNTIME_API: 'localhost:9001', LAMBDA_TASK_ROOT: '/var/task' });
    expect(config).toEqual({
      runtimeApi: 'localhost:9001',
      handler: '',
      taskRoot: '/var/task',
      logFormat: 'Text',
      logLevel: 'INFO',
      concurrency: 1,
      interpreter: undefined,
      timeoutMarginMs: 400,
      killGraceMs: 150,
      tmpDir: '/tmp',
      path: '/usr/local/bin:/usr/bin:/bin:/opt/bin',
      cgi: 'auto',
      binaryTypes: DEFAULT_BINARY_TYPES,
      prestart: true,
      preload: undefined,
    });
  });

  it('treats empty optional variables as unset', () => {
    const config = loadConfig({
      ...BASE,
      SHLAMBDA_TIMEOUT_MARGIN_MS: '',
      SHLAMBDA_KILL_GRACE_MS: '',
      AWS_LAMBDA_MAX_CONCURRENCY: '',
      SHLAMBDA_INTERPRETER: '',
      SHLAMBDA_TMPDIR: '',
    });
    expect(config.timeoutMarginMs).toBe(400);
    expect(config.killGraceMs).toBe(150);
    expect(config.concurrency).toBe(1);
    expect(config.interpreter).toBeUndefined();
    expect(config.tmpDir).toBe('/tmp');
  });

  it('passes the handler, task root, interpreter, tmp dir and PATH through as given', () => {
    const config = loadConfig({
      ...BASE,
      _HANDLER: 'index.php',
      LAMBDA_TASK_ROOT: '/srv/code',
      SHLAMBDA_INTERPRETER: '/opt/bin/php',
      SHLAMBDA_TMPDIR: '/mnt/scratch',
      PATH: '/opt/bin:/usr/bin',
    });
    expect(config).toMatchObject({
      handler: 'index.php',
      taskRoot: '/srv/code',
      interpreter: '/opt/bin/php',
      tmpDir: '/mnt/scratch',
      path: '/opt/bin:/usr/bin',
    });
  });
});

describe('loadConfig: logging', () => {
  it.each([
    [undefined, 'Text'],
    ['JSON', 'JSON'],
    ['json', 'JSON'],
    ['Json', 'JSON'],
    ['Text', 'Text'],
    ['TEXT', 'Text'],
    ['xml', 'Text'],
  ])('AWS_LAMBDA_LOG_FORMAT = %j gives %s', (value, expected) => {
    expect(loadConfig({ ...BASE, AWS_LAMBDA_LOG_FORMAT: value }).logFormat).toBe(expected);
  });

  it.each([
    [undefined, 'INFO'],
    ['TRACE', 'TRACE'],
    ['debug', 'DEBUG'],
    ['Info', 'INFO'],
    ['warn', 'WARN'],
    ['ERROR', 'ERROR'],
    ['fatal', 'FATAL'],
    ['verbose', 'INFO'],
    ['WARNING', 'INFO'],
    ['', 'INFO'],
  ])('AWS_LAMBDA_LOG_LEVEL = %j gives %s', (value, expected) => {
    expect(loadConfig({ ...BASE, AWS_LAMBDA_LOG_LEVEL: value }).logLevel).toBe(expected);
  });

  it.each([
    ['2', 'Text', 'JSON'],
    ['8', undefined, 'JSON'],
    ['1', 'Text', 'Text'],
    ['1', 'JSON', 'JSON'],
  ])('AWS_LAMBDA_MAX_CONCURRENCY = %s with log format %j gives %s logs', (concurrency, format, expected) => {
    const config = loadConfig({
      ...BASE,
      AWS_LAMBDA_MAX_CONCURRENCY: concurrency,
      AWS_LAMBDA_LOG_FORMAT: format,
    });
    expect(config.logFormat).toBe(expected);
  });
});

describe('loadConfig: result', () => {
  it('is frozen, so no part of the runtime can change the configuration after init', () => {
    const config = loadConfig(BASE);
    expect(Object.isFrozen(config)).toBe(true);
    expect(() => {
      (config as { handler: string }).handler = 'other.handler';
    }).toThrow(TypeError);
    expect(config.handler).toBe('function.handler');
  });

  it('does not change the environment it reads', () => {
    const env = { ...BASE, AWS_LAMBDA_MAX_CONCURRENCY: '4' };
    const before = { ...env };
    loadConfig(env);
    expect(env).toEqual(before);
  });
});

describe('loadConfig: web handlers', () => {
  it.each([
    [undefined, 'auto'],
    ['', 'auto'],
    ['auto', 'auto'],
    ['1', 'on'],
    ['true', 'on'],
    ['0', 'off'],
    ['off', 'off'],
  ])('SHLAMBDA_CGI = %j gives %s', (value, expected) => {
    expect(loadConfig({ ...BASE, SHLAMBDA_CGI: value }).cgi).toBe(expected);
  });

  it('refuses a SHLAMBDA_CGI it does not know, naming it', () => {
    expect(configError({ ...BASE, SHLAMBDA_CGI: 'maybe' }).message).toContain('SHLAMBDA_CGI');
  });

  it('replaces the binary types with SHLAMBDA_BINARY_TYPES', () => {
    expect(
      loadConfig({ ...BASE, SHLAMBDA_BINARY_TYPES: 'image/png, application/x-thing' }).binaryTypes,
    ).toEqual(['image/png', 'application/x-thing']);
  });

  it('refuses an entry of SHLAMBDA_BINARY_TYPES that is not a media type, naming it', () => {
    const error = configError({ ...BASE, SHLAMBDA_BINARY_TYPES: 'image/png,pdf' });
    expect(error.message).toContain('SHLAMBDA_BINARY_TYPES');
    expect(error.message).toContain('"pdf"');
  });
});

describe('loadConfig: prestarted handlers', () => {
  it.each([
    [undefined, true],
    ['', true],
    ['1', true],
    ['on', true],
    ['0', false],
    ['false', false],
  ])('SHLAMBDA_PRESTART = %j gives %s', (value, expected) => {
    expect(loadConfig({ ...BASE, SHLAMBDA_PRESTART: value }).prestart).toBe(expected);
  });

  it('refuses a SHLAMBDA_PRESTART that is not on or off, naming it', () => {
    expect(configError({ ...BASE, SHLAMBDA_PRESTART: 'later' }).message).toContain('SHLAMBDA_PRESTART');
  });
});

describe('logFormatOf: also the format of an error about the configuration itself', () => {
  it.each([
    [{}, 'Text'],
    [{ AWS_LAMBDA_LOG_FORMAT: 'json' }, 'JSON'],
    [{ AWS_LAMBDA_LOG_FORMAT: 'Text', AWS_LAMBDA_MAX_CONCURRENCY: '4' }, 'JSON'],
    [{ AWS_LAMBDA_MAX_CONCURRENCY: 'many' }, 'Text'],
  ])('%j: %s', (env, format) => {
    expect(logFormatOf(env)).toBe(format);
  });
});
