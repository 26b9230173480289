/**
 * `createRedisStore()`: revocations shared by every instance through Redis.
 *
 * - Revocations live in sixteen shards, each a compact snapshot (token digests and keys in
 *   buckets, cutoffs in a hash) and a change log (a stream numbered by the shard's sequence); see
 *   `redis-revocations.ts` for the layout. One Lua script writes a burst of revocations of a shard
 *   and PUBLISHes them with their log position, so a write and its broadcast are atomic.
 * - Broadcast is pub/sub on `<prefix>events`. Pub/sub drops messages while a subscriber is
 *   disconnected: on every (re)connect a verifier's mirror reads the change log from its cursor
 *   (only what it missed), or the compact snapshot when the log no longer reaches back that far
 *   or the shard was lost (a Redis restarted empty). Deliveries carry their position, so a mirror
 *   that misses one while connected notices and catches up.
 * - The IdP outbox is a hash of items plus a sorted set of due times; `claimDue` moves claimed
 *   items' due time forward by the lease in one script, so one instance gets each item.
 *
 * ioredis is an optional peer dependency, loaded only here. Any ioredis client works (single,
 * Sentinel, Cluster): pass `{ client }`; keys of one script share a hash tag.
 */
import { createRequire } from 'node:module';
import type {
  AvailabilityPolicy,
  PendingRevocation,
  RevocationChangeLog,
  RevocationListener,
  RevocationOutbox,
  RevocationStore,
  StoreStatus,
} from './revocation-store.js';
import { redisRevocations } from './redis-revocations.js';
import { durationMs } from '../core/shared/duration-option.js';
import { optionKeys, rejectUnknownKeys, rejectUnsetValue } from '../core/shared/option-keys.js';
import { sharedStorePolicy } from './shared-store-policy.js';

/**
 * The part of an ioredis client (`Redis`, or `Cluster`) this store uses: what `{ client }` must
 * offer. An ioredis `Redis` or `Cluster` instance fits as it is; the type exists so that the
 * store does not import ioredis's own types (ioredis is an optional peer dependency).
 *
 * @example
 * ```ts
 * import { Cluster, Redis } from 'ioredis';
 * import { createRedisStore, type RedisClientLike } from 'revocable-jwt';
 * const client: RedisClientLike = process.env.REDIS_CLUSTER
 *   ? new Cluster([{ host: 'redis-1', port: 6379 }]) // the 16 shards spread over the masters
 *   : new Redis({ sentinels: [{ host: 'sentinel-1', port: 26379 }], name: 'mymaster' });
 * const store = createRedisStore({ client }); // you own the client: the store does not quit it
 * ```
 */
export interface RedisClientLike {
  /**
   * `EVAL`: the Lua scripts that write a burst of revocations and PUBLISH it atomically, read the
   * change log, and run the outbox.
   */
  eval(script: string, numKeys: number, ...args: Array<string | number | Buffer>): Promise<unknown>;
  /**
   * Commands with binary replies: `EVAL` reads the change log (its token entries are binary),
   * `HVALS` and `HGETALL` the compact snapshot.
   */
  callBuffer(command: string, ...args: Array<string | number | Buffer>): Promise<unknown>;
  /** `HMGET`: where each shard's change log stands. */
  hmget(key: string, ...fields: string[]): Promise<Array<string | null>>;
  /** `HGET`: reads an outbox item. */
  hget(key: string, field: string): Promise<string | null>;
  /** `HLEN`: counts outbox items. */
  hlen(key: string): Promise<number>;
  /** Connection events (`error` is listened to on clients the store creates itself). */
  // biome-ignore lint/suspicious/noExplicitAny: ioredis types its listeners' arguments as any[]
  on(event: string, listener: (...args: any[]) => void): unknown;
  /** A second connection for the pub/sub subscription (a subscribed connection runs no other command). */
  duplicate(): RedisSubscriberLike;
  /** Closes the connection; called on `close()` only for a client the store created from `url`. */
  quit(): Promise<unknown>;
  /** ioredis's connection state (`'ready'`, …). */
  status?: string;
}

/**
 * The subscriber connection the store makes with `client.duplicate()`: what it needs of it to
 * follow `<prefix>events`. Its connection state is the store's: `ready` and subscribed means
 * `connected`; `close`, `end` or `reconnecting` means `disconnected`.
 *
 * @example
 * ```ts
 * import { Redis } from 'ioredis';
 * import type { RedisSubscriberLike } from 'revocable-jwt';
 * // What createRedisStore does with your client: a duplicate connection for the subscription.
 * const subscriber: RedisSubscriberLike = new Redis('redis://127.0.0.1:6379').duplicate();
 * await subscriber.subscribe('revocable-jwt:events');
 * ```
 */
export interface RedisSubscriberLike {
  /** `SUBSCRIBE` to the store's channel; resolves once Redis acknowledges it. */
  subscribe(channel: string): Promise<unknown>;
  /** Connection events (`ready`, `close`, `end`, `reconnecting`, `error`) and `message`s. */
  // biome-ignore lint/suspicious/noExplicitAny: ioredis types its listeners' arguments as any[]
  on(event: string, listener: (...args: any[]) => void): unknown;
  /** Closes the subscription on `close()`. */
  quit(): Promise<unknown>;
  /** Drops the connection when `quit()` fails. */
  disconnect(): void;
  /** ioredis's connection state (`'ready'`, …). */
  status?: string;
}

/**
 * Options of {@link createRedisStore}: `url` or `client` (exactly one), and how the verifiers that
 * use the store behave while Redis is unreachable. Durations are in seconds; any other key is
 * refused with a `TypeError` naming the closest valid one.
 *
 * @example
 * ```ts
 * import { createRedisStore, type RedisStoreOptions } from 'revocable-jwt';
 * const options: RedisStoreOptions = {
 *   url: process.env.REDIS_URL,
 *   keyPrefix: 'notes-api:',
 *   onStoreUnavailable: 'fail-closed', // 503 once Redis has been gone longer than maxStaleness
 *   maxStaleness: 10,
 *   commandTimeout: 0.5,
 * };
 * const store = createRedisStore(options);
 * ```
 */
export interface RedisStoreOptions {
  /** `redis://…` URL; the store creates (and on close, quits) its own client. */
  url?: string;
  /** An ioredis client (Redis, Sentinel or Cluster) you own; the store does not quit it. */
  client?: RedisClientLike;
  /** Prefix of every key and of the channel. Default `'revocable-jwt:'`. */
  keyPrefix?: string;
  /** Policy once Redis has been unreachable longer than `maxStaleness`. Default `'fail-closed'`. */
  onStoreUnavailable?: 'fail-closed' | 'fail-open';
  /** How long the local mirror is trusted after losing Redis, in seconds. Default 10. */
  maxStaleness?: number;
  /**
   * Each Redis command, in seconds (e.g. 0.5). Default 2, at most 60. A revocation not written
   * within it is retried in the background.
   */
  commandTimeout?: number;
  /**
   * How long a verification waits for the mirror's first sync (and for the resync after each
   * reconnect) before `fail-closed` answers 503, in seconds. Default 5, at most 60.
   */
  syncTimeout?: number;
  /**
   * How long the change log keeps a change, at least, in seconds (kept between this and twice
   * this). Default 600. A mirror that reconnects within it reads only what it missed; later, the
   * compact snapshot of everything. At most 86400.
   */
  changeLogRetention?: number;
  /** Current time in epoch ms (TTLs are computed from it). Default `Date.now`. */
  clock?: () => number;
}

/** The keys createRedisStore accepts (any other is refused): one line per option. */
const REDIS_STORE_OPTION_KEYS = optionKeys<RedisStoreOptions>({
  url: true,
  client: true,
  keyPrefix: true,
  onStoreUnavailable: true,
  maxStaleness: true,
  commandTimeout: true,
  syncTimeout: true,
  changeLogRetention: true,
  clock: true,
});

/**
 * The store {@link createRedisStore} returns: a shared `RevocationStore` that reports connection
 * changes (`watch`) and always has an availability policy.
 *
 * @example
 * ```ts
 * import { createRedisStore, createVerifier, type RedisRevocationStore } from 'revocable-jwt';
 * const store: RedisRevocationStore = createRedisStore({ url: 'redis://127.0.0.1:6379' });
 * const verifier = createVerifier({ issuer: 'https://idp.example.com/', audience: 'api', store });
 * log.info({ keyPrefix: store.keyPrefix, policy: store.availability.onUnavailable }, 'revocations shared');
 * // on shutdown: verifier first, then the store
 * await verifier.close();
 * await store.close();
 * ```
 */
export type RedisRevocationStore = RevocationStore & {
  /** The policy built from `onStoreUnavailable`, `maxStaleness` and `syncTimeout` (here in milliseconds). */
  readonly availability: AvailabilityPolicy;
  /** The change log mirrors resync from (see {@link RevocationChangeLog}). */
  readonly changeLog: RevocationChangeLog;
  /** The prefix of every key and of the `<prefix>events` channel. */
  readonly keyPrefix: string;
};

const ENQUEUE_SCRIPT = `
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 1 then
  redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
end
return 1`;

const CLAIM_SCRIPT = `
local ids = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
local out = {}
for _, id in ipairs(ids) do
  local item = redis.call('HGET', KEYS[1], id)
  if item then
    redis.call('ZADD', KEYS[2], ARGV[3], id)
    table.insert(out, item)
  else
    redis.call('ZREM', KEYS[2], id)
  end
end
return out`;

const RESCHEDULE_SCRIPT = `
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
  redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
end
return 1`;

const COMPLETE_SCRIPT = `
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return 1`;

/** Longest change log retention, in seconds (a day). */
const MAX_RETENTION_SECONDS = 86_400;
/** Most entries (bursts of revocations) a shard's change log keeps, whatever the retention. */
const MAX_LOG_ENTRIES = 100_000;

const fail = (message: string): never => {
  throw new TypeError(`revocable-jwt: createRedisStore: ${message}`);
};

/**
 * A `RevocationStore` in Redis, shared by every instance: a token revoked through one instance is
 * refused by all, while each still verifies locally (the hot path never asks Redis). Revocations
 * expire with the tokens they cover; bursts of them are written and PUBLISHed in one Lua script
 * per shard; every instance keeps a mirror, synced from a compact snapshot on start and from the
 * change log (what it missed) after every reconnect. Writes Redis does not take are retried in the
 * background until they land. The IdP outbox lives in Redis too, leased to one instance at a time.
 *
 * `{ url }` makes the store create (and on `close()` quit) its own ioredis client — ioredis is an
 * optional peer dependency, loaded only then; `{ client }` takes any ioredis client you own,
 * Sentinel and Cluster included. Construction does not wait for Redis: the first verifications
 * wait up to `syncTimeout` for the first sync.
 *
 * Does not validate: that Redis persists anything (without persistence a Redis restart loses
 * queued IdP retries; denylists are healed by the surviving instances), or that two deployments
 * sharing one Redis use different `keyPrefix`es.
 *
 * @param options - `url` or `client`, and the outage policy (see {@link RedisStoreOptions}).
 * @returns The store; pass it to `createVerifier({ store })` and `close()` it after the verifiers.
 * @throws TypeError for bad options (both or neither of `url`/`client`, an empty `url`, a wait
 *   over 60 s, a change log retention over a day, an unknown key); Error when `url` is given and
 *   ioredis is not installed.
 *
 * @example
 * ```ts
 * import { createRedisStore, createVerifier } from 'revocable-jwt';
 * const store = createRedisStore({ url: 'redis://127.0.0.1:6379', keyPrefix: 'revocable-jwt:' });
 * const verifier = createVerifier({ issuer: 'https://idp.example.com/', audience: 'api', store });
 * // shutdown: await verifier.close(); await store.close();
 * ```
 */
export function createRedisStore(options: RedisStoreOptions): RedisRevocationStore {
  if (typeof options !== 'object' || options === null) fail('needs options: { url } or { client }');
  rejectUnknownKeys(options, REDIS_STORE_OPTION_KEYS, 'createRedisStore');
  if (options.url !== undefined && options.client !== undefined) fail('pass either `url` or `client`, not both');
  if (options.url === undefined && options.client === undefined) {
    fail(
      "pass { url: 'redis://127.0.0.1:6379' } or { client } (an ioredis client); " +
        '`url` was undefined (is REDIS_URL set?)',
    );
  }
  // `url: process.env.REDIS_URL` set to '' must not be mistaken for a usable (default) url.
  if (options.client === undefined) rejectUnsetValue(options, 'url', 'createRedisStore');
  const keyPrefix = options.keyPrefix ?? 'revocable-jwt:';
  if (typeof keyPrefix !== 'string') fail('`keyPrefix` must be a string');
  const factory = 'createRedisStore';
  const { availability, commandTimeoutMs } = sharedStorePolicy(options, factory);
  const retentionMs = durationMs(
    options.changeLogRetention,
    'changeLogRetention',
    {
      default: 600,
      max: MAX_RETENTION_SECONDS,
      tooLong: 'a mirror away for longer reads the compact snapshot, which is cheaper than so long a log',
    },
    factory,
  );
  const clock = options.clock ?? Date.now;

  const owned = options.client === undefined;
  const client = options.client ?? connect(options.url!);
  if (owned) client.on('error', () => undefined); // outages surface as timeouts and status changes
  const subscriber = client.duplicate();
  const channel = `${keyPrefix}events`;
  const outboxItems = `${keyPrefix}{outbox}:items`;
  const outboxDue = `${keyPrefix}{outbox}:due`;
  const listeners = new Set<RevocationListener>();
  const watchers = new Set<(status: StoreStatus) => void>();
  let connected: boolean | undefined; // unknown until the first connect or failure
  let closed = false;

  const timed = <T>(promise: Promise<T>, what: string): Promise<T> => {
    let timer: NodeJS.Timeout;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`redis ${what} timed out after ${commandTimeoutMs} ms`)),
        commandTimeoutMs,
      );
    });
    return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
  };

  // Every `connected` is announced (each reconnect means a resync); `disconnected` once per
  // outage, including a first connection that fails (so a store that never connects says so).
  const setStatus = (status: StoreStatus) => {
    if (closed || (status === 'disconnected' && connected === false)) return;
    connected = status === 'connected';
    for (const watcher of watchers) watcher(status);
  };

  // The subscriber connection is what keeps mirrors fresh, so its state is the store's state.
  subscriber.on('ready', () => {
    subscriber.subscribe(channel).then(
      () => setStatus('connected'),
      () => setStatus('disconnected'),
    );
  });
  for (const event of ['close', 'end', 'reconnecting']) subscriber.on(event, () => setStatus('disconnected'));
  // Reported through status (an error before the first connect means it failed); ioredis reconnects by itself.
  subscriber.on('error', () => connected === undefined && setStatus('disconnected'));
  subscriber.on('message', (from: string, message: string) => {
    if (from !== channel || listeners.size === 0) return;
    for (const [revocation, meta] of revocations.parseMessage(message))
      for (const listener of listeners) listener(revocation, meta);
  });
  if (subscriber.status === 'ready')
    subscriber.subscribe(channel).then(
      () => setStatus('connected'),
      () => undefined,
    );

  const revocations = redisRevocations({
    client,
    keyPrefix,
    channel,
    clock,
    timed,
    retentionMs,
    maxLogEntries: MAX_LOG_ENTRIES,
  });

  const outbox: RevocationOutbox = {
    async enqueue(item) {
      await timed(
        client.eval(ENQUEUE_SCRIPT, 2, outboxItems, outboxDue, item.id, JSON.stringify(item), item.nextAttemptAt),
        'enqueue',
      );
    },
    async claimDue(now, limit, leaseMs) {
      const raw = (await timed(
        client.eval(CLAIM_SCRIPT, 2, outboxItems, outboxDue, now, limit, now + leaseMs),
        'claim',
      )) as string[];
      return raw.map((json) => JSON.parse(json) as PendingRevocation);
    },
    async complete(id) {
      await timed(client.eval(COMPLETE_SCRIPT, 2, outboxItems, outboxDue, id), 'complete');
    },
    async reschedule(id, update) {
      const current = await timed(client.hget(outboxItems, id), 'read');
      if (!current) return;
      const item = { ...(JSON.parse(current) as PendingRevocation), ...update };
      await timed(
        client.eval(RESCHEDULE_SCRIPT, 2, outboxItems, outboxDue, id, JSON.stringify(item), update.nextAttemptAt),
        'reschedule',
      );
    },
    async size() {
      return timed(client.hlen(outboxItems), 'size');
    },
  };

  return {
    keyPrefix,
    availability,
    outbox,
    changeLog: revocations.changeLog,
    publish(revocation, origin) {
      // Already over: nothing to keep or announce.
      return revocation.expiresAt <= clock() ? Promise.resolve() : revocations.publish(revocation, origin);
    },
    async claimOnce(key, ttlMs) {
      const result = await timed(
        client.eval(
          `return redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[1])`,
          1,
          `${keyPrefix}seen:${key}`,
          Math.max(1, Math.ceil(ttlMs)),
        ),
        'claim',
      );
      return result !== null;
    },
    snapshot: (now) => revocations.snapshot(now),
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    watch(listener) {
      watchers.add(listener);
      const now = connected;
      // Replays the current state, unless a change reached the listener first.
      if (now !== undefined)
        queueMicrotask(
          () => watchers.has(listener) && connected === now && listener(now ? 'connected' : 'disconnected'),
        );
      return () => watchers.delete(listener);
    },
    async close() {
      if (closed) return;
      closed = true;
      listeners.clear();
      watchers.clear();
      await subscriber.quit().catch(() => subscriber.disconnect());
      if (owned) await client.quit().catch(() => undefined);
    },
  };
}

function connect(url: string): RedisClientLike {
  let Redis: new (url: string, options: object) => RedisClientLike;
  try {
    const loaded = createRequire(import.meta.url)('ioredis') as { default?: unknown; Redis?: unknown };
    Redis = (loaded.Redis ?? loaded.default ?? loaded) as typeof Redis;
  } catch (cause) {
    throw new Error('revocable-jwt: createRedisStore needs the optional peer dependency ioredis: npm install ioredis', {
      cause,
    });
  }
  return new Redis(url, {
    // Fail commands fast while disconnected; the verifier's policy decides what that means.
    maxRetriesPerRequest: 1,
    // Jittered (half to full delay): instances that lost Redis together do not come back in step.
    retryStrategy: (times: number) => Math.round(Math.min(50 * 2 ** times, 2_000) * (0.5 + Math.random() / 2)),
    // close() after Redis died: ioredis would otherwise keep a 2 s timer (and the process) alive.
    disconnectTimeout: 0,
  });
}
