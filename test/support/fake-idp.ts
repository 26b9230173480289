/**
 * A fake IdP on a local stub server, for what the embedded oidc-provider will not do: wrong or
 * oversized documents, outages, hangs, redirects, keys that must not be used. Its routes are a
 * table the test owns and may change while it runs; its tokens are signed here, with keys the
 * test publishes (or not) in its JWKS.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { KeyObject } from 'node:crypto';
import { exportJWK, generateKeyPair, SignJWT, type JWK, type JWTHeaderParameters, type JWTPayload } from 'jose';
import { sendJson, startStubServer, type StubServer } from './http.js';

export const OIDC_DISCOVERY = '/.well-known/openid-configuration';
export const RFC8414_METADATA = '/.well-known/oauth-authorization-server';
/** The audience of the fake IdP's access tokens. */
export const FAKE_AUDIENCE = 'https://api.example.com';

export type Route = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

export interface FakeIdp {
  /** The stub server's origin, `http://127.0.0.1:<port>`. */
  base: string;
  issuer: string;
  audience: string;
  /** Path → route; anything else is a 404. */
  routes: Record<string, Route>;
  stub: StubServer;
  /** Request paths, in arrival order. */
  paths(): string[];
  count(path: string): number;
}

const started: StubServer[] = [];

/**
 * Starts a fake IdP whose routes (and issuer, by default its origin) `setup` returns, given the
 * origin. Nothing is served unless `setup` says so: see {@link discoveryRoutes} for the usual shape.
 */
export async function startFakeIdp(
  setup: (base: string) => { issuer?: string; routes: Record<string, Route> },
): Promise<FakeIdp> {
  const routes: Record<string, Route> = {};
  const pathOf = (url: string) => new URL(url, 'http://x').pathname;
  const stub = await startStubServer(async (req, res) => {
    const route = idp.routes[pathOf(req.url ?? '/')];
    if (route) await route(req, res);
    else sendJson(res, 404, { error: 'not_found' });
  });
  started.push(stub);
  const { issuer, routes: initial } = setup(stub.url);
  const idp: FakeIdp = {
    base: stub.url,
    issuer: issuer ?? stub.url,
    audience: FAKE_AUDIENCE,
    routes: Object.assign(routes, initial),
    stub,
    paths: () => stub.requests.map((r) => pathOf(r.url)),
    count: (path) => stub.requests.filter((r) => pathOf(r.url) === path).length,
  };
  return idp;
}

/** OpenID discovery at the root, naming `/keys` as the JWKS, which serves `keys`. */
export function discoveryRoutes(base: string, keys: Route): Record<string, Route> {
  return { [OIDC_DISCOVERY]: serveJson({ issuer: base, jwks_uri: `${base}/keys` }), '/keys': keys };
}

/** Closes every fake IdP this test file started: call it from `afterEach` or `afterAll`. */
export async function closeFakeIdps(): Promise<void> {
  await Promise.all(started.splice(0).map((stub) => stub.close()));
}

// --- routes -------------------------------------------------------------------------------------

export const serveJson =
  (doc: unknown): Route =>
  (_req, res) =>
    sendJson(res, 200, doc);

/** A JWKS; `keys` is read on every request, so a test can rotate them. */
export const serveKeys =
  (keys: () => unknown[]): Route =>
  (_req, res) =>
    sendJson(res, 200, { keys: keys() });

export const serveStatus =
  (status: number, headers: Record<string, string> = {}): Route =>
  (_req, res) =>
    sendJson(res, status, { error: 'server_error' }, headers);

/** A 200 with exactly this body and these headers. */
export const serveRaw =
  (body: string | Buffer, headers: Record<string, string | number> = { 'content-type': 'application/json' }): Route =>
  (_req, res) => {
    res.writeHead(200, headers);
    res.end(body);
  };

export const redirectTo =
  (status: number, location: string): Route =>
  (_req, res) => {
    res.writeHead(status, { location });
    res.end();
  };

/** Accepts the request and never answers. */
export const hang: Route = () => undefined;

/** Sends headers at once, then one byte every `everyMs`, for ever. */
export const drip =
  (prefix: string, everyMs = 20): Route =>
  (req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.write(prefix);
    const timer = setInterval(() => res.write(' '), everyMs);
    req.socket.on('close', () => clearInterval(timer));
  };

/** Streams `bytes` of filler inside a JSON string, chunked (no Content-Length). */
export const huge =
  (status: number, bytes: number, contentType = 'application/json'): Route =>
  (_req, res) => {
    res.writeHead(status, { 'content-type': contentType });
    res.write('{"keys":[],"padding":"');
    const chunk = 'x'.repeat(64 * 1024);
    let sent = 0;
    const pump = () => {
      while (sent < bytes) {
        sent += chunk.length;
        if (!res.write(chunk)) return void res.once('drain', pump);
      }
      res.end('"}');
    };
    res.on('error', () => undefined);
    pump();
  };

// --- keys and tokens ----------------------------------------------------------------------------

export type FakeKeyAlg = 'RS256' | 'ES256' | 'ES384';
type PrivateKey = Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];

/** A signing key of the fake IdP: the private half, and the public JWK as the IdP would publish it. */
export interface FakeIdpKey {
  alg: FakeKeyAlg;
  kid: string;
  privateKey: PrivateKey;
  privateJwk: JWK;
  /** The public key alone, without kid, alg or use. */
  publicJwk: JWK;
  /** The public key with `kid`, `alg` and `use: 'sig'`. */
  jwk: JWK;
}

export async function fakeIdpKey(alg: FakeKeyAlg, kid: string): Promise<FakeIdpKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const publicJwk = await exportJWK(publicKey);
  return {
    alg,
    kid,
    privateKey,
    privateJwk: await exportJWK(privateKey),
    publicJwk,
    jwk: { ...publicJwk, kid, alg, use: 'sig' },
  };
}

let jti = 0;

/**
 * An access token (`typ: at+jwt`) for `audience`, signed with `key` under `header`, with a fresh
 * `jti` (so never a cache hit) and valid for an hour from `clock`; `claims` override any of that.
 */
export function signAccessToken(
  key: { privateKey: PrivateKey | KeyObject | Uint8Array },
  header: { alg: string; kid?: string },
  iss: string,
  clock: () => number,
  claims: JWTPayload = {},
  audience = FAKE_AUDIENCE,
): Promise<string> {
  const iat = Math.floor(clock() / 1000);
  return new SignJWT({ sub: 'alice', jti: `jti-${++jti}`, scope: 'notes:read', iat, exp: iat + 3600, ...claims })
    .setProtectedHeader({ typ: 'at+jwt', ...header })
    .setIssuer(iss)
    .setAudience(audience)
    .sign(key.privateKey);
}

/**
 * A JWT signed with `key`, with exactly `claims` and a header of `key`'s alg and kid plus `header`
 * (`typ: undefined` leaves typ out): for logout tokens, security events and anything odd.
 */
export function signJwt(key: FakeIdpKey, header: Partial<JWTHeaderParameters>, claims: JWTPayload): Promise<string> {
  const protectedHeader = Object.fromEntries(
    Object.entries({ alg: key.alg, kid: key.kid, ...header }).filter(([, value]) => value !== undefined),
  ) as JWTHeaderParameters;
  return new SignJWT(claims).setProtectedHeader(protectedHeader).sign(key.privateKey);
}

/** Two fake IdPs, each publishing one signing key: what multi-issuer notification tests sign with. */
export interface SigningIdps {
  /** Signs with an RS256 key (`east-1`). */
  east: FakeIdp;
  /** Signs with an ES256 key (`west-1`). */
  west: FakeIdp;
  /** Each IdP's signing key; a test may add its own IdPs. */
  keys: Map<FakeIdp, FakeIdpKey>;
}

/** Starts {@link SigningIdps}; {@link closeFakeIdps} stops them. */
export async function startSigningIdps(): Promise<SigningIdps> {
  const [eastKey, westKey] = await Promise.all([fakeIdpKey('RS256', 'east-1'), fakeIdpKey('ES256', 'west-1')]);
  const serving = (key: FakeIdpKey) =>
    startFakeIdp((base) => ({
      routes: discoveryRoutes(
        base,
        serveKeys(() => [key.jwk]),
      ),
    }));
  const [east, west] = await Promise.all([serving(eastKey), serving(westKey)]);
  return {
    east,
    west,
    keys: new Map([
      [east, eastKey],
      [west, westKey],
    ]),
  };
}
