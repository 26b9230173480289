/** The back-channel logout step without a framework: what the IdP hears, error by error. */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import { createBackchannelLogoutHandler } from '../../../src/core/request/backchannel-logout-request.js';
import {
  createMemoryStore,
  createVerifier,
  IdpUnavailableError,
  InvalidRequestError,
  MisconfiguredError,
  RevocationPendingError,
  type Verifier,
} from '../../../src/index.js';
import { signToken, standardClaims, startIdp, type EmbeddedIdp } from '../../support/idp.js';

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

const NO_STORE = { 'Cache-Control': 'no-store' };

function logoutToken(sub: string): Promise<string> {
  const key = idp.keys[0]!;
  return new SignJWT({
    iss: idp.issuer,
    aud: idp.client.clientId,
    iat: Math.floor(Date.now() / 1000),
    jti: `jti-${randomUUID()}`,
    sub,
    events: { 'http://schemas.openid.net/event/backchannel-logout': {} },
  })
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'logout+jwt' })
    .sign(key.privateKey);
}

describe('createBackchannelLogoutHandler', () => {
  it('a valid logout token: 200, no body, never cached; the subject’s tokens are refused', async () => {
    const access = await signToken(
      standardClaims(idp, { sub: 'bob', iat: Math.floor(Date.now() / 1000) - 5 }),
      idp.keys[0]!,
    );
    await verifier.verify(access);
    const logout = createBackchannelLogoutHandler({ verifier, clientId: idp.client.clientId });
    expect(await logout({ logout_token: await logoutToken('bob') })).toEqual({ status: 200, headers: NO_STORE });
    await expect(verifier.verify(access)).rejects.toMatchObject({ reason: 'revoked' });
  });

  it('still answers 200 when DPoP proofs fill the memory store (their replay records have a cap of their own)', async () => {
    // Before: DPoP proofs and logout tokens shared one cap of 100 000 live records, so a busy DPoP
    // API (~330 requests/s over the 5-minute window) made every back-channel logout a 503.
    const store = createMemoryStore();
    const own = createVerifier({ issuer: idp.issuer, audience: idp.audience, store });
    try {
      for (let i = 0; i < 100_000; i++) await store.claimOnce(`dpop:jkt:${i}`, 600_000);
      const logout = createBackchannelLogoutHandler({ verifier: own, clientId: idp.client.clientId });
      expect(await logout({ logout_token: await logoutToken('carol') })).toEqual({ status: 200, headers: NO_STORE });
    } finally {
      await own.close();
    }
  });

  it.each<[string, Record<string, unknown>, string]>([
    ['no logout_token', {}, 'Missing logout_token'],
    ['an empty logout_token', { logout_token: '' }, 'Missing logout_token'],
    ['two logout_tokens', { logout_token: ['a', 'b'] }, 'Missing logout_token'],
    // (sic: the verifier's wording for any JWT it cannot parse)
    ['a logout_token that is no JWT', { logout_token: 'not-a-jwt' }, 'The access token is malformed'],
  ])('%s: 400 invalid_request', async (_name, body, description) => {
    const logout = createBackchannelLogoutHandler({ verifier, clientId: idp.client.clientId });
    expect(await logout(body)).toEqual({
      status: 400,
      headers: NO_STORE,
      body: { error: 'invalid_request', error_description: description },
    });
  });

  it.each<[string, unknown, object | undefined]>([
    [
      'keys unreachable',
      new IdpUnavailableError('The identity provider is unreachable', 12),
      {
        status: 503,
        headers: { 'Retry-After': '12', ...NO_STORE },
        body: { error: 'temporarily_unavailable', error_description: 'The identity provider is unreachable' },
      },
    ],
    [
      'the store has not confirmed the cutoff',
      new RevocationPendingError(2),
      { status: 503, headers: { 'Retry-After': '2', ...NO_STORE }, body: { error: 'temporarily_unavailable' } },
    ],
    [
      'a bad body',
      new InvalidRequestError('malformed_request', 'The request body is not valid JSON'),
      {
        status: 400,
        headers: NO_STORE,
        body: { error: 'invalid_request', error_description: 'The request body is not valid JSON' },
      },
    ],
    ['a misconfiguration: passed on', new MisconfiguredError('issuer mismatch'), undefined],
    ['a bug: passed on', new TypeError('x is undefined'), undefined],
  ])('answerError: %s', (_name, error, expected) => {
    const logout = createBackchannelLogoutHandler({ verifier, clientId: idp.client.clientId });
    if (expected === undefined) expect(logout.answerError(error)).toBeUndefined();
    else expect(logout.answerError(error)).toMatchObject(expected);
  });

  it.each<[string, (v: Verifier) => unknown, string | RegExp]>([
    [
      'no verifier',
      () => ({ clientId: 'c' }),
      'revocable-jwt: createBackchannelLogoutHandler needs { verifier, clientId }',
    ],
    ['no clientId', (v) => ({ verifier: v }), /needs `clientId`: our client id at the IdP/],
    ['a misspelt key', (v) => ({ verifier: v, clientId: 'c', sesionOnly: true }), /did you mean `sessionOnly`\?/],
    [
      'a verifier createVerifier() did not make',
      () => ({ verifier: { invalidateSubject() {} }, clientId: 'c' }),
      /must come from createVerifier\(\)/,
    ],
  ])('construction: %s is a TypeError', (_name, options, message) => {
    expect(() => createBackchannelLogoutHandler(options(verifier) as never)).toThrow(message);
  });
});
