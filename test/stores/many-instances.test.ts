/**
 * Many API instances, each its own process, sharing one Redis store: the reason the Redis store
 * exists. Real IdP (oidc-provider) for tokens and keys, real Redis (REDIS_URL, or a private
 * redis-server this test kills and restarts), a TCP proxy to take one instance off Redis.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { startApiProcess, type ApiProcess } from '../support/api-processes.js';
import { sendJson, startStubServer, type StubServer } from '../support/http.js';
import { signToken, standardClaims, startIdp, type EmbeddedIdp } from '../support/idp.js';
import { REDIS_URL, startPrivateRedis, type PrivateRedis } from '../support/redis-server.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';
import { waitFor } from '../support/wait-for.js';

let idp: EmbeddedIdp;
const processes: ApiProcess[] = [];
const cleanups: Array<() => Promise<void>> = [];
const prefixes: string[] = [];

function baseEnv(overrides: Record<string, string> = {}): Record<string, string> {
  return {
    ISSUER: idp.issuer,
    AUDIENCE: idp.audience,
    REDIS_URL,
    CLIENT_ID: idp.client.clientId,
    CLIENT_SECRET: idp.client.clientSecret,
    ...overrides,
  };
}

async function instance(env: Record<string, string>): Promise<ApiProcess> {
  const api = await startApiProcess(env);
  processes.push(api);
  return api;
}

function newPrefix(): string {
  const prefix = `rjwt-multi:${randomUUID()}:`;
  prefixes.push(prefix);
  return prefix;
}

async function redisViaProxy(): Promise<TcpProxy> {
  const proxy = await startTcpProxy(Number(new URL(REDIS_URL).port || 6379), new URL(REDIS_URL).hostname);
  cleanups.push(() => proxy.close());
  return proxy;
}

beforeAll(async () => {
  idp = await startIdp();
});

afterAll(async () => {
  await Promise.all(processes.map((p) => p.stop()));
  for (const cleanup of cleanups) await cleanup();
  const admin = new Redis(REDIS_URL);
  for (const prefix of prefixes) {
    const keys = await admin.keys(`${prefix}*`);
    if (keys.length) await admin.del(...keys);
  }
  admin.disconnect();
  await idp.close();
});

describe('instances sharing the Redis store', () => {
  let a: ApiProcess;
  let b: ApiProcess;

  beforeAll(async () => {
    const prefix = newPrefix();
    [a, b] = await Promise.all([instance(baseEnv({ KEY_PREFIX: prefix })), instance(baseEnv({ KEY_PREFIX: prefix }))]);
  }, 60_000);

  it('a logout through A is refused by B, which had the token cached', async () => {
    const token = await idp.issueAccessToken();
    expect((await a.get('/notes', token)).status).toBe(200);
    expect((await b.get('/notes', token)).status).toBe(200);
    expect((await a.post('/logout', undefined, token)).status).toBe(200);
    const refused = await waitFor(
      async () => {
        const res = await b.get('/notes', token);
        return res.status === 401 ? res : undefined;
      },
      'B to refuse the token revoked through A',
      2_000,
    );
    expect(refused!.headers.get('www-authenticate')).toContain('The access token has been revoked');
    expect((await a.get('/notes', token)).status).toBe(401);
  });

  it('a subject cutoff through B is refused by A', async () => {
    const token = await idp.issueAccessToken();
    expect((await a.get('/notes', token)).status).toBe(200);
    expect((await b.post('/admin/invalidate-subject', { sub: idp.client.clientId })).status).toBe(200);
    await waitFor(async () => (await a.get('/notes', token)).status === 401, 'A to apply the cutoff made on B', 2_000);
    // (That a token issued after a cutoff still works is tested in-process with an injected clock.)
  });
});

describe('the IdP ends a session (back-channel logout)', () => {
  it("the logout token reaches instance A; instance B refuses the user's token too", async () => {
    const prefix = newPrefix();
    const [a, b] = await Promise.all([
      instance(baseEnv({ KEY_PREFIX: prefix })),
      instance(baseEnv({ KEY_PREFIX: prefix })),
    ]);
    await idp.setBackchannelLogoutUri(`${a.url}/backchannel-logout`);
    const alice = await signToken(
      standardClaims(idp, { sub: 'alice', iat: Math.floor(Date.now() / 1000) - 5 }),
      idp.keys[0]!,
    );
    expect((await b.get('/notes', alice)).status).toBe(200);
    await idp.backchannelLogout('alice'); // oidc-provider signs the logout token and POSTs it to A
    await waitFor(
      async () => (await b.get('/notes', alice)).status === 401,
      'B to refuse alice after the IdP logged her out',
      2_000,
    );
    expect((await a.get('/notes', alice)).status).toBe(401);
    const bob = await signToken(standardClaims(idp, { sub: 'bob' }), idp.keys[0]!);
    expect((await b.get('/notes', bob)).status).toBe(200);
  }, 30_000);
});

describe('an instance cut off from Redis', () => {
  it('misses the broadcast while disconnected, resyncs on reconnect and refuses the token', async () => {
    const prefix = newPrefix();
    const proxy = await redisViaProxy();
    const [a, b] = await Promise.all([
      instance(baseEnv({ KEY_PREFIX: prefix })),
      instance(baseEnv({ KEY_PREFIX: prefix, REDIS_URL: `redis://127.0.0.1:${proxy.port}`, MAX_STALENESS: '60' })),
    ]);
    const token = await idp.issueAccessToken();
    expect((await b.get('/notes', token)).status).toBe(200);
    const resyncsBefore = (await b.stats()).revocation.store.resyncs;

    proxy.cut();
    expect((await a.post('/logout', undefined, token)).status).toBe(200);
    // B cannot know yet; within its staleness bound it keeps serving from its mirror.
    expect((await b.get('/notes', token)).status).toBe(200);

    proxy.restore();
    await waitFor(async () => (await b.get('/notes', token)).status === 401, 'B to resync after reconnecting', 10_000);
    expect((await b.stats()).revocation.store.resyncs).toBeGreaterThan(resyncsBefore);
  }, 30_000);

  it('fail-closed (default): past maxStaleness every token gets 503, then service resumes on reconnect', async () => {
    const proxy = await redisViaProxy();
    const b = await instance(
      baseEnv({ KEY_PREFIX: newPrefix(), REDIS_URL: `redis://127.0.0.1:${proxy.port}`, MAX_STALENESS: '1' }),
    );
    const token = await idp.issueAccessToken();
    expect((await b.get('/notes', token)).status).toBe(200);
    proxy.cut();
    await waitFor(
      async () => typeof (await b.stats()).revocation.store.unavailableSince === 'number',
      'B to notice the outage',
    );
    await b.post('/admin/clock', { advance: 2_000 });
    const refused = await b.get('/notes', token);
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(refused.body).toMatchObject({ error: 'temporarily_unavailable' });
    proxy.restore();
    await waitFor(async () => (await b.get('/notes', token)).status === 200, 'B to serve again after resync', 10_000);
  }, 30_000);

  it('fail-open: past maxStaleness tokens are still served from the stale mirror', async () => {
    const proxy = await redisViaProxy();
    const b = await instance(
      baseEnv({
        KEY_PREFIX: newPrefix(),
        REDIS_URL: `redis://127.0.0.1:${proxy.port}`,
        MAX_STALENESS: '1',
        ON_STORE_UNAVAILABLE: 'fail-open',
      }),
    );
    const token = await idp.issueAccessToken();
    await waitFor(async () => (await b.stats()).revocation.store.synced, 'B to sync with Redis once');
    proxy.cut();
    await waitFor(
      async () => typeof (await b.stats()).revocation.store.unavailableSince === 'number',
      'B to notice the outage',
    );
    await b.post('/admin/clock', { advance: 5_000 });
    expect((await b.get('/notes', token)).status).toBe(200);
    proxy.restore();
  }, 30_000);
});

describe('Redis restarted empty (no persistence)', () => {
  let redis: PrivateRedis;
  beforeAll(async () => {
    redis = await startPrivateRedis();
    cleanups.push(() => redis.stop());
  });

  it('instances heal the store from their mirrors: a new instance still refuses the revoked token', async () => {
    const prefix = newPrefix();
    const env = baseEnv({ KEY_PREFIX: prefix, REDIS_URL: redis.url });
    const [a, b] = await Promise.all([instance(env), instance(env)]);
    const token = await idp.issueAccessToken();
    expect((await a.post('/logout', undefined, token)).status).toBe(200);
    await waitFor(async () => (await b.get('/notes', token)).status === 401, 'B to refuse');
    const resyncs = (await a.stats()).revocation.store.resyncs;

    await redis.stop();
    await redis.start(); // empty: the denylist entry is gone from Redis
    await waitFor(
      async () => (await a.stats()).revocation.store.resyncs > resyncs,
      'A to reconnect and resync',
      15_000,
    );
    expect((await a.get('/notes', token)).status).toBe(401);
    expect((await b.get('/notes', token)).status).toBe(401);

    const c = await instance(env); // knows nothing but what is in Redis now
    expect((await c.get('/notes', token)).status).toBe(401);
  }, 60_000);
});

describe('the IdP outbox in Redis', () => {
  let stub: StubServer;
  let idpAnswer: 'down' | 'up' = 'down';
  beforeAll(async () => {
    stub = await startStubServer((_req, res) => {
      if (idpAnswer === 'down') sendJson(res, 503, { error: 'temporarily_unavailable' }, { 'retry-after': '1' });
      else res.writeHead(200).end();
    });
    cleanups.push(() => stub.close());
  });

  it('survives the instance that queued it, and exactly one instance delivers it', async () => {
    const env = baseEnv({ KEY_PREFIX: newPrefix(), REVOCATION_ENDPOINT: `${stub.url}/revoke` });
    const [a, b] = await Promise.all([instance(env), instance(env)]);
    const refreshToken = await idp.issueRefreshToken();
    const logout = await a.post('/logout', { token: refreshToken, token_type_hint: 'refresh_token' });
    expect(logout.status).toBe(503);
    await a.kill(); // crash: the queued revocation must not die with it

    idpAnswer = 'up';
    const a2 = await instance(env);
    const requestsBefore = stub.requests.length;
    await Promise.all([a2.post('/admin/clock', { advance: 60_000 }), b.post('/admin/clock', { advance: 60_000 })]);
    const results = await Promise.all([a2.post('/admin/retry', {}), b.post('/admin/retry', {})]);
    const revoked = results.reduce((sum, r) => sum + (r.body.revoked as number), 0);
    expect(revoked).toBe(1);
    const delivered = stub.requests.slice(requestsBefore);
    expect(delivered).toHaveLength(1);
    expect(new URLSearchParams(delivered[0]!.body).get('token')).toBe(refreshToken);
    expect(new URLSearchParams(delivered[0]!.body).get('token_type_hint')).toBe('refresh_token');
    await b.post('/admin/retry', {}); // refreshes its view of the shared outbox
    expect((await b.stats()).revocation.outbox.pending).toBe(0);
  }, 60_000);
});
