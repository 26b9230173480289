/**
 * The PostgreSQL half of `npm run bench:scale`: revocation at scale on the PostgreSQL store
 * (`revocable-jwt/postgres`), in a database of its own (`rjwt_bench_scale` on DATABASE_URL's
 * server, default the machine's), created at the start and dropped at the end. For 10^5 and 10^6
 * live token revocations:
 *
 *  1. publish rate from one process (`store.publish`, 2048 in flight), the database's backend CPU
 *     per revocation, and the table's size (with its indexes, after VACUUM) per revocation;
 *  2. cold start: a fresh verifier in a process of its own until its mirror is synced, and its heap
 *     (incl. ArrayBuffers, after a full GC) per revocation (3 runs);
 *  3. reconnect after missing 1, 10^3 and 10^5: an instance whose connections go through a TCP proxy
 *     is cut off while the revocations are published, then restored: from the restore until its
 *     mirror has resynced (and from its LISTEN's return), what the mirror was handed, the rows the
 *     store read, the database CPU it took, and the same read of the change log again, alone;
 *  4. propagation with 10^N present: `invalidate()` on A until B (its own store, behind the proxy)
 *     refuses the token, p50/p99;
 *  5. the hit path with 10^N in a mirror filled from PostgreSQL, against an empty one;
 *  6. 20 instances in one child process (each its own store and pool, through one proxy): all
 *     cold-starting together, then all reconnecting together after missing 10^3: wall time and
 *     database CPU.
 *
 * Database CPU is the CPU time of the bench database's client backends (the sum of
 * /proc/<pid>/schedstat over them, sampled before and after; pg_stat_statements is not loaded on
 * these machines): what the server spent serving our connections. With --pg-before <commit>
 * (default: main before the PostgreSQL change log), that tree's store is measured in the same run
 * for 1-3 (its own schema): its mirror re-merged a full snapshot on every resync.
 */
import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import pg from 'pg';
import * as current from '../src/index.js';
import type { Verifier } from '../src/index.js';
import * as currentPostgres from '../src/stores/postgres-store.js';
import type { PostgresRevocationStore } from '../src/stores/postgres-store.js';
import { startTcpProxy, type TcpProxy } from '../test/support/tcp-proxy.js';
import { root } from './lib/processes.js';
import {
  coldStarts,
  collectGarbage,
  connected,
  extract,
  hitPath,
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
  storm,
  STORM_INSTANCES,
  timedReads,
  until,
  type Library,
  type TimedStore,
} from './lib/scale.js';
import { type ScaleRun, scaleTable } from './lib/scale-table.js';
import { cpuDelta, cpuSnapshot, round } from './lib/stats.js';
import { accessClaims, mint, type BenchKey } from './lib/tokens.js';

const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const DATABASE = 'rjwt_bench_scale';
const PG_BEFORE = NO_BEFORE ? undefined : option('pg-before', 'ed3bd54');

type PostgresEntry = typeof currentPostgres;
interface Tree {
  name: 'after' | 'before';
  src: string;
  lib: Library;
  postgres: PostgresEntry;
}

/** CPU time (ns) of each client backend of the bench database, from /proc/<pid>/schedstat. */
async function backendCpu(admin: pg.Client): Promise<Map<number, number>> {
  const { rows } = await admin.query<{ pid: number }>(
    `SELECT pid FROM pg_stat_activity
     WHERE datname = $1 AND backend_type = 'client backend' AND pid <> pg_backend_pid()`,
    [DATABASE],
  );
  const cpu = new Map<number, number>();
  for (const { pid } of rows) {
    try {
      cpu.set(pid, Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[0]));
    } catch {
      /* gone meanwhile */
    }
  }
  return cpu;
}

/** Backend CPU (ms) spent between two samples (backends that are new count from their start). */
function cpuMsBetween(before: Map<number, number>, after: Map<number, number>): number {
  let ns = 0;
  for (const [pid, spent] of after) ns += spent - (before.get(pid) ?? 0);
  return round(ns / 1e6, 1);
}

/** A database URL on the bench database, through `via` (a proxy's port) if given. */
function benchUrl(via?: number): string {
  const url = new URL(DATABASE_URL);
  url.pathname = `/${DATABASE}`;
  if (via !== undefined) {
    url.hostname = '127.0.0.1';
    url.port = String(via);
  }
  return url.toString();
}

function storeOf(tree: Tree, schema: string, via?: number): PostgresRevocationStore {
  return tree.postgres.createPostgresStore({
    connectionString: benchUrl(via),
    schema,
    purgeInterval: 0,
    commandTimeout: 60,
    syncTimeout: 60,
  });
}

/** An instance behind the proxy: cut off while `missed` revocations are published, then back. */
async function reconnect(
  instance: Verifier,
  store: PostgresRevocationStore,
  timed: TimedStore<PostgresRevocationStore> | undefined,
  proxy: TcpProxy,
  publisher: PostgresRevocationStore,
  admin: pg.Client,
  missed: number,
  tag: string,
) {
  let status = 'connected';
  const stop = store.watch!((s) => (status = s));
  proxy.cut();
  await until(() => status === 'disconnected', 'the instance to lose PostgreSQL');
  await publishMany(publisher, missed, tag);
  let resynced: { entries: number; healed: number } | undefined;
  const listener = (event: { entries: number; healed: number }) => (resynced = event);
  instance.on('store-resynced', listener);
  const cpuBefore = await backendCpu(admin);
  const rowsBefore = store.stats().rowsRead;
  const start = performance.now();
  proxy.restore();
  await until(() => status === 'connected', 'the instance to reconnect');
  const connectedMs = performance.now() - start;
  await until(() => resynced !== undefined && instance.stats().revocation.store.synced, 'the resync');
  const ms = performance.now() - start;
  const databaseCpuMs = cpuMsBetween(cpuBefore, await backendCpu(admin));
  const rowsRead = store.stats().rowsRead - rowsBefore;
  instance.off('store-resynced', listener);
  stop();
  return {
    missed,
    ms: round(ms, 1),
    resyncMs: round(ms - connectedMs, 1),
    ...(timed ? { readMs: round(timed.lastReadMs, 1), readAgainMs: await readAgainMs(timed) } : {}),
    handed: resynced!.entries,
    rowsRead,
    databaseCpuMs,
  };
}

/** One size: every tree's publish and cold starts, then this tree's instances (and the reconnects of the one before). */
async function measureSize(size: number, trees: Tree[], key: BenchKey, admin: pg.Client) {
  const result: Record<string, unknown> = { size };
  const database = new URL(DATABASE_URL);
  for (const tree of trees) {
    const schema = `s${size}_${tree.name}`;
    const section: Record<string, unknown> = { load: [load()] };
    result[tree.name] = section;
    log(`postgres ${tree.name}, ${size}: publishing`);
    const publisher = storeOf(tree, schema);
    await connected(publisher);
    const cpu0 = await backendCpu(admin);
    const rate = await publishMany(publisher, size, 'live');
    const cpu1 = await backendCpu(admin);
    section.publishPerSecond = Math.round(rate);
    section.databaseCpuUsPerRevocation = round((cpuMsBetween(cpu0, cpu1) * 1e3) / size, 2);
    await admin.query(`VACUUM ANALYZE "${schema}".revocations`); // autovacuum is off on these machines
    const { rows } = await admin.query(`SELECT pg_total_relation_size('"${schema}".revocations') AS bytes`);
    section.databaseBytesPerRevocation = Math.round(Number(rows[0].bytes) / size);
    log(`  ${Math.round(rate)}/s; cold starts`);
    section.coldStart = await coldStarts(
      tree.src,
      { STORE: 'postgres', DATABASE_URL: benchUrl(), PG_SCHEMA: schema },
      key,
      3,
    );

    const proxy = await startTcpProxy(Number(database.port || 5432), database.hostname);
    const bStore = storeOf(tree, schema, proxy.port);
    const timed = tree.name === 'after' ? timedReads(bStore) : undefined;
    const b = tree.lib.createVerifier({ ...site, jwks: { keys: [key.publicJwk] }, store: timed ?? bStore });
    await until(() => b.stats().revocation.store.synced, 'B to sync');
    if (tree.name === 'after') {
      log(`postgres ${size}: propagation`);
      const a = tree.lib.createVerifier({ ...site, jwks: { keys: [key.publicJwk] }, store: publisher });
      await until(() => a.stats().revocation.store.synced, 'A to sync');
      collectGarbage();
      result.propagation = await propagation(a, b, key, PROPAGATIONS);
      await a.close();
    }
    log(`postgres ${tree.name}, ${size}: reconnects`);
    section.reconnect = [];
    for (const missed of [1, 1_000, 100_000]) {
      collectGarbage();
      (section.reconnect as unknown[]).push(
        await reconnect(b, bStore, timed, proxy, publisher, admin, missed, `missed${missed}`),
      );
    }
    if (tree.name === 'after') {
      log(`postgres ${size}: hit path`);
      const empty = current.createVerifier({ ...site, jwks: { keys: [key.publicJwk] } });
      const token = mint(key, accessClaims(site));
      for (const v of [b, empty]) await v.verify(token);
      collectGarbage();
      const cpuBefore = cpuSnapshot();
      result.hitPath = {
        load: load(),
        cases: hitPath(
          {
            'empty mirror': { lib: current, verifier: empty },
            [`${size} in the mirror`]: { lib: current, verifier: b },
          },
          token,
        ),
        cpu: cpuDelta(cpuBefore, cpuSnapshot()).cpu,
      };
      await empty.close();
    }
    await b.close();
    await bStore.close();
    await proxy.close();
    if (tree.name === 'after') {
      log(`postgres ${size}: ${STORM_INSTANCES} instances at once`);
      const stormProxy = await startTcpProxy(Number(database.port || 5432), database.hostname);
      try {
        result.storm = await storm({
          env: {
            SRC: tree.src,
            STORE: 'postgres',
            DATABASE_URL: benchUrl(stormProxy.port),
            PG_SCHEMA: schema,
            JWK: JSON.stringify(key.publicJwk),
          },
          proxy: stormProxy,
          publisher,
          measure: () => backendCpu(admin),
          delta: (before, after) => ({ databaseCpuMs: cpuMsBetween(before, after) }),
        });
      } finally {
        await stormProxy.close();
      }
    }
    await publisher.close();
    section.load = [...(section.load as number[]), load()];
  }
  for (const tree of trees) await admin.query(`DROP SCHEMA IF EXISTS "s${size}_${tree.name}" CASCADE`);
  result.load = load();
  return result;
}

/** The PostgreSQL half of the run: results in bench/results/scale-postgres.json. */
export async function postgresScale(key: BenchKey): Promise<void> {
  const startedAt = Date.now();
  const cpuAtStart = cpuSnapshot();
  const server = new pg.Client({ connectionString: DATABASE_URL });
  await server.connect();
  await server.query(`DROP DATABASE IF EXISTS ${DATABASE} WITH (FORCE)`); // left by an interrupted run
  await server.query(`CREATE DATABASE ${DATABASE}`);
  const admin = new pg.Client({ connectionString: benchUrl() });
  await admin.connect();
  const before = PG_BEFORE === undefined ? undefined : extract(PG_BEFORE);
  const trees: Tree[] = [{ name: 'after', src: join(root, 'src/index.ts'), lib: current, postgres: currentPostgres }];
  if (before) {
    const postgres = (await import(
      pathToFileURL(join(before.dir, 'src/stores/postgres-store.ts')).href
    )) as PostgresEntry;
    trees.push({ name: 'before', src: before.src, lib: await before.lib, postgres });
  }
  const results: Record<string, unknown>[] = [];
  let version = '';
  try {
    version = (await admin.query('SELECT version()')).rows[0].version;
    for (const size of SIZES) results.push(await measureSize(size, trees, key, admin));
  } finally {
    await admin.end();
    await server.query(`DROP DATABASE IF EXISTS ${DATABASE} WITH (FORCE)`);
    await server.end();
    before?.remove();
  }
  const output = {
    date: new Date(startedAt).toISOString(),
    minutes: round((Date.now() - startedAt) / 60_000, 1),
    node: process.version,
    postgres: version,
    before: PG_BEFORE,
    cpu: cpuDelta(cpuAtStart, cpuSnapshot()),
    results,
  };
  await mkdir(join(root, 'bench/results'), { recursive: true });
  await writeFile(
    join(root, `bench/results/scale-postgres${quick ? '-quick' : ''}.json`),
    `${JSON.stringify(output, null, 2)}\n`,
  );
  report(output);
}

function report(output: ScaleRun) {
  const { row, both, sharedRows, finish } = scaleTable('PostgreSQL', output);
  row(
    'publish rate, one process (/s)',
    both((s) => s.publishPerSecond),
  );
  row(
    'database CPU per published revocation (µs)',
    both((s) => s.databaseCpuUsPerRevocation),
  );
  row(
    'table + indexes per revocation (B)',
    both((s) => s.databaseBytesPerRevocation),
  );
  row(
    'cold start, fresh verifier synced (ms, median of 3)',
    both((s) => s.coldStart.syncMs),
  );
  row(
    'heap per revocation in the process (B)',
    both((s) => s.coldStart.heapBytesPerRevocation),
  );
  for (const i of [0, 1, 2]) {
    const missed = output.results[0]!.after.reconnect[i].missed;
    row(`reconnect after missing ${missed}: read alone ms (resync ms; handed; DB CPU ms)`, (r) => {
      const x = r.after.reconnect[i];
      const y = r.before?.reconnect[i];
      const after = `${x.readAgainMs} (${x.resyncMs}; ${x.handed}; ${x.databaseCpuMs})`;
      return y ? `${after} (before: resync ${y.resyncMs}; handed ${y.handed}; ${y.databaseCpuMs})` : after;
    });
  }
  sharedRows();
  finish(STORM_INSTANCES, 'databaseCpuMs', 'DB');
}
