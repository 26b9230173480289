/**
 * `createVerifier({ logger })`: an operator sees the configuration causes without wiring events,
 * once per distinct problem, with what to fix, and never a token or a secret. Each fault is real:
 * the embedded oidc-provider (a trailing slash in `issuer`, a wrong client secret), a fake IdP or a
 * tiny local server (a JWKS that cannot be reached or holds no usable key, a revocation endpoint
 * rejecting our client), a private redis-server stopped and started, PostgreSQL behind a TCP proxy
 * that is cut. Floods of requests hit each fault; the injected logger (or a spy on `console.warn`,
 * for the default) counts the lines.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { Console } from 'node:console';
import { Writable } from 'node:stream';
import {
  createRedisStore,
  createVerifier,
  type MultiIssuerOptions,
  type VerifierLogDetails,
  type VerifierLogger,
  type VerifierOptions,
} from '../../../src/index.js';
import { QUIET_MS } from '../../../src/core/shared/logger.js';
import { createPostgresStore } from '../../../src/stores/postgres-store.js';
import {
  closeFakeIdps,
  discoveryRoutes,
  type FakeIdpKey,
  fakeIdpKey,
  OIDC_DISCOVERY,
  type Route,
  serveJson,
  serveKeys,
  serveStatus,
  signAccessToken,
  startFakeIdp,
} from '../../support/fake-idp.js';
import { sendJson, startStubServer } from '../../support/http.js';
import { type EmbeddedIdp, signToken, standardClaims, startIdp, testClock } from '../../support/idp.js';
import { DATABASE_URL, postgresAdmin } from '../../support/postgres.js';
import { freePort, startPrivateRedis, type PrivateRedis } from '../../support/redis-server.js';
import { startTcpProxy } from '../../support/tcp-proxy.js';
import { closedLater, closeVerifiers } from '../../support/verifier-for.js';
import { waitFor } from '../../support/wait-for.js';

interface Line {
  level: 'warn' | 'error' | 'debug';
  message: string;
  details: VerifierLogDetails;
}

/** Every line any logger of this file was given: none may hold a token or a secret (checked last). */
const everyLine: Line[] = [];
/** Tokens and secrets this file used. */
const sensitive = new Set<string>();
const secret = <T extends string>(value: T): T => {
  sensitive.add(value);
  return value;
};

/**
 * A logger that records its lines. A class instance, as a logging library's logger is: its other
 * members (`lines`, `of`) are not taken for misspelt options (an object literal's would be).
 */
class Recorder implements VerifierLogger {
  readonly lines: Line[] = [];
  warn(message: string, details: VerifierLogDetails): void {
    this.record('warn', message, details);
  }
  error(message: string, details: VerifierLogDetails): void {
    this.record('error', message, details);
  }
  debug(message: string, details: VerifierLogDetails): void {
    this.record('debug', message, details);
  }
  of(level: Line['level']): Line[] {
    return this.lines.filter((line) => line.level === level);
  }
  private record(level: Line['level'], message: string, details: VerifierLogDetails): void {
    const line = { level, message, details };
    this.lines.push(line);
    everyLine.push(line);
  }
}
const recordingLogger = () => new Recorder();

let idp: EmbeddedIdp;
const cleanups: Array<() => unknown> = [];
beforeAll(async () => {
  idp = await startIdp();
}, 30_000);
afterEach(async () => {
  await closeVerifiers();
  await closeFakeIdps();
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
afterAll(async () => {
  await idp.close();
  // The lines themselves are checked here, against everything secret this file used.
  expect(everyLine.length).toBeGreaterThan(0);
  for (const line of everyLine) {
    for (const value of sensitive) expect(line.message).not.toContain(value);
    expect(JSON.stringify(line.details)).not.toMatch(/eyJ/); // no JWT in the fields either
  }
});

const make = (options: VerifierOptions | MultiIssuerOptions) => closedLater(createVerifier(options as VerifierOptions)); // either kind; only the options differ
const attempt = (promise: Promise<unknown>) =>
  promise.then(
    () => 'accepted',
    (error: { reason?: string }) => error.reason ?? 'error',
  );
const token = async (scope = 'notes:read') => secret(await idp.issueAccessToken({ scope }));

describe('an issuer that differs from the metadata (the trailing slash)', () => {
  it('is one error line for a flood of requests, saying what to fix; nothing more once fixed', async () => {
    const clock = testClock();
    const logger = recordingLogger();
    let announced = ''; // the IdP's metadata `issuer`, as a stub serves it: first with a trailing slash, then right
    const stub = await startStubServer((req, res) =>
      req.url === '/.well-known/openid-configuration'
        ? sendJson(res, 200, { issuer: announced, jwks_uri: `${idp.issuer}/jwks` })
        : sendJson(res, 404, {}),
    );
    cleanups.push(() => stub.close());
    announced = `${stub.url}/`;
    const verifier = make({ issuer: stub.url, audience: idp.audience, clock, logger });
    const signed = secret(await signToken(standardClaims(idp, { iss: stub.url }, clock()), idp.keys[0]!));
    for (let i = 0; i < 20; i++) {
      expect(await attempt(verifier.verify(signed))).toBe('misconfigured');
      clock.advance(5_000); // past the discovery backoff now and then: it fails again, the same way
    }
    expect(stub.requests.length).toBeGreaterThan(2);
    expect(logger.of('error')).toEqual([
      {
        level: 'error',
        message: expect.stringMatching(
          /^revocable-jwt: metadata at .* is for issuer ".*\/", not the configured ".*"; fix `issuer` \(it must match exactly, trailing slash included\); tokens are refused with 500 until this is fixed$/,
        ),
        details: { kind: 'misconfigured', issuer: stub.url, source: 'keys' },
      },
    ]);
    expect(logger.of('warn')).toEqual([]);

    // Fixed: accepted, and nothing more is said at warn or error (the keys fetched: a debug line).
    announced = stub.url;
    clock.advance(60_000);
    expect(await attempt(verifier.verify(signed))).toBe('accepted');
    expect(logger.lines.filter((line) => line.details.kind !== 'store_resynced').map((line) => line.level)).toEqual([
      'error',
      'debug', // the keys fetched
    ]);
    expect(verifier.stats().misconfigured).toBeUndefined();
  });

  it('by default: console.warn once per problem, nothing else; `logger: false` silences it', async () => {
    const warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
    cleanups.push(() => warn.mockRestore());
    const clock = testClock();
    const wrong = make({ issuer: `${idp.issuer}/`, audience: idp.audience, clock });
    const signed = await token();
    for (let i = 0; i < 25; i++) {
      await attempt(wrong.verify(signed));
      clock.advance(3_000);
    }
    expect(warn).toHaveBeenCalledTimes(1);
    expect(warn.mock.calls[0]).toEqual([expect.stringMatching(/trailing slash included/)]);
    // A working verifier is silent (debug lines go nowhere by default).
    const right = make({ issuer: idp.issuer, audience: idp.audience });
    expect(await attempt(right.verify(signed))).toBe('accepted');
    const silent = make({ issuer: `${idp.issuer}/`, audience: idp.audience, logger: false });
    expect(await attempt(silent.verify(signed))).toBe('misconfigured');
    expect(warn).toHaveBeenCalledTimes(1);
  });

  it('a throwing logger never changes an answer', async () => {
    const broken: VerifierLogger = {
      error: () => {
        throw new Error('the log is full');
      },
    };
    const verifier = make({ issuer: `${idp.issuer}/`, audience: idp.audience, logger: broken });
    expect(await attempt(verifier.verify(await token()))).toBe('misconfigured');
    const right = make({ issuer: idp.issuer, audience: idp.audience, logger: broken });
    expect(await attempt(right.verify(await token()))).toBe('accepted');
  });
});

describe('the revocation endpoint rejecting our client', () => {
  it('wrong secret (oidc-provider: 401 invalid_client): one error line naming the options, none with the secret', async () => {
    const logger = recordingLogger();
    const wrongSecret = secret('a-wrong-secret-that-must-never-be-logged');
    const verifier = make({
      issuer: idp.issuer,
      audience: idp.audience,
      revocation: { clientId: idp.client.clientId, clientSecret: wrongSecret },
      logger,
    });
    for (let i = 0; i < 5; i++) {
      const refresh = secret(await idp.issueRefreshToken());
      expect(await verifier.revoke(refresh)).toMatchObject({ idp: 'rejected' });
    }
    expect(logger.of('error')).toEqual([
      {
        level: 'error',
        message:
          'revocable-jwt: the revocation endpoint rejected our client (401 invalid_client): revocations are not ' +
          'delivered to the IdP; check `revocation.clientId`, `revocation.clientSecret` and `revocation.authMethod` ' +
          `(now client_secret_basic) (issuer ${idp.issuer}); the IdP is not told of revocations until this is fixed ` +
          '(the local revocation still applies)',
        details: { kind: 'misconfigured', issuer: idp.issuer, source: 'revocation' },
      },
    ]);
    expect(verifier.stats().misconfigured).toMatch(/rejected our client \(401 invalid_client\)/);
  });

  it('a client without a secret where the IdP requires one says so', async () => {
    const logger = recordingLogger();
    const verifier = make({
      issuer: idp.issuer,
      audience: idp.audience,
      revocation: { clientId: idp.client.clientId, authMethod: 'none' },
      logger,
    });
    expect(await verifier.revoke(secret(await idp.issueRefreshToken()))).toMatchObject({ idp: 'rejected' });
    expect(logger.of('error').map((line) => line.message)).toEqual([
      expect.stringContaining(
        "the client sends no secret (`revocation.authMethod` is 'none'): if the IdP requires client authentication, " +
          'set `revocation.clientId` and `revocation.clientSecret`',
      ),
    ]);
  });

  it('is over once the IdP takes our client again, and told again when it comes back', async () => {
    let status = 401;
    const endpoint = await startStubServer((_req, res) => {
      if (status === 200) res.writeHead(200).end();
      else sendJson(res, status, { error: 'invalid_client' });
    });
    cleanups.push(() => endpoint.close());
    const logger = recordingLogger();
    const verifier = make({
      issuer: idp.issuer,
      audience: idp.audience,
      revocation: { clientId: 'api', clientSecret: secret('s3cret-value-xyz'), endpoint: `${endpoint.url}/revoke` },
      logger,
    });
    const revokeSome = async (n: number) => {
      for (let i = 0; i < n; i++) await verifier.revoke(secret(`opaque-refresh-${status}-${i}-${Math.random()}`));
    };
    await revokeSome(3);
    status = 200;
    await revokeSome(3);
    expect(verifier.stats().misconfigured).toBeUndefined();
    status = 401;
    await revokeSome(3);
    expect(logger.of('error')).toHaveLength(2);
    expect(endpoint.requests.some((r) => r.body.includes('opaque-refresh'))).toBe(true); // tokens were sent…
  });
});

describe('the JWKS', () => {
  let key: FakeIdpKey;
  beforeAll(async () => {
    key = await fakeIdpKey('ES256', 'ec-1');
  });

  /** A fake IdP whose JWKS route the test swaps. */
  async function fakeIdp(keys: Route) {
    const fake = await startFakeIdp((base) => ({ routes: discoveryRoutes(base, keys) }));
    return fake;
  }

  it('unreachable: one warn line naming the URL, for a flood; over once keys are fetched; told again after', async () => {
    const clock = testClock();
    const logger = recordingLogger();
    const fake = await fakeIdp(serveStatus(503));
    const verifier = make({ issuer: fake.issuer, audience: fake.audience, clock, logger });
    const sign = async () => secret(await signAccessToken(key, { alg: 'ES256', kid: 'ec-1' }, fake.issuer, clock));
    for (let i = 0; i < 20; i++) {
      expect(await attempt(verifier.verify(await sign()))).toBe('idp_unavailable');
      clock.advance(500);
    }
    expect(logger.of('warn')).toEqual([
      {
        level: 'warn',
        message:
          `revocable-jwt: the signing keys of the identity provider cannot be fetched (issuer ${fake.issuer}: ` +
          `${fake.base}/keys answered 503): tokens that need it are answered 503 until it answers; check that this ` +
          'host reaches the IdP, and the URL configured or discovered for it (`issuer`, `jwksUri`, ' +
          '`introspection.endpoint`)',
        details: { kind: 'idp_unavailable', issuer: fake.issuer },
      },
    ]);

    fake.routes['/keys'] = serveKeys(() => [key.jwk]);
    clock.advance(60_000);
    expect(await attempt(verifier.verify(await sign()))).toBe('accepted');
    expect(logger.of('debug').filter((line) => line.details.kind === 'jwks_refreshed')).toEqual([
      {
        level: 'debug',
        message: `revocable-jwt: fetched the JWKS of issuer ${fake.issuer}: 1 key(s), 1 usable; the keys are available again`,
        details: { kind: 'jwks_refreshed', issuer: fake.issuer },
      },
    ]);

    // Down again: a token with a kid we do not have needs a fetch, which fails: told again.
    fake.routes['/keys'] = serveStatus(503);
    clock.advance(60_000);
    const rotated = secret(await signAccessToken(key, { alg: 'ES256', kid: 'ec-2' }, fake.issuer, clock));
    for (let i = 0; i < 5; i++) await attempt(verifier.verify(rotated));
    expect(logger.of('warn')).toHaveLength(2);
  });

  it('unreachable with no end in sight: told again after a quiet spell, not before', async () => {
    const clock = testClock();
    const logger = recordingLogger();
    const port = await freePort(); // nothing listens there
    const verifier = make({
      issuer: idp.issuer,
      audience: idp.audience,
      jwksUri: `http://127.0.0.1:${port}/jwks`,
      clock,
      logger,
    });
    const signed = await token();
    await attempt(verifier.verify(signed));
    clock.advance(QUIET_MS / 2);
    await attempt(verifier.verify(signed));
    expect(logger.of('warn')).toHaveLength(1);
    expect(logger.of('warn')[0]!.message).toContain(`could not reach http://127.0.0.1:${port}/jwks`);
    clock.advance(QUIET_MS / 2 + 1_000);
    await attempt(verifier.verify(signed)); // seen again within the quiet spell: it never went quiet
    expect(logger.of('warn')).toHaveLength(1);
    clock.advance(QUIET_MS + 1_000);
    await attempt(verifier.verify(signed));
    expect(logger.of('warn')).toHaveLength(2);
  });

  it('with no key usable with `algorithms`: one warn line naming them; over once usable keys come', async () => {
    const clock = testClock();
    const logger = recordingLogger();
    let published = [key.jwk]; // an EC key, for a verifier that allows RS256 only
    const fake = await fakeIdp(serveKeys(() => published));
    const verifier = make({ issuer: fake.issuer, audience: fake.audience, algorithms: ['RS256'], clock, logger });
    const rsa = await fakeIdpKey('RS256', 'rsa-1');
    const sign = async (kid: string) => secret(await signAccessToken(rsa, { alg: 'RS256', kid }, fake.issuer, clock));
    for (let i = 0; i < 10; i++) {
      expect(await attempt(verifier.verify(await sign(`rsa-${i}`)))).toBe('key_not_found');
      clock.advance(31_000); // past the cooldown: every unknown kid fetches the JWKS again
    }
    expect(logger.of('warn')).toEqual([
      {
        level: 'warn',
        message:
          `revocable-jwt: the JWKS of issuer ${fake.issuer} has 1 key(s), none usable with \`algorithms\` (RS256): ` +
          'every token is refused; check `algorithms` against the keys the IdP publishes (their alg, kty and crv), ' +
          'and `jwksUri`',
        details: { kind: 'jwks_unusable', issuer: fake.issuer },
      },
    ]);
    published = [];
    clock.advance(31_000);
    await attempt(verifier.verify(await sign('rsa-x')));
    expect(logger.of('warn')).toHaveLength(1); // still the same problem (now no keys at all)
    published = [rsa.jwk];
    clock.advance(31_000);
    expect(await attempt(verifier.verify(await sign('rsa-1')))).toBe('accepted');
    expect(logger.of('debug').at(-1)!.message).toMatch(/1 key\(s\), 1 usable; the keys are available again$/);
  });
});

describe('introspection', () => {
  it('more unknown tokens than the budget: one warn line naming the option, not an IdP outage', async () => {
    const endpoint = await startStubServer((_req, res) => sendJson(res, 200, { active: false }));
    cleanups.push(() => endpoint.close());
    const logger = recordingLogger();
    const clientSecret = secret('introspection-client-secret-xyz');
    const verifier = make({
      issuer: idp.issuer,
      audience: idp.audience,
      introspection: { clientId: 'api', clientSecret, endpoint: `${endpoint.url}/introspect`, newTokenBudget: 2 },
      logger,
    });
    const answers = [];
    for (let i = 0; i < 10; i++)
      answers.push(await attempt(verifier.verify(secret(`made-up-opaque-${i}-${Date.now()}`))));
    expect(answers.filter((a) => a === 'idp_unavailable').length).toBeGreaterThan(0);
    expect(logger.of('warn')).toEqual([
      {
        level: 'warn',
        message:
          'revocable-jwt: more unknown tokens to introspect than `introspection.newTokenBudget` allows ' +
          `(issuer ${idp.issuer}): the surplus is answered 503; if they come from real clients, raise the budget`,
        details: { kind: 'idp_unavailable', issuer: idp.issuer },
      },
    ]);
  });

  it('an endpoint refusing our client (401): one error line, without the secret', async () => {
    const endpoint = await startStubServer((_req, res) => sendJson(res, 401, { error: 'invalid_client' }));
    cleanups.push(() => endpoint.close());
    const logger = recordingLogger();
    const verifier = make({
      issuer: idp.issuer,
      audience: idp.audience,
      introspection: {
        clientId: 'api',
        clientSecret: secret('wrong-introspection-secret'),
        endpoint: `${endpoint.url}/x`,
      },
      logger,
    });
    for (let i = 0; i < 5; i++) await attempt(verifier.verify(secret(`opaque-${i}-${Date.now()}`)));
    expect(logger.of('error').map((line) => [line.details.source, line.message])).toEqual([
      [
        'introspection',
        'revocable-jwt: the introspection endpoint refused our client (401); check `introspection.clientId`, ' +
          `\`clientSecret\` and \`authMethod\` (issuer ${idp.issuer}); tokens that need introspection are refused ` +
          'with 500 until this is fixed',
      ],
    ]);
  });
});

describe('a status list outside the allowed origins', () => {
  it('is one error line, whatever the number of tokens naming it', async () => {
    const logger = recordingLogger();
    const verifier = make({ issuer: idp.issuer, audience: idp.audience, logger });
    for (let i = 0; i < 5; i++) {
      const claims = standardClaims(idp, {
        status: { status_list: { idx: i, uri: `https://status.elsewhere.example/lists/${i}` } },
      });
      expect(await attempt(verifier.verify(secret(await signToken(claims, idp.keys[0]!))))).toBe('misconfigured');
    }
    expect(logger.of('error')).toEqual([
      {
        level: 'error',
        message: expect.stringMatching(
          /status list at https:\/\/status\.elsewhere\.example.*add it to `statusList\.allowedOrigins` \(issuer .*\); tokens naming such a status list are refused with 500$/,
        ),
        details: { kind: 'misconfigured', issuer: idp.issuer, source: 'status-list' },
      },
    ]);
  });
});

describe('a request answered 500 for a cause no misconfigured line told', () => {
  it('a configured key that cannot be imported: one error line for a flood', async () => {
    const logger = recordingLogger();
    const key = await fakeIdpKey('ES256', 'broken-1');
    const verifier = make({
      issuer: 'https://idp.example.com/',
      audience: 'api',
      jwks: { keys: [{ ...key.jwk, x: 'A'.repeat(43), y: 'A'.repeat(43) }] },
      logger,
    });
    for (let i = 0; i < 10; i++) {
      const signed = secret(
        await signAccessToken(key, { alg: 'ES256', kid: 'broken-1' }, 'https://idp.example.com/', Date.now, {}, 'api'),
      );
      expect(await attempt(verifier.verify(signed))).toBe('misconfigured');
    }
    expect(logger.of('error')).toEqual([
      {
        level: 'error',
        message:
          'revocable-jwt: a key configured in `jwks` cannot be imported; check its members (issuer ' +
          'https://idp.example.com/): a request was answered 500 (reason misconfigured)',
        details: { kind: 'server_error', issuer: 'https://idp.example.com/' },
      },
    ]);
  });
});

describe('the revocation store', () => {
  let redis: PrivateRedis;
  beforeAll(async () => {
    redis = await startPrivateRedis();
  }, 20_000);
  afterAll(() => redis.stop());

  it('Redis never reachable at start: one warn line, whatever the requests', async () => {
    const logger = recordingLogger();
    const port = await freePort(); // nothing listens there
    const store = createRedisStore({ url: `redis://127.0.0.1:${port}`, syncTimeout: 0.2 });
    cleanups.push(() => store.close());
    const verifier = make({ issuer: idp.issuer, audience: idp.audience, store, logger });
    const signed = await token();
    for (let i = 0; i < 5; i++) expect(await attempt(verifier.verify(signed))).toBe('store_unavailable');
    await waitFor(() => logger.of('warn').length > 0, 'the store warning');
    expect(logger.of('warn')).toEqual([
      {
        level: 'warn',
        message: expect.stringMatching(
          /^revocable-jwt: the revocation store has not connected since .*Z: verifications wait for it \(syncTimeout\) and then answer 503, since no token can be shown not to be revoked; check that the store \(Redis, PostgreSQL\) runs and is reachable from this host, and its URL or client \(issuer .*\)$/,
        ),
        details: { kind: 'store_unavailable', issuer: idp.issuer },
      },
    ]);
  });

  it('Redis lost after a sync: told once per outage, and again after it came back and went again', async () => {
    const logger = recordingLogger();
    const store = createRedisStore({ url: redis.url, syncTimeout: 1, maxStaleness: 30 });
    cleanups.push(() => store.close());
    const verifier = make({ issuer: idp.issuer, audience: idp.audience, store, logger });
    const signed = await token();
    await waitFor(() => verifier.stats().revocation.store.synced, 'the first sync');
    const synced = () => logger.of('debug').filter((line) => line.details.kind === 'store_resynced');
    expect(synced().map((line) => line.message)).toEqual([
      expect.stringMatching(/^revocable-jwt: the revocation store synced/),
    ]);

    for (let outage = 1; outage <= 2; outage++) {
      await redis.stop();
      await waitFor(() => logger.of('warn').length === outage, `outage ${outage} to be told`);
      for (let i = 0; i < 5; i++) await attempt(verifier.verify(signed)); // within maxStaleness: still served
      await redis.start();
      await waitFor(() => synced().length === outage + 1, `the store back after outage ${outage}`, 15_000);
    }
    expect(logger.of('warn').map((line) => line.message)).toEqual([
      expect.stringMatching(
        /^revocable-jwt: lost the revocation store at .*Z: tokens are refused with 503 once it has been gone 30 s \(maxStaleness\); check/,
      ),
      expect.stringMatching(/^revocable-jwt: lost the revocation store at/),
    ]);
    expect(synced().at(-1)!.message).toMatch(/^revocable-jwt: the revocation store is reachable again and synced/);
  }, 40_000);

  it('PostgreSQL never reachable at start: one warn line; then it comes and the verifier serves', async () => {
    const admin = postgresAdmin();
    cleanups.push(() => admin.cleanUp());
    const database = new URL(DATABASE_URL);
    const link = await startTcpProxy(Number(database.port || 5432), database.hostname);
    cleanups.push(() => link.close());
    link.cut();
    const url = new URL(DATABASE_URL);
    url.port = String(link.port);
    const store = createPostgresStore({
      connectionString: url.toString(),
      schema: admin.newSchema(),
      purgeInterval: 0,
      commandTimeout: 0.3,
      syncTimeout: 0.3,
    });
    cleanups.push(() => store.close());
    const logger = recordingLogger();
    const verifier = make({ issuer: idp.issuer, audience: idp.audience, store, logger });
    const signed = await token();
    for (let i = 0; i < 3; i++) expect(await attempt(verifier.verify(signed))).toBe('store_unavailable');
    await waitFor(() => logger.of('warn').length > 0, 'the store warning');
    expect(logger.of('warn').map((line) => line.message)).toEqual([
      expect.stringMatching(/^revocable-jwt: the revocation store has not connected since/),
    ]);
    link.restore();
    await waitFor(async () => (await attempt(verifier.verify(signed))) === 'accepted', 'service once synced', 10_000);
    expect(logger.lines.filter((line) => line.details.kind === 'store_resynced').map((line) => line.message)).toEqual([
      expect.stringMatching(/^revocable-jwt: the revocation store is reachable again and synced/),
    ]);
    expect(logger.of('warn')).toHaveLength(1);
  }, 20_000);
});

describe('several issuers', () => {
  it('a store the issuers share is told once to the logger they share; an entry with its own logger is told too', async () => {
    const logger = recordingLogger();
    const own = recordingLogger();
    const port = await freePort(); // nothing listens there
    const store = createRedisStore({ url: `redis://127.0.0.1:${port}`, syncTimeout: 0.2 });
    cleanups.push(() => store.close());
    make({
      logger,
      store,
      issuers: [
        { issuer: 'https://one.example.com/', audience: 'api' },
        { issuer: 'https://two.example.com/', audience: 'api' },
        { issuer: 'https://three.example.com/', audience: 'api', logger: own },
      ],
    });
    const storeLines = (of: typeof logger) => of.lines.filter((line) => line.details.kind === 'store_unavailable');
    // Every mirror hears the store's `disconnected` at once (and its own startup timer later, told already).
    await waitFor(() => storeLines(logger).length > 0 && storeLines(own).length > 0, 'the store lines');
    expect(storeLines(logger)).toEqual([
      expect.objectContaining({ details: { kind: 'store_unavailable', issuer: 'https://one.example.com/' } }),
    ]);
    expect(storeLines(own)).toEqual([
      expect.objectContaining({ details: { kind: 'store_unavailable', issuer: 'https://three.example.com/' } }),
    ]);
  });

  it('each issuer’s misconfiguration is told once, naming it; an entry with its own logger keeps its lines', async () => {
    const logger = recordingLogger();
    const own = recordingLogger();
    const other = await startFakeIdp((base) => ({
      routes: { [OIDC_DISCOVERY]: serveJson({ issuer: `${base}/`, jwks_uri: `${base}/keys` }) },
    }));
    const verifier = make({
      logger,
      issuers: [
        { issuer: `${idp.issuer}/`, audience: idp.audience },
        { issuer: other.issuer, audience: other.audience, logger: own },
      ],
    });
    const signedFor = async (iss: string) => secret(await signToken(standardClaims(idp, { iss }), idp.keys[0]!));
    for (let i = 0; i < 5; i++) {
      expect(await attempt(verifier.verify(await signedFor(`${idp.issuer}/`)))).toBe('misconfigured');
      expect(await attempt(verifier.verify(await signedFor(other.issuer)))).toBe('misconfigured');
    }
    expect(logger.of('error').map((line) => line.details)).toEqual([
      { kind: 'misconfigured', issuer: `${idp.issuer}/`, source: 'keys' },
    ]);
    expect(own.of('error').map((line) => line.details)).toEqual([
      { kind: 'misconfigured', issuer: other.issuer, source: 'keys' },
    ]);
  });
});

describe('several issuers, an entry saying `logger: undefined`', () => {
  it('keeps the top-level `logger: false` (no console line) and the shared log', async () => {
    const warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
    cleanups.push(() => warn.mockRestore());
    const entry = { issuer: `${idp.issuer}/`, audience: idp.audience, logger: undefined };
    const silent = make({ logger: false, issuers: [entry] });
    const signed = secret(await signToken(standardClaims(idp, { iss: `${idp.issuer}/` }), idp.keys[0]!));
    expect(await attempt(silent.verify(signed))).toBe('misconfigured');
    expect(warn).not.toHaveBeenCalled();

    const logger = recordingLogger();
    const shared = make({ logger, issuers: [entry] });
    expect(await attempt(shared.verify(signed))).toBe('misconfigured');
    expect(logger.of('error').map((line) => line.details)).toEqual([
      { kind: 'misconfigured', issuer: `${idp.issuer}/`, source: 'keys' },
    ]);
    expect(warn).not.toHaveBeenCalled();
  });
});

describe('the option is checked at construction', () => {
  const base = { issuer: 'https://idp.example.com/', audience: 'api' };
  it.each<[string, unknown, RegExp]>([
    [
      'a string',
      'console',
      /^revocable-jwt: `logger` must be \{ warn, error, debug \} \(each optional, functions\), or false to log nothing$/,
    ],
    ['true', true, /`logger` must be \{ warn, error, debug \}/],
    ['an array', [() => undefined], /`logger` must be \{ warn, error, debug \}/],
    ['a function', () => undefined, /`logger` must be \{ warn, error, debug \}/],
    [
      'a misspelt member',
      { eror: () => undefined },
      /^revocable-jwt: unknown option `logger.eror` in createVerifier; did you mean `logger.error`\?$/,
    ],
    [
      'another member',
      { warning: () => undefined },
      /unknown option `logger.warning` in createVerifier; valid options: logger.warn, logger.error, logger.debug$/,
    ],
    [
      'a member that is no function',
      { warn: 'console.warn' },
      /^revocable-jwt: `logger.warn` must be a function \(message, details\) => void, or left out$/,
    ],
    ['null for a member', { error: null }, /`logger.error` must be a function/],
    ['an object with no logging method', new (class Sink {})(), /`logger` has none of warn, error, debug/],
  ])('refuses %s', (_name, logger, message) => {
    expect(() => createVerifier({ ...base, logger: logger as never })).toThrow(message);
  });

  it('names the entry of a multi-issuer verifier', () => {
    expect(() =>
      createVerifier({ issuers: [base, { ...base, issuer: 'https://b.example.com/', logger: { warn: 1 } as never }] }),
    ).toThrow(/`issuers\[1\]\.logger\.warn` must be a function/);
    expect(() => createVerifier({ issuers: [base], logger: 'x' as never })).toThrow(/`logger` must be/);
  });

  it('takes a Console, a class-based logger, a partial object, an empty one, false', async () => {
    class Pino {
      lines: string[] = [];
      level = 'info';
      warn(message: string) {
        this.lines.push(message); // needs its `this`: called as a method
      }
      info() {}
    }
    const pino = new Pino();
    // A Console, as `console` is, writing nowhere (the memory store's sync would print a debug line).
    const quietConsole = new Console(new Writable({ write: (_chunk, _encoding, done) => done() }));
    for (const logger of [quietConsole, pino, { error: () => undefined }, {}, false] as const) {
      const verifier = make({ ...base, logger, fetch: () => Promise.reject(new Error('no I/O at construction')) });
      expect(verifier.issuer).toBe(base.issuer);
    }
    const fake = await startFakeIdp((b) => ({ routes: discoveryRoutes(b, serveStatus(503)) }));
    const verifier = make({ issuer: fake.issuer, audience: fake.audience, logger: pino });
    await attempt(
      verifier.verify(
        secret(
          await signAccessToken(await fakeIdpKey('ES256', 'k'), { alg: 'ES256', kid: 'k' }, fake.issuer, Date.now),
        ),
      ),
    );
    expect(pino.lines).toEqual([
      expect.stringMatching(/^revocable-jwt: the signing keys of the identity provider cannot be fetched/),
    ]);
  });
});
