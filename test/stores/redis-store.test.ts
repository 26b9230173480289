/**
 * The Redis store against a real Redis (REDIS_URL, default redis://127.0.0.1:6379). These tests
 * never skip: CI starts Redis (see .ci/run), and a missing Redis must fail the run.
 */
import { afterAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import {
  createRedisStore,
  type RedisRevocationStore,
  type RedisStoreOptions,
  type RevocationStore,
  type StoreStatus,
} from '../../src/index.js';
import { REDIS_URL } from '../support/redis-server.js';
import { waitFor } from '../support/wait-for.js';
import { revocationStoreContract } from './store-contract.js';

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
  prefix = `rjwt-test:${randomUUID()}:`,
): Promise<RedisRevocationStore> {
  prefixes.push(prefix);
  const store = createRedisStore({ url: REDIS_URL, keyPrefix: prefix, clock });
  let status: StoreStatus | undefined;
  const stop = store.watch!((s) => (status = s));
  await waitFor(() => status === 'connected', 'the Redis store to connect');
  stop();
  return store;
}

revocationStoreContract('redis store', { create: (clock) => connectedStore(clock) as Promise<RevocationStore> });

describe('redis store specifics', () => {
  it('keeps revocations in shards, no key per token; each shard key expires once what it holds has', async () => {
    const now = Date.now();
    const store = await connectedStore(() => now);
    try {
      await store.publish({ type: 'token', key: 'jti:iss:abc', expiresAt: now + 30_000 });
      const keys = (await admin.keys(`${store.keyPrefix}*`)).map((k) => k.slice(store.keyPrefix.length)).sort();
      expect(keys).toEqual([
        expect.stringMatching(/^\{s\d+\}:log$/),
        expect.stringMatching(/^\{s\d+\}:meta$/),
        expect.stringMatching(/^\{s\d+\}:tokens$/),
      ]);
      const shard = keys[0]!.slice(0, keys[0]!.indexOf(':'));
      const ttl = await admin.pttl(`${store.keyPrefix}${shard}:tokens`);
      expect(ttl).toBeGreaterThan(25_000);
      expect(ttl).toBeLessThanOrEqual(30_000);
      // The log and its meta outlive the last entry by the log's retention (default 600 s).
      expect(await admin.pttl(`${store.keyPrefix}${shard}:log`)).toBeGreaterThan(625_000);
      await store.publish({
        type: 'subject',
        issuer: 'https://idp.example',
        subject: 'alice',
        cutoff: 100,
        expiresAt: now + 86_400_000,
      });
      const cutoffs = (await admin.keys(`${store.keyPrefix}*:cutoffs`))[0]!;
      expect(await admin.hget(cutoffs, 'subject:https%3A%2F%2Fidp.example:alice')).toBe(`100|${now + 86_400_000}`);
      expect(await admin.pttl(cutoffs)).toBeGreaterThan(86_000_000);
    } finally {
      await store.close();
    }
  });

  it('does not write revocations that are already over', async () => {
    const now = Date.now();
    const store = await connectedStore(() => now);
    try {
      await store.publish({ type: 'token', key: 'old', expiresAt: now - 1 });
      expect(await admin.keys(`${store.keyPrefix}*`)).toEqual([]);
    } finally {
      await store.close();
    }
  });

  it('merges concurrent cutoffs from many writers to the latest one', async () => {
    const now = Date.now();
    const prefix = `rjwt-test:${randomUUID()}:`;
    const writers = await Promise.all([1, 2, 3].map(() => connectedStore(() => now, prefix)));
    try {
      await Promise.all(
        writers.flatMap((w, i) =>
          [10, 30, 20].map((c) =>
            w.publish({ type: 'subject', issuer: 'i', subject: 'bob', cutoff: c + i, expiresAt: now + 60_000 + i }),
          ),
        ),
      );
      expect(await writers[0]!.snapshot(now)).toEqual([
        { type: 'subject', issuer: 'i', subject: 'bob', cutoff: 32, expiresAt: now + 60_002 },
      ]);
    } finally {
      await Promise.all(writers.map((s) => s.close()));
    }
  });

  it('ignores malformed messages on its channel', async () => {
    const now = Date.now();
    const store = await connectedStore(() => now);
    const seen: unknown[] = [];
    store.subscribe((r) => seen.push(r));
    try {
      await admin.publish(`${store.keyPrefix}events`, 'not json');
      await admin.publish(`${store.keyPrefix}events`, JSON.stringify({ type: 'token', key: 5 }));
      await admin.publish(
        `${store.keyPrefix}events`,
        JSON.stringify({ type: 'all', cutoff: 1, expiresAt: now + 1000 }),
      ); // no issuer
      await admin.publish(
        `${store.keyPrefix}events`,
        JSON.stringify({ type: 'all', issuer: 'i', cutoff: 1, expiresAt: now + 1000 }),
      );
      await waitFor(() => seen.length === 1, 'the one valid message');
      expect(seen).toEqual([{ type: 'all', issuer: 'i', cutoff: 1, expiresAt: now + 1000 }]);
    } finally {
      await store.close();
    }
  });

  it('fails fast with a message that says how to fix misconfiguration', () => {
    expect(() => createRedisStore({ url: undefined })).toThrow(/REDIS_URL/);
    expect(() => createRedisStore({ url: REDIS_URL, client: admin as never })).toThrow(/either/);
    expect(() => createRedisStore({ url: REDIS_URL, onStoreUnavailable: 'maybe' as never })).toThrow(/fail-closed/);
    expect(() => createRedisStore({ url: REDIS_URL, maxStaleness: -1 })).toThrow(/maxStaleness/);
  });

  // One rule for units: every duration is in seconds; the waits are bounded to (0, 60] so that a
  // value written in milliseconds fails here instead of meaning minutes (or, past 2^31 ms, a timer
  // that fires at once).
  const seconds = (name: string, example: number) =>
    `\`${name}\` must be a number of seconds > 0 and <= 60, e.g. ${example}`;
  it.each<[string, Partial<RedisStoreOptions>, string]>([
    [
      'commandTimeout 2000 (milliseconds)',
      { commandTimeout: 2000 },
      '`commandTimeout` is in seconds (e.g. 2), at most 60; 2000 looks like milliseconds (2000 ms = 2 s)',
    ],
    ['commandTimeout 0', { commandTimeout: 0 }, seconds('commandTimeout', 2)],
    ['commandTimeout NaN', { commandTimeout: Number.NaN }, seconds('commandTimeout', 2)],
    [
      'syncTimeout 5000 (milliseconds)',
      { syncTimeout: 5000 },
      '`syncTimeout` is in seconds (e.g. 5), at most 60; 5000 looks like milliseconds (5000 ms = 5 s)',
    ],
    [
      'syncTimeout past 2^31 ms',
      { syncTimeout: 2 ** 31 },
      '`syncTimeout` is in seconds (e.g. 5), at most 60; 2147483648 looks like milliseconds ' +
        '(2147483648 ms = 2147483.648 s)',
    ],
    ['syncTimeout 0', { syncTimeout: 0 }, seconds('syncTimeout', 5)],
    ['syncTimeout negative', { syncTimeout: -1 }, seconds('syncTimeout', 5)],
    ['syncTimeout Infinity', { syncTimeout: Number.POSITIVE_INFINITY }, seconds('syncTimeout', 5)],
    ["syncTimeout '5s'", { syncTimeout: '5s' as never }, seconds('syncTimeout', 5)],
    ['maxStaleness negative', { maxStaleness: -1 }, '`maxStaleness` must be a number of seconds >= 0, e.g. 10'],
    [
      'maxStaleness Infinity (use fail-open to never refuse)',
      { maxStaleness: Number.POSITIVE_INFINITY },
      '`maxStaleness` must be a number of seconds >= 0, e.g. 10',
    ],
  ])('refuses %s, before connecting', (_name, options, message) => {
    expect(() => createRedisStore({ url: REDIS_URL, ...options })).toThrow(
      new TypeError(`revocable-jwt: createRedisStore: ${message}`),
    );
  });

  it('takes fractions of a second, and converts each wait to milliseconds once', async () => {
    const store = createRedisStore({ url: REDIS_URL, commandTimeout: 0.25, syncTimeout: 1.1, maxStaleness: 0.5 });
    try {
      expect(store.availability).toEqual({ onUnavailable: 'fail-closed', maxStalenessMs: 500, syncTimeoutMs: 1100 });
    } finally {
      await store.close();
    }
  });

  it('works with a client you own and leaves it open on close', async () => {
    const client = new Redis(REDIS_URL);
    const prefix = `rjwt-test:${randomUUID()}:`;
    prefixes.push(prefix);
    const store = createRedisStore({ client: client as never, keyPrefix: prefix });
    await store.publish({ type: 'all', issuer: 'i', cutoff: 1, expiresAt: Date.now() + 10_000 });
    await store.close();
    expect(await client.ping()).toBe('PONG');
    client.disconnect();
  });
});
