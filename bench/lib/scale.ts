/**
 * What `npm run bench:scale` measures the same way on every store (bench/scale.ts for Redis,
 * bench/scale-postgres.ts for PostgreSQL): its settings from the command line, publishing many
 * revocations, cold starts and storms of instances in processes of their own
 * (bench/scale-instance.ts), propagation between two verifiers, the guard's cache hit with a full
 * mirror, and timing a store's change log reads.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { do_not_optimize } from 'mitata';
import type * as current from '../../src/index.js';
import type { RevocationStore, Verifier } from '../../src/index.js';
import type { TcpProxy } from '../../test/support/tcp-proxy.js';
import { root, runScript } from './processes.js';
import { median, round, summarize } from './stats.js';
import { accessClaims, mint, type BenchKey } from './tokens.js';

export type Library = typeof current;

const args = process.argv.slice(2);
export const option = (name: string, fallback: string): string => {
  const at = args.indexOf(`--${name}`);
  return at === -1 ? fallback : (args[at + 1] ?? fallback);
};
export const quick = args.includes('--quick');
export const SIZES = option('sizes', quick ? '10000,100000' : '100000,1000000')
  .split(',')
  .map(Number);
export const NO_BEFORE = args.includes('--no-before');
export const STORES = option('stores', 'redis,postgres').split(',');
const HIT_ROUNDS = quick ? 4 : 12;
const HIT_MIN_CPU_US = (quick ? 150 : 300) * 1e3;
export const PROPAGATIONS = quick ? 100 : 300;
export const STORM_INSTANCES = 20;
export const LIFETIME_MS = 3_600_000;
export const site = { issuer: 'https://idp.bench.example/', audience: 'https://api.bench.example' };

/** A full GC before a timed section, when run with --expose-gc (npm run bench:scale does). */
export const collectGarbage = () => (globalThis as { gc?: () => void }).gc?.();
export const log = (line: string) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${line}`);
export const load = () => round(loadavg()[0]!, 2);

export async function until(condition: () => boolean, what: string, timeoutMs = 120_000): Promise<void> {
  const start = performance.now();
  while (!condition()) {
    if (performance.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

/** Publishes `count` token revocations through `store`, `inFlight` at a time; revocations per second. */
export async function publishMany(
  store: RevocationStore,
  count: number,
  tag: string,
  inFlight = 2048,
): Promise<number> {
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

export async function connected(store: RevocationStore): Promise<void> {
  let up = false;
  const stop = store.watch!((status) => (up = status === 'connected'));
  await until(() => up, 'the store to connect');
  stop();
}

/** The source of an earlier commit, beside a link to our node_modules; removed at exit. */
export function extract(commit: string): { dir: string; src: string; lib: Promise<Library>; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'revocable-jwt-scale-'));
  execFileSync('sh', ['-c', `git -C "${root}" archive "${commit}" src | tar -x -C "${dir}"`]);
  symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'));
  const src = join(dir, 'src/index.ts');
  const lib = import(pathToFileURL(src).href) as Promise<Library>;
  return { dir, src, lib, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * Cold starts: a fresh verifier in a process of its own (bench/scale-instance.ts, MODE=cold) on the
 * store `env` describes, `runs` times: time to synced and heap per revocation (medians).
 */
export async function coldStarts(src: string, env: Record<string, string>, key: BenchKey, runs: number) {
  const results: Array<{ syncMs: number; revocations: number; heapPerRevocation: number }> = [];
  for (let run = 0; run < runs; run++) {
    results.push(
      await runScript('bench/scale-instance.ts', {
        nodeFlags: ['--expose-gc'],
        env: {
          MODE: 'cold',
          SRC: src,
          ISSUER: site.issuer,
          AUDIENCE: site.audience,
          JWK: JSON.stringify(key.publicJwk),
          ...env,
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
export function hitPath(cases: Record<string, { lib: Library; verifier: Verifier }>, token: string) {
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

/** invalidate() on A until B refuses the token (B's cache held it), for `count` tokens. */
export async function propagation(a: Verifier, b: Verifier, key: BenchKey, count: number) {
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

/** Times each `changeLog.read` (its last duration in `lastReadMs`): what a resync costs, connections aside. */
export type Cursor = Parameters<current.RevocationChangeLog['read']>[0];
export type TimedStore<S extends RevocationStore & { changeLog: current.RevocationChangeLog }> = S & {
  lastReadMs: number;
  lastCursor: Cursor;
};
export function timedReads<S extends RevocationStore & { changeLog: current.RevocationChangeLog }>(
  store: S,
): TimedStore<S> {
  const timed: TimedStore<S> = {
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

/** The same read of the missed changes again, connections up: what it takes by itself (best of 3). */
export async function readAgainMs(store: TimedStore<RevocationStore & { changeLog: current.RevocationChangeLog }>) {
  let best = Number.POSITIVE_INFINITY;
  for (let i = 0; i < 3; i++) {
    const again = performance.now();
    const changes = await store.changeLog.read(store.lastCursor, Date.now());
    best = Math.min(best, performance.now() - again);
    if (changes.complete) throw new Error('a reconnect read everything');
  }
  return round(best, 1);
}

/**
 * STORM_INSTANCES instances in one child process (bench/scale-instance.ts, MODE=storm), each with
 * its own store and connections through `proxy`: all cold-starting together, then all reconnecting
 * together after missing 10^3 (published through `publisher`). Wall time of each, and what
 * `measure` says the store spent (deltas by `delta`).
 */
export async function storm<M, D>(options: {
  env: Record<string, string>;
  proxy: TcpProxy;
  publisher: RevocationStore;
  measure: () => Promise<M>;
  delta: (before: M, after: M) => D;
}) {
  const { proxy, publisher, measure, delta } = options;
  const child = spawn(process.execPath, ['--max-old-space-size=8192', '--import', 'tsx', 'bench/scale-instance.ts'], {
    cwd: root,
    env: {
      PATH: process.env.PATH,
      MODE: 'storm',
      INSTANCES: String(STORM_INSTANCES),
      ISSUER: site.issuer,
      AUDIENCE: site.audience,
      ...options.env,
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
    const coldBefore = await measure();
    await until(() => events.some((e) => e.event === 'ready'), 'the instances to sync', 600_000);
    const cold = delta(coldBefore, await measure());
    proxy.cut();
    await until(() => events.some((e) => e.event === 'down'), 'the instances to lose the store');
    await publishMany(publisher, 1_000, 'storm');
    const before = await measure();
    const restoredAt = Date.now();
    proxy.restore();
    await until(() => events.some((e) => e.event === 'resynced'), 'the instances to resync');
    const back = delta(before, await measure());
    await exited;
    return {
      instances: STORM_INSTANCES,
      coldStart: { wallMs: round(events.find((e) => e.event === 'ready')!.ms!, 0), ...cold },
      reconnectAfterMissing1000: { wallMs: events.find((e) => e.event === 'resynced')!.at! - restoredAt, ...back },
    };
  } finally {
    child.kill();
  }
}
