import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { exportJWK, SignJWT } from 'jose';
import { IdpUnavailableError, InvalidTokenError } from '../../../src/index.js';
import { closeVerifiers, verifierFor } from '../../support/verifier-for.js';
import {
  attackerKey,
  issuedAt,
  rawToken,
  signToken,
  standardClaims,
  startIdp,
  testClock,
  tokenAt,
  type EmbeddedIdp,
} from '../../support/idp.js';
import { waitFor } from '../../support/wait-for.js';

let idp: EmbeddedIdp;

async function rejection(promise: Promise<unknown>) {
  const error = await promise.then(
    () => {
      throw new Error('expected a rejection, got a verified token');
    },
    (e: unknown) => e,
  );
  return error as InvalidTokenError;
}

beforeAll(async () => {
  idp = await startIdp();
});
afterAll(async () => {
  await closeVerifiers();
  await idp.close();
});

describe('tokens from the real IdP', () => {
  it('verifies a client_credentials JWT access token and returns header and claims', async () => {
    const token = await idp.issueAccessToken({ scope: 'notes:read' });
    const verifier = verifierFor(idp);
    const result = await verifier.verify(token);
    expect(result.token).toBe(token);
    expect(result.header).toMatchObject({ alg: 'RS256', typ: 'at+jwt', kid: idp.keys[0]!.kid });
    expect(result.payload).toMatchObject({
      iss: idp.issuer,
      aud: idp.audience,
      sub: idp.client.clientId,
      scope: 'notes:read',
    });
    expect(Object.isFrozen(result.payload)).toBe(true);
    expect(verifier.stats().discovery.fetches).toBe(1);
    expect(verifier.stats().jwks.fetches).toBe(1);
  });

  it('serves the second verification from the cache, same object, no new fetch', async () => {
    const token = await idp.issueAccessToken();
    const verifier = verifierFor(idp);
    const first = await verifier.verify(token);
    const second = await verifier.verify(token);
    expect(second).toBe(first);
    expect(verifier.peek(token)).toBe(first);
    expect(verifier.stats().cache).toMatchObject({ hits: 2, misses: 1, size: 1 });
    expect(verifier.stats().jwks.fetches).toBe(1);
  });

  it('does not cache when cache is false', async () => {
    const token = await idp.issueAccessToken();
    const verifier = verifierFor(idp, { cache: false });
    await verifier.verify(token);
    await verifier.verify(token);
    expect(verifier.peek(token)).toBeUndefined();
    expect(verifier.stats().cache).toMatchObject({ hits: 0, size: 0 });
  });

  it('coalesces concurrent verifications of one token into one signature check', async () => {
    const token = await idp.issueAccessToken();
    const verifier = verifierFor(idp);
    const results = await Promise.all(Array.from({ length: 20 }, () => verifier.verify(token)));
    expect(new Set(results).size).toBe(1);
    expect(verifier.stats().cache.size).toBe(1);
  });

  it('accepts any configured audience', async () => {
    const token = await idp.issueAccessToken();
    const verifier = verifierFor(idp, { audience: ['https://other.example', idp.audience] });
    await expect(verifier.verify(token)).resolves.toBeDefined();
  });

  it('rejects a token for another audience', async () => {
    const token = await idp.issueAccessToken();
    const error = await rejection(verifierFor(idp, { audience: 'https://other.example' }).verify(token));
    expect(error).toBeInstanceOf(InvalidTokenError);
    expect(error).toMatchObject({ status: 401, code: 'invalid_token', reason: 'audience_mismatch' });
  });

  it('enforces typ when asked (RFC 9068 at+jwt)', async () => {
    const token = await idp.issueAccessToken();
    await expect(verifierFor(idp, { typ: 'at+jwt' }).verify(token)).resolves.toBeDefined();
    const idToken = await signToken(standardClaims(idp), idp.keys[0]!, { typ: 'JWT' });
    expect(await rejection(verifierFor(idp, { typ: 'at+jwt' }).verify(idToken))).toMatchObject({
      reason: 'type_mismatch',
    });
  });
});

describe('claims', () => {
  it('rejects a token from another issuer, even signed with the trusted key', async () => {
    const token = await signToken(standardClaims(idp, { iss: 'https://evil.example' }), idp.keys[0]!);
    expect(await rejection(verifierFor(idp).verify(token))).toMatchObject({ reason: 'issuer_mismatch' });
  });

  it('rejects issuer variants (trailing slash)', async () => {
    const token = await signToken(standardClaims(idp, { iss: `${idp.issuer}/` }), idp.keys[0]!);
    expect(await rejection(verifierFor(idp).verify(token))).toMatchObject({ reason: 'issuer_mismatch' });
  });

  it('rejects an expired token (clock past exp + tolerance) and accepts within tolerance', async () => {
    const token = await idp.issueAccessToken();
    const exp = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()).exp as number;
    const clock = testClock(exp * 1000 + 4_000);
    await expect(verifierFor(idp, { clock }).verify(token)).resolves.toBeDefined();
    const late = testClock(exp * 1000 + 6_000);
    expect(await rejection(verifierFor(idp, { clock: late }).verify(token))).toMatchObject({
      reason: 'token_expired',
      description: 'The access token expired',
    });
  });

  it('stops serving a cached token once it expires', async () => {
    const clock = testClock();
    const now = clock();
    const token = await signToken(standardClaims(idp, { exp: Math.floor(now / 1000) + 60 }, now), idp.keys[0]!);
    const verifier = verifierFor(idp, { clock, clockTolerance: 0 });
    await verifier.verify(token);
    expect(verifier.peek(token)).toBeDefined();
    clock.advance(61_000);
    expect(verifier.peek(token)).toBeUndefined();
    expect(await rejection(verifier.verify(token))).toMatchObject({ reason: 'token_expired' });
  });

  it('caps a cache entry at maxTtl even when exp is far away', async () => {
    const clock = testClock();
    const token = await tokenAt(idp, clock());
    const verifier = verifierFor(idp, { clock, cache: { max: 10, maxTtl: 30 } });
    await verifier.verify(token);
    clock.advance(29_000);
    expect(verifier.peek(token)).toBeDefined();
    clock.advance(2_000);
    expect(verifier.peek(token)).toBeUndefined();
    await expect(verifier.verify(token)).resolves.toBeDefined();
  });

  it('rejects nbf in the future', async () => {
    const token = await signToken(standardClaims(idp, { nbf: Math.floor(Date.now() / 1000) + 300 }), idp.keys[0]!);
    expect(await rejection(verifierFor(idp).verify(token))).toMatchObject({ reason: 'token_not_yet_valid' });
  });

  it('rejects iat in the future', async () => {
    const token = await signToken(standardClaims(idp, { iat: Math.floor(Date.now() / 1000) + 300 }), idp.keys[0]!);
    expect(await rejection(verifierFor(idp).verify(token))).toMatchObject({ reason: 'issued_in_future' });
  });

  it('requires exp by default', async () => {
    const claims = standardClaims(idp);
    delete claims.exp;
    const token = await signToken(claims, idp.keys[0]!);
    expect(await rejection(verifierFor(idp).verify(token))).toMatchObject({ reason: 'claim_missing' });
  });

  it.each([
    ['sub', 42],
    ['jti', { a: 1 }],
    ['iss', ['x']],
    ['exp', '9999999999'],
  ])('rejects a non-string/non-numeric %s claim', async (claim, value) => {
    const token = await signToken(standardClaims(idp, { [claim]: value }), idp.keys[0]!);
    const error = await rejection(verifierFor(idp).verify(token));
    expect(error).toBeInstanceOf(InvalidTokenError);
  });
});

describe('algorithms and keys', () => {
  it.each(['none', 'None', 'NONE', 'nOnE'])('rejects alg %s', async (alg) => {
    const token = rawToken({ alg, typ: 'at+jwt' }, standardClaims(idp));
    expect(await rejection(verifierFor(idp).verify(token))).toMatchObject({ reason: 'algorithm_not_allowed' });
  });

  it('rejects HS256 signed with the IdP public key as secret (key confusion)', async () => {
    const publicJwk = await exportJWK(idp.keys[0]!.privateKey);
    const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...publicOnly } = publicJwk;
    const secret = new TextEncoder().encode(JSON.stringify(publicOnly));
    const token = await new SignJWT(standardClaims(idp))
      .setProtectedHeader({ alg: 'HS256', kid: idp.keys[0]!.kid })
      .sign(secret);
    expect(await rejection(verifierFor(idp).verify(token))).toMatchObject({ reason: 'algorithm_not_allowed' });
    // Even with HMAC opted in, only the configured secret is an HMAC key, never the JWKS key.
    const hmac = verifierFor(idp, { algorithms: ['RS256', 'HS256'], secret: 'a'.repeat(32) });
    expect(await rejection(hmac.verify(token))).toMatchObject({ reason: 'signature_invalid' });
  });

  it('verifies HS256 with the configured secret when explicitly enabled', async () => {
    const secret = 'a-shared-secret-of-at-least-32-bytes!';
    const token = await new SignJWT(standardClaims(idp))
      .setProtectedHeader({ alg: 'HS256' })
      .sign(new TextEncoder().encode(secret));
    await expect(verifierFor(idp, { algorithms: ['HS256'], secret }).verify(token)).resolves.toBeDefined();
    expect(await rejection(verifierFor(idp).verify(token))).toMatchObject({ reason: 'algorithm_not_allowed' });
  });

  it('rejects an algorithm outside the allowlist', async () => {
    const token = await idp.issueAccessToken();
    expect(await rejection(verifierFor(idp, { algorithms: ['ES256'] }).verify(token))).toMatchObject({
      reason: 'algorithm_not_allowed',
    });
  });

  it('rejects a token whose kid is unknown', async () => {
    const attacker = await attackerKey();
    const token = await signToken(standardClaims(idp), { ...attacker, kid: 'no-such-kid' });
    expect(await rejection(verifierFor(idp).verify(token))).toMatchObject({ reason: 'key_not_found' });
  });

  it('never trusts jwk / jku / x5u headers pointing at an attacker key', async () => {
    const attacker = await attackerKey();
    const verifier = verifierFor(idp);
    const withOwnKid = await signToken(standardClaims(idp), attacker, {
      jwk: attacker.publicJwk as never,
      jku: 'http://127.0.0.1:1/jwks',
      x5u: 'http://127.0.0.1:1/cert',
    });
    expect(await rejection(verifier.verify(withOwnKid))).toMatchObject({ reason: 'key_not_found' });
    const withTrustedKid = await signToken(
      standardClaims(idp),
      { ...attacker, kid: idp.keys[0]!.kid },
      { jwk: attacker.publicJwk as never },
    );
    expect(await rejection(verifier.verify(withTrustedKid))).toMatchObject({ reason: 'signature_invalid' });
  });

  it('refuses a payload altered after the genuine token was cached', async () => {
    const token = await idp.issueAccessToken({ scope: 'notes:read' });
    const verifier = verifierFor(idp);
    await verifier.verify(token);
    const [header, payload, signature] = token.split('.');
    const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString());
    const forged = `${header}.${Buffer.from(JSON.stringify({ ...claims, scope: 'notes:read notes:write admin' })).toString('base64url')}.${signature}`;
    expect(await rejection(verifier.verify(forged))).toMatchObject({ reason: 'signature_invalid' });
    expect(verifier.peek(forged)).toBeUndefined();
    expect((await verifier.verify(token)).payload.scope).toBe('notes:read');
  });

  it('refuses five-segment (JWE) tokens before any decryption', async () => {
    const jwe = 'eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZHQ00ifQ.a.b.c.d';
    const verifier = verifierFor(idp);
    expect(await rejection(verifier.verify(jwe))).toMatchObject({ reason: 'encrypted_token' });
    expect(verifier.stats().jwks.fetches).toBe(0);
  });

  it.each(['', 'abc', 'a.b', 'a.b.c.d', '...', 'eyJ.eyJ.sig'])('rejects malformed token %j', async (token) => {
    expect(await rejection(verifierFor(idp).verify(token))).toMatchObject({ code: 'invalid_token' });
  });

  it('rejects overlong tokens without parsing them', async () => {
    const verifier = verifierFor(idp, { maxTokenLength: 100 });
    expect(await rejection(verifier.verify(`${'a'.repeat(60)}.${'b'.repeat(60)}.c`))).toMatchObject({
      reason: 'token_too_long',
    });
  });

  it('never puts the token in error messages', async () => {
    const token = await signToken(standardClaims(idp, { iss: 'https://evil.example' }), idp.keys[0]!);
    const error = await rejection(verifierFor(idp).verify(token));
    expect(error.message).not.toContain(token.split('.')[1]!.slice(0, 20));
    expect(JSON.stringify(error.headers)).not.toContain(token.slice(0, 20));
  });
});

describe('key rotation and JWKS outages', () => {
  it('picks up a rotated key without restart, and evicts cached results once their kid leaves the JWKS', async () => {
    const rotating = await startIdp();
    try {
      const clock = testClock();
      const verifier = verifierFor(idp, { issuer: rotating.issuer, audience: rotating.audience, clock });
      const oldToken = await tokenAt(rotating, clock());
      await verifier.verify(oldToken);

      await rotating.rotateKeys();
      const newToken = await tokenAt(rotating, clock());
      clock.advance(31_000); // past the unknown-kid cooldown
      await expect(verifier.verify(newToken)).resolves.toMatchObject({ header: { kid: rotating.keys[0]!.kid } });
      expect(verifier.peek(oldToken)).toBeDefined(); // old key still published

      await rotating.rotateKeys({ dropOld: true });
      const newest = await tokenAt(rotating, clock());
      clock.advance(31_000);
      await verifier.verify(newest); // unknown kid -> refetch; old keys are gone now
      expect(verifier.peek(oldToken)).toBeUndefined();
      expect(verifier.peek(newToken)).toBeUndefined();
      expect(await rejection(verifier.verify(oldToken))).toMatchObject({ reason: 'key_not_found' });
    } finally {
      await rotating.close();
    }
  });

  it('refetches the JWKS at most once per cooldown for unknown kids, coalescing concurrent misses', async () => {
    const verifier = verifierFor(idp);
    await verifier.verify(await idp.issueAccessToken());
    expect(verifier.stats().jwks.fetches).toBe(1);
    const attacker = await attackerKey();
    const forged = await Promise.all(
      Array.from({ length: 30 }, (_, i) => signToken(standardClaims(idp), { ...attacker, kid: `unknown-${i}` })),
    );
    const errors = await Promise.all(forged.map((t) => rejection(verifier.verify(t))));
    expect(errors.every((e) => e.reason === 'key_not_found')).toBe(true);
    // First fetch happened "now", so the cooldown blocks every refetch.
    expect(verifier.stats().jwks.fetches).toBe(1);
  });

  it('coalesces unknown-kid refetches once the cooldown has passed', async () => {
    const clock = testClock();
    const verifier = verifierFor(idp, { clock });
    await verifier.verify(await tokenAt(idp, clock()));
    clock.advance(31_000);
    const attacker = await attackerKey();
    const forged = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        signToken(standardClaims(idp, {}, clock()), { ...attacker, kid: `unknown-${i}` }),
      ),
    );
    await Promise.all(forged.map((t) => rejection(verifier.verify(t))));
    expect(verifier.stats().jwks.fetches).toBe(2);
  });

  it('keeps verifying with known keys while the JWKS endpoint is down (stale-if-error)', async () => {
    const flaky = await startIdp();
    try {
      const clock = testClock();
      const verifier = verifierFor(idp, { issuer: flaky.issuer, audience: flaky.audience, clock });
      await verifier.verify(await tokenAt(flaky, clock()));
      const second = await tokenAt(flaky, clock());
      const third = await tokenAt(flaky, clock(), { exp: Math.floor(clock() / 1000) + 3600 });
      await flaky.pause();
      await expect(verifier.verify(second)).resolves.toBeDefined();
      clock.advance(11 * 60_000); // past jwksMaxAge: a background refresh fails, old keys stay
      await expect(verifier.verify(third)).resolves.toBeDefined();
      await waitFor(() => verifier.stats().jwks.failures >= 1, 'the background JWKS refresh to fail');

      // A key we do not know cannot be checked while the IdP is down: 503, not 401.
      const attacker = await attackerKey();
      const unknown = await signToken(standardClaims(flaky, {}, clock()), {
        ...attacker,
        kid: 'rotated-in-during-outage',
      });
      clock.advance(31_000);
      const error = await rejection(verifier.verify(unknown));
      expect(error).toBeInstanceOf(IdpUnavailableError);
      expect(error).toMatchObject({ status: 503 });
      expect((error as unknown as IdpUnavailableError).headers['Retry-After']).toMatch(/^\d+$/);
    } finally {
      await flaky.close();
    }
  });

  it('starts while the IdP is down, answers 503, then recovers with no restart', async () => {
    const down = await startIdp();
    try {
      const token = await down.issueAccessToken();
      await down.pause();
      const clock = testClock(issuedAt(token));
      const verifier = verifierFor(idp, { issuer: down.issuer, audience: down.audience, clock });
      const error = await rejection(verifier.verify(token));
      expect(error).toBeInstanceOf(IdpUnavailableError);
      // Backed off: an immediate retry does not hit the IdP again.
      const fetchesBefore = verifier.stats().discovery.fetches;
      await rejection(verifier.verify(token));
      expect(verifier.stats().discovery.fetches).toBe(fetchesBefore);
      await down.resume();
      clock.advance(60_000);
      await expect(verifier.verify(token)).resolves.toBeDefined();
    } finally {
      await down.close();
    }
  });
});
