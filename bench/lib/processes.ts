/** Spawns a child that prints `{"port":n}` when ready, optionally pinned to one CPU core. */
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';

export const root = resolve(import.meta.dirname, '../..');

export interface Child {
  port: number;
  url: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

export async function spawnServer(script: string, env: Record<string, string>, core?: number): Promise<Child> {
  const args = ['--import', 'tsx', script];
  const command = core === undefined ? process.execPath : 'taskset';
  const argv = core === undefined ? args : ['-c', String(core), process.execPath, ...args];
  const child = spawn(command, argv, {
    cwd: root,
    env: { PATH: process.env.PATH, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (chunk) => (stderr += String(chunk)));
  const port = await new Promise<number>((resolvePort, reject) => {
    const timer = setTimeout(() => reject(new Error(`${script} did not start: ${stderr}`)), 30_000);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      try {
        const parsed = JSON.parse(line) as { port?: number };
        if (parsed.port) {
          clearTimeout(timer);
          resolvePort(parsed.port);
        }
      } catch {
        /* other output */
      }
    });
    child.once('exit', (code) => reject(new Error(`${script} exited with ${code}: ${stderr}`)));
  });
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    child,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      await new Promise<void>((r) => {
        child.once('exit', () => r());
        child.kill('SIGTERM');
      });
    },
  };
}

/**
 * Runs a one-shot script to completion (optionally pinned to a core list such as 0 or '0,1': a child
 * otherwise inherits this process's affinity; with extra node flags such as --expose-gc) and returns
 * the JSON object it prints as its last stdout line.
 */
export async function runScript<T>(
  script: string,
  options: { env?: Record<string, string>; args?: string[]; core?: number | string; nodeFlags?: string[] } = {},
): Promise<T> {
  const args = [...(options.nodeFlags ?? []), '--import', 'tsx', script, ...(options.args ?? [])];
  const command = options.core === undefined ? process.execPath : 'taskset';
  const argv = options.core === undefined ? args : ['-c', String(options.core), process.execPath, ...args];
  const child = spawn(command, argv, {
    cwd: root,
    env: { PATH: process.env.PATH, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk) => (stdout += String(chunk)));
  child.stderr!.on('data', (chunk) => (stderr += String(chunk)));
  const code = await new Promise<number | null>((resolveExit) => child.once('exit', resolveExit));
  const last = stdout.trim().split('\n').pop() ?? '';
  if (code !== 0) throw new Error(`${script} exited with ${code}: ${stderr || last}`);
  return JSON.parse(last) as T;
}
