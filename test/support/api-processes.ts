/** Starts and stops API instances (test/support/api-instance.ts) as separate processes. */
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { killProcess } from './kill.js';

const root = resolve(import.meta.dirname, '../..');

export interface ApiProcess {
  url: string;
  child: ChildProcess;
  get(path: string, token?: string): Promise<{ status: number; body: any; headers: Headers }>;
  post(path: string, body: unknown, token?: string): Promise<{ status: number; body: any; headers: Headers }>;
  stats(): Promise<any>;
  /** SIGKILL: a crash, not a graceful stop. */
  kill(): Promise<void>;
  stop(): Promise<void>;
}

export async function startApiProcess(env: Record<string, string>): Promise<ApiProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/support/api-instance.ts'], {
    cwd: root,
    env: { PATH: process.env.PATH, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (chunk) => (stderr += String(chunk)));
  const port = await new Promise<number>((resolvePort, reject) => {
    const lines = createInterface({ input: child.stdout! });
    const timer = setTimeout(() => reject(new Error(`api instance did not start: ${stderr}`)), 20_000);
    lines.on('line', (line) => {
      try {
        const { port } = JSON.parse(line) as { port: number };
        clearTimeout(timer);
        resolvePort(port);
      } catch {
        /* not the port line */
      }
    });
    child.once('exit', (code) => reject(new Error(`api instance exited with ${code}: ${stderr}`)));
  });
  const url = `http://127.0.0.1:${port}`;
  const call = async (method: string, path: string, body?: unknown, token?: string) => {
    const response = await fetch(`${url}${path}`, {
      method,
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      body: body !== undefined ? JSON.stringify(body) : undefined,
    });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      /* keep text */
    }
    return { status: response.status, body: parsed as any, headers: response.headers };
  };
  return {
    url,
    child,
    get: (path, token) => call('GET', path, undefined, token),
    post: (path, body, token) => call('POST', path, body, token),
    stats: async () => (await call('GET', '/admin/stats')).body,
    kill: () => killProcess(child),
    stop: () => killProcess(child, 'SIGTERM'),
  };
}
