/**
 * `RevocationStore`: where revocations live so every verifier that shares the store agrees, and
 * where IdP revocations wait while the IdP is unreachable.
 *
 * Verifiers never query the store on the request path. Each keeps an in-process mirror
 * (see `RevocationList`) that it fills from `snapshot()` and keeps current through `subscribe()`;
 * `publish()` writes a revocation and tells every subscriber, in this process or (for shared
 * stores such as Redis) in others.
 *
 * To implement a store: make `publish` idempotent (the same revocation may be published by many
 * instances at once, and a write that timed out may still land after its retry), make it settle
 * within a bounded time (resolve once the revocation is stored, reject otherwise: the caller keeps
 * it and retries), make entries expire at `expiresAt` on their own (memory must stay bounded
 * by live tokens), deliver every published revocation to every subscriber, including ones in the
 * publishing process, and let `claimDue` hand each outbox item to one caller at a time.
 * A shared store implements `watch` and reports `connected` only once its subscription is active
 * (every publish after that is delivered), so a snapshot read afterwards misses nothing; it reports
 * `disconnected` when the subscription is lost or cannot be set up, the very first time included.
 * The shared contract tests in `test/stores/` run against every implementation.
 */

/**
 * One revocation, as stores keep and broadcast it. Times are epoch milliseconds except `cutoff`, a
 * whole second (epoch seconds) that compares with `iat`: it covers its entire second
 * (`iat < cutoff + 1`). Cutoffs are scoped by `issuer`: a subject or session id means nothing
 * across IdPs, and verifiers of different issuers may share one store. `expiresAt` is when the
 * entry may be forgotten: every token it covers has expired by then.
 *
 * @example
 * ```ts
 * import { createRedisStore, type Revocation } from 'revocable-jwt';
 * const store = createRedisStore({ url: 'redis://127.0.0.1:6379' });
 * const describe = (revocation: Revocation): string => {
 *   switch (revocation.type) {
 *     case 'token':
 *       return 'one token';
 *     case 'subject':
 *       return `${revocation.subject}'s tokens from ${revocation.issuer}`;
 *     case 'session':
 *       return `session ${revocation.session} at ${revocation.issuer}`;
 *     case 'all':
 *       return `every token from ${revocation.issuer}`;
 *   }
 * };
 * for (const revocation of await store.snapshot(Date.now()))
 *   log.info({ until: new Date(revocation.expiresAt) }, describe(revocation));
 * ```
 */
export type Revocation =
  /**
   * One token, by its denylist key (`jti`-based, or a SHA-256 of the token), until it expires. A key
   * `digest:<32 lowercase hex digits>` names the token by the 128-bit digest of its key (see
   * {@link CompactTokens}): what a mirror that keeps digests only writes back to heal a store.
   */
  | { type: 'token'; key: string; expiresAt: number }
  /** Every token of `subject` (its `sub`) from `issuer` with `iat < cutoff + 1`. */
  | { type: 'subject'; issuer: string; subject: string; cutoff: number; expiresAt: number }
  /** Every token of session `session` (its `sid`) from `issuer` with `iat < cutoff + 1` (back-channel logout). */
  | { type: 'session'; issuer: string; session: string; cutoff: number; expiresAt: number }
  /** Every token from `issuer` with `iat < cutoff + 1` (incident response). */
  | { type: 'all'; issuer: string; cutoff: number; expiresAt: number };

export type CutoffRevocation = Exclude<Revocation, { type: 'token' }>;

/**
 * A revocation the IdP has not confirmed yet: an item of a store's {@link RevocationOutbox},
 * retried with backoff until the IdP takes it or `expiresAt` passes. Holds the raw token: the IdP
 * needs it, so protect the store accordingly. Times are epoch milliseconds.
 *
 * @example
 * ```ts
 * import { createMemoryStore, type PendingRevocation } from 'revocable-jwt';
 * // Exercising a store's outbox, e.g. in a contract test of your own store:
 * const store = createMemoryStore();
 * const now = Date.now();
 * const item: PendingRevocation = { id: 'r1', token, expiresAt: now + 3_600_000, attempts: 1, nextAttemptAt: now };
 * await store.outbox.enqueue(item);
 * const [claimed] = await store.outbox.claimDue(now, 10, 30_000); // leased to us for 30 s
 * ```
 */
export interface PendingRevocation {
  /** Identifies the item (the same token and issuer always give the same id): enqueueing is idempotent. */
  id: string;
  /** The token to revoke, sent as is to the IdP. */
  token: string;
  /** The issuer whose IdP must hear about it (verifiers of other issuers may share the store). */
  issuer?: string;
  /** RFC 7009 `token_type_hint` to send with it. */
  tokenTypeHint?: string | undefined;
  /** The token's `client_id`/`azp` when known, for public clients. */
  clientIdHint?: string | undefined;
  /** Give up after this (epoch ms): the token's expiry, or the retry horizon for opaque tokens. */
  expiresAt: number;
  /** Delivery attempts so far; the backoff doubles with each (1 s up to 5 min). */
  attempts: number;
  /** When the item is next due (epoch ms). */
  nextAttemptAt: number;
  /** Why the last attempt failed (never contains the token). */
  lastError?: string | undefined;
}

/**
 * Where IdP revocations wait while the IdP is unreachable: the `outbox` of every
 * {@link RevocationStore}. Every instance's worker claims due items with a lease, so with a shared
 * store a restart loses nothing and no two instances send the same item at once. Times are epoch
 * milliseconds; durations end in `Ms`.
 *
 * @example
 * ```ts
 * import { createRedisStore } from 'revocable-jwt';
 * const store = createRedisStore({ url: 'redis://127.0.0.1:6379' });
 * const waiting = await store.outbox.size(); // IdP revocations not delivered yet, all instances together
 * if (waiting > 1_000) log.warn({ waiting }, 'the IdP has not taken our revocations for a while');
 * ```
 */
export interface RevocationOutbox {
  /** Adds an item (an existing item with the same `id` is kept: enqueueing is idempotent). */
  enqueue(item: PendingRevocation): Promise<void>;
  /**
   * Items due at `now`, at most `limit`, each leased to this caller for `leaseMs` so concurrent
   * workers (other instances) do not send the same revocation at the same time.
   */
  claimDue(now: number, limit: number, leaseMs: number): Promise<PendingRevocation[]>;
  /** Removes an item: the IdP accepted it, refused it for good, or it expired. */
  complete(id: string): Promise<void>;
  /** Puts a claimed item back for another attempt at `nextAttemptAt`. */
  reschedule(id: string, update: { nextAttemptAt: number; attempts: number; lastError: string }): Promise<void>;
  /** How many items wait (due or not). */
  size(): Promise<number>;
}

/**
 * Where a delivered revocation came from: lets a mirror skip its own echo and measure lag. A store
 * passes it to every {@link RevocationListener}; both fields are optional (older publishers).
 *
 * @example
 * ```ts
 * import { createRedisStore, type DeliveryMeta } from 'revocable-jwt';
 * const store = createRedisStore({ url: 'redis://127.0.0.1:6379' });
 * store.subscribe((revocation, meta: DeliveryMeta) => {
 *   if (meta.publishedAt !== undefined) log.debug({ lagMs: Date.now() - meta.publishedAt }, 'revocation arrived');
 * });
 * ```
 */
export interface DeliveryMeta {
  /** Epoch ms when the publisher published it. */
  publishedAt?: number;
  /** The publisher's opaque id (see `publish`). */
  origin?: string;
  /**
   * Stores with a {@link RevocationChangeLog}: where this change sits in the log, so a mirror
   * moves its cursor along with the deliveries (and notices one it missed). Every revocation of
   * one logged change carries the same position.
   */
  position?: ChangePosition;
}

/**
 * Called by a store for every revocation published through it — by this instance or, for a
 * shared store, any other — with where it came from. Runs synchronously: keep it cheap.
 *
 * @example
 * ```ts
 * import { createMemoryStore, type RevocationListener } from 'revocable-jwt';
 * const store = createMemoryStore();
 * const audit: RevocationListener = (revocation, { origin }) => log.info({ type: revocation.type, origin }, 'revoked');
 * const unsubscribe = store.subscribe(audit);
 * // later: unsubscribe();
 * ```
 */
export type RevocationListener = (revocation: Revocation, meta: DeliveryMeta) => void;

/**
 * Connection changes of a shared store, reported through `watch()`: `connected` once its
 * subscription is active (first connect and every reconnect), `disconnected` when it is lost or
 * cannot be set up. After `connected`, a mirror may have missed publishes: verifiers resync.
 *
 * @example
 * ```ts
 * import { createRedisStore, type StoreStatus } from 'revocable-jwt';
 * const store = createRedisStore({ url: 'redis://127.0.0.1:6379' });
 * const stop = store.watch?.((status: StoreStatus) => log.info({ status }, 'revocation store'));
 * ```
 */
export type StoreStatus = 'connected' | 'disconnected';

/**
 * When verifiers trust their mirror of a shared store. Fresh (subscribed and resynced since the
 * last connect): always. Cut off after a sync: for `maxStalenessMs` from the moment the store was
 * lost (the staleness window), then `fail-closed` refuses every token (503) until the mirror is
 * resynced while `fail-open` keeps accepting tokens the stale mirror does not know to be revoked.
 * Never synced, or reconnected and not resynced yet: verifications wait up to `syncTimeoutMs`
 * for the sync, then `fail-closed` answers 503 and `fail-open` uses the mirror as it is.
 *
 * @example
 * ```ts
 * import { createRedisStore, type AvailabilityPolicy } from 'revocable-jwt';
 * const store = createRedisStore({ url: 'redis://127.0.0.1:6379', onStoreUnavailable: 'fail-open', maxStaleness: 30 });
 * const policy: AvailabilityPolicy = store.availability; // { onUnavailable: 'fail-open', maxStalenessMs: 30000, … }
 * ```
 */
export interface AvailabilityPolicy {
  /** What happens once the staleness window has passed (or a sync did not come in time). */
  onUnavailable: 'fail-closed' | 'fail-open';
  /** The staleness window, in milliseconds (the Redis store's `maxStaleness` option is in seconds). */
  maxStalenessMs: number;
  /** How long a verification waits for a (re)sync under way. Default 5000. */
  syncTimeoutMs?: number;
}

/**
 * Where revocations are shared so every verifier using the store agrees, and where IdP
 * revocations wait while the IdP is unreachable (see the module notes above for what an
 * implementation must guarantee). Pass one as the verifier's `store` option: `createMemoryStore()`
 * (the default, one process) or `createRedisStore()` (many instances). Verifiers never query it on
 * the request path: each keeps a mirror filled by `snapshot()` and kept current by `subscribe()`.
 *
 * @example
 * ```ts
 * import { createMemoryStore, type RevocationStore } from 'revocable-jwt';
 * // A store is a plain object: wrap one to log every revocation this instance publishes.
 * const inner = createMemoryStore();
 * const store: RevocationStore = {
 *   ...inner,
 *   async publish(revocation, origin) {
 *     log.info({ type: revocation.type }, 'revocation published');
 *     await inner.publish(revocation, origin);
 *   },
 * };
 * ```
 */
export interface RevocationStore {
  /** Persists `revocation` and delivers it to every subscriber, with `origin` in its meta. Idempotent. */
  publish(revocation: Revocation, origin?: string): Promise<void>;
  /** Every revocation still in force at `now`, for (re)building a mirror. */
  snapshot(now: number): Promise<Revocation[]>;
  /** Registers a listener for published revocations; returns the function that removes it. */
  subscribe(listener: RevocationListener): () => void;
  /** The IdP revocations waiting for delivery (see {@link RevocationOutbox}). */
  readonly outbox: RevocationOutbox;
  /**
   * Shared stores only: reports connection changes. `connected` means the subscription is active
   * (first connect and every reconnect): verifiers then resync their mirror from `snapshot()` and
   * trust it again once that is done. `disconnected` (also when the first connection fails)
   * starts the staleness clock of `availability`.
   */
  watch?(listener: (status: StoreStatus) => void): () => void;
  /**
   * Records `key` for `ttlMs` and resolves true the first time, false if it was already there:
   * replay protection for logout tokens and security events (`jti`) across every instance.
   */
  claimOnce(key: string, ttlMs: number): Promise<boolean>;
  /** Shared stores only: the policy while unreachable. Absent: the store is always available. */
  readonly availability?: AvailabilityPolicy;
  /**
   * Optional: a log of changes, so that a mirror that reconnects reads what it missed instead of
   * everything (see {@link RevocationChangeLog}). Absent: every (re)sync reads `snapshot()`.
   */
  readonly changeLog?: RevocationChangeLog;
  /** Releases connections and timers. */
  close(): Promise<void>;
}

/**
 * Where one change sits in a store's {@link RevocationChangeLog}: the log it was written to (a
 * store may keep several, e.g. one per shard), that log's incarnation (`epoch`: it changes when
 * the store lost the log, e.g. a restart without persistence) and its sequence number there
 * (from 1, increasing). A position `{ epoch: '', seq: 0 }` stands for a log that did not exist
 * yet when it was read.
 *
 * @example
 * ```ts
 * import type { ChangePosition, DeliveryMeta } from 'revocable-jwt';
 * const where = (meta: DeliveryMeta): string => {
 *   const position: ChangePosition | undefined = meta.position;
 *   return position ? `${position.log}#${position.seq}` : 'not logged';
 * };
 * ```
 */
export interface ChangePosition {
  /** Which log of the store. */
  readonly log: string;
  /** The log's incarnation: a different epoch means the log was lost and started over. */
  readonly epoch: string;
  /** The change's sequence number in that log. */
  readonly seq: number;
}

/**
 * How far a mirror has read each log of a {@link RevocationChangeLog}: for every log, the position
 * of the last change it holds. Opaque to anyone but the mirror and the store.
 *
 * @example
 * ```ts
 * import type { ChangeCursor } from 'revocable-jwt';
 * const describeCursor = (cursor: ChangeCursor): string =>
 *   Object.values(cursor).map((p) => `${p.log}@${p.seq}`).join(' ');
 * ```
 */
export type ChangeCursor = Readonly<Record<string, ChangePosition>>;

/**
 * Token revocations in bulk, as a store with a compact snapshot hands them over: `count` 16-byte
 * digests (the first 16 bytes of a SHA-256 of each denylist key, UTF-8) packed in `digests`, and
 * each one's expiry in epoch seconds (rounded up) in `expiresAt`. A mirror loads them without
 * making an object per revocation.
 *
 * @example
 * ```ts
 * import type { CompactTokens } from 'revocable-jwt';
 * const live = (tokens: CompactTokens, nowSeconds: number): number =>
 *   tokens.expiresAt.subarray(0, tokens.count).filter((until) => until > nowSeconds).length;
 * ```
 */
export interface CompactTokens {
  /** `count` digests of 16 bytes each, back to back. */
  readonly digests: Uint8Array;
  /** Each digest's expiry, in epoch seconds. */
  readonly expiresAt: Uint32Array;
  /** How many entries the arrays hold (they may be longer). */
  readonly count: number;
}

/**
 * What {@link RevocationChangeLog.read} found: either the changes after the cursor (`complete:
 * false`), or everything in force (`complete: true`: no cursor, the log was trimmed past it, or the
 * store lost it), with the cursor to read from next time. Token revocations may come as
 * `digest:` keys in `revocations`, or in bulk in `tokens`.
 *
 * @example
 * ```ts
 * import { createRedisStore, type RevocationChanges } from 'revocable-jwt';
 * const store = createRedisStore({ url: 'redis://127.0.0.1:6379' });
 * const first: RevocationChanges = await store.changeLog.read(undefined, Date.now()); // everything
 * const later = await store.changeLog.read(first.cursor, Date.now()); // only what changed since
 * log.info({ complete: later.complete, changes: later.revocations.length }, 'caught up');
 * ```
 */
export interface RevocationChanges {
  /** True: everything in force at the time of the read, not just changes. */
  readonly complete: boolean;
  /** Revocations (cutoffs, and tokens by key or `digest:` key), in log order for changes. */
  readonly revocations: readonly Revocation[];
  /** Token revocations in bulk (complete reads of a store with a compact snapshot). */
  readonly tokens?: CompactTokens;
  /** Where the next read starts: the position of the last change this read covers, per log. */
  readonly cursor: ChangeCursor;
}

/**
 * Optional part of a {@link RevocationStore}: a log of changes that lets a mirror resync by reading
 * only what it missed. Every `publish` is one logged change (or part of one, when a store writes a
 * burst together) with a {@link ChangePosition}, which the store's deliveries carry in their
 * {@link DeliveryMeta}. The store keeps the log for a while (trimming older changes), and answers a
 * read from a cursor it trimmed, or a cursor from a lost epoch, with everything (`complete: true`).
 *
 * To implement one: positions of a log only go up, and deliveries of one log arrive in position
 * order; `contiguous: true` promises that each change of a log takes the next number (a store that
 * numbers with gaps, e.g. a database's transaction ids, says false: a mirror then cannot tell a
 * lost delivery, and follows deliveries as they come once it has read since its last connect). A
 * delivered position then promises that every change before it was either delivered since the
 * subscription became active or committed before that (a read started after it covers those).
 *
 * @example
 * ```ts
 * import { createRedisStore, type RevocationChangeLog } from 'revocable-jwt';
 * const store = createRedisStore({ url: 'redis://127.0.0.1:6379' });
 * const changes: RevocationChangeLog = store.changeLog;
 * let cursor = (await changes.read(undefined, Date.now())).cursor;
 * // after a reconnect:
 * const missed = await changes.read(cursor, Date.now());
 * cursor = missed.cursor;
 * ```
 */
export interface RevocationChangeLog {
  /** Whether each change of a log takes the next sequence number (lost deliveries are then detectable). */
  readonly contiguous: boolean;
  /** The changes after `cursor`, or everything in force (no cursor, trimmed past it, or from a lost epoch). */
  read(cursor: ChangeCursor | undefined, now: number): Promise<RevocationChanges>;
}

/**
 * A stable identity per revocation target, for merging, comparing and naming keys:
 * `token:<key>`, `subject:<issuer>:<sub>`, `session:<issuer>:<sid>`, `all:<issuer>`, with the
 * issuer URI-encoded so the first `:` after it is unambiguous.
 */
export function revocationTarget(revocation: Revocation): string {
  switch (revocation.type) {
    case 'token':
      return `token:${revocation.key}`;
    case 'subject':
      return `subject:${encodeURIComponent(revocation.issuer)}:${revocation.subject}`;
    case 'session':
      return `session:${encodeURIComponent(revocation.issuer)}:${revocation.session}`;
    case 'all':
      return `all:${encodeURIComponent(revocation.issuer)}`;
  }
}

/** The inverse of {@link revocationTarget}, given the value fields; undefined if malformed. */
export function revocationFromTarget(target: string, cutoff: number, expiresAt: number): Revocation | undefined {
  const colon = target.indexOf(':');
  const kind = target.slice(0, colon);
  const rest = target.slice(colon + 1);
  if (kind === 'token') return { type: 'token', key: rest, expiresAt };
  const split = rest.indexOf(':');
  let issuer: string;
  try {
    issuer = decodeURIComponent(split === -1 ? rest : rest.slice(0, split));
  } catch {
    return undefined;
  }
  const id = split === -1 ? '' : rest.slice(split + 1);
  if (kind === 'all' && split === -1) return { type: 'all', issuer, cutoff, expiresAt };
  if (kind === 'subject' && split !== -1) return { type: 'subject', issuer, subject: id, cutoff, expiresAt };
  if (kind === 'session' && split !== -1) return { type: 'session', issuer, session: id, cutoff, expiresAt };
  return undefined;
}

/** Accepts only a well-formed revocation (e.g. from a broadcast channel). */
export function parseRevocation(value: unknown): Revocation | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const r = value as Record<string, unknown>;
  if (typeof r.expiresAt !== 'number' || !Number.isFinite(r.expiresAt)) return undefined;
  if (r.type === 'token')
    return typeof r.key === 'string' ? { type: 'token', key: r.key, expiresAt: r.expiresAt } : undefined;
  if (typeof r.issuer !== 'string' || typeof r.cutoff !== 'number' || !Number.isFinite(r.cutoff)) return undefined;
  const base = { issuer: r.issuer, cutoff: r.cutoff, expiresAt: r.expiresAt };
  if (r.type === 'all') return { type: 'all', ...base };
  if (r.type === 'subject' && typeof r.subject === 'string') return { type: 'subject', subject: r.subject, ...base };
  if (r.type === 'session' && typeof r.session === 'string') return { type: 'session', session: r.session, ...base };
  return undefined;
}

/** Merges two revocations of the same target: the later cutoff and the later expiry win. */
export function mergeRevocation(existing: Revocation | undefined, incoming: Revocation): Revocation {
  if (!existing || existing.type !== incoming.type) return incoming;
  const expiresAt = Math.max(existing.expiresAt, incoming.expiresAt);
  if (incoming.type === 'token') return { ...incoming, expiresAt };
  const cutoff = Math.max((existing as { cutoff: number }).cutoff, incoming.cutoff);
  return { ...incoming, cutoff, expiresAt };
}
