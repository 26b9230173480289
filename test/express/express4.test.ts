/** The peer range says Express >= 4.18: the guard and the routes under Express 4 too. */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createRequire } from 'node:module';
import request from 'supertest';
import { authErrorHandler, authGuard, createVerifier, revokeRoute, type Verifier } from '../../src/index.js';
import { startIdp, type EmbeddedIdp } from '../support/idp.js';

// Express 4 installed under an alias (devDependency "express4": "npm:express@4").
const express4 = createRequire(import.meta.url)('express4') as typeof import('express');

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

describe('Express 4', () => {
  it('guards routes, renders RFC 6750 errors through the default handler, and logs out', async () => {
    const app = express4();
    app.use(express4.json());
    app.get('/notes', authGuard({ verifier, scopes: ['notes:read'] }) as never, (req, res) => {
      res.json({ sub: (req as unknown as { auth: { payload: { sub: string } } }).auth.payload.sub });
    });
    app.post('/logout', revokeRoute({ verifier }) as never);
    const token = await idp.issueAccessToken({ scope: 'notes:read' });

    const ok = await request(app).get('/notes').auth(token, { type: 'bearer' });
    expect(ok.status).toBe(200);
    expect(ok.body).toEqual({ sub: idp.client.clientId });

    const missing = await request(app).get('/notes');
    expect(missing.status).toBe(401);
    expect(missing.headers['www-authenticate']).toBe('Bearer realm="api"');

    // Express 4's body-parser leaves req.body = {} for a bodyless POST: the route must still
    // fall back to the bearer token.
    expect((await request(app).post('/logout').auth(token, { type: 'bearer' })).status).toBe(200);
    const revoked = await request(app).get('/notes').auth(token, { type: 'bearer' });
    expect(revoked.status).toBe(401);
    expect(revoked.headers['www-authenticate']).toContain('The access token has been revoked');
  });

  it('works with authErrorHandler for JSON errors', async () => {
    const app = express4();
    app.use(authGuard({ verifier }) as never);
    app.get('/', (_req, res) => res.send('ok'));
    app.use(authErrorHandler() as never);
    const res = await request(app).get('/').set('Authorization', 'Bearer nope');
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ error: 'invalid_token', error_description: 'The access token is malformed' });
  });
});
