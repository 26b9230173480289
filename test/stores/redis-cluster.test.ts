/**
 * The Redis store through an ioredis Cluster client, against a real 3-master Redis Cluster the
 * test starts: the shared contract, plus revocation between two verifiers across the cluster.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { Cluster, Redis } from 'ioredis';
import {
  createRedisStore,
  createVerifier,
  InvalidTokenError,
  type RedisRevocationStore,
  type RevocationStore,
  type StoreStatus,
} from '../../src/index.js';
import { startIdp, type EmbeddedIdp } from '../support/idp.js';
import { startRedisCluster, type RedisCluster } from '../support/redis-cluster.js';
import { waitFor } from '../support/wait-for.js';
import { revocationStoreContract } from './store-contract.js';

let cluster: RedisCluster;
const clients: Cluster[] = [];

beforeAll(async () => {
  cluster = await startRedisCluster();
}, 60_000);

afterAll(async () => {
  for (const client of clients) client.disconnect();
  await cluster.stop();
});

async function clusterStore(
  clock: () => number,
  keyPrefix = `rjwt-cluster:${randomUUID()}:`,
): Promise<RevocationStore> {
  const client = new Cluster(cluster.nodes);
  clients.push(client);
  const store = createRedisStore({ client: client as never, keyPrefix, clock });
  let status: StoreStatus | undefined;
  const stop = store.watch!((s) => (status = s));
  await waitFor(() => status === 'connected', 'the cluster store to connect', 10_000);
  stop();
  return store;
}

revocationStoreContract('redis store on a Redis Cluster', { create: (clock) => clusterStore(clock) });

describe('Redis Cluster: the change log and compact snapshot', () => {
  it('shards spread over the masters; a complete read gathers them all, a cursor read only what changed', async () => {
    const now = Date.now();
    const store = (await clusterStore(() => now)) as RedisRevocationStore;
    const prefix = store.keyPrefix;
    try {
      await Promise.all(
        Array.from({ length: 500 }, (_, i) =>
          store.publish({ type: 'token', key: `jti:c:${i}`, expiresAt: now + 60_000 }),
        ),
      );
      // Each master holds some of the shards (asked directly, node by node).
      const holding = await Promise.all(
        cluster.nodes.map(async ({ port }) => {
          const node = new Redis({ port, host: '127.0.0.1' });
          try {
            return (await node.keys(`${prefix}*:tokens`)).length;
          } finally {
            node.disconnect();
          }
        }),
      );
      expect(holding.filter((n) => n > 0).length).toBe(cluster.nodes.length);
      expect(holding.reduce((a, b) => a + b, 0)).toBe(16);
      const first = await store.changeLog.read(undefined, now);
      expect(first).toMatchObject({ complete: true, tokens: { count: 500 } });
      await Promise.all(
        [1, 2, 3].map((i) => store.publish({ type: 'token', key: `jti:d:${i}`, expiresAt: now + 60_000 })),
      );
      const later = await store.changeLog.read(first.cursor, now);
      expect(later.complete).toBe(false);
      expect(later.tokens!.count).toBe(3);
    } finally {
      await store.close();
    }
  }, 30_000);
});

describe('Redis Cluster: two verifiers sharing the store', () => {
  let idp: EmbeddedIdp;
  beforeAll(async () => {
    idp = await startIdp();
  });
  afterAll(() => idp.close());

  it('a revocation through one is refused by the other; a new verifier starts from a snapshot of every master', async () => {
    const prefix = `rjwt-cluster:${randomUUID()}:`;
    const [storeA, storeB] = await Promise.all([clusterStore(Date.now, prefix), clusterStore(Date.now, prefix)]);
    const a = createVerifier({ issuer: idp.issuer, audience: idp.audience, store: storeA });
    const b = createVerifier({ issuer: idp.issuer, audience: idp.audience, store: storeB });
    try {
      // Many tokens, so their keys land on every master of the cluster.
      const tokens = await Promise.all(Array.from({ length: 12 }, () => idp.issueAccessToken()));
      for (const token of tokens) await b.verify(token);
      for (const token of tokens) await a.revoke(token);
      for (const token of tokens) {
        await waitFor(() => b.peek(token) === undefined, 'B to see the revocation', 2_000);
        await expect(b.verify(token)).rejects.toBeInstanceOf(InvalidTokenError);
      }
      const storeC = await clusterStore(Date.now, prefix);
      const c = createVerifier({ issuer: idp.issuer, audience: idp.audience, store: storeC });
      for (const token of tokens) await expect(c.verify(token)).rejects.toMatchObject({ reason: 'revoked' });
      expect(c.stats().revocation.denylisted).toBe(tokens.length);
      await c.close();
      await storeC.close();
    } finally {
      await a.close();
      await b.close();
      await storeA.close();
      await storeB.close();
    }
  }, 30_000);
});
