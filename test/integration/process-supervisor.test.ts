/** The handler process supervisor with real processes: deadlines the timers cannot hold as they are. */

import { closeSync, openSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { runHandlerProcess } from '../../runtime/process-supervisor.ts';

const stdin: number[] = [];
afterEach(() => {
  for (const fd of stdin.splice(0)) closeSync(fd);
});

function run(script: string, deadlineMs: number) {
  const fd = openSync('/dev/null', 'r');
  stdin.push(fd);
  return runHandlerProcess({
    command: 'sh',
    args: ['-c', script],
    cwd: '/tmp',
    env: { PATH: process.env.PATH },
    stdinFd: fd,
    onStderrLines: () => {},
    deadlineMs,
    timeoutMarginMs: 400,
    killGraceMs: 150,
  });
}

describe('runHandlerProcess deadlines', () => {
  it('lets a handler finish under a deadline weeks away (past what one timer can wait)', async () => {
    const result = await run('sleep 0.3; printf done', Date.now() + 40 * 24 * 3600 * 1000);
    expect(result.ok && Buffer.concat(result.chunks).toString()).toBe('done');
  });

  it('still ends a handler whose deadline has passed', async () => {
    const result = await run('sleep 30', Date.now() - 1000);
    expect(result.ok).toBe(false);
    expect(!result.ok && result.error.name).toBe('Function.Timeout');
  });
});
