import type { ChildProcess } from 'node:child_process';

/** SIGKILLs a child process (a crash, not a shutdown) and resolves once it has exited. */
export function killProcess(child: ChildProcess | undefined, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill(signal);
  });
}
