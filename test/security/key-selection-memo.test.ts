/**
 * Attacks on the JWKS's memo of jose's key selection (src/core/idp/jwks.ts, `selections`): the
 * key chosen for an (alg, kid) pair is remembered for the current set. Each test first warms the
 * memo the way an attacker would, then presents what the memo must not answer for: another
 * algorithm on the same key, a kid-less or oddly typed kid, a set rotated under the same kid,
 * several kid-less keys. Tokens are signed byte for byte with node:crypto (helpers.ts), so the
 * attacker's headers are exactly what is sent; the keys come from a fake IdP whose JWKS the test
 * changes. test/security/webcrypto/ runs this file again on the WebCrypto backend.
 */
import { afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import type { JWK } from 'jose';
import { createVerifier, type Verifier } from '../../src/index.js';
import {
  closeFakeIdps,
  discoveryRoutes,
  FAKE_AUDIENCE,
  type FakeIdp,
  serveKeys,
  startFakeIdp,
} from '../support/fake-idp.js';
import { testClock } from '../support/idp.js';
import { closedLater, closeVerifiers } from '../support/verifier-for.js';
import { waitFor } from '../support/wait-for.js';
import { b64u, rawSigned, signBytes } from './helpers.js';

interface RsaKey {
  privateKey: KeyObject;
  /** The public JWK without kid, alg or use. */
  jwk: JWK;
}
const rsaKey = (): RsaKey => {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { privateKey, jwk: publicKey.export({ format: 'jwk' }) as JWK };
};

let keyA: RsaKey;
let keyB: RsaKey;
beforeAll(() => {
  keyA = rsaKey();
  keyB = rsaKey();
});
afterEach(async () => {
  await closeVerifiers();
  await closeFakeIdps();
});

let jti = 0;
function claims(idp: FakeIdp, clock: () => number): Record<string, unknown> {
  const iat = Math.floor(clock() / 1000);
  return { iss: idp.issuer, aud: FAKE_AUDIENCE, sub: 'alice', jti: `memo-${++jti}`, iat, exp: iat + 600 };
}
const outcome = (promise: Promise<unknown>) =>
  promise.then(
    () => 'accepted',
    (error: { reason?: string }) => error.reason ?? String(error),
  );

async function setup(keys: () => JWK[], algorithms = ['RS256', 'PS256']) {
  const idp = await startFakeIdp((base) => ({ routes: discoveryRoutes(base, serveKeys(keys)) }));
  const clock = testClock();
  const verifier: Verifier = closedLater(
    createVerifier({ issuer: idp.issuer, audience: FAKE_AUDIENCE, algorithms, clock, cache: false }),
  );
  return { idp, clock, verifier };
}

describe('one RSA key without `alg`, allowed under RS256 and PS256', () => {
  // The memo is keyed by (alg, kid): the key imported for one algorithm must never check a
  // signature of the other, whichever was remembered first.
  for (const kid of ['rsa-1', undefined]) {
    it(`${kid === undefined ? 'kid-less tokens' : 'tokens with its kid'}: each algorithm's signature only under its own alg`, async () => {
      const { idp, clock, verifier } = await setup(() => [{ ...keyA.jwk, ...(kid ? { kid } : {}), use: 'sig' }]);
      const header = (alg: string) => ({ alg, typ: 'at+jwt', ...(kid ? { kid } : {}) });
      const signed = (alg: string) => rawSigned(header(alg), claims(idp, clock), keyA.privateKey);
      /** The header says `claimed`; the signature is `actual`'s over that very header and payload. */
      const confused = (claimed: string, actual: string) => {
        const input = `${b64u(JSON.stringify(header(claimed)))}.${b64u(JSON.stringify(claims(idp, clock)))}`;
        return `${input}.${signBytes(actual, keyA.privateKey, input)}`;
      };
      for (let round = 0; round < 2; round++) {
        // Round 0 fills the memo (PS256 first, then RS256); round 1 is served from it.
        expect(await outcome(verifier.verify(signed('PS256')))).toBe('accepted');
        expect(await outcome(verifier.verify(confused('RS256', 'PS256')))).toBe('signature_invalid');
        expect(await outcome(verifier.verify(signed('RS256')))).toBe('accepted');
        expect(await outcome(verifier.verify(confused('PS256', 'RS256')))).toBe('signature_invalid');
      }
      expect(idp.count('/keys')).toBe(1);
    });
  }
});

describe('kids an attacker types oddly', () => {
  // jose matches a non-string kid against no key; the memo must not map it to the key of the same
  // name, nor to the kid-less selection, before or after those are remembered.
  it('a number, null, an array, an object, "" as kid: refused, with the real kid and no kid remembered', async () => {
    const { idp, clock, verifier } = await setup(() => [{ ...keyA.jwk, kid: '1', alg: 'RS256', use: 'sig' }]);
    const sign = (extra: Record<string, unknown>) =>
      rawSigned({ alg: 'RS256', typ: 'at+jwt', ...extra }, claims(idp, clock), keyA.privateKey);
    const odd = [{ kid: 1 }, { kid: null }, { kid: ['1'] }, { kid: { 0: '1' } }, { kid: '' }, { kid: '1 ' }];
    for (const extra of odd) expect(await outcome(verifier.verify(sign(extra)))).toBe('key_not_found');
    expect(await outcome(verifier.verify(sign({ kid: '1' })))).toBe('accepted');
    expect(await outcome(verifier.verify(sign({})))).toBe('accepted'); // kid-less: the only RSA key
    for (const extra of odd) expect(await outcome(verifier.verify(sign(extra)))).toBe('key_not_found');
  });

  it('two kid-less RSA keys: each signs, every time (a choice among several is never remembered)', async () => {
    const { idp, clock, verifier } = await setup(() => [
      { ...keyA.jwk, use: 'sig' },
      { ...keyB.jwk, use: 'sig' },
    ]);
    const sign = (key: RsaKey) => rawSigned({ alg: 'RS256' }, claims(idp, clock), key.privateKey);
    for (let round = 0; round < 3; round++) {
      expect(await outcome(verifier.verify(sign(keyB)))).toBe('accepted');
      expect(await outcome(verifier.verify(sign(keyA)))).toBe('accepted');
    }
  });
});

describe('the IdP rotates a key under the same kid', () => {
  // A memo kept across sets would go on checking tokens with the rotated-out key: the old key's
  // tokens accepted (a compromised key that was replaced), the new key's refused.
  it('once the set is refetched (maxAge): the new key signs, the old one no longer does', async () => {
    let published = keyA;
    const { idp, clock, verifier } = await setup(() => [{ ...published.jwk, kid: 'k', alg: 'RS256', use: 'sig' }]);
    const sign = (key: RsaKey) => rawSigned({ alg: 'RS256', kid: 'k' }, claims(idp, clock), key.privateKey);
    expect(await outcome(verifier.verify(sign(keyA)))).toBe('accepted');
    expect(await outcome(verifier.verify(sign(keyA)))).toBe('accepted'); // from the memo
    published = keyB;
    clock.advance(10 * 60_000 + 1); // past the default maxAge: the next request refreshes in the background
    await outcome(verifier.verify(sign(keyA)));
    await waitFor(() => idp.count('/keys') === 2 && verifier.stats().jwks.fetchedAt === clock(), 'the set refetched');
    expect(await outcome(verifier.verify(sign(keyA)))).toBe('signature_invalid');
    expect(await outcome(verifier.verify(sign(keyB)))).toBe('accepted');
    expect(await outcome(verifier.verify(sign(keyB)))).toBe('accepted');
    expect(await outcome(verifier.verify(sign(keyA)))).toBe('signature_invalid');
  });
});
