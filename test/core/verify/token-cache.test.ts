import { describe, expect, it } from '@jest/globals';
import { revocationKeysFor } from '../../../src/core/revoke/revocation-identity.js';
import { TokenCache } from '../../../src/core/verify/token-cache.js';
import type { VerifiedToken } from '../../../src/index.js';

const now = 1_800_000_000_000;
const result = (token: string): VerifiedToken => ({
  token,
  header: { alg: 'RS256' },
  payload: { sub: 'a' },
  source: 'jwt',
});
const keys = (token: string) => revocationKeysFor({ token, payload: { iss: 'i' }, source: 'jwt' });

describe('TokenCache', () => {
  it('serves an entry only for the identical whole token, even when the tails collide', () => {
    const cache = new TokenCache({ max: 10, maxTtlMs: 60_000 });
    const genuine = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhIn0.signature-tail-XYZ123';
    const tampered = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJyb290In0.signature-tail-XYZ123'; // same signature, other payload
    cache.set(result(genuine), now, now + 60_000, keys(genuine));
    expect(cache.get(tampered, now)).toBeUndefined();
    expect(cache.inspect(tampered)).toBeUndefined();
    expect(cache.delete(tampered)).toBe(false); // cannot evict the genuine entry either
    expect(cache.get(genuine, now)?.result.token).toBe(genuine);
    // A fresh string with the same characters is the same token.
    expect(cache.get(` ${genuine}`.slice(1), now)?.result.token).toBe(genuine);
  });

  it('expires entries at min(exp, maxTtl) and counts hits and misses', () => {
    const cache = new TokenCache({ max: 10, maxTtlMs: 1_000 });
    cache.set(result('t1'), now, now + 60_000, keys('t1'));
    cache.set(result('t2'), now, now + 500, keys('t2'));
    expect(cache.get('t2', now + 499)).toBeDefined();
    expect(cache.get('t2', now + 500)).toBeUndefined();
    expect(cache.get('t1', now + 999)).toBeDefined();
    expect(cache.get('t1', now + 1_000)).toBeUndefined();
    expect(cache.stats()).toMatchObject({ hits: 2, misses: 2, size: 0 });
  });

  it('is bounded by max, and does nothing when disabled', () => {
    const cache = new TokenCache({ max: 3, maxTtlMs: 60_000 });
    for (let i = 0; i < 100; i++) cache.set(result(`token-number-${i}`), now, now + 60_000, keys(`t${i}`));
    expect(cache.stats().size).toBeLessThanOrEqual(3);
    const off = new TokenCache(false);
    off.set(result('t'), now, now + 60_000, keys('t'));
    expect(off.get('t', now)).toBeUndefined();
    expect(off.stats().size).toBe(0);
  });
});
