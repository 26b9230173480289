/**
 * Back-channel logout tokens (OpenID Connect Back-Channel Logout 1.0 §2.6) at the core, without a
 * route: the claim checks and their exact refusals, which cutoffs a token makes (session, subject,
 * both), replays, and that a token acts for the issuer that signed it only. Tokens are signed
 * here with keys two fake IdPs publish; time is the injected clock.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import {
  AuthError,
  BACKCHANNEL_LOGOUT_EVENT,
  createVerifier,
  InvalidRequestError,
  processLogoutToken,
  type LogoutTokenOptions,
  type Verifier,
} from '../../../src/index.js';
import {
  closeFakeIdps,
  signAccessToken,
  signJwt,
  startSigningIdps,
  type FakeIdp,
  type FakeIdpKey,
} from '../../support/fake-idp.js';
import { testClock } from '../../support/idp.js';
import { closedLater, closeVerifiers, verifierFor } from '../../support/verifier-for.js';

const CLIENT_ID = 'notes-api';
const clock = testClock();
let east: FakeIdp;
let west: FakeIdp;
let keys: Map<FakeIdp, FakeIdpKey>;

beforeAll(async () => {
  ({ east, west, keys } = await startSigningIdps());
});
afterEach(async () => {
  await closeVerifiers();
});
afterAll(async () => {
  await closeFakeIdps();
});

const keyOf = (idp: FakeIdp) => keys.get(idp)!;
const nowSec = () => Math.floor(clock() / 1000);
let jti = 0;

/** A valid logout token of `idp` for alice, issued now; `claims` change or (undefined) remove claims. */
function logoutToken(idp: FakeIdp, claims: Record<string, unknown> = {}, typ: string | undefined = 'logout+jwt') {
  const all: Record<string, unknown> = {
    iss: idp.issuer,
    aud: CLIENT_ID,
    iat: nowSec(),
    jti: `bcl-${++jti}`,
    events: { [BACKCHANNEL_LOGOUT_EVENT]: {} },
    sub: 'alice',
    ...claims,
  };
  for (const [name, value] of Object.entries(all)) if (value === undefined) delete all[name];
  return signJwt(keyOf(idp), { typ }, all);
}

/** An access token of `idp`, issued now (the clock's second). */
const accessToken = (idp: FakeIdp, claims: Record<string, unknown> = {}) =>
  signAccessToken(keyOf(idp), { alg: keyOf(idp).alg, kid: keyOf(idp).kid }, idp.issuer, clock, claims);

/** 'accepted', or the refusal's reason. */
const outcome = (promise: Promise<unknown>) =>
  promise.then(
    () => 'accepted',
    (error: unknown) => (error instanceof AuthError ? error.reason : `unexpected ${String(error)}`),
  );

const logout = (verifier: Verifier, token: string, options: Partial<LogoutTokenOptions> = {}) =>
  processLogoutToken(verifier, token, { clientId: CLIENT_ID, ...options });

/** The refusal of a logout token: always an AuthError; its class, reason and description. */
async function refusal(promise: Promise<unknown>) {
  const error = await promise.then(
    () => new Error('expected a refusal, the logout token was processed'),
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(AuthError);
  const { reason, description, status } = error as AuthError;
  return { type: (error as AuthError).constructor.name, status, reason, description };
}

describe('what a logout token cuts', () => {
  it("a token with sub cuts the subject's tokens issued up to its iat, on this issuer, and says so", async () => {
    const verifier = verifierFor(east, { clock });
    const before = await accessToken(east, { sub: 'alice' });
    const bob = await accessToken(east, { sub: 'bob' });
    clock.advance(10_000);
    const result = await logout(verifier, await logoutToken(east));
    expect(result).toEqual({ issuer: east.issuer, subject: 'alice', session: undefined, applied: true });
    expect(await outcome(verifier.verify(before))).toBe('revoked');
    expect(await outcome(verifier.verify(bob))).toBe('accepted');
    expect(verifier.stats().revocation).toMatchObject({ subjectCutoffs: 1, sessionCutoffs: 0 });
    clock.advance(1_000); // a login after the logout
    expect(await outcome(verifier.verify(await accessToken(east, { sub: 'alice' })))).toBe('accepted');
  });

  it('a token with sid only cuts that session, not the rest of the subject', async () => {
    const verifier = verifierFor(east, { clock });
    const inSession = await accessToken(east, { sid: 'session-1' });
    const otherSession = await accessToken(east, { sid: 'session-2' });
    const result = await logout(verifier, await logoutToken(east, { sub: undefined, sid: 'session-1' }));
    expect(result).toEqual({ issuer: east.issuer, subject: undefined, session: 'session-1', applied: true });
    expect(await outcome(verifier.verify(inSession))).toBe('revoked');
    expect(await outcome(verifier.verify(otherSession))).toBe('accepted');
    expect(verifier.stats().revocation).toMatchObject({ subjectCutoffs: 0, sessionCutoffs: 1 });
  });

  it('a token with sub and sid cuts both by default (access tokens seldom carry sid)', async () => {
    const verifier = verifierFor(east, { clock });
    const noSid = await accessToken(east);
    await logout(verifier, await logoutToken(east, { sid: 'session-1' }));
    expect(await outcome(verifier.verify(noSid))).toBe('revoked');
    expect(verifier.stats().revocation).toMatchObject({ subjectCutoffs: 1, sessionCutoffs: 1 });
  });

  it('sessionOnly: a token with sub and sid cuts the session only', async () => {
    const verifier = verifierFor(east, { clock });
    const noSid = await accessToken(east);
    const inSession = await accessToken(east, { sid: 'session-1' });
    const result = await logout(verifier, await logoutToken(east, { sid: 'session-1' }), { sessionOnly: true });
    expect(result).toMatchObject({ subject: 'alice', session: 'session-1', applied: true });
    expect(await outcome(verifier.verify(noSid))).toBe('accepted');
    expect(await outcome(verifier.verify(inSession))).toBe('revoked');
  });

  it('sessionOnly: a token with sub only still cuts the subject (there is no session to cut)', async () => {
    const verifier = verifierFor(east, { clock });
    const token = await accessToken(east);
    await logout(verifier, await logoutToken(east), { sessionOnly: true });
    expect(await outcome(verifier.verify(token))).toBe('revoked');
  });

  it("cuts at the logout token's own iat, not at the time it arrives", async () => {
    const verifier = verifierFor(east, { clock });
    const issued = await logoutToken(east);
    clock.advance(2_000);
    const meanwhile = await accessToken(east); // issued after the IdP's logout, before it reached us
    await logout(verifier, issued);
    expect(await outcome(verifier.verify(meanwhile))).toBe('accepted');
  });
});

describe('replays', () => {
  it('applies a token once; a repeat is acknowledged with applied: false', async () => {
    const verifier = verifierFor(east, { clock });
    const token = await logoutToken(east);
    expect((await logout(verifier, token)).applied).toBe(true);
    expect(await logout(verifier, token)).toEqual({
      issuer: east.issuer,
      subject: 'alice',
      session: undefined,
      applied: false,
    });
  });

  it('a repeat cuts nothing issued after the original (the cutoff is its iat)', async () => {
    const verifier = verifierFor(east, { clock });
    const token = await logoutToken(east);
    await logout(verifier, token);
    clock.advance(1_000);
    const fresh = await accessToken(east);
    await logout(verifier, token);
    expect(await outcome(verifier.verify(fresh))).toBe('accepted');
  });

  it('the same jti from two issuers is two logouts (replay records are per issuer)', async () => {
    const verifier = closedLater(
      createVerifier({
        clock,
        issuers: [
          { issuer: east.issuer, audience: east.audience },
          { issuer: west.issuer, audience: west.audience, algorithms: ['ES256'] },
        ],
      }),
    );
    expect((await logout(verifier, await logoutToken(west, { jti: 'shared' }))).applied).toBe(true);
    expect((await logout(verifier, await logoutToken(east, { jti: 'shared' }))).applied).toBe(true);
    expect((await logout(verifier, await logoutToken(east, { jti: 'shared' }))).applied).toBe(false);
  });
});

describe('issuer scoping', () => {
  it("one issuer's logout token cuts its own subject only, never another issuer's user of the same sub", async () => {
    const verifier = closedLater(
      createVerifier({
        clock,
        issuers: [
          { issuer: east.issuer, audience: east.audience },
          { issuer: west.issuer, audience: west.audience, algorithms: ['ES256'] },
        ],
      }),
    );
    const eastAlice = await accessToken(east);
    const westAlice = await accessToken(west);
    expect(await logout(verifier, await logoutToken(west))).toMatchObject({ issuer: west.issuer, applied: true });
    expect(await outcome(verifier.verify(westAlice))).toBe('revoked');
    expect(await outcome(verifier.verify(eastAlice))).toBe('accepted');
  });

  it("refuses a logout token signed by one issuer's key but naming another issuer", async () => {
    const verifier = verifierFor(east, { clock });
    const forged = await signJwt(
      keyOf(west),
      { typ: 'logout+jwt' },
      {
        iss: east.issuer,
        aud: CLIENT_ID,
        iat: nowSec(),
        jti: 'x',
        events: { [BACKCHANNEL_LOGOUT_EVENT]: {} },
        sub: 'alice',
      },
    );
    expect(await refusal(logout(verifier, forged))).toMatchObject({
      type: 'InvalidTokenError',
      reason: 'key_not_found',
    });
  });
});

describe('claim checks (§2.6), each refused before anything is cut or recorded', () => {
  it.each<[string, string, string, Record<string, unknown>]>([
    [
      'no back-channel logout event',
      'claim_invalid',
      'The logout token lacks the back-channel logout event',
      { events: { 'https://example.com/other-event': {} } },
    ],
    [
      'the event as true, not an object',
      'claim_invalid',
      'The logout token lacks the back-channel logout event',
      { events: { [BACKCHANNEL_LOGOUT_EVENT]: true } },
    ],
    [
      'the event as an array',
      'claim_invalid',
      'The logout token lacks the back-channel logout event',
      { events: { [BACKCHANNEL_LOGOUT_EVENT]: [] } },
    ],
    [
      'the event as null',
      'claim_invalid',
      'The logout token lacks the back-channel logout event',
      { events: { [BACKCHANNEL_LOGOUT_EVENT]: null } },
    ],
    [
      'events that is not an object',
      'claim_invalid',
      'The logout token lacks the back-channel logout event',
      { events: 'logout' },
    ],
    [
      'a nonce (an ID token, not a logout token)',
      'claim_invalid',
      'A logout token must not contain a nonce',
      { nonce: 'n-0S6' },
    ],
    ['neither sub nor sid', 'claim_missing', 'The logout token needs sub or sid', { sub: undefined }],
    ['an empty sub and no sid', 'claim_missing', 'The logout token needs sub or sid', { sub: '' }],
    ['an empty sub and an empty sid', 'claim_missing', 'The logout token needs sub or sid', { sub: '', sid: '' }],
  ])('%s: 400 %s', async (_name, reason, description, claims) => {
    const verifier = verifierFor(east, { clock });
    const token = await accessToken(east);
    const logoutWith = await logoutToken(east, claims);
    expect(await refusal(logout(verifier, logoutWith))).toEqual({
      type: 'InvalidRequestError',
      status: 400,
      reason,
      description,
    });
    expect(await outcome(verifier.verify(token))).toBe('accepted');
    // Refused before its jti was recorded: the IdP may send a corrected token under the same jti.
    const { jti: sameJti } = JSON.parse(Buffer.from(logoutWith.split('.')[1]!, 'base64url').toString()) as {
      jti: string;
    };
    expect((await logout(verifier, await logoutToken(east, { jti: sameJti }))).applied).toBe(true);
  });

  it('refuses with InvalidRequestError, a 400 that is never a 401 challenge', async () => {
    const verifier = verifierFor(east, { clock });
    const error = await logout(verifier, await logoutToken(east, { nonce: 'n' })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidRequestError);
  });

  it.each<[string, string, (now: number) => Record<string, unknown>]>([
    ['no jti', 'claim_missing', () => ({ jti: undefined })],
    ['no iat', 'claim_missing', () => ({ iat: undefined })],
    ['no events', 'claim_missing', () => ({ events: undefined })],
    ['another audience (an access token for our API)', 'audience_mismatch', () => ({ aud: 'https://api.example.com' })],
    ['another issuer', 'issuer_mismatch', () => ({ iss: 'https://idp.evil.example' })],
    // maxAge 300 s, plus the default 60 s clock tolerance.
    ['an iat older than maxAge', 'token_expired', (now) => ({ iat: now - 361 })],
    ['an exp in the past', 'token_expired', (now) => ({ exp: now - 61 })],
    ['an iat in the future', 'claim_invalid', (now) => ({ iat: now + 3_600 })],
    ['a non-string sub', 'claim_invalid', () => ({ sub: 42 })],
  ])('%s: refused as %s', async (_name, reason, claims) => {
    const verifier = verifierFor(east, { clock });
    expect((await refusal(logout(verifier, await logoutToken(east, claims(nowSec()))))).reason).toBe(reason);
  });

  it.each<[string, string, string | undefined]>([
    ['logout+jwt', 'accepted', 'logout+jwt'],
    ['application/logout+jwt', 'accepted', 'application/logout+jwt'],
    ['JWT (older IdPs)', 'accepted', 'JWT'],
    ['no typ (older IdPs)', 'accepted', undefined],
    ['at+jwt (an access token)', 'type_mismatch', 'at+jwt'],
    ['secevent+jwt (a security event)', 'type_mismatch', 'secevent+jwt'],
  ])('typ %s: %s', async (_name, expected, typ) => {
    const verifier = verifierFor(east, { clock });
    expect(await outcome(logout(verifier, await logoutToken(east, {}, typ)))).toBe(expected);
  });

  it('honours a shorter maxAge', async () => {
    const verifier = verifierFor(east, { clock });
    const token = await logoutToken(east);
    clock.advance(121_000); // 60 s, plus the default 60 s clock tolerance
    expect(await outcome(logout(verifier, token, { maxAge: 60 }))).toBe('token_expired');
    expect(await outcome(logout(verifier, token))).toBe('accepted');
  });
});
