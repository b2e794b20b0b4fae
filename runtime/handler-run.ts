/** Runs the resolved handler for one invocation: on a prestarted process, or on one started for it. */

import { closeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { openEventFile } from './event-file.ts';
import { invocationVariables } from './invocation-env.ts';
import type { LoopContext } from './invocation-loop.ts';
import { describeLeftovers } from './leftover-processes.ts';
import { type RunResult, runHandlerProcess } from './process-supervisor.ts';
import type { Invocation } from './runtime-api-client.ts';
import { type PreparedHandler, RESULT_FD_VARIABLE, SpareProcess } from './spare-process.ts';
import { Zygote, type ZygoteKind, zygoteSets } from './zygote.ts';

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
  const ownResultPipe = resultOnOwnPipe(handler);
  let running: Promise<RunResult>;
  try {
    running = runHandlerProcess({
      command: handler.command,
      args: handler.args,
      cwd: config.taskRoot,
      env: ownResultPipe ? { ...env, [RESULT_FD_VARIABLE]: '3' } : env,
      stdinFd,
      ...(ownResultPipe ? { extraFds: ['pipe'], resultFd: 3 } : {}),
      deadlineMs: invocation.deadlineMs,
      timeoutMarginMs: config.timeoutMarginMs,
      killGraceMs: config.killGraceMs,
      onStderrLines: (lines) => logger.handlerLines(invocation.requestId, lines),
    });
  } finally {
    // The child holds its own copy of the descriptor once spawned.
    closeSync(stdinFd);
  }
  return running;
}

/** Whether the handler's shim writes its result on a pipe of its own ({@link RESULT_FD_VARIABLE}):
 *  Node's, in function mode. */
function resultOnOwnPipe(handler: LoopContext['handler']): boolean {
  return handler.mode === 'function' && handler.language?.name === 'node' && !handler.cgi;
}

/** Whether the handler's answer is its function's return value (a shim writes at least `null`), so
 *  that an empty stdout means the function ended its process instead of returning. Not bash, whose
 *  function answers with its stdout, which may be empty. */
export function answersWithReturnValue(handler: LoopContext['handler']): boolean {
  return handler.mode === 'function' && handler.language?.name !== 'bash' && !handler.cgi;
}

/** Whether this handler runs on prestarted processes: function mode (not CGI), unless switched off. */
export function usesSpares(context: Pick<LoopContext, 'config' | 'handler'>): boolean {
  return context.config.prestart && context.handler.mode === 'function' && !context.handler.cgi;
}

type SpareContext = Pick<LoopContext, 'config' | 'handler' | 'logger' | 'baseEnv' | 'zygotes'>;

/**
 * Prepares the process for a slot's next invocation: for bash, Python, Perl, Ruby and PHP, a fork of
 * the slot's zygote (a new zygote when the last one is used up); for Node, and for a PHP without the
 * pcntl and posix extensions, a new interpreter that loads the file.
 */
export function startSpare(context: SpareContext, slot: number): PreparedHandler {
  const { config, handler, logger } = context;
  const zygote = zygoteCommand(handler);
  // A zygote that could not fork stays in the map, so no other is started for nothing.
  if (zygote && context.zygotes.get(slot)?.canFork !== false) {
    const start = (previous: Zygote | undefined): Zygote =>
      new Zygote({
        ...zygote,
        cwd: config.taskRoot,
        env: context.baseEnv,
        tmpDir: config.tmpDir,
        slot,
        sets: zygoteSets(zygote.kind, config.concurrency, previous?.sets),
        onStderrLines: (lines, requestId) => logger.handlerLines(requestId, lines),
        onLeftovers: (sweep, pid) =>
          logger.log(
            'WARN',
            `${describeLeftovers(sweep, `the handler file's top level left running when its zygote (pid ${pid}) ended`)}; what the file starts while loading lives as long as what loaded it`,
          ),
      });
    let current = context.zygotes.get(slot);
    let child = current?.take();
    if (!current || !child) {
      // The successor started ahead takes over; a zygote that died has none yet.
      const ahead = current?.successor;
      if (current) current.successor = undefined;
      // A successor that died while it waited is replaced too.
      current = ahead && !ahead.usedUp ? ahead : start(current);
      context.zygotes.set(slot, current);
      child = current.take();
    }
    if (!child) throw new Error('the new zygote gave no process');
    if (current.wantsSuccessor) {
      // Started while this one still serves, so that the invocation after its last process does not
      // wait for an interpreter to start (Python: ~20 ms).
      try {
        current.successor = start(current);
      } catch (error) {
        // The next call tries again, and says why if it cannot.
        logger.log('WARN', `could not start the next zygote yet: ${(error as Error).message}`);
      }
    }
    return child;
  }
  return new SpareProcess({
    command: handler.command,
    args: handler.args,
    cwd: config.taskRoot,
    env: context.baseEnv,
    tmpDir: config.tmpDir,
    slot,
    onStderrLines: (lines, requestId) => logger.handlerLines(requestId, lines),
    resultOnOwnPipe: resultOnOwnPipe(handler),
  });
}

/** How to start the zygote for a handler that has one (bash, Python, Perl, Ruby, PHP); the zygote
 *  scripts sit beside the shims. */
function zygoteCommand(
  handler: LoopContext['handler'],
): { kind: ZygoteKind; command: string; args: string[] } | undefined {
  const [shim, file, method] = handler.args;
  if (!shim || !file || !method || !handler.method) return undefined;
  const shimDir = dirname(shim);
  switch (handler.language?.name) {
    case 'bash':
      return {
        kind: 'bash',
        command: handler.command,
        args: [join(shimDir, 'zygote-bash.sh'), file, method],
      };
    case 'python':
    case 'perl':
    case 'ruby': {
      const script = { python: 'zygote-python.py', perl: 'zygote-perl.pl', ruby: 'zygote-ruby.rb' }[
        handler.language.name
      ];
      return { kind: 'fork', command: handler.command, args: [join(shimDir, script), shim, file, method] };
    }
    case 'php':
      return {
        kind: 'php',
        command: handler.command,
        args: [join(shimDir, 'zygote-php.php'), shim, file, method],
      };
    default:
      // Node cannot fork: prestarted processes.
      return undefined;
  }
}

/**
 * Runs the invocation on a prestarted process. One that already ended (its file's top level exited,
 * or something killed it while it waited) is replaced by a fresh one, whose outcome then counts.
 */
export function runOnSpare(
  context: LoopContext,
  slot: number,
  invocation: Invocation,
  spare: PreparedHandler,
): Promise<RunResult> {
  let process = spare;
  if (process.exited) {
    process.discard();
    process = startSpare(context, slot);
  }
  try {
    return process.activate(invocation.requestId, invocation.event, invocationVariables(invocation), {
      deadlineMs: invocation.deadlineMs,
      timeoutMarginMs: context.config.timeoutMarginMs,
      killGraceMs: context.config.killGraceMs,
    });
  } catch (error) {
    // The event could not be written (/tmp full, say): that process must not wait on, holding up its
    // zygote and every invocation after it.
    process.discard();
    throw error;
  }
}
