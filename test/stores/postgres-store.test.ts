/**
 * The PostgreSQL store against a real PostgreSQL (DATABASE_URL, default the machine's at
 * 127.0.0.1:5432): the shared contract suite, then what is particular to it. Every test gets a
 * schema of its own. These tests never skip: CI starts PostgreSQL (see .ci/run).
 */
import { afterAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { Revocation, RevocationStore, StoreStatus } from '../../src/index.js';
import {
  createPostgresStore,
  type PostgresRevocationStore,
  type PostgresStoreOptions,
} from '../../src/stores/postgres-store.js';
import { DATABASE_URL, postgresAdmin } from '../support/postgres.js';
import { waitFor } from '../support/wait-for.js';
import { revocationStoreContract } from './store-contract.js';

const admin = postgresAdmin();
afterAll(() => admin.cleanUp());

async function connectedStore(
  clock: () => number = Date.now,
  schema = admin.newSchema(),
  options: Partial<PostgresStoreOptions> = {},
): Promise<PostgresRevocationStore> {
  const store = createPostgresStore({ connectionString: DATABASE_URL, schema, clock, ...options });
  let status: StoreStatus | undefined;
  const stop = store.watch!((s) => (status = s));
  await waitFor(() => status === 'connected', 'the PostgreSQL store to connect');
  stop();
  return store;
}

revocationStoreContract('postgres store', { create: (clock) => connectedStore(clock) as Promise<RevocationStore> });

const rowsOf = async (schema: string) =>
  (await admin.pool.query(`SELECT target, cutoff::text, expires_at::text FROM "${schema}".revocations ORDER BY target`))
    .rows;

describe('postgres store specifics', () => {
  it('keeps one row per target, merged to the latest cutoff and expiry by concurrent writers', async () => {
    const now = Date.now();
    const schema = admin.newSchema();
    const writers = await Promise.all([1, 2, 3].map(() => connectedStore(() => now, schema)));
    try {
      await Promise.all(
        writers.flatMap((w, i) =>
          [10, 30, 20].map((c) =>
            w.publish({ type: 'subject', issuer: 'i', subject: 'bob', cutoff: c + i, expiresAt: now + 60_000 + i }),
          ),
        ),
      );
      expect(await rowsOf(schema)).toEqual([
        { target: 'subject:i:bob', cutoff: '32', expires_at: String(now + 60_002) },
      ]);
    } finally {
      await Promise.all(writers.map((s) => s.close()));
    }
  });

  it('does not write revocations that are already over', async () => {
    const now = Date.now();
    const store = await connectedStore(() => now);
    try {
      await store.publish({ type: 'token', key: 'old', expiresAt: now - 1 });
      expect(await rowsOf(store.schema)).toEqual([]);
    } finally {
      await store.close();
    }
  });

  it('groups concurrent publishes into few statements, and another instance receives every one', async () => {
    const now = Date.now();
    const schema = admin.newSchema();
    const [writer, reader] = await Promise.all([connectedStore(() => now, schema), connectedStore(() => now, schema)]);
    const seen = new Set<string>();
    reader.subscribe((r) => r.type === 'token' && seen.add(r.key));
    try {
      await Promise.all(
        Array.from({ length: 3_000 }, (_, i) =>
          writer.publish({ type: 'token', key: `k${i}`, expiresAt: now + 60_000 }),
        ),
      );
      await waitFor(() => seen.size === 3_000, 'every revocation at the other instance');
      // Each notification carries many revocations (8000-byte payloads), from few statements.
      expect(reader.stats().notifications).toBeLessThan(100);
      expect((await reader.snapshot(now)).length).toBe(3_000);
    } finally {
      await Promise.all([writer.close(), reader.close()]);
    }
  });

  it('delivers a revocation too large for a NOTIFY payload (or a B-tree entry) by reading it from the table', async () => {
    const now = Date.now();
    const schema = admin.newSchema();
    const [writer, reader] = await Promise.all([connectedStore(() => now, schema), connectedStore(() => now, schema)]);
    const seen: Revocation[] = [];
    reader.subscribe((r) => seen.push(r));
    try {
      const huge: Revocation = {
        type: 'subject',
        issuer: 'i',
        subject: `é${randomBytes(9_000).toString('base64')}`,
        cutoff: 5,
        expiresAt: now + 60_000,
      };
      const small: Revocation = { type: 'token', key: 'small', expiresAt: now + 60_000 };
      await Promise.all([writer.publish(huge), writer.publish(small)]);
      await waitFor(() => seen.length >= 2, 'both revocations');
      expect(seen).toEqual(expect.arrayContaining([huge, small]));
      expect(await reader.snapshot(now)).toEqual(expect.arrayContaining([huge, small]));
    } finally {
      await Promise.all([writer.close(), reader.close()]);
    }
  });

  it('ignores malformed notifications on its channel', async () => {
    const now = Date.now();
    const store = await connectedStore(() => now);
    const seen: unknown[] = [];
    store.subscribe((r) => seen.push(r));
    try {
      const channel = `${store.schema}_revocations`;
      const notify = (payload: string) => admin.pool.query('SELECT pg_notify($1, $2)', [channel, payload]);
      await notify('not json');
      await notify(JSON.stringify({ x: 'NaN', t: '1', r: [{ type: 'token', key: 'k', expiresAt: now + 1000 }] }));
      await notify(
        JSON.stringify({
          x: '1',
          t: '1',
          r: [
            { type: 'token', key: 5 },
            { type: 'all', cutoff: 1 },
          ],
        }),
      );
      await notify(
        JSON.stringify({ x: '1', t: '1', r: [{ type: 'all', issuer: 'i', cutoff: 1, expiresAt: now + 1000 }] }),
      );
      await waitFor(() => seen.length === 1, 'the one valid revocation');
      expect(seen).toEqual([{ type: 'all', issuer: 'i', cutoff: 1, expiresAt: now + 1000 }]);
    } finally {
      await store.close();
    }
  });

  it('claimOnce: one winner across instances, and the claim expires on the database clock', async () => {
    const schema = admin.newSchema();
    const stores = await Promise.all([1, 2, 3].map(() => connectedStore(Date.now, schema)));
    try {
      const results = await Promise.all(
        Array.from({ length: 30 }, (_, i) => stores[i % 3]!.claimOnce('logout:iss:jti-1', 60_000)),
      );
      expect(results.filter(Boolean)).toHaveLength(1);
      // Keys of any length (a B-tree entry holds ~2700 bytes: the table keys by their SHA-256).
      const long = randomBytes(6_000).toString('base64');
      expect(await stores[0]!.claimOnce(long, 60_000)).toBe(true);
      expect(await stores[1]!.claimOnce(long, 60_000)).toBe(false);
      expect(await stores[0]!.claimOnce('short', 1)).toBe(true);
      // The database's clock, like Redis PX: no injected clock reaches it, so this waits real milliseconds.
      await waitFor(() => stores[1]!.claimOnce('short', 60_000), 'the 1 ms claim to lapse');
      expect(await stores[2]!.claimOnce('short', 60_000)).toBe(false);
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  });

  it('outbox: workers on different instances never claim the same item (SKIP LOCKED)', async () => {
    const now = Date.now();
    const schema = admin.newSchema();
    const stores = await Promise.all([1, 2, 3, 4].map(() => connectedStore(() => now, schema)));
    try {
      for (let i = 0; i < 40; i++)
        await stores[0]!.outbox.enqueue({
          id: `p${i}`,
          token: `t${i}`,
          expiresAt: now + 60_000,
          attempts: 0,
          nextAttemptAt: now,
        });
      const claims = await Promise.all(
        stores.flatMap((s) => [s.outbox.claimDue(now, 7, 30_000), s.outbox.claimDue(now, 7, 30_000)]),
      );
      const ids = claims.flat().map((item) => item.id);
      expect(ids).toHaveLength(40);
      expect(new Set(ids).size).toBe(40);
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  });

  it('migrate: many instances creating the same schema at once all succeed, and nothing is dropped', async () => {
    const schema = admin.newSchema();
    const stores = Array.from({ length: 6 }, () =>
      createPostgresStore({ connectionString: DATABASE_URL, schema, purgeInterval: 0 }),
    );
    try {
      await Promise.all(stores.map((s) => s.migrate()));
      await stores[0]!.publish({ type: 'token', key: 'kept', expiresAt: Date.now() + 60_000 });
      await Promise.all(stores.map((s) => s.migrate()));
      expect(await rowsOf(schema)).toHaveLength(1);
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  });

  it('autoMigrate: false creates nothing: calls fail until migrate() has run', async () => {
    const schema = admin.newSchema();
    const store = createPostgresStore({ connectionString: DATABASE_URL, schema, autoMigrate: false });
    try {
      await expect(store.publish({ type: 'token', key: 'k', expiresAt: Date.now() + 60_000 })).rejects.toThrow(
        /does not exist/,
      );
      await store.migrate();
      await store.publish({ type: 'token', key: 'k', expiresAt: Date.now() + 60_000 });
      expect(await rowsOf(schema)).toHaveLength(1);
    } finally {
      await store.close();
    }
  });

  it('purge: deletes rows past expiry (plus a grace, by the database clock), in bounded batches', async () => {
    const realNow = Date.now();
    // The store's clock runs an hour behind: it still takes revocations that are over by real time.
    const store = await connectedStore(() => realNow - 3_600_000);
    try {
      await Promise.all(
        Array.from({ length: 6_000 }, (_, i) =>
          store.publish({ type: 'token', key: `gone${i}`, expiresAt: realNow - 600_000 }),
        ),
      );
      await store.publish({ type: 'token', key: 'within-grace', expiresAt: realNow - 60_000 });
      await store.publish({ type: 'token', key: 'live', expiresAt: realNow + 60_000 });
      expect(await store.purge()).toBe(6_000); // two batches of at most 5000
      expect((await rowsOf(store.schema)).map((r) => r.target)).toEqual(['token:live', 'token:within-grace']);
      expect(store.stats().purged).toBe(6_000);
    } finally {
      await store.close();
    }
  });

  it('works with a pool you own, keeps one of its connections for LISTEN, and leaves it open on close', async () => {
    const pool = new pg.Pool({ connectionString: DATABASE_URL, max: 3 });
    const schema = admin.newSchema();
    const store = createPostgresStore({ pool, schema });
    await waitFor(() => store.stats().connected, 'LISTEN on a connection of the pool');
    await store.publish({ type: 'all', issuer: 'i', cutoff: 1, expiresAt: Date.now() + 10_000 });
    await store.close();
    expect((await pool.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    await pool.end();
  });

  it('fails fast with a message that says how to fix misconfiguration', () => {
    expect(() => createPostgresStore({ connectionString: undefined })).toThrow(/DATABASE_URL/);
    expect(() => createPostgresStore({ connectionString: '' })).toThrow(/empty string/);
    expect(() => createPostgresStore({ connectionString: DATABASE_URL, pool: admin.pool })).toThrow(/either/);
    expect(() => createPostgresStore({ pool: {} as never })).toThrow(/node-postgres Pool/);
    expect(() => createPostgresStore({ connectionString: DATABASE_URL, onStoreUnavailable: 'maybe' as never })).toThrow(
      /fail-closed/,
    );
    expect(() => createPostgresStore({ connectionString: DATABASE_URL, autoMigrate: 'yes' as never })).toThrow(
      /autoMigrate/,
    );
    expect(() => createPostgresStore({ connectionString: DATABASE_URL, keyPrefix: 'x' } as never)).toThrow(
      /unknown option `keyPrefix` in createPostgresStore/,
    );
  });

  it.each([
    ['upper case', 'Revocations'],
    ['a quote', 'a"; DROP TABLE x; --'],
    ['a dot', 'public.revocations'],
    ['a leading digit', '1schema'],
    ['too long', 'a'.repeat(49)],
  ])('refuses a schema name with %s, before connecting', (_name, schema) => {
    expect(() => createPostgresStore({ connectionString: DATABASE_URL, schema })).toThrow(
      new TypeError(
        'revocable-jwt: createPostgresStore: `schema` must be lower-case letters, digits and _ (not starting ' +
          `with a digit), at most 48 characters; got ${JSON.stringify(schema)}`,
      ),
    );
  });

  it.each<[string, Partial<PostgresStoreOptions>, string]>([
    [
      'commandTimeout 2000 (milliseconds)',
      { commandTimeout: 2000 },
      '`commandTimeout` is in seconds (e.g. 2), at most 60; 2000 looks like milliseconds (2000 ms = 2 s)',
    ],
    ['syncTimeout 0', { syncTimeout: 0 }, '`syncTimeout` must be a number of seconds > 0 and <= 60, e.g. 5'],
    [
      'heartbeat 5000 (milliseconds)',
      { heartbeat: 5000 },
      '`heartbeat` is in seconds (e.g. 5), at most 60; 5000 looks like milliseconds (5000 ms = 5 s)',
    ],
    [
      'purgeInterval negative',
      { purgeInterval: -1 },
      '`purgeInterval` must be a number of seconds >= 0 and <= 86400, e.g. 60',
    ],
    ['maxStaleness negative', { maxStaleness: -1 }, '`maxStaleness` must be a number of seconds >= 0, e.g. 10'],
  ])('refuses %s, before connecting', (_name, options, message) => {
    expect(() => createPostgresStore({ connectionString: DATABASE_URL, ...options })).toThrow(
      new TypeError(`revocable-jwt: createPostgresStore: ${message}`),
    );
  });

  it('takes fractions of a second, and converts each wait to milliseconds once', async () => {
    const store = createPostgresStore({
      connectionString: DATABASE_URL,
      schema: admin.newSchema(),
      commandTimeout: 0.25,
      syncTimeout: 1.1,
      maxStaleness: 0.5,
    });
    try {
      expect(store.availability).toEqual({ onUnavailable: 'fail-closed', maxStalenessMs: 500, syncTimeoutMs: 1100 });
    } finally {
      await store.close();
    }
  });
});
