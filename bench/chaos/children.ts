/**
 * Every child process the chaos harness starts (API instances, redis-server), so that every exit
 * path — success, error, hard timeout, Ctrl-C — kills them all. Only these children are killed, by
 * their own handles, never by name.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { killProcess } from '../../test/support/kill.js';
import { root } from '../lib/processes.js';

const children = new Set<ChildProcess>();

export function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/** SIGKILLs every live child and waits for them to exit. */
export async function killAll(): Promise<void> {
  await Promise.all([...children].map((child) => killProcess(child)));
}

// Last resort (e.g. process.exit from elsewhere): 'exit' handlers run synchronously.
process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

/** Runs `node --import tsx <script>` and resolves once it prints `{"port":n}`; killed if it does not within `timeoutMs`. */
export async function spawnNode(
  script: string,
  env: Record<string, string>,
  timeoutMs = 30_000,
): Promise<{ child: ChildProcess; port: number }> {
  const child = track(
    spawn(process.execPath, ['--import', 'tsx', script], {
      cwd: root,
      env: { PATH: process.env.PATH, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
  let stderr = '';
  child.stderr!.on('data', (chunk) => (stderr = (stderr + String(chunk)).slice(-4_000)));
  try {
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${script} did not start within ${timeoutMs} ms: ${stderr}`)),
        timeoutMs,
      );
      createInterface({ input: child.stdout! }).on('line', (line) => {
        try {
          const parsed = JSON.parse(line) as { port?: number };
          if (parsed.port) {
            clearTimeout(timer);
            resolve(parsed.port);
          }
        } catch {
          /* other output */
        }
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`${script} exited (${code ?? signal}): ${stderr}`));
      });
    });
    return { child, port };
  } catch (error) {
    await killProcess(child);
    throw error;
  }
}
