/**
 * Verified tokens, so a token seen before costs a map lookup instead of a signature check.
 *
 * Keyed by the whole token string: header, payload and signature. Keying by signature, `kid` or
 * `jti` alone would let a tampered payload ride on a genuine token's cache entry. The hit path
 * does no crypto, no hashing of our own and no I/O; it re-checks expiry with the injected clock.
 */
import { LRUCache } from 'lru-cache';
import type { RevocationKeys } from './revocation-list.js';
import type { VerifiedToken } from './types.js';

export interface CachedToken {
  readonly result: VerifiedToken;
  /** Epoch ms after which the entry must not be served: min(exp + tolerance, insertion + maxTtl). */
  readonly validUntil: number;
  /** Epoch ms when the token itself expires (exp + tolerance), if it has `exp`. */
  readonly expiresAt: number | undefined;
  readonly kid: string | undefined;
  /** Precomputed at verification so a hit consults the revocation list without hashing or building strings. */
  readonly keys: RevocationKeys;
}
type Entry = CachedToken;

export interface TokenCacheOptions {
  max: number;
  maxTtlMs: number;
}

export interface TokenCacheStats {
  hits: number;
  misses: number;
  size: number;
  max: number;
}

export class TokenCache {
  private readonly lru: LRUCache<string, Entry> | undefined;
  private hits = 0;
  private misses = 0;

  /** `options === false` disables caching: every call misses, nothing is stored. */
  constructor(private readonly options: TokenCacheOptions | false) {
    this.lru = options ? new LRUCache<string, Entry>({ max: options.max }) : undefined;
  }

  /**
   * The cached result, if still valid. `countMiss: false` is for a look-ahead (the guard's
   * synchronous peek) that a full verification, which counts the miss, follows.
   */
  get(token: string, now: number, countMiss = true): CachedToken | undefined {
    const entry = this.lru?.get(token);
    if (entry === undefined) {
      if (countMiss) this.misses += 1;
      return undefined;
    }
    if (now >= entry.validUntil) {
      this.lru!.delete(token);
      if (countMiss) this.misses += 1;
      return undefined;
    }
    this.hits += 1;
    return entry;
  }

  /** The entry regardless of validity, without touching LRU order or counters. */
  inspect(token: string): CachedToken | undefined {
    return this.lru?.peek(token);
  }

  /** Stores a verified result; `expiresAt` is the token's own deadline in epoch ms (undefined: none). */
  set(result: VerifiedToken, now: number, expiresAt: number | undefined, keys: RevocationKeys, maxAgeMs = Infinity): void {
    if (!this.lru || !this.options) return;
    const ttlBound = now + Math.min(this.options.maxTtlMs, maxAgeMs);
    const validUntil = expiresAt === undefined ? ttlBound : Math.min(expiresAt, ttlBound);
    if (validUntil <= now) return;
    this.lru.set(result.token, { result, validUntil, expiresAt, kid: result.header.kid, keys });
  }

  delete(token: string): boolean {
    return this.lru?.delete(token) ?? false;
  }

  /** Evicts every entry matching `predicate`; returns how many went. O(size), meant for rare events. */
  evictWhere(predicate: (result: VerifiedToken, kid: string | undefined) => boolean): number {
    if (!this.lru) return 0;
    const doomed: string[] = [];
    for (const [token, entry] of this.lru.entries()) if (predicate(entry.result, entry.kid)) doomed.push(token);
    for (const token of doomed) this.lru.delete(token);
    return doomed.length;
  }

  clear(): void {
    this.lru?.clear();
  }

  stats(): TokenCacheStats {
    return { hits: this.hits, misses: this.misses, size: this.lru?.size ?? 0, max: this.options ? this.options.max : 0 };
  }
}
