/**
 * Back-channel logout and security events under several issuers: a notification acts for the
 * issuer that signed it, and for no other. Two real IdPs (oidc-provider) serve the keys; the
 * notifications are signed with their genuine keys, as a partner IdP (or one compromised) would.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import express from 'express';
import { SignJWT } from 'jose';
import request from 'supertest';
import {
  authErrorHandler,
  authGuard,
  backchannelLogoutRoute,
  createVerifier,
  CREDENTIAL_CHANGE,
  securityEventRoute,
  SESSION_REVOKED,
  type Verifier,
} from '../../src/index.js';
import { replayKey } from '../../src/core/receive/issuer-notification.js';
import { signToken, standardClaims, startIdp, testClock, type EmbeddedIdp } from '../support/idp.js';

const AUD = 'https://api.example/receiver';
const BCL = 'http://schemas.openid.net/event/backchannel-logout';
let east: EmbeddedIdp;
let west: EmbeddedIdp;
let clock: ReturnType<typeof testClock>;
let verifier: Verifier;
let app: express.Express;

beforeAll(async () => {
  [east, west] = await Promise.all([startIdp(), startIdp({ alg: 'ES256' })]);
  clock = testClock(1_800_000_000_000);
  verifier = createVerifier({
    clock,
    issuers: [
      { issuer: east.issuer, audience: east.audience },
      { issuer: west.issuer, audience: west.audience, algorithms: ['ES256'] },
    ],
  });
  app = express();
  app.post(
    '/backchannel-logout',
    express.urlencoded({ extended: false }),
    backchannelLogoutRoute({ verifier, clientId: east.client.clientId }),
  );
  app.post('/security-events', securityEventRoute({ verifier, audience: AUD }));
  app.get('/notes', authGuard({ verifier }), (req, res) => res.json({ sub: req.auth!.payload.sub }));
  app.use(authErrorHandler());
});
afterAll(async () => {
  await verifier.close();
  await Promise.all([east.close(), west.close()]);
});

const now = () => Math.floor(clock() / 1000);
const accessToken = (idp: EmbeddedIdp, sub: string) =>
  signToken(standardClaims(idp, { sub, iat: now() - 5 }, clock()), idp.keys[0]!);
const status = async (token: string) => (await request(app).get('/notes').auth(token, { type: 'bearer' })).status;

function sign(idp: EmbeddedIdp, claims: Record<string, unknown>, typ: string) {
  const key = idp.keys[0]!;
  return new SignJWT({ iss: idp.issuer, iat: now(), jti: `jti-${Math.random()}`, ...claims })
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ })
    .sign(key.privateKey);
}
const logoutToken = (idp: EmbeddedIdp, claims: Record<string, unknown>) =>
  sign(idp, { aud: idp.client.clientId, events: { [BCL]: {} }, ...claims }, 'logout+jwt');
const securityEvent = (idp: EmbeddedIdp, events: Record<string, unknown>, claims: Record<string, unknown> = {}) =>
  sign(idp, { aud: AUD, events, ...claims }, 'secevent+jwt');
const logout = async (token: string) =>
  (await request(app).post('/backchannel-logout').type('form').send({ logout_token: token })).status;
const push = (token: string) =>
  request(app).post('/security-events').set('content-type', 'application/secevent+jwt').send(token);

describe('notifications under several issuers', () => {
  it("west's logout token for alice logs out west's alice only, never east's", async () => {
    const [eastAlice, westAlice] = await Promise.all([accessToken(east, 'alice'), accessToken(west, 'alice')]);
    expect([await status(eastAlice), await status(westAlice)]).toEqual([200, 200]);
    expect(await logout(await logoutToken(west, { sub: 'alice' }))).toBe(200);
    expect(await status(westAlice)).toBe(401);
    expect(await status(eastAlice)).toBe(200);
  });

  it("west's session-revoked SET (opaque subject) cuts west's subject only", async () => {
    const [eastBea, westBea] = await Promise.all([accessToken(east, 'bea'), accessToken(west, 'bea')]);
    expect(
      (await push(await securityEvent(west, { [SESSION_REVOKED]: {} }, { sub_id: { format: 'opaque', id: 'bea' } })))
        .status,
    ).toBe(202);
    expect(await status(westBea)).toBe(401);
    expect(await status(eastBea)).toBe(200);
  });

  it("west's own SET in iss_sub format is applied to west (not answered 202 and ignored)", async () => {
    const [eastDave, westDave] = await Promise.all([accessToken(east, 'dave'), accessToken(west, 'dave')]);
    const res = await push(
      await securityEvent(
        west,
        { [CREDENTIAL_CHANGE]: {} },
        { sub_id: { format: 'iss_sub', iss: west.issuer, sub: 'dave' } },
      ),
    );
    expect(res.status).toBe(202);
    expect(await status(westDave)).toBe(401);
    expect(await status(eastDave)).toBe(200);
  });

  it("a SET signed by west naming east's subject (iss_sub) touches nobody", async () => {
    const eastEve = await accessToken(east, 'eve');
    const res = await push(
      await securityEvent(
        west,
        { [CREDENTIAL_CHANGE]: {} },
        { sub_id: { format: 'iss_sub', iss: east.issuer, sub: 'eve' } },
      ),
    );
    expect(res.status).toBe(202);
    expect(await status(eastEve)).toBe(200);
  });

  it("east's logout is applied even when west used the same jti first (replay records are per issuer)", async () => {
    const [eastFay, eastGus] = await Promise.all([accessToken(east, 'fay'), accessToken(east, 'gus')]);
    const westFay = await accessToken(west, 'fay');
    expect(await logout(await logoutToken(west, { sub: 'fay', jti: 'shared-jti' }))).toBe(200);
    expect(await status(westFay)).toBe(401);
    expect(await status(eastFay)).toBe(200);
    expect(await logout(await logoutToken(east, { sub: 'gus', jti: 'shared-jti' }))).toBe(200);
    expect(await status(eastGus)).toBe(401);
    // The same for security events.
    const [eastHal, westHal] = await Promise.all([accessToken(east, 'hal'), accessToken(west, 'hal')]);
    expect(
      (
        await push(
          await securityEvent(
            west,
            { [CREDENTIAL_CHANGE]: {} },
            { jti: 'shared-set', sub_id: { format: 'opaque', id: 'hal' } },
          ),
        )
      ).status,
    ).toBe(202);
    expect(
      (
        await push(
          await securityEvent(
            east,
            { [CREDENTIAL_CHANGE]: {} },
            { jti: 'shared-set', sub_id: { format: 'opaque', id: 'hal' } },
          ),
        )
      ).status,
    ).toBe(202);
    expect([await status(eastHal), await status(westHal)]).toEqual([401, 401]);
  });

  it("a replay of the same issuer's logout token is still recognised as a replay", async () => {
    const token = await logoutToken(west, { sub: 'ida' });
    expect(await logout(token)).toBe(200);
    const earlier = await accessToken(west, 'ida');
    clock.advance(2000);
    const later = await signToken(standardClaims(west, { sub: 'ida', iat: now() }, clock()), west.keys[0]!);
    expect(await logout(token)).toBe(200); // acknowledged, not applied again
    expect(await status(later)).toBe(200);
    expect(await status(earlier)).toBe(401);
  });

  it('replay keys encode the issuer unambiguously', () => {
    expect(replayKey('bcl', 'https://idp.example/c', '9:k')).not.toBe(replayKey('bcl', 'https://idp.example/c:9', 'k'));
    expect(replayKey('set', 'https://idp.example/c', 'k')).not.toBe(replayKey('bcl', 'https://idp.example/c', 'k'));
  });
});
