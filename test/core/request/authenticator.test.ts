/**
 * The request step without a framework: what it answers, synchronously on a cache hit, and what
 * it refuses to be built with.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  type Authentication,
  authGuard,
  createAuthenticator,
  createVerifier,
  InvalidTokenError,
  type Refused,
  type RequestLike,
  type Verifier,
  type VerifierEventMap,
} from '../../../src/index.js';
import { startIdp, type EmbeddedIdp } from '../../support/idp.js';

let idp: EmbeddedIdp;
let verifier: Verifier;
let readToken: string;
const rejected: Array<VerifierEventMap['rejected']> = [];

beforeAll(async () => {
  idp = await startIdp();
  verifier = createVerifier({ issuer: idp.issuer, audience: idp.audience });
  verifier.on('rejected', (event) => rejected.push(event));
  readToken = await idp.issueAccessToken({ scope: 'notes:read' });
});
afterAll(async () => {
  await verifier.close();
  await idp.close();
});

const bearer = (token: string, url = '/notes'): RequestLike => ({
  method: 'GET',
  url,
  headers: { authorization: `Bearer ${token}` },
});

async function settle(answer: Authentication | Promise<Authentication>): Promise<Authentication> {
  return answer;
}

function refused(answer: Authentication | Promise<Authentication>): Refused {
  if (answer instanceof Promise) throw new Error('expected a synchronous answer');
  if (answer.ok) throw new Error('expected a refusal');
  return answer;
}

describe('createAuthenticator: answers', () => {
  it('answers a cached token synchronously: no promise, the verified token', async () => {
    const authenticate = createAuthenticator({ verifier, scopes: ['notes:read'] });
    const first = authenticate(bearer(readToken));
    expect(first).toBeInstanceOf(Promise); // a miss: verified, then cached
    expect(await first).toMatchObject({ ok: true, auth: { token: readToken } });

    const hit = authenticate(bearer(readToken));
    expect(hit).not.toBeInstanceOf(Promise);
    expect(hit).toEqual({ ok: true, auth: verifier.peek(readToken) });
  });

  it('reads the header from a WHATWG Headers object and from a record of any casing', async () => {
    const authenticate = createAuthenticator({ verifier });
    await verifier.verify(readToken);
    const fromHeaders = authenticate({ headers: new Headers({ Authorization: `Bearer ${readToken}` }) });
    const fromRecord = authenticate({ headers: { AUTHORIZATION: `Bearer ${readToken}` } });
    expect(fromHeaders).toMatchObject({ ok: true });
    expect(fromRecord).toMatchObject({ ok: true });
  });

  it('no token: 401 with a bare challenge under its realm, never cached', () => {
    const authenticate = createAuthenticator({ verifier, realm: 'notes' });
    const answer = refused(authenticate({ headers: {} }));
    expect(answer.status).toBe(401);
    expect(answer.headers).toEqual({ 'WWW-Authenticate': 'Bearer realm="notes"', 'Cache-Control': 'no-store' });
    expect(answer.body).toEqual({ error: 'unauthorized', error_description: 'Bearer token required' });
    expect(answer.error).toMatchObject({ reason: 'missing_token', realm: 'notes' });
  });

  it('a missing scope: 403 naming every required scope', async () => {
    const authenticate = createAuthenticator({ verifier, scopes: ['notes:read', 'notes:write'], realm: 'notes' });
    await verifier.verify(readToken);
    const answer = refused(authenticate(bearer(readToken)));
    expect(answer.status).toBe(403);
    expect(answer.headers['WWW-Authenticate']).toBe(
      'Bearer realm="notes", error="insufficient_scope", ' +
        'error_description="The access token lacks a required scope", scope="notes:read notes:write"',
    );
    expect(answer.body).toEqual({
      error: 'insufficient_scope',
      error_description: 'The access token lacks a required scope',
    });
  });

  it('a malformed header: 400 invalid_request, answered synchronously', () => {
    const answer = refused(createAuthenticator({ verifier })(bearer('not a b64token')));
    expect(answer.status).toBe(400);
    expect(answer.headers['WWW-Authenticate']).toBe(
      'Bearer realm="api", error="invalid_request", error_description="Malformed Bearer token"',
    );
  });

  it('two Authorization headers: 400 multiple_tokens (Node raw headers, or an array in a record)', () => {
    const authenticate = createAuthenticator({ verifier });
    const node = authenticate({
      headers: { authorization: `Bearer ${readToken}` },
      rawHeaders: ['Authorization', `Bearer ${readToken}`, 'authorization', 'Bearer other'],
    });
    const record = authenticate({ headers: { authorization: [`Bearer ${readToken}`, 'Bearer other'] } });
    expect(refused(node).error).toMatchObject({ status: 400, reason: 'multiple_tokens' });
    expect(refused(record).error).toMatchObject({ status: 400, reason: 'multiple_tokens' });
  });

  it('a forged token: 401 invalid_token with its description, by a promise', async () => {
    const authenticate = createAuthenticator({ verifier, realm: 'notes' });
    const [header, payload] = readToken.split('.');
    const answer = await settle(authenticate(bearer(`${header}.${payload}.${'A'.repeat(342)}`)));
    if (answer.ok) throw new Error('a forged token was admitted');
    expect(answer.status).toBe(401);
    expect(answer.headers['WWW-Authenticate']).toBe(
      'Bearer realm="notes", error="invalid_token", error_description="The access token signature is invalid"',
    );
    expect(answer.error).toBeInstanceOf(InvalidTokenError);
  });

  it('one rejection shared by two realms: each answer has its own, the shared error is not touched', async () => {
    const forged = `${readToken.split('.').slice(0, 2).join('.')}.${'B'.repeat(342)}`;
    const [a, b] = await Promise.all([
      settle(createAuthenticator({ verifier, realm: 'a' })(bearer(forged))),
      settle(createAuthenticator({ verifier, realm: 'b' })(bearer(forged))),
    ]);
    if (a.ok || b.ok) throw new Error('a forged token was admitted');
    expect(a.error.realm).toBe('a');
    expect(b.error.realm).toBe('b');
    expect(a.headers['WWW-Authenticate']).toMatch(/^Bearer realm="a", /);
    expect(b.headers['WWW-Authenticate']).toMatch(/^Bearer realm="b", /);
    const shared = await verifier.verify(forged).catch((error: unknown) => error);
    expect(shared).toMatchObject({ realm: 'api' });
  });

  it('reports request-level refusals to the verifier once; token refusals are the verifier’s own', async () => {
    const authenticate = createAuthenticator({ verifier, scopes: ['admin'] });
    await verifier.verify(readToken);
    rejected.length = 0;
    authenticate({ headers: {} });
    authenticate(bearer(readToken));
    await settle(authenticate(bearer(`${readToken.slice(0, -4)}AAAA`)));
    expect(rejected.map((event) => event.reason)).toEqual(['missing_token', 'insufficient_scope', 'signature_invalid']);
  });
});

describe('createAuthenticator: the public origin', () => {
  it('builds the absolute request URL from the configured origin, never from the request', () => {
    const authenticate = createAuthenticator({ verifier, origin: 'https://API.example.com:443/' });
    expect(authenticate.origin).toBe('https://api.example.com');
    expect(authenticate.requestUrl({ url: '/notes?page=2' })).toBe('https://api.example.com/notes?page=2');
    expect(authenticate.requestUrl({ url: 'http://evil.example/notes' })).toBe('https://api.example.com/notes');
  });

  it('without an origin, requestUrl() is a TypeError saying what to configure', () => {
    expect(() => createAuthenticator({ verifier }).requestUrl({ url: '/' })).toThrow(
      'revocable-jwt: requestUrl() needs the public origin: ' +
        "pass `origin` (e.g. 'https://api.example.com') to createAuthenticator",
    );
  });
});

describe('createAuthenticator: options are checked at construction', () => {
  it.each<[string, unknown, string | RegExp]>([
    ['no options', undefined, 'revocable-jwt: createAuthenticator needs options: { verifier } or { issuer, audience }'],
    ['a null verifier', { verifier: null }, /`verifier` is null in createAuthenticator/],
    [
      'a misspelt key',
      { verifier: {}, scope: ['a'] },
      /unknown option `scope` in createAuthenticator; did you mean `scopes`\?/,
    ],
    ['verifier options beside a verifier', { verifier: {}, audience: 'x' }, /unknown option `audience`/],
    ['a scope with a space', { verifier: {}, scopes: ['a b'] }, /`scopes` must be an array of scope names/],
    ['a realm with a quote', { verifier: {}, realm: 'a"b' }, /`realm` must be a non-empty string/],
    ['an origin with a path', { verifier: {}, origin: 'https://api.example.com/v1' }, /drop the path `\/v1`/],
    ['a foreign verifier', { verifier: {} }, /`verifier` must come from createVerifier\(\)/],
  ])('%s', (_name, options, message) => {
    expect(() => createAuthenticator(options as never)).toThrow(TypeError);
    expect(() => createAuthenticator(options as never)).toThrow(message);
  });

  it('authGuard keeps its own options: no `origin` there yet', () => {
    expect(() => authGuard({ verifier, origin: 'https://api.example.com' } as never)).toThrow(
      'revocable-jwt: unknown option `origin` in authGuard; valid options: scopes, realm, dpop, verifier',
    );
  });
});
