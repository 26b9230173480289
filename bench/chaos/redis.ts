/**
 * The harness's private redis-server (no persistence: a restart comes back empty) on a free
 * 127.0.0.1 port, with the faults `npm run chaos` injects: SIGKILL and restart on the same port,
 * a write stall (`CLIENT PAUSE <ms> WRITE`) and failing writes (`maxmemory 1` + `noeviction`: SET and
 * EVAL answer OOM while every connection stays up).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { Redis, ReplyError } from 'ioredis';
import { killProcess } from '../../test/support/kill.js';
import { freePort } from '../../test/support/redis-server.js';
import { waitFor } from '../../test/support/wait-for.js';
import { track } from './children.js';

export interface ChaosRedis {
  url: string;
  /** The live redis-server process, if any (for last-resort cleanup). */
  readonly child: ChildProcess | undefined;
  kill(): Promise<void>;
  /** Starts an empty redis-server on the same port. */
  restart(): Promise<void>;
  command(...args: Array<string | number>): Promise<unknown>;
  stop(): Promise<void>;
}

export async function startChaosRedis(): Promise<ChaosRedis> {
  let child: ChildProcess | undefined;
  let port = 0;
  const once = async (...args: Array<string | number>) => {
    const client = new Redis({
      port,
      host: '127.0.0.1',
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
      commandTimeout: 2_000,
    });
    client.on('error', () => undefined);
    try {
      await client.connect();
      return await client.call(String(args[0]), ...args.slice(1).map(String));
    } finally {
      client.disconnect();
    }
  };
  // A busy machine sometimes drops a fresh admin connection: retry, bounded.
  const command = async (...args: Array<string | number>) => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await once(...args);
      } catch (error) {
        if (attempt >= 3 || error instanceof ReplyError) throw error; // an answer from Redis is final
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  };
  const launch = async () => {
    const spawned = track(
      spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
        stdio: 'ignore',
      }),
    );
    child = spawned;
    let exited = false;
    spawned.once('exit', () => (exited = true));
    try {
      await waitFor(
        async () =>
          exited ||
          (await once('PING').then(
            (r) => r === 'PONG',
            () => false,
          )),
        `redis-server on port ${port}`,
        10_000,
      );
    } catch (error) {
      await killProcess(spawned);
      throw error;
    }
    if (exited) throw new Error(`redis-server could not start on port ${port}`);
  };
  // freePort() closes its probe before redis binds: another process could take the port in between.
  for (let attempt = 1; ; attempt++) {
    port = await freePort();
    try {
      await launch();
      break;
    } catch (error) {
      if (attempt >= 3) throw error;
    }
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    get child() {
      return child;
    },
    kill: () => killProcess(child),
    restart: launch,
    command,
    stop: () => killProcess(child),
  };
}
