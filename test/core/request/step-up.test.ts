/**
 * RFC 9470 step-up through the authenticator: `acrValues` and `maxAge` against tokens signed with
 * the real IdP's key (oidc-provider 9 puts no `acr` / `auth_time` in JWT access tokens: its JWT
 * format builds them from jti, sub, iat, exp, scope, client_id, iss, aud and cnf only), verified
 * through its JWKS over HTTP, on the verifier's injected clock. Every answer is checked whole:
 * status, challenge, body.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  type Authentication,
  type Authenticator,
  createAuthenticator,
  createVerifier,
  type Refused,
  type Verifier,
} from '../../../src/index.js';
import { type EmbeddedIdp, startIdp, testClock, tokenAt } from '../../support/idp.js';

const clock = testClock();
let idp: EmbeddedIdp;
let verifier: Verifier;
beforeAll(async () => {
  idp = await startIdp();
  verifier = createVerifier({ issuer: idp.issuer, audience: idp.audience, clock }); // clockTolerance 5 s
});
afterAll(async () => {
  await verifier.close();
  await idp.close();
});

const request = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });
const settle = async (answer: Authentication | Promise<Authentication>) => answer;
const now = () => Math.floor(clock() / 1000);
const MFA = 'urn:example:mfa';
const HWK = 'urn:example:hwk';

/** 'ok', or `<status> <reason>` and the challenge. */
async function answer(authenticate: Authenticator, claims: Record<string, unknown>) {
  const result = await settle(authenticate(request(await tokenAt(idp, clock(), claims))));
  if (result.ok) return 'ok';
  return `${result.status} ${result.error.reason}`;
}

describe('acrValues', () => {
  const authenticate = () => createAuthenticator({ verifier, acrValues: [MFA, HWK] });

  it.each<[string, Record<string, unknown>, string]>([
    ['an accepted acr', { acr: MFA }, 'ok'],
    ['the other accepted acr', { acr: HWK }, 'ok'],
    ['another acr', { acr: 'urn:example:pwd' }, '401 insufficient_user_authentication'],
    ['no acr at all', {}, '401 insufficient_user_authentication'],
    ['an accepted acr in other case', { acr: MFA.toUpperCase() }, '401 insufficient_user_authentication'],
    ['an accepted acr with a trailing space', { acr: `${MFA} ` }, '401 insufficient_user_authentication'],
    ['both accepted values in one string', { acr: `${MFA} ${HWK}` }, '401 insufficient_user_authentication'],
    ['an empty acr', { acr: '' }, '401 insufficient_user_authentication'],
    // Malformed: asking the IdP for another token of the same kind would not help.
    ['an accepted acr inside an array', { acr: [MFA] }, '401 claim_invalid'],
    ['a number', { acr: 2 }, '401 claim_invalid'],
    ['an object', { acr: { value: MFA } }, '401 claim_invalid'],
    ['null', { acr: null }, '401 claim_invalid'],
    ['the acr only in amr', { amr: [MFA] }, '401 insufficient_user_authentication'],
  ])('%s → %s', async (_name, claims, expected) => {
    expect(await answer(authenticate(), claims)).toBe(expected);
  });

  it('answers with the RFC 9470 challenge naming every accepted value', async () => {
    const result = (await settle(
      authenticate()(request(await tokenAt(idp, clock(), { acr: 'urn:example:pwd' }))),
    )) as Refused;
    expect(result.status).toBe(401);
    expect(result.headers['WWW-Authenticate']).toBe(
      'Bearer realm="api", error="insufficient_user_authentication", ' +
        `error_description="A different authentication level is required", acr_values="${MFA} ${HWK}"`,
    );
    expect(result.body).toEqual({
      error: 'insufficient_user_authentication',
      error_description: 'A different authentication level is required',
    });
    expect(result.error).toMatchObject({
      acrValues: [MFA, HWK],
      maxAge: undefined,
      code: 'insufficient_user_authentication',
    });
  });
});

describe('maxAge', () => {
  const authenticate = () => createAuthenticator({ verifier, maxAge: 300 });

  it.each<[string, string, (t: number) => unknown]>([
    ['just now', 'ok', (t) => t],
    ['300 s ago', 'ok', (t) => t - 300],
    ['305 s ago (within the 5 s leeway)', 'ok', (t) => t - 305],
    ['306 s ago', '401 insufficient_user_authentication', (t) => t - 306],
    ['a day ago', '401 insufficient_user_authentication', (t) => t - 86_400],
    ['at the epoch', '401 insufficient_user_authentication', () => 0],
    ['a negative instant', '401 insufficient_user_authentication', () => -1],
    ['a fraction of a second ago', 'ok', (t) => t - 0.5],
    ['5 s ahead (within the leeway)', 'ok', (t) => t + 5],
    // A future auth_time would stay "recent" for ever.
    ['6 s in the future', '401 claim_invalid', (t) => t + 6],
    ['far in the future', '401 claim_invalid', () => 1e15],
    ['a numeric string', '401 claim_invalid', (t) => String(t)],
    ['an array', '401 claim_invalid', (t) => [t]],
    ['null', '401 claim_invalid', () => null],
    ['a boolean', '401 claim_invalid', () => true],
  ])('auth_time %s → %s', async (_name, expected, authTime) => {
    expect(await answer(authenticate(), { auth_time: authTime(now()) })).toBe(expected);
  });

  it('refuses a token without auth_time, with max_age in the challenge', async () => {
    const result = (await settle(authenticate()(request(await tokenAt(idp, clock()))))) as Refused;
    expect(result.headers['WWW-Authenticate']).toBe(
      'Bearer realm="api", error="insufficient_user_authentication", ' +
        'error_description="More recent authentication is required", max_age="300"',
    );
  });

  it('ages a cached token out on the verifier’s clock: admitted, then refused on a cache hit', async () => {
    const route = authenticate();
    const token = await tokenAt(idp, clock(), { auth_time: now() });
    expect(await settle(route(request(token)))).toMatchObject({ ok: true });
    clock.advance(305_000);
    expect(route(request(token))).toMatchObject({ ok: true }); // cached, still within maxAge + leeway
    clock.advance(1_000);
    const hit = route(request(token));
    expect(hit).not.toBeInstanceOf(Promise); // the cache answered, the step-up check refused
    expect(hit).toMatchObject({ ok: false, status: 401, error: { reason: 'insufficient_user_authentication' } });
    clock.advance(-306_000);
  });
});

describe('acrValues and maxAge together, with the route’s other requirements', () => {
  it('names every requirement in the challenge, whichever failed, and resource_metadata too', async () => {
    const authenticate = createAuthenticator({
      verifier,
      acrValues: [MFA],
      maxAge: 60,
      resourceMetadata: 'https://api.example.com/.well-known/oauth-protected-resource',
    });
    const stale = (await settle(
      authenticate(request(await tokenAt(idp, clock(), { acr: MFA, auth_time: now() - 3600 }))),
    )) as Refused;
    expect(stale.headers['WWW-Authenticate']).toBe(
      'Bearer realm="api", resource_metadata="https://api.example.com/.well-known/oauth-protected-resource", ' +
        'error="insufficient_user_authentication", error_description="More recent authentication is required", ' +
        `acr_values="${MFA}", max_age="60"`,
    );
    expect(await answer(authenticate, { acr: MFA, auth_time: now() })).toBe('ok');
    expect(await answer(authenticate, { acr: 'urn:example:pwd', auth_time: now() })).toBe(
      '401 insufficient_user_authentication',
    );
  });

  it('checks claims, then step-up, then scopes: authentication before authorization', async () => {
    const authenticate = createAuthenticator({
      verifier,
      claims: { equals: { tenant: 't1' } },
      acrValues: [MFA],
      scopes: ['notes:admin'],
    });
    expect(await answer(authenticate, { tenant: 't2', scope: 'notes:read' })).toBe('401 claim_mismatch');
    expect(await answer(authenticate, { tenant: 't1', scope: 'notes:read' })).toBe(
      '401 insufficient_user_authentication',
    );
    expect(await answer(authenticate, { tenant: 't1', acr: MFA, scope: 'notes:read' })).toBe('403 insufficient_scope');
    expect(await answer(authenticate, { tenant: 't1', acr: MFA, scope: 'notes:admin' })).toBe('ok');
  });

  it('refuses a revoked token that meets every requirement (401 revoked)', async () => {
    const authenticate = createAuthenticator({ verifier, acrValues: [MFA], maxAge: 300 });
    const token = await tokenAt(idp, clock(), { acr: MFA, auth_time: now() });
    expect(await settle(authenticate(request(token)))).toMatchObject({ ok: true });
    await verifier.invalidateSubject('alice');
    expect(await settle(authenticate(request(token)))).toMatchObject({
      ok: false,
      status: 401,
      error: { reason: 'revoked' },
    });
    clock.advance(1_000); // later tokens of alice are not cut
  });
});

describe('step-up options are checked at construction', () => {
  it.each<[string, Record<string, unknown>, RegExp]>([
    ['an empty acrValues', { acrValues: [] }, /`acrValues` must be a non-empty array/],
    ['an acr value with a space', { acrValues: ['a b'] }, /`acrValues` must be a non-empty array/],
    ['an acr value with a quote', { acrValues: ['a"b'] }, /`acrValues`/],
    ['acrValues as a string', { acrValues: MFA }, /`acrValues`/],
    ['a negative maxAge', { maxAge: -1 }, /`maxAge` must be a whole number of seconds >= 0/],
    ['a fractional maxAge', { maxAge: 1.5 }, /`maxAge` must be a whole number/],
    ['a maxAge string', { maxAge: '300' }, /`maxAge`/],
  ])('%s', (_name, settings, message) => {
    expect(() => createAuthenticator({ verifier, ...settings } as never)).toThrow(message);
  });

  it('accepts maxAge 0 (authentication in this very second, within the leeway)', async () => {
    const authenticate = createAuthenticator({ verifier, maxAge: 0 });
    expect(await answer(authenticate, { auth_time: now() })).toBe('ok');
    expect(await answer(authenticate, { auth_time: now() - 6 })).toBe('401 insufficient_user_authentication');
  });
});
