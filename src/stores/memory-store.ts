/**
 * The default store: everything in this process. Verifiers that share one memory store agree
 * with each other; separate processes need a shared store (Redis).
 */
import { LRUCache } from 'lru-cache';
import {
  mergeRevocation,
  revocationTarget,
  type PendingRevocation,
  type Revocation,
  type RevocationListener,
  type RevocationOutbox,
  type RevocationStore,
} from './revocation-store.js';
import { optionKeys, rejectUnknownKeys } from '../core/shared/option-keys.js';

/**
 * Options of {@link createMemoryStore}. Any other key is refused with a `TypeError`.
 *
 * @example
 * ```ts
 * import { createMemoryStore, createVerifier, type MemoryStoreOptions } from 'revocable-jwt';
 * // In tests: one clock for the store and the verifier, moved by hand.
 * let now = Date.parse('2030-01-01T00:00:00Z');
 * const options: MemoryStoreOptions = { clock: () => now };
 * const store = createMemoryStore(options);
 * const verifier = createVerifier({ issuer: 'https://idp.example.com/', audience: 'api', clock: () => now, store });
 * now += 60_000; // a minute later, for both
 * ```
 */
export interface MemoryStoreOptions {
  /** Current time in epoch ms, for expiring entries. Default `Date.now`. */
  clock?: () => number;
}

/**
 * Most live replay records a memory store keeps of each kind: DPoP proofs (`dpop:` keys), logout
 * tokens (`bcl:`), security events (`set:`), and any other key. One cap per kind, so a busy DPoP
 * API filling its proofs' cap cannot make back-channel logout fail.
 */
const MAX_CLAIMS = 100_000;
/** The kinds of replay records by key prefix, as a refusal names them. */
const CLAIM_KINDS: Readonly<Record<string, string>> = {
  dpop: 'DPoP proof',
  bcl: 'logout token',
  set: 'security event',
};

/** The kind of a replay record: its key's prefix when it is one of {@link CLAIM_KINDS}, else `''` (any other). */
function claimKind(key: string): string {
  const prefix = key.slice(0, Math.max(0, key.indexOf(':')));
  return Object.hasOwn(CLAIM_KINDS, prefix) ? prefix : '';
}

/** The keys createMemoryStore accepts (any other is refused): one line per option. */
const MEMORY_STORE_OPTION_KEYS = optionKeys<MemoryStoreOptions>({ clock: true });

/**
 * The default `RevocationStore`: revocations, replay records and the IdP outbox in this process's
 * memory. Verifiers that share one memory store see each other's revocations at once; a verifier
 * without a `store` option gets its own. Entries expire with the tokens they cover, so memory
 * stays bounded by live tokens (replay records: at most 100 000 live ones of each kind, DPoP
 * proofs, logout tokens, security events; past that a new claim of that kind fails, so the request
 * is answered 503, rather than a live record being forgotten).
 *
 * Not shared between processes, and nothing survives a restart — including IdP revocations still
 * waiting in the outbox. For several instances, use {@link createRedisStore}.
 *
 * @param options - `clock` (epoch ms), for tests.
 * @returns A store that is always available (no `watch`, no `availability`).
 * @throws TypeError for options that are not an object, an unknown key, or a `clock` that is not a function.
 *
 * @example
 * ```ts
 * import { createMemoryStore, createVerifier } from 'revocable-jwt';
 * // Two verifiers in one process (two audiences of one IdP) that honour each other's revocations:
 * const store = createMemoryStore();
 * const api = createVerifier({ issuer: 'https://idp.example.com/', audience: 'api', store });
 * const admin = createVerifier({ issuer: 'https://idp.example.com/', audience: 'admin-api', store });
 * await api.invalidateSubject('alice'); // admin refuses alice's tokens too
 * ```
 */
export function createMemoryStore(options: MemoryStoreOptions = {}): RevocationStore {
  if (typeof options !== 'object' || options === null)
    throw new TypeError('revocable-jwt: createMemoryStore takes an options object: { clock }');
  rejectUnknownKeys(options, MEMORY_STORE_OPTION_KEYS, 'createMemoryStore');
  const clock = options.clock ?? Date.now;
  if (typeof clock !== 'function')
    throw new TypeError('revocable-jwt: createMemoryStore: `clock` must be a function returning epoch milliseconds');
  const revocations = new Map<string, Revocation>();
  const listeners = new Set<RevocationListener>();
  const pending = new Map<string, PendingRevocation & { leasedUntil: number }>();
  // Bounded, and never by forgetting a live claim (that would let its replay through): entries
  // expire, and when a kind's cap is full of live ones a new claim of that kind fails (the caller
  // answers 503). Each kind's made on first use: lru-cache allocates its arrays up front (~3 MB).
  const claims = new Map<string, { claimed: LRUCache<string, true>; purgedAt: number }>();

  const identity = revocationTarget;
  const sweep = (now: number) => {
    for (const [id, r] of revocations) if (r.expiresAt <= now) revocations.delete(id);
  };
  let writes = 0;

  const outbox: RevocationOutbox = {
    async enqueue(item) {
      if (!pending.has(item.id)) pending.set(item.id, { ...item, leasedUntil: 0 });
    },
    async claimDue(now, limit, leaseMs) {
      const due: PendingRevocation[] = [];
      for (const item of pending.values()) {
        if (due.length >= limit) break;
        if (item.nextAttemptAt <= now && item.leasedUntil <= now) {
          item.leasedUntil = now + leaseMs;
          const { leasedUntil: _leased, ...copy } = item;
          due.push(copy);
        }
      }
      return due;
    },
    async complete(id) {
      pending.delete(id);
    },
    async reschedule(id, update) {
      const item = pending.get(id);
      if (item) Object.assign(item, update, { leasedUntil: 0 });
    },
    async size() {
      return pending.size;
    },
  };

  return {
    async publish(revocation, origin) {
      const id = identity(revocation);
      revocations.set(id, mergeRevocation(revocations.get(id), revocation));
      // Sweep now and then so memory stays bounded by live tokens without a timer.
      if (++writes % 256 === 0) sweep(clock());
      const meta = { publishedAt: clock(), ...(origin !== undefined ? { origin } : {}) };
      for (const listener of listeners) listener(revocation, meta);
    },
    async claimOnce(key, ttlMs) {
      const kind = claimKind(key);
      let records = claims.get(kind);
      if (records === undefined) {
        const claimed = new LRUCache<string, true>({
          max: MAX_CLAIMS,
          ttl: 60_000,
          ttlResolution: 0,
          perf: { now: clock },
        });
        records = { claimed, purgedAt: -Infinity };
        claims.set(kind, records);
      }
      const { claimed } = records;
      if (claimed.has(key)) return false;
      if (claimed.size >= MAX_CLAIMS) {
        // A full scan, so at most once a second; until expired claims make room, claims fail.
        if (clock() - records.purgedAt >= 1000) {
          records.purgedAt = clock();
          claimed.purgeStale();
        }
        if (claimed.size >= MAX_CLAIMS) {
          const name = CLAIM_KINDS[kind] ?? 'other';
          throw new Error(
            `revocable-jwt: the memory store holds ${MAX_CLAIMS} live ${name} replay records; ` +
              'refusing to forget one (use a shared store such as Redis for this load)',
          );
        }
      }
      claimed.set(key, true, { ttl: Math.max(1, ttlMs) });
      return true;
    },
    async snapshot(now) {
      sweep(now);
      return [...revocations.values()];
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    outbox,
    async close() {
      listeners.clear();
    },
  };
}
