/**
 * The compact token table against a plain Map model, under fast-check: whatever the order of
 * revocations, sweeps (whole or in slices), growth and the passing of time, a revoked digest is
 * found until its expiry (no false negatives) and nothing else is found. The digests are chosen
 * to collide on purpose (few distinct low bits, near the end of the table so runs wrap around),
 * which is what exercises probing and backward-shift deletion.
 */
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { revocationKeysFor } from '../../../src/core/revoke/revocation-identity.js';
import { RevocationList } from '../../../src/core/revoke/revocation-list.js';
import { expirySeconds, TokenDigestTable } from '../../../src/core/revoke/token-digest-table.js';
import { digestKey, tokenDigestOf, tokenDigestWords } from '../../../src/core/shared/token-digest.js';

const T0 = 1_800_000_000_000;

/**
 * Digest words for id. Even ids share their low bits (home slots 1023, 0, 1, 2, 3 of a 1024-slot
 * table, so runs wrap around the end); odd ones spread like real digests.
 */
const wordsOf = (id: number): Int32Array =>
  Int32Array.of(id % 2 === 0 ? 1023 + (id % 5) + (id >> 3) * 1024 : Math.imul(id, 0x9e3779b1), id, ~id, id * 7919);
const IDS = 800;

const ops = fc.array(
  fc.oneof(
    { weight: 6, arbitrary: fc.record({ op: fc.constant('add' as const), id: fc.nat(IDS), ttl: fc.nat(20_000) }) },
    {
      weight: 1,
      arbitrary: fc.record({ op: fc.constant('sweep' as const), budget: fc.integer({ min: 1, max: 5000 }) }),
    },
    { weight: 2, arbitrary: fc.record({ op: fc.constant('tick' as const), ms: fc.nat(3_000) }) },
    { weight: 1, arbitrary: fc.constant({ op: 'check' as const }) },
  ),
  { maxLength: 1500 },
);

describe('TokenDigestTable', () => {
  it('agrees with a Map model through adds, sliced sweeps, growth and time: no false negatives, no false positives', () => {
    fc.assert(
      fc.property(ops, (script) => {
        const table = new TokenDigestTable();
        const model = new Map<number, number>(); // id → expiry seconds
        let now = T0;
        const check = () => {
          for (let id = 0; id <= IDS; id++) {
            const until = model.get(id) ?? 0;
            expect(table.has(wordsOf(id), now)).toBe(until * 1000 > now);
          }
        };
        for (const step of script) {
          if (step.op === 'add') {
            const seconds = expirySeconds(now + step.ttl);
            const w = wordsOf(step.id);
            table.add(w[0]!, w[1]!, w[2]!, w[3]!, seconds);
            model.set(step.id, Math.max(model.get(step.id) ?? 0, seconds));
          } else if (step.op === 'sweep') {
            table.sweep(now, step.budget);
          } else if (step.op === 'tick') {
            now += step.ms;
          } else {
            check();
          }
        }
        check();
        // A whole sweep leaves exactly what is in force.
        table.sweep(now);
        expect(table.size).toBe([...model.values()].filter((until) => until * 1000 > now).length);
      }),
      { numRuns: 60 },
    );
  });

  it('keeps an expiry rounded up to the second: never forgotten early', () => {
    const table = new TokenDigestTable();
    const w = wordsOf(1);
    table.add(w[0]!, w[1]!, w[2]!, w[3]!, expirySeconds(T0 + 1));
    expect(table.has(w, T0 + 1)).toBe(true); // asked until T0 + 1 ms, kept until T0 + 1 s
    expect(table.has(w, T0 + 999)).toBe(true);
    expect(table.has(w, T0 + 1000)).toBe(false);
  });

  it('keeps the later expiry of two, and says whether an add changed anything', () => {
    const table = new TokenDigestTable();
    const [d0, d1, d2, d3] = wordsOf(2);
    expect(table.add(d0!, d1!, d2!, d3!, 2_000_000_000)).toBe(true);
    expect(table.add(d0!, d1!, d2!, d3!, 1_900_000_000)).toBe(false);
    expect(table.expiryOf(d0!, d1!, d2!, d3!)).toBe(2_000_000_000);
    expect(table.add(d0!, d1!, d2!, d3!, 2_100_000_000)).toBe(true);
    expect(table.size).toBe(1);
  });

  it('purges in slices: a sweep looks at no more slots than its budget, and the next one goes on', () => {
    const table = new TokenDigestTable(10_000);
    for (let id = 0; id < 10_000; id++) {
      const [d0, d1, d2, d3] = tokenDigestWords(`jti:iss:${id}`);
      table.add(d0!, d1!, d2!, d3!, expirySeconds(T0 + 1000));
    }
    const slots = table.bytes / 20;
    let removed = 0;
    let sweeps = 0;
    while (table.size > 0) {
      const now = removed;
      removed += table.sweep(T0 + 1000, 1024);
      expect(removed - now).toBeLessThanOrEqual(1024);
      sweeps++;
    }
    expect(removed).toBe(10_000);
    expect(sweeps).toBeLessThanOrEqual(Math.ceil(slots / 1024) + 1);
  });

  it('grows at 3/4 full and leaves out, when it grows, what the last sweep saw expire', () => {
    const table = new TokenDigestTable();
    const capacity = table.bytes / 20;
    for (let id = 0; id < (capacity * 3) / 4; id++) {
      const [d0, d1, d2, d3] = tokenDigestWords(`old:${id}`);
      table.add(d0!, d1!, d2!, d3!, expirySeconds(T0 + 1000));
    }
    table.observe(T0 + 1000); // all of them over
    const [d0, d1, d2, d3] = tokenDigestWords('new');
    table.add(d0!, d1!, d2!, d3!, expirySeconds(T0 + 60_000));
    expect(table.size).toBe(1);
    expect(table.bytes / 20).toBe(capacity);
  });

  it('stays within 64 bytes per revocation from 10^3 to 10^6 entries', () => {
    for (const n of [1_000, 100_000, 786_000, 1_000_000]) {
      const table = new TokenDigestTable(n);
      expect(table.bytes / n).toBeLessThanOrEqual(64);
    }
  });
});

describe('RevocationList with digests', () => {
  const keysOf = (jti: string) =>
    revocationKeysFor({ token: 'x', payload: { iss: 'https://idp.example', jti }, source: 'jwt' });

  it('no false negatives: every revoked key is found until it expires, whatever the keys', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.string({ unit: 'grapheme', minLength: 1 }), { minLength: 1, maxLength: 300 }),
        (jtis) => {
          const list = new RevocationList();
          const revoked = jtis.filter((_, i) => i % 2 === 0);
          for (const jti of revoked) list.apply({ type: 'token', key: keysOf(jti).denylist, expiresAt: T0 + 5_000 });
          for (const jti of jtis) {
            expect(list.isRevoked(keysOf(jti), 1, T0)).toBe(revoked.includes(jti));
            expect(list.isDenylisted(keysOf(jti).denylist, T0)).toBe(revoked.includes(jti));
          }
          for (const jti of revoked) expect(list.isRevoked(keysOf(jti), 1, T0 + 5_000)).toBe(false);
        },
      ),
      { numRuns: 50 },
    );
  });

  it('a revocation by digest (`digest:<hex>`) revokes the token whose key has that digest', () => {
    const list = new RevocationList();
    const keys = keysOf('abc');
    list.apply({ type: 'token', key: digestKey(tokenDigestOf(keys.denylist)), expiresAt: T0 + 5_000 });
    expect(list.isRevoked(keys, 1, T0)).toBe(true);
    expect(list.isRevoked(keysOf('abd'), 1, T0)).toBe(false);
  });

  it('keys checked while nothing was revoked find a token revocation that arrives later (the digest is taken on first need)', () => {
    const list = new RevocationList();
    // What a cache entry holds: keys made and checked on a miss, when the list held no token revocation.
    const cached = keysOf('abc');
    expect(list.isRevoked(cached, 1, T0)).toBe(false);
    list.apply({ type: 'token', key: digestKey(tokenDigestOf(keysOf('abc').denylist)), expiresAt: T0 + 5_000 });
    expect(list.isRevoked(cached, 1, T0)).toBe(true);
    expect(list.isRevoked(keysOf('abd'), 1, T0)).toBe(false);
    expect(cached.digest).toEqual(tokenDigestWords(cached.denylist));
  });

  it('a key that only looks like a digest (upper case, wrong length) is hashed like any other', () => {
    const digest = digestKey(tokenDigestOf('k'));
    expect(tokenDigestOf(digest.toUpperCase())).not.toEqual(tokenDigestOf('k'));
    expect(tokenDigestOf(`${digest}0`)).not.toEqual(tokenDigestOf('k'));
    expect(tokenDigestOf(digest)).toEqual(tokenDigestOf('k'));
  });

  it('heals: notCoveredBy lists what the other lacks or holds with an earlier expiry or cutoff', () => {
    const mine = new RevocationList();
    const theirs = new RevocationList();
    mine.apply({ type: 'token', key: 'a', expiresAt: T0 + 10_000 });
    mine.apply({ type: 'token', key: 'b', expiresAt: T0 + 10_000 });
    mine.apply({ type: 'subject', issuer: 'i', subject: 's', cutoff: 20, expiresAt: T0 + 10_000 });
    theirs.apply({ type: 'token', key: 'a', expiresAt: T0 + 10_000 });
    theirs.apply({ type: 'token', key: 'b', expiresAt: T0 + 5_000 });
    theirs.apply({ type: 'subject', issuer: 'i', subject: 's', cutoff: 10, expiresAt: T0 + 10_000 });
    expect(mine.notCoveredBy(theirs, T0)).toEqual([
      { type: 'token', key: digestKey(tokenDigestOf('b')), expiresAt: T0 + 10_000 },
      { type: 'subject', issuer: 'i', subject: 's', cutoff: 20, expiresAt: T0 + 10_000 },
    ]);
    theirs.merge(mine);
    expect(mine.notCoveredBy(theirs, T0)).toEqual([]);
  });
});
