/**
 * A miss that needs no I/O (its key imported before, node:crypto, no introspection or status
 * list) is answered without a promise, as a hit is. These tests hold the synchronous answers to
 * what the asynchronous path gives: the same acceptances, the same refusals (revocation first of
 * all), reported once, and `verify()` still a promise whatever happens.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { exportJWK, generateKeyPair, type JWTPayload, SignJWT } from 'jose';
import {
  type Authentication,
  createAuthenticator,
  createVerifier,
  type Verifier,
  type VerifierOptions,
} from '../../../src/index.js';
import { testClock } from '../../support/idp.js';
import { closedLater, closeVerifiers } from '../../support/verifier-for.js';

const ISSUER = 'https://idp.example/';
const clock = testClock();
const { publicKey, privateKey } = await generateKeyPair('RS256', { extractable: true });
const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
const other = await generateKeyPair('RS256');

let serial = 0;
function token(claims: JWTPayload = {}, key = privateKey): Promise<string> {
  const now = Math.floor(clock() / 1000);
  return new SignJWT({ sub: 'alice', jti: `jti-${++serial}`, ...claims })
    .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
    .setIssuer(typeof claims.iss === 'string' ? claims.iss : ISSUER)
    .setAudience('api')
    .setIssuedAt(now)
    .setExpirationTime(typeof claims.exp === 'number' ? claims.exp : now + 300)
    .sign(key);
}

/** Counts the JWKS fetches, so a test can tell a promise that waited for keys from one that did not. */
let fetches = 0;
const fetch = async () => {
  fetches += 1;
  return Response.json({ keys: [jwk] });
};

const keySources: Array<[string, () => Partial<VerifierOptions>]> = [
  ['a fetched JWKS', () => ({ jwksUri: 'https://idp.example/jwks', fetch })],
  ['configured keys (`jwks`)', () => ({ jwks: { keys: [jwk] } })],
];

function verifierWith(keys: Partial<VerifierOptions>): Verifier {
  return closedLater(createVerifier({ issuer: ISSUER, audience: 'api', clock, ...keys }));
}

/** ISSUER and another, both with the configured key: a several-issuer verifier. */
function twoIssuers(): Verifier {
  return closedLater(
    createVerifier({
      clock,
      issuers: [
        { issuer: ISSUER, audience: 'api', jwks: { keys: [jwk] } },
        { issuer: 'https://other.example/', audience: 'api', jwks: { keys: [jwk] } },
      ],
    }),
  );
}

const request = (jwt: string) => ({ method: 'GET', url: '/', headers: { authorization: `Bearer ${jwt}` } });
const isPromise = (value: unknown): value is Promise<unknown> => value instanceof Promise;

afterEach(closeVerifiers);

describe.each(keySources)('with %s', (_label, keys) => {
  it('the first token waits for its key; a new token under the same key is answered at once', async () => {
    const verifier = verifierWith(keys());
    const authenticate = createAuthenticator({ verifier });
    const fetchesBefore = fetches;
    const first = authenticate(request(await token()));
    expect(isPromise(first)).toBe(true);
    await expect(first).resolves.toMatchObject({ ok: true, auth: { payload: { sub: 'alice' } } });

    const second = authenticate(request(await token({ sub: 'bob' })));
    expect(isPromise(second)).toBe(false);
    expect(second).toMatchObject({ ok: true, auth: { payload: { sub: 'bob' } } });
    // It was a miss (verified, not served from the cache), with the key fetched for the first token.
    expect(verifier.stats().cache).toMatchObject({ misses: 2, size: 2 });
    expect(fetches - fetchesBefore).toBe(verifier.stats().jwks.fetches);
    expect(verifier.stats().jwks.fetches).toBeLessThanOrEqual(1);
  });

  it('a forged or expired token is refused at once, and reported once', async () => {
    const verifier = verifierWith(keys());
    const authenticate = createAuthenticator({ verifier });
    await authenticate(request(await token()));
    const reasons: string[] = [];
    verifier.on('rejected', ({ reason }) => reasons.push(reason));

    const forged = authenticate(request(await token({}, other.privateKey)));
    expect(isPromise(forged)).toBe(false);
    expect(forged).toMatchObject({ ok: false, status: 401 });

    const expired = authenticate(request(await token({ exp: Math.floor(clock() / 1000) - 120 })));
    expect(expired).toMatchObject({ ok: false, status: 401 });
    expect(reasons).toEqual(['signature_invalid', 'token_expired']);
  });

  it('a revoked token is refused on the synchronous path too, cached or not', async () => {
    const verifier = verifierWith({ ...keys(), cache: false });
    const authenticate = createAuthenticator({ verifier });
    await authenticate(request(await token()));
    const jwt = await token({ sub: 'carol' });
    expect(authenticate(request(jwt))).toMatchObject({ ok: true });
    await verifier.invalidate(jwt);
    // Nothing cached (cache: false): the signature is checked again, synchronously, then the denylist.
    const answer = authenticate(request(jwt));
    expect(isPromise(answer)).toBe(false);
    expect((answer as Authentication & { ok: false }).error).toMatchObject({ reason: 'revoked' });
    await expect(verifier.verify(jwt)).rejects.toMatchObject({ reason: 'revoked' });
    await verifier.invalidateSubject('alice');
    const later = await token();
    expect(authenticate(request(later))).toMatchObject({ ok: false, status: 401 });
  });

  it('verify() answers with a promise whatever the outcome, and never throws', async () => {
    const verifier = verifierWith(keys());
    await verifier.verify(await token());
    const good = verifier.verify(await token());
    const forged = verifier.verify(await token({}, other.privateKey));
    const malformed = verifier.verify('not a token');
    const notAString = verifier.verify(42 as unknown as string);
    for (const outcome of [good, forged, malformed, notAString]) expect(isPromise(outcome)).toBe(true);
    await expect(good).resolves.toMatchObject({ payload: { sub: 'alice' } });
    await expect(forged).rejects.toMatchObject({ reason: 'signature_invalid' });
    await expect(malformed).rejects.toMatchObject({ reason: 'malformed_token' });
    await expect(notAString).rejects.toMatchObject({ reason: 'malformed_token' });
    await verifier.close();
    const closed = verifier.verify(await token());
    expect(isPromise(closed)).toBe(true);
    await expect(closed).rejects.toMatchObject({ reason: 'verifier_closed' });
  });
});

it.each([
  ['one issuer', () => verifierWith({ jwks: { keys: [jwk] } })],
  ['several issuers', twoIssuers],
])('%s: peek() of something that is not a string finds nothing, and throws nothing', async (_label, make) => {
  const verifier = make();
  await verifier.verify(await token());
  for (const value of [undefined, null, 42, {}, ['a.b.c']])
    expect(verifier.peek(value as unknown as string)).toBeUndefined();
});

describe('several issuers', () => {
  it('a miss is answered at once by the issuer the token names, and refused at once for another', async () => {
    const verifier = twoIssuers();
    const authenticate = createAuthenticator({ verifier });
    await authenticate(request(await token()));
    expect(authenticate(request(await token({ sub: 'dave' })))).toMatchObject({
      ok: true,
      auth: { payload: { sub: 'dave', iss: ISSUER } },
    });
    const unknown = authenticate(request(await token({ iss: 'https://elsewhere.example/' })));
    expect(isPromise(unknown)).toBe(false);
    expect(unknown).toMatchObject({ ok: false, status: 401 });
  });

  it('verify() of something that is not a string refuses it as malformed (401), as one issuer does', async () => {
    const verifier = twoIssuers();
    // From a header or a body field that was absent: the client's doing, not a server error.
    for (const notAString of [undefined, null, 42, {}]) {
      await expect(verifier.verify(notAString as unknown as string)).rejects.toMatchObject({
        reason: 'malformed_token',
        status: 401,
      });
    }
  });
});
