/**
 * The mirror of a shared store under real Redis faults, on a private redis-server this file owns:
 * writes refused with OOM while every connection stays up, writes stalled past `commandTimeout`
 * (CLIENT PAUSE WRITE), a store that has never been reachable, a reconnect whose resync is slow,
 * and a cold start whose subscription comes late. Each test uses its own key prefix.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import {
  createRedisStore,
  createVerifier,
  InvalidTokenError,
  RevocationPendingError,
  StoreUnavailableError,
  type RedisStoreOptions,
  type RevocationStore,
  type StoreStatus,
  type Verifier,
} from '../../../src/index.js';
import { issuedAt, startIdp, testClock, type EmbeddedIdp } from '../../support/idp.js';
import { startPrivateRedis, type PrivateRedis } from '../../support/redis-server.js';
import { startTcpProxy } from '../../support/tcp-proxy.js';
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

const newPrefix = () => `rjwt-mirror:${randomUUID()}:`;

function redisStore(keyPrefix: string, options: Partial<RedisStoreOptions> = {}): RevocationStore {
  const store = createRedisStore({ url: redis.url, keyPrefix, ...options } as RedisStoreOptions);
  cleanups.push(() => store.close());
  return store;
}

function verifierOn(store: RevocationStore, clock?: () => number): Verifier {
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

/** Writes fail with OOM; reads, subscriptions and connections stay up. */
async function refuseWrites(on: boolean): Promise<void> {
  await admin.config('SET', 'maxmemory-policy', 'noeviction');
  await admin.config('SET', 'maxmemory', on ? '1' : '0');
}

/**
 * Owns an ioredis client so a test can hold one of its calls at a gate (to make a race window wide
 * and certain), or close it whatever state its connection is in. `disconnectTimeout: 0`: ioredis
 * otherwise leaves a 2 s timer behind when it disconnects a connection that is already gone, which
 * keeps the Jest worker alive past its exit ("a worker process has failed to exit gracefully").
 */
function ownedClient(url: string): Redis {
  const client = new Redis(url, { maxRetriesPerRequest: 1, retryStrategy: () => 50, disconnectTimeout: 0 });
  client.on('error', () => undefined);
  cleanups.push(() => client.disconnect());
  return client;
}

function gate(): { promise: Promise<void>; open(): void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

function watchStatuses(store: RevocationStore): StoreStatus[] {
  const statuses: StoreStatus[] = [];
  cleanups.push(store.watch!((status) => statuses.push(status)));
  return statuses;
}

describe('a revocation the store did not take (item 10)', () => {
  it('OOM: kept and retried until it lands; other instances then refuse the token; the instance never stops serving', async () => {
    const prefix = newPrefix();
    // The IdP signs with real time: start the injected clock on one of its tokens' iat.
    const clock = testClock(issuedAt(await idp.issueAccessToken()));
    const a = verifierOn(redisStore(prefix, { maxStaleness: 1 }), clock);
    const b = verifierOn(redisStore(prefix));
    await Promise.all([synced(a), synced(b)]);
    const token = await idp.issueAccessToken();
    const other = await idp.issueAccessToken();
    await b.verify(token);

    await refuseWrites(true);
    try {
      const failure = await a.invalidate(token).then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(failure).toBeInstanceOf(RevocationPendingError);
      expect(failure).toMatchObject({
        status: 503,
        code: 'temporarily_unavailable',
        headers: { 'Retry-After': expect.stringMatching(/^[1-9]\d*$/) },
      });
      expect(a.stats().revocation.store).toMatchObject({
        unpublished: 1,
        synced: false,
        connected: true,
        trusted: true,
      });
      expect(a.stats().revocation.store.lastError).toMatch(/OOM/);
      expect(await outcome(a.verify(token))).toBe('revoked'); // the local revocation stands
      clock.advance(2_000); // past maxStaleness: a failed write says nothing about the mirror's freshness
      expect(await outcome(a.verify(other))).toBe('accepted');
      expect(await outcome(b.verify(token))).toBe('accepted'); // nothing in the store yet: B cannot know
    } finally {
      await refuseWrites(false);
    }

    await waitFor(async () => (await outcome(b.verify(token))) === 'revoked', 'the retried write to reach B', 10_000);
    await waitFor(() => a.stats().revocation.store.unpublished === 0, 'A to see its write confirmed');
    expect(a.stats().revocation.store).toMatchObject({ synced: true, lastError: undefined });
    expect(await outcome(a.verify(other))).toBe('accepted');
    const late = verifierOn(redisStore(prefix)); // a fresh instance finds it in the store
    expect(await outcome(late.verify(token))).toBe('revoked');
  }, 30_000);

  it('a write stalled past commandTimeout (CLIENT PAUSE WRITE) lands late and is retried; no 503s for valid tokens', async () => {
    const prefix = newPrefix();
    // The IdP signs with real time: start the injected clock on one of its tokens' iat.
    const clock = testClock(issuedAt(await idp.issueAccessToken()));
    const a = verifierOn(redisStore(prefix, { commandTimeout: 0.2, maxStaleness: 1 }), clock);
    const b = verifierOn(redisStore(prefix));
    await Promise.all([synced(a), synced(b)]);
    const token = await idp.issueAccessToken();
    const other = await idp.issueAccessToken();
    await b.verify(token);

    await admin.call('CLIENT', 'PAUSE', '1500', 'WRITE');
    await expect(a.invalidateSubject('someone')).rejects.toBeInstanceOf(RevocationPendingError);
    await expect(a.invalidate(token)).rejects.toBeInstanceOf(RevocationPendingError);
    expect(a.stats().revocation.store).toMatchObject({ unpublished: 2, synced: false });
    clock.advance(2_000);
    expect(await outcome(a.verify(other))).toBe('accepted');

    await waitFor(
      async () => (await outcome(b.verify(token))) === 'revoked',
      'the late or retried write to reach B',
      10_000,
    );
    await waitFor(() => a.stats().revocation.store.synced, 'A to be in sync again');
    expect(a.stats().revocation.store.unpublished).toBe(0);
    expect(await outcome(a.verify(other))).toBe('accepted');
  }, 30_000);
});

describe('a cold start (item 12)', () => {
  it('misses nothing published between its snapshot and its subscription becoming active', async () => {
    const prefix = newPrefix();
    const writer = verifierOn(redisStore(prefix));
    await synced(writer);
    const token = await idp.issueAccessToken();

    // The new instance's subscription is late, and a snapshot it reads is held until we say so.
    const client = ownedClient(redis.url);
    const subscribeGate = gate();
    const scanGate = gate();
    const duplicate = client.duplicate.bind(client);
    client.duplicate = ((...args: Parameters<Redis['duplicate']>) => {
      const subscriber = duplicate(...args);
      const subscribe = subscriber.subscribe.bind(subscriber);
      subscriber.subscribe = (async (...channels: string[]) => {
        await subscribeGate.promise;
        return subscribe(...channels);
      }) as typeof subscriber.subscribe;
      return subscriber;
    }) as typeof client.duplicate;
    // A resync starts by reading where each shard's change log stands (HMGET): held here.
    const hmget = client.hmget.bind(client);
    client.hmget = (async (...args: Parameters<Redis['hmget']>) => {
      const result = await hmget(...args);
      await scanGate.promise;
      return result;
    }) as typeof client.hmget;
    const store = createRedisStore({ client: client as never, keyPrefix: prefix });
    cleanups.push(() => store.close());
    const cold = verifierOn(store);
    const statuses = watchStatuses(store);

    await client.ping(); // a snapshot the instance asked for before this has been read by Redis
    await writer.invalidate(token); // published while the new instance is not subscribed yet
    subscribeGate.open();
    await waitFor(() => statuses.includes('connected'), 'the subscription to become active');
    scanGate.open();
    expect(await outcome(cold.verify(token))).toBe('revoked');
  }, 30_000);
  it('a reconnect while a resync is under way resyncs again: nothing published between the two connections is missed', async () => {
    const prefix = newPrefix();
    const proxy = await startTcpProxy(redis.port);
    cleanups.push(() => proxy.close());
    const client = ownedClient(`redis://127.0.0.1:${proxy.port}`);
    let held: { promise: Promise<void>; open(): void } | undefined; // holds the next resync's read, once
    const hmget = client.hmget.bind(client);
    client.hmget = (async (...args: Parameters<Redis['hmget']>) => {
      const result = await hmget(...args);
      const hold = held;
      held = undefined;
      if (hold) await hold.promise;
      return result;
    }) as typeof client.hmget;
    const store = createRedisStore({ client: client as never, keyPrefix: prefix, syncTimeout: 10 });
    cleanups.push(() => store.close());
    const instance = verifierOn(store);
    const writer = verifierOn(redisStore(prefix));
    await Promise.all([synced(instance), synced(writer)]);
    const token = await idp.issueAccessToken();
    await instance.verify(token); // cached: a stale mirror would answer at once
    const statuses = watchStatuses(store);
    await waitFor(() => statuses.length > 0, 'the current state');
    const reconnect = async () => {
      const connects = statuses.filter((s) => s === 'connected').length;
      proxy.restore();
      await waitFor(() => statuses.filter((s) => s === 'connected').length > connects, 'the instance to reconnect');
    };

    const slow = gate();
    held = slow;
    proxy.cut();
    await waitFor(() => statuses.at(-1) === 'disconnected', 'the instance to lose Redis');
    await reconnect(); // its resync has read a snapshot, held here
    await waitFor(() => held === undefined, 'the resync to read its snapshot');
    proxy.cut();
    await waitFor(() => statuses.at(-1) === 'disconnected', 'the instance to lose Redis again');
    await writer.invalidate(token); // neither in that snapshot nor delivered
    await reconnect();
    const resyncs = instance.stats().revocation.store.resyncs;
    slow.open(); // the first resync completes with its old snapshot: that must not count as synced
    await waitFor(() => instance.stats().revocation.store.resyncs > resyncs, 'a resync to complete');
    expect(await outcome(instance.verify(token))).toBe('revoked');
  }, 30_000);
});

describe('a store that has never been reachable (item 13)', () => {
  it('fail-closed: store-unavailable at once, stats say so, tokens wait (bounded) then 503; served once it syncs', async () => {
    const down = await startPrivateRedis();
    cleanups.push(() => down.stop());
    await down.stop();
    const store = createRedisStore({ url: down.url, keyPrefix: newPrefix(), syncTimeout: 0.3 });
    cleanups.push(() => store.close());
    // The IdP signs with real time: start the injected clock on one of its tokens' iat.
    const clock = testClock(issuedAt(await idp.issueAccessToken()));
    const verifier = verifierOn(store, clock);
    let announced: number | undefined;
    verifier.on('store-unavailable', ({ since }) => (announced = since));
    const token = await idp.issueAccessToken();

    await waitFor(() => announced !== undefined, 'store-unavailable for a store that never connected', 2_000);
    expect(verifier.stats().revocation.store).toMatchObject({
      synced: false,
      connected: false,
      trusted: false,
      unavailableSince: announced,
    });
    const refused = await verifier.verify(token).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(refused).toBeInstanceOf(StoreUnavailableError);
    expect(refused).toMatchObject({ status: 503, headers: { 'Retry-After': expect.stringMatching(/^[1-9]\d*$/) } });
    expect(verifier.peek(token)).toBeUndefined();
    clock.advance(60_000); // never synced is never trusted, however long it has been
    expect(await outcome(verifier.verify(token))).toBe('store_unavailable');

    await down.start();
    await waitFor(() => verifier.stats().revocation.store.synced, 'the first sync once Redis is up', 10_000);
    expect(await outcome(verifier.verify(token))).toBe('accepted');
  }, 30_000);

  it('fail-open too: a mirror that never synced accepts no token; after the bounded wait, 503', async () => {
    const down = await startPrivateRedis();
    cleanups.push(() => down.stop());
    await down.stop();
    // On a client this test owns: a store closing its own client on a dead connection leaves a 2 s
    // ioredis timer behind (see ownedClient).
    const store = createRedisStore({
      client: ownedClient(down.url) as never,
      keyPrefix: newPrefix(),
      syncTimeout: 0.1,
      onStoreUnavailable: 'fail-open',
    });
    cleanups.push(() => store.close());
    const verifier = verifierOn(store);
    expect(await outcome(verifier.verify(await idp.issueAccessToken()))).toBe('store_unavailable');
    expect(verifier.stats().revocation.store).toMatchObject({ synced: false, trusted: false });
  });

  it('refuses a syncTimeout that is not a number of seconds within (0, 60]', () => {
    expect(() => createRedisStore({ url: redis.url, syncTimeout: -1 })).toThrow(/syncTimeout/);
    expect(() => createRedisStore({ url: redis.url, syncTimeout: '5s' as never })).toThrow(/syncTimeout/);
    expect(() => createRedisStore({ url: redis.url, syncTimeout: 5000 })).toThrow(/looks like milliseconds/);
  });
});

describe('a reconnect (item 14)', () => {
  it('tokens are not accepted from the stale mirror before the resync completes: they wait for it, bounded, then 503', async () => {
    const prefix = newPrefix();
    const proxy = await startTcpProxy(redis.port);
    cleanups.push(() => proxy.close());
    const client = ownedClient(`redis://127.0.0.1:${proxy.port}`);
    let hold: Promise<void> | undefined;
    const hmget = client.hmget.bind(client);
    client.hmget = (async (...args: Parameters<Redis['hmget']>) => {
      const result = await hmget(...args);
      if (hold) await hold;
      return result;
    }) as typeof client.hmget;
    const store = createRedisStore({ client: client as never, keyPrefix: prefix, syncTimeout: 1 });
    cleanups.push(() => store.close());
    const partitioned = verifierOn(store);
    const writer = verifierOn(redisStore(prefix));
    await Promise.all([synced(partitioned), synced(writer)]);
    const token = await idp.issueAccessToken();
    const other = await idp.issueAccessToken();
    await partitioned.verify(token);
    const statuses = watchStatuses(store);
    /** Cuts the instance off, runs `meanwhile`, reconnects it with its resync held at a gate. */
    const partition = async (meanwhile: () => Promise<void>) => {
      proxy.cut();
      await waitFor(() => statuses.at(-1) === 'disconnected', 'the instance to lose Redis');
      const connects = statuses.filter((s) => s === 'connected').length;
      await meanwhile();
      const resync = gate();
      hold = resync.promise;
      proxy.restore();
      await waitFor(() => statuses.filter((s) => s === 'connected').length > connects, 'the instance to reconnect');
      return resync;
    };

    const first = await partition(async () => {
      expect(partitioned.peek(token)).toBeDefined(); // the documented window: trusted for maxStaleness while cut off
      await writer.invalidate(token); // the partitioned instance misses the broadcast
    });
    expect(partitioned.peek(token)).toBeUndefined(); // reachable again: the stale mirror is not used
    const verdict = outcome(partitioned.verify(token)); // waits for the resync
    first.open();
    expect(await verdict).toBe('revoked');
    expect(await outcome(partitioned.verify(other))).toBe('accepted');

    const second = await partition(async () => undefined);
    expect(await outcome(partitioned.verify(other))).toBe('store_unavailable'); // the resync took longer than syncTimeout
    second.open();
    await waitFor(() => partitioned.stats().revocation.store.synced, 'the resync to complete');
    expect(await outcome(partitioned.verify(other))).toBe('accepted');
    expect(partitioned.stats().revocation.store).toMatchObject({ synced: true, connected: true, trusted: true });
  }, 30_000);
});
