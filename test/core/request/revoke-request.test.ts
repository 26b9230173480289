/**
 * The revoke step without a framework: its input checks and answers, against the embedded IdP
 * (no revocation endpoint configured: the local revocation is what is checked here; the IdP side
 * is test/express/revoke-route.test.ts's).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createRevokeHandler } from '../../../src/core/request/revoke-request.js';
import {
  createVerifier,
  InvalidRequestError,
  MisconfiguredError,
  type RequestLike,
  type Verifier,
} from '../../../src/index.js';
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
