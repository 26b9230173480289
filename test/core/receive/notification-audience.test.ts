/**
 * A logout token or SET is ours only if it names our audience. jose checks `aud` only when given
 * one, so calling the exported process functions without an audience (an unset environment
 * variable) would accept a notification meant for any client of the issuer: refused as misuse.
 */
import { afterAll, describe, expect, it } from '@jest/globals';
import { SignJWT } from 'jose';
import {
  BACKCHANNEL_LOGOUT_EVENT,
  createVerifier,
  processLogoutToken,
  processSecurityEvent,
  SESSION_REVOKED,
  type Verifier,
} from '../../../src/index.js';
import { testClock } from '../../support/idp.js';

const ISSUER = 'https://idp.example/';
const SECRET = new TextEncoder().encode('a-shared-secret-of-at-least-32-bytes!!');
const clock = testClock();
const verifier: Verifier = createVerifier({
  issuer: ISSUER,
  audience: 'api',
  clock,
  algorithms: ['HS256'],
  secret: SECRET,
});
afterAll(() => verifier.close());

/** Signed by our issuer, addressed to another client: must never log anyone out here. */
function notification(typ: string, events: Record<string, unknown>): Promise<string> {
  return new SignJWT({ events, sub: 'alice', sid: 'session-1', jti: `jti-${typ}` })
    .setProtectedHeader({ alg: 'HS256', typ })
    .setIssuer(ISSUER)
    .setAudience('some-other-client')
    .setIssuedAt(Math.floor(clock() / 1000))
    .sign(SECRET);
}

describe('notifications without an audience to check', () => {
  it.each([undefined, '', [], [''], 42])(
    'processLogoutToken refuses clientId %p before verifying',
    async (clientId) => {
      const logout = await notification('logout+jwt', { [BACKCHANNEL_LOGOUT_EVENT]: {} });
      await expect(processLogoutToken(verifier, logout, { clientId } as never)).rejects.toThrow(
        new TypeError('revocable-jwt: processLogoutToken needs `clientId`: the audience the IdP addresses us by'),
      );
      expect(verifier.stats().revocation.subjectCutoffs).toBe(0);
      expect(verifier.stats().revocation.sessionCutoffs).toBe(0);
    },
  );

  it.each([undefined, '', []])('processSecurityEvent refuses audience %p before verifying', async (audience) => {
    const set = await notification('secevent+jwt', { [SESSION_REVOKED]: { subject: { format: 'opaque', id: 'x' } } });
    await expect(processSecurityEvent(verifier, set, { audience } as never)).rejects.toThrow(
      new TypeError('revocable-jwt: processSecurityEvent needs `audience`: the audience the IdP addresses us by'),
    );
    expect(verifier.stats().revocation.sessionCutoffs).toBe(0);
  });

  it('with an audience, a notification addressed to another client is refused and cuts nothing', async () => {
    const logout = await notification('logout+jwt', { [BACKCHANNEL_LOGOUT_EVENT]: {} });
    await expect(processLogoutToken(verifier, logout, { clientId: 'api' })).rejects.toMatchObject({
      code: 'invalid_token',
      reason: 'audience_mismatch',
    });
    expect(verifier.stats().revocation.subjectCutoffs).toBe(0);
  });

  it('a verifier not made by createVerifier() is the app’s mistake (TypeError), not the transmitter’s (400)', async () => {
    const set = await notification('secevent+jwt', { [SESSION_REVOKED]: {} });
    await expect(processSecurityEvent({} as Verifier, set, { audience: 'api' })).rejects.toBeInstanceOf(TypeError);
  });
});
