/**
 * The PostgreSQL store's change log (`store.changeLog`: the `revocations` table read by
 * transaction horizon), against the real PostgreSQL: a first read gets everything (tokens in bulk,
 * by digest), a read from a cursor only what was written since, deliveries carry the positions a
 * cursor moves along, and a cursor of another epoch (the table truncated or made anew) or past the
 * server's horizon (another history) gets everything. Large reads come in chunks: none loses a row
 * at a chunk's edge. Each test has a schema of its own.
 *
 * The server is shared with other work: a transaction left open elsewhere holds horizons back, so
 * a read may return more than what changed (never less). Assertions that something is *not* read
 * again first read until a read finds nothing (`quiet`).
 */
import { afterAll, describe, expect, it } from '@jest/globals';
import type { ChangeCursor, DeliveryMeta, Revocation, RevocationChanges, StoreStatus } from '../../src/index.js';
import { createPostgresStore, type PostgresRevocationStore } from '../../src/stores/postgres-store.js';
import { DATABASE_URL, postgresAdmin } from '../support/postgres.js';
import { byDigest, listed, token } from '../support/change-log.js';
import { waitFor } from '../support/wait-for.js';

const admin = postgresAdmin();
afterAll(() => admin.cleanUp());

async function connectedStore(clock: () => number, schema = admin.newSchema()): Promise<PostgresRevocationStore> {
  const store = createPostgresStore({ connectionString: DATABASE_URL, schema, clock, purgeInterval: 0 });
  let status: StoreStatus | undefined;
  const stop = store.watch!((s) => (status = s));
  await waitFor(() => status === 'connected', 'the PostgreSQL store to connect');
  stop();
  return store;
}

const keysOf = (changes: RevocationChanges) => listed(changes).map((r) => (r.type === 'token' ? r.key : r.type));
const seqOf = (cursor: ChangeCursor) => cursor.revocations!.seq;

/** Reads on from `cursor` until a read finds nothing (no transaction elsewhere holds the horizon back). */
async function quiet(store: PostgresRevocationStore, cursor: ChangeCursor, now: number): Promise<ChangeCursor> {
  let at = cursor;
  await waitFor(async () => {
    const read = await store.changeLog.read(at, now);
    at = read.cursor;
    return listed(read).length === 0;
  }, 'a read that finds nothing new');
  return at;
}

describe('the PostgreSQL change log', () => {
  it('a first read gets everything (tokens by digest); a read from its cursor only what was written since', async () => {
    const now = Date.now();
    const store = await connectedStore(() => now);
    try {
      const early = Array.from({ length: 50 }, (_, i) => `jti:early:${i}`);
      await Promise.all(early.map((key) => store.publish(token(key, now + 60_000))));
      const alice = { type: 'subject', issuer: 'https://idp', subject: 'alice', cutoff: 10, expiresAt: now + 60_000 };
      await store.publish(alice as Revocation);
      await store.publish(token('jti:over', now - 1)); // already over: never written
      const first = await store.changeLog.read(undefined, now);
      expect(store.changeLog.contiguous).toBe(false);
      expect(first.complete).toBe(true);
      expect(first.revocations).toEqual([alice]);
      expect(first.tokens!.count).toBe(early.length);
      expect(new Set(keysOf(first).slice(1))).toEqual(new Set(early.map(byDigest)));
      const seconds = first.tokens!.expiresAt.subarray(0, first.tokens!.count);
      expect([...seconds].every((s) => s === Math.ceil((now + 60_000) / 1000))).toBe(true);
      expect(first.cursor).toEqual({
        revocations: { log: 'revocations', epoch: expect.stringMatching(/^\d+\.\d+$/), seq: expect.any(Number) },
      });

      const from = await quiet(store, first.cursor, now);
      await store.publish(token('jti:late', now + 30_000));
      const session = { type: 'session', issuer: 'https://idp', session: 's1', cutoff: 11, expiresAt: now + 60_000 };
      await store.publish(session as Revocation);
      const later = await store.changeLog.read(from, now);
      expect(later.complete).toBe(false);
      expect(listed(later)).toEqual([
        session,
        { type: 'token', key: byDigest('jti:late'), expiresAt: Math.ceil((now + 30_000) / 1000) * 1000 },
      ]);
      // A transaction open elsewhere on the shared server (another test file's) may hold this read's
      // horizon where it was; once nothing older runs, the cursor is past both writes.
      expect(seqOf(later.cursor)).toBeGreaterThanOrEqual(seqOf(from));
      expect(seqOf(await quiet(store, later.cursor, now))).toBeGreaterThan(seqOf(from));
      expect(later.cursor.revocations!.epoch).toBe(first.cursor.revocations!.epoch);
      // What a read finds, as of `now`: a change that expired since is left out.
      expect(keysOf(await store.changeLog.read(from, now + 40_000))).toEqual(['session']);
    } finally {
      await store.close();
    }
  });

  it('deliveries carry their writer’s horizon as position: a read from it finds the changes after, not before', async () => {
    const now = Date.now();
    const store = await connectedStore(() => now);
    const seen: Array<[Revocation, DeliveryMeta]> = [];
    store.subscribe((revocation, meta) => seen.push([revocation, meta]));
    try {
      const start = await quiet(store, (await store.changeLog.read(undefined, now)).cursor, now);
      await store.publish(token('jti:one', now + 60_000), 'me');
      await waitFor(() => seen.length === 1, 'the delivery');
      const [[delivered, meta]] = seen;
      expect(delivered).toEqual(token('jti:one', now + 60_000)); // the full key on the wire
      expect(meta).toEqual({ origin: 'me', publishedAt: now, position: expect.any(Object) });
      expect(meta.position).toMatchObject({ log: 'revocations', epoch: start.revocations!.epoch });
      expect(meta.position!.seq).toBeGreaterThanOrEqual(seqOf(start));
      expect(store.stats().horizon).toBe(String(meta.position!.seq));

      // With nothing older running, the position covers the writer's own transaction: a read from
      // it finds nothing (a transaction open elsewhere may hold it back to the writer's own).
      const { rows } = await admin.pool.query(`SELECT txid::text FROM "${store.schema}".revocations`);
      expect(meta.position!.seq).toBeLessThanOrEqual(Number(rows[0].txid) + 1);
      const after = await quiet(store, { revocations: meta.position! }, now);
      await store.publish(token('jti:two', now + 60_000));
      expect(keysOf(await store.changeLog.read(after, now))).toEqual([byDigest('jti:two')]);
      await waitFor(() => seen.length === 2, 'the second delivery');
      // Positions never go back in commit order; strictly ahead only when no transaction elsewhere
      // on the shared server (another test file's) held both writers' horizons at the same place.
      expect(seen[1]![1].position!.seq).toBeGreaterThanOrEqual(meta.position!.seq);
    } finally {
      await store.close();
    }
  });

  it('a revocation left out of the payloads (too large): no position covers its transaction until it is delivered', async () => {
    const now = Date.now();
    const store = await connectedStore(() => now);
    const seen: Array<[Revocation, DeliveryMeta]> = [];
    store.subscribe((revocation, meta) => seen.push([revocation, meta]));
    try {
      const start = await quiet(store, (await store.changeLog.read(undefined, now)).cursor, now);
      const huge = { type: 'subject', issuer: 'i', subject: 'x'.repeat(9_000), cutoff: 5, expiresAt: now + 60_000 };
      // One statement: the small one's notification comes first, the huge one is read afterwards.
      await Promise.all([store.publish(token('jti:small', now + 60_000)), store.publish(huge as Revocation)]);
      await waitFor(() => seen.length === 2, 'both deliveries');
      const [[first, meta]] = seen;
      expect(first).toEqual(token('jti:small', now + 60_000));
      // Were this position past the transaction, a mirror cut off before the huge one arrived would
      // resync from it and never read it.
      const from = { revocations: meta.position ?? start.revocations! };
      expect(keysOf(await store.changeLog.read(from, now))).toContain('subject');
      expect(seen[1]![0]).toEqual(huge);
    } finally {
      await store.close();
    }
  });

  it('a table that lost its history (TRUNCATE) is a new epoch: a cursor from before gets everything, and deliveries say so', async () => {
    const now = Date.now();
    const store = await connectedStore(() => now);
    const epochs: string[] = [];
    store.subscribe((_, meta) => meta.position && epochs.push(meta.position.epoch));
    try {
      await store.publish(token('jti:before', now + 60_000));
      const cursor = (await store.changeLog.read(undefined, now)).cursor;
      await admin.pool.query(`TRUNCATE "${store.schema}".revocations`);
      await store.publish(token('jti:after', now + 60_000));
      await waitFor(() => epochs.length === 2, 'both deliveries');
      expect(epochs[0]).toBe(cursor.revocations!.epoch);
      expect(epochs[1]).not.toBe(epochs[0]);
      const read = await store.changeLog.read(cursor, now);
      expect(read.complete).toBe(true);
      expect(keysOf(read)).toEqual([byDigest('jti:after')]);
      expect(read.cursor.revocations!.epoch).toBe(epochs[1]);
      expect(store.stats()).toMatchObject({ fullReads: 2, incrementalReads: 0 });
    } finally {
      await store.close();
    }
  });

  it('a cursor past the server’s horizon (another history: a restore, a failover that lost commits) gets everything', async () => {
    const now = Date.now();
    const store = await connectedStore(() => now);
    try {
      await store.publish(token('jti:kept', now + 60_000));
      const { cursor } = await store.changeLog.read(undefined, now);
      const ahead = { revocations: { ...cursor.revocations!, seq: seqOf(cursor) + 1_000_000 } };
      const read = await store.changeLog.read(ahead, now);
      expect(read.complete).toBe(true);
      expect(keysOf(read)).toEqual([byDigest('jti:kept')]);
      expect(seqOf(read.cursor)).toBeLessThan(seqOf(ahead));
      // A cursor without this store's log (another store's) is no cursor either.
      expect((await store.changeLog.read({ s0: { log: 's0', epoch: 'x', seq: 1 } }, now)).complete).toBe(true);
    } finally {
      await store.close();
    }
  });

  it('large reads come in chunks, and no row is lost at a chunk’s edge', async () => {
    const now = Date.now();
    const store = await connectedStore(() => now);
    try {
      await store.migrate();
      const cursor = await quiet(store, (await store.changeLog.read(undefined, now)).cursor, now);
      // Rows as the store writes them (a token's id is its digest), three transactions of 30 000
      // (an incremental read takes 50 000 per chunk: the first ends inside the second transaction,
      // which the next chunk reads again) with keys long enough for ~5 000 heap blocks (a complete
      // read takes 2 048 per chunk).
      const pad = 'x'.repeat(400);
      const insert = (from: number) =>
        admin.pool.query(
          `INSERT INTO "${store.schema}".revocations (id, target, cutoff, expires_at, txid)
           SELECT substring(sha256(convert_to(key, 'UTF8')) FROM 1 FOR 16), 'token:' || key, 0, $1::int8,
                  pg_current_xact_id()
           FROM (SELECT 'jti:bulk:' || i || $3 AS key FROM generate_series($2::int, $2::int + 29999) AS i) AS k`,
          [now + 60_000, from, pad],
        );
      for (const from of [0, 30_000, 60_000]) await insert(from);
      const since = await store.changeLog.read(cursor, now);
      expect(since.complete).toBe(false);
      expect(new Set(keysOf(since)).size).toBe(90_000);
      const all = await store.changeLog.read(undefined, now);
      expect(all.tokens!.count).toBe(90_000);
      expect(new Set(keysOf(all))).toEqual(new Set(keysOf(since)));
      expect(keysOf(all)).toContain(byDigest(`jti:bulk:89999${pad}`));
      const { rows } = await admin.pool.query(
        `SELECT pg_relation_size('"${store.schema}".revocations') / 8192 AS blocks`,
      );
      expect(Number(rows[0].blocks)).toBeGreaterThan(2_048);
      // One transaction of more than a chunk (never the store's own writes): everything instead.
      const from = await quiet(store, all.cursor, now);
      await admin.pool.query(
        `UPDATE "${store.schema}".revocations SET txid = pg_current_xact_id(), expires_at = expires_at + 1`,
      );
      const rewritten = await store.changeLog.read(from, now);
      expect(rewritten.complete).toBe(true);
      expect(rewritten.tokens!.count).toBe(90_000);
    } finally {
      await store.close();
    }
  }, 60_000);

  it('a token named by its digest alone (a mirror healing the store) lands on the token’s row and keeps its key', async () => {
    const now = Date.now();
    const store = await connectedStore(() => now);
    try {
      await store.publish(token('jti:k', now + 10_000));
      await store.publish(token(byDigest('jti:k'), now + 50_000));
      await Promise.all([store.publish(token('jti:k', now + 20_000)), store.publish(token(byDigest('jti:k'), now))]);
      expect(await store.snapshot(now)).toEqual([token('jti:k', now + 50_000)]);
      const { rows } = await admin.pool.query(
        `SELECT encode(id, 'hex') AS id, target FROM "${store.schema}".revocations`,
      );
      expect(rows).toEqual([{ id: byDigest('jti:k').slice('digest:'.length), target: 'token:jti:k' }]);
      await store.publish(token(byDigest('jti:only-digest'), now + 50_000));
      expect((await store.snapshot(now)).map((r) => (r as { key: string }).key).sort()).toEqual(
        [byDigest('jti:only-digest'), 'jti:k'].sort(),
      );
    } finally {
      await store.close();
    }
  });
});
