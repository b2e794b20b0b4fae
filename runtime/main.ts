/** The runtime's entry point: load the configuration, resolve the handler or report why not, run the loop. */

import { loadConfig, logFormatOf, type RuntimeConfig } from './config.ts';
import { toErrorPayload } from './errors.ts';
import { checkFunctionDefined, checkSpareLoaded } from './function-check.ts';
import { fullCollection, GarbageBudget } from './garbage-budget.ts';
import { preloadIgnored, resolveHandler } from './handler-resolver.ts';
import { startSpare, usesSpares } from './handler-run.ts';
import { baseHandlerEnv } from './invocation-env.ts';
import { runInvocationLoop } from './invocation-loop.ts';
import { createLogger, type Logger } from './logger.ts';
import { RuntimeApiClient } from './runtime-api-client.ts';
import type { PreparedHandler } from './spare-process.ts';
import { RUNTIME_VERSION } from './version.ts';
import type { Zygote } from './zygote.ts';

/** Loading a handler file at init gets this long; Lambda allows 10 s for all of init. */
const INIT_CHECK_TIMEOUT_MS = 5000;
/** A prestarted handler loads its file (Python imports, say) at init; leave Lambda's 10 s some slack. */
const SPARE_LOAD_TIMEOUT_MS = 8000;

async function main(): Promise<void> {
  let config: RuntimeConfig;
  try {
    config = loadConfig(process.env);
  } catch (error) {
    const runtimeApi = process.env.AWS_LAMBDA_RUNTIME_API;
    await failInit(
      runtimeApi ? new RuntimeApiClient(runtimeApi, `shlambda/${RUNTIME_VERSION}`) : undefined,
      error,
      createLogger(logFormatOf(process.env), 'INFO'),
    );
    return;
  }
  const logger = createLogger(config.logFormat, config.logLevel);
  const client = new RuntimeApiClient(config.runtimeApi, `shlambda/${RUNTIME_VERSION}`);
  const baseEnv = baseHandlerEnv(process.env, config.logFormat);
  const zygotes = new Map<number, Zygote>();
  let handler: ReturnType<typeof resolveHandler>;
  const firstSpares: PreparedHandler[] = [];
  try {
    handler = resolveHandler({
      handler: config.handler,
      taskRoot: config.taskRoot,
      // The shims ship beside the bundle (a CommonJS file), wherever the layer was unpacked.
      shimDir: __dirname,
      searchPath: config.path,
      forcedInterpreter: config.interpreter,
      nodePath: process.execPath,
      cgi: config.cgi,
    });
    const checkOptions = { taskRoot: config.taskRoot, env: baseEnv, timeoutMs: INIT_CHECK_TIMEOUT_MS };
    const spares = usesSpares({ config, handler })
      ? startFirstSpares({ config, handler, logger, baseEnv, zygotes })
      : [];
    firstSpares.push(...spares);
    // The connection comes up while the handler loads its file: the first GET /next does not wait for it.
    client.connect();
    // The first prestarted process is the check; bash's throwaway check runs only if it fails to load.
    if (handler.language?.name !== 'bash' || !spares[0]) await checkFunctionDefined(handler, checkOptions);
    if (spares[0]) {
      await checkSpareLoaded(handler, spares[0], { ...checkOptions, timeoutMs: SPARE_LOAD_TIMEOUT_MS });
    }
  } catch (error) {
    for (const spare of firstSpares) spare.discard();
    for (const zygote of zygotes.values()) zygote.discard();
    await failInit(client, error, logger);
    return;
  }
  logger.log(
    'DEBUG',
    `handler ${config.handler}: ${handler.mode} mode${handler.cgi ? ' (CGI)' : ''}, ${handler.command} ${handler.args.join(' ')}`,
  );
  const ignored = preloadIgnored(config.preload, handler);
  if (ignored) logger.log('WARN', ignored);

  keepServingAfterBugs(logger);

  const garbage = new GarbageBudget(fullCollection());
  const context = { config, client, handler, logger, baseEnv, zygotes, garbage };
  try {
    await Promise.all(
      Array.from({ length: config.concurrency }, (_, slot) =>
        runInvocationLoop(context, slot, firstSpares[slot]),
      ),
    );
  } catch (error) {
    logger.log(
      'FATAL',
      `Runtime API failure, exiting so Lambda restarts the runtime: ${(error as Error).message}`,
    );
    process.exit(1);
  }
}

/**
 * A bug in a stream or timer callback must not take down a warm environment: log it and carry on. (Not
 * a closure in main: that would keep all of main's variables, the first prepared processes among them,
 * reachable for as long as the runtime runs.)
 */
function keepServingAfterBugs(logger: Logger): void {
  process.on('uncaughtException', (error) =>
    logger.log('ERROR', `shlambda internal error: ${error.stack ?? error}`),
  );
}

/**
 * One prestarted process per concurrent loop. When they cannot be started (no room in the temporary
 * directory, say), invocations start their own processes and report the cause each time.
 */
function startFirstSpares(context: Parameters<typeof startSpare>[0]): PreparedHandler[] {
  const spares: PreparedHandler[] = [];
  try {
    for (let slot = 0; slot < context.config.concurrency; slot++) spares.push(startSpare(context, slot));
    return spares;
  } catch (error) {
    for (const spare of spares) spare.discard();
    context.logger.log('WARN', `could not prestart the handler: ${(error as Error).message}`);
    return [];
  }
}

/** Reports an init failure the way Lambda shows it (to the first invocation), then exits non-zero. */
async function failInit(client: RuntimeApiClient | undefined, error: unknown, logger: Logger): Promise<void> {
  const payload = toErrorPayload(error);
  const text = [`shlambda init error: ${payload.errorType}: ${payload.errorMessage}`]
    .concat(payload.stackTrace.map((line) => `  ${line}`))
    .join('\n');
  // In the JSON log format (always on Lambda Managed Instances) this is one JSON record like the rest.
  logger.log('FATAL', text);
  if (client) {
    try {
      await client.postInitError(payload);
    } catch (postError) {
      process.stderr.write(`shlambda could not report the init error: ${(postError as Error).message}\n`);
    }
    client.close();
  }
  process.exit(1);
}

void main();
