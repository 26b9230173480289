import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createServer } from 'node:http';
import connect from 'connect';
import express, { type Express } from 'express';
import request from 'supertest';
import {
  authErrorHandler,
  authGuard,
  createVerifier,
  InvalidRequestError,
  writeAuthError,
  type GuardRequest,
  type Verifier,
} from '../../src/index.js';
import {
  issuedAt,
  rawToken,
  signToken,
  standardClaims,
  startIdp,
  testClock,
  type EmbeddedIdp,
} from '../support/idp.js';

let idp: EmbeddedIdp;
let verifier: Verifier;
let app: Express;
let readToken: string;
let writeToken: string;

beforeAll(async () => {
  idp = await startIdp();
  verifier = createVerifier({ issuer: idp.issuer, audience: idp.audience });
  readToken = await idp.issueAccessToken({ scope: 'notes:read' });
  writeToken = await idp.issueAccessToken({ scope: 'notes:read notes:write' });
  app = express();
  app.get('/notes', authGuard({ verifier, scopes: ['notes:read'] }), (req, res) => {
    res.json({
      sub: req.auth?.payload.sub,
      scope: req.auth?.payload.scope,
      token: req.auth?.token === undefined ? 'missing' : 'present',
    });
  });
  app.post('/notes', authGuard({ verifier, scopes: ['notes:write'], realm: 'notes' }), (_req, res) => {
    res.status(201).json({ ok: true });
  });
});
afterAll(async () => {
  await verifier.close();
  await idp.close();
});

const challenge = (res: request.Response) => res.headers['www-authenticate'] as string | undefined;

describe('authGuard on Express (default error handler)', () => {
  it('admits a valid token and sets req.auth', async () => {
    const res = await request(app).get('/notes').set('Authorization', `Bearer ${readToken}`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ sub: idp.client.clientId, scope: 'notes:read', token: 'present' });
  });

  it('accepts the scheme in any case', async () => {
    const res = await request(app).get('/notes').set('Authorization', `bEaReR ${readToken}`);
    expect(res.status).toBe(200);
  });

  it('answers 401 with a bare challenge when no token is sent', async () => {
    const res = await request(app).get('/notes');
    expect(res.status).toBe(401);
    expect(challenge(res)).toBe('Bearer realm="api"');
  });

  it('treats another scheme (Basic) as no bearer credentials: 401 without error code', async () => {
    const res = await request(app).get('/notes').set('Authorization', 'Basic dXNlcjpwYXNz');
    expect(res.status).toBe(401);
    expect(challenge(res)).toBe('Bearer realm="api"');
  });

  it('answers 401 invalid_token for a garbage token', async () => {
    const res = await request(app).get('/notes').set('Authorization', 'Bearer not-a-jwt');
    expect(res.status).toBe(401);
    expect(challenge(res)).toBe(
      'Bearer realm="api", error="invalid_token", error_description="The access token is malformed"',
    );
  });

  it('answers 401 invalid_token for a forged token', async () => {
    const [h, p] = readToken.split('.');
    const res = await request(app).get('/notes').set('Authorization', `Bearer ${h}.${p}.AAAA`);
    expect(res.status).toBe(401);
    expect(challenge(res)).toContain('error="invalid_token"');
  });

  it('answers 401 invalid_token for alg none', async () => {
    const res = await request(app)
      .get('/notes')
      .set('Authorization', `Bearer ${rawToken({ alg: 'none' }, standardClaims(idp))}`);
    expect(res.status).toBe(401);
    expect(challenge(res)).toContain('error="invalid_token"');
  });

  it('answers 401 invalid_token for an expired token', async () => {
    const expired = await signToken(standardClaims(idp, { exp: Math.floor(Date.now() / 1000) - 60 }), idp.keys[0]!);
    const res = await request(app).get('/notes').set('Authorization', `Bearer ${expired}`);
    expect(res.status).toBe(401);
    expect(challenge(res)).toContain('error_description="The access token expired"');
  });

  it.each([
    ['an empty Bearer', 'Bearer'],
    ['two tokens', 'Bearer a b'],
    ['a comma list', 'Bearer abc, Bearer def'],
  ])('answers 400 invalid_request for %s', async (_name, header) => {
    const res = await request(app).get('/notes').set('Authorization', header);
    expect(res.status).toBe(400);
    expect(challenge(res)).toContain('error="invalid_request"');
  });

  it('answers 400 invalid_request for two Authorization headers', async () => {
    const res = await rawGet(app, [
      ['Authorization', `Bearer ${readToken}`],
      ['Authorization', `Bearer ${writeToken}`],
    ]);
    expect(res.status).toBe(400);
    expect(res.headers['www-authenticate']).toContain('error="invalid_request"');
  });

  it('refuses tokens in the query string', async () => {
    const res = await request(app).get(`/notes?access_token=${readToken}`);
    expect(res.status).toBe(400);
    expect(challenge(res)).toContain('error="invalid_request"');
  });

  it('answers 403 insufficient_scope naming the required scope', async () => {
    const res = await request(app).post('/notes').set('Authorization', `Bearer ${readToken}`);
    expect(res.status).toBe(403);
    expect(challenge(res)).toBe(
      'Bearer realm="notes", error="insufficient_scope", error_description="The access token lacks a required scope", scope="notes:write"',
    );
    const ok = await request(app).post('/notes').set('Authorization', `Bearer ${writeToken}`);
    expect(ok.status).toBe(201);
  });

  it('reads scopes from an scp array too', async () => {
    const token = await signToken(standardClaims(idp, { scope: undefined, scp: ['notes:read'] }), idp.keys[0]!);
    const res = await request(app).get('/notes').set('Authorization', `Bearer ${token}`);
    expect(res.status).toBe(200);
  });

  // `scope` as a JSON array (some IdPs send it so) is read like `scp`; garbage shapes grant nothing.
  it.each<[string, number, unknown, unknown]>([
    ['scope as an array', 200, ['notes:read', 'other'], undefined],
    ['scope as an array without the scope', 403, ['notes:write'], undefined],
    ['scp as a string', 200, undefined, 'other notes:read'],
    [
      'scope array with non-string elements around it',
      200,
      [1, null, { a: 'notes:read' }, ['notes:read'], 'notes:read'],
      undefined,
    ],
    ['scope array whose only match is nested', 403, [['notes:read'], { 'notes:read': true }], undefined],
    ['one array element holding two scopes', 403, ['notes:read notes:write'], undefined],
    ['scope as a number', 403, 42, undefined],
    ['scope as an object', 403, { 'notes:read': true }, undefined],
    ['scope as true', 403, true, undefined],
    ['scp as an object with a length', 403, undefined, { length: 1, 0: 'notes:read' }],
  ])('%s → %i', async (_name, status, scope, scp) => {
    const token = await signToken(standardClaims(idp, { scope: scope as never, scp: scp as never }), idp.keys[0]!);
    const res = await request(app).get('/notes').set('Authorization', `Bearer ${token}`);
    expect(res.status).toBe(status);
    if (status === 403) expect(challenge(res)).toContain('error="insufficient_scope"');
  });

  it('keeps stack traces and internals out of the challenge', async () => {
    const res = await request(app).get('/notes').set('Authorization', 'Bearer eyJhbGciOiJSUzI1NiJ9.e30.x');
    expect(challenge(res)).not.toMatch(/at |node_modules|Error:/);
  });
});

// RFC 6750 §2.2 defines body tokens for application/x-www-form-urlencoded only. An app with global
// body parsers must keep working when its JSON payload has an `access_token` field of its own.
describe('authGuard behind global express.json() and express.urlencoded()', () => {
  let parsed: Express;
  beforeAll(() => {
    parsed = express();
    parsed.use(express.json({ type: ['application/json', 'application/*+json'] }));
    parsed.use(express.urlencoded({ extended: false }));
    parsed.post('/links', authGuard({ verifier, scopes: ['notes:read'] }), (req, res) => {
      res.status(201).json({ sub: req.auth?.payload.sub, body: req.body });
    });
  });

  it.each([
    ['application/json', { access_token: 'an-api-field-not-a-credential', name: 'x' }],
    ['application/merge-patch+json', { access_token: 'whatever' }],
  ])('a valid header plus a %s body with access_token: admitted, the body reaches the handler', async (type, body) => {
    const res = await request(parsed)
      .post('/links')
      .set('Authorization', `Bearer ${readToken}`)
      .set('Content-Type', type)
      .send(JSON.stringify(body));
    expect(res.status).toBe(201);
    expect(res.body).toEqual({ sub: idp.client.clientId, body });
  });

  it('a JSON access_token is never used as a token: without a header it is a bare 401', async () => {
    const res = await request(parsed).post('/links').send({ access_token: readToken });
    expect(res.status).toBe(401);
    expect(challenge(res)).toBe('Bearer realm="api"');
  });

  it('a JSON access_token does not rescue a bad header token', async () => {
    const res = await request(parsed)
      .post('/links')
      .set('Authorization', 'Bearer not-a-jwt')
      .send({ access_token: readToken });
    expect(res.status).toBe(401);
    expect(challenge(res)).toContain('error="invalid_token"');
  });

  it('a form body access_token next to the header is a second method: 400', async () => {
    const res = await request(parsed)
      .post('/links')
      .set('Authorization', `Bearer ${readToken}`)
      .type('form')
      .send({ access_token: readToken });
    expect(res.status).toBe(400);
    expect(challenge(res)).toBe(
      'Bearer realm="api", error="invalid_request", error_description="Send the access token by one method only"',
    );
  });

  it('a form body access_token alone is refused with 400, not used', async () => {
    const res = await request(parsed).post('/links').type('form').send({ access_token: readToken });
    expect(res.status).toBe(400);
    expect(challenge(res)).toContain(
      'error_description="Send the access token in the Authorization header, not the body"',
    );
  });

  it('a form body without access_token passes', async () => {
    const res = await request(parsed)
      .post('/links')
      .set('Authorization', `Bearer ${readToken}`)
      .type('form')
      .send({ title: 'access_token' });
    expect(res.status).toBe(201);
  });
});

describe('authGuard shorthand and IdP outage', () => {
  it('builds its own verifier from { issuer, audience } and exposes it', async () => {
    const guard = authGuard({ issuer: idp.issuer, audience: idp.audience });
    const shorthand = express()
      .use(guard)
      .get('/', (_req, res) => res.send('ok'));
    const res = await request(shorthand).get('/').set('Authorization', `Bearer ${readToken}`);
    expect(res.status).toBe(200);
    expect(guard.verifier.stats().cache.size).toBe(1);
    await guard.verifier.close();
  });

  it('answers 503 with Retry-After, not 401, when the IdP cannot be reached', async () => {
    const down = await startIdp();
    const token = await down.issueAccessToken();
    await down.pause();
    const guard = authGuard({ issuer: down.issuer, audience: down.audience, clock: testClock(issuedAt(token)) });
    const outage = express()
      .use(guard)
      .get('/', (_req, res) => res.send('ok'))
      .use(authErrorHandler());
    try {
      const res = await request(outage).get('/').set('Authorization', `Bearer ${token}`);
      expect(res.status).toBe(503);
      expect(res.headers['retry-after']).toMatch(/^\d+$/);
      expect(res.body).toEqual({ error: 'temporarily_unavailable', error_description: expect.any(String) });
    } finally {
      await guard.verifier.close();
      await down.close();
    }
  });

  it("an application's own AuthError with quotes and backslashes: the challenge and body keep to RFC 6750 §3", async () => {
    const fail = express().get('/', (_req, _res, next) =>
      next(new InvalidRequestError('malformed_request', 'Field "name\\" is bad\r\nX-Injected: 1')),
    );
    const plain = await request(fail).get('/');
    const withHandler = await request(express().use(fail).use(authErrorHandler())).get('/');
    for (const res of [plain, withHandler]) {
      expect(res.status).toBe(400);
      expect(challenge(res)).toBe(
        'Bearer realm="api", error="invalid_request", error_description="Field \'name\' is badX-Injected: 1"',
      );
      expect(res.headers['x-injected']).toBeUndefined();
    }
    expect(withHandler.body).toEqual({
      error: 'invalid_request',
      error_description: "Field 'name' is badX-Injected: 1",
    });
  });

  it('renders JSON errors with authErrorHandler', async () => {
    const jsonApp = express()
      .use(authGuard({ verifier }))
      .get('/', (_req, res) => res.send('ok'))
      .use(authErrorHandler());
    const res = await request(jsonApp).get('/').set('Authorization', 'Bearer nope');
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ error: 'invalid_token', error_description: 'The access token is malformed' });
    expect(res.headers['cache-control']).toBe('no-store');
  });

  it('validates its own options at construction', () => {
    expect(() => authGuard({ verifier, scopes: ['a b'] })).toThrow(/scopes/);
    expect(() => authGuard({ verifier, realm: '' })).toThrow(/realm/);
    // Values a challenge could not carry as written (RFC 6749 §3.3 scope tokens, RFC 6750 §3).
    for (const scope of ['notes"read', 'back\\slash', 'caf\u00e9', 'tab\there', '']) {
      expect(() => authGuard({ verifier, scopes: [scope] })).toThrow(TypeError);
    }
    for (const realm of ['my "realm"', 'back\\slash', 'line\nbreak', 'caf\u00e9'])
      expect(() => authGuard({ verifier, realm })).toThrow(TypeError);
    expect(() =>
      authGuard({
        verifier,
        realm: "notes api (v2) [beta] ~'x'",
        scopes: ['notes:read', 'https://api.example/notes.write', "a!#$%&'()*+,-./:;<=>?@[]^_`{|}~"],
      }),
    ).not.toThrow();
    expect(() => authGuard(undefined as never)).toThrow(/authGuard needs options/);
  });
});

describe('authGuard without Express', () => {
  it('works as Connect middleware', async () => {
    const app = connect();
    app.use(authGuard({ verifier, scopes: ['notes:read'] }) as never);
    app.use((req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => {
      res.end(`hello ${(req as GuardRequest).auth?.payload.sub}`);
    });
    const ok = await request(app).get('/').set('Authorization', `Bearer ${readToken}`);
    expect(ok.text).toBe(`hello ${idp.client.clientId}`);
    const denied = await request(app).get('/');
    expect(denied.status).toBe(401);
  });

  it('works on a bare node:http server with a hand-written next', async () => {
    const guard = authGuard({ verifier });
    const server = createServer((req, res) => {
      guard(req, res, (err) => {
        if (err) {
          writeAuthError(res, err);
          return;
        }
        res.end(`hello ${(req as { auth?: { payload: { sub?: string } } }).auth?.payload.sub}`);
      });
    });
    const ok = await request(server).get('/').set('Authorization', `Bearer ${readToken}`);
    expect(ok.text).toBe(`hello ${idp.client.clientId}`);
    const bad = await request(server).get('/').set('Authorization', 'Bearer x.y.z');
    expect(bad.status).toBe(401);
    expect(bad.headers['www-authenticate']).toContain('invalid_token');
  });

  it('answers a cached token synchronously (no promise on the hit path)', async () => {
    const guard = authGuard({ verifier });
    await verifier.verify(readToken);
    let calledSync = false;
    const req = {
      headers: { authorization: `Bearer ${readToken}` },
      rawHeaders: ['Authorization', `Bearer ${readToken}`],
    };
    guard(req as never, {} as never, (err) => {
      expect(err).toBeUndefined();
      calledSync = true;
    });
    expect(calledSync).toBe(true);
  });
});

/** Sends raw header lines over a socket: HTTP clients fold or refuse duplicate headers. */
async function rawGet(app: Express, headers: Array<[string, string]>) {
  const server = createServer(app);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as import('node:net').AddressInfo;
  const { connect: tcpConnect } = await import('node:net');
  try {
    const response = await new Promise<string>((resolve, reject) => {
      const socket = tcpConnect(port, '127.0.0.1', () => {
        const lines = headers.map(([k, v]) => `${k}: ${v}\r\n`).join('');
        socket.write(`GET /notes HTTP/1.1\r\nHost: 127.0.0.1\r\n${lines}Connection: close\r\n\r\n`);
      });
      let data = '';
      socket.on('data', (chunk) => (data += String(chunk)));
      socket.on('end', () => resolve(data));
      socket.on('error', reject);
    });
    const [head] = response.split('\r\n\r\n');
    const [statusLine, ...headerLines] = head!.split('\r\n');
    const parsed: Record<string, string> = {};
    for (const line of headerLines) {
      const i = line.indexOf(':');
      parsed[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim();
    }
    return { status: Number(statusLine!.split(' ')[1]), headers: parsed };
  } finally {
    server.close();
  }
}
