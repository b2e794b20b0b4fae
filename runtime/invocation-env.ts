/** Builds each handler process's environment: the function's own, plus the invocation's context. */

import type { LogFormat } from './config.ts';
import type { Invocation } from './runtime-api-client.ts';

/**
 * The environment every handler process starts from: the function's variables with `HOME=/tmp`
 * (Lambda's HOME is not writable) and nothing of a previous invocation. With JSON logs,
 * `AWS_LAMBDA_LOG_FORMAT` says `JSON` as written, also where the runtime chose JSON itself (Managed
 * Instances) or Lambda's value was `json`: the shims and structured loggers read it to write records.
 */
export function baseHandlerEnv(
  processEnv: NodeJS.ProcessEnv,
  logFormat: LogFormat = 'Text',
): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...processEnv, HOME: '/tmp' };
  if (logFormat === 'JSON') env.AWS_LAMBDA_LOG_FORMAT = 'JSON';
  for (const name of INVOCATION_VARIABLES) delete env[name];
  return Object.freeze(env);
}

/** Names set per invocation: a public contract, documented in the README. */
export const INVOCATION_VARIABLES = [
  'LAMBDA_REQUEST_ID',
  'LAMBDA_DEADLINE_MS',
  'LAMBDA_INVOKED_FUNCTION_ARN',
  '_X_AMZN_TRACE_ID',
  'LAMBDA_CLIENT_CONTEXT',
  'LAMBDA_COGNITO_IDENTITY',
  'LAMBDA_TENANT_ID',
] as const;

/** The environment for one invocation; optional values are absent, never empty, when Lambda sent none. */
export function invocationEnv(base: NodeJS.ProcessEnv, invocation: Invocation): NodeJS.ProcessEnv {
  return { ...base, ...invocationVariables(invocation) };
}

/** Just the invocation's own variables (a subset of {@link INVOCATION_VARIABLES}). */
export function invocationVariables(invocation: Invocation): Record<string, string> {
  const variables: Record<string, string> = {
    LAMBDA_REQUEST_ID: invocation.requestId,
    LAMBDA_DEADLINE_MS: String(invocation.deadlineMs),
    LAMBDA_INVOKED_FUNCTION_ARN: invocation.invokedFunctionArn,
  };
  if (invocation.traceId) variables._X_AMZN_TRACE_ID = invocation.traceId;
  if (invocation.clientContext) variables.LAMBDA_CLIENT_CONTEXT = invocation.clientContext;
  if (invocation.cognitoIdentity) variables.LAMBDA_COGNITO_IDENTITY = invocation.cognitoIdentity;
  if (invocation.tenantId) variables.LAMBDA_TENANT_ID = invocation.tenantId;
  return variables;
}
