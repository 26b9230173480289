/**
 * IdP-pushed revocations: OpenID Connect Back-Channel Logout (end to end with oidc-provider's own
 * feature) and RFC 8935 Security Event Tokens with CAEP events.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { SignJWT } from 'jose';
import request from 'supertest';
import {
  authErrorHandler,
  authGuard,
  backchannelLogoutRoute,
  createMemoryStore,
  createVerifier,
  CREDENTIAL_CHANGE,
  securityEventRoute,
  SESSION_REVOKED,
  type Verifier,
} from '../../src/index.js';
import { attackerKey, signToken, standardClaims, startIdp, type EmbeddedIdp } from '../support/idp.js';

let idp: EmbeddedIdp;
let server: Server;
let apiA: express.Express;
let verifierA: Verifier;
let verifierB: Verifier;
const logoutCalls: number[] = [];

function notesApp(verifier: Verifier) {
  const app = express();
  app.all('/backchannel-logout', express.urlencoded({ extended: false }), (req, res, next) => {
    backchannelLogoutRoute({ verifier, clientId: idp.client.clientId })(req, res, next);
    res.on('finish', () => logoutCalls.push(res.statusCode));
  });
  app.post('/security-events', securityEventRoute({ verifier, audience: 'https://api.example/receiver' }));
  app.get('/notes', authGuard({ verifier }), (req, res) => {
    res.json({ sub: req.auth!.payload.sub });
  });
  app.use(authErrorHandler());
  return app;
}

const userToken = (sub: string, extra: Record<string, unknown> = {}) =>
  signToken(standardClaims(idp, { sub, iat: Math.floor(Date.now() / 1000) - 5, ...extra }), idp.keys[0]!);

beforeAll(async () => {
  // Reserve the API's port first: the IdP needs its back-channel logout URI at start.
  server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  idp = await startIdp({ backchannelLogoutUri: `http://127.0.0.1:${port}/backchannel-logout` });
  const store = createMemoryStore(); // two instances sharing one store
  verifierA = createVerifier({ issuer: idp.issuer, audience: idp.audience, store });
  verifierB = createVerifier({ issuer: idp.issuer, audience: idp.audience, store });
  apiA = notesApp(verifierA);
  server.on('request', apiA);
});

afterAll(async () => {
  await verifierA.close();
  await verifierB.close();
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await idp.close();
});

describe('OpenID Connect Back-Channel Logout', () => {
  it("the IdP ends alice's session: her tokens are refused on every instance, bob's are not", async () => {
    const alice = await userToken('alice', { sid: 'session-1' });
    const aliceOtherSession = await userToken('alice');
    const bob = await userToken('bob');
    const appB = notesApp(verifierB);
    for (const t of [alice, aliceOtherSession, bob])
      expect((await request(appB).get('/notes').auth(t, { type: 'bearer' })).status).toBe(200);

    await idp.backchannelLogout('alice', 'session-1'); // oidc-provider signs and POSTs the logout token
    expect(logoutCalls.at(-1)).toBe(200);

    expect((await request(appB).get('/notes').auth(alice, { type: 'bearer' })).status).toBe(401);
    expect((await request(appB).get('/notes').auth(aliceOtherSession, { type: 'bearer' })).status).toBe(401);
    expect((await request(apiA).get('/notes').auth(alice, { type: 'bearer' })).status).toBe(401);
    expect((await request(appB).get('/notes').auth(bob, { type: 'bearer' })).status).toBe(200);
    expect(verifierB.stats().revocation).toMatchObject({ subjectCutoffs: 1, sessionCutoffs: 1 });
  });

  async function logoutToken(
    claims: Record<string, unknown>,
    header: Record<string, unknown> = {},
    key = idp.keys[0]!,
  ) {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({
      iss: idp.issuer,
      aud: idp.client.clientId,
      iat: now,
      jti: `jti-${Math.random()}`,
      sub: 'carol',
      events: { 'http://schemas.openid.net/event/backchannel-logout': {} },
      ...claims,
    })
      .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'logout+jwt', ...header })
      .sign(key.privateKey);
  }

  const post = (token: string) => request(apiA).post('/backchannel-logout').type('form').send({ logout_token: token });

  it.each([
    ['another audience', { aud: 'someone-else' }],
    ['no events claim', { events: undefined }],
    ['the wrong event', { events: { 'http://schemas.openid.net/event/other': {} } }],
    ['an event that is not an object', { events: { 'http://schemas.openid.net/event/backchannel-logout': 'yes' } }],
    ['a nonce', { nonce: 'n' }],
    ['neither sub nor sid', { sub: undefined }],
    ['no jti', { jti: undefined }],
    ['an old iat', { iat: Math.floor(Date.now() / 1000) - 3600 }],
    ['another issuer', { iss: 'https://evil.example' }],
  ])('refuses a logout token with %s (400, nothing revoked)', async (_name, claims) => {
    const before = verifierA.stats().revocation.subjectCutoffs;
    const res = await post(await logoutToken(claims));
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error: 'invalid_request' });
    expect(res.headers['cache-control']).toBe('no-store');
    expect(verifierA.stats().revocation.subjectCutoffs).toBe(before);
  });

  it('refuses an access token (typ at+jwt) posted as a logout token', async () => {
    expect((await post(await logoutToken({}, { typ: 'at+jwt' }))).status).toBe(400);
  });

  it('refuses a logout token signed by an attacker key', async () => {
    const attacker = await attackerKey();
    expect((await post(await logoutToken({}, {}, { ...attacker, kid: idp.keys[0]!.kid }))).status).toBe(400);
  });

  it('accepts a valid token once; a replay is acknowledged but not applied again', async () => {
    const token = await logoutToken({ sub: 'dave' });
    expect((await post(token)).status).toBe(200);
    expect((await post(token)).status).toBe(200);
    expect(
      (
        await request(apiA)
          .get('/notes')
          .auth(await userToken('dave'), { type: 'bearer' })
      ).status,
    ).toBe(401);
  });

  it('answers 400 without a logout_token and 405 for GET', async () => {
    expect((await request(apiA).post('/backchannel-logout').type('form').send({})).status).toBe(400);
    expect((await request(apiA).get('/backchannel-logout')).status).toBe(405);
  });

  it('validates its options at construction', () => {
    expect(() => backchannelLogoutRoute({ verifier: verifierA } as never)).toThrow(/clientId/);
  });
});

describe('Security Event Tokens (RFC 8935, CAEP)', () => {
  const AUD = 'https://api.example/receiver';
  async function set(
    events: Record<string, unknown>,
    claims: Record<string, unknown> = {},
    header: Record<string, unknown> = {},
  ) {
    const key = idp.keys[0]!;
    return new SignJWT({
      iss: idp.issuer,
      aud: AUD,
      iat: Math.floor(Date.now() / 1000),
      jti: `set-${Math.random()}`,
      events,
      ...claims,
    })
      .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'secevent+jwt', ...header })
      .sign(key.privateKey);
  }
  const push = (body: string, type = 'application/secevent+jwt') =>
    request(apiA).post('/security-events').set('content-type', type).send(body);

  it("CAEP credential-change (iss_sub subject) refuses that subject's tokens: 202", async () => {
    const erin = await userToken('erin');
    expect((await request(apiA).get('/notes').auth(erin, { type: 'bearer' })).status).toBe(200);
    const res = await push(
      await set(
        { [CREDENTIAL_CHANGE]: { event_timestamp: 1 } },
        { sub_id: { format: 'iss_sub', iss: idp.issuer, sub: 'erin' } },
      ),
    );
    expect(res.status).toBe(202);
    expect((await request(apiA).get('/notes').auth(erin, { type: 'bearer' })).status).toBe(401);
  });

  it('CAEP session-revoked with a complex subject revokes just that session', async () => {
    const inSession = await userToken('frank', { sid: 's-42' });
    const elsewhere = await userToken('frank', { sid: 's-43' });
    const res = await push(
      await set(
        { [SESSION_REVOKED]: {} },
        {
          sub_id: {
            format: 'complex',
            user: { format: 'iss_sub', iss: idp.issuer, sub: 'frank' },
            session: { format: 'opaque', id: 's-42' },
          },
        },
      ),
    );
    expect(res.status).toBe(202);
    expect((await request(apiA).get('/notes').auth(inSession, { type: 'bearer' })).status).toBe(401);
    expect((await request(apiA).get('/notes').auth(elsewhere, { type: 'bearer' })).status).toBe(200);
  });

  it('CAEP session-revoked with the subject inside the event (older drafts) revokes the subject', async () => {
    const gina = await userToken('gina');
    const res = await push(
      await set({ [SESSION_REVOKED]: { subject: { format: 'iss_sub', iss: idp.issuer, sub: 'gina' } } }),
    );
    expect(res.status).toBe(202);
    expect((await request(apiA).get('/notes').auth(gina, { type: 'bearer' })).status).toBe(401);
  });

  it('acknowledges unknown events and subjects of other issuers without acting', async () => {
    const before = verifierA.stats().revocation.subjectCutoffs;
    expect(
      (await push(await set({ 'https://example.com/event/other': {} }, { sub_id: { format: 'opaque', id: 'x' } })))
        .status,
    ).toBe(202);
    expect(
      (
        await push(
          await set(
            { [CREDENTIAL_CHANGE]: {} },
            { sub_id: { format: 'iss_sub', iss: 'https://other.example', sub: 'x' } },
          ),
        )
      ).status,
    ).toBe(202);
    expect(verifierA.stats().revocation.subjectCutoffs).toBe(before);
  });

  it.each([
    ['invalid_audience', { aud: 'https://someone.else' }, {}],
    ['invalid_issuer', { iss: 'https://evil.example' }, {}],
    ['invalid_request', { jti: undefined }, {}],
    ['invalid_request', {}, { typ: 'JWT' }],
  ])('answers 400 %s for a bad SET', async (err, claims, header) => {
    const res = await push(
      await set({ [CREDENTIAL_CHANGE]: {} }, { sub_id: { format: 'opaque', id: 'hank' }, ...claims }, header),
    );
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ err });
  });

  it.each([
    ['an empty opaque id', { sub_id: { format: 'opaque', id: '' } }],
    ['an opaque subject without id', { sub_id: { format: 'opaque' } }],
    ['an empty iss_sub sub', { sub_id: { format: 'iss_sub', iss: 'ISSUER', sub: '' } }],
    ['an iss_sub subject without iss', { sub_id: { format: 'iss_sub', sub: 'hank' } }],
    ['an empty session id', { sub_id: { format: 'complex', session: { format: 'opaque', id: '' } } }],
    ['a complex subject naming nothing', { sub_id: { format: 'complex' } }],
    ['a subject that is not an object', { sub_id: 'hank' }],
    ['an empty sub', { sub: '' }],
  ])(
    'answers 400 invalid_request for a SET whose subject is malformed: %s (nothing recorded)',
    async (_name, claims) => {
      const before = verifierA.stats().revocation;
      const subject = JSON.parse(JSON.stringify(claims).replace('ISSUER', idp.issuer)) as Record<string, unknown>;
      const token = await set({ [SESSION_REVOKED]: {} }, { jti: `malformed-${Math.random()}`, ...subject });
      const res = await push(token);
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ err: 'invalid_request' });
      expect(verifierA.stats().revocation).toMatchObject({
        subjectCutoffs: before.subjectCutoffs,
        sessionCutoffs: before.sessionCutoffs,
      });
    },
  );

  it('answers 400 invalid_key for a SET signed by someone else', async () => {
    const attacker = await attackerKey();
    const forged = await new SignJWT({
      iss: idp.issuer,
      aud: AUD,
      iat: Math.floor(Date.now() / 1000),
      jti: 'x',
      events: { [CREDENTIAL_CHANGE]: {} },
    })
      .setProtectedHeader({ alg: 'RS256', kid: idp.keys[0]!.kid, typ: 'secevent+jwt' })
      .sign(attacker.privateKey);
    const res = await push(forged);
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ err: 'invalid_key', description: expect.any(String) });
  });

  it('answers 400 for the wrong content type or an empty body; 202 for a duplicate', async () => {
    const token = await set({ [CREDENTIAL_CHANGE]: {} }, { sub_id: { format: 'opaque', id: 'ivy' } });
    expect((await push(token, 'application/json')).status).toBe(400);
    expect((await push('')).status).toBe(400);
    expect((await push(token)).status).toBe(202);
    expect((await push(token)).status).toBe(202);
  });
});

describe('events', () => {
  it('reports verified, rejected and revoked (with the source) to listeners', async () => {
    const store = createMemoryStore();
    const a = createVerifier({ issuer: idp.issuer, audience: idp.audience, store });
    const b = createVerifier({ issuer: idp.issuer, audience: idp.audience, store });
    const seen: string[] = [];
    b.on('verified', (e) => seen.push(`verified cached=${e.cached} sub=${e.subject}`));
    b.on('rejected', (e) => seen.push(`rejected ${e.reason}`));
    b.on('revoked', (e) => seen.push(`revoked ${e.type} from ${e.source} lag=${typeof e.lagMs}`));
    a.on('revoked', (e) => seen.push(`a: revoked ${e.type} from ${e.source}`));
    const app = express()
      .use(authGuard({ verifier: b }))
      .get('/', (_req, res) => res.send('ok'));
    const token = await userToken('jack');
    await request(app).get('/').auth(token, { type: 'bearer' });
    await request(app).get('/').auth(token, { type: 'bearer' });
    await request(app).get('/');
    await a.invalidate(token);
    await request(app).get('/').auth(token, { type: 'bearer' });
    expect(seen).toEqual([
      'verified cached=false sub=jack',
      'verified cached=true sub=jack',
      'rejected missing_token',
      'a: revoked token from local',
      'revoked token from store lag=number',
      'rejected revoked',
    ]);
    await a.close();
    await b.close();
  });

  it('a throwing listener never breaks verification', async () => {
    const verifier = createVerifier({ issuer: idp.issuer, audience: idp.audience });
    verifier.on('verified', () => {
      throw new Error('listener bug');
    });
    await expect(verifier.verify(await userToken('kim'))).resolves.toBeDefined();
    await verifier.close();
  });
});
