/**
 * The JWKS layer against an IdP that misbehaves: wrong documents, wrong keys, oversized or endless
 * answers, redirects, outages. Every case must end in a typed error (IdpUnavailableError 503 when
 * the IdP is the problem, InvalidTokenError 401 when the token is), never in a crash, a hang, or a
 * request the library was not supposed to make. Discovery's faults are in discovery-faults.test.ts.
 */
import { afterEach, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { gzipSync } from 'node:zlib';
import { base64url, type JWK } from 'jose';
import { type FetchLike, IdpUnavailableError, VerifierClosedError } from '../../../src/index.js';
import { expectInvalid, expectUnavailable, refused, rootCause } from '../../support/expect-refusal.js';
import {
  closeFakeIdps,
  discoveryRoutes,
  fakeIdpKey,
  hang,
  OIDC_DISCOVERY as OIDC,
  serveJson,
  serveKeys,
  serveRaw,
  serveStatus,
  signAccessToken,
  startFakeIdp,
  type FakeIdp,
  type FakeIdpKey,
  type Route,
} from '../../support/fake-idp.js';
import { attackerKey, testClock } from '../../support/idp.js';
import { closeVerifiers, verifierFor } from '../../support/verifier-for.js';

type Clock = ReturnType<typeof testClock>;
type Key = Awaited<ReturnType<typeof attackerKey>>;

let rsa: FakeIdpKey;
let ec: FakeIdpKey;
const HMAC_SECRET = new TextEncoder().encode('the-idp-published-this-secret-in-its-jwks!');

beforeAll(async () => {
  [rsa, ec] = await Promise.all([fakeIdpKey('RS256', 'rsa-1'), fakeIdpKey('ES256', 'ec-1')]);
});
afterEach(async () => {
  await closeVerifiers();
  await closeFakeIdps();
});

/** OpenID discovery at the root, the JWKS at /keys (both keys, unless `keys` says otherwise). */
const healthyIdp = (keys: Route = serveKeys(() => [rsa.jwk, ec.jwk])) =>
  startFakeIdp((base) => ({ routes: discoveryRoutes(base, keys) }));
const signRsa = (idp: FakeIdp, clock: Clock, kid = 'rsa-1') =>
  signAccessToken(rsa, { alg: 'RS256', kid }, idp.issuer, clock);
const signEc = (idp: FakeIdp, clock: Clock, kid = 'ec-1') =>
  signAccessToken(ec, { alg: 'ES256', kid }, idp.issuer, clock);

// ---------------------------------------------------------------------------------------------

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
  ])('%s', async (name, route) => {
    const idp = await startFakeIdp((base) => ({
      routes: {
        [OIDC]: serveJson({ issuer: base, jwks_uri: `${base}/keys` }),
        '/keys': route(base),
        '/real-keys': serveKeys(() => [rsa.jwk]),
      },
    }));
    const clock = testClock();
    const verifier = verifierFor(idp, { clock });
    expectUnavailable(await refused(verifier.verify(await signRsa(idp, clock))));
    expect(idp.count('/real-keys')).toBe(0);
    // A connection closed under the GET is sent once more at once (a kept-alive connection the
    // IdP timed out, in the common case), then the fetch fails as one.
    expect(idp.count('/keys')).toBe(name.startsWith('a connection') ? 2 : 1);
    expect(verifier.stats().jwks).toMatchObject({ fetches: 1, failures: 1, keys: 0 });
  });

  it('accepts a large but allowed JWKS (under the 512 KiB cap)', async () => {
    const body = JSON.stringify({ keys: [rsa.jwk], padding: 'p'.repeat(500 * 1024) });
    const idp = await healthyIdp(
      serveRaw(body, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }),
    );
    const clock = testClock();
    await expect(verifierFor(idp, { clock }).verify(await signRsa(idp, clock))).resolves.toBeDefined();
  });

  it('reports the size cap in the cause', async () => {
    const body = JSON.stringify({ keys: [rsa.jwk], padding: 'p'.repeat(600 * 1024) });
    const idp = await healthyIdp(
      serveRaw(body, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }),
    );
    const clock = testClock();
    const error = expectUnavailable(await refused(verifierFor(idp, { clock }).verify(await signRsa(idp, clock))));
    expect(rootCause(error)).toMatchObject({ kind: 'too_large' });
    expect((rootCause(error) as Error).message).toMatch(/524288-byte limit/);
  });

  it('honours the Retry-After of a 503, backs off until then, and recovers afterwards', async () => {
    let down = true;
    const idp = await healthyIdp((req, res) =>
      down ? serveStatus(503, { 'retry-after': '7' })(req, res) : serveKeys(() => [rsa.jwk])(req, res),
    );
    const clock = testClock();
    const verifier = verifierFor(idp, { clock });
    const first = expectUnavailable(await refused(verifier.verify(await signRsa(idp, clock))));
    expect(first.headers['Retry-After']).toBe('7');
    clock.advance(3_000);
    const second = expectUnavailable(await refused(verifier.verify(await signRsa(idp, clock))));
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
    const verifier = verifierFor(idp, { clock });
    const tokens = await Promise.all(Array.from({ length: 20 }, () => signRsa(idp, clock)));
    (await Promise.all(tokens.map((t) => refused(verifier.verify(t))))).forEach(expectUnavailable);
    expect(idp.count('/keys')).toBe(1);
    expect(idp.count(OIDC)).toBe(1);
  });
});

describe('keys that must never be used', () => {
  const octJwk = (): JWK => ({ kty: 'oct', k: base64url.encode(HMAC_SECRET), kid: 'shared', alg: 'HS256', use: 'sig' });

  it('never uses an oct key from the JWKS, even when its kid and alg match the token', async () => {
    const idp = await healthyIdp(serveKeys(() => [octJwk(), rsa.jwk]));
    const clock = testClock();
    const hmacToken = await signAccessToken(
      { privateKey: HMAC_SECRET },
      { alg: 'HS256', kid: 'shared' },
      idp.issuer,
      clock,
    );

    // Default algorithms: HS256 is not even considered.
    const plain = verifierFor(idp, { clock });
    expectInvalid(await refused(plain.verify(hmacToken)), 'algorithm_not_allowed');

    // HMAC opted in: only the configured secret is an HMAC key, never the JWKS `oct` key.
    const hmac = verifierFor(idp, {
      clock,
      algorithms: ['RS256', 'HS256'],
      secret: 'the-configured-secret-is-a-different-one',
    });
    expectInvalid(await refused(hmac.verify(hmacToken)), 'signature_invalid');

    // The oct key is not even part of the key set.
    await expect(plain.verify(await signRsa(idp, clock))).resolves.toBeDefined();
    expect(plain.stats().jwks.keys).toBe(1);
    // And an RS256 token pointing at the oct key's kid finds no key.
    expectInvalid(await refused(plain.verify(await signRsa(idp, clock, 'shared'))), 'key_not_found');
  });

  it.each<[string, JWK]>([
    ["use: 'enc'", { use: 'enc' }],
    ["key_ops: ['encrypt']", { key_ops: ['encrypt'] }],
    ["key_ops: 'verify' (not an array)", { key_ops: 'verify' as unknown as string[] }],
    ['a different alg (RS512) under the same kid', { alg: 'RS512' }],
    ['a different alg (PS256) under the same kid', { alg: 'PS256' }],
  ])('does not use a key with %s', async (_name, change) => {
    const idp = await healthyIdp(serveKeys(() => [{ ...rsa.jwk, ...change }]));
    const clock = testClock();
    const verifier = verifierFor(idp, { clock });
    expectInvalid(await refused(verifier.verify(await signRsa(idp, clock))), 'key_not_found');
  });

  it('uses the same key once it is marked for signatures (control)', async () => {
    const idp = await healthyIdp(serveKeys(() => [{ ...rsa.jwk, use: 'sig', key_ops: ['verify'] }]));
    const clock = testClock();
    await expect(verifierFor(idp, { clock }).verify(await signRsa(idp, clock))).resolves.toBeDefined();
  });

  it('rejects an EC token whose kid names an RSA key', async () => {
    const idp = await healthyIdp(serveKeys(() => [{ ...rsa.jwk, kid: 'k1' }]));
    const clock = testClock();
    expectInvalid(await refused(verifierFor(idp, { clock }).verify(await signEc(idp, clock, 'k1'))), 'key_not_found');
  });

  it('rejects an RSA token whose kid names an EC key', async () => {
    const idp = await healthyIdp(serveKeys(() => [{ ...ec.jwk, kid: 'k1' }]));
    const clock = testClock();
    expectInvalid(await refused(verifierFor(idp, { clock }).verify(await signRsa(idp, clock, 'k1'))), 'key_not_found');
  });

  it('rejects an ES384 token whose kid names a P-256 key without alg', async () => {
    const { alg: _alg, ...p256NoAlg } = ec.jwk;
    const idp = await healthyIdp(serveKeys(() => [p256NoAlg]));
    const clock = testClock();
    const p384 = await attackerKey('ES384');
    const token = await signAccessToken(p384, { alg: 'ES384', kid: 'ec-1' }, idp.issuer, clock);
    expectInvalid(await refused(verifierFor(idp, { clock }).verify(token)), 'key_not_found');
  });

  it('refuses a JWKS member that is a private key, with a 401 and not a crash', async () => {
    const idp = await healthyIdp(
      serveKeys(() => [{ ...(rsa.privateJwk as JWK), kid: 'rsa-1', alg: 'RS256', use: 'sig' }]),
    );
    const clock = testClock();
    expectInvalid(await refused(verifierFor(idp, { clock }).verify(await signRsa(idp, clock))));
  });

  it('refuses a token whose kid names a malformed key, with a 401 and not a crash', async () => {
    const idp = await healthyIdp(
      serveKeys(() => [rsa.jwk, { kty: 'RSA', kid: 'broken', n: 'not-base64url!', e: 'AQAB' }]),
    );
    const clock = testClock();
    const verifier = verifierFor(idp, { clock });
    expectInvalid(await refused(verifier.verify(await signRsa(idp, clock, 'broken'))));
    await expect(verifier.verify(await signRsa(idp, clock))).resolves.toBeDefined();
  });

  it('ignores junk members (null, numbers, strings) next to valid keys', async () => {
    const idp = await healthyIdp(serveKeys(() => [null, 42, 'rsa-1', rsa.jwk, { kty: 'RSA' }]));
    const clock = testClock();
    await expect(verifierFor(idp, { clock }).verify(await signRsa(idp, clock))).resolves.toBeDefined();
  });

  // Regression test for a fixed bug (src/core/jwks.ts, install(): the `keys` filter `typeof key === 'object' && key !== null`):
  // an array member passes that filter, but jose's createLocalJWKSet then rejects the whole set
  // ("JSON Web Key Set malformed") because every member must be a plain object. One junk member
  // thus makes every valid key unusable (503 on first load, and the set is never replaced later).
  // The filter should also drop arrays (`!Array.isArray(key)`), as it drops null and primitives.
  it('ignores an array member next to valid keys', async () => {
    const idp = await healthyIdp(serveKeys(() => [[], rsa.jwk]));
    const clock = testClock();
    await expect(verifierFor(idp, { clock }).verify(await signRsa(idp, clock))).resolves.toBeDefined();
  });
});

describe('tokens without kid', () => {
  it('verifies a kid-less token when the JWKS has exactly one usable key', async () => {
    const { kid: _kid, ...noKid } = rsa.jwk;
    const idp = await healthyIdp(serveKeys(() => [noKid, ec.jwk]));
    const clock = testClock();
    const token = await signAccessToken(rsa, { alg: 'RS256' }, idp.issuer, clock);
    await expect(verifierFor(idp, { clock }).verify(token)).resolves.toBeDefined();
  });

  // Regression test for a fixed bug (src/core/jwks.ts getKey()/select(), surfacing via src/core/rejections.ts
  // reasonFor()): when a token has no `kid` and the JWKS holds two keys of its type (the normal
  // rotation overlap of an IdP that does not put kid in tokens), jose's createLocalJWKSet throws
  // JWKSMultipleMatchingKeys. jose 6 leaves trying each candidate to the caller (the error is an
  // async iterator over the candidate keys); getKey() rethrows it and the genuine token ends up as
  // a 401 key_not_found. getKey() should iterate the candidates (or the verifier should try each).
  it('verifies a kid-less token signed by either of two published RSA keys', async () => {
    const other = await attackerKey('RS256');
    const { kid: _kid, ...first } = rsa.jwk;
    const second = { ...(other.publicJwk as JWK), alg: 'RS256', use: 'sig' };
    const idp = await healthyIdp(serveKeys(() => [first, second]));
    const clock = testClock();
    const verifier = verifierFor(idp, { clock });
    await expect(
      verifier.verify(await signAccessToken(rsa, { alg: 'RS256' }, idp.issuer, clock)),
    ).resolves.toBeDefined();
    await expect(
      verifier.verify(await signAccessToken(other, { alg: 'RS256' }, idp.issuer, clock)),
    ).resolves.toBeDefined();
  });
});

describe('tokens without kid: bounded cost (at most two candidate keys)', () => {
  /**
   * Counts signature checks structurally: the node:crypto backend calls node's `crypto.verify`,
   * jose's WebCrypto path `subtle.verify` (whichever backend this run uses).
   */
  async function countSignatureChecks(run: () => Promise<unknown>): Promise<number> {
    const nodeCrypto = process.getBuiltinModule('node:crypto');
    const spies = [jest.spyOn(crypto.subtle, 'verify'), jest.spyOn(nodeCrypto, 'verify')];
    try {
      await run().catch(() => undefined);
      return spies.reduce((sum, spy) => sum + spy.mock.calls.length, 0);
    } finally {
      for (const spy of spies) spy.mockRestore();
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
    const verifier = verifierFor(idp, { clock });
    // Warm the key set, so the count below is of one forged token only.
    await verifier.verify(await signAccessToken(many[0]!, { alg: 'ES256' }, idp.issuer, clock));
    const forger = await attackerKey('ES256');
    const forged = await signAccessToken(forger, { alg: 'ES256' }, idp.issuer, clock);
    expectInvalid(await refused(verifier.verify(forged)), 'signature_invalid');
    const another = await signAccessToken(forger, { alg: 'ES256' }, idp.issuer, clock);
    expect(await countSignatureChecks(() => verifier.verify(another))).toBe(2);
    // The revocation path identifies tokens by signature too: same bound.
    expect(await countSignatureChecks(() => verifier.invalidate(forged))).toBe(2);
  });

  it('the candidates are the first two keys of the type, in JWKS order (deterministic)', async () => {
    const idp = await healthyIdp(serveKeys(() => many.slice(0, 3).map(kidless)));
    const clock = testClock();
    const verifier = verifierFor(idp, { clock });
    await expect(
      verifier.verify(await signAccessToken(many[0]!, { alg: 'ES256' }, idp.issuer, clock)),
    ).resolves.toBeDefined();
    await expect(
      verifier.verify(await signAccessToken(many[1]!, { alg: 'ES256' }, idp.issuer, clock)),
    ).resolves.toBeDefined();
    expectInvalid(
      await refused(verifier.verify(await signAccessToken(many[2]!, { alg: 'ES256' }, idp.issuer, clock))),
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
      const idp = await healthyIdp(serveKeys(() => [...order(kidless(fresh), kidless(old)), rsa.jwk]));
      const clock = testClock();
      const verifier = verifierFor(idp, { clock });
      await expect(
        verifier.verify(await signAccessToken(old, { alg: 'ES256' }, idp.issuer, clock)),
      ).resolves.toBeDefined();
      await expect(
        verifier.verify(await signAccessToken(fresh, { alg: 'ES256' }, idp.issuer, clock)),
      ).resolves.toBeDefined();
    },
  );
});

describe('timeouts', () => {
  it('answers 503 quickly when the JWKS endpoint never answers', async () => {
    const idp = await healthyIdp(hang);
    const clock = testClock();
    const verifier = verifierFor(idp, { clock, timeout: 0.2 });
    const started = performance.now();
    const error = expectUnavailable(await refused(verifier.verify(await signRsa(idp, clock))));
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
      await refused(verifierFor(idp, { clock, timeout: 0.2 }).verify(await signRsa(idp, clock))),
    );
    expect(performance.now() - started).toBeLessThan(2_000);
    expect(error.cause).toMatchObject({ kind: 'timeout' });
  });

  it('close() settles a verification stuck on a hung JWKS request: VerifierClosedError, the abort as its cause', async () => {
    const idp = await healthyIdp(hang);
    const clock = testClock();
    const verifier = verifierFor(idp, { clock, timeout: 15 });
    let settled = false;
    const pending = refused(verifier.verify(await signRsa(idp, clock))).finally(() => {
      settled = true;
    });
    // Wait (event-loop turns, not a sleep) until the JWKS request is really in flight.
    while (idp.count('/keys') === 0 && !settled) await new Promise((resolve) => setImmediate(resolve));
    expect(settled).toBe(false);
    const started = performance.now();
    await verifier.close();
    const error = await pending;
    expect(performance.now() - started).toBeLessThan(1_000);
    // Not a 503: the IdP did not fail, close() aborted the request (see closed-verifier.test.ts).
    expect(error).toBeInstanceOf(VerifierClosedError);
    expect(error).toMatchObject({ status: 500, reason: 'verifier_closed' });
    expect(error.cause).toBeInstanceOf(IdpUnavailableError);
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
    const good = serveKeys(() => [rsa.jwk]);
    const idp = await healthyIdp((req, res) => (failing ? failure(req, res) : good(req, res)));
    const clock = testClock();
    const verifier = verifierFor(idp, { clock });
    await verifier.verify(await signRsa(idp, clock));
    expect(idp.count('/keys')).toBe(1);

    failing = true;
    clock.advance(601_000); // past jwksMaxAge (600 s): the next key lookup refreshes in the background
    await expect(verifier.verify(await signRsa(idp, clock))).resolves.toMatchObject({ header: { kid: 'rsa-1' } });

    // A kid nobody has seen waits for that refresh, which fails: 503 (the key may be real).
    const unknown = expectUnavailable(
      await refused(verifier.verify(await signRsa(idp, clock, 'rotated-during-outage'))),
    );
    expect(unknown.retryAfter).toBeGreaterThanOrEqual(1);
    const refreshes = _name === 'a connection reset' ? 3 : 2; // a GET reset under it is sent twice
    expect(idp.count('/keys')).toBe(refreshes);
    expect(verifier.stats().jwks).toMatchObject({ fetches: 2, failures: 1, keys: 1 });

    // Known keys keep working, and the failing endpoint is not hit again while backing off.
    await expect(verifier.verify(await signRsa(idp, clock))).resolves.toBeDefined();
    await expect(verifier.verify(await signRsa(idp, clock))).resolves.toBeDefined();
    expect(idp.count('/keys')).toBe(refreshes);

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
      const verifier = verifierFor(idp, { clock, fetch: injected });
      await verifier.verify(await signRsa(idp, clock));
      await verifier.verify(await signEc(idp, clock));
      expectInvalid(await refused(verifier.verify(await signRsa(idp, clock, 'unknown-kid'))), 'key_not_found');

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

  it('calls the global fetch, when none is injected, with the global as `this` (workerd refuses another)', async () => {
    const idp = await healthyIdp();
    const realFetch = globalThis.fetch;
    const receivers: unknown[] = [];
    globalThis.fetch = function (this: unknown, input: Parameters<typeof fetch>[0], init?: RequestInit) {
      receivers.push(this);
      return realFetch(input, init);
    };
    try {
      const clock = testClock();
      const verifier = verifierFor(idp, { clock });
      await verifier.verify(await signRsa(idp, clock));
      expect(receivers.map((receiver) => receiver === globalThis)).toEqual([true, true]);
    } finally {
      globalThis.fetch = realFetch;
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
    expectUnavailable(await refused(verifierFor(idp, { clock, fetch: broken }).verify(await signRsa(idp, clock))));
  });
});
