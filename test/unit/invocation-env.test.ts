/** Unit tests for the environment a handler process sees: the function's, HOME=/tmp, and this invocation's context only. */

import { describe, expect, it } from 'vitest';
import { baseHandlerEnv, INVOCATION_VARIABLES, invocationEnv } from '../../runtime/invocation-env.ts';
import type { Invocation } from '../../runtime/runtime-api-client.ts';

const PROCESS_ENV: NodeJS.ProcessEnv = {
  PATH: '/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin',
  HOME: '/home/sbx_user1051',
  AWS_REGION: 'eu-west-1',
  LAMBDA_TASK_ROOT: '/var/task',
  MY_SETTING: 'from the function configuration',
};

function invocation(overrides: Partial<Invocation> = {}): Invocation {
  return {
    requestId: '8476a536-e9f4-11e8-9739-2dfe598c3fcd',
    deadlineMs: 1_542_409_706_888,
    invokedFunctionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:echo',
    traceId: undefined,
    clientContext: undefined,
    cognitoIdentity: undefined,
    tenantId: undefined,
    event: Buffer.from('{}'),
    ...overrides,
  };
}

describe('baseHandlerEnv', () => {
  it("keeps the function's variables and sets HOME to /tmp, the only writable place", () => {
    const env = baseHandlerEnv(PROCESS_ENV);
    expect(env).toEqual({ ...PROCESS_ENV, HOME: '/tmp' });
  });

  it('says JSON, as written, when the runtime logs JSON (json from Lambda, or Managed Instances)', () => {
    expect(baseHandlerEnv({ AWS_LAMBDA_LOG_FORMAT: 'json' }, 'JSON').AWS_LAMBDA_LOG_FORMAT).toBe('JSON');
    expect(baseHandlerEnv({}, 'JSON').AWS_LAMBDA_LOG_FORMAT).toBe('JSON');
    expect(baseHandlerEnv({}, 'Text').AWS_LAMBDA_LOG_FORMAT).toBeUndefined();
  });

  it('sets HOME even when the runtime had none', () => {
    expect(baseHandlerEnv({ PATH: '/usr/bin' }).HOME).toBe('/tmp');
  });

  it('drops every per-invocation variable the runtime process itself may carry', () => {
    const stale = Object.fromEntries(INVOCATION_VARIABLES.map((name) => [name, `stale ${name}`]));
    const env = baseHandlerEnv({ ...PROCESS_ENV, ...stale });
    for (const name of INVOCATION_VARIABLES) expect(env).not.toHaveProperty(name);
  });

  it('is frozen and leaves the environment it was given alone', () => {
    const processEnv = { ...PROCESS_ENV };
    const env = baseHandlerEnv(processEnv);
    expect(Object.isFrozen(env)).toBe(true);
    expect(processEnv).toEqual(PROCESS_ENV);
  });
});

describe('invocationEnv', () => {
  const base = baseHandlerEnv({ ...PROCESS_ENV, _X_AMZN_TRACE_ID: 'Root=1-stale-from-the-runtime-process' });

  it("sets the invocation's context when Lambda sent all of it", () => {
    const env = invocationEnv(
      base,
      invocation({
        traceId: 'Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1',
        clientContext: '{"client":{"app_title":"shop"}}',
        cognitoIdentity: '{"cognitoIdentityId":"eu-west-1:1234"}',
        tenantId: 'tenant-a',
      }),
    );
    expect(env).toEqual({
      ...PROCESS_ENV,
      HOME: '/tmp',
      LAMBDA_REQUEST_ID: '8476a536-e9f4-11e8-9739-2dfe598c3fcd',
      LAMBDA_DEADLINE_MS: '1542409706888',
      LAMBDA_INVOKED_FUNCTION_ARN: 'arn:aws:lambda:eu-west-1:123456789012:function:echo',
      _X_AMZN_TRACE_ID: 'Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1',
      LAMBDA_CLIENT_CONTEXT: '{"client":{"app_title":"shop"}}',
      LAMBDA_COGNITO_IDENTITY: '{"cognitoIdentityId":"eu-west-1:1234"}',
      LAMBDA_TENANT_ID: 'tenant-a',
    });
  });

  it.each([
    ['traceId', '_X_AMZN_TRACE_ID'],
    ['clientContext', 'LAMBDA_CLIENT_CONTEXT'],
    ['cognitoIdentity', 'LAMBDA_COGNITO_IDENTITY'],
    ['tenantId', 'LAMBDA_TENANT_ID'],
  ] as const)('leaves %s out (absent, not empty) as %s when Lambda sent none', (field, name) => {
    for (const value of [undefined, '']) {
      const env = invocationEnv(base, invocation({ [field]: value }));
      expect(env).not.toHaveProperty(name);
    }
  });

  it("removes the runtime process's own _X_AMZN_TRACE_ID when the invocation has none", () => {
    expect(invocationEnv(base, invocation())).not.toHaveProperty('_X_AMZN_TRACE_ID');
  });

  it("never lets one invocation's context reach the next", () => {
    const first = invocationEnv(
      base,
      invocation({ requestId: 'first', traceId: 'Root=1-first', clientContext: '{}', tenantId: 'tenant-a' }),
    );
    const second = invocationEnv(base, invocation({ requestId: 'second' }));
    expect(first).toMatchObject({ LAMBDA_REQUEST_ID: 'first', _X_AMZN_TRACE_ID: 'Root=1-first' });
    expect(second.LAMBDA_REQUEST_ID).toBe('second');
    for (const name of ['_X_AMZN_TRACE_ID', 'LAMBDA_CLIENT_CONTEXT', 'LAMBDA_TENANT_ID']) {
      expect(second).not.toHaveProperty(name);
    }
  });

  it('keeps HOME=/tmp and the function variables in every invocation', () => {
    expect(invocationEnv(base, invocation())).toMatchObject({
      HOME: '/tmp',
      MY_SETTING: 'from the function configuration',
    });
  });
});
