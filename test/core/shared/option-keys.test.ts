import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import express from 'express';
import request from 'supertest';
import {
  authErrorHandler,
  authGuard,
  backchannelLogoutRoute,
  createMemoryStore,
  createPrometheusMetrics,
  createRedisStore,
  createVerifier,
  processLogoutToken,
  processSecurityEvent,
  protectedResourceMetadata,
  revokeRoute,
  securityEventRoute,
  type FetchLike,
  type Verifier,
} from '../../../src/index.js';
import { closestKey } from '../../../src/core/shared/option-keys.js';
import { startIdp, type EmbeddedIdp } from '../../support/idp.js';

/**
 * Configuration can't fail open: an option the library does not know (a typo, a singular for a
 * plural, a key meant for another factory) is a TypeError at construction naming the closest
 * valid key — never silently ignored, leaving a default that may mean "no check at all".
 */

const ISSUER = 'https://idp.example.com/';
const AUDIENCE = 'https://api.example.com';
const forbiddenFetch = jest.fn<FetchLike>(() => {
  throw new Error('construction must not do network I/O');
});
const base = { issuer: ISSUER, audience: AUDIENCE, fetch: forbiddenFetch };

let verifier: Verifier;
beforeAll(() => {
  verifier = createVerifier(base);
});
afterAll(async () => {
  await verifier.close();
  expect(forbiddenFetch).not.toHaveBeenCalled();
});

/** Builds, closing whatever was built when the test expected a throw and got none. */
function attempt(build: () => unknown): () => void {
  return () => {
    const built = build() as { close?: () => unknown } | undefined;
    void built?.close?.();
  };
}

describe('every factory refuses unknown option keys, naming the closest valid one', () => {
  it.each<[string, () => unknown, string]>([
    [
      'authGuard (with a verifier)',
      () => authGuard({ verifier, scope: ['admin:all'] } as never),
      'unknown option `scope` in authGuard; did you mean `scopes`?',
    ],
    [
      'authGuard (shorthand)',
      () => authGuard({ ...base, scopes: ['a'], jwksUrl: 'https://idp.example.com/jwks' } as never),
      'unknown option `jwksUrl` in authGuard; did you mean `jwksUri`?',
    ],
    [
      'authGuard (verifier options beside a verifier are ignored, so refused)',
      () => authGuard({ verifier, audience: 'https://other.example.com' } as never),
      'unknown option `audience` in authGuard; valid options: scopes, claims, acrValues, maxAge, optional, resourceMetadata, mtls, dpop, realm, verifier',
    ],
    [
      'authGuard (shorthand, nested)',
      () => authGuard({ ...base, cache: { maxTTL: 60 } } as never),
      'unknown option `cache.maxTTL` in authGuard; did you mean `cache.maxTtl`?',
    ],
    [
      'createVerifier',
      () => createVerifier({ ...base, clockTolerence: 5 } as never),
      'unknown option `clockTolerence` in createVerifier; did you mean `clockTolerance`?',
    ],
    [
      'createVerifier (logger, an object literal)',
      () => createVerifier({ ...base, logger: { warning: () => undefined } } as never),
      'unknown option `logger.warning` in createVerifier; valid options: logger.warn, logger.error, logger.debug',
    ],
    [
      'createVerifier (audienceClaim)',
      () => createVerifier({ ...base, audiencClaim: 'client_id' } as never),
      'unknown option `audiencClaim` in createVerifier; did you mean `audienceClaim`?',
    ],
    [
      'createVerifier cache',
      () => createVerifier({ ...base, cache: { size: 10 } } as never),
      'unknown option `cache.size` in createVerifier; valid options: cache.max, cache.maxTtl',
    ],
    [
      'createVerifier revocation',
      () =>
        createVerifier({
          ...base,
          revocation: { clientId: 'api', clientSecret: 's', authmethod: 'client_secret_post' },
        } as never),
      'unknown option `revocation.authmethod` in createVerifier; did you mean `revocation.authMethod`?',
    ],
    [
      'createVerifier introspection',
      () =>
        createVerifier({
          ...base,
          introspection: { clientId: 'api', clientSecret: 's', mode: 'always', maxAgee: 5 },
        } as never),
      'unknown option `introspection.maxAgee` in createVerifier; did you mean `introspection.maxAge`?',
    ],
    [
      'createVerifier multi-issuer (top level)',
      () => createVerifier({ issuers: [base], fetch: forbiddenFetch, jwksCoolDown: 1 } as never),
      'unknown option `jwksCoolDown` in createVerifier; did you mean `jwksCooldown`?',
    ],
    [
      'createVerifier multi-issuer (an entry)',
      () =>
        createVerifier({
          issuers: [base, { ...base, issuer: 'https://b.example.com/', audiences: [AUDIENCE] }],
        } as never),
      'unknown option `issuers[1].audiences` in createVerifier; did you mean `issuers[1].audience`?',
    ],
    [
      'createVerifier multi-issuer (nested in an entry)',
      () => createVerifier({ issuers: [{ ...base, revocation: { clientid: 'x' } }] } as never),
      'unknown option `issuers[0].revocation.clientid` in createVerifier; did you mean `issuers[0].revocation.clientId`?',
    ],
    [
      'authGuard (claims)',
      () => authGuard({ verifier, claims: { equal: { tenant: 't1' } } } as never),
      'unknown option `claims.equal` in authGuard; did you mean `claims.equals`?',
    ],
    [
      'protectedResourceMetadata',
      () => protectedResourceMetadata({ resource: AUDIENCE, scopeSupported: ['a'] } as never),
      'unknown option `scopeSupported` in protectedResourceMetadata; did you mean `scopesSupported`?',
    ],
    [
      'revokeRoute',
      () => revokeRoute({ verifier, relm: 'x' } as never),
      'unknown option `relm` in revokeRoute; did you mean `realm`?',
    ],
    [
      'backchannelLogoutRoute',
      () => backchannelLogoutRoute({ verifier, clientId: 'api', sesionOnly: true } as never),
      'unknown option `sesionOnly` in backchannelLogoutRoute; did you mean `sessionOnly`?',
    ],
    [
      'securityEventRoute',
      () => securityEventRoute({ verifier, audience: AUDIENCE, maxage: 60 } as never),
      'unknown option `maxage` in securityEventRoute; did you mean `maxAge`?',
    ],
    [
      'createMemoryStore',
      () => createMemoryStore({ clok: () => 0 } as never),
      'unknown option `clok` in createMemoryStore; did you mean `clock`?',
    ],
    [
      'createRedisStore',
      () => createRedisStore({ url: 'redis://127.0.0.1:1', keyprefix: 'x:' } as never),
      'unknown option `keyprefix` in createRedisStore; did you mean `keyPrefix`?',
    ],
    [
      'createRedisStore (far from anything)',
      () => createRedisStore({ url: 'redis://127.0.0.1:1', password: 'x' } as never),
      'unknown option `password` in createRedisStore; valid options: url, client, keyPrefix, onStoreUnavailable, maxStaleness, commandTimeout, syncTimeout, changeLogRetention, clock',
    ],
    [
      'createPrometheusMetrics',
      () => createPrometheusMetrics({ verifier, prefx: 'x_' } as never),
      'unknown option `prefx` in createPrometheusMetrics; did you mean `prefix`?',
    ],
  ])('%s', (_name, build, message) => {
    const thrown = (() => {
      try {
        attempt(build)();
      } catch (error) {
        return error;
      }
      return undefined;
    })();
    expect(thrown).toBeInstanceOf(TypeError);
    expect((thrown as Error).message).toBe(`revocable-jwt: ${message}`);
  });

  it('accepts every documented key (nothing valid is refused)', async () => {
    const store = createMemoryStore({ clock: Date.now });
    const full = createVerifier({
      issuer: ISSUER,
      audience: AUDIENCE,
      audienceClaim: 'aud',
      jwksUri: 'https://idp.example.com/jwks',
      algorithms: ['RS256', 'HS256'],
      secret: 'x'.repeat(32),
      clockTolerance: 1,
      requiredClaims: ['exp'],
      typ: 'at+jwt',
      cache: { max: 10, maxTtl: 60 },
      jwksCooldown: 30,
      jwksMaxAge: 600,
      timeout: 1,
      allowHttp: false,
      fetch: forbiddenFetch,
      clock: Date.now,
      maxTokenLength: 4096,
      maxTokenLifetime: 3600,
      revocation: {
        clientId: 'api',
        clientSecret: 's',
        authMethod: 'client_secret_post',
        endpoint: 'https://idp.example.com/revoke',
        bodyFormat: 'form',
        timeout: 1,
        retryFor: 60,
        retryInterval: 5,
        maxPending: 10,
      },
      store,
      introspection: {
        clientId: 'api',
        clientSecret: 's',
        authMethod: 'client_secret_basic',
        endpoint: 'https://idp.example.com/introspect',
        mode: 'opaque',
        maxAge: 60,
        timeout: 1,
        allowMissingAudience: false,
      },
      maxTokenAge: 3600,
      dpop: { algorithms: ['ES256'], iatWindow: 60, nonce: { secret: 'x'.repeat(32) } },
      publicUrl: 'https://api.example.com',
      statusList: { mode: 'when-present' },
      logger: { warn: () => undefined, error: () => undefined, debug: () => undefined },
    });
    const multi = createVerifier({
      issuers: [base, { ...base, issuer: 'https://b.example.com/', logger: false }],
      clockTolerance: 2,
      fetch: forbiddenFetch,
      logger: { error: () => undefined },
    });
    expect(() => authGuard({ verifier: full, scopes: ['a'], realm: 'r' })).not.toThrow();
    expect(() =>
      authGuard({
        verifier: full,
        scopes: { anyOf: ['a', 'b'] },
        claims: { equals: { tenant: 't1' }, includes: { roles: ['admin'] }, check: () => true },
        acrValues: ['urn:example:mfa'],
        maxAge: 300,
        optional: true,
        resourceMetadata: 'https://api.example.com/.well-known/oauth-protected-resource',
        dpop: 'required',
        realm: 'r',
      }),
    ).not.toThrow();
    expect(() =>
      protectedResourceMetadata({
        resource: 'https://api.example.com',
        verifier: full,
        authorizationServers: [ISSUER],
        scopesSupported: ['a'],
        resourceName: 'API',
        resourceDocumentation: 'https://api.example.com/docs',
        resourcePolicyUri: 'https://api.example.com/policy',
        resourceTosUri: 'https://api.example.com/tos',
        dpopSigningAlgValuesSupported: ['ES256'],
        dpopBoundAccessTokensRequired: false,
        tlsClientCertificateBoundAccessTokens: false,
        cacheMaxAge: 60,
      }),
    ).not.toThrow();
    const shorthand = authGuard({ ...base, scopes: ['a'], realm: 'r' });
    expect(() => revokeRoute({ verifier: full, realm: 'r' })).not.toThrow();
    expect(() =>
      backchannelLogoutRoute({ verifier: full, clientId: 'api', maxAge: 60, sessionOnly: true }),
    ).not.toThrow();
    expect(() => securityEventRoute({ verifier: full, audience: AUDIENCE, maxAge: 60 })).not.toThrow();
    createPrometheusMetrics({ verifier: full, prefix: 'x_' }).close();
    await Promise.all([full.close(), multi.close(), shorthand.verifier.close(), store.close()]);
  });

  it('catches the TypeScript user at compile time where the types allow it', () => {
    const typed = () => {
      // @ts-expect-error `scope` is not an authGuard option (`scopes` is)
      authGuard({ verifier, scope: ['admin:all'] });
      // @ts-expect-error verifier options beside a verifier would be ignored
      authGuard({ verifier, issuer: ISSUER });
      // @ts-expect-error misspelt
      createVerifier({ ...base, jwksUrl: 'https://idp.example.com/jwks' });
      // @ts-expect-error issuer cannot be combined with issuers
      createVerifier({ issuers: [base], issuer: ISSUER });
      // @ts-expect-error misspelt
      revokeRoute({ verifier, relm: 'x' });
      // @ts-expect-error misspelt
      createMemoryStore({ clok: () => 0 });
      // @ts-expect-error misspelt
      createRedisStore({ url: 'redis://127.0.0.1:1', keyprefix: 'x:' });
      // @ts-expect-error misspelt
      createPrometheusMetrics({ verifier, prefx: 'x_' });
      // @ts-expect-error misspelt
      backchannelLogoutRoute({ verifier, clientId: 'api', sesionOnly: true });
      // @ts-expect-error misspelt
      securityEventRoute({ verifier, audience: AUDIENCE, maxage: 60 });
    };
    expect(typeof typed).toBe('function'); // compiled, never run: the assertions are the @ts-expect-error lines
  });

  it('suggests by edit distance, case-insensitively, and nothing when nothing is close', () => {
    expect(closestKey('scope', ['scopes', 'realm', 'verifier'])).toBe('scopes');
    expect(closestKey('MAXTTL', ['max', 'maxTtl'])).toBe('maxTtl');
    expect(closestKey('password', ['url', 'client', 'keyPrefix'])).toBeUndefined();
  });
});

describe('regression: a singular `scope` on a real Express app', () => {
  let idp: EmbeddedIdp;
  let real: Verifier;
  beforeAll(async () => {
    idp = await startIdp();
    real = createVerifier({ issuer: idp.issuer, audience: idp.audience });
  });
  afterAll(async () => {
    await real.close();
    await idp.close();
  });

  it('fails at construction instead of letting a notes:read token into an admin route', async () => {
    const app = express();
    const mount = () =>
      // What a plain JavaScript user writes: no compiler to catch the singular.
      app.get('/admin', authGuard({ verifier: real, scope: ['admin:all'] } as never), (_req, res) => {
        res.json({ admin: true });
      });
    let thrown: unknown;
    try {
      mount();
    } catch (error) {
      thrown = error;
    }
    app.use(authErrorHandler());
    // Were the typo ignored, this request would get 200.
    const token = await idp.issueAccessToken({ scope: 'notes:read' });
    const res = await request(app).get('/admin').set('Authorization', `Bearer ${token}`);
    expect(res.status).not.toBe(200);
    expect(thrown).toBeInstanceOf(TypeError);
    expect((thrown as Error).message).toBe(
      'revocable-jwt: unknown option `scope` in authGuard; did you mean `scopes`?',
    );
  });
});

describe('`issuer`/`audience` with `issuers` (item 22)', () => {
  it.each(['issuer', 'audience'])('refuses a top-level %s beside issuers rather than dropping it', (key) => {
    const options = {
      issuers: [base],
      [key]: key === 'issuer' ? 'https://top.example.com/' : 'https://top-api.example.com',
    };
    expect(attempt(() => createVerifier(options as never))).toThrow(
      new TypeError(
        `revocable-jwt: \`${key}\` cannot be combined with \`issuers\` in createVerifier: move it into each entry, e.g. issuers: [{ issuer, audience }, ...]`,
      ),
    );
  });

  it('says the same through the authGuard shorthand', () => {
    expect(attempt(() => authGuard({ issuers: [base], issuer: ISSUER } as never))).toThrow(
      /`issuer` cannot be combined with `issuers` in authGuard/,
    );
  });
});

describe('issuer URLs with userinfo, a query or a fragment (item 23, RFC 8414 §2)', () => {
  it.each<[string, string, RegExp]>([
    ['userinfo', 'https://user:pass@idp.example.com/', /`issuer` must not contain userinfo \(user:password@\)/],
    ['a user name only', 'https://admin@idp.example.com/', /`issuer` must not contain userinfo/],
    ['an empty userinfo', 'https://@idp.example.com/', /`issuer` must not contain userinfo/],
    ['a query', 'https://idp.example.com/?tenant=a', /`issuer` must not contain a query/],
    ['an empty query', 'https://idp.example.com/?', /`issuer` must not contain a query/],
    ['a fragment', 'https://idp.example.com/#x', /`issuer` must not contain a fragment/],
    ['an empty fragment', 'https://idp.example.com/#', /`issuer` must not contain a fragment/],
  ])('refuses an issuer with %s at construction', (_name, issuer, message) => {
    expect(attempt(() => createVerifier({ ...base, issuer }))).toThrow(message);
    expect(attempt(() => createVerifier({ ...base, issuer }))).toThrow(/RFC 8414 §2/);
  });

  it('never echoes the userinfo or the query (they may be secrets)', () => {
    expect(attempt(() => createVerifier({ ...base, issuer: 'https://user:hunter2@idp.example.com/' }))).toThrow(
      /^(?!.*hunter2)/s,
    );
    expect(attempt(() => createVerifier({ ...base, issuer: 'https://idp.example.com/?key=hunter2' }))).toThrow(
      /^(?!.*hunter2)/s,
    );
  });

  it('checks every entry of `issuers`, naming it', () => {
    expect(
      attempt(() => createVerifier({ issuers: [base, { ...base, issuer: 'https://b.example.com/?x=1' }] })),
    ).toThrow(/`issuers\[1\]\.issuer` must not contain a query/);
  });

  it('still accepts paths, ports and loopback http', () => {
    for (const issuer of [
      'https://idp.example.com/realms/a',
      'https://idp.example.com:8443/',
      'http://127.0.0.1:9000',
    ]) {
      const v = createVerifier({ ...base, issuer });
      void v.close();
    }
  });
});

describe('credentials present but unset (item 24)', () => {
  const unset = process.env.REVOCABLE_JWT_SURELY_UNSET_VARIABLE;
  it.each<[string, Record<string, unknown>, string]>([
    [
      'revocation.clientSecret undefined',
      { revocation: { clientId: 'api', clientSecret: unset } },
      '`revocation.clientSecret` is undefined',
    ],
    [
      'revocation.clientSecret empty',
      { revocation: { clientId: 'api', clientSecret: '' } },
      '`revocation.clientSecret` is an empty string',
    ],
    [
      'revocation.clientId undefined',
      { revocation: { clientId: unset, authMethod: 'none' } },
      '`revocation.clientId` is undefined',
    ],
    [
      'introspection.clientSecret undefined',
      { introspection: { clientId: 'api', clientSecret: unset } },
      '`introspection.clientSecret` is undefined',
    ],
    [
      'introspection.clientId undefined',
      { introspection: { clientId: unset, clientSecret: 's' } },
      '`introspection.clientId` is undefined',
    ],
    ['HMAC secret undefined (HS256 listed)', { algorithms: ['HS256'], secret: unset }, '`secret` is undefined'],
    ['HMAC secret undefined (no HMAC algorithm)', { secret: unset }, '`secret` is undefined'],
    ['HMAC secret null', { algorithms: ['HS256'], secret: null }, '`secret` is null'],
  ])('%s throws, hinting at an unset environment variable', (_name, overrides, start) => {
    expect(attempt(() => createVerifier({ ...base, ...overrides } as never))).toThrow(
      new TypeError(
        `revocable-jwt: ${start} in createVerifier: is the environment variable that should hold it unset? ` +
          'Set it, or remove the key if you really mean to go without it',
      ),
    );
  });

  it('names the issuer entry under `issuers`', () => {
    expect(
      attempt(() =>
        createVerifier({ issuers: [{ ...base, revocation: { clientId: 'api', clientSecret: unset } }] } as never),
      ),
    ).toThrow(/`issuers\[0\]\.revocation\.clientSecret` is undefined in createVerifier/);
  });

  it('an empty Redis url is refused too (an undefined one already was, naming REDIS_URL)', () => {
    expect(attempt(() => createRedisStore({ url: '' }))).toThrow(
      /`url` is an empty string in createRedisStore: is the environment variable/,
    );
    expect(attempt(() => createRedisStore({ url: unset as never }))).toThrow(/REDIS_URL/);
  });

  it('an absent secret still means a public client, as documented', async () => {
    const publicClient = createVerifier({ ...base, revocation: { clientId: 'api' } });
    await publicClient.close();
  });
});

/**
 * The notifications' `maxAge` is seconds like every other duration. It used to reach jose
 * unchecked: `maxAge: NaN` (e.g. `Number(process.env.UNSET)`) or `'5m'` failed every logout token
 * at request time instead of the route at construction.
 */
describe('a logout token or SET `maxAge` that is not a number of seconds', () => {
  const mustBe = '`maxAge` must be a number of seconds > 0, e.g. 300';
  it.each<[string, unknown]>([
    ['NaN', Number.NaN],
    ['0', 0],
    ['negative', -300],
    ['Infinity', Number.POSITIVE_INFINITY],
    ["a jose-style string '5m'", '5m'],
  ])('%s is refused at construction by both routes, and by the process functions', async (_name, maxAge) => {
    expect(() => backchannelLogoutRoute({ verifier, clientId: 'api', maxAge } as never)).toThrow(
      new TypeError(`revocable-jwt: backchannelLogoutRoute: ${mustBe}`),
    );
    expect(() => securityEventRoute({ verifier, audience: AUDIENCE, maxAge } as never)).toThrow(
      new TypeError(`revocable-jwt: securityEventRoute: ${mustBe}`),
    );
    await expect(processLogoutToken(verifier, 'x.y.z', { clientId: 'api', maxAge } as never)).rejects.toThrow(
      new TypeError(`revocable-jwt: processLogoutToken: ${mustBe}`),
    );
    await expect(processSecurityEvent(verifier, 'x.y.z', { audience: AUDIENCE, maxAge } as never)).rejects.toThrow(
      new TypeError(`revocable-jwt: processSecurityEvent: ${mustBe}`),
    );
  });

  it('fractions and large values are seconds too', () => {
    expect(() => backchannelLogoutRoute({ verifier, clientId: 'api', maxAge: 0.5 })).not.toThrow();
    expect(() => securityEventRoute({ verifier, audience: AUDIENCE, maxAge: 86_400 })).not.toThrow();
  });
});
