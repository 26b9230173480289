/**
 * The logout, back-channel logout and security event routes when the shared store does not take
 * the revocation: they must answer 503 with Retry-After (the local revocation stands, the write is
 * retried), never a success the other instances do not share. Real faults on a private
 * redis-server: an ACL that refuses the revocation keys while replay claims still work, and OOM.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { SignJWT } from 'jose';
import request from 'supertest';
import {
  backchannelLogoutRoute,
  createRedisStore,
  createVerifier,
  CREDENTIAL_CHANGE,
  SESSION_REVOKED,
  InvalidTokenError,
  revokeRoute,
  securityEventRoute,
  type RevocationStore,
  type Verifier,
} from '../../src/index.js';
import { signToken, standardClaims, startIdp, type EmbeddedIdp } from '../support/idp.js';
import { startPrivateRedis, type PrivateRedis } from '../support/redis-server.js';
import { waitFor } from '../support/wait-for.js';

const AUD = 'https://api.example/receiver';
let idp: EmbeddedIdp;
let redis: PrivateRedis;
let admin: Redis;
let prefix: string;
let a: Verifier;
let b: Verifier;
const cleanups: Array<() => Promise<unknown>> = [];

beforeAll(async () => {
  [idp, redis] = await Promise.all([startIdp(), startPrivateRedis()]);
  admin = new Redis(redis.url);
}, 30_000);

afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  admin.disconnect();
  await redis.stop();
  await idp.close();
});

beforeEach(async () => {
  prefix = `rjwt-routes:${randomUUID()}:`;
  const instance = () => {
    const store: RevocationStore = createRedisStore({ url: redis.url, keyPrefix: prefix });
    const verifier = createVerifier({ issuer: idp.issuer, audience: idp.audience, store });
    cleanups.push(
      () => store.close(),
      () => verifier.close(),
    );
    return verifier;
  };
  [a, b] = [instance(), instance()];
  await waitFor(() => a.stats().revocation.store.synced && b.stats().revocation.store.synced, 'both instances to sync');
});

/** Redis refuses the revocation keys (NOPERM) while replay claims and the outbox still work. */
async function refuseRevocationKeys(on: boolean): Promise<void> {
  if (on) await admin.call('ACL', 'SETUSER', 'default', 'resetkeys', `~${prefix}seen:*`, `~${prefix}{outbox}*`);
  else await admin.call('ACL', 'SETUSER', 'default', 'allkeys');
}

async function refuseAllWrites(on: boolean): Promise<void> {
  await admin.config('SET', 'maxmemory-policy', 'noeviction');
  await admin.config('SET', 'maxmemory', on ? '1' : '0');
}

const userToken = (sub: string) => signToken(standardClaims(idp, { sub }), idp.keys[0]!);

async function refused(verifier: Verifier, token: string): Promise<boolean> {
  return verifier.verify(token).then(
    () => false,
    (error: unknown) => error instanceof InvalidTokenError && error.reason === 'revoked',
  );
}

/** A JWT the IdP signs now (on its real clock, as its access tokens are), with a fresh `jti`. */
function signedByIdp(typ: string, claims: Record<string, unknown>): Promise<string> {
  const key = idp.keys[0]!;
  return new SignJWT({ iss: idp.issuer, iat: Math.floor(Date.now() / 1000), jti: `jti-${randomUUID()}`, ...claims })
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ })
    .sign(key.privateKey);
}

const logoutTokenWith = (claims: Record<string, unknown>) =>
  signedByIdp('logout+jwt', {
    aud: idp.client.clientId,
    events: { 'http://schemas.openid.net/event/backchannel-logout': {} },
    ...claims,
  });
const logoutToken = (sub: string) => logoutTokenWith({ sub });

describe('revokeRoute', () => {
  it('answers 503 + Retry-After until the revocation is in the store, then 200; the other instance refuses the token', async () => {
    const logout = revokeRoute({ verifier: a });
    const token = await idp.issueAccessToken();
    await b.verify(token);
    await refuseRevocationKeys(true);
    try {
      const res = await request(logout).post('/').set('authorization', `Bearer ${token}`);
      expect(res.status).toBe(503);
      expect(res.headers['retry-after']).toMatch(/^[1-9]\d*$/);
      expect(res.body).toMatchObject({ error: 'temporarily_unavailable' });
      expect(res.body.error_description).toMatch(/not confirmed/);
      expect(await refused(a, token)).toBe(true); // the local revocation stands
      expect(await refused(b, token)).toBe(false);
    } finally {
      await refuseRevocationKeys(false);
    }
    await waitFor(() => refused(b, token), 'the retried write to reach B', 10_000);
    expect((await request(logout).post('/').set('authorization', `Bearer ${token}`)).status).toBe(200);
  }, 30_000);
});

describe('backchannelLogoutRoute', () => {
  it("answers 503 + Retry-After while the cutoff is not in the store, also to the IdP's retry of the same logout token; 200 once it is", async () => {
    const route = backchannelLogoutRoute({ verifier: a, clientId: idp.client.clientId });
    const post = (logout: string) => request(route).post('/').type('form').send({ logout_token: logout });
    const carol = await userToken('carol');
    await b.verify(carol);
    const logout = await logoutToken('carol');
    await refuseRevocationKeys(true);
    try {
      const first = await post(logout);
      expect(first.status).toBe(503);
      expect(first.headers['retry-after']).toMatch(/^[1-9]\d*$/);
      expect(first.body).toMatchObject({ error: 'temporarily_unavailable' });
      const retry = await post(logout); // its jti is claimed already, but the cutoff is not in the store
      expect(retry.status).toBe(503);
      expect(await refused(a, carol)).toBe(true);
    } finally {
      await refuseRevocationKeys(false);
    }
    await waitFor(() => refused(b, carol), 'the retried cutoff to reach B', 10_000);
    await waitFor(() => a.stats().revocation.store.unpublished === 0, 'A to see its write confirmed');
    expect((await post(logout)).status).toBe(200);
  }, 30_000);

  it('a store that takes no writes at all (OOM) is a 503, not a 500', async () => {
    const route = backchannelLogoutRoute({ verifier: a, clientId: idp.client.clientId });
    await refuseAllWrites(true);
    try {
      const res = await request(route)
        .post('/')
        .type('form')
        .send({ logout_token: await logoutToken('erin') });
      expect(res.status).toBe(503);
      expect(res.headers['retry-after']).toMatch(/^[1-9]\d*$/);
    } finally {
      await refuseAllWrites(false);
    }
  });
});

describe('securityEventRoute', () => {
  it('answers 503 + Retry-After (not 202) while the cutoff is not in the store', async () => {
    const route = securityEventRoute({ verifier: a, audience: AUD });
    const dave = await userToken('dave');
    await b.verify(dave);
    const set = await signedByIdp('secevent+jwt', {
      aud: AUD,
      events: { [CREDENTIAL_CHANGE]: { event_timestamp: 1 } },
      sub_id: { format: 'iss_sub', iss: idp.issuer, sub: 'dave' },
    });
    await refuseRevocationKeys(true);
    try {
      const res = await request(route).post('/').set('content-type', 'application/secevent+jwt').send(set);
      expect(res.status).toBe(503);
      expect(res.headers['retry-after']).toMatch(/^[1-9]\d*$/);
      expect(res.body).toMatchObject({ err: 'temporarily_unavailable' });
    } finally {
      await refuseRevocationKeys(false);
    }
    await waitFor(() => refused(b, dave), 'the retried cutoff to reach B', 10_000);
  }, 30_000);
});

describe('several issuers on one store', () => {
  it("invalidateSubject() applies every issuer's cutoff locally even when the store refuses the first one, then reports the failure", async () => {
    const west = await startIdp({ alg: 'ES256' });
    cleanups.push(() => west.close());
    const store = createRedisStore({ url: redis.url, keyPrefix: prefix });
    const both = createVerifier({
      store,
      issuers: [
        { issuer: idp.issuer, audience: idp.audience },
        { issuer: west.issuer, audience: west.audience, algorithms: ['ES256'] },
      ],
    });
    cleanups.push(
      () => store.close(),
      () => both.close(),
    );
    await waitFor(() => both.stats().revocation.store.synced, 'the instance to sync');
    const east = await userToken('alice');
    const westToken = await signToken(standardClaims(west, { sub: 'alice' }), west.keys[0]!);
    await refuseRevocationKeys(true);
    try {
      await expect(both.invalidateSubject('alice')).rejects.toMatchObject({ status: 503, reason: 'store_unavailable' });
      expect(await refused(both, east)).toBe(true);
      expect(await refused(both, westToken)).toBe(true);
    } finally {
      await refuseRevocationKeys(false);
    }
  }, 30_000);
});

describe('attack pass: a logout the store refuses, then retried', () => {
  it('a logout naming sub and sid cuts the subject too, even when the store refused the session cutoff first', async () => {
    const route = backchannelLogoutRoute({ verifier: a, clientId: idp.client.clientId });
    const post = (logout: string) => request(route).post('/').type('form').send({ logout_token: logout });
    const frank = await userToken('frank'); // an access token without `sid`, as most are
    await b.verify(frank);
    const logout = await logoutTokenWith({ sub: 'frank', sid: 'session-of-frank' });
    await refuseRevocationKeys(true);
    try {
      expect((await post(logout)).status).toBe(503);
      expect(await refused(a, frank)).toBe(true); // this instance refuses frank's token at once
    } finally {
      await refuseRevocationKeys(false);
    }
    await waitFor(() => a.stats().revocation.store.unpublished === 0, 'A to see its writes confirmed');
    expect((await post(logout)).status).toBe(200); // the IdP's retry: done
    expect(await refused(b, frank)).toBe(true);
  }, 30_000);

  it("the IdP's retry of a logout reaching another instance is not told done while the first instance's cutoff is not in the store", async () => {
    const onA = backchannelLogoutRoute({ verifier: a, clientId: idp.client.clientId });
    const onB = backchannelLogoutRoute({ verifier: b, clientId: idp.client.clientId });
    const post = (route: typeof onA, logout: string) =>
      request(route).post('/').type('form').send({ logout_token: logout });
    const hank = await userToken('hank');
    await b.verify(hank);
    const logout = await logoutTokenWith({ sub: 'hank' });
    await refuseRevocationKeys(true);
    try {
      expect((await post(onA, logout)).status).toBe(503);
      // The IdP retries through the load balancer and reaches B: the jti is claimed, B has nothing
      // pending, so it answers 200 while no store holds the cutoff and B accepts hank's token. If
      // A dies now, the logout is lost for good.
      const retry = await post(onB, logout);
      expect(retry.status === 503 || (await refused(b, hank))).toBe(true);
    } finally {
      await refuseRevocationKeys(false);
    }
  }, 30_000);

  it('a security event with a session event and a subject event makes both cutoffs even when the store refused the first', async () => {
    const route = securityEventRoute({ verifier: a, audience: AUD });
    const post = (set: string) => request(route).post('/').set('content-type', 'application/secevent+jwt').send(set);
    const gina = await userToken('gina'); // no `sid`
    await b.verify(gina);
    const set = await signedByIdp('secevent+jwt', {
      aud: AUD,
      sub_id: {
        format: 'complex',
        user: { format: 'iss_sub', iss: idp.issuer, sub: 'gina' },
        session: { format: 'opaque', id: 'session-of-gina' },
      },
      events: { [SESSION_REVOKED]: {}, [CREDENTIAL_CHANGE]: {} },
    });
    await refuseRevocationKeys(true);
    try {
      expect((await post(set)).status).toBe(503);
      expect(await refused(a, gina)).toBe(true);
    } finally {
      await refuseRevocationKeys(false);
    }
    await waitFor(() => a.stats().revocation.store.unpublished === 0, 'A to see its writes confirmed');
    expect((await post(set)).status).toBe(202); // the transmitter's retry: a duplicate
    expect(await refused(b, gina)).toBe(true);
  }, 30_000);
});
