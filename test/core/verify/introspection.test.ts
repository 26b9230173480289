/**
 * RFC 7662 introspection for opaque access tokens, against oidc-provider's real introspection
 * endpoint (its opaque-api resource issues opaque tokens), plus a stub for answers it won't give.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import express from 'express';
import request from 'supertest';
import { randomUUID } from 'node:crypto';
import {
  authGuard,
  createMemoryStore,
  createRedisStore,
  createVerifier,
  IdpUnavailableError,
  InvalidTokenError,
  MisconfiguredError,
  type FetchLike,
  type Verifier,
  type VerifierOptions,
} from '../../../src/index.js';
import { sendJson, startStubServer, type StubServer } from '../../support/http.js';
import { startIdp, testClock, type EmbeddedIdp } from '../../support/idp.js';
import { b64, basicEnc, receivedCredentials, spellings } from '../../support/spellings.js';
import { REDIS_URL } from '../../support/redis-server.js';
import { closeVerifiers, verifierFor } from '../../support/verifier-for.js';
import { waitFor } from '../../support/wait-for.js';

let idp: EmbeddedIdp;
let introspectionCalls = 0;
const countingFetch: FetchLike = (input, init) => {
  if (String(input).endsWith('/token/introspection')) introspectionCalls++;
  return fetch(input, init);
};

/** A verifier for the embedded IdP's opaque tokens: introspection at the IdP, its calls counted. */
function introspectingVerifier(overrides: Partial<VerifierOptions> = {}): Verifier {
  return verifierFor(
    { issuer: idp.issuer, audience: idp.opaqueAudience },
    {
      fetch: countingFetch,
      introspection: { clientId: idp.client.clientId, clientSecret: idp.client.clientSecret },
      ...overrides,
    },
  );
}

const reason = (promise: Promise<unknown>) =>
  promise.then(
    () => 'accepted',
    (e: unknown) =>
      e instanceof InvalidTokenError ? e.reason : e instanceof IdpUnavailableError ? 'idp_unavailable' : String(e),
  );

beforeAll(async () => {
  idp = await startIdp();
});
afterAll(async () => {
  await closeVerifiers();
  await idp.close();
});

describe('opaque access tokens through the IdP introspection endpoint', () => {
  it('accepts an active opaque token and caches the answer', async () => {
    const verifier = introspectingVerifier();
    const token = await idp.issueAccessToken({ resource: idp.opaqueAudience, scope: 'notes:read' });
    const before = introspectionCalls;
    const result = await verifier.verify(token);
    expect(result).toMatchObject({
      source: 'introspection',
      header: {},
      payload: { aud: idp.opaqueAudience, scope: 'notes:read', iss: idp.issuer },
    });
    expect((result.payload as { active?: unknown }).active).toBeUndefined();
    await verifier.verify(token);
    expect(introspectionCalls - before).toBe(1);
  });

  it('works behind authGuard, with scopes', async () => {
    const verifier = introspectingVerifier();
    const app = express().get('/', authGuard({ verifier, scopes: ['notes:read'] }), (req, res) =>
      res.json({ client: req.auth!.payload.client_id }),
    );
    const token = await idp.issueAccessToken({ resource: idp.opaqueAudience });
    const res = await request(app).get('/').auth(token, { type: 'bearer' });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ client: idp.client.clientId });
  });

  it('re-asks the IdP after maxAge, and refuses a token the IdP revoked meanwhile', async () => {
    const token = await idp.issueAccessToken({ resource: idp.opaqueAudience });
    // The IdP answers with its own (real) iat and exp: the test clock starts at that iat.
    const clock = testClock(((await idp.introspect(token)).iat as number) * 1000);
    const verifier = introspectingVerifier({
      clock,
      introspection: { clientId: idp.client.clientId, clientSecret: idp.client.clientSecret, maxAge: 30 },
    });
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
    const verifier = introspectingVerifier({
      revocation: { clientId: idp.client.clientId, clientSecret: idp.client.clientSecret },
    });
    const token = await idp.issueAccessToken({ resource: idp.opaqueAudience });
    await verifier.verify(token);
    expect(await verifier.revoke(token, { tokenTypeHint: 'access_token' })).toEqual({
      local: 'denylisted',
      store: 'published',
      idp: 'revoked',
    });
    expect(verifier.stats().revocation.denylisted).toBe(1);
    // Evicted and denylisted: the next check is refused without asking the IdP (which says inactive too).
    const calls = introspectionCalls;
    expect(await reason(verifier.verify(token))).toBe('revoked');
    expect(introspectionCalls).toBe(calls);
    expect(await idp.introspect(token)).toEqual({ active: false });
  });

  it('remembers inactive tokens briefly: a replay costs no IdP call', async () => {
    const verifier = introspectingVerifier();
    const before = introspectionCalls;
    expect(await reason(verifier.verify('not-a-real-opaque-token-0123456789'))).toBe('token_inactive');
    expect(await reason(verifier.verify('not-a-real-opaque-token-0123456789'))).toBe('token_inactive');
    expect(introspectionCalls - before).toBe(1);
  });

  it('refuses a refresh token presented as an access token (no matching aud)', async () => {
    const verifier = introspectingVerifier();
    expect(await reason(verifier.verify(await idp.issueRefreshToken()))).toBe('audience_mismatch');
  });

  it('refuses an opaque token issued for another resource', async () => {
    const verifier = introspectingVerifier({ audience: 'http://127.0.0.1/some-other-api' });
    expect(await reason(verifier.verify(await idp.issueAccessToken({ resource: idp.opaqueAudience })))).toBe(
      'audience_mismatch',
    );
  });

  it('still verifies JWTs locally in the default (opaque) mode', async () => {
    const verifier = introspectingVerifier({ audience: idp.audience });
    const before = introspectionCalls;
    expect((await verifier.verify(await idp.issueAccessToken())).source).toBe('jwt');
    expect(introspectionCalls).toBe(before);
  });

  it('answers 503, not 401, when the introspection endpoint is down', async () => {
    const down = await startIdp();
    try {
      const token = await down.issueAccessToken({ resource: down.opaqueAudience });
      const verifier = verifierFor(
        { issuer: down.issuer, audience: down.opaqueAudience },
        {
          introspection: {
            clientId: down.client.clientId,
            clientSecret: down.client.clientSecret,
            endpoint: `${down.issuer}/token/introspection`,
          },
        },
      );
      await down.pause();
      expect(await reason(verifier.verify(token))).toBe('idp_unavailable');
    } finally {
      await down.close();
    }
  });

  it('validates its options at construction', () => {
    expect(() => createVerifier({ issuer: idp.issuer, audience: 'a', introspection: {} as never })).toThrow(
      /introspection.clientId/,
    );
    expect(() =>
      createVerifier({
        issuer: idp.issuer,
        audience: 'a',
        introspection: { clientId: 'c', authMethod: 'client_secret_basic' },
      }),
    ).toThrow(/clientSecret/);
    expect(() =>
      createVerifier({
        issuer: idp.issuer,
        audience: 'a',
        introspection: { clientId: 'c', mode: 'sometimes' as never },
      }),
    ).toThrow(/mode/);
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
    introspectingVerifier({
      audience: 'https://api.example',
      introspection: { clientId: 'c', clientSecret: 's', endpoint: `${stub.url}/introspect`, ...overrides },
    });
  const now = () => Math.floor(Date.now() / 1000);

  it.each([
    ['an expired token', { active: true, aud: 'https://api.example', exp: 1 }, 'token_expired'],
    ['another issuer', { active: true, aud: 'https://api.example', iss: 'https://evil.example' }, 'issuer_mismatch'],
    ['no aud', { active: true }, 'audience_mismatch'],
    [
      'a refresh token type',
      { active: true, aud: 'https://api.example', token_type: 'refresh_token' },
      'type_mismatch',
    ],
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

  it('an exp-less opaque token lives iat + maxTokenLifetime, and its revocation (IdP down) lasts that long', async () => {
    const dead = await startStubServer((_req, res) => void res.end());
    await dead.close();
    const clock = testClock();
    // No exp: the IdP may say active for ever; iat + maxTokenLifetime (24 h) bounds it here.
    answer = { active: true, aud: 'https://api.example', sub: 'carol', iat: Math.floor(clock() / 1000) };
    const store = createMemoryStore({ clock });
    const options = {
      clock,
      store,
      audience: 'https://api.example',
      introspection: { clientId: 'c', clientSecret: 's', endpoint: `${stub.url}/introspect` },
    };
    const a = introspectingVerifier(options);
    const b = introspectingVerifier({
      ...options,
      revocation: { clientId: 'c', clientSecret: 's', endpoint: `${dead.url}/revoke`, retryInterval: 3_600 },
    });
    const token = `opaque-${Math.random().toString(36).slice(2)}`;
    expect(await reason(a.verify(token))).toBe('accepted');
    expect(await b.revoke(token)).toMatchObject({ local: 'denylisted', idp: 'queued' });
    clock.advance(23 * 3_600_000);
    expect(await reason(a.verify(token))).toBe('revoked'); // A asks again, the IdP still says active
    clock.advance(2 * 3_600_000); // past iat + maxTokenLifetime: refused as expired, whatever the IdP says
    expect(await reason(a.verify(token))).toBe('token_expired');
    expect(b.stats().revocation.outbox.pending).toBe(1);
  });

  it('refuses opaque tokens with characters a bearer token cannot have', async () => {
    expect(await reason(stubVerifier().verify('bad token with spaces'))).toBe('malformed_token');
  });
});

describe('one revocation identity per opaque token, on every instance', () => {
  const revocation = () => ({ clientId: idp.client.clientId, clientSecret: idp.client.clientSecret });

  it('revoke() on instance B makes instance A, holding a cached answer, refuse the token', async () => {
    const store = createMemoryStore();
    const a = introspectingVerifier({ store });
    const b = introspectingVerifier({ store, revocation: revocation() });
    const token = await idp.issueAccessToken({ resource: idp.opaqueAudience });
    expect(await reason(a.verify(token))).toBe('accepted'); // A caches the IdP's answer (maxAge 60 s)
    // B never saw the token: the IdP's answer proves it is ours, the string alone gives its key.
    expect(await b.revoke(token, { tokenTypeHint: 'access_token' })).toMatchObject({
      local: 'denylisted',
      idp: 'revoked',
    });
    expect(await reason(a.verify(token))).toBe('revoked');
    expect(await reason(b.verify(token))).toBe('revoked'); // B's miss finds the string's key denylisted: no IdP call
    expect(await idp.introspect(token)).toEqual({ active: false });
  });

  it('invalidate() on instance B (local only, the IdP still says active) makes A refuse it', async () => {
    const store = createMemoryStore();
    const [a, b] = [introspectingVerifier({ store }), introspectingVerifier({ store })];
    const token = await idp.issueAccessToken({ resource: idp.opaqueAudience });
    expect(await reason(a.verify(token))).toBe('accepted');
    await b.invalidate(token);
    expect(await reason(a.verify(token))).toBe('revoked');
    expect(await reason(introspectingVerifier({ store }).verify(token))).toBe('revoked'); // a third, fresh instance asks the IdP, then refuses
    expect(await idp.introspect(token)).toMatchObject({ active: true });
  });

  it('revoke() of an opaque token while the introspection endpoint is down is unverifiable, not "not ours"', async () => {
    const dead = await startStubServer((_req, res) => void res.end());
    await dead.close();
    const b = introspectingVerifier({
      introspection: {
        clientId: idp.client.clientId,
        clientSecret: idp.client.clientSecret,
        endpoint: `${dead.url}/introspect`,
      },
      revocation: revocation(),
    });
    const token = await idp.issueAccessToken({ resource: idp.opaqueAudience });
    // The route turns this into a 503 (try again), never a 200 or a 401 for a token that may be ours.
    expect(await b.revoke(token, { tokenTypeHint: 'access_token' })).toMatchObject({
      local: 'unverifiable',
      store: 'none',
    });
    await expect(b.invalidate(token)).rejects.toThrow(IdpUnavailableError);
  });

  it('denylists nothing for an opaque string the IdP does not call ours (garbage, inactive, a refresh token)', async () => {
    const store = createMemoryStore();
    const b = introspectingVerifier({ store, revocation: revocation() });
    for (const token of ['garbage-opaque-token-0123456789', await idp.issueRefreshToken()]) {
      expect(await b.revoke(token)).toMatchObject({ local: 'not_ours', idp: 'revoked' });
    }
    await expect(b.invalidate('garbage-opaque-token-9876543210')).rejects.toThrow(InvalidTokenError);
    expect(b.stats().revocation.denylisted).toBe(0);
  });

  it('with Redis: revoke() on one instance reaches another instance that holds a cached answer', async () => {
    const prefix = `rjwt-identity:${randomUUID()}:`;
    const stores = [
      createRedisStore({ url: REDIS_URL, keyPrefix: prefix }),
      createRedisStore({ url: REDIS_URL, keyPrefix: prefix }),
    ];
    const a = introspectingVerifier({ store: stores[0] });
    const b = introspectingVerifier({ store: stores[1], revocation: revocation() });
    try {
      const token = await idp.issueAccessToken({ resource: idp.opaqueAudience });
      expect(await reason(a.verify(token))).toBe('accepted');
      expect(await b.revoke(token)).toMatchObject({ local: 'denylisted', idp: 'revoked' });
      // Crossing Redis pub/sub takes real time no injected clock can replace.
      await waitFor(
        async () => (await reason(a.verify(token))) === 'revoked',
        'instance A to refuse the token revoked on B',
      );
    } finally {
      await Promise.all([a.close(), b.close()]);
      await Promise.all(stores.map((s) => s.close()));
    }
  });
});

describe("mode 'always': one identity whatever path verified the JWT", () => {
  let stub: StubServer;
  beforeAll(async () => {
    // An IdP that vouches for our JWTs by introspection, without echoing their jti.
    stub = await startStubServer((_req, res) =>
      sendJson(res, 200, { active: true, aud: idp.audience, sub: 'alice', exp: Math.floor(Date.now() / 1000) + 600 }),
    );
  });
  afterAll(() => stub.close());

  const always = (store: VerifierOptions['store']) =>
    introspectingVerifier({
      store,
      audience: idp.audience,
      introspection: { clientId: 'c', clientSecret: 's', endpoint: `${stub.url}/introspect`, mode: 'always' },
    });

  it('invalidate(token) then verify(token): revoked, on the same instance and on a second one', async () => {
    const store = createMemoryStore();
    const [a, b] = [always(store), always(store)];
    const token = await idp.issueAccessToken(); // a JWT with a jti
    await a.invalidate(token);
    expect(await reason(a.verify(token))).toBe('revoked');
    expect(await reason(b.verify(token))).toBe('revoked');
  });

  it('a JWT invalidated by an instance that checks signatures is refused by one that introspects, and back', async () => {
    const store = createMemoryStore();
    const introspecting = always(store);
    const signatures = introspectingVerifier({ store, audience: idp.audience, introspection: undefined });
    const first = await idp.issueAccessToken();
    expect((await introspecting.verify(first)).source).toBe('introspection'); // cached with its keys
    await signatures.invalidate(first);
    expect(await reason(introspecting.verify(first))).toBe('revoked');
    const second = await idp.issueAccessToken();
    expect((await signatures.verify(second)).source).toBe('jwt');
    await introspecting.invalidate(second);
    expect(await reason(signatures.verify(second))).toBe('revoked');
  });
});

describe('an introspection endpoint that echoes our request', () => {
  /** Only b64token characters (RFC 6750), so it reaches the IdP; each encoding differs from it. */
  const OPAQUE = 'Op4que+Tok/en~with.chars-and_more0123456789+/abcdefghijKLMNOP==';
  const SECRET = 's3cr&t +/=~ü-introspection';
  let stub: StubServer;
  beforeAll(async () => {
    stub = await startStubServer((req, res, body) =>
      sendJson(res, 401, {
        error: 'invalid_client',
        error_description: `got ${body} ${b64(body)} ${req.headers.authorization ?? ''}`.slice(0, 290),
      }),
    );
  });
  afterAll(() => stub.close());

  /** Every message along the cause chain. */
  const messages = (error: unknown): string[] =>
    error instanceof Error ? [error.message, ...messages(error.cause)] : [];

  it.each(['client_secret_basic', 'client_secret_post'] as const)(
    '%s: the IdP error reaches the cause, scrubbed of token and credentials',
    async (authMethod) => {
      const verifier = introspectingVerifier({
        audience: 'https://api.example',
        introspection: { clientId: 'rs', clientSecret: SECRET, authMethod, endpoint: `${stub.url}/introspect` },
      });
      const error = await verifier.verify(OPAQUE).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(MisconfiguredError); // 401 invalid_client: our configuration, not an outage
      const text = messages(error).join('\n');
      expect(text).toContain('invalid_client: got ');
      for (const forbidden of [...spellings(OPAQUE), ...spellings(SECRET), ...spellings(`rs:${basicEnc(SECRET)}`)])
        expect(text).not.toContain(forbidden);
    },
  );

  // The test above derives the forbidden spellings from our own encoder; this one takes them from
  // the wire, so a client that encoded the credentials differently (oauth4webapi's ClientSecretBasic
  // also escapes - . ~ and others) could not leak them past the scrubber unnoticed.
  it.each(['client_secret_basic', 'client_secret_post'] as const)(
    '%s: the credentials as the IdP received them are scrubbed, whatever their encoding',
    async (authMethod) => {
      const echo = await startStubServer((req, res, body) => {
        const header = req.headers.authorization ?? '';
        const decoded = Buffer.from(header.slice('Basic '.length), 'base64').toString('utf8');
        sendJson(res, 401, { error: 'invalid_client', error_description: `got ${header} ${decoded} ${body}` });
      });
      try {
        const verifier = introspectingVerifier({
          audience: 'https://api.example',
          introspection: {
            clientId: 'rs-client.1',
            clientSecret: SECRET,
            authMethod,
            endpoint: `${echo.url}/introspect`,
          },
        });
        const text = messages(await verifier.verify(OPAQUE).catch((e: unknown) => e)).join('\n');
        expect(text).toContain('invalid_client: got ');
        const received = receivedCredentials(echo.requests[0]!);
        expect(received.length).toBeGreaterThan(0);
        for (const forbidden of received) expect(text).not.toContain(forbidden);
      } finally {
        await echo.close();
      }
    },
  );
});
