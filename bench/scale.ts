/**
 * Revocation at scale (issue 15), on Redis and PostgreSQL, for 10^5 and 10^6 live token
 * revocations. Redis: a private redis-server this benchmark starts on a free port and stops at the
 * end (nothing is left in a shared Redis). PostgreSQL: bench/scale-postgres.ts, in a database of
 * its own on DATABASE_URL's server, dropped at the end. For Redis:
 *
 *  1. publish rate from one process (`store.publish`, 2048 in flight), and Redis memory and CPU
 *     per revocation;
 *  2. cold start: a fresh verifier in a process of its own, from start until its mirror is synced,
 *     and its heap (incl. ArrayBuffers) per revocation after a full GC (3 runs);
 *  3. reconnect after missing 1, 10^3 and 10^5 revocations: an instance cut off through a TCP
 *     proxy, the revocations published meanwhile; from its subscription's return to its resync
 *     (which waits for its command connection to come back too: ioredis retries each connection
 *     on its own jittered schedule), what it read and the Redis CPU it took; and the same read of
 *     the log again once connected, alone (best of 3);
 *  4. propagation with 10^N present: `invalidate()` on instance A (this process) until instance B
 *     (its own store and connections) refuses the token, p50/p99 over 300 revocations;
 *  5. the hit path with 10^N present: authGuard's cache hit (a fresh header string per call) on a
 *     verifier whose mirror holds them, against one whose mirror is empty, interleaved rounds of
 *     CPU time per call;
 *  6. 20 instances at once (one child process, 20 stores with their own connections through one
 *     proxy): all cold-starting together, then all reconnecting together after missing 10^3:
 *     wall time and the Redis time spent (INFO cpu and commandstats deltas).
 *
 * With --before <commit> (default: the commit before this work), the same tree's predecessor is
 * measured in the same run on the same Redis for 1, 2 and 5 (its own key layout, under another
 * prefix): today's figures next to ours. The machine is shared: the load average and CPU steal
 * around each section are recorded, and the figures are indicative. Results:
 * bench/results/scale.json (Redis) and scale-postgres.json.
 *
 * Usage: npm run bench:scale [-- --quick] [--sizes 100000,1000000] [--stores redis,postgres]
 *          [--before <commit>] [--pg-before <commit>] [--no-before]
 */
import { execFileSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Redis } from 'ioredis';
import * as current from '../src/index.js';
import type { RevocationStore, Verifier } from '../src/index.js';
import { startPrivateRedis, type PrivateRedis } from '../test/support/redis-server.js';
import { startTcpProxy, type TcpProxy } from '../test/support/tcp-proxy.js';
import { root } from './lib/processes.js';
import {
  coldStarts,
  collectGarbage,
  connected,
  extract,
  hitPath,
  LIFETIME_MS,
  load,
  log,
  NO_BEFORE,
  option,
  propagation,
  PROPAGATIONS,
  publishMany,
  quick,
  readAgainMs,
  site,
  SIZES,
  STORES,
  storm,
  STORM_INSTANCES,
  timedReads,
  until,
  type Library,
  type TimedStore,
} from './lib/scale.js';
import { postgresScale } from './scale-postgres.js';
import { type ScaleRun, scaleTable } from './lib/scale-table.js';
import { cpuDelta, cpuSnapshot, median, round } from './lib/stats.js';
import { accessClaims, generateKey, mint, type BenchKey } from './lib/tokens.js';

const BEFORE = NO_BEFORE ? undefined : option('before', '35ae1b8');

interface RedisStats {
  memory: number;
  cpu: number;
  commands: Record<string, { calls: number; usec: number }>;
}

async function redisStats(admin: Redis): Promise<RedisStats> {
  const text = await admin.info('all');
  const number = (name: string) => Number(text.match(new RegExp(`^${name}:([\\d.]+)`, 'm'))?.[1] ?? Number.NaN);
  const commands: RedisStats['commands'] = {};
  for (const match of text.matchAll(/^cmdstat_(\w+):calls=(\d+),usec=(\d+)/gm))
    commands[match[1]!] = { calls: Number(match[2]), usec: Number(match[3]) };
  return { memory: number('used_memory'), cpu: number('used_cpu_user') + number('used_cpu_sys'), commands };
}

/** Redis CPU (ms) and commands run between two stats, the busiest first. */
function redisDelta(before: RedisStats, after: RedisStats) {
  const commands = Object.entries(after.commands)
    .map(([name, { calls, usec }]) => ({
      name,
      calls: calls - (before.commands[name]?.calls ?? 0),
      usec: usec - (before.commands[name]?.usec ?? 0),
    }))
    .filter((c) => c.calls > 0)
    .sort((a, b) => b.usec - a.usec);
  return { cpuMs: round((after.cpu - before.cpu) * 1000, 1), commands };
}

interface Tree {
  name: 'after' | 'before';
  src: string;
  lib: Library;
  prefix: string;
}

/** A verifier of `tree` on a Redis store at `url`, synced. */
async function syncedVerifier(
  tree: Tree,
  url: string,
  key: BenchKey,
): Promise<{ verifier: Verifier; close(): Promise<void> }> {
  const store = tree.lib.createRedisStore({ url, keyPrefix: tree.prefix, syncTimeout: 60, commandTimeout: 60 });
  const verifier = tree.lib.createVerifier({ ...site, jwks: { keys: [key.publicJwk] }, store });
  await until(() => verifier.stats().revocation.store.synced, 'a verifier to sync');
  return {
    verifier,
    async close() {
      await verifier.close();
      await store.close();
    },
  };
}

/** Cold starts of a fresh verifier on the Redis store of `tree`. */
function redisColdStarts(tree: Tree, redis: PrivateRedis, key: BenchKey, runs: number) {
  return coldStarts(tree.src, { REDIS_URL: redis.url, KEY_PREFIX: tree.prefix }, key, runs);
}

interface ListLike {
  apply(revocation: { type: 'token'; key: string; expiresAt: number }): unknown;
  isRevoked(keys: unknown, iat: unknown, now: number): boolean;
}

/**
 * The list check alone (what the hit path adds for revocations), this tree's compact table against
 * the predecessor's map, each with `size` token revocations and empty, interleaved rounds of
 * wall-clock ns per call for a token that is not revoked (the usual case).
 */
async function listCheck(size: number, beforeDir: string | undefined) {
  const load = async (dir: string) =>
    (await import(pathToFileURL(join(dir, 'src/core/revoke/revocation-list.ts')).href)) as {
      RevocationList: new () => ListLike;
    };
  const lists: Record<string, ListLike> = {};
  const make = (List: new () => ListLike, n: number) => {
    const list = new List();
    const expiresAt = Date.now() + LIFETIME_MS;
    for (let i = 0; i < n; i++) list.apply({ type: 'token', key: `jti:x:${i}`, expiresAt });
    return list;
  };
  const ours = await load(root);
  lists.empty = make(ours.RevocationList, 0);
  lists[`${size}`] = make(ours.RevocationList, size);
  if (beforeDir !== undefined) {
    const theirs = await load(beforeDir);
    lists['empty, before'] = make(theirs.RevocationList, 0);
    lists[`${size}, before`] = make(theirs.RevocationList, size);
  }
  const { revocationKeysFor } = await import('../src/core/revoke/revocation-identity.js');
  const keys = revocationKeysFor({ token: 't', payload: { iss: site.issuer, jti: 'not-revoked' }, source: 'jwt' });
  const now = Date.now();
  const samples: Record<string, number[]> = Object.fromEntries(Object.keys(lists).map((n) => [n, []]));
  for (let r = 0; r < 6; r++) {
    for (const [name, list] of r % 2 === 0 ? Object.entries(lists) : Object.entries(lists).reverse()) {
      let revoked = 0;
      const calls = 5_000_000;
      const start = process.hrtime.bigint();
      for (let i = 0; i < calls; i++) if (list.isRevoked(keys, 1, now)) revoked++;
      samples[name]!.push(Number(process.hrtime.bigint() - start) / calls);
      if (revoked !== 0) throw new Error('a token that is not revoked was found revoked');
    }
  }
  return Object.fromEntries(Object.entries(samples).map(([name, ns]) => [name, round(median(ns), 2)]));
}

/** An instance behind a proxy: cut off while `missed` revocations are published, then back. */
type RedisTimedStore = TimedStore<current.RedisRevocationStore>;

async function reconnect(
  instance: Verifier,
  store: RedisTimedStore,
  proxy: TcpProxy,
  publisher: RevocationStore,
  admin: Redis,
  missed: number,
  tag: string,
) {
  let status = 'connected';
  const stop = store.watch!((s) => (status = s));
  proxy.cut();
  await until(() => status === 'disconnected', 'the instance to lose Redis');
  await publishMany(publisher, missed, tag);
  let resynced: { entries: number; healed: number } | undefined;
  const listener = (event: { entries: number; healed: number }) => (resynced = event);
  instance.on('store-resynced', listener);
  const before = await redisStats(admin);
  const start = performance.now();
  proxy.restore();
  await until(() => status === 'connected', 'the instance to reconnect');
  const connectedMs = performance.now() - start;
  await until(() => resynced !== undefined && instance.stats().revocation.store.synced, 'the resync');
  const ms = performance.now() - start;
  const redis = redisDelta(before, await redisStats(admin));
  instance.off('store-resynced', listener);
  stop();
  // From the restore: the connections come back (ioredis's jittered retries, the subscription's
  // and the commands' each on its own), then the resync reads (`readMs`: the change log read alone).
  return {
    missed,
    ms: round(ms, 1),
    resyncMs: round(ms - connectedMs, 1),
    readMs: round(store.lastReadMs, 1),
    readAgainMs: await readAgainMs(store),
    read: resynced!.entries,
    redisCpuMs: redis.cpuMs,
  };
}

/** 20 instances in one child process: a cold start together, then a reconnect together after missing 10^3. */
async function redisStorm(tree: Tree, redis: PrivateRedis, admin: Redis, publisher: RevocationStore, key: BenchKey) {
  const proxy = await startTcpProxy(redis.port);
  try {
    return await storm({
      env: {
        SRC: tree.src,
        REDIS_URL: `redis://127.0.0.1:${proxy.port}`,
        KEY_PREFIX: tree.prefix,
        JWK: JSON.stringify(key.publicJwk),
      },
      proxy,
      publisher,
      measure: () => redisStats(admin),
      delta: (before, after) => {
        const d = redisDelta(before, after);
        return { redisCpuMs: d.cpuMs, commands: d.commands.slice(0, 4) };
      },
    });
  } finally {
    await proxy.close();
  }
}

/** The Redis half of the run: results in bench/results/scale.json. */
async function redisScale(key: BenchKey) {
  const startedAt = Date.now();
  const cpuAtStart = cpuSnapshot();
  const redis = await startPrivateRedis();
  const admin = new Redis(redis.url);
  const before = BEFORE === undefined ? undefined : extract(BEFORE);
  const trees: Tree[] = [{ name: 'after', src: join(root, 'src/index.ts'), lib: current, prefix: 'after:' }];
  if (before) trees.push({ name: 'before', src: before.src, lib: await before.lib, prefix: 'before:' });
  const results: Record<string, unknown>[] = [];
  try {
    for (const size of SIZES) {
      await admin.flushall();
      const result: Record<string, unknown> = { size };
      results.push(result);
      for (const tree of trees) {
        const section: Record<string, unknown> = { load: [load()] };
        result[tree.name] = section;
        log(`${tree.name}, ${size}: publishing`);
        const publisher = tree.lib.createRedisStore({ url: redis.url, keyPrefix: tree.prefix, commandTimeout: 60 });
        await connected(publisher);
        const stats0 = await redisStats(admin);
        const rate = await publishMany(publisher, size, 'live');
        const stats1 = await redisStats(admin);
        section.publishPerSecond = Math.round(rate);
        section.redisBytesPerRevocation = Math.round((stats1.memory - stats0.memory) / size);
        section.redisCpuUsPerRevocation = round(((stats1.cpu - stats0.cpu) * 1e6) / size, 2);
        log(`  ${Math.round(rate)}/s; cold starts`);
        section.coldStart = await redisColdStarts(tree, redis, key, 3);
        section.load = [...(section.load as number[]), load()];
        await publisher.close();
      }
      // Hit path and propagation with `size` present, this tree (and the one before, hit path only).
      log(`${size}: propagation`);
      const after = trees[0]!;
      const proxy = await startTcpProxy(redis.port);
      const bStore = timedReads(
        current.createRedisStore({
          url: `redis://127.0.0.1:${proxy.port}`,
          keyPrefix: after.prefix,
          syncTimeout: 60,
          commandTimeout: 60,
        }),
      );
      const b = current.createVerifier({ ...site, jwks: { keys: [key.publicJwk] }, store: bStore });
      const aStore = current.createRedisStore({ url: redis.url, keyPrefix: after.prefix, commandTimeout: 60 });
      const a = current.createVerifier({ ...site, jwks: { keys: [key.publicJwk] }, store: aStore });
      const empty = current.createVerifier({ ...site, jwks: { keys: [key.publicJwk] } });
      await until(() => b.stats().revocation.store.synced && a.stats().revocation.store.synced, 'A and B to sync');
      collectGarbage();
      result.propagation = await propagation(a, b, key, PROPAGATIONS);
      log(`${size}: reconnects`);
      result.reconnect = [];
      for (const missed of [1, 1_000, 100_000]) {
        collectGarbage();
        (result.reconnect as unknown[]).push(
          await reconnect(b, bStore, proxy, aStore, admin, missed, `missed${missed}`),
        );
      }
      // Last, as the predecessor's mirror (one Map entry per revocation) weighs on the heap.
      log(`${size}: hit path`);
      const old = before ? await syncedVerifier(trees[1]!, redis.url, key) : undefined;
      const token = mint(key, accessClaims(site));
      for (const v of [b, empty, old?.verifier]) await v?.verify(token);
      const cases: Record<string, { lib: Library; verifier: Verifier }> = {
        'empty mirror': { lib: current, verifier: empty },
        [`${size} in the mirror`]: { lib: current, verifier: b },
      };
      if (old) cases[`${size} in the mirror, before`] = { lib: trees[1]!.lib, verifier: old.verifier };
      collectGarbage();
      const cpuBefore = cpuSnapshot();
      result.hitPath = { load: load(), cases: hitPath(cases, token), cpu: cpuDelta(cpuBefore, cpuSnapshot()).cpu };
      await old?.close();
      collectGarbage();
      result.listCheckNs = await listCheck(size, before?.dir);
      await Promise.all([a.close(), b.close(), empty.close()]);
      await Promise.all([aStore.close(), bStore.close()]);
      await proxy.close();
      log(`${size}: ${STORM_INSTANCES} instances at once`);
      const publisher = current.createRedisStore({ url: redis.url, keyPrefix: after.prefix, commandTimeout: 60 });
      await connected(publisher);
      result.storm = await redisStorm(after, redis, admin, publisher, key);
      await publisher.close();
      result.load = load();
    }
  } finally {
    admin.disconnect();
    await redis.stop();
    before?.remove();
  }
  const output = {
    date: new Date(startedAt).toISOString(),
    minutes: round((Date.now() - startedAt) / 60_000, 1),
    node: process.version,
    redis: execFileSync('redis-server', ['--version'], { encoding: 'utf8' }).trim(),
    before: BEFORE,
    cpu: cpuDelta(cpuAtStart, cpuSnapshot()),
    results,
  };
  await mkdir(join(root, 'bench/results'), { recursive: true });
  await writeFile(
    join(root, `bench/results/scale${quick ? '-quick' : ''}.json`),
    `${JSON.stringify(output, null, 2)}\n`,
  );
  report(output);
}

function report(output: ScaleRun) {
  const { row, both, sharedRows, finish } = scaleTable('', output);
  row(
    'publish rate, one process (/s)',
    both((s) => s.publishPerSecond),
  );
  row(
    'Redis memory per revocation (B)',
    both((s) => s.redisBytesPerRevocation),
  );
  row(
    'Redis CPU per published revocation (µs)',
    both((s) => s.redisCpuUsPerRevocation),
  );
  row(
    'cold start, fresh verifier synced (ms, median of 3)',
    both((s) => s.coldStart.syncMs),
  );
  row(
    'heap per revocation in the mirror (B)',
    both((s) => s.coldStart.heapBytesPerRevocation),
  );
  for (const i of [0, 1, 2]) {
    row(
      `reconnect after missing ${output.results[0]!.reconnect[i].missed}: the read alone ms (resync ms; Redis CPU ms)`,
      (r) => {
        const x = r.reconnect[i];
        return `${x.readAgainMs} (${x.resyncMs}; ${x.redisCpuMs})`;
      },
    );
  }
  sharedRows();
  row('authGuard hit, N in the mirror, before (ns, ratio)', (r) => {
    const c = r.hitPath.cases[`${r.size} in the mirror, before`];
    return c ? `${c.medianNs} (${c.ratioToEmpty})` : '–';
  });
  finish(STORM_INSTANCES, 'redisCpuMs', 'Redis');
}

async function main() {
  const key = await generateKey('ES256');
  if (STORES.includes('redis')) await redisScale(key);
  if (STORES.includes('postgres')) await postgresScale(key);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
