/**
 * The discovery and JWKS layer against an IdP that misbehaves: wrong documents, wrong keys,
 * oversized or endless answers, redirects, outages. Every case must end in a typed error
 * (IdpUnavailableError 503 when the IdP is the problem, InvalidTokenError 401 when the token is),
 * never in a crash, a hang, or a request the library was not supposed to make.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, jest } from '@jest/globals';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { gzipSync } from 'node:zlib';
import { base64url, SignJWT, type JWK, type JWTPayload } from 'jose';
import {
  AuthError,
  createVerifier,
  HttpRequestError,
  IdpUnavailableError,
  MisconfiguredError,
  InvalidTokenError,
  type FetchLike,
  type Verifier,
  type VerifierOptions,
} from '../../../src/index.js';
import { sendJson, startStubServer, type StubServer } from '../../support/http.js';
import { attackerKey, testClock } from '../../support/idp.js';

const AUDIENCE = 'https://api.example.com';
const OIDC = '/.well-known/openid-configuration';
const RFC8414 = '/.well-known/oauth-authorization-server';

type Route = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;
type Clock = ReturnType<typeof testClock>;
type Key = Awaited<ReturnType<typeof attackerKey>>;

let rsa: Key;
let rsaJwk: JWK;
let ec: Key;
let ecJwk: JWK;
const HMAC_SECRET = new TextEncoder().encode('the-idp-published-this-secret-in-its-jwks!');

const stubs: StubServer[] = [];
const verifiers: Verifier[] = [];

beforeAll(async () => {
  rsa = await attackerKey('RS256');
  rsaJwk = { ...(rsa.publicJwk as JWK), kid: 'rsa-1', alg: 'RS256', use: 'sig' };
  ec = await attackerKey('ES256');
  ecJwk = { ...(ec.publicJwk as JWK), kid: 'ec-1', alg: 'ES256', use: 'sig' };
});

afterEach(async () => {
  await Promise.all(verifiers.splice(0).map((v) => v.close()));
  await Promise.all(stubs.splice(0).map((s) => s.close()));
});

afterAll(async () => {
  await Promise.all(stubs.map((s) => s.close()));
});

// ---------------------------------------------------------------------------------------------
// A fake IdP on a local stub server: a route table the test can change while it runs.

interface FakeIdp {
  base: string;
  issuer: string;
  routes: Record<string, Route>;
  stub: StubServer;
  /** Request paths, in arrival order. */
  paths(): string[];
  count(path: string): number;
}

async function fakeIdp(setup: (base: string) => { issuer?: string; routes: Record<string, Route> }): Promise<FakeIdp> {
  const idp = { routes: {} as Record<string, Route> } as FakeIdp;
  const stub = await startStubServer(async (req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const route = idp.routes[path];
    if (route) await route(req, res);
    else sendJson(res, 404, { error: 'not_found' });
  });
  stubs.push(stub);
  const { issuer, routes } = setup(stub.url);
  Object.assign(idp, {
    base: stub.url,
    issuer: issuer ?? stub.url,
    routes,
    stub,
    paths: () => stub.requests.map((r) => new URL(r.url, 'http://x').pathname),
    count: (path: string) => stub.requests.filter((r) => new URL(r.url, 'http://x').pathname === path).length,
  });
  return idp;
}

/** The common shape: OIDC discovery at the root, JWKS at /keys. */
function healthyIdp(
  keysRoute: Route = serveKeys(() => [rsaJwk, ecJwk]),
  extra: Record<string, Route> = {},
): Promise<FakeIdp> {
  return fakeIdp((base) => ({
    routes: { [OIDC]: serveMetadata({ issuer: base, jwks_uri: `${base}/keys` }), '/keys': keysRoute, ...extra },
  }));
}

const serveMetadata =
  (doc: Record<string, unknown>): Route =>
  (_req, res) =>
    sendJson(res, 200, doc);
const serveKeys =
  (keys: () => unknown[]): Route =>
  (_req, res) =>
    sendJson(res, 200, { keys: keys() });
const serveStatus =
  (status: number, headers: Record<string, string> = {}): Route =>
  (_req, res) =>
    sendJson(res, status, { error: 'server_error' }, headers);
const serveRaw =
  (body: string | Buffer, headers: Record<string, string | number> = { 'content-type': 'application/json' }): Route =>
  (_req, res) => {
    res.writeHead(200, headers);
    res.end(body);
  };
/** Accepts the request and never answers. */
const hang: Route = () => undefined;

function verifierFor(idp: FakeIdp, clock: Clock, overrides: Partial<VerifierOptions> = {}): Verifier {
  const verifier = createVerifier({ issuer: idp.issuer, audience: AUDIENCE, clock, ...overrides });
  verifiers.push(verifier);
  return verifier;
}

let jtiCounter = 0;
/** A fresh (never cached) token, valid for an hour from the injected clock. */
async function sign(
  key: { privateKey: Key['privateKey'] | Uint8Array },
  header: { alg: string; kid?: string },
  iss: string,
  clock: Clock,
  claims: JWTPayload = {},
): Promise<string> {
  const iat = Math.floor(clock() / 1000);
  return new SignJWT({ sub: 'alice', jti: `jti-${++jtiCounter}`, scope: 'notes:read', iat, exp: iat + 3600, ...claims })
    .setProtectedHeader({ typ: 'at+jwt', ...header })
    .setIssuer(iss)
    .setAudience(AUDIENCE)
    .sign(key.privateKey);
}
const signRsa = (idp: FakeIdp, clock: Clock, kid = 'rsa-1') => sign(rsa, { alg: 'RS256', kid }, idp.issuer, clock);
const signEc = (idp: FakeIdp, clock: Clock, kid = 'ec-1') => sign(ec, { alg: 'ES256', kid }, idp.issuer, clock);

async function rejection(promise: Promise<unknown>): Promise<AuthError> {
  const error = await promise.then(
    () => {
      throw new Error('expected a rejection, got a verified token');
    },
    (e: unknown) => e,
  );
  // "Never a crash": whatever went wrong reaches the caller as one of our typed errors.
  expect(error).toBeInstanceOf(AuthError);
  return error as AuthError;
}

function expectUnavailable(error: AuthError): IdpUnavailableError {
  expect(error).toBeInstanceOf(IdpUnavailableError);
  expect(error).toMatchObject({ status: 503, code: 'temporarily_unavailable', reason: 'idp_unavailable' });
  expect(error.headers['Retry-After']).toMatch(/^[1-9]\d*$/);
  return error as IdpUnavailableError;
}

/** A configuration that cannot work: 500, no Retry-After, no challenge; the explanation in `message`. */
function expectMisconfigured(error: AuthError): MisconfiguredError {
  expect(error).toBeInstanceOf(MisconfiguredError);
  expect(error).toMatchObject({ status: 500, code: 'server_error', reason: 'misconfigured', expose: false });
  expect(error.headers).toEqual({});
  return error as MisconfiguredError;
}

function expectInvalid(error: AuthError, reason?: string): InvalidTokenError {
  expect(error).toBeInstanceOf(InvalidTokenError);
  expect(error).toMatchObject({ status: 401, code: 'invalid_token' });
  if (reason) expect(error.reason).toBe(reason);
  return error as InvalidTokenError;
}

/** The innermost `cause`, following the chain. */
function rootCause(error: unknown): unknown {
  let current = error;
  while (current instanceof Error && current.cause !== undefined) current = current.cause;
  return current;
}

// ---------------------------------------------------------------------------------------------

describe('discovery', () => {
  it('falls back from OpenID discovery (404) to RFC 8414 metadata', async () => {
    const idp = await fakeIdp((base) => ({
      routes: {
        [OIDC]: serveStatus(404),
        [RFC8414]: serveMetadata({ issuer: base, jwks_uri: `${base}/keys` }),
        '/keys': serveKeys(() => [rsaJwk]),
      },
    }));
    const clock = testClock();
    const verifier = verifierFor(idp, clock);
    await expect(verifier.verify(await signRsa(idp, clock))).resolves.toMatchObject({ header: { kid: 'rsa-1' } });
    expect(idp.paths()).toEqual([OIDC, RFC8414, '/keys']);
    expect(verifier.stats().discovery.fetches).toBe(2);
  });

  it('also falls back when OpenID discovery answers another 4xx (403)', async () => {
    const idp = await fakeIdp((base) => ({
      routes: {
        [OIDC]: serveStatus(403),
        [RFC8414]: serveMetadata({ issuer: base, jwks_uri: `${base}/keys` }),
        '/keys': serveKeys(() => [rsaJwk]),
      },
    }));
    const clock = testClock();
    await expect(verifierFor(idp, clock).verify(await signRsa(idp, clock))).resolves.toBeDefined();
    expect(idp.paths()).toEqual([OIDC, RFC8414, '/keys']);
  });

  it('uses OpenID discovery alone when it exists', async () => {
    const idp = await healthyIdp(undefined, { [RFC8414]: serveStatus(500) });
    const clock = testClock();
    await expect(verifierFor(idp, clock).verify(await signRsa(idp, clock))).resolves.toBeDefined();
    expect(idp.paths()).toEqual([OIDC, '/keys']);
  });

  it.each<[string, string, string, string]>([
    ['/tenant', '/tenant', `/tenant${OIDC}`, `${RFC8414}/tenant`],
    ['/tenant/ (trailing slash)', '/tenant/', `/tenant${OIDC}`, `${RFC8414}/tenant`],
    ['/realms/acme', '/realms/acme', `/realms/acme${OIDC}`, `${RFC8414}/realms/acme`],
  ])(
    'handles an issuer with path %s: OpenID at the path, RFC 8414 between host and path',
    async (_name, issuerPath, oidcPath, rfcPath) => {
      const idp = await fakeIdp((base) => ({
        issuer: `${base}${issuerPath}`,
        routes: {
          [rfcPath]: serveMetadata({ issuer: `${base}${issuerPath}`, jwks_uri: `${base}/keys` }),
          '/keys': serveKeys(() => [rsaJwk]),
        },
      }));
      const clock = testClock();
      const verifier = verifierFor(idp, clock);
      await expect(verifier.verify(await signRsa(idp, clock))).resolves.toMatchObject({ payload: { iss: idp.issuer } });
      expect(idp.paths()).toEqual([oidcPath, rfcPath, '/keys']);
    },
  );

  it('answers 500 (misconfigured) pointing at `issuer` and `jwksUri` when neither well-known document exists', async () => {
    const idp = await fakeIdp(() => ({ routes: { '/keys': serveKeys(() => [rsaJwk]) } }));
    const clock = testClock();
    const error = expectMisconfigured(await rejection(verifierFor(idp, clock).verify(await signRsa(idp, clock))));
    expect(error.message).toMatch(/no discovery document found for .*check `issuer`, or pass `jwksUri` explicitly/);
    expect(rootCause(error)).toBeInstanceOf(HttpRequestError);
    expect(idp.paths()).toEqual([OIDC, RFC8414]);
  });

  it.each<[string, (base: string) => unknown]>([
    ['another host', () => 'https://evil.example'],
    ['another path on the same host', (base) => `${base}/other`],
    ['the issuer with a trailing slash added', (base) => `${base}/`],
    ['the issuer in another case', (base) => base.toUpperCase()],
    ['no issuer at all', () => undefined],
    ['a non-string issuer', (base) => [base]],
  ])('rejects metadata whose issuer is %s, and never fetches its JWKS', async (_name, metadataIssuer) => {
    const idp = await fakeIdp((base) => ({
      routes: {
        [OIDC]: serveMetadata({ issuer: metadataIssuer(base), jwks_uri: `${base}/keys` }),
        [RFC8414]: serveMetadata({ issuer: base, jwks_uri: `${base}/keys` }),
        '/keys': serveKeys(() => [rsaJwk]),
      },
    }));
    const clock = testClock();
    const verifier = verifierFor(idp, clock);
    const error = expectMisconfigured(await rejection(verifier.verify(await signRsa(idp, clock))));
    expect(error.message).toMatch(/metadata at .* is for issuer .*, not the configured .*; fix `issuer`/);
    expect(idp.count('/keys')).toBe(0);
    expect(verifier.stats().jwks.fetches).toBe(0);
  });

  it('rejects an issuer mismatch found in the RFC 8414 document too', async () => {
    const idp = await fakeIdp(() => ({
      routes: {
        [RFC8414]: serveMetadata({ issuer: 'https://evil.example', jwks_uri: 'https://evil.example/keys' }),
      },
    }));
    const clock = testClock();
    const error = expectMisconfigured(await rejection(verifierFor(idp, clock).verify(await signRsa(idp, clock))));
    expect(error.message).toMatch(/is for issuer "https:\/\/evil\.example", not the configured/);
  });

  it('does not fall back to RFC 8414 when OpenID discovery fails with a 5xx (IdP down)', async () => {
    const idp = await fakeIdp((base) => ({
      routes: { [OIDC]: serveStatus(502), [RFC8414]: serveMetadata({ issuer: base, jwks_uri: `${base}/keys` }) },
    }));
    const clock = testClock();
    expectUnavailable(await rejection(verifierFor(idp, clock).verify(await signRsa(idp, clock))));
    expect(idp.paths()).toEqual([OIDC]);
  });

  it('passes a 429 Retry-After from discovery on to the client', async () => {
    const idp = await fakeIdp(() => ({ routes: { [OIDC]: serveStatus(429, { 'retry-after': '20' }) } }));
    const clock = testClock();
    const error = expectUnavailable(await rejection(verifierFor(idp, clock).verify(await signRsa(idp, clock))));
    expect(error.retryAfter).toBe(20);
    expect(error.headers['Retry-After']).toBe('20');
    expect(idp.paths()).toEqual([OIDC]);
  });

  it('does not follow a redirect of the discovery document', async () => {
    const idp = await fakeIdp((base) => ({
      routes: {
        [OIDC]: (_req, res) => {
          res.writeHead(301, { location: `${base}/moved${OIDC}` });
          res.end();
        },
        [`/moved${OIDC}`]: serveMetadata({ issuer: base, jwks_uri: `${base}/keys` }),
        '/keys': serveKeys(() => [rsaJwk]),
      },
    }));
    const clock = testClock();
    const error = expectUnavailable(await rejection(verifierFor(idp, clock).verify(await signRsa(idp, clock))));
    expect(rootCause(error)).toMatchObject({ kind: 'redirect', status: 301 });
    expect(idp.count(`/moved${OIDC}`)).toBe(0);
  });

  it.each<[string, (base: string) => unknown]>([
    ['missing', () => undefined],
    ['not a string', () => 42],
    ['relative', () => '/keys'],
    ['plain http on a non-loopback host', () => 'http://keys.evil.example/jwks'],
    ['a javascript: URL', () => 'javascript:alert(1)'],
  ])(
    'answers 500 (misconfigured) when the discovered jwks_uri is %s, and fetches nothing from it',
    async (_name, jwksUri) => {
      const calls: string[] = [];
      const countingFetch: FetchLike = (input, init) => {
        calls.push(String(input));
        return fetch(input, init);
      };
      const idp = await fakeIdp((base) => ({
        routes: {
          [OIDC]: serveMetadata({ issuer: base, jwks_uri: jwksUri(base) }),
          '/keys': serveKeys(() => [rsaJwk]),
        },
      }));
      const clock = testClock();
      const error = expectMisconfigured(
        await rejection(verifierFor(idp, clock, { fetch: countingFetch }).verify(await signRsa(idp, clock))),
      );
      expect(rootCause(error)).toBeInstanceOf(TypeError);
      expect((rootCause(error) as Error).message).toMatch(/jwks_uri \(from discovery\)/);
      expect(calls).toEqual([`${idp.base}${OIDC}`]);
    },
  );

  // Regression test for a fixed bug (src/core/discovery.ts, `cached = metadata` in get()): discovery caches the metadata as soon
  // as its `issuer` matches, before anyone checked that `jwks_uri` is usable. If the IdP briefly
  // serves metadata without a valid jwks_uri (a bad deploy), verifier.ts resolveJwksUri() keeps
  // failing on the cached document forever: every later request is a 503 until the process
  // restarts, even after the IdP is fixed. Metadata should only be cached once jwks_uri validates
  // (or discovery should be retried, with backoff, when the cached jwks_uri is unusable).
  it('recovers without restart once the IdP fixes a metadata document that lacked jwks_uri', async () => {
    let fixed = false;
    const idp = await fakeIdp((base) => ({
      routes: {
        [OIDC]: (_req, res) =>
          sendJson(res, 200, fixed ? { issuer: base, jwks_uri: `${base}/keys` } : { issuer: base }),
        '/keys': serveKeys(() => [rsaJwk]),
      },
    }));
    const clock = testClock();
    const verifier = verifierFor(idp, clock);
    expectMisconfigured(await rejection(verifier.verify(await signRsa(idp, clock))));
    expect(idp.paths()).toEqual([OIDC]);
    fixed = true;
    clock.advance(10 * 60_000); // well past every backoff
    await expect(verifier.verify(await signRsa(idp, clock))).resolves.toBeDefined();
  });

  it('shares one discovery request among concurrent first requests, and backs off after it fails', async () => {
    const idp = await fakeIdp(() => ({ routes: { [OIDC]: serveStatus(500) } }));
    const clock = testClock();
    const verifier = verifierFor(idp, clock);
    const tokens = await Promise.all(Array.from({ length: 20 }, () => signRsa(idp, clock)));
    const errors = await Promise.all(tokens.map((t) => rejection(verifier.verify(t))));
    errors.forEach(expectUnavailable);
    expect(idp.paths()).toEqual([OIDC]);
    // Immediately again: still 503, and no new request.
    expectUnavailable(await rejection(verifier.verify(await signRsa(idp, clock))));
    expect(idp.paths()).toEqual([OIDC]);
  });
});

describe('JWKS endpoint faults answer 503 (and nothing else is fetched)', () => {
  const big = (bytes: number) => JSON.stringify({ keys: [], padding: 'p'.repeat(bytes) });

  it.each<[string, (base: string) => Route]>([
    ['500', () => serveStatus(500)],
    [
      '503 with an HTML body',
      () => (_req, res) => {
        res.writeHead(503, { 'content-type': 'text/html' });
        res.end('<html><body>Service Unavailable</body></html>');
      },
    ],
    ['404', () => serveStatus(404)],
    ['invalid JSON', () => serveRaw('{"keys": [')],
    [
      'an HTML page with status 200',
      () => serveRaw('<!doctype html><title>Login</title>', { 'content-type': 'text/html' }),
    ],
    ['an empty 200 body', () => serveRaw('')],
    ['a JSON array', () => serveRaw('[]')],
    ['JSON null', () => serveRaw('null')],
    ['a JSON string', () => serveRaw('"keys"')],
    ['an object without keys', () => serveRaw('{}')],
    ['keys that is not an array', () => serveRaw('{"keys":{"0":{}}}')],
    [
      'a body over 512 KiB with Content-Length',
      () => {
        const body = big(600 * 1024);
        return serveRaw(body, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      },
    ],
    [
      'a chunked body over 512 KiB (no Content-Length)',
      () => (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write('{"keys":[],"padding":"');
        for (let i = 0; i < 10; i++) res.write('p'.repeat(64 * 1024));
        res.end('"}');
      },
    ],
    [
      'a gzip bomb (small on the wire, 4 MiB decoded)',
      () => {
        const body = gzipSync(big(4 * 1024 * 1024));
        return serveRaw(body, {
          'content-type': 'application/json',
          'content-encoding': 'gzip',
          'content-length': body.byteLength,
        });
      },
    ],
    [
      'a 302 redirect to another URL',
      (base) => (_req, res) => {
        res.writeHead(302, { location: `${base}/real-keys` });
        res.end();
      },
    ],
    [
      'a 307 redirect to another URL',
      (base) => (_req, res) => {
        res.writeHead(307, { location: `${base}/real-keys` });
        res.end();
      },
    ],
    [
      'a connection reset before any answer',
      () => (req) => {
        req.socket.destroy();
      },
    ],
    [
      'a connection cut in the middle of the body',
      () => (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': '1000' });
        res.write('{"keys":[');
        setImmediate(() => res.socket?.destroy());
      },
    ],
  ])('%s', async (_name, route) => {
    const idp = await fakeIdp((base) => ({
      routes: {
        [OIDC]: serveMetadata({ issuer: base, jwks_uri: `${base}/keys` }),
        '/keys': route(base),
        '/real-keys': serveKeys(() => [rsaJwk]),
      },
    }));
    const clock = testClock();
    const verifier = verifierFor(idp, clock);
    expectUnavailable(await rejection(verifier.verify(await signRsa(idp, clock))));
    expect(idp.count('/real-keys')).toBe(0);
    expect(idp.count('/keys')).toBe(1);
    expect(verifier.stats().jwks).toMatchObject({ fetches: 1, failures: 1, keys: 0 });
  });

  it('accepts a large but allowed JWKS (under the 512 KiB cap)', async () => {
    const body = JSON.stringify({ keys: [rsaJwk], padding: 'p'.repeat(500 * 1024) });
    const idp = await healthyIdp(
      serveRaw(body, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }),
    );
    const clock = testClock();
    await expect(verifierFor(idp, clock).verify(await signRsa(idp, clock))).resolves.toBeDefined();
  });

  it('reports the size cap in the cause', async () => {
    const body = JSON.stringify({ keys: [rsaJwk], padding: 'p'.repeat(600 * 1024) });
    const idp = await healthyIdp(
      serveRaw(body, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }),
    );
    const clock = testClock();
    const error = expectUnavailable(await rejection(verifierFor(idp, clock).verify(await signRsa(idp, clock))));
    expect(rootCause(error)).toMatchObject({ kind: 'too_large' });
    expect((rootCause(error) as Error).message).toMatch(/524288-byte limit/);
  });

  it('honours the Retry-After of a 503, backs off until then, and recovers afterwards', async () => {
    let down = true;
    const idp = await healthyIdp((req, res) =>
      down ? serveStatus(503, { 'retry-after': '7' })(req, res) : serveKeys(() => [rsaJwk])(req, res),
    );
    const clock = testClock();
    const verifier = verifierFor(idp, clock);
    const first = expectUnavailable(await rejection(verifier.verify(await signRsa(idp, clock))));
    expect(first.headers['Retry-After']).toBe('7');
    clock.advance(3_000);
    const second = expectUnavailable(await rejection(verifier.verify(await signRsa(idp, clock))));
    expect(second.retryAfter).toBe(4);
    expect(idp.count('/keys')).toBe(1);
    down = false;
    clock.advance(4_001);
    await expect(verifier.verify(await signRsa(idp, clock))).resolves.toBeDefined();
    expect(idp.count('/keys')).toBe(2);
  });

  it('shares one failing JWKS request among concurrent first requests', async () => {
    const idp = await healthyIdp(serveStatus(500));
    const clock = testClock();
    const verifier = verifierFor(idp, clock);
    const tokens = await Promise.all(Array.from({ length: 20 }, () => signRsa(idp, clock)));
    (await Promise.all(tokens.map((t) => rejection(verifier.verify(t))))).forEach(expectUnavailable);
    expect(idp.count('/keys')).toBe(1);
    expect(idp.count(OIDC)).toBe(1);
  });
});

describe('keys that must never be used', () => {
  const octJwk = (): JWK => ({ kty: 'oct', k: base64url.encode(HMAC_SECRET), kid: 'shared', alg: 'HS256', use: 'sig' });

  it('never uses an oct key from the JWKS, even when its kid and alg match the token', async () => {
    const idp = await healthyIdp(serveKeys(() => [octJwk(), rsaJwk]));
    const clock = testClock();
    const hmacToken = await sign({ privateKey: HMAC_SECRET }, { alg: 'HS256', kid: 'shared' }, idp.issuer, clock);

    // Default algorithms: HS256 is not even considered.
    const plain = verifierFor(idp, clock);
    expectInvalid(await rejection(plain.verify(hmacToken)), 'algorithm_not_allowed');

    // HMAC opted in: only the configured secret is an HMAC key, never the JWKS `oct` key.
    const hmac = verifierFor(idp, clock, {
      algorithms: ['RS256', 'HS256'],
      secret: 'the-configured-secret-is-a-different-one',
    });
    expectInvalid(await rejection(hmac.verify(hmacToken)), 'signature_invalid');

    // The oct key is not even part of the key set.
    await expect(plain.verify(await signRsa(idp, clock))).resolves.toBeDefined();
    expect(plain.stats().jwks.keys).toBe(1);
    // And an RS256 token pointing at the oct key's kid finds no key.
    expectInvalid(await rejection(plain.verify(await signRsa(idp, clock, 'shared'))), 'key_not_found');
  });

  it.each<[string, JWK]>([
    ["use: 'enc'", { use: 'enc' }],
    ["key_ops: ['encrypt']", { key_ops: ['encrypt'] }],
    ["key_ops: 'verify' (not an array)", { key_ops: 'verify' as unknown as string[] }],
    ['a different alg (RS512) under the same kid', { alg: 'RS512' }],
    ['a different alg (PS256) under the same kid', { alg: 'PS256' }],
  ])('does not use a key with %s', async (_name, change) => {
    const idp = await healthyIdp(serveKeys(() => [{ ...rsaJwk, ...change }]));
    const clock = testClock();
    const verifier = verifierFor(idp, clock);
    expectInvalid(await rejection(verifier.verify(await signRsa(idp, clock))), 'key_not_found');
  });

  it('uses the same key once it is marked for signatures (control)', async () => {
    const idp = await healthyIdp(serveKeys(() => [{ ...rsaJwk, use: 'sig', key_ops: ['verify'] }]));
    const clock = testClock();
    await expect(verifierFor(idp, clock).verify(await signRsa(idp, clock))).resolves.toBeDefined();
  });

  it('rejects an EC token whose kid names an RSA key', async () => {
    const idp = await healthyIdp(serveKeys(() => [{ ...rsaJwk, kid: 'k1' }]));
    const clock = testClock();
    expectInvalid(await rejection(verifierFor(idp, clock).verify(await signEc(idp, clock, 'k1'))), 'key_not_found');
  });

  it('rejects an RSA token whose kid names an EC key', async () => {
    const idp = await healthyIdp(serveKeys(() => [{ ...ecJwk, kid: 'k1' }]));
    const clock = testClock();
    expectInvalid(await rejection(verifierFor(idp, clock).verify(await signRsa(idp, clock, 'k1'))), 'key_not_found');
  });

  it('rejects an ES384 token whose kid names a P-256 key without alg', async () => {
    const { alg: _alg, ...p256NoAlg } = ecJwk;
    const idp = await healthyIdp(serveKeys(() => [p256NoAlg]));
    const clock = testClock();
    const p384 = await attackerKey('ES384');
    const token = await sign(p384, { alg: 'ES384', kid: 'ec-1' }, idp.issuer, clock);
    expectInvalid(await rejection(verifierFor(idp, clock).verify(token)), 'key_not_found');
  });

  it('refuses a JWKS member that is a private key, with a 401 and not a crash', async () => {
    const idp = await healthyIdp(
      serveKeys(() => [{ ...(rsa.privateJwk as JWK), kid: 'rsa-1', alg: 'RS256', use: 'sig' }]),
    );
    const clock = testClock();
    expectInvalid(await rejection(verifierFor(idp, clock).verify(await signRsa(idp, clock))));
  });

  it('refuses a token whose kid names a malformed key, with a 401 and not a crash', async () => {
    const idp = await healthyIdp(
      serveKeys(() => [rsaJwk, { kty: 'RSA', kid: 'broken', n: 'not-base64url!', e: 'AQAB' }]),
    );
    const clock = testClock();
    const verifier = verifierFor(idp, clock);
    expectInvalid(await rejection(verifier.verify(await signRsa(idp, clock, 'broken'))));
    await expect(verifier.verify(await signRsa(idp, clock))).resolves.toBeDefined();
  });

  it('ignores junk members (null, numbers, strings) next to valid keys', async () => {
    const idp = await healthyIdp(serveKeys(() => [null, 42, 'rsa-1', rsaJwk, { kty: 'RSA' }]));
    const clock = testClock();
    await expect(verifierFor(idp, clock).verify(await signRsa(idp, clock))).resolves.toBeDefined();
  });

  // Regression test for a fixed bug (src/core/jwks.ts, install(): the `keys` filter `typeof key === 'object' && key !== null`):
  // an array member passes that filter, but jose's createLocalJWKSet then rejects the whole set
  // ("JSON Web Key Set malformed") because every member must be a plain object. One junk member
  // thus makes every valid key unusable (503 on first load, and the set is never replaced later).
  // The filter should also drop arrays (`!Array.isArray(key)`), as it drops null and primitives.
  it('ignores an array member next to valid keys', async () => {
    const idp = await healthyIdp(serveKeys(() => [[], rsaJwk]));
    const clock = testClock();
    await expect(verifierFor(idp, clock).verify(await signRsa(idp, clock))).resolves.toBeDefined();
  });
});

describe('tokens without kid', () => {
  it('verifies a kid-less token when the JWKS has exactly one usable key', async () => {
    const { kid: _kid, ...noKid } = rsaJwk;
    const idp = await healthyIdp(serveKeys(() => [noKid, ecJwk]));
    const clock = testClock();
    const token = await sign(rsa, { alg: 'RS256' }, idp.issuer, clock);
    await expect(verifierFor(idp, clock).verify(token)).resolves.toBeDefined();
  });

  // Regression test for a fixed bug (src/core/jwks.ts getKey()/select(), surfacing via src/core/rejections.ts
  // reasonFor()): when a token has no `kid` and the JWKS holds two keys of its type (the normal
  // rotation overlap of an IdP that does not put kid in tokens), jose's createLocalJWKSet throws
  // JWKSMultipleMatchingKeys. jose 6 leaves trying each candidate to the caller (the error is an
  // async iterator over the candidate keys); getKey() rethrows it and the genuine token ends up as
  // a 401 key_not_found. getKey() should iterate the candidates (or the verifier should try each).
  it('verifies a kid-less token signed by either of two published RSA keys', async () => {
    const other = await attackerKey('RS256');
    const { kid: _kid, ...first } = rsaJwk;
    const second = { ...(other.publicJwk as JWK), alg: 'RS256', use: 'sig' };
    const idp = await healthyIdp(serveKeys(() => [first, second]));
    const clock = testClock();
    const verifier = verifierFor(idp, clock);
    await expect(verifier.verify(await sign(rsa, { alg: 'RS256' }, idp.issuer, clock))).resolves.toBeDefined();
    await expect(verifier.verify(await sign(other, { alg: 'RS256' }, idp.issuer, clock))).resolves.toBeDefined();
  });
});

describe('tokens without kid: bounded cost (at most two candidate keys)', () => {
  /** Counts signature checks structurally: jose verifies through WebCrypto's `subtle.verify`. */
  async function countSignatureChecks(run: () => Promise<unknown>): Promise<number> {
    const spy = jest.spyOn(crypto.subtle, 'verify');
    try {
      await run().catch(() => undefined);
      return spy.mock.calls.length;
    } finally {
      spy.mockRestore();
    }
  }

  let many: Key[];
  beforeAll(async () => {
    many = await Promise.all(Array.from({ length: 64 }, () => attackerKey('ES256')));
  });
  const kidless = (key: Key): JWK => ({ ...(key.publicJwk as JWK), alg: 'ES256', use: 'sig' });

  it('a forged kid-less token costs at most two signature checks against 64 published keys', async () => {
    const idp = await healthyIdp(serveKeys(() => many.map(kidless)));
    const clock = testClock();
    const verifier = verifierFor(idp, clock);
    // Warm the key set, so the count below is of one forged token only.
    await verifier.verify(await sign(many[0]!, { alg: 'ES256' }, idp.issuer, clock));
    const forger = await attackerKey('ES256');
    const forged = await sign(forger, { alg: 'ES256' }, idp.issuer, clock);
    expectInvalid(await rejection(verifier.verify(forged)), 'signature_invalid');
    const another = await sign(forger, { alg: 'ES256' }, idp.issuer, clock);
    expect(await countSignatureChecks(() => verifier.verify(another))).toBeLessThanOrEqual(2);
    // The revocation path identifies tokens by signature too: same bound.
    expect(await countSignatureChecks(() => verifier.invalidate(forged))).toBeLessThanOrEqual(2);
  });

  it('the candidates are the first two keys of the type, in JWKS order (deterministic)', async () => {
    const idp = await healthyIdp(serveKeys(() => many.slice(0, 3).map(kidless)));
    const clock = testClock();
    const verifier = verifierFor(idp, clock);
    await expect(verifier.verify(await sign(many[0]!, { alg: 'ES256' }, idp.issuer, clock))).resolves.toBeDefined();
    await expect(verifier.verify(await sign(many[1]!, { alg: 'ES256' }, idp.issuer, clock))).resolves.toBeDefined();
    expectInvalid(
      await rejection(verifier.verify(await sign(many[2]!, { alg: 'ES256' }, idp.issuer, clock))),
      'signature_invalid',
    );
  });

  it.each([
    ['new key first', (fresh: JWK, old: JWK) => [fresh, old]],
    ['old key first', (fresh: JWK, old: JWK) => [old, fresh]],
  ])(
    'a rotating IdP (%s): kid-less tokens of both keys verify, with an RSA key of another type around',
    async (_name, order) => {
      const [fresh, old] = [many[10]!, many[11]!];
      const idp = await healthyIdp(serveKeys(() => [...order(kidless(fresh), kidless(old)), rsaJwk]));
      const clock = testClock();
      const verifier = verifierFor(idp, clock);
      await expect(verifier.verify(await sign(old, { alg: 'ES256' }, idp.issuer, clock))).resolves.toBeDefined();
      await expect(verifier.verify(await sign(fresh, { alg: 'ES256' }, idp.issuer, clock))).resolves.toBeDefined();
    },
  );
});

describe('timeouts', () => {
  it('answers 503 quickly when the JWKS endpoint never answers', async () => {
    const idp = await healthyIdp(hang);
    const clock = testClock();
    const verifier = verifierFor(idp, clock, { timeout: 0.2 });
    const started = performance.now();
    const error = expectUnavailable(await rejection(verifier.verify(await signRsa(idp, clock))));
    expect(performance.now() - started).toBeLessThan(2_000);
    expect(error.cause).toMatchObject({ kind: 'timeout' });
    expect((error.cause as Error).message).toMatch(/did not answer within 200 ms/);
  });

  it('times out a JWKS response whose body never ends', async () => {
    const idp = await healthyIdp((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"keys":[');
    });
    const clock = testClock();
    const started = performance.now();
    const error = expectUnavailable(
      await rejection(verifierFor(idp, clock, { timeout: 0.2 }).verify(await signRsa(idp, clock))),
    );
    expect(performance.now() - started).toBeLessThan(2_000);
    expect(error.cause).toMatchObject({ kind: 'timeout' });
  });

  it('times out discovery, without trying RFC 8414 as well', async () => {
    const idp = await fakeIdp((base) => ({
      routes: { [OIDC]: hang, [RFC8414]: serveMetadata({ issuer: base, jwks_uri: `${base}/keys` }) },
    }));
    const clock = testClock();
    const started = performance.now();
    const error = expectUnavailable(
      await rejection(verifierFor(idp, clock, { timeout: 0.2 }).verify(await signRsa(idp, clock))),
    );
    expect(performance.now() - started).toBeLessThan(2_000);
    expect(error.cause).toMatchObject({ kind: 'timeout' });
    expect(idp.paths()).toEqual([OIDC]);
  });

  it('close() settles a verification stuck on a hung JWKS request', async () => {
    const idp = await healthyIdp(hang);
    const clock = testClock();
    const verifier = verifierFor(idp, clock, { timeout: 15 });
    let settled = false;
    const pending = rejection(verifier.verify(await signRsa(idp, clock))).finally(() => {
      settled = true;
    });
    // Wait (event-loop turns, not a sleep) until the JWKS request is really in flight.
    while (idp.count('/keys') === 0 && !settled) await new Promise((resolve) => setImmediate(resolve));
    expect(settled).toBe(false);
    const started = performance.now();
    await verifier.close();
    const error = await pending;
    expect(performance.now() - started).toBeLessThan(1_000);
    expectUnavailable(error);
  });
});

describe('stale-if-error', () => {
  it.each<[string, Route]>([
    ['500', serveStatus(500)],
    ['invalid JSON', serveRaw('{"keys":')],
    [
      'a redirect',
      (_req, res) => {
        res.writeHead(302, { location: '/elsewhere' });
        res.end();
      },
    ],
    [
      'a connection reset',
      (req) => {
        req.socket.destroy();
      },
    ],
    ['a JWKS without keys', serveRaw('{"error":"maintenance"}')],
  ])('keeps verifying known kids after the JWKS endpoint starts failing with %s', async (_name, failure) => {
    let failing = false;
    const good = serveKeys(() => [rsaJwk]);
    const idp = await healthyIdp((req, res) => (failing ? failure(req, res) : good(req, res)));
    const clock = testClock();
    const verifier = verifierFor(idp, clock);
    await verifier.verify(await signRsa(idp, clock));
    expect(idp.count('/keys')).toBe(1);

    failing = true;
    clock.advance(601_000); // past jwksMaxAge (600 s): the next key lookup refreshes in the background
    await expect(verifier.verify(await signRsa(idp, clock))).resolves.toMatchObject({ header: { kid: 'rsa-1' } });

    // A kid nobody has seen waits for that refresh, which fails: 503 (the key may be real).
    const unknown = expectUnavailable(
      await rejection(verifier.verify(await signRsa(idp, clock, 'rotated-during-outage'))),
    );
    expect(unknown.retryAfter).toBeGreaterThanOrEqual(1);
    expect(idp.count('/keys')).toBe(2);
    expect(verifier.stats().jwks).toMatchObject({ fetches: 2, failures: 1, keys: 1 });

    // Known keys keep working, and the failing endpoint is not hit again while backing off.
    await expect(verifier.verify(await signRsa(idp, clock))).resolves.toBeDefined();
    await expect(verifier.verify(await signRsa(idp, clock))).resolves.toBeDefined();
    expect(idp.count('/keys')).toBe(2);

    // Once it is healthy again, the next refresh picks it up.
    failing = false;
    clock.advance(31_000);
    await expect(verifier.verify(await signRsa(idp, clock))).resolves.toBeDefined();
    await expect(verifier.verify(await signRsa(idp, clock, 'rotated-during-outage'))).rejects.toMatchObject({
      reason: 'key_not_found',
    });
    expect(verifier.stats().jwks.failures).toBe(1);
  });
});

describe('which requests are made, and with which fetch', () => {
  it('with an explicit jwksUri, never requests discovery', async () => {
    const idp = await fakeIdp((base) => ({
      routes: {
        // If discovery were consulted it would point at a JWKS without our key.
        [OIDC]: serveMetadata({ issuer: base, jwks_uri: `${base}/wrong-keys` }),
        [RFC8414]: serveMetadata({ issuer: base, jwks_uri: `${base}/wrong-keys` }),
        '/wrong-keys': serveKeys(() => []),
        '/keys': serveKeys(() => [rsaJwk]),
      },
    }));
    const clock = testClock();
    const verifier = verifierFor(idp, clock, { jwksUri: `${idp.base}/keys` });
    await expect(verifier.verify(await signRsa(idp, clock))).resolves.toBeDefined();
    expect(idp.paths()).toEqual(['/keys']);
    expect(verifier.stats().discovery.fetches).toBe(0);
  });

  it('with an explicit jwksUri that fails, still never requests discovery', async () => {
    const idp = await healthyIdp(serveStatus(500));
    const clock = testClock();
    const verifier = verifierFor(idp, clock, { jwksUri: new URL(`${idp.base}/keys`) });
    expectUnavailable(await rejection(verifier.verify(await signRsa(idp, clock))));
    clock.advance(60_000);
    expectUnavailable(await rejection(verifier.verify(await signRsa(idp, clock))));
    expect(idp.paths()).toEqual(['/keys', '/keys']);
  });

  it('uses the injected fetch for every request, never the global one', async () => {
    const realFetch = globalThis.fetch;
    const calls: Array<{ url: string; init: RequestInit | undefined }> = [];
    const injected = jest.fn<FetchLike>((input, init) => {
      calls.push({ url: String(input), init });
      return realFetch(input, init);
    });
    const globalSpy = jest.spyOn(globalThis, 'fetch');
    try {
      const idp = await healthyIdp();
      const clock = testClock();
      const verifier = verifierFor(idp, clock, { fetch: injected });
      await verifier.verify(await signRsa(idp, clock));
      await verifier.verify(await signEc(idp, clock));
      expectInvalid(await rejection(verifier.verify(await signRsa(idp, clock, 'unknown-kid'))), 'key_not_found');

      expect(injected).toHaveBeenCalledTimes(2);
      expect(calls.map((c) => c.url)).toEqual([`${idp.base}${OIDC}`, `${idp.base}/keys`]);
      for (const { init } of calls) {
        expect(init).toMatchObject({ method: 'GET', redirect: 'manual' });
        expect(init?.signal).toBeInstanceOf(AbortSignal);
      }
      expect(globalSpy).not.toHaveBeenCalled();
      expect(idp.paths()).toEqual([OIDC, '/keys']);
    } finally {
      globalSpy.mockRestore();
    }
  });

  it.each<[string, FetchLike]>([
    [
      'throws synchronously',
      () => {
        throw new Error('boom');
      },
    ],
    ['rejects with a non-Error', () => Promise.reject('nope')],
    ['resolves to something that is not a Response', () => Promise.resolve({} as Response)],
    ['resolves to undefined', () => Promise.resolve(undefined as unknown as Response)],
  ])('turns an injected fetch that %s into a 503', async (_name, broken) => {
    const idp = await healthyIdp();
    const clock = testClock();
    expectUnavailable(await rejection(verifierFor(idp, clock, { fetch: broken }).verify(await signRsa(idp, clock))));
  });
});
