/**
 * A throwaway Redis Cluster (3 masters, no replicas) on free 127.0.0.1 ports, for testing the
 * Redis store through an ioredis `Cluster` client: keys spread over nodes, scripts routed by slot,
 * pub/sub across the cluster.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { killProcess } from './kill.js';
import { freePort } from './redis-server.js';
import { waitFor } from './wait-for.js';

const run = promisify(execFile);

export interface RedisCluster {
  nodes: Array<{ host: string; port: number }>;
  stop(): Promise<void>;
}

export async function startRedisCluster(size = 3): Promise<RedisCluster> {
  const dir = await mkdtemp(join(tmpdir(), 'rjwt-cluster-'));
  const ports: number[] = [];
  for (let i = 0; i < size; i++) ports.push(await freePort());
  const children: ChildProcess[] = ports.map((port) =>
    spawn(
      'redis-server',
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--cluster-enabled',
        'yes',
        '--cluster-config-file',
        `nodes-${port}.conf`,
        '--save',
        '',
        '--appendonly',
        'no',
        '--dir',
        dir,
      ],
      { stdio: 'ignore' },
    ),
  );
  const info = async (port: number) =>
    (await run('redis-cli', ['-p', String(port), 'cluster', 'info']).catch(() => ({ stdout: '' }))).stdout;
  await waitFor(
    async () => (await Promise.all(ports.map(info))).every((text) => text.includes('cluster_state')),
    'cluster nodes to start',
    10_000,
  );
  await run('redis-cli', [
    '--cluster',
    'create',
    ...ports.map((p) => `127.0.0.1:${p}`),
    '--cluster-replicas',
    '0',
    '--cluster-yes',
  ]);
  await waitFor(
    async () => (await Promise.all(ports.map(info))).every((text) => text.includes('cluster_state:ok')),
    'cluster_state:ok',
    15_000,
  );
  return {
    nodes: ports.map((port) => ({ host: '127.0.0.1', port })),
    async stop() {
      await Promise.all(children.map((child) => killProcess(child)));
      await rm(dir, { recursive: true, force: true });
    },
  };
}
