/**
 * An IdP that misbehaves on purpose, on local stub servers the tests control: slow and dripping
 * answers, oversized or pathological documents, redirects to other hosts, keys that must not be
 * used, duplicate kids, thousands of keys; and a revocation endpoint that hangs, fails, answers
 * HTML or enormous bodies, or redirects.
 *
 * Complements test/core/idp/jwks-faults.test.ts (status codes, invalid JSON, same-host redirects,
 * 512 KiB JWKS cap, gzip bomb, use/alg/key_ops, oct keys, private keys, hung requests),
 * test/core/idp/discovery-faults.test.ts (fallbacks, metadata issuer variants, unusable jwks_uri)
 * and test/core/idp/revocation-client.test.ts (the RFC 7009 client on its own): what is
 * covered there is not repeated here. Every case must end in a typed outcome — IdpUnavailableError
 * (503) when the IdP is the problem, InvalidTokenError (401) when the token is, a RevocationOutcome
 * for revoke() — with no crash, and known keys kept wherever that is safe.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { generateKeyPairSync } from 'node:crypto';
import type { JWK } from 'jose';
import type { Verifier, VerifierOptions } from '../../src/index.js';
import { causes, expectInvalid, expectUnavailable, refused, rootCause } from '../support/expect-refusal.js';
import {
  closeFakeIdps,
  discoveryRoutes,
  drip,
  fakeIdpKey,
  huge,
  OIDC_DISCOVERY as OIDC,
  redirectTo,
  serveJson,
  serveKeys,
  signAccessToken,
  startFakeIdp,
  type FakeIdp,
  type FakeIdpKey,
  type Route,
} from '../support/fake-idp.js';
import { sendJson, startStubServer, type StubServer } from '../support/http.js';
import { attackerKey, issuedAt, startIdp, testClock, type EmbeddedIdp } from '../support/idp.js';
import { closeVerifiers, verifierFor } from '../support/verifier-for.js';
import { rawSigned } from './helpers.js';

type Clock = ReturnType<typeof testClock>;

let rsa: FakeIdpKey;
let other: FakeIdpKey; // a second RSA key under the same kid, for duplicate kids
let ec: FakeIdpKey;

/** Stub servers that are not a fake IdP: other hosts, revocation endpoints. */
const stubs: StubServer[] = [];

beforeAll(async () => {
  [rsa, other, ec] = await Promise.all([
    fakeIdpKey('RS256', 'rsa-1'),
    fakeIdpKey('RS256', 'rsa-1'),
    fakeIdpKey('ES256', 'ec-1'),
  ]);
});
afterEach(async () => {
  await closeVerifiers();
  await closeFakeIdps();
  await Promise.all(stubs.splice(0).map((s) => s.close()));
});

// -------------------------------------------------------------------------------------------------

/** A fake IdP: discovery at the root, JWKS at /keys (both keys), overridden or extended by `routes`. */
function idpWith(routes: (base: string) => Record<string, Route> = () => ({})): Promise<FakeIdp> {
  return startFakeIdp((base) => ({
    routes: {
      ...discoveryRoutes(
        base,
        serveKeys(() => [rsa.jwk, ec.jwk]),
      ),
      ...routes(base),
    },
  }));
}

/** Another host (a different origin) that must never be contacted. */
async function elsewhere(): Promise<StubServer> {
  const stub = await startStubServer((_req, res) =>
    sendJson(res, 200, { issuer: 'x', jwks_uri: 'x', keys: [rsa.jwk] }),
  );
  stubs.push(stub);
  return stub;
}

const signRsa = (idp: FakeIdp, clock: Clock, kid = 'rsa-1') =>
  signAccessToken(rsa, { alg: 'RS256', kid }, idp.issuer, clock);

// -------------------------------------------------------------------------------------------------

describe('slow IdP: `timeout` bounds the whole exchange', () => {
  it('cuts off a JWKS that sends its headers and then drips a byte every 20 ms (a total, not an idle, timeout)', async () => {
    const idp = await idpWith(() => ({ '/keys': drip('{"keys":[') }));
    const clock = testClock();
    const started = performance.now();
    const error = expectUnavailable(
      await refused(verifierFor(idp, { clock, timeout: 0.3 }).verify(await signRsa(idp, clock))),
    );
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(causes(error)).toContainEqual(expect.objectContaining({ kind: 'timeout' }));
  });

  it('cuts off dripping discovery metadata the same way, and never asks for the JWKS', async () => {
    const idp = await idpWith(() => ({ [OIDC]: drip('{"issuer":') }));
    const clock = testClock();
    expectUnavailable(await refused(verifierFor(idp, { clock, timeout: 0.3 }).verify(await signRsa(idp, clock))));
    expect(idp.count('/keys')).toBe(0);
  });

  it('keeps verifying known keys at once while a background JWKS refresh hangs; an unknown kid waits at most `timeout`', async () => {
    let hang = false;
    const good = serveKeys(() => [rsa.jwk]);
    const idp = await idpWith(() => ({ '/keys': (req, res) => (hang ? undefined : good(req, res)) }));
    const clock = testClock();
    const verifier = verifierFor(idp, { clock, timeout: 0.3 });
    await verifier.verify(await signRsa(idp, clock));
    hang = true;
    clock.advance(601_000); // past jwksMaxAge: the next lookup starts a background refresh, which hangs
    await expect(verifier.verify(await signRsa(idp, clock))).resolves.toBeDefined();
    expectUnavailable(await refused(verifier.verify(await signRsa(idp, clock, 'rotated'))));
    await expect(verifier.verify(await signRsa(idp, clock))).resolves.toMatchObject({ header: { kid: 'rsa-1' } });
    expect(verifier.stats().jwks).toMatchObject({ keys: 1, failures: 1 });
  });
});

describe('oversized and pathological documents', () => {
  it.each<[string, string, string]>([
    ['invalid JSON', '{"issuer": "', 'application/json'],
    ['an HTML login page', '<!doctype html><title>Sign in</title>', 'text/html'],
    ['an empty body', '', 'application/json'],
    ['a JSON array', '[]', 'application/json'],
    ['JSON with a BOM', '\ufeff{"issuer":"x"}', 'application/json'],
  ])('answers 503 to discovery metadata that is %s, and fetches no JWKS', async (_name, body, contentType) => {
    const idp = await idpWith(() => ({
      [OIDC]: (_req, res) => void res.writeHead(200, { 'content-type': contentType }).end(body),
    }));
    const clock = testClock();
    const verifier = verifierFor(idp, { clock });
    expectUnavailable(await refused(verifier.verify(await signRsa(idp, clock))));
    expect(idp.count('/keys')).toBe(0);
    expect(verifier.stats().jwks.fetches).toBe(0);
  });

  it.each<[string, Route]>([
    [
      'declared with Content-Length',
      (_req, res) => {
        const body = JSON.stringify({ issuer: 'x', padding: 'p'.repeat(300 * 1024) });
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
        res.end(body);
      },
    ],
    ['chunked', huge(200, 300 * 1024)],
  ])('refuses discovery metadata over 256 KiB (%s) with a 503, and fetches no JWKS', async (_name, route) => {
    const idp = await idpWith(() => ({ [OIDC]: route }));
    const clock = testClock();
    const error = expectUnavailable(await refused(verifierFor(idp, { clock }).verify(await signRsa(idp, clock))));
    expect(rootCause(error)).toMatchObject({ kind: 'too_large' });
    expect(idp.count('/keys')).toBe(0);
  });

  it('reads a 5 MiB JWKS only up to the cap, answers 503, and keeps serving', async () => {
    const idp = await idpWith(() => ({ '/keys': huge(200, 5 * 1024 * 1024) }));
    const clock = testClock();
    const verifier = verifierFor(idp, { clock });
    const error = expectUnavailable(await refused(verifier.verify(await signRsa(idp, clock))));
    expect(rootCause(error)).toMatchObject({ kind: 'too_large' });
    idp.routes['/keys'] = serveKeys(() => [rsa.jwk]);
    clock.advance(60_000);
    await expect(verifier.verify(await signRsa(idp, clock))).resolves.toBeDefined();
  });

  it('survives a JWKS of 200 000 nested arrays next to a valid key (no stack overflow), using the valid key', async () => {
    const depth = 200_000;
    const body = `{"keys":[${'['.repeat(depth)}${']'.repeat(depth)},${JSON.stringify(rsa.jwk)}]}`;
    const idp = await idpWith(() => ({
      '/keys': (_req, res) => void res.writeHead(200, { 'content-type': 'application/json' }).end(body),
    }));
    const clock = testClock();
    await expect(verifierFor(idp, { clock }).verify(await signRsa(idp, clock))).resolves.toBeDefined();
  });

  it('drops a deeply nested JWKS member instead of crashing (a set with only that member has no usable key)', async () => {
    const depth = 20_000;
    const nested = `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
    const body = `{"keys":[{"kty":"RSA","kid":"junk","x5c":${nested}}]}`;
    const idp = await idpWith(() => ({
      '/keys': (_req, res) => void res.writeHead(200, { 'content-type': 'application/json' }).end(body),
    }));
    const clock = testClock();
    const error = await refused(verifierFor(idp, { clock }).verify(await signRsa(idp, clock)));
    expect(error.status).toBeGreaterThanOrEqual(401);
    expect(error.status).toBeLessThan(600);
  });

  // Was a bug, fixed (robustness; src/core/jwks.ts install(): members are filtered for "is a plain object" only,
  // then the whole set goes to jose's createLocalJWKSet, whose structuredClone overflows the stack on
  // a member nested a few thousand levels deep → "JSON Web Key Set malformed" → every key unusable,
  // 503 for all tokens). Same class as the fixed "array member" bug: one junk member must not take
  // the valid keys down. Should: copy only the JWK members jose needs (strings / string arrays)
  // before building the set, or drop members that fail to clone.
  it('keeps the valid keys usable when another JWKS member is deeply nested', async () => {
    const depth = 20_000;
    const nested = `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
    const body = `{"keys":[${JSON.stringify(rsa.jwk)},{"kty":"RSA","kid":"junk","x5c":${nested}}]}`;
    const idp = await idpWith(() => ({
      '/keys': (_req, res) => void res.writeHead(200, { 'content-type': 'application/json' }).end(body),
    }));
    const clock = testClock();
    await expect(verifierFor(idp, { clock }).verify(await signRsa(idp, clock))).resolves.toBeDefined();
  });

  it('ignores a "__proto__" member of the JWKS document and of a key', async () => {
    const body = `{"__proto__":{"keys":[]},"keys":[${JSON.stringify(rsa.jwk).replace(/^\{/, '{"__proto__":{"alg":"HS256"},')}]}`;
    const idp = await idpWith(() => ({
      '/keys': (_req, res) => void res.writeHead(200, { 'content-type': 'application/json' }).end(body),
    }));
    const clock = testClock();
    await expect(verifierFor(idp, { clock }).verify(await signRsa(idp, clock))).resolves.toBeDefined();
    expect(({} as Record<string, unknown>).alg).toBeUndefined();
  });
});

describe('redirects to another host are never followed', () => {
  it.each([301, 302, 303, 307, 308])(
    'discovery answering %i to another host: 503, the other host is never asked',
    async (status) => {
      const away = await elsewhere();
      const idp = await idpWith(() => ({ [OIDC]: redirectTo(status, `${away.url}${OIDC}`) }));
      const clock = testClock();
      const error = expectUnavailable(await refused(verifierFor(idp, { clock }).verify(await signRsa(idp, clock))));
      expect(rootCause(error)).toMatchObject({ kind: 'redirect', status });
      expect(away.requests).toHaveLength(0);
    },
  );

  it.each([301, 302, 307, 308])(
    'JWKS answering %i to another host: 503 at first load, known keys kept on refresh',
    async (status) => {
      const away = await elsewhere();
      let redirecting = true;
      const idp = await idpWith(() => ({
        '/keys': (req, res) =>
          redirecting ? redirectTo(status, `${away.url}/keys`)(req, res) : serveKeys(() => [rsa.jwk])(req, res),
      }));
      const clock = testClock();
      const verifier = verifierFor(idp, { clock });
      expectUnavailable(await refused(verifier.verify(await signRsa(idp, clock))));
      redirecting = false;
      clock.advance(60_000);
      await verifier.verify(await signRsa(idp, clock));
      redirecting = true;
      clock.advance(601_000);
      await expect(verifier.verify(await signRsa(idp, clock))).resolves.toBeDefined();
      expect(away.requests).toHaveLength(0);
    },
  );
});

describe('keys that must never verify a token', () => {
  it.each<[string, Record<string, unknown>]>([
    ["alg 'none' on the RSA key", { alg: 'none' }],
    ["alg 'HS256' on the RSA key", { alg: 'HS256' }],
    ["use 'SIG' (wrong case)", { use: 'SIG' }],
    ['duplicate key_ops', { key_ops: ['verify', 'verify'] }],
    ["key_ops ['sign'] only", { key_ops: ['sign'] }],
    ['a non-boolean ext', { ext: 'yes' }],
  ])('does not use a key with %s', async (_name, change) => {
    const idp = await idpWith(() => ({ '/keys': serveKeys(() => [{ ...rsa.jwk, ...change }]) }));
    const clock = testClock();
    expectInvalid(await refused(verifierFor(idp, { clock }).verify(await signRsa(idp, clock))), 'key_not_found');
  });

  it('refuses a token signed by a published but weak (1024-bit) RSA key', async () => {
    const weak = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const weakJwk = { ...(weak.publicKey.export({ format: 'jwk' }) as JWK), kid: 'weak', alg: 'RS256', use: 'sig' };
    const idp = await idpWith(() => ({ '/keys': serveKeys(() => [rsa.jwk, weakJwk]) }));
    const clock = testClock();
    const iat = Math.floor(clock() / 1000);
    const token = rawSigned(
      { alg: 'RS256', kid: 'weak' },
      { iss: idp.issuer, aud: idp.audience, sub: 'a', iat, exp: iat + 600 },
      weak.privateKey,
    );
    const verifier = verifierFor(idp, { clock });
    expectInvalid(await refused(verifier.verify(token)));
    await expect(verifier.verify(await signRsa(idp, clock))).resolves.toBeDefined();
  });

  it('treats a JWKS of oct keys only as an empty set: 401 key_not_found, not 503, and HMAC never uses them', async () => {
    const oct = {
      kty: 'oct',
      k: 'c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA',
      kid: 'rsa-1',
      alg: 'RS256',
      use: 'sig',
    };
    const idp = await idpWith(() => ({ '/keys': serveKeys(() => [oct, { ...oct, kid: 'h', alg: 'HS256' }]) }));
    const clock = testClock();
    const verifier = verifierFor(idp, { clock });
    expectInvalid(await refused(verifier.verify(await signRsa(idp, clock))), 'key_not_found');
    expect(verifier.stats().jwks).toMatchObject({ fetches: 1, failures: 0, keys: 0 });
  });
});

describe('duplicate kids', () => {
  // Documented behaviour: two different keys under one kid are both candidates (jose reports
  // multiple matches; the verifier tries each). A token verifies only if one of *those* keys
  // signed it; any other key with that kid is refused.
  it('accepts a token from either key sharing a kid, refuses any other key with that kid', async () => {
    const idp = await idpWith(() => ({ '/keys': serveKeys(() => [rsa.jwk, other.jwk]) }));
    const clock = testClock();
    const verifier = verifierFor(idp, { clock });
    await expect(verifier.verify(await signRsa(idp, clock))).resolves.toBeDefined();
    await expect(
      verifier.verify(await signAccessToken(other, { alg: 'RS256', kid: 'rsa-1' }, idp.issuer, clock)),
    ).resolves.toBeDefined();
    const stranger = await attackerKey('RS256');
    expectInvalid(
      await refused(
        verifier.verify(await signAccessToken(stranger, { alg: 'RS256', kid: 'rsa-1' }, idp.issuer, clock)),
      ),
      'signature_invalid',
    );
    expectInvalid(
      await refused(verifier.verify(await signAccessToken(ec, { alg: 'ES256', kid: 'rsa-1' }, idp.issuer, clock))),
      'key_not_found',
    );
  });

  it('evicts cached tokens of a kid when one of its keys leaves, and refuses tokens of the key that left', async () => {
    let keys = [rsa.jwk, other.jwk];
    const idp = await idpWith(() => ({ '/keys': serveKeys(() => keys) }));
    const clock = testClock();
    const verifier = verifierFor(idp, { clock });
    const fromOther = await signAccessToken(other, { alg: 'RS256', kid: 'rsa-1' }, idp.issuer, clock);
    const fromRsa = await signRsa(idp, clock);
    await verifier.verify(fromOther);
    await verifier.verify(fromRsa);
    keys = [rsa.jwk];
    clock.advance(31_000);
    expectInvalid(await refused(verifier.verify(await signRsa(idp, clock, 'new-kid'))), 'key_not_found'); // triggers the refetch
    expect(verifier.peek(fromOther)).toBeUndefined();
    expect(verifier.peek(fromRsa)).toBeUndefined();
    expectInvalid(await refused(verifier.verify(fromOther)), 'signature_invalid');
    await expect(verifier.verify(fromRsa)).resolves.toBeDefined();
  });
});

describe('thousands of keys', () => {
  const manyKeys = (count: number) => Array.from({ length: count }, (_, i) => ({ ...ec.jwk, kid: `ec-${i}` }));

  it('works with 2000 keys (under the size cap): the right key is found, unknown kids are 401, one fetch', async () => {
    const idp = await idpWith(() => ({ '/keys': serveKeys(() => [...manyKeys(2000), rsa.jwk]) }));
    const clock = testClock();
    const verifier = verifierFor(idp, { clock });
    await expect(
      verifier.verify(await signAccessToken(ec, { alg: 'ES256', kid: 'ec-1999' }, idp.issuer, clock)),
    ).resolves.toBeDefined();
    await expect(verifier.verify(await signRsa(idp, clock))).resolves.toBeDefined();
    expectInvalid(await refused(verifier.verify(await signRsa(idp, clock, 'ec-2000'))), 'key_not_found');
    expect(verifier.stats().jwks).toMatchObject({ fetches: 1, keys: 2001 });
  });

  it('refuses a 5000-key JWKS (over 512 KiB) with a clear 503 too_large, and keeps the known keys when a refresh grows that big', async () => {
    let keys: unknown[] = manyKeys(5000);
    const idp = await idpWith(() => ({ '/keys': serveKeys(() => keys) }));
    const clock = testClock();
    const verifier = verifierFor(idp, { clock });
    const error = expectUnavailable(await refused(verifier.verify(await signRsa(idp, clock))));
    expect(rootCause(error)).toMatchObject({ kind: 'too_large' });
    keys = [rsa.jwk];
    clock.advance(60_000);
    await verifier.verify(await signRsa(idp, clock));
    keys = [...manyKeys(5000), rsa.jwk];
    clock.advance(31_000);
    expectUnavailable(await refused(verifier.verify(await signRsa(idp, clock, 'ec-4999'))));
    await expect(verifier.verify(await signRsa(idp, clock))).resolves.toBeDefined();
    expect(verifier.stats().jwks).toMatchObject({ keys: 1, failures: 2 });
  });
});

describe('discovery mix-up', () => {
  it.each<[string, (base: string) => string]>([
    ['percent-encoded', (base) => `${base}/%74enant`],
    ['with a trailing-dot host', (base) => base.replace('127.0.0.1', '127.0.0.1.')],
    ['with a dot-segment', (base) => `${base}/x/../tenant`],
  ])('refuses metadata whose issuer is the configured one %s, never fetching its JWKS', async (_name, variant) => {
    const idp = await idpWith((base) => ({
      [`/tenant${OIDC}`]: serveJson({ issuer: variant(base), jwks_uri: `${base}/keys` }),
    }));
    const clock = testClock();
    const verifier = verifierFor(idp, { issuer: `${idp.issuer}/tenant`, clock });
    // Refused as a misconfiguration (500, no retry suggested): no retry makes another issuer's metadata ours.
    const error = await refused(
      verifier.verify(await signAccessToken(rsa, { alg: 'RS256', kid: 'rsa-1' }, `${idp.issuer}/tenant`, clock)),
    );
    expect(error).toMatchObject({ status: 500, reason: 'misconfigured' });
    expect(error.message).toMatch(/is for issuer .*, not the configured/);
    expect(idp.count('/keys')).toBe(0);
  });
});

// -------------------------------------------------------------------------------------------------

describe('revocation endpoint misbehaving (verifier.revoke with real IdP tokens)', () => {
  let realIdp: EmbeddedIdp;
  let answer: Route;
  let endpoint: StubServer;

  beforeAll(async () => {
    realIdp = await startIdp();
  });
  afterAll(async () => {
    await realIdp.close();
  });

  async function setup(route: Route, revocation: Partial<NonNullable<VerifierOptions['revocation']>> = {}) {
    answer = route;
    endpoint = await startStubServer((req, res) => answer(req, res));
    stubs.push(endpoint);
    // A token of the real IdP carries its real iat: the test clock starts there, not at Date.now().
    const token = await realIdp.issueAccessToken();
    const clock = testClock(issuedAt(token));
    const verifier = verifierFor(realIdp, {
      clock,
      revocation: {
        clientId: 'rs',
        clientSecret: 'rs-secret',
        endpoint: `${endpoint.url}/revoke`,
        timeout: 0.3,
        ...revocation,
      },
    });
    await verifier.verify(token);
    return { verifier, clock, token };
  }

  /** Whatever the IdP did, the token is dead locally and nothing leaks it. */
  async function expectDeadLocally(verifier: Verifier, token: string) {
    expectInvalid(await refused(verifier.verify(token)), 'revoked');
    expect(JSON.stringify(verifier.stats().revocation.outbox)).not.toContain(token.split('.')[2]!.slice(0, 24));
  }

  it('hangs: queued after `timeout`, dead locally, delivered once the endpoint answers', async () => {
    const { verifier, clock, token } = await setup(() => undefined);
    const started = performance.now();
    const outcome = await verifier.revoke(token);
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(outcome).toMatchObject({ local: 'denylisted', idp: 'queued' });
    expect(outcome.error?.message).toMatch(/did not answer within 300 ms/);
    expect(outcome.retryAfter).toBeGreaterThanOrEqual(1);
    await expectDeadLocally(verifier, token);
    expect(verifier.stats().revocation.outbox.pending).toBe(1);
    answer = (_req, res) => void res.end();
    clock.advance(10_000);
    expect(await verifier.retryPending()).toMatchObject({ attempted: 1, revoked: 1 });
    expect(verifier.stats().revocation.outbox.pending).toBe(0);
  });

  it.each<[string, 'queued' | 'revoked' | 'rejected', Route]>([
    ['500 JSON', 'queued', (_req, res) => sendJson(res, 500, { error: 'server_error' })],
    [
      '500 HTML',
      'queued',
      (_req, res) =>
        void res
          .writeHead(500, { 'content-type': 'text/html' })
          .end('<html><body><h1>500</h1><script>x</script></body></html>'),
    ],
    ['502 with no body', 'queued', (_req, res) => void res.writeHead(502).end()],
    [
      '200 HTML (a login page)',
      'revoked',
      (_req, res) => void res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><form>login</form>'),
    ],
    [
      '400 HTML',
      'rejected',
      (_req, res) => void res.writeHead(400, { 'content-type': 'text/html' }).end('<html>Bad Request</html>'),
    ],
    ['a 5 MiB 200', 'revoked', huge(200, 5 * 1024 * 1024, 'text/html')],
    ['a 5 MiB 503', 'queued', huge(503, 5 * 1024 * 1024, 'text/html')],
    ['a 200 whose body never ends', 'queued', drip('ok')],
    ['a connection reset', 'queued', (req) => void req.socket.destroy()],
  ])('%s → idp %s, typed outcome, dead locally', async (_name, idpOutcome, route) => {
    const { verifier, token } = await setup(route);
    const outcome = await verifier.revoke(token);
    expect(outcome).toMatchObject({ local: 'denylisted', idp: idpOutcome });
    if (outcome.error) {
      expect(outcome.error.message.length).toBeLessThan(500);
      expect(outcome.error.message).not.toMatch(/<html|<script|<!doctype/i);
    }
    expect(verifier.stats().revocation.outbox.pending).toBe(idpOutcome === 'queued' ? 1 : 0);
    await expectDeadLocally(verifier, token);
  });

  it.each([301, 302, 307, 308])(
    'a %i to another host → rejected (not retried), never followed, dead locally',
    async (status) => {
      const away = await elsewhere();
      const { verifier, token } = await setup(redirectTo(status, `${away.url}/revoke`));
      const outcome = await verifier.revoke(token);
      expect(outcome).toMatchObject({ local: 'denylisted', idp: 'rejected' });
      expect(away.requests).toHaveLength(0);
      expect(verifier.stats().revocation.outbox.pending).toBe(0);
      await expectDeadLocally(verifier, token);
    },
  );

  it('a discovered revocation_endpoint on plain http to a non-loopback host is refused (rejected), never contacted', async () => {
    const idp = await idpWith((base) => ({
      [OIDC]: serveJson({
        issuer: base,
        jwks_uri: `${base}/keys`,
        revocation_endpoint: 'http://revoke.evil.example/revoke',
      }),
      '/keys': serveKeys(() => [rsa.jwk]),
    }));
    const clock = testClock();
    const calls: string[] = [];
    const verifier = verifierFor(idp, {
      clock,
      revocation: { clientId: 'rs', clientSecret: 'rs-secret' },
      fetch: (input, init) => {
        calls.push(String(input));
        return fetch(input, init);
      },
    });
    const token = await signRsa(idp, clock);
    const outcome = await verifier.revoke(token);
    expect(outcome).toMatchObject({ local: 'denylisted', idp: 'rejected' });
    expect(outcome.error?.message).toMatch(/revocation_endpoint/);
    expect(calls.some((url) => url.includes('evil.example'))).toBe(false);
    expectInvalid(await refused(verifier.verify(token)), 'revoked');
  });

  it('close() during a hung revocation settles at once', async () => {
    const { verifier, token } = await setup(() => undefined, { timeout: 15 });
    const pending = verifier.revoke(token);
    while (endpoint.requests.length === 0) await new Promise((resolve) => setImmediate(resolve));
    const started = performance.now();
    await verifier.close();
    const outcome = await pending;
    expect(performance.now() - started).toBeLessThan(2_000);
    expect(outcome.local).toBe('denylisted');
    expect(['queued', 'rejected']).toContain(outcome.idp);
  });
});
