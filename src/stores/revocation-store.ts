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
 * One revocation. Times are epoch milliseconds except `cutoff`, a whole second that compares
 * with `iat`: it covers its entire second (`iat < cutoff + 1`, see RevocationList.isRevoked). Cutoffs are scoped by `issuer`: a subject or session id means nothing across IdPs,
 * and verifiers of different issuers may share one store.
 */
export type Revocation =
  /** One token, by its denylist key (`jti`-based, or a SHA-256 of the token), until it expires. */
  | { type: 'token'; key: string; expiresAt: number }
  /** Every token of `subject` (its `sub`) from `issuer` with `iat < cutoff + 1`. */
  | { type: 'subject'; issuer: string; subject: string; cutoff: number; expiresAt: number }
  /** Every token of session `session` (its `sid`) from `issuer` with `iat < cutoff + 1` (back-channel logout). */
  | { type: 'session'; issuer: string; session: string; cutoff: number; expiresAt: number }
  /** Every token from `issuer` with `iat < cutoff + 1` (incident response). */
  | { type: 'all'; issuer: string; cutoff: number; expiresAt: number };

export type CutoffRevocation = Exclude<Revocation, { type: 'token' }>;

/** A revocation the IdP has not confirmed yet. Holds the raw token: the IdP needs it. */
export interface PendingRevocation {
  id: string;
  token: string;
  /** The issuer whose IdP must hear about it (verifiers of other issuers may share the store). */
  issuer?: string;
  tokenTypeHint?: string | undefined;
  /** The token's `client_id`/`azp` when known, for public clients. */
  clientIdHint?: string | undefined;
  /** Give up after this (epoch ms): the token's expiry, or the retry horizon for opaque tokens. */
  expiresAt: number;
  attempts: number;
  nextAttemptAt: number;
  lastError?: string | undefined;
}

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
  size(): Promise<number>;
}

/** Where a delivered revocation came from: lets a mirror skip its own echo and measure lag. */
export interface DeliveryMeta {
  /** Epoch ms when the publisher published it. */
  publishedAt?: number;
  /** The publisher's opaque id (see `publish`). */
  origin?: string;
}

export type RevocationListener = (revocation: Revocation, meta: DeliveryMeta) => void;

/** Connection changes of a shared store. After `connected`, a mirror may have missed publishes. */
export type StoreStatus = 'connected' | 'disconnected';

/**
 * When verifiers trust their mirror of a shared store. Fresh (subscribed and resynced since the
 * last connect): always. Cut off after a sync: for `maxStalenessMs` from the moment the store was
 * lost (the staleness window), then `fail-closed` refuses every token (503) until the mirror is
 * resynced while `fail-open` keeps accepting tokens the stale mirror does not know to be revoked.
 * Never synced, or reconnected and not resynced yet: verifications wait up to `syncTimeoutMs`
 * for the sync, then `fail-closed` answers 503 and `fail-open` uses the mirror as it is.
 */
export interface AvailabilityPolicy {
  onUnavailable: 'fail-closed' | 'fail-open';
  maxStalenessMs: number;
  /** How long a verification waits for a (re)sync under way. Default 5000. */
  syncTimeoutMs?: number;
}

export interface RevocationStore {
  /** Persists `revocation` and delivers it to every subscriber, with `origin` in its meta. Idempotent. */
  publish(revocation: Revocation, origin?: string): Promise<void>;
  /** Every revocation still in force at `now`, for (re)building a mirror. */
  snapshot(now: number): Promise<Revocation[]>;
  /** Registers a listener for published revocations; returns the function that removes it. */
  subscribe(listener: RevocationListener): () => void;
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
  /** Releases connections and timers. */
  close(): Promise<void>;
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
