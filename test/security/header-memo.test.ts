/**
 * The node:crypto backend parses a token's protected header once per header segment, not once per
 * token (compact-jws.ts, shared by every verifier in the process). What an attacker would try
 * against that: a header remembered for one verifier passing another's allowlist, a header that
 * failed once passing later, a remembered header changed through one result, and a flood of
 * made-up headers pushing out the real ones. Each must get the answer a fresh parse gives.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { createVerifier } from '../../src/index.js';
import { rawToken, testClock } from '../support/idp.js';
import { closedLater, closeVerifiers } from '../support/verifier-for.js';

const ISSUER = 'https://idp.example/';
const clock = testClock();
const rsa = await generateKeyPair('RS256', { extractable: true });
const ec = await generateKeyPair('ES256', { extractable: true });
const keys = [
  { ...(await exportJWK(rsa.publicKey)), kid: 'rsa', alg: 'RS256', use: 'sig' },
  { ...(await exportJWK(ec.publicKey)), kid: 'ec', alg: 'ES256', use: 'sig' },
];

afterEach(closeVerifiers);

const verifierFor = (algorithms: string[]) =>
  closedLater(
    createVerifier({
      issuer: ISSUER,
      audience: 'api',
      clock,
      algorithms,
      jwks: { keys: keys.filter((key) => algorithms.includes(key.alg)) },
    }),
  );

let serial = 0;
function signed(header: Record<string, unknown> = { alg: 'RS256', kid: 'rsa' }, key = rsa.privateKey) {
  const now = Math.floor(clock() / 1000);
  return new SignJWT({ sub: 'alice', jti: `h-${++serial}` })
    .setProtectedHeader(header as { alg: string })
    .setIssuer(ISSUER)
    .setAudience('api')
    .setIssuedAt(now)
    .setExpirationTime(now + 300)
    .sign(key);
}

describe('remembered headers', () => {
  it("a header one verifier accepted is still held to another verifier's allowlist", async () => {
    const rsaOnly = verifierFor(['RS256']);
    const ecOnly = verifierFor(['ES256']);
    await expect(rsaOnly.verify(await signed())).resolves.toMatchObject({ header: { alg: 'RS256' } });
    // The same header segment (remembered now) in front of a verifier that does not allow RS256.
    await expect(ecOnly.verify(await signed())).rejects.toMatchObject({ reason: 'algorithm_not_allowed' });
    await expect(ecOnly.verify(await signed({ alg: 'ES256', kid: 'ec' }, ec.privateKey))).resolves.toBeDefined();
  });

  it('a header refused once is refused every time (only headers that passed are remembered)', async () => {
    const verifier = verifierFor(['RS256']);
    const critical = { alg: 'RS256', kid: 'rsa', crit: ['exp'], exp: 1 };
    // Refused before any key is looked for, so no signature is needed to reach the parse.
    const token = rawToken(critical, { sub: 'alice' }, 'AAAA');
    for (let i = 0; i < 3; i++)
      await expect(verifier.verify(token)).rejects.toMatchObject({ reason: 'unsupported_token' });
    const noAlg = rawToken({ kid: 'rsa' }, { sub: 'alice' }, 'AAAA');
    for (let i = 0; i < 3; i++) await expect(verifier.verify(noAlg)).rejects.toMatchObject({ status: 401 });
  });

  it('tokens with one header share a frozen header: no result can change what the next token is read with', async () => {
    const verifier = verifierFor(['RS256']);
    const header = { alg: 'RS256', kid: 'rsa', typ: 'at+jwt', x5c: ['AAAA'] };
    const first = await verifier.verify(await signed(header));
    const second = await verifier.verify(await signed(header));
    expect(Object.isFrozen(first.header)).toBe(true);
    expect(Object.isFrozen((first.header as { x5c: string[] }).x5c)).toBe(true);
    expect(() => {
      (first.header as { kid: string }).kid = 'ec';
    }).toThrow(TypeError);
    expect(second.header).toEqual(header);
  });

  it('a flood of made-up headers neither grows the memo without bound nor changes an answer', async () => {
    const verifier = verifierFor(['RS256']);
    const forged = Array.from({ length: 200 }, (_, i) => rawToken({ alg: 'RS256', kid: `made-up-${i}` }, {}, 'AAAA'));
    const good = await signed();
    await verifier.verify(good);
    for (const token of forged) await expect(verifier.verify(token)).rejects.toMatchObject({ status: 401 });
    await expect(verifier.verify(await signed())).resolves.toMatchObject({ payload: { sub: 'alice' } });
    // The one forged with the real kid and a signature that does not hold is still refused.
    const [head, body] = good.split('.');
    await expect(verifier.verify(`${head}.${body}.${'A'.repeat(342)}`)).rejects.toMatchObject({
      reason: 'signature_invalid',
    });
  });
});
