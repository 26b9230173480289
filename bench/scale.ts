/**
 * Revocation at scale (issue 15), on a private redis-server this benchmark starts on a free port
 * and stops at the end (nothing is left in a shared Redis). For 10^5 and 10^6 live token
 * revocations:
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
 * around each section are recorded, and the figures are indicative.
 *
 * Usage: npm run bench:scale [-- --quick] [--sizes 100000,1000000] [--before <commit> | --no-before]
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { Redis } from 'ioredis';
import { do_not_optimize } from 'mitata';
import * as current from '../src/index.js';
import type { RevocationStore, Verifier } from '../src/index.js';
import { startPrivateRedis, type PrivateRedis } from '../test/support/redis-server.js';
import { startTcpProxy, type TcpProxy } from '../test/support/tcp-proxy.js';
import { root, runScript } from './lib/processes.js';
import { cpuDelta, cpuSnapshot, median, round, summarize } from './lib/stats.js';
import { accessClaims, generateKey, mint, type BenchKey } from './lib/tokens.js';

type Library = typeof current;

const args = process.argv.slice(2);
const option = (name: string, fallback: string): string => {
  const at = args.indexOf(`--${name}`);
  return at === -1 ? fallback : (args[at + 1] ?? fallback);
};
const quick = args.includes('--quick');
const SIZES = option('sizes', quick ? '10000,100000' : '100000,1000000')
  .split(',')
  .map(Number);
const BEFORE = args.includes('--no-before') ? undefined : option('before', '35ae1b8');
const HIT_ROUNDS = quick ? 4 : 12;
const HIT_MIN_CPU_US = (quick ? 150 : 300) * 1e3;
const PROPAGATIONS = quick ? 100 : 300;
const STORM_INSTANCES = 20;
const LIFETIME_MS = 3_600_000;
const site = { issuer: 'https://idp.bench.example/', audience: 'https://api.bench.example' };

/** A full GC before a timed section, when run with --expose-gc (npm run bench:scale does). */
const collectGarbage = () => (globalThis as { gc?: () => void }).gc?.();
const log = (line: string) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${line}`);
const load = () => round(loadavg()[0]!, 2);

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

async function until(condition: () => boolean, what: string, timeoutMs = 120_000): Promise<void> {
  const start = performance.now();
  while (!condition()) {
    if (performance.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

/** Publishes `count` token revocations through `store`, `inFlight` at a time; revocations per second. */
async function publishMany(store: RevocationStore, count: number, tag: string, inFlight = 2048): Promise<number> {
  const expiresAt = Date.now() + LIFETIME_MS;
  let next = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next < count) {
        const i = next++;
        await store.publish({ type: 'token', key: `jti:${encodeURIComponent(site.issuer)}:${tag}-${i}`, expiresAt });
      }
    }),
  );
  return count / ((performance.now() - start) / 1000);
}

async function connected(store: RevocationStore): Promise<void> {
  let up = false;
  const stop = store.watch!((status) => (up = status === 'connected'));
  await until(() => up, 'the store to connect');
  stop();
}

/** The source of an earlier commit, beside a link to our node_modules; removed at exit. */
function extract(commit: string): { dir: string; src: string; lib: Promise<Library>; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'revocable-jwt-scale-'));
  execFileSync('sh', ['-c', `git -C "${root}" archive "${commit}" src | tar -x -C "${dir}"`]);
  symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'));
  const src = join(dir, 'src/index.ts');
  const lib = import(pathToFileURL(src).href) as Promise<Library>;
  return { dir, src, lib, remove: () => rmSync(dir, { recursive: true, force: true }) };
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

async function coldStarts(tree: Tree, redis: PrivateRedis, key: BenchKey, runs: number) {
  const results: Array<{ syncMs: number; revocations: number; heapPerRevocation: number }> = [];
  for (let run = 0; run < runs; run++) {
    results.push(
      await runScript('bench/scale-instance.ts', {
        nodeFlags: ['--expose-gc'],
        env: {
          MODE: 'cold',
          SRC: tree.src,
          REDIS_URL: redis.url,
          KEY_PREFIX: tree.prefix,
          ISSUER: site.issuer,
          AUDIENCE: site.audience,
          JWK: JSON.stringify(key.publicJwk),
        },
      }),
    );
  }
  return {
    syncMs: round(median(results.map((r) => r.syncMs)), 0),
    syncMsRuns: results.map((r) => round(r.syncMs, 0)),
    heapBytesPerRevocation: round(median(results.map((r) => r.heapPerRevocation)), 1),
    revocations: results[0]!.revocations,
  };
}

/** CPU nanoseconds per call of `fn`, over batches until HIT_MIN_CPU_US of CPU time is spent (after a warm-up batch). */
function cpuNsPerOp(fn: () => void): number {
  const batch = 10_000;
  for (let i = 0; i < batch; i++) fn();
  let calls = 0;
  const start = process.cpuUsage();
  let spentUs = 0;
  while (spentUs < HIT_MIN_CPU_US) {
    for (let i = 0; i < batch; i++) fn();
    calls += batch;
    const used = process.cpuUsage(start);
    spentUs = used.user + used.system;
  }
  return (spentUs * 1e3) / calls;
}

type Guard = (req: never, res: never, next: (err?: unknown) => void) => void;

/** authGuard's cache hit on each verifier, interleaved rounds (order alternating), CPU ns per call. */
function hitPath(cases: Record<string, { lib: Library; verifier: Verifier }>, token: string) {
  const header = `Bearer ${token}`;
  const fresh = (value: string): string => ` ${value}`.slice(1);
  const request = () => ({
    method: 'GET',
    url: '/notes',
    headers: { host: '127.0.0.1:3000', authorization: fresh(header) },
    rawHeaders: ['Host', '127.0.0.1:3000', 'Authorization', header],
  });
  const next = (err?: unknown): void => {
    if (err !== undefined) throw err;
  };
  const guards = Object.fromEntries(
    Object.entries(cases).map(([name, { lib, verifier }]) => [name, lib.authGuard({ verifier }) as Guard]),
  );
  const names = Object.keys(guards);
  const samples: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
  for (let r = 0; r < HIT_ROUNDS; r++) {
    for (const name of r % 2 === 0 ? names : [...names].reverse()) {
      const guard = guards[name]!;
      samples[name]!.push(
        cpuNsPerOp(() => {
          const req = request();
          guard(req as never, {} as never, next);
          do_not_optimize(req);
        }),
      );
    }
  }
  const baseline = names[0]!;
  return Object.fromEntries(
    names.map((name) => [
      name,
      {
        medianNs: round(median(samples[name]!), 1),
        minNs: round(Math.min(...samples[name]!), 1),
        // Each round measured every case back to back: the ratio to the baseline of its own round.
        ratioToEmpty: round(median(samples[name]!.map((ns, r) => ns / samples[baseline]![r]!)), 3),
        rounds: samples[name]!.map((ns) => round(ns, 1)),
      },
    ]),
  );
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

/** invalidate() on A until B refuses the token (B's cache held it), for `count` tokens. */
async function propagation(a: Verifier, b: Verifier, key: BenchKey, count: number) {
  const seen: number[] = [];
  const confirmed: number[] = [];
  for (let i = 0; i < count; i++) {
    const token = mint(key, accessClaims(site));
    await b.verify(token);
    const start = performance.now();
    let resolvedAt = Number.NaN;
    const invalidated = a.invalidate(token).then(() => (resolvedAt = performance.now()));
    while (b.peek(token) !== undefined) {
      await new Promise((resolve) => setImmediate(resolve));
      if (performance.now() - start > 5_000) throw new Error('B never saw the revocation');
    }
    seen.push(performance.now() - start);
    await invalidated;
    confirmed.push(resolvedAt - start);
  }
  const s = summarize(seen);
  const c = summarize(confirmed);
  return {
    n: count,
    bRefusesMs: { p50: round(s.p50, 3), p99: round(s.p99, 3), max: round(s.max, 3) },
    invalidateResolvesMs: { p50: round(c.p50, 3), p99: round(c.p99, 3) },
  };
}

/** An instance behind a proxy: cut off while `missed` revocations are published, then back. */
/** Times each `changeLog.read` (its last duration in `lastReadMs`): what a resync costs, connections aside. */
type Cursor = Parameters<current.RevocationChangeLog['read']>[0];
type TimedStore = current.RedisRevocationStore & { lastReadMs: number; lastCursor: Cursor };
function timedReads(store: current.RedisRevocationStore): TimedStore {
  const timed: TimedStore = {
    ...store,
    lastReadMs: Number.NaN,
    lastCursor: undefined,
    changeLog: {
      contiguous: store.changeLog.contiguous,
      async read(cursor: Cursor, now: number) {
        const start = performance.now();
        const changes = await store.changeLog.read(cursor, now);
        timed.lastReadMs = performance.now() - start;
        timed.lastCursor = cursor;
        return changes;
      },
    },
  };
  return timed;
}

async function reconnect(
  instance: Verifier,
  store: TimedStore,
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
  // The same read again, connections up: what reading the missed changes takes by itself (best of 3).
  let readAgainMs = Number.POSITIVE_INFINITY;
  for (let i = 0; i < 3; i++) {
    const again = performance.now();
    const changes = await store.changeLog.read(store.lastCursor, Date.now());
    readAgainMs = Math.min(readAgainMs, performance.now() - again);
    if (changes.complete) throw new Error('a reconnect read everything');
  }
  // From the restore: the connections come back (ioredis's jittered retries, the subscription's
  // and the commands' each on its own), then the resync reads (`readMs`: the change log read alone).
  return {
    missed,
    ms: round(ms, 1),
    resyncMs: round(ms - connectedMs, 1),
    readMs: round(store.lastReadMs, 1),
    readAgainMs: round(readAgainMs, 1),
    read: resynced!.entries,
    redisCpuMs: redis.cpuMs,
  };
}

/** 20 instances in one child process: a cold start together, then a reconnect together after missing 10^3. */
async function storm(tree: Tree, redis: PrivateRedis, admin: Redis, publisher: RevocationStore, key: BenchKey) {
  const proxy = await startTcpProxy(redis.port);
  const child = spawn(process.execPath, ['--max-old-space-size=8192', '--import', 'tsx', 'bench/scale-instance.ts'], {
    cwd: root,
    env: {
      PATH: process.env.PATH,
      MODE: 'storm',
      INSTANCES: String(STORM_INSTANCES),
      SRC: tree.src,
      REDIS_URL: `redis://127.0.0.1:${proxy.port}`,
      KEY_PREFIX: tree.prefix,
      ISSUER: site.issuer,
      AUDIENCE: site.audience,
      JWK: JSON.stringify(key.publicJwk),
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const events: Array<{ event: string; ms?: number; at?: number }> = [];
  createInterface({ input: child.stdout! }).on('line', (line) => {
    try {
      events.push(JSON.parse(line));
    } catch {
      /* other output */
    }
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  try {
    const coldBefore = await redisStats(admin);
    await until(() => events.some((e) => e.event === 'ready'), 'the instances to sync', 600_000);
    const cold = redisDelta(coldBefore, await redisStats(admin));
    proxy.cut();
    await until(() => events.some((e) => e.event === 'down'), 'the instances to lose Redis');
    await publishMany(publisher, 1_000, 'storm');
    const before = await redisStats(admin);
    const restoredAt = Date.now();
    proxy.restore();
    await until(() => events.some((e) => e.event === 'resynced'), 'the instances to resync');
    const back = redisDelta(before, await redisStats(admin));
    await exited;
    return {
      instances: STORM_INSTANCES,
      coldStart: {
        wallMs: round(events.find((e) => e.event === 'ready')!.ms!, 0),
        redisCpuMs: cold.cpuMs,
        commands: cold.commands.slice(0, 4),
      },
      reconnectAfterMissing1000: {
        wallMs: events.find((e) => e.event === 'resynced')!.at! - restoredAt,
        redisCpuMs: back.cpuMs,
        commands: back.commands.slice(0, 4),
      },
    };
  } finally {
    child.kill();
    await proxy.close();
  }
}

async function main() {
  const startedAt = Date.now();
  const cpuAtStart = cpuSnapshot();
  const key = await generateKey('ES256');
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
        section.coldStart = await coldStarts(tree, redis, key, 3);
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
      result.storm = await storm(after, redis, admin, publisher, key);
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

function report(output: {
  results: Record<string, any>[];
  minutes: number;
  cpu: Record<string, { busy: number; steal: number }>;
}) {
  const lines = [
    '| | ' + output.results.map((r) => `${r.size} live`).join(' | ') + ' |',
    '|---|' + output.results.map(() => '---:').join('|') + '|',
  ];
  const row = (label: string, cell: (r: Record<string, any>) => string) =>
    lines.push(`| ${label} | ${output.results.map((r) => cell(r)).join(' | ')} |`);
  const both = (path: (s: Record<string, any>) => unknown) => (r: Record<string, any>) =>
    r.before ? `${path(r.after)} (before: ${path(r.before)})` : String(path(r.after));
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
  row(
    'propagation A invalidate() → B refuses, p50 / p99 (ms)',
    (r) => `${r.propagation.bRefusesMs.p50} / ${r.propagation.bRefusesMs.p99}`,
  );
  row('authGuard hit, empty mirror (ns)', (r) => String(r.hitPath.cases['empty mirror'].medianNs));
  row('authGuard hit, N in the mirror (ns, ratio)', (r) => {
    const c = r.hitPath.cases[`${r.size} in the mirror`];
    return `${c.medianNs} (${c.ratioToEmpty})`;
  });
  row('authGuard hit, N in the mirror, before (ns, ratio)', (r) => {
    const c = r.hitPath.cases[`${r.size} in the mirror, before`];
    return c ? `${c.medianNs} (${c.ratioToEmpty})` : '–';
  });
  row(
    `${STORM_INSTANCES} instances cold-start at once: wall ms (Redis CPU ms)`,
    (r) => `${r.storm.coldStart.wallMs} (${r.storm.coldStart.redisCpuMs})`,
  );
  row(
    `${STORM_INSTANCES} instances reconnect at once, missed 10^3: wall ms (Redis CPU ms)`,
    (r) => `${r.storm.reconnectAfterMissing1000.wallMs} (${r.storm.reconnectAfterMissing1000.redisCpuMs})`,
  );
  row('load average (1 min) during', (r) => `${r.after.load.join('–')}, ${r.load}`);
  console.log(
    `\n${lines.join('\n')}\n\n${output.minutes} min; CPU busy ${output.cpu.cpu?.busy}, steal ${output.cpu.cpu?.steal}`,
  );
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
