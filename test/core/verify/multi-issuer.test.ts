/**
 * Several issuers in one verifier: two real IdPs (oidc-provider), each with its own keys,
 * audience and revocation settings. The security property: a token is only ever checked with the
 * keys of the issuer it names, and an issuer's keys never vouch for another issuer's tokens.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import express from 'express';
import { SignJWT } from 'jose';
import request from 'supertest';
import { authGuard, createVerifier, InvalidTokenError, type FetchLike } from '../../../src/index.js';
import { signToken, standardClaims, startIdp, testClock, type EmbeddedIdp } from '../../support/idp.js';

let east: EmbeddedIdp;
let west: EmbeddedIdp;
const jwksFetches: string[] = [];
const trackingFetch: FetchLike = (input, init) => {
  if (String(input).includes('/jwks')) jwksFetches.push(new URL(String(input)).origin);
  return fetch(input, init);
};

beforeAll(async () => {
  [east, west] = await Promise.all([startIdp(), startIdp({ alg: 'ES256' })]);
});
afterAll(async () => {
  await Promise.all([east.close(), west.close()]);
});

function multi() {
  return createVerifier({
    fetch: trackingFetch,
    issuers: [
      {
        issuer: east.issuer,
        audience: east.audience,
        revocation: { clientId: east.client.clientId, clientSecret: east.client.clientSecret },
      },
      { issuer: west.issuer, audience: west.audience, algorithms: ['ES256'] },
    ],
  });
}

const reason = (p: Promise<unknown>) =>
  p.then(
    () => 'accepted',
    (e: unknown) => (e instanceof InvalidTokenError ? e.reason : String(e)),
  );

describe('createVerifier({ issuers })', () => {
  it("verifies each issuer's tokens with that issuer's own keys and audience", async () => {
    const verifier = multi();
    try {
      const [eastToken, westToken] = await Promise.all([east.issueAccessToken(), west.issueAccessToken()]);
      jwksFetches.length = 0;
      expect((await verifier.verify(eastToken)).payload.iss).toBe(east.issuer);
      expect(jwksFetches).toEqual([east.issuer]); // west's keys not even fetched
      expect((await verifier.verify(westToken)).payload.iss).toBe(west.issuer);
      expect(verifier.issuers).toEqual([east.issuer, west.issuer]);
      expect(verifier.stats().issuers[east.issuer]!.cache.size).toBe(1);
    } finally {
      await verifier.close();
    }
  });

  it("never lets one issuer's key vouch for a token naming the other issuer", async () => {
    const verifier = multi();
    try {
      // Signed by east's genuine key, but claiming to be from west: routed to west, whose keys refuse it.
      const crossSigned = await signToken(
        standardClaims(west, { iss: west.issuer, aud: west.audience }),
        east.keys[0]!,
      );
      expect(await reason(verifier.verify(crossSigned))).toBe('algorithm_not_allowed'); // west accepts ES256 only
      const crossSignedSameKid = await signToken(standardClaims(west), { ...east.keys[0]!, kid: west.keys[0]!.kid });
      expect(['algorithm_not_allowed', 'key_not_found', 'signature_invalid']).toContain(
        await reason(verifier.verify(crossSignedSameKid)),
      );
      // West's audience is not east's: a west token re-labelled as east is refused by east's checks.
      const westForEast = await signToken(standardClaims(east, { aud: west.audience }), east.keys[0]!);
      expect(await reason(verifier.verify(westForEast))).toBe('audience_mismatch');
    } finally {
      await verifier.close();
    }
  });

  it('refuses a token from an issuer not listed, without fetching any keys', async () => {
    const verifier = multi();
    try {
      jwksFetches.length = 0;
      const stranger = await signToken(standardClaims(east, { iss: 'https://stranger.example' }), east.keys[0]!);
      expect(await reason(verifier.verify(stranger))).toBe('issuer_mismatch');
      expect(await reason(verifier.verify('not.a.jwt'))).toBe('issuer_mismatch');
      expect(jwksFetches).toEqual([]);
    } finally {
      await verifier.close();
    }
  });

  it('revokes through the right issuer and scopes cutoffs per issuer', async () => {
    const verifier = multi();
    try {
      const eastToken = await east.issueAccessToken();
      expect(await verifier.revoke(eastToken)).toEqual({
        local: 'denylisted',
        store: 'published',
        idp: 'not_revocable',
      });
      expect(await reason(verifier.verify(eastToken))).toBe('revoked');

      const now = Math.floor(Date.now() / 1000) - 5;
      const eastAlice = await signToken(standardClaims(east, { sub: 'alice', iat: now }), east.keys[0]!);
      const westAlice = await signToken(standardClaims(west, { sub: 'alice', iat: now }), west.keys[0]!);
      await verifier.invalidateSubject('alice', { issuer: west.issuer });
      expect(await reason(verifier.verify(westAlice))).toBe('revoked');
      expect(await reason(verifier.verify(eastAlice))).toBe('accepted'); // another IdP's "alice"
      await verifier.invalidateSubject('alice');
      expect(await reason(verifier.verify(eastAlice))).toBe('revoked');
      await expect(verifier.invalidateAll({ issuer: 'https://stranger.example' })).rejects.toThrow(TypeError);
    } finally {
      await verifier.close();
    }
  });

  it('revoke(): a JWT goes to the issuer it names, an opaque token only where `issuer` says, never a guess', async () => {
    const verifier = createVerifier({
      issuers: [east, west].map((idp) => ({
        issuer: idp.issuer,
        audience: idp.audience,
        revocation: { clientId: idp.client.clientId, clientSecret: idp.client.clientSecret },
      })),
    });
    try {
      const refreshToken = await west.issueRefreshToken();
      expect(await verifier.revoke(refreshToken)).toEqual({ local: 'not_ours', store: 'none', idp: 'unknown_issuer' });
      expect(await verifier.revoke(refreshToken, { onlyIfOurs: true })).toEqual({
        local: 'not_ours',
        store: 'none',
        idp: 'skipped',
      });
      expect(await west.introspect(refreshToken)).toMatchObject({ active: true });
      expect(await verifier.revoke(refreshToken, { issuer: west.issuer })).toMatchObject({
        local: 'not_ours',
        idp: 'revoked',
      });
      expect(await west.introspect(refreshToken)).toEqual({ active: false });
      // `issuer` does not override the issuer a JWT names.
      const eastToken = await east.issueAccessToken();
      expect(await verifier.revoke(eastToken, { issuer: west.issuer })).toMatchObject({ local: 'denylisted' });
      expect(await reason(verifier.verify(eastToken))).toBe('revoked');
      await expect(verifier.revoke(refreshToken, { issuer: 'https://stranger.example' })).rejects.toThrow(TypeError);
    } finally {
      await verifier.close();
    }
  });

  it('works behind authGuard', async () => {
    const verifier = multi();
    try {
      const app = express().get('/', authGuard({ verifier }), (req, res) => res.json({ iss: req.auth!.payload.iss }));
      for (const idp of [east, west]) {
        const res = await request(app)
          .get('/')
          .auth(await idp.issueAccessToken(), { type: 'bearer' });
        expect(res.body).toEqual({ iss: idp.issuer });
      }
    } finally {
      await verifier.close();
    }
  });

  it('validates the issuers list', () => {
    expect(() => createVerifier({ issuers: [] })).toThrow(/non-empty/);
    expect(() =>
      createVerifier({
        issuers: [
          { issuer: east.issuer, audience: 'a' },
          { issuer: east.issuer, audience: 'b' },
        ],
      }),
    ).toThrow(/twice/);
    expect(() => createVerifier({ issuers: [{ issuer: 'ftp://x', audience: 'a' }] })).toThrow(/https/);
  });
});

describe('HMAC (shared-secret) issuers', () => {
  const A = 'https://idp-a.example/';
  const B = 'https://idp-b.example/';
  const SECRET_A = 'issuer A signs with this secret, 32 bytes+';
  const SECRET_B = 'issuer B signs with this secret, 32 bytes+';
  const clock = testClock();
  const hmac = (issuer: string, secret: string) =>
    new SignJWT({ sub: 'alice', jti: `${issuer}-jti` })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer(issuer)
      .setAudience('api')
      .setIssuedAt(Math.floor(clock() / 1000))
      .setExpirationTime(Math.floor(clock() / 1000) + 300)
      .sign(new TextEncoder().encode(secret));

  it('refuses a top-level secret: it would let one issuer sign tokens that name another', () => {
    // Before: accepted, and a token naming B, signed by A with the one secret, was admitted as B's.
    const issuers = [
      { issuer: A, audience: 'api' },
      { issuer: B, audience: 'api' },
    ];
    const message =
      'revocable-jwt: `secret` cannot be a default for every issuer in createVerifier: give each entry that uses ' +
      "HMAC its own secret, e.g. issuers: [{ issuer, audience, algorithms: ['HS256'], secret }, ...]";
    expect(() => createVerifier({ algorithms: ['HS256'], secret: SECRET_A, issuers } as never)).toThrow(message);
    expect(() => createVerifier({ secret: new TextEncoder().encode(SECRET_A), issuers } as never)).toThrow(TypeError);
    expect(() => authGuard({ algorithms: ['HS256'], secret: SECRET_A, issuers } as never)).toThrow(
      /`secret` cannot be a default for every issuer in authGuard/,
    );
  });

  it('refuses the same secret in two entries, as a string or as its bytes', () => {
    for (const second of [SECRET_A, new TextEncoder().encode(SECRET_A)]) {
      expect(() =>
        createVerifier({
          algorithms: ['HS256'],
          issuers: [
            { issuer: A, audience: 'api', secret: SECRET_A },
            { issuer: 'https://idp-c.example/', audience: 'api', algorithms: ['RS256'] },
            { issuer: B, audience: 'api', secret: second },
          ],
        }),
      ).toThrow(
        'revocable-jwt: issuers[0] and issuers[2] have the same `secret` in createVerifier: either could sign ' +
          "tokens naming the other; give each issuer's entry its own secret",
      );
    }
  });

  it("with a secret per entry, A's secret never vouches for a token naming B", async () => {
    const verifier = createVerifier({
      clock,
      algorithms: ['HS256'],
      issuers: [
        { issuer: A, audience: 'api', secret: SECRET_A },
        { issuer: B, audience: 'api', secret: SECRET_B },
      ],
    });
    try {
      expect(await reason(verifier.verify(await hmac(B, SECRET_A)))).toBe('signature_invalid');
      expect(await reason(verifier.verify(await hmac(A, SECRET_A)))).toBe('accepted');
      expect(await reason(verifier.verify(await hmac(B, SECRET_B)))).toBe('accepted');
    } finally {
      await verifier.close();
    }
  });
});
