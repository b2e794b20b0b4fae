/** The invocation loop: wait for an event, run the handler, post its answer, forever. */

import type { RuntimeConfig } from './config.ts';
import { InternalError, toErrorPayload } from './errors.ts';
import type { GarbageBudget } from './garbage-budget.ts';
import type { ResolvedHandler } from './handler-resolver.ts';
import { answersWithReturnValue, runHandlerOnce, runOnSpare, startSpare, usesSpares } from './handler-run.ts';
import { invocationEnv } from './invocation-env.ts';
import { describeLeftovers, endLeftovers, lastPid, type SweepStart } from './leftover-processes.ts';
import type { Logger } from './logger.ts';
import { type RunResult, requireAnswer } from './process-supervisor.ts';
import type { Invocation, RuntimeApiClient } from './runtime-api-client.ts';
import type { PreparedHandler } from './spare-process.ts';
import type { Zygote } from './zygote.ts';

export interface LoopContext {
  config: RuntimeConfig;
  client: RuntimeApiClient;
  handler: ResolvedHandler;
  logger: Logger;
  baseEnv: NodeJS.ProcessEnv;
  /** Bash and Python function mode: each slot's zygote, which forks the processes of its invocations. */
  zygotes: Map<number, Zygote>;
  /** Collects what large events and responses leave behind. */
  garbage: GarbageBudget;
}

/**
 * Serves invocations until the Runtime API fails (a `RuntimeApiFatalError` rejects the promise:
 * the caller exits and Lambda starts a fresh runtime). Nothing a handler does ends the loop.
 * In function mode the next handler process is started, and its file loaded, before asking for the
 * next event: Lambda bills that start, but the invocation no longer waits for it.
 * @param slot which of the concurrent loops this is (0 unless Lambda Managed Instances ask for more).
 * @param firstSpare the process prepared (and checked) at init for this slot's first invocation.
 */
export async function runInvocationLoop(
  context: LoopContext,
  slot: number,
  firstSpare?: PreparedHandler,
): Promise<never> {
  let spare = firstSpare;
  for (;;) {
    spare ??= prepareSpare(context, slot);
    // Read while nothing waits for it: what the invocation starts comes after this pid.
    const pidBefore = lastPid();
    const invocation = await context.client.next();
    const prepared = spare;
    spare = undefined;
    await serveInvocation(context, slot, invocation, prepared, {
      lastPid: pidBefore,
      atMs: performance.now(),
    });
  }
}

function prepareSpare(context: LoopContext, slot: number): PreparedHandler | undefined {
  if (!usesSpares(context)) return undefined;
  try {
    return startSpare(context, slot);
  } catch (error) {
    // Out of descriptors or /tmp space: the invocation will start its process itself, and say why.
    context.logger.log('WARN', `could not prestart the handler: ${(error as Error).message}`);
    return undefined;
  }
}

/**
 * Runs one invocation and posts exactly one answer for it (or none after a 413: Lambda forbids it),
 * then ends what it left running outside its process group.
 * @param start where the invocation began, for that search: the last pid before its `GET /next`.
 */
export async function serveInvocation(
  context: LoopContext,
  slot: number,
  invocation: Invocation,
  spare: PreparedHandler | undefined,
  start: SweepStart,
): Promise<void> {
  const running = runSafely(context, slot, invocation, spare);
  // The handler has its event by now (a prepared process has its go): garbage earlier invocations left
  // is collected while it works.
  context.garbage.collectIfDue();
  const result = await running;
  context.garbage.spent(invocation.event.length + (result.ok ? result.bytes : 0));
  await postAnswer(context, invocation, result);
  // After the answer, so the caller does not wait for it; before the next event, so nothing of this
  // invocation runs into it.
  const leftovers = endLeftovers(invocation.requestId, result.group, start);
  if (leftovers.ended.length > 0) {
    const what = 'the invocation left running outside its process group';
    context.logger.log(
      'WARN',
      `${describeLeftovers(leftovers, what)}; a process started during an invocation ends with it`,
      invocation.requestId,
    );
  }
}

/** Posts the invocation's one answer: its response, or its error. */
async function postAnswer(context: LoopContext, invocation: Invocation, result: RunResult): Promise<void> {
  const { client, logger } = context;
  if (result.ok) {
    const answer = await client.postResponse(invocation.requestId, result.chunks);
    if (answer === 'too-large') {
      logger.log(
        'ERROR',
        `Lambda refused the ${result.bytes}-byte response as too large`,
        invocation.requestId,
      );
    } else if (answer === 'rejected') {
      logger.log(
        'WARN',
        'Lambda rejected the response (the invocation was already answered or timed out)',
        invocation.requestId,
      );
    }
    return;
  }
  const payload = toErrorPayload(result.error);
  logger.log('ERROR', `Invoke Error ${JSON.stringify(payload)}`, invocation.requestId);
  const answer = await client.postError(invocation.requestId, payload);
  if (answer !== 'accepted') {
    logger.log('WARN', `Lambda did not accept the error report (${answer})`, invocation.requestId);
  }
}

async function runSafely(
  context: LoopContext,
  slot: number,
  invocation: Invocation,
  spare: PreparedHandler | undefined,
): Promise<RunResult> {
  try {
    if (context.handler.cgi) {
      // Loaded on first use: a function that is not a web handler never evaluates the CGI code.
      const { runCgiInvocation } = await import('./web/cgi-invocation.ts');
      return await runCgiInvocation(context, slot, invocation);
    }
    const result = spare
      ? await runOnSpare(context, slot, invocation, spare)
      : await runHandlerOnce(
          context,
          slot,
          invocation,
          invocation.event,
          invocationEnv(context.baseEnv, invocation),
        );
    return answersWithReturnValue(context.handler) ? requireAnswer(result) : result;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return { ok: false, error: new InternalError(`shlambda failed to run the handler: ${message}`) };
  }
}
