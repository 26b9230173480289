import { afterAll, describe, expect, it, jest } from '@jest/globals';
import { createVerifier, type FetchLike, type Verifier, type VerifierOptions } from '../../../src/index.js';

/**
 * `createVerifier` validates its options once, at construction: misuse is a TypeError whose
 * message names the option and says how to fix it, and nothing touches the network.
 */

const ISSUER = 'https://idp.example.com/';
const AUDIENCE = 'https://api.example.com';
const SECRET_32 = 'x'.repeat(32);

/** A fetch that must never run: construction is lazy, the IdP may well be down at startup. */
const forbiddenFetch = jest.fn<FetchLike>(() => {
  throw new Error('createVerifier must not do network I/O at construction');
});

const verifiers: Verifier[] = [];

function build(overrides: Record<string, unknown>): Verifier {
  const verifier = createVerifier({
    issuer: ISSUER,
    audience: AUDIENCE,
    fetch: forbiddenFetch,
    ...overrides,
  } as VerifierOptions);
  verifiers.push(verifier);
  return verifier;
}

afterAll(async () => {
  await Promise.all(verifiers.map((v) => v.close()));
  // Give anything a constructor might have scheduled (timers, microtasks) a chance to run.
  await new Promise((resolve) => setImmediate(resolve));
  expect(forbiddenFetch).not.toHaveBeenCalled();
});

describe('misconfiguration is a TypeError at construction, saying how to fix it', () => {
  it.each<[string, Record<string, unknown>, RegExp]>([
    // issuer
    ['missing issuer', { issuer: undefined }, /`issuer` is required, e\.g\. issuer: 'https:\/\//],
    ['empty issuer', { issuer: '' }, /`issuer` is required/],
    ['numeric issuer', { issuer: 42 }, /`issuer` must be a string \(the exact `iss` value/],
    ['URL object as issuer', { issuer: new URL(ISSUER) }, /`issuer` must be a string/],
    ['array issuer', { issuer: [ISSUER] }, /`issuer` must be a string/],
    [
      'issuer that is not a URL',
      { issuer: 'idp.example.com' },
      /`issuer` is not a valid absolute URL: "idp\.example\.com"/,
    ],
    ['relative issuer', { issuer: '/oauth2' }, /`issuer` is not a valid absolute URL/],
    [
      'http issuer on a public host',
      { issuer: 'http://idp.example.com/' },
      /`issuer` uses http on a non-loopback host \(idp\.example\.com\); use https, or pass `allowHttp: true`/,
    ],
    [
      'http issuer on a look-alike of 127.0.0.1',
      { issuer: 'http://127.0.0.1.evil.example/' },
      /`issuer` uses http on a non-loopback host.*allowHttp: true/,
    ],
    [
      'http issuer on a look-alike of localhost',
      { issuer: 'http://localhost.evil.example/' },
      /`issuer` uses http on a non-loopback host.*allowHttp: true/,
    ],
    [
      'http issuer with allowHttp not exactly true',
      { issuer: 'http://idp.example.com/', allowHttp: 'yes' },
      /`issuer` uses http on a non-loopback host/,
    ],
    ['ftp: issuer', { issuer: 'ftp://idp.example.com/' }, /`issuer` must use https \(got ftp:\)/],
    ['file: issuer', { issuer: 'file:///etc/passwd' }, /`issuer` must use https \(got file:\)/],
    [
      'ftp: issuer even with allowHttp',
      { issuer: 'ftp://idp.example.com/', allowHttp: true },
      /`issuer` must use https \(got ftp:\)/,
    ],

    // audience
    [
      'missing audience',
      { audience: undefined },
      /`audience` is required: a non-empty string or array of strings, e\.g\. audience: '/,
    ],
    ['empty-string audience', { audience: '' }, /`audience` is required/],
    ['empty audience array', { audience: [] }, /`audience` is required/],
    [
      'audience array with an empty string',
      { audience: [AUDIENCE, ''] },
      /`audience` is required: a non-empty string or array of strings/,
    ],
    ['audience array with a non-string', { audience: [AUDIENCE, 7] }, /`audience` is required/],
    ['numeric audience', { audience: 7 }, /`audience` is required/],

    // algorithms
    ['empty algorithms', { algorithms: [] }, /`algorithms` must be a non-empty array, e\.g\. \['RS256'\]/],
    ['algorithms not an array', { algorithms: 'RS256' }, /`algorithms` must be a non-empty array/],
    ['non-string algorithm', { algorithms: ['RS256', 256] }, /`algorithms` must contain strings/],
    [
      "'none' algorithm",
      { algorithms: ['none'] },
      /`algorithms` must not contain 'none': unsigned tokens are never accepted/,
    ],
    ["'None' among others", { algorithms: ['RS256', 'None'] }, /must not contain 'none'/],
    ["'NONE'", { algorithms: ['NONE'] }, /must not contain 'none'/],
    ["'nOnE'", { algorithms: ['ES256', 'nOnE'] }, /must not contain 'none'/],
    ['unknown algorithm', { algorithms: ['RS1'] }, /unsupported algorithm "RS1"; use some of RS256, .*HS256/],
    ['lower-case algorithm name', { algorithms: ['rs256'] }, /unsupported algorithm "rs256"; use some of/],
    ['JWE algorithm', { algorithms: ['RSA-OAEP'] }, /unsupported algorithm "RSA-OAEP"/],

    // HMAC secret
    ['HS256 without secret', { algorithms: ['HS256'] }, /HMAC algorithms \(HS256\/384\/512\) need the shared `secret`/],
    [
      'HS512 among asymmetric algorithms without secret',
      { algorithms: ['RS256', 'HS512'] },
      /need the shared `secret`/,
    ],
    [
      'secret of 31 ASCII bytes',
      { algorithms: ['HS256'], secret: 'x'.repeat(31) },
      /`secret` must be at least 32 bytes \(RFC 7518 §3\.2\)/,
    ],
    [
      'secret of 31 raw bytes',
      { algorithms: ['HS256'], secret: new Uint8Array(31) },
      /`secret` must be at least 32 bytes/,
    ],
    [
      'empty secret',
      { algorithms: ['HS256'], secret: '' },
      /`secret` is an empty string in createVerifier: is the environment variable that should hold it unset/,
    ],
    [
      'secret of 15 two-byte characters (30 bytes)',
      { algorithms: ['HS256'], secret: 'é'.repeat(15) },
      /`secret` must be at least 32 bytes/,
    ],
    [
      'secret that is neither string nor bytes',
      { algorithms: ['HS256'], secret: 12345678901234567890123456789012 },
      /`secret` must be at least 32 bytes/,
    ],
    [
      'secret without an HMAC algorithm (default algorithms)',
      { secret: SECRET_32 },
      /`secret` is only used with HMAC algorithms; add e\.g\. 'HS256' to `algorithms` or drop `secret`/,
    ],
    [
      'secret with asymmetric algorithms only',
      { algorithms: ['RS256'], secret: SECRET_32 },
      /`secret` is only used with HMAC algorithms/,
    ],

    // cache
    [
      'cache.max 0',
      { cache: { max: 0 } },
      /`cache\.max` must be a positive integer \(entries\); use `cache: false` to disable caching/,
    ],
    ['cache.max negative', { cache: { max: -1 } }, /`cache\.max` must be a positive integer/],
    ['cache.max non-integer', { cache: { max: 1.5 } }, /`cache\.max` must be a positive integer/],
    ['cache.max NaN', { cache: { max: Number.NaN } }, /`cache\.max` must be a positive integer/],
    ['cache.max Infinity', { cache: { max: Number.POSITIVE_INFINITY } }, /`cache\.max` must be a positive integer/],
    ['cache.max as a string', { cache: { max: '100' } }, /`cache\.max` must be a positive integer/],
    ['cache.maxTtl negative', { cache: { maxTtl: -1 } }, /`cache\.maxTtl` must be a number of seconds > 0/],
    ['cache.maxTtl 0', { cache: { maxTtl: 0 } }, /`cache\.maxTtl` must be a number of seconds > 0/],
    [
      'cache.maxTtl Infinity',
      { cache: { maxTtl: Number.POSITIVE_INFINITY } },
      /`cache\.maxTtl` must be a number of seconds > 0/,
    ],
    ['cache: true', { cache: true }, /`cache` must be \{ max, maxTtl \} or false/],

    // numbers
    ['clockTolerance negative', { clockTolerance: -1 }, /`clockTolerance` must be a number of seconds >= 0/],
    ['clockTolerance NaN', { clockTolerance: Number.NaN }, /`clockTolerance` must be a number of seconds >= 0/],
    ['jwksCooldown negative', { jwksCooldown: -5 }, /`jwksCooldown` must be a number of seconds >= 0/],
    ['jwksMaxAge 0', { jwksMaxAge: 0 }, /`jwksMaxAge` must be a number of seconds > 0/],
    ['maxTokenLength 0', { maxTokenLength: 0 }, /`maxTokenLength` must be a number of characters > 0/],

    // functions and other options
    [
      'fetch that is a string',
      { fetch: 'https://idp.example.com' },
      /`fetch` must be a function \(Node >= 20\.19 has a global fetch\)/,
    ],
    ['fetch that is an object', { fetch: {} }, /`fetch` must be a function/],
    ['clock that is a number', { clock: 1_700_000_000_000 }, /`clock` must be a function returning epoch milliseconds/],
    ['requiredClaims not an array', { requiredClaims: 'exp' }, /`requiredClaims` must be an array of claim names/],
    ['empty typ', { typ: '' }, /`typ` must be a string such as 'at\+jwt'/],

    // jwksUri
    [
      'jwksUri over http on a public host',
      { jwksUri: 'http://idp.example.com/jwks' },
      /`jwksUri` uses http on a non-loopback host \(idp\.example\.com\); use https, or pass `allowHttp: true`/,
    ],
    [
      'jwksUri as an http URL object on a public host',
      { jwksUri: new URL('http://idp.example.com/jwks') },
      /`jwksUri` uses http on a non-loopback host/,
    ],
    ['jwksUri that is not a URL', { jwksUri: 'jwks.json' }, /`jwksUri` is not a valid absolute URL: "jwks\.json"/],
    ['jwksUri that is a number', { jwksUri: 443 }, /`jwksUri` must be a URL string, e\.g\. 'https:\/\//],
    ['jwksUri with ftp:', { jwksUri: 'ftp://idp.example.com/jwks' }, /`jwksUri` must use https \(got ftp:\)/],
  ])('%s', (_name, overrides, message) => {
    let thrown: unknown;
    try {
      build(overrides);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(TypeError);
    expect((thrown as Error).message).toMatch(/^revocable-jwt: /);
    expect(() => build(overrides)).toThrow(message);
  });

  // Regression test for a fixed bug (src/core/options.ts, `const c = options.cache ?? {}`): `cache: null` is silently taken as
  // "default cache" (10 000 entries, 600 s) because `??` turns null into {}; the `c === null` test
  // on the next line is dead code. Someone writing `cache: null` most likely meant "no cache", and
  // getting a cache instead is the unsafe direction for a revocation-minded library: it should be
  // the TypeError "`cache` must be { max, maxTtl } or false".
  it('cache: null is rejected rather than silently meaning the default cache', () => {
    expect(() => build({ cache: null })).toThrow(/`cache` must be \{ max, maxTtl \} or false/);
  });

  it('rejects a missing options object', () => {
    expect(() => createVerifier(undefined as unknown as VerifierOptions)).toThrow(TypeError);
    expect(() => createVerifier(null as unknown as VerifierOptions)).toThrow(
      /createVerifier needs an options object: \{ issuer, audience \}/,
    );
  });
});

/**
 * One rule for units: every duration option is in seconds. Waits on the IdP are bounded to (0, 60]
 * so that a value written in milliseconds fails here instead of meaning minutes.
 */
describe('duration options are seconds; a millisecond-minded wait fails at construction', () => {
  const CLIENT = { clientId: 'api', clientSecret: 's' };
  const waitRange = (name: string) => `\`${name}\` must be a number of seconds > 0 and <= 60, e.g. 5`;
  it.each<[string, Record<string, unknown>, string]>([
    [
      'timeout 5000 (milliseconds)',
      { timeout: 5000 },
      '`timeout` is in seconds (e.g. 5), at most 60; 5000 looks like milliseconds (5000 ms = 5 s)',
    ],
    [
      'timeout 60.5, just past the bound',
      { timeout: 60.5 },
      '`timeout` is in seconds (e.g. 5), at most 60; 60.5 looks like milliseconds (60.5 ms = 0.0605 s)',
    ],
    ['timeout 0', { timeout: 0 }, waitRange('timeout')],
    ['timeout negative', { timeout: -100 }, waitRange('timeout')],
    ['timeout NaN', { timeout: Number.NaN }, waitRange('timeout')],
    ['timeout Infinity', { timeout: Number.POSITIVE_INFINITY }, waitRange('timeout')],
    ['timeout as a string', { timeout: '5000' }, waitRange('timeout')],
    [
      'revocation.timeout 2000 (milliseconds)',
      { revocation: { ...CLIENT, timeout: 2000 } },
      '`revocation.timeout` is in seconds (e.g. 5), at most 60; 2000 looks like milliseconds (2000 ms = 2 s)',
    ],
    ['revocation.timeout 0', { revocation: { ...CLIENT, timeout: 0 } }, waitRange('revocation.timeout')],
    [
      'introspection.timeout 1500 (milliseconds)',
      { introspection: { ...CLIENT, timeout: 1500 } },
      '`introspection.timeout` is in seconds (e.g. 5), at most 60; 1500 looks like milliseconds (1500 ms = 1.5 s)',
    ],
    [
      'introspection.timeout NaN',
      { introspection: { ...CLIENT, timeout: Number.NaN } },
      waitRange('introspection.timeout'),
    ],
    [
      'revocation.retryInterval past a day (a setInterval period: 2^31 ms would fire every millisecond)',
      { revocation: { ...CLIENT, retryInterval: 5_000_000 } },
      '`revocation.retryInterval` is in seconds (e.g. 5), at most 86400; 5000000 looks like milliseconds ' +
        '(5000000 ms = 5000 s)',
    ],
    [
      'revocation.retryInterval 0',
      { revocation: { ...CLIENT, retryInterval: 0 } },
      '`revocation.retryInterval` must be a number of seconds > 0 and <= 86400, e.g. 5',
    ],
    [
      'clockTolerance Infinity',
      { clockTolerance: Number.POSITIVE_INFINITY },
      '`clockTolerance` must be a number of seconds >= 0 and <= 300, e.g. 5',
    ],
    [
      'clockTolerance past 5 minutes (a leeway that large keeps expired tokens alive: fails closed at construction)',
      { clockTolerance: 301 },
      '`clockTolerance` is at most 300 seconds (301 given): a larger leeway would keep expired tokens alive; ' +
        'fix the clocks instead',
    ],
    ['jwksCooldown NaN', { jwksCooldown: Number.NaN }, '`jwksCooldown` must be a number of seconds >= 0, e.g. 30'],
    ['jwksMaxAge negative', { jwksMaxAge: -1 }, '`jwksMaxAge` must be a number of seconds > 0, e.g. 600'],
    ['maxTokenLifetime 0', { maxTokenLifetime: 0 }, '`maxTokenLifetime` must be a number of seconds > 0, e.g. 86400'],
    [
      'cache.maxTtl as a string',
      { cache: { maxTtl: '600' } },
      '`cache.maxTtl` must be a number of seconds > 0, e.g. 600',
    ],
    [
      'revocation.retryFor 0',
      { revocation: { ...CLIENT, retryFor: 0 } },
      '`revocation.retryFor` must be a number of seconds > 0, e.g. 604800',
    ],
    [
      'introspection.maxAge Infinity',
      { introspection: { ...CLIENT, maxAge: Number.POSITIVE_INFINITY } },
      '`introspection.maxAge` must be a number of seconds > 0, e.g. 60',
    ],
    [
      'introspection.newTokenWindow 0',
      { introspection: { ...CLIENT, newTokenWindow: 0 } },
      '`introspection.newTokenWindow` must be a number of seconds > 0, e.g. 1',
    ],
  ])('%s', (_name, overrides, message) => {
    let thrown: unknown;
    try {
      build(overrides);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(TypeError);
    expect((thrown as Error).message).toBe(`revocable-jwt: ${message}`);
  });

  it.each<[string, Record<string, unknown>]>([
    ['fractions: timeout 0.25', { timeout: 0.25 }],
    ['the bound itself: every timeout 60', { timeout: 60, revocation: { ...CLIENT, timeout: 60 } }],
    ['introspection.timeout 0.001 (one millisecond)', { introspection: { ...CLIENT, timeout: 0.001 } }],
    ['revocation.retryInterval a day', { revocation: { ...CLIENT, retryInterval: 86_400 } }],
    ['long non-wait durations stay unbounded', { jwksMaxAge: 7 * 86_400, maxTokenLifetime: 30 * 86_400 }],
  ])('accepts %s', (_name, overrides) => {
    expect(() => build(overrides)).not.toThrow();
  });
});

describe('valid configurations construct without any network I/O', () => {
  it.each<[string, Record<string, unknown>]>([
    ['minimal https issuer', {}],
    ['issuer without trailing slash, with a path', { issuer: 'https://idp.example.com/tenant' }],
    ['audience array', { audience: [AUDIENCE, 'urn:other'] }],
    ['http issuer on a public host with allowHttp: true', { issuer: 'http://idp.example.com/', allowHttp: true }],
    ['http jwksUri on a public host with allowHttp: true', { jwksUri: 'http://idp.example.com/jwks', allowHttp: true }],
    ['http issuer on 127.0.0.1', { issuer: 'http://127.0.0.1:8080/' }],
    ['http issuer on 127.x.y.z', { issuer: 'http://127.10.20.30/' }],
    ['http issuer on localhost', { issuer: 'http://localhost:3000/realms/test' }],
    ['http issuer on [::1]', { issuer: 'http://[::1]:3000/' }],
    ['http jwksUri on loopback', { jwksUri: 'http://127.0.0.1:9000/jwks' }],
    ['https jwksUri as a URL object', { jwksUri: new URL('https://idp.example.com/jwks') }],
    ['a single asymmetric algorithm', { algorithms: ['ES256'] }],
    ['EdDSA and Ed25519', { algorithms: ['EdDSA', 'Ed25519'] }],
    ['HS256 with a 32-byte string secret', { algorithms: ['HS256'], secret: SECRET_32 }],
    ['HS384 with a 32-byte Uint8Array secret', { algorithms: ['RS256', 'HS384'], secret: new Uint8Array(32).fill(7) }],
    ['HS512 with 16 two-byte characters (32 bytes)', { algorithms: ['HS512'], secret: 'é'.repeat(16) }],
    ['cache: false', { cache: false }],
    ['cache with max 1 and a fractional maxTtl', { cache: { max: 1, maxTtl: 0.5 } }],
    ['empty cache options (defaults)', { cache: {} }],
    ['clockTolerance 0 and jwksCooldown 0', { clockTolerance: 0, jwksCooldown: 0 }],
    [
      'explicit timeout, typ, requiredClaims, clock',
      { timeout: 1, typ: 'at+jwt', requiredClaims: ['exp', 'sub'], clock: () => 0 },
    ],
    ['allowHttp: false on https', { allowHttp: false }],
  ])('%s', async (_name, overrides) => {
    const calls = forbiddenFetch.mock.calls.length;
    const verifier = build(overrides);
    expect(verifier.issuer).toBe((overrides.issuer as string | undefined) ?? ISSUER);
    expect(verifier.audience).toEqual(typeof overrides.audience === 'object' ? overrides.audience : [AUDIENCE]);
    expect(Object.isFrozen(verifier.audience)).toBe(true);
    // Nothing is fetched eagerly, not even in a later microtask or immediate.
    await new Promise((resolve) => setImmediate(resolve));
    expect(forbiddenFetch.mock.calls.length).toBe(calls);
    expect(verifier.stats()).toMatchObject({ discovery: { fetches: 0 }, jwks: { fetches: 0, failures: 0, keys: 0 } });
  });

  it('reports cache max 0 in stats when cache is false', () => {
    expect(build({ cache: false }).stats().cache).toMatchObject({ max: 0, size: 0 });
    expect(build({ cache: { max: 3 } }).stats().cache).toMatchObject({ max: 3, size: 0 });
  });

  it('uses the global fetch when none is given, without calling it', () => {
    const spy = jest.spyOn(globalThis, 'fetch');
    try {
      const verifier = createVerifier({ issuer: ISSUER, audience: AUDIENCE });
      verifiers.push(verifier);
      expect(spy).not.toHaveBeenCalled();
    } finally {
      spy.mockRestore();
    }
  });
});
