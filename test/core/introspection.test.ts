/**
 * RFC 7662 introspection for opaque access tokens, against oidc-provider's real introspection
 * endpoint (its opaque-api resource issues opaque tokens), plus a stub for answers it won't give.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import express from 'express';
import request from 'supertest';
import { authGuard, createVerifier, IdpUnavailableError, InvalidTokenError, type FetchLike, type Verifier, type VerifierOptions } from '../../src/index.js';
import { sendJson, startStubServer, type StubServer } from '../support/http.js';
import { startIdp, testClock, type EmbeddedIdp } from '../support/idp.js';

let idp: EmbeddedIdp;
const verifiers: Verifier[] = [];
let introspectionCalls = 0;
const countingFetch: FetchLike = (input, init) => {
  if (String(input).endsWith('/token/introspection')) introspectionCalls++;
  return fetch(input, init);
};

function verifierFor(overrides: Partial<VerifierOptions> = {}): Verifier {
  const verifier = createVerifier({
    issuer: idp.issuer,
    audience: idp.opaqueAudience,
    fetch: countingFetch,
    introspection: { clientId: idp.client.clientId, clientSecret: idp.client.clientSecret },
    ...overrides,
  });
  verifiers.push(verifier);
  return verifier;
}

const reason = (promise: Promise<unknown>) =>
  promise.then(
    () => 'accepted',
    (e: unknown) => (e instanceof InvalidTokenError ? e.reason : e instanceof IdpUnavailableError ? 'idp_unavailable' : String(e)),
  );

beforeAll(async () => {
  idp = await startIdp();
});
afterAll(async () => {
  await Promise.all(verifiers.map((v) => v.close()));
  await idp.close();
});

describe('opaque access tokens through the IdP introspection endpoint', () => {
  it('accepts an active opaque token and caches the answer', async () => {
    const verifier = verifierFor();
    const token = await idp.issueAccessToken({ resource: idp.opaqueAudience, scope: 'notes:read' });
    const before = introspectionCalls;
    const result = await verifier.verify(token);
    expect(result).toMatchObject({ source: 'introspection', header: {}, payload: { aud: idp.opaqueAudience, scope: 'notes:read', iss: idp.issuer } });
    expect((result.payload as { active?: unknown }).active).toBeUndefined();
    await verifier.verify(token);
    expect(introspectionCalls - before).toBe(1);
  });

  it('works behind authGuard, with scopes', async () => {
    const verifier = verifierFor();
    const app = express().get('/', authGuard({ verifier, scopes: ['notes:read'] }), (req, res) => res.json({ client: req.auth!.payload.client_id }));
    const token = await idp.issueAccessToken({ resource: idp.opaqueAudience });
    const res = await request(app).get('/').auth(token, { type: 'bearer' });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ client: idp.client.clientId });
  });

  it('re-asks the IdP after maxAge, and refuses a token the IdP revoked meanwhile', async () => {
    const token = await idp.issueAccessToken({ resource: idp.opaqueAudience });
    // The IdP answers with its own (real) iat and exp: the test clock starts at that iat.
    const clock = testClock(((await idp.introspect(token)).iat as number) * 1000);
    const verifier = verifierFor({ clock, introspection: { clientId: idp.client.clientId, clientSecret: idp.client.clientSecret, maxAge: 30 } });
    expect(await reason(verifier.verify(token))).toBe('accepted');
    // Revoked at the IdP by someone else (not through this verifier).
    const res = await fetch(`${idp.issuer}/token/revocation`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`${idp.client.clientId}:${idp.client.clientSecret}`).toString('base64')}`,
      },
      body: new URLSearchParams({ token }),
    });
    expect(res.status).toBe(200);
    expect(await reason(verifier.verify(token))).toBe('accepted'); // still within maxAge
    clock.advance(31_000);
    expect(await reason(verifier.verify(token))).toBe('token_inactive');
  });

  it('revoke() through the verifier: dead at the IdP and locally at once', async () => {
    const verifier = verifierFor({ revocation: { clientId: idp.client.clientId, clientSecret: idp.client.clientSecret } });
    const token = await idp.issueAccessToken({ resource: idp.opaqueAudience });
    await verifier.verify(token);
    expect(await verifier.revoke(token, { tokenTypeHint: 'access_token' })).toEqual({ local: 'denylisted', idp: 'revoked' });
    expect(verifier.stats().revocation.denylisted).toBe(1);
    // Evicted, so the next check asks the IdP, which now says inactive.
    expect(await reason(verifier.verify(token))).toBe('token_inactive');
    expect(await idp.introspect(token)).toEqual({ active: false });
  });

  it('remembers inactive tokens briefly: a replay costs no IdP call', async () => {
    const verifier = verifierFor();
    const before = introspectionCalls;
    expect(await reason(verifier.verify('not-a-real-opaque-token-0123456789'))).toBe('token_inactive');
    expect(await reason(verifier.verify('not-a-real-opaque-token-0123456789'))).toBe('token_inactive');
    expect(introspectionCalls - before).toBe(1);
  });

  it('refuses a refresh token presented as an access token (no matching aud)', async () => {
    const verifier = verifierFor();
    expect(await reason(verifier.verify(await idp.issueRefreshToken()))).toBe('audience_mismatch');
  });

  it('refuses an opaque token issued for another resource', async () => {
    const verifier = verifierFor({ audience: 'http://127.0.0.1/some-other-api' });
    expect(await reason(verifier.verify(await idp.issueAccessToken({ resource: idp.opaqueAudience })))).toBe('audience_mismatch');
  });

  it('still verifies JWTs locally in the default (opaque) mode', async () => {
    const verifier = verifierFor({ audience: idp.audience });
    const before = introspectionCalls;
    expect((await verifier.verify(await idp.issueAccessToken())).source).toBe('jwt');
    expect(introspectionCalls).toBe(before);
  });

  it('answers 503, not 401, when the introspection endpoint is down', async () => {
    const down = await startIdp();
    try {
      const token = await down.issueAccessToken({ resource: down.opaqueAudience });
      const verifier = createVerifier({
        issuer: down.issuer,
        audience: down.opaqueAudience,
        introspection: { clientId: down.client.clientId, clientSecret: down.client.clientSecret, endpoint: `${down.issuer}/token/introspection` },
      });
      verifiers.push(verifier);
      await down.pause();
      expect(await reason(verifier.verify(token))).toBe('idp_unavailable');
    } finally {
      await down.close();
    }
  });

  it('validates its options at construction', () => {
    expect(() => createVerifier({ issuer: idp.issuer, audience: 'a', introspection: {} as never })).toThrow(/introspection.clientId/);
    expect(() =>
      createVerifier({ issuer: idp.issuer, audience: 'a', introspection: { clientId: 'c', authMethod: 'client_secret_basic' } }),
    ).toThrow(/clientSecret/);
    expect(() => createVerifier({ issuer: idp.issuer, audience: 'a', introspection: { clientId: 'c', mode: 'sometimes' as never } })).toThrow(
      /mode/,
    );
  });
});

describe('answers only a stub IdP gives', () => {
  let stub: StubServer;
  let answer: Record<string, unknown> = {};
  beforeAll(async () => {
    stub = await startStubServer((_req, res) => sendJson(res, 200, answer));
  });
  afterAll(() => stub.close());

  const stubVerifier = (overrides: Partial<NonNullable<VerifierOptions['introspection']>> = {}) =>
    verifierFor({
      audience: 'https://api.example',
      introspection: { clientId: 'c', clientSecret: 's', endpoint: `${stub.url}/introspect`, ...overrides },
    });
  const now = () => Math.floor(Date.now() / 1000);

  it.each([
    ['an expired token', { active: true, aud: 'https://api.example', exp: 1 }, 'token_expired'],
    ['another issuer', { active: true, aud: 'https://api.example', iss: 'https://evil.example' }, 'issuer_mismatch'],
    ['no aud', { active: true }, 'audience_mismatch'],
    ['a refresh token type', { active: true, aud: 'https://api.example', token_type: 'refresh_token' }, 'type_mismatch'],
    ['active as a string', { active: 'true', aud: 'https://api.example' }, 'token_inactive'],
    ['a future nbf', { active: true, aud: 'https://api.example', nbf: 9_999_999_999 }, 'token_not_yet_valid'],
  ])('refuses %s', async (_name, body, expected) => {
    answer = body;
    expect(await reason(stubVerifier().verify(`opaque-${Math.random().toString(36).slice(2)}`))).toBe(expected);
  });

  it('accepts a missing aud only when allowed', async () => {
    answer = { active: true, exp: now() + 60, sub: 'alice' };
    expect(await reason(stubVerifier({ allowMissingAudience: true }).verify('opaque-allowed'))).toBe('accepted');
  });

  it("mode 'always' asks the IdP even about JWTs", async () => {
    answer = { active: true, aud: 'https://api.example', exp: now() + 60, sub: 'bob' };
    const before = stub.requests.length;
    const result = await stubVerifier({ mode: 'always' }).verify('eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln');
    expect(result).toMatchObject({ source: 'introspection', payload: { sub: 'bob' } });
    expect(stub.requests.length - before).toBe(1);
    expect(new URLSearchParams(stub.requests.at(-1)!.body).get('token_type_hint')).toBe('access_token');
    expect(stub.requests.at(-1)!.headers.authorization).toMatch(/^Basic /);
  });

  it('refuses opaque tokens with characters a bearer token cannot have', async () => {
    expect(await reason(stubVerifier().verify('bad token with spaces'))).toBe('malformed_token');
  });
});
