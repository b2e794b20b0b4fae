/** Decides how a local runtime is isolated: a bubblewrap sandbox laid out like Lambda, or plain directories. */

import { spawnSync } from 'node:child_process';
import { findProgram } from '../runtime/interpreters.ts';

export type SandboxChoice = 'auto' | 'bwrap' | 'none';
export type Sandbox = 'bwrap' | 'none';

let probed: boolean | undefined;

/** True when bubblewrap is installed and allowed to make namespaces here (containers often forbid it). */
export function bwrapWorks(): boolean {
  if (probed === undefined) {
    const bwrap = findProgram('bwrap', process.env.PATH ?? '');
    probed =
      bwrap !== undefined &&
      spawnSync(bwrap, ['--ro-bind', '/', '/', '--unshare-pid', '--die-with-parent', 'true'], {
        stdio: 'ignore',
      }).status === 0;
  }
  return probed;
}

/** Resolves a requested sandbox to the one that will be used, failing when bwrap is demanded but unusable. */
export function chooseSandbox(choice: SandboxChoice): Sandbox {
  if (choice === 'none') return 'none';
  if (bwrapWorks()) return 'bwrap';
  if (choice === 'bwrap') {
    throw new Error(
      'bubblewrap (bwrap) is not installed or cannot create namespaces here; install it or use --sandbox none',
    );
  }
  return 'none';
}

/**
 * The bwrap arguments that show the process Lambda's layout: the host read-only, the layer at /opt,
 * the code at /var/task (read-only, as on Lambda), a private writable /tmp, and its own pid namespace so
 * that stopping bwrap stops everything inside.
 */
export function bwrapArgs(optDir: string, taskDir: string): string[] {
  // biome-ignore format: one flag and its operands per line
  return [
    '--ro-bind', '/', '/',
    '--dev', '/dev',
    '--proc', '/proc',
    '--tmpfs', '/tmp',
    // Lambda's /var holds little but the task root; a tmpfs gives bwrap a place to mount it.
    '--tmpfs', '/var',
    '--ro-bind', taskDir, '/var/task',
    '--remount-ro', '/var',
    '--ro-bind', optDir, '/opt',
    '--chdir', '/var/task',
    '--unshare-pid',
    '--die-with-parent',
    '--new-session',
  ];
}
