/**
 * `createVerifier({ jwks: { keys } })`: keys given, never fetched. The verifier's `fetch` throws,
 * so any network use fails the test. Tokens are signed with freshly generated keys (the embedded
 * IdP's own key generator) and with an attacker's; the options table is what a configuration
 * could get wrong, each with the message that says how to fix it.
 */
import { afterAll, describe, expect, it } from '@jest/globals';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import { createVerifier, type FetchLike, MisconfiguredError, type VerifierOptions } from '../../../src/index.js';
import { generateSigningKey, type SigningAlg, type SigningKey } from '../../../example-app/embedded-idp.js';
import { refused } from '../../support/expect-refusal.js';
import { attackerKey, signToken, testClock } from '../../support/idp.js';
import { closedLater, closeVerifiers, verifierFor } from '../../support/verifier-for.js';

const ISSUER = 'https://idp.example.com/';
const AUDIENCE = 'https://api.example.com';
const clock = testClock();
let fetches = 0;
const noNetwork: FetchLike = () => {
  fetches++;
  return Promise.reject(new Error('static keys must never fetch'));
};
afterAll(async () => {
  await closeVerifiers();
  expect(fetches).toBe(0);
});

/** The public half of a key the embedded IdP would generate: what an IdP publishes. */
function publicJwk(key: SigningKey): JWK {
  const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...pub } = key.privateJwk;
  return pub;
}

const claims = (overrides: Record<string, unknown> = {}) => {
  const iat = Math.floor(clock() / 1000);
  return { iss: ISSUER, aud: AUDIENCE, sub: 'alice', jti: `j-${Math.random()}`, iat, exp: iat + 600, ...overrides };
};

function staticVerifier(keys: JWK[], overrides: Partial<VerifierOptions> = {}) {
  return verifierFor({ issuer: ISSUER, audience: AUDIENCE }, { jwks: { keys }, fetch: noNetwork, clock, ...overrides });
}

describe('verifying with static keys, no network', () => {
  it.each<SigningAlg>(['RS256', 'PS256', 'ES256', 'ES384', 'EdDSA'])(
    'accepts a %s token signed by a configured key',
    async (alg) => {
      const key = await generateSigningKey(alg);
      const verifier = staticVerifier([publicJwk(key)]);
      const { payload, header } = await verifier.verify(await signToken(claims(), key));
      expect(payload.sub).toBe('alice');
      expect(header.kid).toBe(key.kid);
      expect(verifier.stats().jwks).toEqual({ fetches: 0, failures: 0, keys: 1, fetchedAt: clock() });
      expect(verifier.stats().discovery.fetches).toBe(0);
    },
  );

  it('picks the key by kid among several, and refuses an unknown kid at once (nothing to refetch)', async () => {
    const [a, b] = await Promise.all([generateSigningKey('ES256'), generateSigningKey('RS256')]);
    const verifier = staticVerifier([publicJwk(a), publicJwk(b)]);
    await expect(verifier.verify(await signToken(claims(), b))).resolves.toBeDefined();
    const stranger = await generateSigningKey('ES256');
    await refused(verifier.verify(await signToken(claims(), stranger)), 'key_not_found');
  });

  it('refuses an attacker’s signature under a configured kid', async () => {
    const key = await generateSigningKey('RS256');
    const verifier = staticVerifier([publicJwk(key)]);
    const forged = await signToken(claims(), { ...(await attackerKey('RS256')), kid: key.kid });
    await refused(verifier.verify(forged), 'signature_invalid');
  });

  it('refuses a token whose alg does not fit the key named by its kid', async () => {
    const key = await generateSigningKey('RS256');
    const verifier = staticVerifier([{ ...publicJwk(key), alg: 'RS256' }]);
    const { privateKey } = await generateKeyPair('PS256', { extractable: true });
    await refused(verifier.verify(await signToken(claims(), { ...key, alg: 'PS256', privateKey })), 'key_not_found');
  });

  it('accepts a kid-less token with a kid-less key', async () => {
    const key = await generateSigningKey('ES256');
    const { kid: _kid, ...kidless } = publicJwk(key);
    const verifier = staticVerifier([kidless]);
    await expect(verifier.verify(await signToken(claims(), key, { kid: undefined }))).resolves.toBeDefined();
  });

  it('keeps each issuer to its own keys: issuer A’s key cannot sign for issuer B', async () => {
    const [a, b] = await Promise.all([generateSigningKey('ES256'), generateSigningKey('ES256')]);
    const partner = 'https://partner.example/';
    const verifier = closedLater(
      createVerifier({
        fetch: noNetwork,
        clock,
        issuers: [
          { issuer: ISSUER, audience: AUDIENCE, jwks: { keys: [publicJwk(a)] } },
          { issuer: partner, audience: AUDIENCE, jwks: { keys: [publicJwk(b)] } },
        ],
      }),
    );
    await expect(verifier.verify(await signToken(claims(), a))).resolves.toBeDefined();
    await expect(verifier.verify(await signToken(claims({ iss: partner }), b))).resolves.toBeDefined();
    // A's key, with B's kid, claiming B: B's verifier only has B's key.
    await refused(
      verifier.verify(await signToken(claims({ iss: partner }), { ...a, kid: b.kid })),
      'signature_invalid',
    );
    await refused(verifier.verify(await signToken(claims({ iss: partner }), a)), 'key_not_found');
  });

  it('revocation applies as with fetched keys', async () => {
    const key = await generateSigningKey('ES256');
    const verifier = staticVerifier([publicJwk(key)]);
    const token = await signToken(claims(), key);
    await verifier.verify(token);
    await verifier.invalidate(token);
    await refused(verifier.verify(token), 'revoked');
  });

  it('a configured key that cannot be imported is our misconfiguration (500), not the token’s fault', async () => {
    const key = await generateSigningKey('ES256');
    // Well-formed members, but not a point on the curve: only importing it can tell.
    const broken = { ...publicJwk(key), x: 'A'.repeat(43), y: 'A'.repeat(43) };
    const verifier = staticVerifier([broken]);
    const error = await refused(verifier.verify(await signToken(claims(), key)));
    expect(error).toBeInstanceOf(MisconfiguredError);
    expect(error.status).toBe(500);
  });
});

describe('static keys: options are checked at construction', () => {
  let rsa: JWK;
  let ec: JWK;
  let okp: JWK;
  let rsaPrivate: JWK;
  const ready = (async () => {
    const [r, e, o] = await Promise.all([
      generateSigningKey('RS256'),
      generateSigningKey('ES256'),
      generateSigningKey('EdDSA'),
    ]);
    rsaPrivate = r.privateJwk;
    [rsa, ec, okp] = [publicJwk(r), publicJwk(e), publicJwk(o)];
  })();

  const cases: Array<[string, () => unknown, RegExp]> = [
    ['not a JWK Set', () => [rsa], /`jwks` must be a JWK Set/],
    ['no keys', () => ({ keys: [] }), /`jwks.keys` must be a non-empty array/],
    ['an unknown member beside keys', () => ({ keys: [rsa], key: [] }), /unknown option `jwks.key`/],
    ['a private RSA key', () => ({ keys: [rsaPrivate] }), /is a private key \(it has d, p, q, dp, dq, qi\)/],
    ['an EC key with d', () => ({ keys: [{ ...ec, d: 'AAAA' }] }), /is a private key \(it has d\)/],
    ['a symmetric key', () => ({ keys: [{ kty: 'oct', k: 'c2VjcmV0' }] }), /symmetric \(oct\) key.*`secret`/],
    ['the same kid twice', () => ({ keys: [rsa, { ...ec, kid: rsa.kid }] }), /appears twice/],
    ['an empty kid', () => ({ keys: [{ ...rsa, kid: '' }] }), /kid` must be a non-empty string/],
    ['an alg the allowlist lacks', () => ({ keys: [{ ...rsa, alg: 'EdDSA' }] }), /does not fit a RSA key/],
    ['an alg that does not fit the key', () => ({ keys: [{ ...ec, alg: 'RS256' }] }), /does not fit a EC key on P-256/],
    ['an HMAC alg on a key', () => ({ keys: [{ ...rsa, alg: 'HS256' }] }), /does not fit a RSA key/],
    ['an RSA key under 2048 bits', () => ({ keys: [{ ...rsa, n: rsa.n!.slice(0, 171) }] }), /under 2048 bits/],
    ['an RSA key without n', () => ({ keys: [{ kty: 'RSA', e: 'AQAB' }] }), /\.n` is missing or not base64url/],
    ['a member that is not base64url', () => ({ keys: [{ ...ec, x: 'a+b/' }] }), /\.x` is missing or not base64url/],
    ['an encryption key', () => ({ keys: [{ ...rsa, use: 'enc' }] }), /a signing key is 'sig'/],
    ['key_ops without verify', () => ({ keys: [{ ...rsa, key_ops: ['sign'] }] }), /key_ops` must include 'verify'/],
    ['an unknown kty', () => ({ keys: [{ kty: 'AKP', pub: 'AAAA' }] }), /kty` must be RSA, EC or OKP/],
    ['an ECDH curve', () => ({ keys: [{ ...okp, crv: 'X25519' }] }), /crv` must be one of Ed25519, Ed448/],
    ['an unknown EC curve', () => ({ keys: [{ ...ec, crv: 'secp256k1' }] }), /crv` must be one of P-256/],
  ];

  it.each(cases)('%s', async (_name, jwks, message) => {
    await ready;
    expect(() => staticVerifier([], { jwks: jwks() as never })).toThrow(message);
  });

  it('refuses a key whose alg `algorithms` does not allow, and a key without alg that fits none of them', async () => {
    await ready;
    expect(() => staticVerifier([{ ...rsa, alg: 'RS512' }], { algorithms: ['RS256'] })).toThrow(
      '`jwks.keys[0].alg` is RS512, which `algorithms` does not allow',
    );
    const { alg: _alg, ...anyAlg } = ec;
    expect(() => staticVerifier([anyAlg], { algorithms: ['RS256'] })).toThrow(
      '`jwks.keys[0]` (EC on P-256) fits none of `algorithms` (RS256)',
    );
  });

  it('refuses jwks beside jwksUri', async () => {
    await ready;
    expect(() => staticVerifier([rsa], { jwksUri: 'https://idp.example.com/jwks' })).toThrow(
      '`jwks` (keys given) and `jwksUri` (keys fetched) exclude each other',
    );
  });

  it('refuses jwks as a default for every issuer of a multi-issuer verifier', async () => {
    await ready;
    expect(() =>
      createVerifier({ jwks: { keys: [rsa] }, issuers: [{ issuer: ISSUER, audience: AUDIENCE }] } as never),
    ).toThrow(/`jwks` cannot be a default for every issuer/);
  });

  it('names the issuer entry in a multi-issuer configuration', async () => {
    await ready;
    expect(() =>
      createVerifier({ issuers: [{ issuer: ISSUER, audience: AUDIENCE, jwks: { keys: [{ ...ec, d: 'AAAA' }] } }] }),
    ).toThrow('`issuers[0].jwks.keys[0]` is a private key');
  });

  it('uses a copy: changing the configured key afterwards changes nothing', async () => {
    const key = await generateSigningKey('ES256');
    const jwk = publicJwk(key);
    const verifier = staticVerifier([jwk]);
    jwk.kid = 'changed';
    await expect(verifier.verify(await signToken(claims(), key))).resolves.toBeDefined();
  });

  it('does no I/O at construction or verification (the verifier’s fetch throws)', async () => {
    const { publicKey } = await generateKeyPair('ES256', { extractable: true });
    staticVerifier([{ ...(await exportJWK(publicKey)), kid: 'k' }]);
    expect(fetches).toBe(0);
  });
});
