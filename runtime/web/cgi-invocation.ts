/** Serves one HTTP event with a CGI handler: event to CGI environment and stdin, CGI output to proxy response. */

import { HandlerExitError, type InvalidCgiResponseError, ResponseTooLargeError } from '../errors.ts';
import { runHandlerOnce } from '../handler-run.ts';
import { invocationEnv } from '../invocation-env.ts';
import type { LoopContext } from '../invocation-loop.ts';
import { RESPONSE_LIMIT_BYTES, type RunResult } from '../process-supervisor.ts';
import type { Invocation } from '../runtime-api-client.ts';
import { RUNTIME_VERSION } from '../version.ts';
import { CGI_VARIABLES, cgiVariables } from './cgi-environment.ts';
import { type CgiResponse, parseCgiOutput, toProxyResponse } from './cgi-response.ts';
import { type HttpRequest, parseHttpEvent } from './http-event.ts';

/** How much of a bad CGI output goes into the log, to show what the script wrote instead. */
const LOGGED_OUTPUT_BYTES = 512;

/**
 * Runs the CGI handler for one invocation. Resolves, never rejects. What the caller gets:
 * - a proxy response whenever the script wrote a valid header block, even if it then exited non-zero
 *   (PHP does after a fatal error, with its own `Status: 500`): the status is the script's to choose;
 * - an invocation error (counted by Lambda's Errors metric; API Gateway, ALB and function URLs answer
 *   502) when the event is not HTTP, the script exits non-zero before its headers are complete, writes
 *   malformed headers, is killed, times out, or its response is too large.
 */
export async function runCgiInvocation(
  context: LoopContext,
  slot: number,
  invocation: Invocation,
): Promise<RunResult> {
  const { config, handler, logger } = context;
  let request: HttpRequest;
  try {
    request = parseHttpEvent(invocation.event);
  } catch (error) {
    return { ok: false, error: error as Error };
  }
  logger.log('DEBUG', `${request.source} ${request.method} ${request.path}`, invocation.requestId);

  const env = invocationEnv(context.baseEnv, invocation);
  for (const name of CGI_VARIABLES) delete env[name];
  Object.assign(
    env,
    cgiVariables(request, {
      file: handler.file,
      name: scriptName(config.handler),
      taskRoot: config.taskRoot,
      serverSoftware: `shlambda/${RUNTIME_VERSION}`,
    }),
  );

  const result: RunResult = await runHandlerOnce(context, slot, invocation, request.body, env);
  // The answer below is made from the script's output; the group it ran in goes with it.
  const { group } = result;

  let cgi: CgiResponse;
  let durationMs: number;
  if (result.ok) {
    const output = Buffer.concat(result.chunks, result.bytes);
    try {
      cgi = parseCgiOutput(output);
    } catch (error) {
      logOutput(context, invocation, output);
      return { ok: false, error: error as InvalidCgiResponseError, group };
    }
    durationMs = result.durationMs;
  } else {
    const { error, stdout } = result;
    const parsed = error instanceof HandlerExitError && stdout ? tryParse(Buffer.concat(stdout)) : undefined;
    if (!parsed || !(error instanceof HandlerExitError)) return result;
    logger.log(
      'WARN',
      `${error.message}, after writing a complete response (status ${parsed.status}): returning it as written`,
      invocation.requestId,
    );
    cgi = parsed;
    durationMs = error.durationMs;
  }

  const { response, warnings } = toProxyResponse(cgi, {
    source: request.source,
    method: request.method,
    binaryTypes: config.binaryTypes,
    defaultContentType: handler.cgi === 'php' ? 'text/html; charset=UTF-8' : undefined,
  });
  for (const warning of warnings) logger.log('WARN', warning, invocation.requestId);
  const json = Buffer.from(JSON.stringify(response), 'utf8');
  if (json.length > RESPONSE_LIMIT_BYTES) {
    const failure = { exitCode: 0, signal: null, durationMs, stderrTail: [] };
    const tooLarge = new ResponseTooLargeError(json.length, RESPONSE_LIMIT_BYTES, failure);
    tooLarge.trace.push(
      `The script wrote a ${cgi.body.length}-byte body${response.isBase64Encoded ? ', base64-encoded as it is binary' : ''}`,
    );
    return { ok: false, error: tooLarge, group };
  }
  return { ok: true, chunks: [json], bytes: json.length, durationMs, group };
}

/** `SCRIPT_NAME` without the leading `/`: the handler as configured (`index.php`, `cgi-bin/app`). */
function scriptName(handler: string): string {
  return handler.replace(/^\.\//, '');
}

function tryParse(output: Buffer): CgiResponse | undefined {
  try {
    return parseCgiOutput(output);
  } catch {
    return undefined;
  }
}

function logOutput(context: LoopContext, invocation: Invocation, output: Buffer): void {
  const head = output.subarray(0, LOGGED_OUTPUT_BYTES).toString('utf8');
  const more =
    output.length > LOGGED_OUTPUT_BYTES ? ` (first ${LOGGED_OUTPUT_BYTES} of ${output.length} bytes)` : '';
  context.logger.log('ERROR', `CGI output${more}: ${JSON.stringify(head)}`, invocation.requestId);
}
