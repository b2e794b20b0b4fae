/** `shlambda invoke`: invokes a function once and shows its response, its log tail and its error. */

import { parseArgs } from 'node:util';
import { InvokeCommand } from '@aws-sdk/client-lambda';
import {
  AWS_OPTIONS,
  AWS_OPTIONS_HELP,
  connectAws,
  explainingErrors,
  loadAwsSettings,
} from './aws-clients.ts';
import { CommandOutput } from './command-output.ts';
import { readJsonArgument } from './json-argument.ts';

const HELP = `Usage: shlambda invoke --function-name NAME [--payload JSON|@file] [--log]

Invokes the function synchronously and prints the response on stdout. A function error is shown on
stderr with its type and message, and the command exits 1.

Options:
  --function-name NAME  the function
  --payload JSON|@FILE  the event (default {})
  --log                 print the last 4 KB of the invocation's log on stderr

${AWS_OPTIONS_HELP}`;

export async function runInvokeCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      ...AWS_OPTIONS,
      'function-name': { type: 'string' },
      payload: { type: 'string', default: '{}' },
      log: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const functionName = values['function-name'];
  if (!functionName) throw new Error('--function-name is required');
  const payload = readJsonArgument('--payload', values.payload);
  const out = new CommandOutput(values.json);
  const settings = loadAwsSettings(values, process.env);
  const aws = await connectAws(settings);
  try {
    const answer = await explainingErrors(
      aws,
      () =>
        aws.lambda.send(
          new InvokeCommand({
            FunctionName: functionName,
            Payload: payload,
            ...(values.log ? { LogType: 'Tail' as const } : {}),
          }),
        ),
      functionName,
    );
    const body = Buffer.from(answer.Payload ?? new Uint8Array());
    const log = answer.LogResult ? Buffer.from(answer.LogResult, 'base64').toString('utf8') : undefined;
    if (log !== undefined && !out.json) process.stderr.write(log.endsWith('\n') || !log ? log : `${log}\n`);
    if (out.json) {
      const text = body.toString('utf8');
      out.result(
        {
          functionName,
          statusCode: answer.StatusCode,
          executedVersion: answer.ExecutedVersion,
          ...(answer.FunctionError ? { functionError: answer.FunctionError } : {}),
          payload: parseOr(text),
          ...(log !== undefined ? { log } : {}),
        },
        [],
      );
    } else if (!answer.FunctionError) {
      process.stdout.write(body);
      if (process.stdout.isTTY) process.stdout.write('\n');
    }
    if (answer.FunctionError) {
      const error = parseOr(body.toString('utf8')) as { errorType?: unknown; errorMessage?: unknown };
      const described =
        typeof error === 'object' && error !== null && 'errorType' in error
          ? `${String(error.errorType)}: ${String(error.errorMessage ?? '')}`
          : body.toString('utf8');
      process.stderr.write(
        `shlambda invoke: ${functionName} failed (${answer.FunctionError}): ${described}\n`,
      );
      return 1;
    }
    return 0;
  } finally {
    aws.lambda.destroy();
  }
}

function parseOr(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
