/**
 * One conformance suite for every adapter (issue 12): the same requests against Express 5,
 * Express 4, Connect, bare node:http, Fastify 5, Koa 3, Hono 4 and the fetch adapter, each app
 * written the way a user of that framework would (harnesses.ts). Every scenario runs on all of
 * them at once and expects the same answer from each (status, the headers a client acts on, the
 * JSON body): a difference shows as a diff naming the adapter.
 *
 * One IdP and one verifier (test clock) are shared by all apps, so a token revoked through one
 * app's logout route must be refused by every app; a second IdP, down from the start, gives the
 * 503 + Retry-After of an unknown key that cannot be fetched. Two more verifiers with a public URL
 * (one with server nonces) guard the DPoP routes.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { request as httpRequest } from 'node:http';
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
import { dpopClient, type DpopClient } from '../support/dpop.js';
import { HARNESSES, METADATA, type RunningApp } from './harnesses.js';

const EVENT_AUDIENCE = 'https://api.example/receiver';
const names = HARNESSES.map((h) => h.name);
const clock = testClock();
let idp: EmbeddedIdp;
let down: EmbeddedIdp;
let verifier: Verifier;
let outageVerifier: Verifier;
let dpopVerifier: Verifier;
let nonceVerifier: Verifier;
const PUBLIC_URL = 'https://api.example.com';
const apps = new Map<string, RunningApp>();

beforeAll(async () => {
  [idp, down] = await Promise.all([startIdp(), startIdp()]);
  await down.pause();
  verifier = createVerifier({ issuer: idp.issuer, audience: idp.audience, clock });
  outageVerifier = createVerifier({ issuer: down.issuer, audience: down.audience, clock });
  const dpopOptions = { issuer: idp.issuer, audience: idp.audience, clock, publicUrl: PUBLIC_URL };
  dpopVerifier = createVerifier(dpopOptions);
  // A 60 s nonce period, so the rotation scenario moves the clock little.
  nonceVerifier = createVerifier({ ...dpopOptions, dpop: { iatWindow: 60, nonce: { secret: 's'.repeat(32) } } });
  const spec = {
    verifier,
    outageVerifier,
    dpopVerifier,
    nonceVerifier,
    clientId: idp.client.clientId,
    eventAudience: EVENT_AUDIENCE,
  };
  for (const harness of HARNESSES) apps.set(harness.name, await harness.start(spec));
}, 30_000);

afterAll(async () => {
  await Promise.all([...apps.values()].map((app) => app.close()));
  await Promise.all([verifier?.close(), outageVerifier?.close(), dpopVerifier?.close(), nonceVerifier?.close()]);
  await Promise.all([idp?.close(), down?.close()]);
});

/** What a client acts on in an answer. */
interface Answer {
  status: number;
  headers: Record<string, string>;
  body: unknown;
}

const HEADERS = [
  'www-authenticate',
  'cache-control',
  'retry-after',
  'allow',
  'dpop-nonce',
  'access-control-allow-origin',
  'access-control-allow-methods',
  'access-control-allow-headers',
  'access-control-max-age',
];

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

describe('route policy (optional, claims, step-up, any-of scopes), on every adapter', () => {
  const METADATA_URL = 'https://api.example.com/.well-known/oauth-protected-resource';
  const now = () => Math.floor(clock() / 1000);
  const stepUpToken = (claims: Record<string, unknown> = {}) =>
    tokenAt(idp, clock(), { tenant: 't1', acr: 'urn:example:mfa', auth_time: now(), scope: 'notes:read', ...claims });

  it('optional: lets a request without credentials through (200, no auth), admits a good token', async () => {
    await expectEvery('/optional', {}, { status: 200, headers: {}, body: {} });
    await expectEvery('/optional', bearer(await tokenAt(idp, clock(), { scope: 'notes:read' })), {
      status: 200,
      headers: {},
      body: { sub: 'alice', scope: 'notes:read' },
    });
  });

  it('optional: still refuses a bad token (401), another scheme (401) and a token without the scope (403)', async () => {
    const expired = await tokenAt(idp, clock() - 3_600_000, { scope: 'notes:read' });
    await expectEvery('/optional', bearer(expired), invalidToken('The access token expired'));
    const basic = await sameEverywhere('/optional', { headers: { Authorization: 'Basic YTpi' } });
    expect(basic).toMatchObject({ status: 401, headers: { 'www-authenticate': 'Bearer realm="api"' } });
    const unscoped = await sameEverywhere('/optional', bearer(await tokenAt(idp, clock(), { scope: 'other' })));
    expect(unscoped).toMatchObject({ status: 403, body: { error: 'insufficient_scope' } });
  });

  it('step-up route: admits a token meeting every requirement, its scope from scp', async () => {
    await expectEvery('/step-up', bearer(await stepUpToken({ scope: undefined, scp: ['notes:admin'] })), {
      status: 200,
      headers: {},
      body: { sub: 'alice' },
    });
  });

  it('step-up route: every refusal carries resource_metadata, the bare 401 included', async () => {
    await expectEvery(
      '/step-up',
      {},
      {
        status: 401,
        headers: {
          'www-authenticate': `Bearer realm="api", resource_metadata="${METADATA_URL}"`,
          'cache-control': 'no-store',
          'content-type': JSON_TYPE,
        },
        body: { error: 'unauthorized', error_description: 'Bearer token required' },
      },
    );
    await expectEvery(
      '/step-up',
      bearer(await stepUpToken({ tenant: 't2' })),
      refusal(
        401,
        `Bearer realm="api", resource_metadata="${METADATA_URL}", error="invalid_token", ` +
          `error_description="Unexpected 'tenant' value"`,
        { error: 'invalid_token', error_description: "Unexpected 'tenant' value" },
      ),
    );
  });

  it('step-up route: 401 insufficient_user_authentication with acr_values and max_age (RFC 9470)', async () => {
    const challenge = (description: string) =>
      `Bearer realm="api", resource_metadata="${METADATA_URL}", error="insufficient_user_authentication", ` +
      `error_description="${description}", acr_values="urn:example:mfa", max_age="300"`;
    await expectEvery(
      '/step-up',
      bearer(await stepUpToken({ acr: 'urn:example:pwd' })),
      refusal(401, challenge('A different authentication level is required'), {
        error: 'insufficient_user_authentication',
        error_description: 'A different authentication level is required',
      }),
    );
    await expectEvery(
      '/step-up',
      bearer(await stepUpToken({ auth_time: now() - 3600 })),
      refusal(401, challenge('More recent authentication is required'), {
        error: 'insufficient_user_authentication',
        error_description: 'More recent authentication is required',
      }),
    );
  });

  it('step-up route: 403 naming every alternative of an any-of scope, with resource_metadata', async () => {
    const answer = await sameEverywhere('/step-up', bearer(await stepUpToken({ scope: 'notes:write' })));
    expect(answer).toMatchObject({ status: 403, body: { error: 'insufficient_scope' } });
    expect(answer.headers['www-authenticate']).toBe(
      `Bearer realm="api", resource_metadata="${METADATA_URL}", error="insufficient_scope", ` +
        'error_description="The access token lacks a required scope", scope="notes:read notes:admin"',
    );
  });
});

describe('the RFC 9728 metadata route, on every adapter', () => {
  const path = '/.well-known/oauth-protected-resource';
  const document = () => ({
    resource: METADATA.resource,
    authorization_servers: [idp.issuer],
    scopes_supported: METADATA.scopesSupported,
    bearer_methods_supported: ['header'],
  });

  it('GET: 200, the document, cacheable and open to any origin', async () => {
    const answers = await Promise.all(
      names.map(async (name) => {
        const res = await fetch(`${apps.get(name)!.url}${path}`);
        return [
          name,
          {
            status: res.status,
            contentType: res.headers.get('content-type'),
            cacheControl: res.headers.get('cache-control'),
            origin: res.headers.get('access-control-allow-origin'),
            body: await res.json(),
          },
        ] as const;
      }),
    );
    const expected = {
      status: 200,
      contentType: JSON_TYPE,
      cacheControl: 'public, max-age=3600',
      origin: '*',
      body: document(),
    };
    expect(Object.fromEntries(answers)).toEqual(Object.fromEntries(names.map((name) => [name, expected])));
  });

  it('HEAD: the same headers, no body', async () => {
    await expectEvery(
      path,
      { method: 'HEAD' },
      {
        status: 200,
        headers: {
          'cache-control': 'public, max-age=3600',
          'access-control-allow-origin': '*',
          'content-type': JSON_TYPE,
        },
        body: undefined,
      },
    );
  });

  it('OPTIONS: the CORS preflight (a browser-based MCP client sends one for its own headers)', async () => {
    await expectEvery(
      path,
      {
        method: 'OPTIONS',
        headers: {
          Origin: 'https://client.example',
          'Access-Control-Request-Method': 'GET',
          'Access-Control-Request-Headers': 'mcp-protocol-version',
        },
      },
      {
        status: 204,
        headers: {
          allow: 'GET, HEAD, OPTIONS',
          'cache-control': 'no-store',
          'access-control-allow-origin': '*',
          'access-control-allow-methods': 'GET, HEAD, OPTIONS',
          'access-control-allow-headers': 'mcp-protocol-version',
          'access-control-max-age': '86400',
          'content-type': '',
        },
        body: undefined,
      },
    );
  });

  it('another method: 405 with Allow', async () => {
    await expectEvery(
      path,
      { method: 'POST', body: 'x' },
      {
        status: 405,
        headers: {
          allow: 'GET, HEAD, OPTIONS',
          'cache-control': 'no-store',
          'access-control-allow-origin': '*',
          'content-type': JSON_TYPE,
        },
        body: { error: 'invalid_request', error_description: 'Use GET' },
      },
    );
  });
});

describe('DPoP (RFC 9449), on every adapter', () => {
  let key: DpopClient;
  let bound: string;
  beforeAll(async () => {
    key = await dpopClient();
    bound = await tokenAt(idp, clock(), { sub: 'dora', scope: 'notes:read', cnf: { jkt: key.jkt } });
  });
  const ALGS = 'ES256 ES384 ES512 EdDSA Ed25519 PS256 PS384 PS512 RS256 RS384 RS512';
  const dpopInit = async (path: string, extra: { nonce?: string; htu?: string } = {}): Promise<RequestInit> => ({
    headers: {
      Authorization: `DPoP ${bound}`,
      DPoP: await key.proof({
        htu: extra.htu ?? `${PUBLIC_URL}${path}`,
        token: bound,
        at: clock(),
        nonce: extra.nonce,
      }),
    },
  });
  const admitted = (headers: Record<string, string> = {}): Answer => ({
    status: 200,
    headers,
    body: { sub: 'dora', scope: 'notes:read' },
  });
  const dpopRefusal = (status: number, challenge: string, code: string, description: string, extra = {}) =>
    refusal(status, challenge, { error: code, error_description: description }, extra);

  it('admits a DPoP-bound token with a fresh proof: htu is the public URL, whatever the app listens on', async () => {
    await expectEvery('/dpop', () => dpopInit('/dpop'), admitted());
  });

  it('refuses a replayed proof 401 invalid_dpop_proof, the error in the DPoP challenge', async () => {
    const inits = new Map(await Promise.all(names.map(async (name) => [name, await dpopInit('/dpop')] as const)));
    await expectEvery('/dpop', (name) => inits.get(name)!, admitted());
    const description = 'The DPoP proof has already been used';
    await expectEvery(
      '/dpop',
      (name) => inits.get(name)!,
      dpopRefusal(
        401,
        `Bearer realm="api", DPoP realm="api", algs="${ALGS}", error="invalid_dpop_proof", error_description="${description}"`,
        'invalid_dpop_proof',
        description,
      ),
    );
  });

  it('ignores X-Forwarded-Host and -Proto: a proof for the forwarded URL is refused', async () => {
    const description = 'The DPoP proof htu is not the request URL';
    await expectEvery(
      '/dpop',
      async () => {
        const init = await dpopInit('/dpop', { htu: 'http://evil.example/dpop' });
        const forwarded = { 'X-Forwarded-Host': 'evil.example', 'X-Forwarded-Proto': 'http' };
        return { headers: { ...(init.headers as Record<string, string>), ...forwarded } };
      },
      dpopRefusal(
        401,
        `Bearer realm="api", DPoP realm="api", algs="${ALGS}", error="invalid_dpop_proof", error_description="${description}"`,
        'invalid_dpop_proof',
        description,
      ),
    );
    const own = await Promise.all(
      names.map((name) =>
        dpopInit('/dpop', { htu: `${apps.get(name)!.url}/dpop` }).then((i) => call(name, '/dpop', i)),
      ),
    );
    for (const answer of own) expect(answer).toMatchObject({ status: 401, body: { error: 'invalid_dpop_proof' } });
  });

  it('refuses two DPoP header fields 400 invalid_request', async () => {
    const answers = await Promise.all(
      names.map(async (name) => {
        const proof = await key.proof({ htu: `${PUBLIC_URL}/dpop`, token: bound, at: clock() });
        return [name, await twoProofs(`${apps.get(name)!.url}/dpop`, bound, proof)] as const;
      }),
    );
    for (const [, answer] of answers) {
      expect(answer).toMatchObject({
        status: 400,
        body: { error: 'invalid_request', error_description: 'Send exactly one DPoP header' },
      });
    }
  });

  it('refuses a DPoP-bound token sent as Bearer 401 invalid_token, on DPoP and Bearer-only routes alike', async () => {
    const description = 'The access token is DPoP-bound: send it with the DPoP scheme and a DPoP proof';
    const body = { error: 'invalid_token', error_description: description };
    await expectEvery(
      '/dpop',
      bearer(bound),
      refusal(
        401,
        `Bearer realm="api", error="invalid_token", error_description="${description}", DPoP realm="api", algs="${ALGS}"`,
        body,
      ),
    );
    await expectEvery(
      '/notes',
      bearer(bound),
      refusal(401, `Bearer realm="api", error="invalid_token", error_description="${description}"`, body),
    );
  });

  it('refuses a certificate-bound token on a route without mtls, unless its DPoP proof constrains it', async () => {
    const certificateBound = await tokenAt(idp, clock(), { scope: 'notes:read', cnf: { 'x5t#S256': 'A'.repeat(43) } });
    const description =
      'The access token is bound to a client certificate, and this resource does not check client certificates';
    await expectEvery('/notes', bearer(certificateBound), invalidToken(description));
    await expectEvery(
      '/dpop',
      bearer(certificateBound),
      refusal(
        401,
        `Bearer realm="api", error="invalid_token", error_description="${description}", DPoP realm="api", algs="${ALGS}"`,
        { error: 'invalid_token', error_description: description },
      ),
    );
    // Bound to the certificate and to the DPoP key, presented with its proof: DPoP constrains it.
    const both = await tokenAt(idp, clock(), {
      sub: 'dora',
      scope: 'notes:read',
      cnf: { 'x5t#S256': 'A'.repeat(43), jkt: key.jkt },
    });
    await expectEvery(
      '/dpop',
      async () => ({
        headers: {
          Authorization: `DPoP ${both}`,
          DPoP: await key.proof({ htu: `${PUBLIC_URL}/dpop`, token: both, at: clock() }),
        },
      }),
      admitted(),
    );
  });

  it('logs a DPoP caller out: token and proof checked as the guard checks them, then the token is refused', async () => {
    const sub = (name: string) => `dpop-logout-${name.replace(/\W+/g, '-')}`;
    const tokens = new Map(
      await Promise.all(
        names.map(
          async (name) =>
            [
              name,
              await tokenAt(idp, clock(), { sub: sub(name), scope: 'notes:read', cnf: { jkt: key.jkt } }),
            ] as const,
        ),
      ),
    );
    const logout = async (name: string, proof: { htm?: string; htu?: string } = {}): Promise<RequestInit> => {
      const token = tokens.get(name)!;
      const dpop = await key.proof({ htm: 'POST', htu: `${PUBLIC_URL}/dpop-logout`, token, at: clock(), ...proof });
      return { method: 'POST', headers: { Authorization: `DPoP ${token}`, DPoP: dpop } };
    };
    const dpopError = (code: string, description: string) =>
      dpopRefusal(
        401,
        `Bearer realm="api", DPoP realm="api", algs="${ALGS}", error="${code}", error_description="${description}"`,
        code,
        description,
      );
    // A proof for another endpoint or method: refused as by the guard, and nothing is revoked.
    await expectEvery(
      '/dpop-logout',
      (name) => logout(name, { htu: `${PUBLIC_URL}/dpop` }),
      dpopError('invalid_dpop_proof', 'The DPoP proof htu is not the request URL'),
    );
    await expectEvery(
      '/dpop-logout',
      (name) => logout(name, { htm: 'GET' }),
      dpopError('invalid_dpop_proof', 'The DPoP proof htm is not the request method'),
    );
    const guarded = async (name: string): Promise<RequestInit> => ({
      headers: {
        Authorization: `DPoP ${tokens.get(name)}`,
        DPoP: await key.proof({ htu: `${PUBLIC_URL}/dpop`, token: tokens.get(name)!, at: clock() }),
      },
    });
    await expectEvery('/dpop', guarded, (name) => ({
      status: 200,
      headers: {},
      body: { sub: sub(name), scope: 'notes:read' },
    }));
    // Before: 401 "Bearer token required" (the DPoP scheme was not taken) and nothing revoked.
    const inits = new Map(await Promise.all(names.map(async (name) => [name, await logout(name)] as const)));
    await expectEvery('/dpop-logout', (name) => inits.get(name)!, {
      status: 200,
      headers: { 'cache-control': 'no-store' },
      body: { revoked: true },
    });
    // Again with the same proof: the token is dead already (refused before its proof is looked at).
    await expectEvery(
      '/dpop-logout',
      (name) => inits.get(name)!,
      dpopError('invalid_token', 'The access token has been revoked'),
    );
    await expectEvery('/dpop', guarded, dpopError('invalid_token', 'The access token has been revoked'));
  });

  it('refuses a Bearer token where DPoP is required: 401 with a bare DPoP challenge', async () => {
    const token = await tokenAt(idp, clock(), { scope: 'notes:read' });
    await expectEvery(
      '/dpop-nonce',
      bearer(token),
      refusal(401, `DPoP realm="api", algs="${ALGS}"`, {
        error: 'unauthorized',
        error_description: 'DPoP token required',
      }),
    );
  });

  it('runs the nonce flow: use_dpop_nonce with DPoP-Nonce, the retry admitted, a rotated nonce on success', async () => {
    const description = 'Sign a DPoP proof with the nonce in the DPoP-Nonce header';
    const first = await sameEverywhere('/dpop-nonce', await dpopInit('/dpop-nonce'));
    const nonce = first.headers['dpop-nonce']!;
    expect(first).toEqual(
      dpopRefusal(
        401,
        `DPoP realm="api", algs="${ALGS}", error="use_dpop_nonce", error_description="${description}"`,
        'use_dpop_nonce',
        description,
        { 'dpop-nonce': nonce },
      ),
    );
    await expectEvery('/dpop-nonce', () => dpopInit('/dpop-nonce', { nonce }), admitted());
    const start = clock();
    clock.set((Math.floor(start / 60_000) + 1) * 60_000 + 1000); // the next nonce period
    try {
      const rotated = await Promise.all(
        names.map((name) => dpopInit('/dpop-nonce', { nonce }).then((init) => call(name, '/dpop-nonce', init))),
      );
      const next = rotated[0]!.headers['dpop-nonce'];
      expect(next).toMatch(/^[A-Za-z0-9_-]{43}$/);
      // Every adapter but fetch writes the new nonce on the admitted request (the fetch guard
      // answers a token, not a Response: its clients get the nonce through use_dpop_nonce).
      expect(Object.fromEntries(names.map((name, i) => [name, rotated[i]]))).toEqual(
        Object.fromEntries(names.map((name) => [name, admitted(name === 'fetch' ? {} : { 'dpop-nonce': next! })])),
      );
    } finally {
      clock.set(start);
    }
  });
});

/** A DPoP request with the `DPoP` field sent twice (two header lines, as node:http sends an array). */
function twoProofs(url: string, token: string, proof: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { headers: { authorization: `DPoP ${token}`, dpop: [proof, proof] } }, (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => {
        text += chunk.toString('utf8');
      });
      res.on('end', () => resolve({ status: res.statusCode!, headers: {}, body: JSON.parse(text) }));
    });
    req.on('error', reject);
    req.end();
  });
}
