/**
 * The store mirror on the Redis store's change log, on a private redis-server this file owns: a
 * reconnect reads only what it missed; a log trimmed past the cursor makes it read everything; a
 * delivery lost while connected, or a shard lost while connected, makes it fall behind (trusted by
 * no policy) until it has caught up, healing the store where it lost something; a cold start whose
 * sync is slow accepts no token, revoked or not, until it is done.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import {
  createRedisStore,
  createVerifier,
  InvalidTokenError,
  StoreUnavailableError,
  type RedisRevocationStore,
  type RedisStoreOptions,
  type StoreStatus,
  type Verifier,
} from '../../../src/index.js';
import { denylistKeyFor } from '../../../src/core/revoke/revocation-identity.js';
import { digestKey, tokenDigestOf } from '../../../src/core/shared/token-digest.js';
import { issuedAt, startIdp, testClock, type EmbeddedIdp } from '../../support/idp.js';
import { startPrivateRedis, type PrivateRedis } from '../../support/redis-server.js';
import { startTcpProxy, type TcpProxy } from '../../support/tcp-proxy.js';
import { waitFor } from '../../support/wait-for.js';

let idp: EmbeddedIdp;
let redis: PrivateRedis;
let admin: Redis;
const cleanups: Array<() => Promise<unknown> | unknown> = [];

beforeAll(async () => {
  [idp, redis] = await Promise.all([startIdp(), startPrivateRedis()]);
  admin = new Redis(redis.url);
}, 30_000);

afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  admin.disconnect();
  await redis.stop();
  await idp.close();
});

const newPrefix = () => `rjwt-log-mirror:${randomUUID()}:`;
const shardOf = (key: string) => tokenDigestOf(key)[0]! % 16;
const keyOf = (token: string) => denylistKeyFor(token, idp.issuer);
/** A token key in the same shard as `key` (another change of the same log). */
function sameShardAs(key: string, tag: string): string {
  for (let i = 0; ; i++) if (shardOf(`jti:${tag}:${i}`) === shardOf(key)) return `jti:${tag}:${i}`;
}

function redisStore(keyPrefix: string, options: Partial<RedisStoreOptions> = {}): RedisRevocationStore {
  const store = createRedisStore({ url: redis.url, keyPrefix, ...options } as RedisStoreOptions);
  cleanups.push(() => store.close());
  return store;
}

function verifierOn(store: RedisRevocationStore, clock?: () => number): Verifier {
  const verifier = createVerifier({ issuer: idp.issuer, audience: idp.audience, store, ...(clock ? { clock } : {}) });
  cleanups.push(() => verifier.close());
  return verifier;
}

const synced = (verifier: Verifier) => waitFor(() => verifier.stats().revocation.store.synced, 'the mirror to sync');

async function outcome(promise: Promise<unknown>): Promise<string> {
  return promise.then(
    () => 'accepted',
    (error: unknown) =>
      error instanceof InvalidTokenError
        ? error.reason
        : error instanceof StoreUnavailableError
          ? 'store_unavailable'
          : `unexpected ${String(error)}`,
  );
}

function gate(): { promise: Promise<void>; open(): void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

/**
 * An instance whose Redis client the test watches and steers: through a proxy it can cut, with
 * counts of the reads it makes (HVALS of the compact snapshot, change log reads), a gate that
 * holds its next resync (at the HMGET that starts every read), and a switch that drops the next
 * message its subscription receives.
 */
function steeredInstance(keyPrefix: string, proxy: TcpProxy, options: Partial<RedisStoreOptions> = {}) {
  const client = new Redis(`redis://127.0.0.1:${proxy.port}`, {
    maxRetriesPerRequest: 1,
    retryStrategy: () => 50,
    disconnectTimeout: 0,
  });
  client.on('error', () => undefined);
  cleanups.push(() => client.disconnect());
  const counts = { snapshotScans: 0, logReads: 0 };
  const callBuffer = client.callBuffer.bind(client);
  client.callBuffer = ((...args: Parameters<Redis['callBuffer']>) => {
    if (args[0] === 'HVALS') counts.snapshotScans++;
    if (String(args[1]).includes('XRANGE')) counts.logReads++;
    return callBuffer(...args);
  }) as typeof client.callBuffer;
  let hold: Promise<void> | undefined;
  const hmget = client.hmget.bind(client);
  client.hmget = (async (...args: Parameters<Redis['hmget']>) => {
    const result = await hmget(...args);
    if (hold) await hold;
    return result;
  }) as typeof client.hmget;
  let dropNext = false;
  const duplicate = client.duplicate.bind(client);
  client.duplicate = ((...args: Parameters<Redis['duplicate']>) => {
    const subscriber = duplicate(...args);
    const on = subscriber.on.bind(subscriber);
    subscriber.on = ((event: string, listener: (...a: unknown[]) => void) =>
      on(event, (...a: unknown[]) => {
        if (event === 'message' && dropNext) {
          dropNext = false; // lost, as by a broken link between Cluster nodes
          return;
        }
        listener(...a);
      })) as typeof subscriber.on;
    return subscriber;
  }) as typeof client.duplicate;
  const store = createRedisStore({ client: client as never, keyPrefix, ...options });
  cleanups.push(() => store.close());
  const statuses: StoreStatus[] = [];
  cleanups.push(store.watch!((status) => statuses.push(status)));
  return {
    store,
    counts,
    statuses,
    holdReads(): () => void {
      const g = gate();
      hold = g.promise;
      return () => {
        hold = undefined;
        g.open();
      };
    },
    dropNextMessage() {
      dropNext = true;
    },
  };
}

async function cutAndRestore(proxy: TcpProxy, statuses: StoreStatus[], meanwhile: () => Promise<void>): Promise<void> {
  proxy.cut();
  await waitFor(() => statuses.at(-1) === 'disconnected', 'the instance to lose Redis');
  const connects = statuses.filter((s) => s === 'connected').length;
  await meanwhile();
  proxy.restore();
  await waitFor(() => statuses.filter((s) => s === 'connected').length > connects, 'the instance to reconnect');
}

async function newProxy(): Promise<TcpProxy> {
  const proxy = await startTcpProxy(redis.port);
  cleanups.push(() => proxy.close());
  return proxy;
}

describe('a reconnect reads the change log from its cursor', () => {
  it('only what it missed: no snapshot read, the missed revocations applied', async () => {
    const prefix = newPrefix();
    const proxy = await newProxy();
    const steered = steeredInstance(prefix, proxy);
    const instance = verifierOn(steered.store);
    const writerStore = redisStore(prefix);
    const writer = verifierOn(writerStore);
    await Promise.all([synced(instance), synced(writer)]);
    // A store that is not empty: a full read would be seen.
    const now = Date.now();
    await Promise.all(
      Array.from({ length: 2_000 }, (_, i) =>
        writerStore.publish({ type: 'token', key: `jti:filler:${i}`, expiresAt: now + 600_000 }),
      ),
    );
    const tokens = await Promise.all([1, 2, 3].map(() => idp.issueAccessToken()));
    for (const token of tokens) await instance.verify(token);
    await waitFor(() => instance.stats().revocation.denylisted === 2_000, 'the filler to arrive');
    const resynced: Array<{ entries: number; healed: number }> = [];
    instance.on('store-resynced', (event) => resynced.push(event));
    const before = { ...steered.counts };

    await cutAndRestore(proxy, steered.statuses, async () => {
      for (const token of tokens) await writer.invalidate(token);
    });
    await waitFor(() => resynced.length === 1, 'the resync');
    for (const token of tokens) expect(await outcome(instance.verify(token))).toBe('revoked');
    expect(resynced).toEqual([{ entries: 3, healed: 0 }]);
    expect(steered.counts.snapshotScans).toBe(before.snapshotScans);
    expect(steered.counts.logReads - before.logReads).toBeGreaterThanOrEqual(1);
    expect(steered.counts.logReads - before.logReads).toBeLessThanOrEqual(3); // one per shard that changed
  }, 30_000);

  it('a log trimmed past the cursor: everything, from the compact snapshot', async () => {
    const prefix = newPrefix();
    const proxy = await newProxy();
    const token = await idp.issueAccessToken();
    const clock = testClock(issuedAt(token));
    const steered = steeredInstance(prefix, proxy, { changeLogRetention: 1, clock });
    const instance = verifierOn(steered.store, clock);
    const writerStore = redisStore(prefix, { changeLogRetention: 1, clock });
    const writer = verifierOn(writerStore, clock);
    await Promise.all([synced(instance), synced(writer)]);
    await instance.verify(token);
    const resynced: Array<{ entries: number; healed: number }> = [];
    instance.on('store-resynced', (event) => resynced.push(event));
    const scans = steered.counts.snapshotScans;

    await cutAndRestore(proxy, steered.statuses, async () => {
      await writer.invalidate(token);
      // Two retention periods of writes to every shard: the log no longer reaches the cursor.
      for (let round = 0; round < 3; round++) {
        clock.advance(1_500);
        await Promise.all(
          Array.from({ length: 64 }, (_, i) =>
            writerStore.publish({ type: 'token', key: `jti:r${round}:${i}`, expiresAt: clock() + 600_000 }),
          ),
        );
      }
    });
    await waitFor(() => resynced.length === 1, 'the resync');
    expect(steered.counts.snapshotScans).toBeGreaterThan(scans);
    expect(resynced[0]!.entries).toBe(1 + 3 * 64);
    expect(await outcome(instance.verify(token))).toBe('revoked');
  }, 30_000);
});

describe('falling behind while connected', () => {
  it('a lost delivery: the next one of that log reveals it; not trusted until the mirror has read what it missed', async () => {
    const prefix = newPrefix();
    const proxy = await newProxy();
    const steered = steeredInstance(prefix, proxy);
    const instance = verifierOn(steered.store);
    const writerStore = redisStore(prefix);
    const writer = verifierOn(writerStore);
    await Promise.all([synced(instance), synced(writer)]);
    const token = await idp.issueAccessToken();
    await instance.verify(token);

    steered.dropNextMessage();
    await writer.invalidate(token); // its broadcast never reaches the instance
    await waitFor(() => writer.peek(token) === undefined, 'the writer to apply it');
    expect(instance.peek(token)).toBeDefined(); // a silent loss: nothing to notice yet
    const release = steered.holdReads();
    await writerStore.publish({
      type: 'token',
      key: sameShardAs(keyOf(token), 'next'),
      expiresAt: Date.now() + 60_000,
    });
    await waitFor(() => !instance.stats().revocation.store.trusted, 'the instance to notice it is behind');
    expect(instance.peek(token)).toBeUndefined(); // behind: the cache is not vouched for
    const verdict = outcome(instance.verify(token)); // waits for the catch-up
    release();
    expect(await verdict).toBe('revoked');
    expect(instance.stats().revocation.store).toMatchObject({ synced: true, trusted: true });
  }, 30_000);

  it('a shard lost while connected (a new epoch): everything read again, and what the store lost healed back', async () => {
    const prefix = newPrefix();
    const proxy = await newProxy();
    const steered = steeredInstance(prefix, proxy);
    const instance = verifierOn(steered.store);
    const writerStore = redisStore(prefix);
    await synced(instance);
    const token = await idp.issueAccessToken();
    await instance.invalidate(token);
    const key = keyOf(token);
    const healed: number[] = [];
    instance.on('store-resynced', (event) => healed.push(event.healed));
    // The shard's keys go, as with a Cluster node restarted empty while this instance's
    // subscription (on another node) stays up.
    await admin.del(...(await admin.keys(`${prefix}{s${shardOf(key)}}:*`)));
    expect((await writerStore.snapshot(Date.now())).map((r) => (r as { key?: string }).key)).not.toContain(key);
    await writerStore.publish({ type: 'token', key: sameShardAs(key, 'after'), expiresAt: Date.now() + 60_000 });
    await waitFor(() => healed.length === 1, 'the complete resync');
    expect(healed[0]).toBeGreaterThanOrEqual(1);
    await waitFor(() => instance.stats().revocation.store.synced, 'the heal to land');
    const keys = (await writerStore.snapshot(Date.now())).map((r) => (r as { key?: string }).key);
    expect(keys).toContain(digestKey(tokenDigestOf(key))); // back in the store, by its digest
    const fresh = verifierOn(redisStore(prefix));
    expect(await outcome(fresh.verify(token))).toBe('revoked');
  }, 30_000);
});

describe('never trusted before synced', () => {
  it.each(['fail-closed', 'fail-open'] as const)(
    '%s: a cold start whose sync is slow accepts no token, revoked or not, then 503; once synced, the right answers',
    async (policy) => {
      const prefix = newPrefix();
      const writer = verifierOn(redisStore(prefix));
      await synced(writer);
      const [revoked, valid] = await Promise.all([idp.issueAccessToken(), idp.issueAccessToken()]);
      await writer.invalidate(revoked);
      const proxy = await newProxy();
      const steered = steeredInstance(prefix, proxy, { syncTimeout: 0.3, onStoreUnavailable: policy });
      const release = steered.holdReads(); // a snapshot that takes longer than syncTimeout (10^6 entries, say)
      const cold = verifierOn(steered.store);
      await waitFor(() => steered.statuses.includes('connected'), 'the subscription');
      expect(cold.peek(revoked)).toBeUndefined();
      expect(await outcome(cold.verify(revoked))).toBe('store_unavailable');
      expect(await outcome(cold.verify(valid))).toBe('store_unavailable');
      expect(cold.stats().revocation.store).toMatchObject({ synced: false, connected: true, trusted: false });
      release();
      await synced(cold);
      expect(await outcome(cold.verify(revoked))).toBe('revoked');
      expect(await outcome(cold.verify(valid))).toBe('accepted');
    },
    30_000,
  );
});
