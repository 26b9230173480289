/**
 * Resource bounds under hostile load: what an attacker sending lots of tokens can make the
 * verifier keep or do. Asserts only counts and sizes (cache entries, in-flight verifications,
 * denylist and outbox entries, JWKS and discovery fetches), never timings. Clocks are injected so
 * cooldown windows are exact.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { AuthError, authGuard, type GuardRequest, type Verifier } from '../../src/index.js';
import { closeVerifiers, verifierFor } from '../support/verifier-for.js';
import { startStubServer } from '../support/http.js';
import { rawToken, signToken, standardClaims, startIdp, testClock, tokenAt, type EmbeddedIdp } from '../support/idp.js';
import { b64u } from './helpers.js';

let idp: EmbeddedIdp;
/** IdPs a single test starts for itself. */
const ownIdps: EmbeddedIdp[] = [];

beforeAll(async () => {
  idp = await startIdp();
});
afterAll(async () => {
  await closeVerifiers();
  await Promise.all([idp, ...ownIdps].map((each) => each.close()));
});

/** The verifier's map of in-flight first verifications (private; read only to bound it). */
function inflight(verifier: Verifier): Map<string, unknown> {
  const map = (verifier as unknown as { inflight?: unknown }).inflight;
  if (!(map instanceof Map)) throw new Error('JwtVerifier.inflight is no longer a Map: update resource-bounds.test.ts');
  return map as Map<string, unknown>;
}

/** Runs `count` verifications in batches, checking each settles with an AuthError; returns reasons seen. */
async function flood(
  verifier: Verifier,
  count: number,
  tokenAt: (i: number) => string,
  batch = 1_000,
  during?: () => void,
): Promise<Map<string, number>> {
  const reasons = new Map<string, number>();
  for (let start = 0; start < count; start += batch) {
    const settled = Promise.allSettled(
      Array.from({ length: Math.min(batch, count - start) }, (_, j) => verifier.verify(tokenAt(start + j))),
    );
    during?.();
    for (const result of await settled) {
      if (result.status === 'fulfilled') throw new Error('a garbage token verified');
      if (!(result.reason instanceof AuthError)) throw result.reason;
      reasons.set(result.reason.reason, (reasons.get(result.reason.reason) ?? 0) + 1);
    }
  }
  return reasons;
}

/** 50 000 distinct garbage strings of every shape, deterministic. */
function garbage(i: number, kid: string, claims: object): string {
  switch (i % 10) {
    case 0:
      return `garbage-${i}`;
    case 1:
      return `${b64u(`h${i}`)}.${b64u(`p${i}`)}.${b64u(`s${i}`)}`;
    case 2:
      return `a.b.c.d.${i}`; // JWE-shaped
    case 3:
      return rawToken({ alg: 'none', n: i }, claims);
    case 4:
      return rawToken({ alg: 'HS256', kid, n: i }, claims, 'AAAA');
    case 5:
      return `${b64u('{"alg":')}.${i}.x`; // broken JSON header
    case 6:
      return rawToken({ alg: 'RS256', kid, crit: ['urn:x'], 'urn:x': i }, claims, 'AAAA');
    case 7:
    case 8:
      // Reaches the RSA signature check with the genuine kid.
      return rawToken(
        { alg: 'RS256', kid, typ: 'at+jwt' },
        { ...claims, jti: `forged-${i}` },
        b64u(new Uint8Array(256).fill(i % 256)),
      );
    default:
      return `${'x'.repeat(16_380)}.${i}.y`; // over maxTokenLength
  }
}

describe('garbage leaves nothing behind', () => {
  it('50 000 unique garbage tokens: cache and in-flight map stay empty, no denylist entry, no JWKS refetch', async () => {
    const clock = testClock();
    const verifier = verifierFor(idp, { clock });
    const kid = idp.keys[0]!.kid;
    const claims = standardClaims(idp, {}, clock());
    await verifier.verify(await tokenAt(idp, clock())); // a warm verifier, as in production
    let maxInflight = 0;
    const reasons = await flood(
      verifier,
      50_000,
      (i) => garbage(i, kid, claims),
      1_000,
      () => {
        maxInflight = Math.max(maxInflight, inflight(verifier).size);
      },
    );
    expect([...reasons.values()].reduce((a, b) => a + b, 0)).toBe(50_000);
    expect(reasons.get('signature_invalid')).toBe(10_000);
    expect(maxInflight).toBeLessThanOrEqual(1_000);
    expect(inflight(verifier).size).toBe(0);
    const stats = verifier.stats();
    expect(stats.cache.size).toBe(1); // only the genuine warm-up token
    expect(stats.revocation.denylisted).toBe(0);
    expect(stats.jwks.fetches).toBe(1);
    expect(stats.discovery.fetches).toBe(1);
  }, 60_000);

  it('garbage through authGuard (called directly): nothing cached, nothing in flight', async () => {
    const clock = testClock();
    // An IdP of its own: this cold verifier's first requests must not reuse a keep-alive socket
    // the previous test left idle for about the server's 5 s keep-alive timeout (under load, a
    // request raced the server closing it: ECONNRESET, and 401s became 503s).
    const own = await startIdp();
    ownIdps.push(own);
    const verifier = verifierFor(own, { clock });
    const guard = authGuard({ verifier });
    const kid = own.keys[0]!.kid;
    const claims = standardClaims(own, {}, clock());
    const statuses = new Map<number, number>();
    for (let start = 0; start < 5_000; start += 500) {
      await Promise.all(
        Array.from({ length: 500 }, (_, j) => {
          const token = garbage(start + j, kid, claims);
          const req = {
            headers: { authorization: `Bearer ${token}` },
            rawHeaders: ['Authorization', `Bearer ${token}`],
            url: '/',
          };
          return new Promise<void>((resolve) =>
            guard(req as unknown as GuardRequest, {} as never, (err?: unknown) => {
              const status = err instanceof AuthError ? err.status : 0;
              statuses.set(status, (statuses.get(status) ?? 0) + 1);
              resolve();
            }),
          );
        }),
      );
    }
    for (const status of statuses.keys()) expect([400, 401]).toContain(status);
    expect([...statuses.values()].reduce((a, b) => a + b, 0)).toBe(5_000);
    expect(verifier.stats().cache.size).toBe(0);
    expect(inflight(verifier).size).toBe(0);
  });

  it('200 tokens of 256 KiB are refused unparsed: no fetch of any kind, nothing kept', async () => {
    const verifier = verifierFor(idp);
    const reasons = await flood(verifier, 200, (i) => `${'a'.repeat(128 * 1024)}.${i}.${'b'.repeat(128 * 1024)}`, 50);
    expect(reasons).toEqual(new Map([['token_too_long', 200]]));
    expect(verifier.stats()).toMatchObject({ cache: { size: 0 }, jwks: { fetches: 0 }, discovery: { fetches: 0 } });
    expect(inflight(verifier).size).toBe(0);
  });

  it('1000 concurrent presentations of one unverified token hold one in-flight entry, then none', async () => {
    const verifier = verifierFor(idp);
    const token = await idp.issueAccessToken();
    const all = Promise.all(Array.from({ length: 1_000 }, () => verifier.verify(token)));
    expect(inflight(verifier).size).toBe(1);
    expect(new Set(await all).size).toBe(1);
    expect(inflight(verifier).size).toBe(0);
    expect(verifier.stats().cache.size).toBe(1);
  });
});

describe('unknown kids cannot drive JWKS traffic', () => {
  it('10 000 random unknown kids over 5 cooldown windows: at most one JWKS fetch per window, valid tokens verify meanwhile', async () => {
    const clock = testClock();
    // The longest IdP timeout: on a loaded 2-core machine a JWKS answer queued behind 2 000
    // verifications can take seconds, and a timeout would be a different refusal than the one asserted.
    const verifier = verifierFor(idp, { clock, jwksCooldown: 30, timeout: 60 });
    const claims = standardClaims(idp, {}, clock());
    await verifier.verify(await tokenAt(idp, clock()));
    const fetchesAtStart = verifier.stats().jwks.fetches;
    const idpRequestsAtStart = idp.jwksRequests;
    const windows = 5;
    for (let w = 0; w < windows; w++) {
      const valid = await Promise.all(
        Array.from({ length: 3 }, () => signToken(standardClaims(idp, {}, clock()), idp.keys[0]!)),
      );
      const before = verifier.stats().jwks.fetches;
      const unknown = Array.from({ length: 2_000 }, (_, i) =>
        rawToken({ alg: 'RS256', kid: `kid-${w}-${i}-${Math.random().toString(36).slice(2)}` }, claims, 'AAAA'),
      );
      const [results, accepted] = await Promise.all([
        Promise.allSettled(unknown.map((t) => verifier.verify(t))),
        Promise.all(valid.map((t) => verifier.verify(t))),
      ]);
      expect(accepted).toHaveLength(3);
      expect(results.every((r) => r.status === 'rejected' && (r.reason as AuthError).reason === 'key_not_found')).toBe(
        true,
      );
      expect(verifier.stats().jwks.fetches - before).toBeLessThanOrEqual(1);
      clock.advance(30_001);
    }
    // The first window shares the initial load's window; each later window allowed one refetch.
    expect(verifier.stats().jwks.fetches - fetchesAtStart).toBeLessThanOrEqual(windows - 1);
    expect(idp.jwksRequests - idpRequestsAtStart).toBe(verifier.stats().jwks.fetches - fetchesAtStart);
    expect(verifier.stats().discovery.fetches).toBe(1);
    expect(inflight(verifier).size).toBe(0);
  }, 60_000); // CPU-bound: 10 000 verifications, slow on a loaded 2-core machine (no timing is asserted)

  it('while the JWKS endpoint is down, an unknown-kid flood still costs at most one attempt per window, and known keys keep working', async () => {
    const down = await startIdp();
    try {
      const clock = testClock();
      const verifier = verifierFor(down, { clock, jwksCooldown: 30 });
      await verifier.verify(await tokenAt(down, clock()));
      const known = await signToken(
        standardClaims(down, { exp: Math.floor(clock() / 1000) + 3600 }, clock()),
        down.keys[0]!,
      );
      await down.pause();
      const claims = standardClaims(down, {}, clock());
      const fetchesAtStart = verifier.stats().jwks.fetches;
      const windows = 4;
      for (let w = 0; w < windows; w++) {
        clock.advance(30_001);
        const results = await Promise.allSettled(
          Array.from({ length: 1_000 }, (_, i) =>
            verifier.verify(rawToken({ alg: 'RS256', kid: `down-${w}-${i}` }, claims, 'AAAA')),
          ),
        );
        expect(results.every((r) => r.status === 'rejected' && r.reason instanceof AuthError)).toBe(true);
        await expect(verifier.verify(known)).resolves.toBeDefined();
      }
      expect(verifier.stats().jwks.fetches - fetchesAtStart).toBeLessThanOrEqual(windows);
      expect(inflight(verifier).size).toBe(0);
    } finally {
      await down.close();
    }
  }, 60_000);
});

describe('the cache is bounded', () => {
  it('600 distinct valid tokens with cache.max 100: never more than 100 entries, the newest kept', async () => {
    const clock = testClock();
    const verifier = verifierFor(idp, { clock, cache: { max: 100, maxTtl: 600 } });
    const tokens = await Promise.all(
      Array.from({ length: 600 }, () => signToken(standardClaims(idp, {}, clock()), idp.keys[0]!)),
    );
    for (let start = 0; start < tokens.length; start += 50) {
      await Promise.all(tokens.slice(start, start + 50).map((t) => verifier.verify(t)));
      expect(verifier.stats().cache.size).toBeLessThanOrEqual(100);
    }
    expect(verifier.stats().cache).toMatchObject({ size: 100, max: 100 });
    expect(tokens.slice(-100).every((t) => verifier.peek(t) !== undefined)).toBe(true);
    expect(tokens.slice(0, 500).some((t) => verifier.peek(t) !== undefined)).toBe(false);
    // Evicted ones still verify (and displace others), the bound holds.
    await verifier.verify(tokens[0]!);
    expect(verifier.stats().cache.size).toBe(100);
  });

  it('non-canonical spellings of one token are refused and take no cache entry', async () => {
    const verifier = verifierFor(idp, { cache: { max: 10, maxTtl: 600 } });
    const token = await idp.issueAccessToken();
    const [h, p, s] = token.split('.') as [string, string, string];
    const last = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'.indexOf(s.at(-1)!);
    // A 256-byte signature leaves 4 spare bits in its last character: 16 spellings, plus padding.
    const spellings = Array.from(
      { length: 16 },
      (_, bits) =>
        `${h}.${p}.${s.slice(0, -1)}${'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'[(last & ~15) | bits]}`,
    );
    const outcomes = await Promise.allSettled(
      [...spellings, `${token}==`].filter((t) => t !== token).map((t) => verifier.verify(t)),
    );
    expect(outcomes.every((o) => o.status === 'rejected')).toBe(true);
    expect(verifier.stats().cache.size).toBe(0);
  });
});

describe('revocation state is bounded by what is genuinely ours', () => {
  it('5000 forged or foreign tokens passed to invalidate()/revoke(): no denylist entry, no cutoff', async () => {
    const clock = testClock();
    const verifier = verifierFor(idp, { clock });
    const kid = idp.keys[0]!.kid;
    const claims = standardClaims(idp, {}, clock());
    const outcomes = await Promise.allSettled(
      Array.from({ length: 2_500 }, (_, i) => verifier.invalidate(garbage(i, kid, claims))),
    );
    expect(outcomes.every((o) => o.status === 'rejected')).toBe(true);
    const revoked = await Promise.all(
      Array.from({ length: 2_500 }, (_, i) => verifier.revoke(garbage(i + 7, kid, claims))),
    );
    expect(new Set(revoked.map((r) => r.local))).toEqual(new Set(['not_ours']));
    expect(verifier.stats().revocation).toMatchObject({ denylisted: 0, subjectCutoffs: 0, globalCutoff: false });
  });

  it('1000 opaque or forged tokens revoked while the IdP is down: the outbox stops at maxPending', async () => {
    const dead = await startStubServer(() => undefined);
    const endpoint = `${dead.url}/revoke`;
    await dead.close(); // connection refused from now on
    const clock = testClock();
    const verifier = verifierFor(idp, {
      clock,
      revocation: { clientId: 'rs', clientSecret: 'rs-secret', endpoint, maxPending: 50, timeout: 1 },
    });
    const kid = idp.keys[0]!.kid;
    const claims = standardClaims(idp, {}, clock());
    // All at once: the size check and the enqueue must not race past the cap.
    const outcomes = await Promise.all(
      Array.from({ length: 1_000 }, (_, i) => verifier.revoke(i % 2 ? `opaque-${i}` : garbage(i, kid, claims))),
    );
    expect(outcomes.filter((o) => o.idp === 'queued').length).toBeLessThanOrEqual(50);
    expect(verifier.stats().revocation.outbox.pending).toBeLessThanOrEqual(50);
    expect(outcomes.filter((o) => o.idp === 'queue_full').length).toBeGreaterThanOrEqual(950);
    expect(verifier.stats().revocation.denylisted).toBe(0);
  }, 60_000);
});
