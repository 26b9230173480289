import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import express from 'express';
import request from 'supertest';
import {
  authErrorHandler,
  authGuard,
  backchannelLogoutRoute,
  createPrometheusMetrics,
  createVerifier,
  revokeRoute,
  securityEventRoute,
  type Verifier,
  type VerifierEventMap,
} from '../../../src/index.js';
import { sendJson, startStubServer, type StubServer } from '../../support/http.js';
import { signToken, standardClaims, startIdp, testClock, type EmbeddedIdp } from '../../support/idp.js';

/**
 * A configuration that cannot work against the IdP is not an outage: 500 (no Retry-After, no
 * bearer challenge, a generic body), the explanation once in a `misconfigured` event and in
 * `stats().misconfigured`, never a 503 that invites clients to retry forever.
 */

let idp: EmbeddedIdp;
const open: Array<{ close(): Promise<void> }> = [];
beforeAll(async () => {
  idp = await startIdp();
});
afterEach(async () => {
  await Promise.all(open.splice(0).map((o) => o.close()));
});
afterAll(async () => {
  await idp.close();
});

const GENERIC = { error: 'server_error', error_description: 'The request could not be processed' };

/** A verifier whose events are recorded. */
function track(verifier: Verifier) {
  const misconfigured: Array<VerifierEventMap['misconfigured']> = [];
  const rejected: Array<VerifierEventMap['rejected']> = [];
  verifier.on('misconfigured', (e) => misconfigured.push(e));
  verifier.on('rejected', (e) => rejected.push(e));
  open.push(verifier);
  return { verifier, misconfigured, rejected };
}

/** An Express app as deployed: in production mode its default handler shows no stack traces. */
function productionApp() {
  const app = express();
  app.set('env', 'production');
  return app;
}

function guardedApp(verifier: Verifier, withHandler = true) {
  const app = productionApp();
  app.get('/notes', authGuard({ verifier }), (_req, res) => {
    res.json({ ok: true });
  });
  if (withHandler) app.use(authErrorHandler());
  return app;
}

/** An IdP front whose metadata we control; keys and tokens come from the real IdP. */
async function metadataStub(
  metadata: (issuer: string) => Record<string, unknown> | undefined,
  routes: Record<string, (res: import('node:http').ServerResponse) => void> = {},
): Promise<StubServer> {
  let self = '';
  const stub = await startStubServer((req, res) => {
    const route = routes[req.url ?? ''];
    if (route) return route(res);
    const body = req.url === '/.well-known/openid-configuration' ? metadata(self) : undefined;
    if (body === undefined) sendJson(res, 404, { error: 'not_found' });
    else sendJson(res, 200, body);
  });
  self = stub.url;
  open.push(stub);
  return stub;
}

function expectMisconfiguredResponse(res: request.Response, secret: string) {
  expect(res.status).toBe(500);
  expect(res.headers['retry-after']).toBeUndefined();
  expect(res.headers['www-authenticate']).toBeUndefined();
  // Nothing about the configuration reaches the client.
  expect(res.text).not.toContain(secret);
}

describe('issuer differing from the metadata by a trailing slash (the reported case)', () => {
  it('answers 500 without Retry-After or challenge, and says why once: event and stats', async () => {
    const clock = testClock();
    const configured = `${idp.issuer}/`;
    const { verifier, misconfigured, rejected } = track(
      createVerifier({ issuer: configured, audience: idp.audience, clock }),
    );
    const app = guardedApp(verifier);
    const token = await idp.issueAccessToken({ scope: 'notes:read' });

    for (let i = 0; i < 3; i += 1) {
      const res = await request(app).get('/notes').set('Authorization', `Bearer ${token}`);
      expectMisconfiguredResponse(res, idp.issuer);
      expect(res.body).toEqual(GENERIC);
      clock.advance(60_000); // past every backoff: discovery runs again and fails the same way
    }
    expect(misconfigured).toHaveLength(1);
    expect(misconfigured[0]!.source).toBe('keys');
    expect(misconfigured[0]!.issuer).toBe(configured);
    expect(misconfigured[0]!.message).toContain(
      `is for issuer ${JSON.stringify(idp.issuer)}, not the configured ${JSON.stringify(configured)}`,
    );
    expect(misconfigured[0]!.message).toContain('trailing slash included');
    expect(verifier.stats().misconfigured).toBe(misconfigured[0]!.message);
    expect(rejected.map((r) => [r.reason, r.status])).toEqual([
      ['misconfigured', 500],
      ['misconfigured', 500],
      ['misconfigured', 500],
    ]);
  });

  it('is a plain 500 under Express’s default error handler too (production mode: no Retry-After, no challenge, no detail)', async () => {
    const { verifier } = track(createVerifier({ issuer: `${idp.issuer}/`, audience: idp.audience }));
    const token = await idp.issueAccessToken({ scope: 'notes:read' });
    const res = await request(guardedApp(verifier, false)).get('/notes').set('Authorization', `Bearer ${token}`);
    expectMisconfiguredResponse(res, idp.issuer);
  });

  it('verify() rejects with a MisconfiguredError carrying the explanation in its message', async () => {
    const { verifier } = track(createVerifier({ issuer: `${idp.issuer}/`, audience: idp.audience }));
    const token = await idp.issueAccessToken({ scope: 'notes:read' });
    const error = (await verifier.verify(token).catch((e: unknown) => e)) as Error & {
      status: number;
      expose: boolean;
      headers: object;
    };
    expect(error.name).toBe('MisconfiguredError');
    expect(error.status).toBe(500);
    expect(error.expose).toBe(false);
    expect(error.headers).toEqual({});
    expect(error.message).toMatch(/^revocable-jwt: metadata at .* not the configured .*; fix `issuer`/);
  });

  it('the metrics exporter shows it as a gauge', async () => {
    const { verifier } = track(createVerifier({ issuer: `${idp.issuer}/`, audience: idp.audience }));
    const metrics = createPrometheusMetrics({ verifier });
    expect(await metrics.metrics()).toMatch(/^revocable_jwt_misconfigured 0$/m);
    await verifier.verify(await idp.issueAccessToken()).catch(() => undefined);
    expect(await metrics.metrics()).toMatch(/^revocable_jwt_misconfigured 1$/m);
    expect(await metrics.metrics()).toMatch(
      /^revocable_jwt_requests_total\{result="rejected",reason="misconfigured",cached=""\} 1$/m,
    );
    metrics.close();
  });
});

describe('other configuration errors found at run time', () => {
  it('discovery answering 404 at both well-known locations: 500, check `issuer`', async () => {
    const stub = await metadataStub(() => undefined);
    const { verifier, misconfigured } = track(createVerifier({ issuer: stub.url, audience: idp.audience }));
    const token = await signToken(standardClaims(idp, { iss: stub.url }), idp.keys[0]!);
    const res = await request(guardedApp(verifier)).get('/notes').set('Authorization', `Bearer ${token}`);
    expectMisconfiguredResponse(res, stub.url);
    expect(misconfigured).toEqual([
      {
        source: 'keys',
        message: expect.stringMatching(/no discovery document found for .*; check `issuer`, or pass `jwksUri`/),
        issuer: stub.url,
      },
    ]);
  });

  it('a jwks_uri our URL policy refuses: 500, then healed once the metadata is fixed (stats cleared)', async () => {
    const clock = testClock();
    let jwksUri = 'http://keys.example.com/jwks'; // plain http on a public host: refused
    const stub = await metadataStub((issuer) => ({ issuer, jwks_uri: jwksUri }));
    const { verifier, misconfigured } = track(createVerifier({ issuer: stub.url, audience: idp.audience, clock }));
    const app = guardedApp(verifier);
    const token = await signToken(standardClaims(idp, { iss: stub.url }, clock()), idp.keys[0]!);

    expectMisconfiguredResponse(
      await request(app).get('/notes').set('Authorization', `Bearer ${token}`),
      'keys.example.com',
    );
    expect(misconfigured).toEqual([
      {
        source: 'keys',
        message: expect.stringMatching(
          /no usable jwks_uri .*http on a non-loopback host.*set `jwksUri`, or `allowHttp`/,
        ),
        issuer: stub.url,
      },
    ]);
    expect(verifier.stats().misconfigured).toBe(misconfigured[0]!.message);

    jwksUri = `${idp.issuer}/jwks`;
    clock.advance(60_000);
    expect((await request(app).get('/notes').set('Authorization', `Bearer ${token}`)).status).toBe(200);
    expect(verifier.stats().misconfigured).toBeUndefined();
    expect(misconfigured).toHaveLength(1);
  });

  it('introspection without an introspection_endpoint in the metadata: 500, not 503', async () => {
    const stub = await metadataStub((issuer) => ({ issuer, jwks_uri: `${idp.issuer}/jwks` }));
    const { verifier, misconfigured } = track(
      createVerifier({
        issuer: stub.url,
        audience: idp.audience,
        introspection: { clientId: 'api', clientSecret: 'secret' },
      }),
    );
    const res = await request(guardedApp(verifier)).get('/notes').set('Authorization', 'Bearer opaque-token-value');
    expectMisconfiguredResponse(res, stub.url);
    expect(misconfigured).toEqual([
      {
        source: 'introspection',
        message: expect.stringMatching(/no usable introspection_endpoint .*; set `introspection.endpoint`/),
        issuer: stub.url,
      },
    ]);
  });

  it('an introspection endpoint refusing our client (401): 500 until the credentials work, then cleared', async () => {
    let status = 401;
    const stub = await metadataStub(
      (issuer) => ({ issuer, jwks_uri: `${idp.issuer}/jwks`, introspection_endpoint: `${issuer}/introspect` }),
      {
        '/introspect': (res) =>
          sendJson(
            res,
            status,
            status === 200
              ? { active: true, sub: 'alice', aud: idp.audience, exp: Math.floor(Date.now() / 1000) + 60 }
              : { error: 'invalid_client' },
          ),
      },
    );
    const { verifier, misconfigured } = track(
      createVerifier({
        issuer: stub.url,
        audience: idp.audience,
        introspection: { clientId: 'api', clientSecret: 'wrong' },
      }),
    );
    const app = guardedApp(verifier);
    expectMisconfiguredResponse(await request(app).get('/notes').set('Authorization', 'Bearer opaque-1'), stub.url);
    expectMisconfiguredResponse(await request(app).get('/notes').set('Authorization', 'Bearer opaque-2'), stub.url);
    expect(misconfigured).toEqual([
      {
        source: 'introspection',
        message: expect.stringMatching(
          /introspection endpoint refused our client \(401\); check `introspection.clientId`/,
        ),
        issuer: stub.url,
      },
    ]);
    status = 200;
    expect((await request(app).get('/notes').set('Authorization', 'Bearer opaque-3')).status).toBe(200);
    expect(verifier.stats().misconfigured).toBeUndefined();
  });

  it('revokeRoute without a revocation_endpoint in the metadata: 500, not 502 "the IdP refused"', async () => {
    const stub = await metadataStub((issuer) => ({ issuer, jwks_uri: `${idp.issuer}/jwks` }));
    const { verifier, misconfigured } = track(
      createVerifier({
        issuer: stub.url,
        audience: idp.audience,
        revocation: { clientId: 'api', clientSecret: 'secret' },
      }),
    );
    const app = express();
    app.post('/logout', express.urlencoded({ extended: false }), revokeRoute({ verifier }));
    app.use(authErrorHandler());
    const res = await request(app).post('/logout').type('form').send({ token: 'an-opaque-refresh-token' });
    expectMisconfiguredResponse(res, stub.url);
    expect(res.body).toEqual(GENERIC);
    expect(misconfigured).toEqual([
      {
        source: 'revocation',
        message: expect.stringMatching(/no revocation_endpoint; set `revocation.endpoint`/),
        issuer: stub.url,
      },
    ]);
  });

  it('revokeRoute, bearer-only logout with the keys unreachable by misconfiguration: 500, not 401', async () => {
    const { verifier } = track(createVerifier({ issuer: `${idp.issuer}/`, audience: idp.audience }));
    const app = express();
    app.post('/logout', revokeRoute({ verifier }));
    app.use(authErrorHandler());
    const token = await signToken(standardClaims(idp, { iss: `${idp.issuer}/` }), idp.keys[0]!);
    expectMisconfiguredResponse(await request(app).post('/logout').set('Authorization', `Bearer ${token}`), idp.issuer);
  });

  it('back-channel logout and security event routes: 500, neither 400 (the IdP did nothing wrong) nor 503', async () => {
    const { verifier } = track(createVerifier({ issuer: `${idp.issuer}/`, audience: idp.audience }));
    const app = productionApp();
    app.post(
      '/bcl',
      express.urlencoded({ extended: false }),
      backchannelLogoutRoute({ verifier, clientId: idp.client.clientId }),
    );
    app.post('/set', securityEventRoute({ verifier, audience: idp.audience }));
    const jwt = await signToken(standardClaims(idp, { iss: `${idp.issuer}/` }), idp.keys[0]!, { typ: 'logout+jwt' });
    expectMisconfiguredResponse(await request(app).post('/bcl').type('form').send({ logout_token: jwt }), idp.issuer);
    const set = await signToken(standardClaims(idp, { iss: `${idp.issuer}/` }), idp.keys[0]!, { typ: 'secevent+jwt' });
    expectMisconfiguredResponse(
      await request(app).post('/set').set('Content-Type', 'application/secevent+jwt').send(set),
      idp.issuer,
    );
  });

  it('an unreachable IdP is still an outage: 503 with Retry-After, nothing reported as misconfigured', async () => {
    const stub = await startStubServer((_req, res) => sendJson(res, 503, {}));
    open.push(stub);
    const { verifier, misconfigured } = track(createVerifier({ issuer: stub.url, audience: idp.audience }));
    const token = await signToken(standardClaims(idp, { iss: stub.url }), idp.keys[0]!);
    const res = await request(guardedApp(verifier)).get('/notes').set('Authorization', `Bearer ${token}`);
    expect(res.status).toBe(503);
    expect(res.headers['retry-after']).toBeDefined();
    expect(misconfigured).toEqual([]);
    expect(verifier.stats().misconfigured).toBeUndefined();
  });

  it('a multi-issuer verifier names the issuer in stats().misconfigured', async () => {
    const { verifier } = track(createVerifier({ issuers: [{ issuer: `${idp.issuer}/`, audience: idp.audience }] }));
    await verifier
      .verify(await signToken(standardClaims(idp, { iss: `${idp.issuer}/` }), idp.keys[0]!))
      .catch(() => undefined);
    expect(verifier.stats().misconfigured).toMatch(new RegExp(`^${idp.issuer}/: revocable-jwt: metadata at`));
  });
});
