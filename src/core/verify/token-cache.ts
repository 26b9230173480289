/**
 * Verified tokens, so a token seen before costs a map lookup instead of a signature check.
 *
 * An entry is only ever served for the **whole, identical token string**: header, payload and
 * signature. Matching on the signature, `kid` or `jti` alone would let a tampered payload ride on
 * a genuine token's entry.
 *
 * How it is found: the map is indexed by a number computed from the token's last characters
 * (random signature bits), and a hit then compares the whole string. Why not index by the whole
 * string: a server gets a fresh header string per request, so a whole-string map key makes V8
 * hash ~800 characters every time (~1 µs, more than everything else on the hit path together);
 * the index costs a few ns and the full comparison is a memcmp. A different token that happens
 * to share the tail (only an attacker would make one) is a miss and is verified on its own; it
 * never evicts or replaces the genuine entry unless it verifies itself.
 *
 * The hit path does no crypto, no hash over the token (the index reads 12 characters) and no I/O;
 * it re-checks expiry with the injected clock.
 */
import { LRUCache } from 'lru-cache';
import type { Revocation } from '../../stores/revocation-store.js';
import type { KeyRemoval } from '../idp/jwks.js';
import type { RevocationKeys } from '../revoke/revocation-identity.js';
import type { VerifiedToken } from '../shared/verified-token.js';
import type { StatusReference } from './status-list-check.js';

export interface CachedToken {
  readonly result: VerifiedToken;
  /** Epoch ms after which the entry must not be served: min(exp + tolerance, insertion + maxTtl). */
  readonly validUntil: number;
  /** Epoch ms when the token itself expires (exp + tolerance), if it has `exp`. */
  readonly expiresAt: number | undefined;
  readonly kid: string | undefined;
  /** Precomputed at verification so a hit consults the revocation list without hashing or building strings. */
  readonly keys: RevocationKeys;
  /** Where its Token Status List entry is read on every hit, if it references one. */
  readonly status: StatusReference | undefined;
}
type Entry = CachedToken;

export interface TokenCacheOptions {
  max: number;
  maxTtlMs: number;
}

/**
 * The verified-token cache's figures, as `verifier.stats().cache` reports them (counters since
 * the verifier was created).
 *
 * @example
 * ```ts
 * import type { TokenCacheStats } from 'revocable-jwt';
 * const { hits, misses, size, max }: TokenCacheStats = verifier.stats().cache;
 * log.info({ hitRatio: hits / Math.max(1, hits + misses), full: size / Math.max(1, max) }, 'token cache');
 * ```
 */
export interface TokenCacheStats {
  /** Look-ups (`verify()`, `peek()`) that found the identical token's entry still valid. */
  hits: number;
  /** `verify()` calls that found no valid entry (with `cache: false`, every one); `peek()` counts none. */
  misses: number;
  /** Entries held now. */
  size: number;
  /** Most entries held (`cache.max`); 0 with `cache: false`. */
  max: number;
}

/**
 * The map index of a token: a small integer read off the last characters of its signature (a
 * V8 small integer, so a lookup allocates nothing and hashes nothing long). Collisions are
 * harmless (see above): the whole-string comparison decides.
 */
export function tokenIndex(token: string): number {
  // FNV-1a over the last 12 characters (72 signature bits), folded to 30 bits so the key stays a
  // small integer: with 100 000 entries about 5 pairs collide, each costing a re-verification.
  let hash = 0x811c9dc5;
  for (let i = Math.max(0, token.length - 12); i < token.length; i++)
    hash = Math.imul(hash ^ token.charCodeAt(i), 0x01000193);
  return (hash ^ (hash >>> 30) ^ token.length) & 0x3fffffff;
}

export class TokenCache {
  private readonly lru: LRUCache<number, Entry> | undefined;
  private hits = 0;
  private misses = 0;

  /** `options === false` disables caching: every call misses, nothing is stored. */
  constructor(private readonly options: TokenCacheOptions | false) {
    this.lru = options ? new LRUCache<number, Entry>({ max: options.max }) : undefined;
  }

  /**
   * The cached result, if still valid. `countMiss: false` is for a look-ahead (the guard's
   * synchronous peek) that a full verification, which counts the miss, follows.
   */
  get(token: string, now: number, countMiss = true): CachedToken | undefined {
    const entry = this.lru?.get(tokenIndex(token));
    if (entry === undefined || entry.result.token !== token) {
      if (countMiss) this.misses += 1;
      return undefined;
    }
    if (now >= entry.validUntil) {
      this.lru!.delete(tokenIndex(token));
      if (countMiss) this.misses += 1;
      return undefined;
    }
    this.hits += 1;
    return entry;
  }

  /** The entry regardless of validity, without touching LRU order or counters. */
  inspect(token: string): CachedToken | undefined {
    const entry = this.lru?.peek(tokenIndex(token));
    return entry !== undefined && entry.result.token === token ? entry : undefined;
  }

  /** Stores a verified result; `expiresAt` is the token's own deadline in epoch ms (undefined: none). */
  set(
    result: VerifiedToken,
    now: number,
    expiresAt: number | undefined,
    keys: RevocationKeys,
    maxAgeMs = Infinity,
    status?: StatusReference,
  ): void {
    if (!this.lru || !this.options) return;
    const ttlBound = now + Math.min(this.options.maxTtlMs, maxAgeMs);
    const validUntil = expiresAt === undefined ? ttlBound : Math.min(expiresAt, ttlBound);
    if (validUntil <= now) return;
    this.lru.set(tokenIndex(result.token), { result, validUntil, expiresAt, kid: result.header.kid, keys, status });
  }

  delete(token: string): boolean {
    return this.inspect(token) !== undefined && this.lru!.delete(tokenIndex(token));
  }

  /** Evicts every entry matching `predicate`; returns how many went. O(size), meant for rare events. */
  evictWhere(predicate: (result: VerifiedToken, kid: string | undefined) => boolean): number {
    if (!this.lru) return 0;
    const doomed: number[] = [];
    for (const [index, entry] of this.lru.entries()) if (predicate(entry.result, entry.kid)) doomed.push(index);
    for (const index of doomed) this.lru.delete(index);
    return doomed.length;
  }

  /**
   * A key left the JWKS (rotation or compromise): results verified with it must not be served.
   * A token without `kid` may have been verified by any key of its type, so on any removal those
   * entries go too (they are rare, and re-verifying them is cheap).
   */
  evictSignedBy(change: KeyRemoval): void {
    this.evictWhere((_result, kid) => kid === undefined || change.kids.has(kid));
  }

  /** A revocation of `issuer`'s tokens arrived (ours or broadcast): drop the entries it covers that a scan can find. */
  evictRevoked(revocation: Revocation, issuer: string): void {
    if (revocation.type === 'token' || revocation.issuer !== issuer) return;
    if (revocation.type === 'all') this.clear();
    else if (revocation.type === 'subject') this.evictWhere((result) => result.payload.sub === revocation.subject);
    else this.evictWhere((result) => (result.payload as { sid?: unknown }).sid === revocation.session);
    // Token entries need no scan: every cache hit consults the denylist.
  }

  clear(): void {
    this.lru?.clear();
  }

  stats(): TokenCacheStats {
    return {
      hits: this.hits,
      misses: this.misses,
      size: this.lru?.size ?? 0,
      max: this.options ? this.options.max : 0,
    };
  }
}
