/**
 * The Redis store's change log and compact snapshot (`store.changeLog`), against the shared Redis:
 * a read from a cursor returns only what changed since; a cursor the log was trimmed past, or from
 * a shard that was lost, gets everything; deliveries carry the positions the cursor moves along.
 */
import { afterAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import {
  createRedisStore,
  type ChangeCursor,
  type DeliveryMeta,
  type RedisRevocationStore,
  type RedisStoreOptions,
  type Revocation,
  type StoreStatus,
} from '../../src/index.js';
import { digestKey, tokenDigestOf } from '../../src/core/shared/token-digest.js';
import { REDIS_URL } from '../support/redis-server.js';
import { byDigest, listed, token } from '../support/change-log.js';
import { waitFor } from '../support/wait-for.js';

const admin = new Redis(REDIS_URL);
const prefixes: string[] = [];
afterAll(async () => {
  for (const prefix of prefixes) {
    const keys = await admin.keys(`${prefix}*`);
    if (keys.length) await admin.del(...keys);
  }
  admin.disconnect();
});

async function connectedStore(
  clock: () => number,
  options: Partial<RedisStoreOptions> = {},
  prefix = `rjwt-log:${randomUUID()}:`,
): Promise<RedisRevocationStore> {
  prefixes.push(prefix);
  const store = createRedisStore({ url: REDIS_URL, keyPrefix: prefix, clock, ...options });
  let status: StoreStatus | undefined;
  const stop = store.watch!((s) => (status = s));
  await waitFor(() => status === 'connected', 'the Redis store to connect');
  stop();
  return store;
}

const shardOf = (key: string) => tokenDigestOf(key)[0]! % 16;
/** `perShard` token keys in every one of the 16 shards. */
function keysInEveryShard(tag: string, perShard = 1): string[] {
  const counts = new Array<number>(16).fill(0);
  const keys: string[] = [];
  for (let i = 0; keys.length < 16 * perShard; i++) {
    const key = `jti:${tag}:${i}`;
    if (counts[shardOf(key)]! < perShard) {
      counts[shardOf(key)]!++;
      keys.push(key);
    }
  }
  return keys;
}
const seqOf = (cursor: ChangeCursor) => Object.values(cursor).reduce((sum, p) => sum + p.seq, 0);

describe('the change log', () => {
  it('a first read gets everything (tokens in bulk, by digest); a read from its cursor only what changed since', async () => {
    const now = Date.now();
    const store = await connectedStore(() => now);
    try {
      const early = keysInEveryShard('early', 20);
      await Promise.all(early.map((key) => store.publish(token(key, now + 60_000))));
      await store.publish({
        type: 'subject',
        issuer: 'https://idp',
        subject: 'alice',
        cutoff: 10,
        expiresAt: now + 60_000,
      });
      const first = await store.changeLog.read(undefined, now);
      expect(first.complete).toBe(true);
      expect(first.tokens!.count).toBe(early.length);
      const digests = new Set<string>();
      for (let i = 0; i < first.tokens!.count; i++) digests.add(digestKey(first.tokens!.digests, i * 16));
      expect(digests).toEqual(new Set(early.map(byDigest)));
      expect(
        [...first.tokens!.expiresAt.subarray(0, first.tokens!.count)].every(
          (s) => s === Math.ceil((now + 60_000) / 1000),
        ),
      ).toBe(true);
      expect(first.revocations).toEqual([
        { type: 'subject', issuer: 'https://idp', subject: 'alice', cutoff: 10, expiresAt: now + 60_000 },
      ]);
      expect(Object.keys(first.cursor)).toHaveLength(16);

      await store.publish(token('jti:late:1', now + 30_000));
      await store.publish({
        type: 'session',
        issuer: 'https://idp',
        session: 's1',
        cutoff: 11,
        expiresAt: now + 60_000,
      });
      const later = await store.changeLog.read(first.cursor, now);
      expect(later.complete).toBe(false);
      expect(listed(later)).toEqual([
        { type: 'session', issuer: 'https://idp', session: 's1', cutoff: 11, expiresAt: now + 60_000 },
        { type: 'token', key: byDigest('jti:late:1'), expiresAt: Math.ceil((now + 30_000) / 1000) * 1000 },
      ]);
      expect(seqOf(later.cursor)).toBe(seqOf(first.cursor) + 2);
      const none = await store.changeLog.read(later.cursor, now);
      expect(none).toMatchObject({ complete: false, revocations: [], tokens: { count: 0 } });
      expect(none.cursor).toEqual(later.cursor);
    } finally {
      await store.close();
    }
  });

  it('a burst of publishes is written in a few log entries, one per shard, each with its own broadcast', async () => {
    const now = Date.now();
    const store = await connectedStore(() => now);
    const seen: Array<[Revocation, DeliveryMeta]> = [];
    store.subscribe((revocation, meta) => seen.push([revocation, meta]));
    try {
      const before = (await store.changeLog.read(undefined, now)).cursor;
      const keys = keysInEveryShard('burst', 10);
      await Promise.all(keys.map((key) => store.publish(token(key, now + 60_000), 'me')));
      await waitFor(() => seen.length === keys.length, 'every delivery');
      // Each delivery names its log position; one burst of a shard shares one position.
      const positions = new Set(seen.map(([, meta]) => `${meta.position!.log}#${meta.position!.seq}`));
      expect(positions.size).toBe(16);
      expect(seen.every(([, meta]) => meta.origin === 'me' && meta.publishedAt === now)).toBe(true);
      expect(seen.map(([r]) => (r as { key: string }).key).sort()).toEqual([...keys].sort()); // full keys on the wire
      const after = await store.changeLog.read(before, now);
      expect(
        listed(after)
          .map((r) => (r as { key: string }).key)
          .sort(),
      ).toEqual(keys.map(byDigest).sort());
      expect(seqOf(after.cursor)).toBe(seqOf(before) + 16);
    } finally {
      await store.close();
    }
  });

  it('a cursor the log was trimmed past (retention) gets everything instead', async () => {
    let now = Date.now();
    const store = await connectedStore(() => now, { changeLogRetention: 1 });
    try {
      const publishEverywhere = (tag: string) =>
        Promise.all(keysInEveryShard(tag).map((key) => store.publish(token(key, now + 600_000))));
      await publishEverywhere('a');
      const cursor = (await store.changeLog.read(undefined, now)).cursor;
      await publishEverywhere('b');
      expect((await store.changeLog.read(cursor, now)).complete).toBe(false); // still in the log
      // Two retention periods later the changes after the cursor are gone from the log.
      now += 1_500;
      await publishEverywhere('c');
      now += 1_500;
      await publishEverywhere('d');
      const read = await store.changeLog.read(cursor, now);
      expect(read.complete).toBe(true);
      expect(read.tokens!.count).toBe(64);
      // The new cursor reads on from the log again.
      await publishEverywhere('e');
      expect(await store.changeLog.read(read.cursor, now)).toMatchObject({ complete: false });
    } finally {
      await store.close();
    }
  });

  it('a shard lost since the cursor (a new epoch) gets everything, and its deliveries say so', async () => {
    const now = Date.now();
    const store = await connectedStore(() => now);
    const positions: string[] = [];
    store.subscribe((_, meta) => meta.position && positions.push(meta.position.epoch));
    try {
      await Promise.all(keysInEveryShard('x').map((key) => store.publish(token(key, now + 60_000))));
      const cursor = (await store.changeLog.read(undefined, now)).cursor;
      const lost = shardOf('jti:x:lost');
      const epoch = cursor[`s${lost}`]!.epoch;
      await admin.del(...(await admin.keys(`${store.keyPrefix}{s${lost}}:*`))); // as a restarted Cluster node
      await store.publish(token('jti:x:lost', now + 60_000));
      await waitFor(() => positions.length === 17, 'the delivery');
      expect(positions.at(-1)).not.toBe(epoch);
      const read = await store.changeLog.read(cursor, now);
      expect(read.complete).toBe(true);
      expect(read.cursor[`s${lost}`]).toEqual({ log: `s${lost}`, epoch: positions.at(-1), seq: 1 });
    } finally {
      await store.close();
    }
  });

  it('an empty store: positions of logs that do not exist yet, then their first changes', async () => {
    const now = Date.now();
    const store = await connectedStore(() => now);
    try {
      const empty = await store.changeLog.read(undefined, now);
      expect(empty).toMatchObject({ complete: true, revocations: [], tokens: { count: 0 } });
      expect(Object.values(empty.cursor).every((p) => p.epoch === '' && p.seq === 0)).toBe(true);
      await store.publish(token('jti:first', now + 60_000));
      const read = await store.changeLog.read(empty.cursor, now);
      expect(read.complete).toBe(false);
      expect(listed(read)).toMatchObject([{ type: 'token', key: byDigest('jti:first') }]);
      expect(read.cursor[`s${shardOf('jti:first')}`]).toMatchObject({
        seq: 1,
        epoch: expect.stringMatching(/^[0-9a-f]{32}$/),
      });
    } finally {
      await store.close();
    }
  });

  it('keeps a token key only once per digest, merged to the later expiry; a digest-only write keeps the key', async () => {
    const now = Date.now();
    const store = await connectedStore(() => now);
    try {
      await store.publish(token('jti:k', now + 10_000));
      await store.publish(token(byDigest('jti:k'), now + 50_000)); // a mirror healing the store
      await store.publish(token('jti:k', now + 20_000));
      expect(await store.snapshot(now)).toEqual([token('jti:k', now + 50_000)]);
      await store.publish(token(byDigest('jti:only-digest'), now + 50_000));
      expect((await store.snapshot(now)).map((r) => (r as { key: string }).key).sort()).toEqual(
        [byDigest('jti:only-digest'), 'jti:k'].sort(),
      );
    } finally {
      await store.close();
    }
  });

  it('expired records leave the buckets as later writes pass by', async () => {
    let now = Date.now();
    const store = await connectedStore(() => now);
    try {
      const keys = keysInEveryShard('short', 30);
      await Promise.all(keys.map((key) => store.publish(token(key, now + 1_000))));
      const bytes = async () => {
        let total = 0;
        for (const key of await admin.keys(`${store.keyPrefix}*:tokens`))
          for (const value of Object.values(await admin.hgetallBuffer(key))) total += value.length;
        return total;
      };
      expect(await bytes()).toBeGreaterThan(keys.length * 24);
      now += 2_000;
      // Rewriting the same buckets (same keys, digest only) drops the expired records they hold.
      await Promise.all(keys.map((key) => store.publish(token(byDigest(key), now + 60_000))));
      expect(await bytes()).toBe(keys.length * 24); // header only: the expired records and their keys went
      expect(await store.snapshot(now)).toHaveLength(keys.length);
    } finally {
      await store.close();
    }
  });

  it('refuses a changeLogRetention over a day', () => {
    expect(() => createRedisStore({ url: REDIS_URL, changeLogRetention: 100_000 })).toThrow(
      /`changeLogRetention` is at most 86400 seconds/,
    );
  });
});
