/**
 * Discovery (OpenID and RFC 8414 metadata) against an IdP that misbehaves: missing or foreign
 * documents, issuer mix-ups, unusable `jwks_uri`s, redirects, outages, hangs. Every case ends in a
 * typed error: MisconfiguredError (500) when our configuration cannot work, IdpUnavailableError
 * (503) when the IdP is down; never a crash, a hang, or a request the library should not make.
 * The JWKS endpoint's own faults are in jwks-faults.test.ts.
 */
import { afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { HttpRequestError, type FetchLike } from '../../../src/index.js';
import { expectMisconfigured, expectUnavailable, refused, rootCause } from '../../support/expect-refusal.js';
import {
  closeFakeIdps,
  discoveryRoutes,
  fakeIdpKey,
  hang,
  OIDC_DISCOVERY as OIDC,
  RFC8414_METADATA as RFC8414,
  serveJson,
  serveKeys,
  serveStatus,
  signAccessToken,
  startFakeIdp,
  type FakeIdp,
  type FakeIdpKey,
  type Route,
} from '../../support/fake-idp.js';
import { sendJson } from '../../support/http.js';
import { testClock } from '../../support/idp.js';
import { closeVerifiers, verifierFor } from '../../support/verifier-for.js';

type Clock = ReturnType<typeof testClock>;

let rsa: FakeIdpKey;

beforeAll(async () => {
  rsa = await fakeIdpKey('RS256', 'rsa-1');
});
afterEach(async () => {
  await closeVerifiers();
  await closeFakeIdps();
});

/** OpenID discovery at the root, the JWKS at /keys, and any `extra` routes. */
const healthyIdp = (keys: Route = serveKeys(() => [rsa.jwk]), extra: Record<string, Route> = {}) =>
  startFakeIdp((base) => ({ routes: { ...discoveryRoutes(base, keys), ...extra } }));
const signRsa = (idp: FakeIdp, clock: Clock) => signAccessToken(rsa, { alg: 'RS256', kid: 'rsa-1' }, idp.issuer, clock);

// ---------------------------------------------------------------------------------------------

describe('discovery', () => {
  it('falls back from OpenID discovery (404) to RFC 8414 metadata', async () => {
    const idp = await startFakeIdp((base) => ({
      routes: {
        [OIDC]: serveStatus(404),
        [RFC8414]: serveJson({ issuer: base, jwks_uri: `${base}/keys` }),
        '/keys': serveKeys(() => [rsa.jwk]),
      },
    }));
    const clock = testClock();
    const verifier = verifierFor(idp, { clock });
    await expect(verifier.verify(await signRsa(idp, clock))).resolves.toMatchObject({ header: { kid: 'rsa-1' } });
    expect(idp.paths()).toEqual([OIDC, RFC8414, '/keys']);
    expect(verifier.stats().discovery.fetches).toBe(2);
  });

  it('also falls back when OpenID discovery answers another 4xx (403)', async () => {
    const idp = await startFakeIdp((base) => ({
      routes: {
        [OIDC]: serveStatus(403),
        [RFC8414]: serveJson({ issuer: base, jwks_uri: `${base}/keys` }),
        '/keys': serveKeys(() => [rsa.jwk]),
      },
    }));
    const clock = testClock();
    await expect(verifierFor(idp, { clock }).verify(await signRsa(idp, clock))).resolves.toBeDefined();
    expect(idp.paths()).toEqual([OIDC, RFC8414, '/keys']);
  });

  it('uses OpenID discovery alone when it exists', async () => {
    const idp = await healthyIdp(undefined, { [RFC8414]: serveStatus(500) });
    const clock = testClock();
    await expect(verifierFor(idp, { clock }).verify(await signRsa(idp, clock))).resolves.toBeDefined();
    expect(idp.paths()).toEqual([OIDC, '/keys']);
  });

  it.each<[string, string, string, string]>([
    ['/tenant', '/tenant', `/tenant${OIDC}`, `${RFC8414}/tenant`],
    ['/tenant/ (trailing slash)', '/tenant/', `/tenant${OIDC}`, `${RFC8414}/tenant`],
    ['/realms/acme', '/realms/acme', `/realms/acme${OIDC}`, `${RFC8414}/realms/acme`],
  ])(
    'handles an issuer with path %s: OpenID at the path, RFC 8414 between host and path',
    async (_name, issuerPath, oidcPath, rfcPath) => {
      const idp = await startFakeIdp((base) => ({
        issuer: `${base}${issuerPath}`,
        routes: {
          [rfcPath]: serveJson({ issuer: `${base}${issuerPath}`, jwks_uri: `${base}/keys` }),
          '/keys': serveKeys(() => [rsa.jwk]),
        },
      }));
      const clock = testClock();
      const verifier = verifierFor(idp, { clock });
      await expect(verifier.verify(await signRsa(idp, clock))).resolves.toMatchObject({ payload: { iss: idp.issuer } });
      expect(idp.paths()).toEqual([oidcPath, rfcPath, '/keys']);
    },
  );

  it('answers 500 (misconfigured) pointing at `issuer` and `jwksUri` when neither well-known document exists', async () => {
    const idp = await startFakeIdp(() => ({ routes: { '/keys': serveKeys(() => [rsa.jwk]) } }));
    const clock = testClock();
    const error = expectMisconfigured(await refused(verifierFor(idp, { clock }).verify(await signRsa(idp, clock))));
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
    const idp = await startFakeIdp((base) => ({
      routes: {
        [OIDC]: serveJson({ issuer: metadataIssuer(base), jwks_uri: `${base}/keys` }),
        [RFC8414]: serveJson({ issuer: base, jwks_uri: `${base}/keys` }),
        '/keys': serveKeys(() => [rsa.jwk]),
      },
    }));
    const clock = testClock();
    const verifier = verifierFor(idp, { clock });
    const error = expectMisconfigured(await refused(verifier.verify(await signRsa(idp, clock))));
    expect(error.message).toMatch(/metadata at .* is for issuer .*, not the configured .*; fix `issuer`/);
    expect(idp.count('/keys')).toBe(0);
    expect(verifier.stats().jwks.fetches).toBe(0);
  });

  it('rejects an issuer mismatch found in the RFC 8414 document too', async () => {
    const idp = await startFakeIdp(() => ({
      routes: {
        [RFC8414]: serveJson({ issuer: 'https://evil.example', jwks_uri: 'https://evil.example/keys' }),
      },
    }));
    const clock = testClock();
    const error = expectMisconfigured(await refused(verifierFor(idp, { clock }).verify(await signRsa(idp, clock))));
    expect(error.message).toMatch(/is for issuer "https:\/\/evil\.example", not the configured/);
  });

  it('does not fall back to RFC 8414 when OpenID discovery fails with a 5xx (IdP down)', async () => {
    const idp = await startFakeIdp((base) => ({
      routes: { [OIDC]: serveStatus(502), [RFC8414]: serveJson({ issuer: base, jwks_uri: `${base}/keys` }) },
    }));
    const clock = testClock();
    expectUnavailable(await refused(verifierFor(idp, { clock }).verify(await signRsa(idp, clock))));
    expect(idp.paths()).toEqual([OIDC]);
  });

  it('passes a 429 Retry-After from discovery on to the client', async () => {
    const idp = await startFakeIdp(() => ({ routes: { [OIDC]: serveStatus(429, { 'retry-after': '20' }) } }));
    const clock = testClock();
    const error = expectUnavailable(await refused(verifierFor(idp, { clock }).verify(await signRsa(idp, clock))));
    expect(error.retryAfter).toBe(20);
    expect(error.headers['Retry-After']).toBe('20');
    expect(idp.paths()).toEqual([OIDC]);
  });

  it('does not follow a redirect of the discovery document', async () => {
    const idp = await startFakeIdp((base) => ({
      routes: {
        [OIDC]: (_req, res) => {
          res.writeHead(301, { location: `${base}/moved${OIDC}` });
          res.end();
        },
        [`/moved${OIDC}`]: serveJson({ issuer: base, jwks_uri: `${base}/keys` }),
        '/keys': serveKeys(() => [rsa.jwk]),
      },
    }));
    const clock = testClock();
    const error = expectUnavailable(await refused(verifierFor(idp, { clock }).verify(await signRsa(idp, clock))));
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
      const idp = await startFakeIdp((base) => ({
        routes: {
          [OIDC]: serveJson({ issuer: base, jwks_uri: jwksUri(base) }),
          '/keys': serveKeys(() => [rsa.jwk]),
        },
      }));
      const clock = testClock();
      const error = expectMisconfigured(
        await refused(verifierFor(idp, { clock, fetch: countingFetch }).verify(await signRsa(idp, clock))),
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
    const idp = await startFakeIdp((base) => ({
      routes: {
        [OIDC]: (_req, res) =>
          sendJson(res, 200, fixed ? { issuer: base, jwks_uri: `${base}/keys` } : { issuer: base }),
        '/keys': serveKeys(() => [rsa.jwk]),
      },
    }));
    const clock = testClock();
    const verifier = verifierFor(idp, { clock });
    expectMisconfigured(await refused(verifier.verify(await signRsa(idp, clock))));
    expect(idp.paths()).toEqual([OIDC]);
    fixed = true;
    clock.advance(10 * 60_000); // well past every backoff
    await expect(verifier.verify(await signRsa(idp, clock))).resolves.toBeDefined();
  });

  it('shares one discovery request among concurrent first requests, and backs off after it fails', async () => {
    const idp = await startFakeIdp(() => ({ routes: { [OIDC]: serveStatus(500) } }));
    const clock = testClock();
    const verifier = verifierFor(idp, { clock });
    const tokens = await Promise.all(Array.from({ length: 20 }, () => signRsa(idp, clock)));
    const errors = await Promise.all(tokens.map((t) => refused(verifier.verify(t))));
    errors.forEach(expectUnavailable);
    expect(idp.paths()).toEqual([OIDC]);
    // Immediately again: still 503, and no new request.
    expectUnavailable(await refused(verifier.verify(await signRsa(idp, clock))));
    expect(idp.paths()).toEqual([OIDC]);
  });
});

describe('timeouts', () => {
  it('times out discovery, without trying RFC 8414 as well', async () => {
    const idp = await startFakeIdp((base) => ({
      routes: { [OIDC]: hang, [RFC8414]: serveJson({ issuer: base, jwks_uri: `${base}/keys` }) },
    }));
    const clock = testClock();
    const started = performance.now();
    const error = expectUnavailable(
      await refused(verifierFor(idp, { clock, timeout: 0.2 }).verify(await signRsa(idp, clock))),
    );
    expect(performance.now() - started).toBeLessThan(2_000);
    expect(error.cause).toMatchObject({ kind: 'timeout' });
    expect(idp.paths()).toEqual([OIDC]);
  });
});

describe('an explicit jwksUri', () => {
  it('with an explicit jwksUri, never requests discovery', async () => {
    const idp = await startFakeIdp((base) => ({
      routes: {
        // If discovery were consulted it would point at a JWKS without our key.
        [OIDC]: serveJson({ issuer: base, jwks_uri: `${base}/wrong-keys` }),
        [RFC8414]: serveJson({ issuer: base, jwks_uri: `${base}/wrong-keys` }),
        '/wrong-keys': serveKeys(() => []),
        '/keys': serveKeys(() => [rsa.jwk]),
      },
    }));
    const clock = testClock();
    const verifier = verifierFor(idp, { clock, jwksUri: `${idp.base}/keys` });
    await expect(verifier.verify(await signRsa(idp, clock))).resolves.toBeDefined();
    expect(idp.paths()).toEqual(['/keys']);
    expect(verifier.stats().discovery.fetches).toBe(0);
  });

  it('with an explicit jwksUri that fails, still never requests discovery', async () => {
    const idp = await healthyIdp(serveStatus(500));
    const clock = testClock();
    const verifier = verifierFor(idp, { clock, jwksUri: new URL(`${idp.base}/keys`) });
    expectUnavailable(await refused(verifier.verify(await signRsa(idp, clock))));
    clock.advance(60_000);
    expectUnavailable(await refused(verifier.verify(await signRsa(idp, clock))));
    expect(idp.paths()).toEqual(['/keys', '/keys']);
  });
});
