/**
 * The Redis store through an ioredis client that finds its master via Redis Sentinel: a real
 * redis-server and a real sentinel the test starts, and the shared contract run through them.
 */
import { afterAll, beforeAll } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { createRedisStore, type RevocationStore, type StoreStatus } from '../../src/index.js';
import { killProcess } from '../support/kill.js';
import { freePort } from '../support/redis-server.js';
import { waitFor } from '../support/wait-for.js';
import { revocationStoreContract } from './store-contract.js';

let dir: string;
let sentinelPort: number;
const children: ChildProcess[] = [];
const clients: Redis[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rjwt-sentinel-'));
  const masterPort = await freePort();
  sentinelPort = await freePort();
  children.push(
    spawn(
      'redis-server',
      ['--port', String(masterPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir],
      { stdio: 'ignore' },
    ),
  );
  // Sentinel rewrites its config file, so it gets a writable one of its own.
  const config = join(dir, 'sentinel.conf');
  await writeFile(
    config,
    `port ${sentinelPort}\nbind 127.0.0.1\ndir ${dir}\nsentinel monitor mymaster 127.0.0.1 ${masterPort} 1\n`,
  );
  children.push(spawn('redis-server', [config, '--sentinel'], { stdio: 'ignore' }));
  await waitFor(
    async () => {
      const probe = new Redis({
        port: sentinelPort,
        host: '127.0.0.1',
        lazyConnect: true,
        maxRetriesPerRequest: 0,
        retryStrategy: () => null,
        // Disconnecting a probe whose connection was refused would otherwise leave a 2 s timer
        // behind, which keeps the Jest worker alive past its exit.
        disconnectTimeout: 0,
      });
      probe.on('error', () => undefined);
      try {
        await probe.connect();
        const master = (await probe.call('SENTINEL', 'get-master-addr-by-name', 'mymaster')) as string[] | null;
        return master?.[1] === String(masterPort);
      } catch {
        return false;
      } finally {
        probe.disconnect();
      }
    },
    'the sentinel to know the master',
    15_000,
  );
}, 30_000);

afterAll(async () => {
  for (const client of clients) client.disconnect();
  await Promise.all(children.map((child) => killProcess(child)));
  await rm(dir, { recursive: true, force: true });
});

async function sentinelStore(clock: () => number): Promise<RevocationStore> {
  const client = new Redis({ sentinels: [{ host: '127.0.0.1', port: sentinelPort }], name: 'mymaster' });
  clients.push(client);
  const store = createRedisStore({ client: client as never, keyPrefix: `rjwt-sentinel:${randomUUID()}:`, clock });
  let status: StoreStatus | undefined;
  const stop = store.watch!((s) => (status = s));
  await waitFor(() => status === 'connected', 'the sentinel-backed store to connect', 10_000);
  stop();
  return store;
}

revocationStoreContract('redis store via Sentinel', { create: (clock) => sentinelStore(clock) });
