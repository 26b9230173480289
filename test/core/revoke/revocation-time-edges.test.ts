/**
 * Revocations at the edges of time, tried as an attacker would: fractional `iat`, a large
 * `clockTolerance`, an `exp`-less token, a captured logout token replayed at the last instant it
 * is still accepted. The clock is injected and set to the exact boundary instants; every
 * revocation must hold until the token it covers is refused anyway, never a millisecond less.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { SignJWT } from 'jose';
import {
  BACKCHANNEL_LOGOUT_EVENT,
  CREDENTIAL_CHANGE,
  InvalidTokenError,
  processLogoutToken,
  processSecurityEvent,
  type Verifier,
  type VerifierOptions,
} from '../../../src/index.js';
import { signToken, standardClaims, startIdp, testClock, type EmbeddedIdp } from '../../support/idp.js';
import { closeVerifiers, verifierFor } from '../../support/verifier-for.js';

const C = 1_800_000_000; // a whole second, the cutoff second of most tests
const TOLERANCE = 120;
const LIFETIME = 600;
let idp: EmbeddedIdp;

beforeAll(async () => {
  idp = await startIdp();
});
afterAll(async () => {
  await closeVerifiers();
  await idp.close();
});

function setup(overrides: Partial<VerifierOptions> = {}) {
  const clock = testClock(C * 1000);
  const verifier = verifierFor(idp, {
    clock,
    clockTolerance: TOLERANCE,
    maxTokenLifetime: LIFETIME,
    ...overrides,
  });
  return { clock, verifier };
}

const token = (claims: Record<string, unknown>) => {
  const payload = standardClaims(idp, { sub: 'alice', ...claims }, C * 1000);
  for (const [name, value] of Object.entries(claims)) if (value === undefined) delete payload[name];
  return signToken(payload, idp.keys[0]!);
};

const reason = (promise: Promise<unknown>) =>
  promise.then(
    () => 'accepted',
    (error: unknown) => (error instanceof InvalidTokenError ? error.reason : `unexpected ${String(error)}`),
  );

describe('cutoffs and fractional iat (item 15)', () => {
  it.each(['subject', 'all'] as const)(
    'a token with a fractional iat issued 0.5 s before invalidate%s() is cut',
    async (kind) => {
      const { clock, verifier } = setup();
      clock.set(C * 1000 + 700);
      const issuedJustBefore = await token({ iat: C + 0.2, exp: C + 300 });
      expect(await reason(verifier.verify(issuedJustBefore))).toBe('accepted');
      await (kind === 'subject' ? verifier.invalidateSubject('alice') : verifier.invalidateAll());
      expect(verifier.peek(issuedJustBefore)).toBeUndefined();
      expect(await reason(verifier.verify(issuedJustBefore))).toBe('revoked');
      clock.set((C + 1) * 1000);
      expect(await reason(verifier.verify(await token({ iat: C + 1, exp: C + 300 })))).toBe('accepted');
    },
  );
});

describe('revocations outlive the tokens they cover, tolerances included (item 16)', () => {
  it.each([
    ['subject', C, C + LIFETIME + TOLERANCE],
    ['session', C, C + LIFETIME + TOLERANCE],
    ['all', C, C + LIFETIME + TOLERANCE],
    ['subject', C + 0.999, C + 0.999 + LIFETIME + TOLERANCE],
  ])(
    'the %s cutoff holds until the last instant a covered token (iat %d, exp %d) is accepted',
    async (kind, iat, exp) => {
      const { clock, verifier } = setup();
      clock.set(C * 1000 + 999);
      // The longest-lived token the verifier accepts, issued at the cutoff instant.
      const covered = await token({ iat, exp, sid: 's-1' });
      expect(await reason(verifier.verify(covered))).toBe('accepted');
      if (kind === 'subject') await verifier.invalidateSubject('alice');
      else if (kind === 'session') await verifier.invalidateSession('s-1');
      else await verifier.invalidateAll();
      const lastAccepted = Math.ceil(exp + TOLERANCE) * 1000 - 1; // jose: exp > floor(now) - tolerance
      clock.set(lastAccepted);
      expect(await reason(verifier.verify(covered))).toBe('revoked');
      clock.set(lastAccepted + 1);
      expect(await reason(verifier.verify(covered))).toBe('token_expired');
    },
  );

  it('a denylisted token with a fractional exp stays refused until it is expired for jose too', async () => {
    const { clock, verifier } = setup();
    const revoked = await token({ iat: C, exp: C + 100.5 });
    expect(await reason(verifier.verify(revoked))).toBe('accepted');
    await verifier.invalidate(revoked);
    clock.set((C + 221) * 1000 - 1); // floor(now) = C + 220 < exp + tolerance = C + 220.5: still acceptable
    expect(await reason(verifier.verify(revoked))).toBe('revoked');
    clock.set((C + 221) * 1000);
    expect(await reason(verifier.verify(revoked))).toBe('token_expired');
  });

  const signNotification = (claims: Record<string, unknown>, typ: string) => {
    const key = idp.keys[0]!;
    return new SignJWT({ iss: idp.issuer, jti: 'captured', sub: 'alice', ...claims })
      .setProtectedHeader({ alg: key.alg, kid: key.kid, typ })
      .sign(key.privateKey);
  };

  it.each([
    [
      'logout token',
      (verifier: Verifier, jwt: string) =>
        processLogoutToken(verifier, jwt, { clientId: idp.client.clientId }).then((r) => r.applied),
      (iat: number) =>
        signNotification({ aud: idp.client.clientId, iat, events: { [BACKCHANNEL_LOGOUT_EVENT]: {} } }, 'logout+jwt'),
    ],
    [
      'security event',
      (verifier: Verifier, jwt: string) =>
        processSecurityEvent(verifier, jwt, { audience: 'receiver' }).then((r) => !r.duplicate),
      (iat: number) =>
        signNotification(
          { aud: 'receiver', iat, events: { [CREDENTIAL_CHANGE]: {} }, sub_id: { format: 'opaque', id: 'alice' } },
          'secevent+jwt',
        ),
    ],
  ])(
    'a captured %s replayed at the last instant it is accepted is recognised as a replay',
    async (_kind, deliver, sign) => {
      const { clock, verifier } = setup();
      // Issued by an IdP whose clock runs ahead by the whole tolerance, received at once.
      const captured = await sign(C + TOLERANCE);
      expect(await deliver(verifier, captured)).toBe(true);
      // Alice signs in again later; the attacker replays the captured notification at the last
      // instant the verifier still accepts it: floor(now) ≤ iat + maxAge (300) + tolerance.
      const lastAccepted = (C + TOLERANCE + 300 + TOLERANCE + 1) * 1000 - 1;
      clock.set(lastAccepted - 20_000);
      const fresh = await signToken(
        standardClaims(idp, { sub: 'alice', iat: Math.floor(clock() / 1000) }, clock()),
        idp.keys[0]!,
      );
      expect(await reason(verifier.verify(fresh))).toBe('accepted');
      clock.set(lastAccepted);
      expect(await deliver(verifier, captured)).toBe(false);
      expect(await reason(verifier.verify(fresh))).toBe('accepted');
      clock.set(lastAccepted + 1);
      await expect(deliver(verifier, captured)).rejects.toThrow();
      expect(await reason(verifier.verify(fresh))).toBe('accepted');
    },
  );
});

describe("a notification cuts at its own iat (the IdP's clock)", () => {
  const signLogout = (iat: number, jti: string) => {
    const key = idp.keys[0]!;
    return new SignJWT({
      iss: idp.issuer,
      aud: idp.client.clientId,
      jti,
      sub: 'alice',
      iat,
      events: { [BACKCHANNEL_LOGOUT_EVENT]: {} },
    })
      .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'logout+jwt' })
      .sign(key.privateKey);
  };

  it('a logout delivered late cuts what was issued before it, not a sign-in made while it was in transit; its retry cuts the same', async () => {
    const { clock, verifier } = setup();
    const before = await token({ iat: C - 10 });
    const after = await token({ iat: C + 20 }); // alice signed in again after the IdP logged her out
    const logout = await signLogout(C, 'late-logout');
    clock.set((C + 30) * 1000); // the IdP's POST arrives 30 s after it signed the logout token
    expect(await reason(verifier.verify(after))).toBe('accepted');
    expect((await processLogoutToken(verifier, logout, { clientId: idp.client.clientId })).applied).toBe(true);
    expect(await reason(verifier.verify(before))).toBe('revoked');
    expect(await reason(verifier.verify(after))).toBe('accepted');
    // The IdP's retry (or a replay) makes the very same cutoff again: still nothing newer is cut.
    clock.set((C + 200) * 1000);
    expect((await processLogoutToken(verifier, logout, { clientId: idp.client.clientId })).applied).toBe(false);
    expect(await reason(verifier.verify(after))).toBe('accepted');
    expect(await reason(verifier.verify(before))).toBe('revoked');
  });

  it('invalidateSubject(sub, { at }) never cuts into the future: a later instant is taken as now', async () => {
    const { clock, verifier } = setup();
    await verifier.invalidateSubject('alice', { at: (C + 3600) * 1000 });
    clock.set((C + 10) * 1000);
    expect(await reason(verifier.verify(await token({ iat: C + 5 })))).toBe('accepted');
    expect(await reason(verifier.verify(await token({ iat: C })))).toBe('revoked');
    await expect(verifier.invalidateSubject('alice', { at: Number.NaN })).rejects.toThrow(TypeError);
  });
});

describe('tokens without exp (item 17)', () => {
  it('with requiredClaims: [], a revoked exp-less token is never accepted again', async () => {
    const { clock, verifier } = setup({ requiredClaims: [] });
    const revoked = await token({ iat: C, exp: undefined });
    expect(await reason(verifier.verify(revoked))).toBe('accepted');
    await verifier.invalidate(revoked);
    for (const at of [C * 1000 + LIFETIME * 1000 + 1, (C + LIFETIME + TOLERANCE) * 1000 - 1]) {
      clock.set(at);
      expect(await reason(verifier.verify(revoked))).toBe('revoked');
    }
    for (const at of [(C + LIFETIME + TOLERANCE) * 1000, (C + 100 * LIFETIME) * 1000]) {
      clock.set(at);
      expect(await reason(verifier.verify(revoked))).toBe('token_expired');
    }
  });

  it('an exp-less token expires at iat + maxTokenLifetime (+ tolerance), revoked or not', async () => {
    const { clock, verifier } = setup({ requiredClaims: [] });
    const unrevoked = await token({ iat: C, exp: undefined });
    clock.set((C + LIFETIME + TOLERANCE) * 1000 - 1);
    expect(await reason(verifier.verify(unrevoked))).toBe('accepted');
    clock.set((C + LIFETIME + TOLERANCE) * 1000);
    expect(await reason(verifier.verify(unrevoked))).toBe('token_expired');
  });

  it('a token with neither exp nor iat is refused: nothing bounds its revocation', async () => {
    const { verifier } = setup({ requiredClaims: [] });
    expect(await reason(verifier.verify(await token({ iat: undefined, exp: undefined })))).toBe('claim_missing');
  });

  it('a subject cutoff covers an exp-less token until it expires', async () => {
    const { clock, verifier } = setup({ requiredClaims: [] });
    const covered = await token({ iat: C, exp: undefined });
    await verifier.invalidateSubject('alice');
    clock.set((C + LIFETIME + TOLERANCE) * 1000 - 1);
    expect(await reason(verifier.verify(covered))).toBe('revoked');
  });
});
