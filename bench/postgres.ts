/**
 * PostgreSQL store vs Redis store, same run, cases interleaved (the order flips every round):
 *  1. publish rate: N token revocations through `store.publish` from one process, 2000 in flight;
 *  2. cold start: a fresh store + verifier until its mirror is synced, with N live revocations
 *     (and, with --expose-gc, the heap the store and mirror hold per revocation);
 *  3. propagation: `publish` on one store until a second store (its own connections, this
 *     process) delivers it to its subscriber, one at a time, with N present: p50 / p99;
 *  4. reconnect: the second store's link cut by a TCP proxy, k revocations published meanwhile
 *     (k = 1, 1000), link restored: the resync's time (from the store's `connected` to the
 *     mirror's `store-resynced`, so reconnect backoff is not counted) and, for PostgreSQL, the rows
 *     it read.
 * Load is recorded per case: /proc/loadavg before it, busy and steal over it (/proc/stat).
 *
 * Usage: npm run bench:postgres [-- --quick]   (DATABASE_URL, REDIS_URL; defaults: this machine's)
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { Redis } from 'ioredis';
import { createRedisStore, createVerifier, type RevocationStore, type StoreStatus } from '../src/index.js';
import { createPostgresStore, type PostgresRevocationStore } from '../src/stores/postgres-store.js';
import { startTcpProxy, type TcpProxy } from '../test/support/tcp-proxy.js';
import { root } from './lib/processes.js';
import { cpuDelta, cpuSnapshot, round, summarize } from './lib/stats.js';

const quick = process.argv.includes('--quick');
const N = quick ? 10_000 : 100_000;
const ROUNDS = quick ? 1 : 3;
const PROPAGATION_SAMPLES = quick ? 100 : 500;
const IN_FLIGHT = 2_000;
const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const gc = (globalThis as { gc?: () => void }).gc;

type Kind = 'postgres' | 'redis';

interface Namespace {
  kind: Kind;
  name: string;
  /** A store on the server directly, or through `via` (a proxy port). */
  open(via?: number): RevocationStore;
  drop(): Promise<void>;
}

function namespace(kind: Kind): Namespace {
  if (kind === 'postgres') {
    const name = `rjwt_bench_${randomBytes(5).toString('hex')}`;
    return {
      kind,
      name,
      open(via) {
        const url = new URL(DATABASE_URL);
        if (via) url.port = String(via);
        return createPostgresStore({ connectionString: url.toString(), schema: name, purgeInterval: 0 });
      },
      async drop() {
        const admin = new pg.Client({ connectionString: DATABASE_URL });
        await admin.connect();
        await admin.query(`DROP SCHEMA IF EXISTS "${name}" CASCADE`);
        await admin.end();
      },
    };
  }
  const name = `rjwt-bench:${randomUUID()}:`;
  return {
    kind,
    name,
    open(via) {
      const url = new URL(REDIS_URL);
      if (via) url.port = String(via);
      return createRedisStore({ url: url.toString(), keyPrefix: name });
    },
    async drop() {
      const redis = new Redis(REDIS_URL);
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${name}*`, 'COUNT', 1000);
        cursor = next;
        if (keys.length) await redis.del(...keys);
      } while (cursor !== '0');
      redis.disconnect();
    },
  };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

async function until(condition: () => boolean, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`bench: timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

function status(store: RevocationStore): { current: StoreStatus | undefined; stop(): void } {
  const state: { current: StoreStatus | undefined; stop(): void } = { current: undefined, stop: () => undefined };
  state.stop = store.watch!((s) => (state.current = s));
  return state;
}

const loadavg = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).map(Number);

/** Runs `fn`, recording the host's load around it. */
async function loaded<T>(
  fn: () => Promise<T>,
): Promise<T & { load: { loadavg: number[]; busy: number; steal: number } }> {
  const before = cpuSnapshot();
  const avg = loadavg();
  const result = await fn();
  const cpu = cpuDelta(before, cpuSnapshot()).cpu ?? { busy: NaN, steal: NaN };
  return { ...result, load: { loadavg: avg, busy: cpu.busy, steal: cpu.steal } };
}

async function publishMany(store: RevocationStore, keys: string[], expiresAt: number): Promise<number> {
  const started = performance.now();
  for (let i = 0; i < keys.length; i += IN_FLIGHT)
    await Promise.all(keys.slice(i, i + IN_FLIGHT).map((key) => store.publish({ type: 'token', key, expiresAt })));
  return performance.now() - started;
}

const tokenKeys = (count: number, tag: string) =>
  Array.from({ length: count }, (_, i) => `jti:https://idp.example/:${tag}-${i}-${randomUUID()}`);

async function runCase(kind: Kind) {
  const ns = namespace(kind);
  const expiresAt = Date.now() + 3_600_000;
  const writer = ns.open();
  const writerStatus = status(writer);
  await until(() => writerStatus.current === 'connected', 'the writer to connect');
  try {
    // 1. publish rate
    const publish = await loaded(async () => {
      const ms = await publishMany(writer, tokenKeys(N, 'fill'), expiresAt);
      return { revocations: N, seconds: round(ms / 1000, 3), perSecond: Math.round((N / ms) * 1000) };
    });

    // 2. cold start, through a proxy (used for the reconnects below)
    const proxy: TcpProxy = await startTcpProxy(
      Number(new URL(kind === 'postgres' ? DATABASE_URL : REDIS_URL).port),
      '127.0.0.1',
    );
    gc?.();
    const heapBefore = process.memoryUsage().heapUsed;
    const cold = await loaded(async () => {
      const started = performance.now();
      const store = ns.open(proxy.port);
      const verifier = createVerifier({ issuer: 'https://idp.example/', audience: 'api', store });
      await until(() => verifier.stats().revocation.store.synced, 'the cold start to sync');
      return { ms: round(performance.now() - started, 1), store, verifier };
    });
    gc?.();
    const heapPerRevocation = gc ? round((process.memoryUsage().heapUsed - heapBefore) / N, 1) : undefined;
    const { store: reader, verifier } = cold;
    const readerStatus = status(reader);

    // 3. propagation with N present
    const propagation = await loaded(async () => {
      const samples: number[] = [];
      let waiting: { key: string; done(): void } | undefined;
      const stop = reader.subscribe((r) => {
        if (waiting && r.type === 'token' && r.key === waiting.key) waiting.done();
      });
      for (const key of tokenKeys(PROPAGATION_SAMPLES, 'prop')) {
        const arrived = new Promise<void>((done) => (waiting = { key, done }));
        const started = performance.now();
        await writer.publish({ type: 'token', key, expiresAt });
        await arrived;
        samples.push(performance.now() - started);
      }
      stop();
      const s = summarize(samples);
      return { n: s.n, p50: round(s.p50, 3), p99: round(s.p99, 3), max: round(s.max, 3) };
    });

    // 4. reconnect after missing k
    const reconnects: Array<Record<string, unknown>> = [];
    for (const missed of [1, 1_000]) {
      const rowsBefore = (reader as PostgresRevocationStore).stats?.().rowsRead;
      const result = await loaded(async () => {
        proxy.cut();
        await until(() => readerStatus.current === 'disconnected', 'the reader to notice the cut');
        await publishMany(writer, tokenKeys(missed, `missed${missed}`), expiresAt);
        let connectedAt = 0;
        let resyncedAt = 0;
        const stopWatch = reader.watch!((s) => s === 'connected' && (connectedAt ||= performance.now()));
        const onResynced = () => (resyncedAt ||= performance.now());
        verifier.on('store-resynced', onResynced);
        const restoredAt = performance.now();
        proxy.restore();
        await until(() => resyncedAt > 0 && verifier.stats().revocation.store.synced, 'the resync');
        stopWatch();
        verifier.off('store-resynced', onResynced);
        return {
          missed,
          resyncMs: round(resyncedAt - connectedAt, 1),
          restoreToSyncedMs: round(resyncedAt - restoredAt, 1),
        };
      });
      const rowsRead =
        rowsBefore === undefined ? undefined : (reader as PostgresRevocationStore).stats().rowsRead - rowsBefore;
      reconnects.push({ ...result, ...(rowsRead === undefined ? {} : { rowsRead }) });
      await tick();
    }
    readerStatus.stop();
    await verifier.close();
    await reader.close();
    await proxy.close();
    return { kind, publish, coldStart: { ms: cold.ms, load: cold.load, heapPerRevocation }, propagation, reconnects };
  } finally {
    writerStatus.stop();
    await writer.close();
    await ns.drop();
  }
}

async function main() {
  const rounds: Array<Record<Kind, Awaited<ReturnType<typeof runCase>>>> = [];
  for (let r = 0; r < ROUNDS; r++) {
    const order: Kind[] = r % 2 === 0 ? ['postgres', 'redis'] : ['redis', 'postgres'];
    const results = {} as Record<Kind, Awaited<ReturnType<typeof runCase>>>;
    for (const kind of order) {
      results[kind] = await runCase(kind);
      console.log(`round ${r + 1} ${kind}`, JSON.stringify(results[kind]));
    }
    rounds.push(results);
  }
  const result = {
    date: new Date().toISOString(),
    quick,
    node: process.version,
    live: N,
    gc: gc !== undefined,
    rounds,
  };
  await mkdir(join(root, 'bench/results'), { recursive: true });
  await writeFile(
    join(root, `bench/results/postgres${quick ? '-quick' : ''}.json`),
    `${JSON.stringify(result, null, 2)}\n`,
  );

  console.log(
    `\n| ${N} live revocations, round | store | publish /s | cold start ms | heap B/rev | propagation p50 / p99 ms | resync after 1 / 1000 missed: ms (rows read) | loadavg (1m) |`,
  );
  console.log('| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |');
  rounds.forEach((results, i) => {
    for (const kind of ['postgres', 'redis'] as const) {
      const c = results[kind];
      const resync = c.reconnects
        .map((x) => `${x.resyncMs}${x.rowsRead === undefined ? ' (full)' : ` (${x.rowsRead})`}`)
        .join(' / ');
      console.log(
        `| ${i + 1} | ${kind} | ${c.publish.perSecond} | ${c.coldStart.ms} | ${c.coldStart.heapPerRevocation ?? '–'} | ` +
          `${c.propagation.p50} / ${c.propagation.p99} | ${resync} | ${c.publish.load.loadavg[0]} |`,
      );
    }
  });
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
