/**
 * Cache abuse: the verified-token cache must never answer for a token it did not verify. A
 * payload or header swapped under a cached signature, other spellings of a cached or revoked
 * token, a cached token past its `exp`, a cached token whose key has left the JWKS: each is
 * verified on its own (and refused), through the verifier and through `authGuard`.
 * Split from attack-corpus.test.ts; `it.failing` there and here marks a real bug in src/.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { refused } from '../support/expect-refusal.js';
import {
  signToken,
  standardClaims,
  startIdp,
  testClock,
  tokenAt,
  type EmbeddedIdp,
  type SigningKey,
} from '../support/idp.js';
import { closeVerifiers, verifierFor } from '../support/verifier-for.js';
import { guardedApp } from './guarded-app.js';
import { b64u, claimsOf, listen, nonCanonicalSpellings, parts, rawRequest } from './helpers.js';

let idp: EmbeddedIdp;
let key: SigningKey;
const closers: Array<() => Promise<void>> = [];

beforeAll(async () => {
  idp = await startIdp();
  key = idp.keys[0]!;
});
afterAll(async () => {
  await closeVerifiers();
  await Promise.all(closers.map((close) => close()));
  await idp.close();
});

describe('cache abuse', () => {
  it('a different payload (or header) under the cached genuine signature is verified on its own and refused', async () => {
    const verifier = verifierFor(idp);
    const app = guardedApp(verifier);
    const token = await idp.issueAccessToken({ scope: 'notes:read' });
    expect((await request(app).get('/notes').set('Authorization', `Bearer ${token}`)).status).toBe(200);
    const [h, p, s] = parts(token);
    const escalated = b64u(JSON.stringify({ ...claimsOf(token), scope: 'notes:read notes:write' }));
    const otherHeader = b64u(
      JSON.stringify({ ...JSON.parse(Buffer.from(h, 'base64url').toString()), kid: key.kid, typ: 'JWT' }),
    );
    for (const forged of [`${h}.${escalated}.${s}`, `${otherHeader}.${p}.${s}`]) {
      const res = await request(app).post('/notes').set('Authorization', `Bearer ${forged}`);
      expect(res.status).toBe(401);
      expect(res.body.error_description).toBe('The access token signature is invalid');
      expect(verifier.peek(forged)).toBeUndefined();
    }
    expect(verifier.stats().cache.size).toBe(1);
    expect((await request(app).post('/notes').set('Authorization', `Bearer ${token}`)).status).toBe(403);
  });

  it('a cached genuine token is refused through the guard once its exp passes (injected clock)', async () => {
    const clock = testClock();
    const now = Math.floor(clock() / 1000);
    const verifier = verifierFor(idp, { clock, clockTolerance: 0 });
    const app = guardedApp(verifier);
    const token = await signToken(standardClaims(idp, { exp: now + 60 }, clock()), key);
    expect((await request(app).get('/notes').set('Authorization', `Bearer ${token}`)).status).toBe(200);
    expect(verifier.peek(token)).toBeDefined();
    clock.advance(60_000);
    const res = await request(app).get('/notes').set('Authorization', `Bearer ${token}`);
    expect(res.status).toBe(401);
    expect(res.body.error_description).toBe('The access token expired');
    expect(verifier.stats().cache.size).toBe(0);
  });

  it('a revoked token stays refused under every spelling of the Bearer scheme and its whitespace', async () => {
    const verifier = verifierFor(idp);
    const listener = await listen(guardedApp(verifier));
    closers.push(listener.close);
    const token = await idp.issueAccessToken({ scope: 'notes:read' });
    expect((await rawRequest(listener.port, [`Authorization: Bearer ${token}`], '/notes')).status).toBe(200);
    await verifier.invalidate(token);
    const sameToken = ['bearer ', 'BEARER ', 'bEaReR ', 'Bearer  ', 'Bearer    '].map(
      (prefix) => `Authorization: ${prefix}${token}`,
    );
    const withOws = [
      `Authorization:    Bearer ${token}`,
      `Authorization: Bearer ${token}   `,
      `Authorization:\tBearer ${token}\t`,
    ];
    for (const line of [...sameToken, ...withOws]) {
      const res = await rawRequest(listener.port, [line], '/notes');
      expect([line.slice(0, 40), res.status]).toEqual([line.slice(0, 40), 401]);
      expect(res.headers['www-authenticate']).toContain('error_description="The access token has been revoked"');
    }
    for (const line of [
      `Authorization: Bearer\t${token}`,
      `Authorization: Bearer ${token},`,
      `Authorization: Bearer ${token} x`,
      `Authorization: Bearer "${token}"`,
    ]) {
      expect((await rawRequest(listener.port, [line], '/notes')).status).toBe(400);
    }
  });

  it('padding, "+/" and spare-bit spellings of a cached token are never served from its cache entry', async () => {
    const verifier = verifierFor(idp);
    const token = await idp.issueAccessToken();
    const cached = await verifier.verify(token);
    const [h, p, s] = parts(token);
    const spellings = [
      ...nonCanonicalSpellings(s).map((x) => `${h}.${p}.${x}`),
      `${h}.${p}.${s}=`,
      `${h}=.${p}.${s}`,
      `${h}.${p}=.${s}`,
    ];
    const alphabet = `${h}.${p}.${s.replace(/-/g, '+').replace(/_/g, '/')}`;
    if (alphabet !== token) spellings.push(alphabet);
    for (const spelling of spellings) expect(verifier.peek(spelling)).toBeUndefined();
    // Invalid spellings are refused outright; the header/payload ones break the signature.
    await refused(verifier.verify(`${h}.${p}.${s}=`), 'malformed_token');
    if (alphabet !== token) await refused(verifier.verify(alphabet), 'malformed_token');
    await refused(verifier.verify(`${h}=.${p}.${s}`), ['signature_invalid', 'malformed_token']);
    await refused(verifier.verify(`${h}.${p}=.${s}`), ['signature_invalid', 'malformed_token']);
    expect(verifier.peek(token)).toBe(cached);
  });

  it('refuses non-canonical spellings of a genuine signature (padding, spare bits): one token, one spelling', async () => {
    // jose (on Node 20, via atob) would decode "sig==" and a last character with spare bits set to
    // the same bytes; checkShape() refuses them first, so no second string verifies as this token.
    const verifier = verifierFor(idp);
    const token = await idp.issueAccessToken();
    const [h, p, s] = parts(token);
    const variants = nonCanonicalSpellings(s).map((x) => `${h}.${p}.${x}`);
    expect(variants.length).toBeGreaterThan(0);
    for (const variant of variants) await refused(verifier.verify(variant), 'malformed_token');
    await expect(verifier.verify(token)).resolves.toMatchObject({ payload: claimsOf(token) });
  });

  // Was a bug, fixed (src/core/revocation-list.ts denylistKeyFor(), formerly src/core/revoker.ts): without a jti
  // the denylist key is a SHA-256 of the whole token string, but many strings verify as the same
  // token — the signature segment may be padded ("==") or have its last character's spare bits set
  // (jose decodes base64url leniently on Node 20) — so `invalidate()`/`revoke()` of a jti-less
  // token (Auth0-style) is undone by changing one character. The guard lets these spellings through
  // (b64token allows trailing "="). Should: key the denylist by the signing input (header.payload),
  // or refuse non-canonical base64url in checkShape().
  it('refuses a re-spelled revoked token that has no jti (verify and guard)', async () => {
    const verifier = verifierFor(idp);
    const claims = standardClaims(idp);
    delete claims.jti;
    const token = await signToken(claims, key);
    await verifier.verify(token);
    await verifier.invalidate(token);
    const [h, p, s] = parts(token);
    const variants = nonCanonicalSpellings(s).map((x) => `${h}.${p}.${x}`);
    const app = guardedApp(verifier);
    for (const variant of variants) {
      expect((await request(app).get('/notes').set('Authorization', `Bearer ${variant}`)).status).toBe(401);
      // Non-canonical base64url is refused before anything else (one token, one spelling).
      await refused(verifier.verify(variant), ['malformed_token', 'revoked']);
    }
  });

  // Was a bug, fixed (src/core/verifier.ts evictRemovedKeys() with src/core/token-cache.ts: entries remember the
  // *token header's* kid, and src/core/jwks.ts reports `kidless: true` only when a key without kid
  // leaves). A token without kid is verified by whichever JWKS key matches its alg — here the IdP's
  // kid-bearing key. When that key leaves the JWKS (rotation after a compromise), the README
  // promises cached results verified under it are evicted at once; the kid-less entry is not
  // (change.kidless is false), so it is served for up to cache.maxTtl / exp. Should: remember the
  // verifying key (its kid or fingerprint) in the cache entry, or evict kid-less entries on any removal.
  it('evicts a cached kid-less token as soon as the key that verified it leaves the JWKS', async () => {
    const rotating = await startIdp();
    closers.push(() => rotating.close());
    const clock = testClock();
    const verifier = verifierFor(rotating, { clock });
    const kidless = await signToken(standardClaims(rotating, {}, clock()), rotating.keys[0]!, { kid: undefined });
    expect(JSON.parse(Buffer.from(parts(kidless)[0], 'base64url').toString()).kid).toBeUndefined();
    await verifier.verify(kidless);
    await rotating.rotateKeys({ dropOld: true });
    clock.advance(31_000);
    await verifier.verify(await tokenAt(rotating, clock())); // new kid → refetch; the old key is gone
    expect(verifier.peek(kidless)).toBeUndefined();
    await refused(verifier.verify(kidless));
  });
});
