/**
 * The JWKS remembers which key jose selected for an (alg, kid) pair, so a miss skips jose's
 * filtering pass. These are the ways a remembered selection could pick the wrong key: a kid whose
 * material changed at the IdP, a header jose would match differently (a kid that is not a string,
 * a token without kid after one with), and one key under several algorithms. Each test fails if
 * the memo outlives its key set or keys more loosely than jose selects.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { generateKeyPairSync } from 'node:crypto';
import { SignJWT } from 'jose';
import { expectInvalid, refused } from '../../support/expect-refusal.js';
import {
  closeFakeIdps,
  discoveryRoutes,
  fakeIdpKey,
  serveKeys,
  signAccessToken,
  startFakeIdp,
  type FakeIdpKey,
} from '../../support/fake-idp.js';
import { testClock } from '../../support/idp.js';
import { closeVerifiers, verifierFor } from '../../support/verifier-for.js';

afterEach(async () => {
  await closeVerifiers();
  await closeFakeIdps();
});

async function idpPublishing(keys: () => object[]) {
  return startFakeIdp((base) => ({ routes: discoveryRoutes(base, serveKeys(keys)) }));
}

describe('remembered key selections', () => {
  it('forget a kid whose material the IdP replaced: the old key no longer verifies, the new one does', async () => {
    const clock = testClock();
    const first = await fakeIdpKey('RS256', 'k1');
    const second = await fakeIdpKey('RS256', 'k1'); // same kid, new material
    let published: FakeIdpKey = first;
    const idp = await idpPublishing(() => [published.jwk]);
    const verifier = verifierFor(idp, { clock: clock, cache: false, jwksMaxAge: 60 });

    await verifier.verify(await signAccessToken(first, { alg: 'RS256', kid: 'k1' }, idp.issuer, clock));
    published = second;
    clock.advance(61_000); // past jwksMaxAge: the next miss refreshes in the background
    await verifier.verify(await signAccessToken(first, { alg: 'RS256', kid: 'k1' }, idp.issuer, clock));
    // Wait for the background refresh to land: the JWKS was served twice.
    for (let i = 0; i < 100 && idp.count('/keys') < 2; i++) await new Promise((r) => setImmediate(r));
    expect(idp.count('/keys')).toBe(2);
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r)); // its body parsed and installed

    const stale = await signAccessToken(first, { alg: 'RS256', kid: 'k1' }, idp.issuer, clock);
    expectInvalid(await refused(verifier.verify(stale)), 'signature_invalid');
    const fresh = await signAccessToken(second, { alg: 'RS256', kid: 'k1' }, idp.issuer, clock);
    await expect(verifier.verify(fresh)).resolves.toMatchObject({ source: 'jwt' });
  });

  it('do not let a kid that is not a string ride on the selection of a token without kid', async () => {
    const clock = testClock();
    const key = await fakeIdpKey('RS256', 'unused');
    const { kid: _kid, ...kidless } = key.jwk;
    const idp = await idpPublishing(() => [kidless]);
    const verifier = verifierFor(idp, { clock: clock, cache: false });

    // A token without kid selects the one key by type, and that selection is remembered…
    const plain = await new SignJWT({ sub: 'alice', jti: 'a', scope: 'notes:read' })
      .setProtectedHeader({ alg: 'RS256', typ: 'at+jwt' })
      .setIssuer(idp.issuer)
      .setAudience(idp.audience)
      .setIssuedAt(Math.floor(clock() / 1000))
      .setExpirationTime(Math.floor(clock() / 1000) + 600)
      .sign(key.privateKey);
    await expect(verifier.verify(plain)).resolves.toMatchObject({ source: 'jwt' });
    // …but a numeric kid is judged as before: jose matches it against no key.
    const numericKid = await new SignJWT({ sub: 'alice', jti: 'b', scope: 'notes:read' })
      .setProtectedHeader({ alg: 'RS256', typ: 'at+jwt', kid: 7 as unknown as string })
      .setIssuer(idp.issuer)
      .setAudience(idp.audience)
      .setIssuedAt(Math.floor(clock() / 1000))
      .setExpirationTime(Math.floor(clock() / 1000) + 600)
      .sign(key.privateKey);
    const refusal = await refused(verifier.verify(numericKid));
    expect(refusal.status).toBe(401);
  });

  it('keep one key under two algorithms apart: a PS256 signature never verifies as RS256 or back', async () => {
    const clock = testClock();
    // A node:crypto key signs under either algorithm (a WebCrypto key is bound to one).
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    // No `alg` on the JWK: the same RSA key serves both algorithms jose's selection allows.
    const jwk = { ...publicKey.export({ format: 'jwk' }), kid: 'rsa', use: 'sig' };
    const idp = await idpPublishing(() => [jwk]);
    const verifier = verifierFor(idp, { clock: clock, cache: false, algorithms: ['RS256', 'PS256'] });
    const signed = (alg: string) => signAccessToken({ privateKey }, { alg, kid: 'rsa' }, idp.issuer, clock);

    await expect(verifier.verify(await signed('RS256'))).resolves.toMatchObject({ source: 'jwt' });
    await expect(verifier.verify(await signed('PS256'))).resolves.toMatchObject({ source: 'jwt' });
    // A PS256 signature relabelled RS256 (and back): each alg is checked under its own selection.
    const swap = (token: string, alg: string) => {
      const [, payload, signature] = token.split('.');
      const header = Buffer.from(JSON.stringify({ typ: 'at+jwt', alg, kid: 'rsa' })).toString('base64url');
      return `${header}.${payload}.${signature}`;
    };
    expectInvalid(await refused(verifier.verify(swap(await signed('PS256'), 'RS256'))), 'signature_invalid');
    expectInvalid(await refused(verifier.verify(swap(await signed('RS256'), 'PS256'))), 'signature_invalid');
  });

  it('never remember a kid the set does not have: a flood of made-up kids finds none each time', async () => {
    const clock = testClock();
    const key = await fakeIdpKey('RS256', 'real');
    const idp = await idpPublishing(() => [key.jwk]);
    const verifier = verifierFor(idp, { clock: clock, cache: false });
    await verifier.verify(await signAccessToken(key, { alg: 'RS256', kid: 'real' }, idp.issuer, clock));
    for (let i = 0; i < 3; i++) {
      const token = await signAccessToken(key, { alg: 'RS256', kid: `made-up-${i}` }, idp.issuer, clock);
      expectInvalid(await refused(verifier.verify(token)), 'key_not_found');
    }
  });
});
