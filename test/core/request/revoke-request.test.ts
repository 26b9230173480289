/**
 * The revoke step without a framework: its input checks and answers, against the embedded IdP
 * (no revocation endpoint configured: the local revocation is what is checked here; the IdP side
 * is test/express/revoke-route.test.ts's).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createRevokeHandler } from '../../../src/core/request/revoke-request.js';
import {
  createAuthenticator,
  createVerifier,
  InvalidRequestError,
  MisconfiguredError,
  type RequestLike,
  type Verifier,
} from '../../../src/index.js';
import { dpopClient, type DpopClient, issueDpopToken, type ProofOptions } from '../../support/dpop.js';
import { startIdp, type EmbeddedIdp } from '../../support/idp.js';

let idp: EmbeddedIdp;
let verifier: Verifier;

beforeAll(async () => {
  idp = await startIdp();
  verifier = createVerifier({ issuer: idp.issuer, audience: idp.audience });
});
afterAll(async () => {
  await verifier.close();
  await idp.close();
});

const post = (authorization?: string): RequestLike => ({
  method: 'POST',
  url: '/logout',
  headers: authorization === undefined ? {} : { authorization },
});

describe('createRevokeHandler: input checks', () => {
  it.each<[string, Record<string, unknown>, RequestLike, RegExp]>([
    ['nothing to revoke', {}, post(), /No token to revoke/],
    ['a token that is not one string', { token: ['a', 'b'] }, post(), /`token` must be a single string/],
    ['a token too long', { token: 'a'.repeat(16_385) }, post(), /`token` is too long/],
    ['a bad token_type_hint', { token: 'x', token_type_hint: 'refresh token' }, post(), /Invalid token_type_hint/],
    ['a malformed bearer header', {}, post('Bearer a b'), /Malformed Bearer token/],
  ])('%s: 400 invalid_request under its realm', async (_name, body, request, description) => {
    const answer = await createRevokeHandler({ verifier, realm: 'notes' })(body, request);
    expect(answer.status).toBe(400);
    expect(answer.headers['WWW-Authenticate']).toMatch(/^Bearer realm="notes", error="invalid_request", /);
    expect(answer.headers['Cache-Control']).toBe('no-store');
    expect(answer.body).toEqual({ error: 'invalid_request', error_description: expect.stringMatching(description) });
  });

  it('another scheme and no body token: 401 asking for a bearer token', async () => {
    const answer = await createRevokeHandler({ verifier })({}, post('Basic Y2xpZW50OnNlY3JldA=='));
    expect(answer).toMatchObject({ status: 401, headers: { 'WWW-Authenticate': 'Bearer realm="api"' } });
  });

  it('another scheme (client authentication) beside a body token: the body token is revoked', async () => {
    const answer = await createRevokeHandler({ verifier })(
      { token: 'an-opaque-refresh-token' },
      post('Basic Y2xpZW50OnNlY3JldA=='),
    );
    expect(answer).toEqual({ status: 200, headers: { 'Cache-Control': 'no-store' }, body: { revoked: true } });
  });

  it('a bearer token in a form body is a token to revoke, not a second credential', async () => {
    const token = await idp.issueAccessToken();
    const answer = await createRevokeHandler({ verifier })(
      { token },
      { ...post(), body: `access_token=${token}`, headers: { 'content-type': 'application/x-www-form-urlencoded' } },
    );
    expect(answer.status).toBe(200);
  });
});

describe('createRevokeHandler: answers', () => {
  it('a bearer-only logout: the request’s own token is refused from now on', async () => {
    const token = await idp.issueAccessToken();
    await verifier.verify(token);
    const answer = await createRevokeHandler({ verifier })({}, post(`Bearer ${token}`));
    expect(answer).toMatchObject({ status: 200, body: { revoked: true } });
    await expect(verifier.verify(token)).rejects.toMatchObject({ reason: 'revoked' });
  });

  it('a bearer-only logout with a forged token: 401, nothing changed', async () => {
    const [header, payload] = (await idp.issueAccessToken()).split('.');
    const denylisted = verifier.stats().revocation.denylisted;
    const answer = await createRevokeHandler({ verifier, realm: 'notes' })(
      {},
      post(`Bearer ${header}.${payload}.${'A'.repeat(342)}`),
    );
    expect(answer).toMatchObject({ status: 401, body: { error: 'invalid_token' } });
    expect(answer.headers['WWW-Authenticate']).toMatch(/^Bearer realm="notes", error="invalid_token"/);
    expect(verifier.stats().revocation.denylisted).toBe(denylisted);
  });

  it('answerError: AuthErrors are answered under the realm; misconfigurations and bugs are passed on', () => {
    const revoke = createRevokeHandler({ verifier, realm: 'notes' });
    expect(
      revoke.answerError(new InvalidRequestError('malformed_request', 'The request body is not valid JSON')),
    ).toEqual({
      status: 400,
      headers: {
        'WWW-Authenticate':
          'Bearer realm="notes", error="invalid_request", error_description="The request body is not valid JSON"',
        'Cache-Control': 'no-store',
      },
      body: { error: 'invalid_request', error_description: 'The request body is not valid JSON' },
    });
    expect(revoke.answerError(new MisconfiguredError('no revocation_endpoint'))).toBeUndefined();
    expect(revoke.answerError(new Error('a bug'))).toBeUndefined();
    expect(revoke.errorBody('server_error', 'x')).toEqual({ error: 'server_error', error_description: 'x' });
  });
});

describe('createRevokeHandler: a caller presenting its token with DPoP (RFC 9449)', () => {
  const PUBLIC_URL = 'https://api.example.com';
  let dpopVerifier: Verifier;
  let client: DpopClient;
  beforeAll(async () => {
    dpopVerifier = createVerifier({ issuer: idp.issuer, audience: idp.audience, publicUrl: PUBLIC_URL });
    client = await dpopClient();
  });
  afterAll(() => dpopVerifier.close());

  const dpopPost = async (token: string, proof: Partial<ProofOptions> = {}, extra: Partial<RequestLike> = {}) => ({
    ...post(`DPoP ${token}`),
    ...extra,
    headers: {
      authorization: `DPoP ${token}`,
      dpop: await client.proof({ htm: 'POST', htu: `${PUBLIC_URL}/logout`, token, ...proof }),
    },
  });

  it('revokes the DPoP-bound token of a caller with a valid proof (before: 401, the DPoP scheme not taken)', async () => {
    const token = await issueDpopToken(idp, client);
    const answer = await createRevokeHandler({ verifier: dpopVerifier })({}, await dpopPost(token));
    expect(answer).toEqual({ status: 200, headers: { 'Cache-Control': 'no-store' }, body: { revoked: true } });
    await expect(dpopVerifier.verify(token)).rejects.toMatchObject({ reason: 'revoked' });
  });

  it('refuses what the guard refuses, and revokes nothing: a bad proof, a stolen token, a replay', async () => {
    const token = await issueDpopToken(idp, client);
    const revoke = createRevokeHandler({ verifier: dpopVerifier, realm: 'notes' });
    const bodyToken = await idp.issueAccessToken();
    const thief = await dpopClient();
    const stolen = {
      ...post(`DPoP ${token}`),
      headers: {
        authorization: `DPoP ${token}`,
        dpop: await thief.proof({ htm: 'POST', htu: `${PUBLIC_URL}/logout`, token }),
      },
    };
    const used = await dpopPost(token);
    expect(
      await createAuthenticator({ verifier: dpopVerifier, origin: PUBLIC_URL })({ ...used, url: '/logout' }),
    ).toMatchObject({ ok: true });
    const proofError = (description: string) => ({ error: 'invalid_dpop_proof', error_description: description });
    for (const [request, body] of [
      [await dpopPost(token, { htu: `${PUBLIC_URL}/notes` }), proofError('The DPoP proof htu is not the request URL')],
      [await dpopPost(token, { htm: 'GET' }), proofError('The DPoP proof htm is not the request method')],
      [
        stolen,
        { error: 'invalid_token', error_description: 'The access token is not bound to the key of the DPoP proof' },
      ],
      [used, proofError('The DPoP proof has already been used')], // claimed by a guard, another request
      [post(`DPoP ${token}`), proofError('The DPoP scheme needs a DPoP proof in a DPoP header')],
    ] as const) {
      // A body token beside it is not revoked either: the caller is refused first.
      const answer = await revoke({ token: bodyToken }, request);
      expect(answer.status).toBe(401);
      expect(answer.body).toEqual(body);
      expect(answer.headers['WWW-Authenticate']).toMatch(
        new RegExp(`^Bearer realm="notes", DPoP realm="notes", algs="[^"]+", error="${body.error}"`),
      );
    }
    await expect(dpopVerifier.verify(token)).resolves.toBeDefined();
    await expect(dpopVerifier.verify(bodyToken)).resolves.toBeDefined();
  });

  it('shares the proof claim with a guard that ran on the same request (an app-wide guard before the route)', async () => {
    const token = await issueDpopToken(idp, client);
    const identity = {};
    const request = await dpopPost(token, {}, { identity });
    const guard = createAuthenticator({ verifier: dpopVerifier, dpop: 'allowed' });
    expect(await guard(request)).toMatchObject({ ok: true });
    const answer = await createRevokeHandler({ verifier: dpopVerifier })({}, request);
    expect(answer).toMatchObject({ status: 200, body: { revoked: true } });
  });

  it('without a public URL the verifier takes no DPoP: 401 asking for a Bearer token, as before', async () => {
    const token = await issueDpopToken(idp, client);
    const answer = await createRevokeHandler({ verifier })({}, await dpopPost(token));
    expect(answer).toMatchObject({ status: 401, headers: { 'WWW-Authenticate': 'Bearer realm="api"' } });
  });
});

describe('createRevokeHandler: options are checked at construction', () => {
  it.each<[string, unknown]>([
    ['no options', undefined],
    ['no verifier', { realm: 'x' }],
    ['a verifier that is not one', { verifier: {} }],
  ])('%s', (_name, options) => {
    expect(() => createRevokeHandler(options as never)).toThrow(
      'revocable-jwt: createRevokeHandler needs { verifier } from createVerifier()',
    );
  });

  it('a misspelt key beside a verifier, an issuer the verifier does not have', () => {
    expect(() => createRevokeHandler({ verifier, relm: 'x' } as never)).toThrow(
      'revocable-jwt: unknown option `relm` in createRevokeHandler; did you mean `realm`?',
    );
    expect(() => createRevokeHandler({ verifier, issuer: 'https://other.example' })).toThrow(
      /createRevokeHandler `issuer` must be one of the verifier's issuers/,
    );
  });
});
