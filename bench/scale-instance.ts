/**
 * Instances for `npm run bench:scale`, in a process of their own (started by bench/scale.ts with
 * --expose-gc), so that heap figures count only what the mirror keeps.
 *
 *   MODE=cold   one verifier syncs from the store: time to synced, and heap (incl. ArrayBuffers)
 *               per revocation after a full GC; prints one JSON line.
 *   MODE=storm  INSTANCES verifiers, each with its own store and connections (through the parent's
 *               TCP proxy), start at once; prints {"event":"ready"} when all have synced, then
 *               {"event":"down"} once all lost the store (the parent cuts the proxy), then
 *               {"event":"resynced"} once all have reconnected and resynced, and exits.
 *
 * Env: SRC (the src/index.ts to load: this tree's, or an earlier commit's), STORE (`redis`, the
 * default, or `postgres`), REDIS_URL and KEY_PREFIX, or DATABASE_URL and PG_SCHEMA, ISSUER,
 * AUDIENCE, JWK (the public key, JSON), INSTANCES.
 */
import { pathToFileURL } from 'node:url';
import type * as Library from '../src/index.js';
import type * as PostgresEntry from '../src/stores/postgres-store.js';

const env = (name: string): string => {
  const value = process.env[name];
  if (value === undefined) throw new Error(`scale-instance: ${name} is required`);
  return value;
};
const lib = (await import(pathToFileURL(env('SRC')).href)) as typeof Library;
const gc = (globalThis as { gc?: () => void }).gc;
const print = (value: object) => process.stdout.write(`${JSON.stringify(value)}\n`);
const site = { issuer: env('ISSUER'), audience: env('AUDIENCE'), jwks: { keys: [JSON.parse(env('JWK'))] } };
const postgres = process.env.STORE === 'postgres';
// The PostgreSQL store of the same tree (its own entry point), with pg loaded before any heap is
// measured: the module is a fixed cost, not the revocations'.
const pgEntry = postgres
  ? ((await import(
      pathToFileURL(env('SRC').replace(/index\.ts$/, 'stores/postgres-store.ts')).href
    )) as typeof PostgresEntry)
  : undefined;
if (postgres) await import('pg');
const createStore = (): Library.RevocationStore =>
  pgEntry
    ? pgEntry.createPostgresStore({
        connectionString: env('DATABASE_URL'),
        schema: env('PG_SCHEMA'),
        purgeInterval: 0,
        syncTimeout: 60,
        commandTimeout: 60,
      })
    : lib.createRedisStore({
        url: env('REDIS_URL'),
        keyPrefix: env('KEY_PREFIX'),
        syncTimeout: 60,
        commandTimeout: 60,
      });

function settledHeap(): number {
  gc?.();
  gc?.();
  const { heapUsed, arrayBuffers } = process.memoryUsage();
  return heapUsed + arrayBuffers;
}

async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 2));
}

if (env('MODE') === 'cold') {
  // The fixed cost (a store and verifier with nothing in the mirror) is measured first, so the
  // difference is what the revocations take.
  const empty = lib.createVerifier({ ...site, store: lib.createMemoryStore() });
  const before = settledHeap();
  const start = performance.now();
  const store = createStore();
  const verifier = lib.createVerifier({ ...site, store });
  await until(() => verifier.stats().revocation.store.synced);
  const syncMs = performance.now() - start;
  const revocations = verifier.stats().revocation.denylisted;
  const after = settledHeap();
  print({ syncMs, revocations, heapPerRevocation: (after - before) / revocations, rss: process.memoryUsage().rss });
  await Promise.all([verifier.close(), empty.close()]);
  await store.close();
  process.exit(0);
}

if (env('MODE') === 'storm') {
  const count = Number(env('INSTANCES'));
  const start = performance.now();
  const instances = Array.from({ length: count }, () => {
    const store = createStore();
    const verifier = lib.createVerifier({ ...site, store });
    const state = { store, verifier, down: false, back: false };
    store.watch!((status) => {
      if (status === 'disconnected') state.down = true;
      else if (state.down) state.back = true;
    });
    return state;
  });
  await until(() => instances.every((i) => i.verifier.stats().revocation.store.synced));
  print({
    event: 'ready',
    ms: performance.now() - start,
    revocations: instances[0]!.verifier.stats().revocation.denylisted,
  });
  await until(() => instances.every((i) => i.down));
  print({ event: 'down' });
  await until(() => instances.every((i) => i.back && i.verifier.stats().revocation.store.synced));
  print({ event: 'resynced', at: Date.now() });
  await Promise.all(instances.map((i) => i.verifier.close()));
  await Promise.all(instances.map((i) => i.store.close()));
  process.exit(0);
}
throw new Error(`scale-instance: unknown MODE ${process.env.MODE}`);
