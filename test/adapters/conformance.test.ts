/**
 * One conformance suite for every adapter (issue 12): the same requests against Express 5,
 * Express 4, Connect, bare node:http, Fastify 5, Koa 3, Hono 4 and the fetch adapter, each app
 * written the way a user of that framework would (harnesses.ts). Every scenario runs on all of
 * them at once and expects the same answer from each (status, the headers a client acts on, the
 * JSON body): a difference shows as a diff naming the adapter.
 *
 * One IdP and one verifier (test clock) are shared by all apps, so a token revoked through one
 * app's logout route must be refused by every app; a second IdP, down from the start, gives the
 * 503 + Retry-After of an unknown key that cannot be fetched.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { SignJWT } from 'jose';
import { CREDENTIAL_CHANGE, createVerifier, type Verifier } from '../../src/index.js';
import {
  attackerKey,
  type EmbeddedIdp,
  signToken,
  standardClaims,
  startIdp,
  testClock,
  tokenAt,
} from '../support/idp.js';
import { HARNESSES, type RunningApp } from './harnesses.js';

const EVENT_AUDIENCE = 'https://api.example/receiver';
const names = HARNESSES.map((h) => h.name);
const clock = testClock();
let idp: EmbeddedIdp;
let down: EmbeddedIdp;
let verifier: Verifier;
let outageVerifier: Verifier;
const apps = new Map<string, RunningApp>();

beforeAll(async () => {
  [idp, down] = await Promise.all([startIdp(), startIdp()]);
  await down.pause();
  verifier = createVerifier({ issuer: idp.issuer, audience: idp.audience, clock });
  outageVerifier = createVerifier({ issuer: down.issuer, audience: down.audience, clock });
  const spec = { verifier, outageVerifier, clientId: idp.client.clientId, eventAudience: EVENT_AUDIENCE };
  for (const harness of HARNESSES) apps.set(harness.name, await harness.start(spec));
}, 30_000);

afterAll(async () => {
  await Promise.all([...apps.values()].map((app) => app.close()));
  await Promise.all([verifier?.close(), outageVerifier?.close()]);
  await Promise.all([idp?.close(), down?.close()]);
});

/** What a client acts on in an answer. */
interface Answer {
  status: number;
  headers: Record<string, string>;
  body: unknown;
}

const HEADERS = ['www-authenticate', 'cache-control', 'retry-after', 'allow'];

async function call(name: string, path: string, init: RequestInit = {}): Promise<Answer> {
  const res = await fetch(`${apps.get(name)!.url}${path}`, init);
  const text = await res.text();
  const headers: Record<string, string> = {};
  for (const header of HEADERS) {
    const value = res.headers.get(header);
    if (value !== null) headers[header] = header === 'retry-after' && /^\d+$/.test(value) ? '<seconds>' : value;
  }
  // The apps' own 200s are the framework's JSON; the library's answers say JSON with a charset.
  if (res.status !== 200 || text === '') headers['content-type'] = res.headers.get('content-type') ?? '';
  return { status: res.status, headers, body: text === '' ? undefined : JSON.parse(text) };
}

/** Calls every app (`init` may differ per app) and expects each answer to equal `expected`. */
async function expectEvery(
  path: string | ((name: string) => string),
  init: RequestInit | ((name: string) => RequestInit | Promise<RequestInit>),
  expected: Answer | ((name: string) => Answer),
) {
  const answers = await Promise.all(
    names.map(async (name) => {
      const options = typeof init === 'function' ? await init(name) : init;
      return [name, await call(name, typeof path === 'function' ? path(name) : path, options)] as const;
    }),
  );
  const wanted = names.map((name) => [name, typeof expected === 'function' ? expected(name) : expected] as const);
  expect(Object.fromEntries(answers)).toEqual(Object.fromEntries(wanted));
}

/** Calls every app once and expects the same answer from each; returns it, for the scenario to check. */
async function sameEverywhere(path: string, init: RequestInit = {}): Promise<Answer> {
  const answers = await Promise.all(names.map(async (name) => [name, await call(name, path, init)] as const));
  const first = answers[0]![1];
  expect(Object.fromEntries(answers)).toEqual(Object.fromEntries(names.map((name) => [name, first])));
  return first;
}

const bearer = (token: string): RequestInit => ({ headers: { Authorization: `Bearer ${token}` } });
const JSON_TYPE = 'application/json; charset=utf-8';
const refusal = (status: number, challenge: string, body: unknown, extra: Record<string, string> = {}): Answer => ({
  status,
  headers: { 'www-authenticate': challenge, 'cache-control': 'no-store', 'content-type': JSON_TYPE, ...extra },
  body,
});
const invalidRequest = (description: string) =>
  refusal(400, `Bearer realm="api", error="invalid_request", error_description="${description}"`, {
    error: 'invalid_request',
    error_description: description,
  });
const invalidToken = (description: string) =>
  refusal(401, `Bearer realm="api", error="invalid_token", error_description="${description}"`, {
    error: 'invalid_token',
    error_description: description,
  });

describe('the guard, on every adapter', () => {
  it('admits a valid token: 200 with the auth result', async () => {
    const token = await tokenAt(idp, clock(), { sub: 'alice', scope: 'notes:read' });
    await expectEvery('/notes', bearer(token), {
      status: 200,
      headers: {},
      body: { sub: 'alice', scope: 'notes:read' },
    });
  });

  it('answers a request without a token 401 with a bare challenge', async () => {
    const answer = await sameEverywhere('/notes');
    expect(answer).toMatchObject({ status: 401, headers: { 'www-authenticate': 'Bearer realm="api"' } });
  });

  it.each([
    ['a Bearer scheme without a token', 'Bearer', 'The Bearer scheme needs a token'],
    ['a token with characters RFC 6750 does not allow', 'Bearer a,b', 'Malformed Bearer token'],
    ['a malformed scheme', 'Bea(rer x', 'Malformed Authorization header'],
  ])('answers %s 400 invalid_request', async (_name, authorization, description) => {
    await expectEvery('/notes', { headers: { Authorization: authorization } }, invalidRequest(description));
  });

  it('answers a token in the query string 400 invalid_request', async () => {
    await expectEvery(
      '/notes?access_token=abc',
      {},
      invalidRequest('Send the access token in the Authorization header, not the URL'),
    );
  });

  describe('a form body (RFC 6750 §2.2), parsed by the app or peeked at by the guard', () => {
    const form = (body: string, authorization?: string): RequestInit => ({
      method: 'POST',
      headers: {
        'Content-Type': 'application/x-www-form-urlencoded',
        ...(authorization ? { Authorization: authorization } : {}),
      },
      body,
    });
    it('answers an access_token in the body alone 400 (send it in the header)', async () => {
      const token = await tokenAt(idp, clock(), { scope: 'notes:read' });
      await expectEvery(
        '/notes',
        form(`access_token=${token}`),
        invalidRequest('Send the access token in the Authorization header, not the body'),
      );
    });

    it('answers an access_token in the body beside the header 400 multiple_tokens', async () => {
      const token = await tokenAt(idp, clock(), { scope: 'notes:read' });
      await verifier.verify(token); // cached: the hit path looks at the body too
      await expectEvery(
        '/notes',
        form(`note=hi&access_token=${token}`, `Bearer ${token}`),
        invalidRequest('Send the access token by one method only'),
      );
    });

    it('admits a form without a token, and the application still reads its body', async () => {
      const token = await tokenAt(idp, clock(), { sub: 'poster', scope: 'notes:read' });
      await expectEvery('/notes', form('note=hello', `Bearer ${token}`), {
        status: 200,
        headers: {},
        body: { sub: 'poster', scope: 'notes:read', note: 'hello' },
      });
    });

    it('never looks into a JSON body, even one with an access_token member', async () => {
      const token = await tokenAt(idp, clock(), { sub: 'json', scope: 'notes:read' });
      await expectEvery(
        '/notes',
        {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
          body: JSON.stringify({ access_token: token }),
        },
        { status: 200, headers: {}, body: { sub: 'json', scope: 'notes:read' } },
      );
    });
  });

  it('answers an expired token 401 invalid_token', async () => {
    const expired = await tokenAt(idp, clock() - 3_600_000);
    const answer = await sameEverywhere('/notes', bearer(expired));
    expect(answer).toMatchObject({ status: 401, body: { error: 'invalid_token' } });
    expect(answer.headers['www-authenticate']).toMatch(/^Bearer realm="api", error="invalid_token"/);
  });

  it('answers a forged token (an attacker key under the IdP kid) 401 invalid_token', async () => {
    const forged = await signToken(standardClaims(idp, {}, clock()), {
      ...(await attackerKey()),
      kid: idp.keys[0]!.kid,
    });
    const answer = await sameEverywhere('/notes', bearer(forged));
    expect(answer).toMatchObject({ status: 401, body: { error: 'invalid_token' } });
  });

  it('answers a token without the scope 403 insufficient_scope naming the scope', async () => {
    const token = await tokenAt(idp, clock(), { scope: 'notes:read' });
    const answer = await sameEverywhere('/admin', bearer(token));
    expect(answer).toMatchObject({ status: 403, body: { error: 'insufficient_scope' } });
    expect(answer.headers['www-authenticate']).toContain('scope="notes:admin"');
  });

  it('answers 503 with Retry-After when the IdP is down and the key is unknown', async () => {
    const token = await tokenAt(down, clock());
    const answer = await sameEverywhere('/outage', bearer(token));
    expect(answer).toMatchObject({
      status: 503,
      headers: { 'retry-after': '<seconds>' },
      body: { error: 'temporarily_unavailable' },
    });
  });
});

describe('the logout route, on every adapter', () => {
  it("revokes the caller's token: 200, then 401 on every adapter sharing the verifier", async () => {
    const tokens = new Map(await Promise.all(names.map(async (name) => [name, await tokenAt(idp, clock())] as const)));
    await expectEvery('/notes', (name) => bearer(tokens.get(name)!), {
      status: 200,
      headers: {},
      body: { sub: 'alice', scope: 'notes:read notes:write' },
    });
    const logouts = await Promise.all(
      names.map((name) => call(name, '/logout', { method: 'POST', ...bearer(tokens.get(name)!) })),
    );
    expect(logouts[0]).toMatchObject({ status: 200, headers: { 'cache-control': 'no-store' } });
    for (const answer of logouts) expect(answer).toEqual(logouts[0]);
    for (const revokedBy of names) {
      await expectEvery('/notes', bearer(tokens.get(revokedBy)!), invalidToken('The access token has been revoked'));
    }
  });

  it('answers another method 405 with Allow: POST', async () => {
    await expectEvery(
      '/logout',
      {},
      {
        status: 405,
        headers: { allow: 'POST', 'cache-control': 'no-store', 'content-type': JSON_TYPE },
        body: { error: 'invalid_request', error_description: 'Use POST' },
      },
    );
  });

  const post = (type: string, body: string): RequestInit => ({
    method: 'POST',
    headers: { 'Content-Type': type },
    body,
  });
  it.each([
    ['no token at all', post('application/x-www-form-urlencoded', '')],
    ['a body that is not form or JSON', post('text/plain', 'token=abc')],
    ['invalid JSON', post('application/json', '{"token":')],
    ['a JSON token that is not a string', post('application/json', '{"token":5}')],
    ['a body over 16 KiB', post('application/x-www-form-urlencoded', `token=${'a'.repeat(20_000)}`)],
  ])('answers %s 400 invalid_request, never a 500', async (_name, init) => {
    const answer = await sameEverywhere('/logout', init);
    expect(answer).toMatchObject({ status: 400, body: { error: 'invalid_request' } });
  });
});

describe('the back-channel logout and security event routes, on every adapter', () => {
  const key = () => idp.keys[0]!;
  const logoutToken = (sub: string) =>
    new SignJWT({
      iss: idp.issuer,
      aud: idp.client.clientId,
      iat: Math.floor(clock() / 1000),
      jti: `jti-${sub}`,
      sub,
      events: { 'http://schemas.openid.net/event/backchannel-logout': {} },
    })
      .setProtectedHeader({ alg: key().alg, kid: key().kid, typ: 'logout+jwt' })
      .sign(key().privateKey);
  const subject = (prefix: string, name: string) => `${prefix}-${name.replace(/\W+/g, '-')}`;

  it("acts on a logout token: 200, and that subject's tokens are refused", async () => {
    const tokens = new Map(
      await Promise.all(
        names.map(async (name) => [name, await tokenAt(idp, clock(), { sub: subject('bcl', name) })] as const),
      ),
    );
    await expectEvery(
      '/backchannel-logout',
      async (name) => ({
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ logout_token: await logoutToken(subject('bcl', name)) }).toString(),
      }),
      { status: 200, headers: { 'cache-control': 'no-store', 'content-type': '' }, body: undefined },
    );
    const answers = await Promise.all(names.map((name) => call(name, '/notes', bearer(tokens.get(name)!))));
    for (const answer of answers) expect(answer).toMatchObject({ status: 401, body: { error: 'invalid_token' } });
  });

  it('answers 405 to another method and 400 to a POST without logout_token', async () => {
    const notAllowed = await sameEverywhere('/backchannel-logout');
    expect(notAllowed).toMatchObject({ status: 405, headers: { allow: 'POST' } });
    await expectEvery(
      '/backchannel-logout',
      { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: 'x=1' },
      {
        status: 400,
        headers: { 'cache-control': 'no-store', 'content-type': JSON_TYPE },
        body: { error: 'invalid_request', error_description: 'Missing logout_token' },
      },
    );
  });

  it('accepts a security event as application/secevent+jwt (202) and refuses another type (400)', async () => {
    const set = (sub: string) =>
      new SignJWT({
        iss: idp.issuer,
        aud: EVENT_AUDIENCE,
        iat: Math.floor(clock() / 1000),
        jti: `set-${sub}`,
        events: { [CREDENTIAL_CHANGE]: { event_timestamp: 1 } },
        sub_id: { format: 'iss_sub', iss: idp.issuer, sub },
      })
        .setProtectedHeader({ alg: key().alg, kid: key().kid, typ: 'secevent+jwt' })
        .sign(key().privateKey);
    await expectEvery(
      '/security-events',
      async (name) => ({
        method: 'POST',
        headers: { 'Content-Type': 'application/secevent+jwt' },
        body: await set(subject('set', name)),
      }),
      { status: 202, headers: { 'cache-control': 'no-store', 'content-type': '' }, body: undefined },
    );
    await expectEvery(
      '/security-events',
      { method: 'POST', headers: { 'Content-Type': 'application/jwt' }, body: 'a.b.c' },
      {
        status: 400,
        headers: { 'cache-control': 'no-store', 'content-type': JSON_TYPE },
        body: { err: 'invalid_request', description: 'Send the SET as application/secevent+jwt' },
      },
    );
  });
});
