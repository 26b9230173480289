/** Stateless DPoP nonces: the same secret makes the same nonce anywhere; a nonce lives one to two periods. */
import { describe, expect, it } from '@jest/globals';
import { createNonceSource } from '../../../src/core/request/dpop-nonce.js';

const secret = new TextEncoder().encode('s'.repeat(32));
const PERIOD = 60_000;

describe('createNonceSource', () => {
  it('gives every instance with the secret the same nonce, and another secret another one', async () => {
    const [a, b] = [createNonceSource(secret, PERIOD), createNonceSource(secret, PERIOD)];
    const other = createNonceSource(new TextEncoder().encode('t'.repeat(32)), PERIOD);
    const now = 1_000_000_000_000;
    expect(await a.issue(now)).toBe(await b.issue(now + 1000));
    expect(await a.issue(now)).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(await other.issue(now)).not.toBe(await a.issue(now));
    expect(await b.check(await a.issue(now), now)).toEqual({ period: 16_666_666, current: 16_666_666 });
  });

  it('accepts a nonce in its own period and the next, not after, and nothing made up', async () => {
    const source = createNonceSource(secret, PERIOD);
    const start = 1_000_000_020_000;
    const period = Math.floor(start / PERIOD);
    const nonce = await source.issue(start);
    expect((await source.check(nonce, start + PERIOD)).period).toBe(period);
    expect((await source.check(nonce, (period + 2) * PERIOD - 1)).period).toBe(period);
    expect((await source.check(nonce, (period + 2) * PERIOD)).period).toBeUndefined();
    expect((await source.check(nonce, (period - 1) * PERIOD)).period).toBeUndefined(); // not before it was made
    expect((await source.check('', start)).period).toBeUndefined();
    expect((await source.check(nonce.toUpperCase(), start)).period).toBeUndefined();
  });
});
