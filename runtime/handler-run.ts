/** Runs the resolved handler once on given stdin bytes and environment: the step every invocation path shares. */

import fs from 'node:fs';
import { openEventFile } from './event-file.ts';
import type { LoopContext } from './invocation-loop.ts';
import { type RunResult, runHandlerProcess } from './process-supervisor.ts';
import type { Invocation } from './runtime-api-client.ts';

/**
 * Writes `stdin` to an event file, runs the handler on it under the invocation's deadline with its
 * stderr going to the log, and closes the file once the child holds its own copy.
 * @throws only when the event file cannot be written; the handler's failures are in the result.
 */
export async function runHandlerOnce(
  context: LoopContext,
  slot: number,
  invocation: Invocation,
  stdin: Buffer,
  env: NodeJS.ProcessEnv,
): Promise<RunResult> {
  const { config, handler, logger } = context;
  const stdinFd = openEventFile(config.tmpDir, slot, stdin);
  let running: Promise<RunResult>;
  try {
    running = runHandlerProcess({
      command: handler.command,
      args: handler.args,
      cwd: config.taskRoot,
      env,
      stdinFd,
      deadlineMs: invocation.deadlineMs,
      timeoutMarginMs: config.timeoutMarginMs,
      killGraceMs: config.killGraceMs,
      onStderrLines: (lines) => logger.handlerLines(invocation.requestId, lines),
    });
  } finally {
    // The child holds its own copy of the descriptor once spawned.
    fs.closeSync(stdinFd);
  }
  return running;
}
