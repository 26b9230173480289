/**
 * Many-instances benchmark (Redis store):
 *  1. Propagation: time from `revoke()` resolving on instance A (this process) until instance B
 *     (a separate process sharing the Redis store) answers 401 for that token, over N
 *     revocations on loopback. Baseline in the same run: B's plain round trip for a cached token
 *     (the floor any HTTP-observed propagation time sits on).
 *  2. Hot path: authGuard cache-hit throughput with the Redis store vs the memory store, server
 *     pinned to core 0, load from this process (run it pinned to core 1), cases interleaved over
 *     rounds and compared within each round. Plus in-process `peek()` ns/op for both stores.
 *
 * Usage: npm run bench:stores [-- --quick]     (REDIS_URL, default redis://127.0.0.1:6379)
 */
import { randomUUID } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Agent, request } from 'node:http';
import { SignJWT } from 'jose';
import { createRedisStore, createVerifier, type Verifier } from '../src/index.js';
import { startEmbeddedIdp, type EmbeddedIdp } from '../example-app/embedded-idp.js';
import { measure } from './lib/load.js';
import { root, spawnServer } from './lib/processes.js';
import { round, summarize } from './lib/stats.js';

const quick = process.argv.includes('--quick');
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const REVOCATIONS = quick ? 200 : 1_000;
const ROUNDS = quick ? 1 : 3;
const SECONDS = quick ? 2 : 5;

async function mint(idp: EmbeddedIdp, count: number): Promise<string[]> {
  const key = idp.keys[0]!;
  const now = Math.floor(Date.now() / 1000);
  return Promise.all(
    Array.from({ length: count }, () =>
      new SignJWT({ sub: 'bench', scope: 'notes:read', client_id: idp.client.clientId, jti: randomUUID() })
        .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'at+jwt' })
        .setIssuer(idp.issuer)
        .setAudience(idp.audience)
        .setIssuedAt(now)
        .setExpirationTime(now + 3600)
        .sign(key.privateKey),
    ),
  );
}

async function propagation(idp: EmbeddedIdp) {
  const prefix = `rjwt-bench:${randomUUID()}:`;
  const b = await spawnServer(
    'test/support/api-instance.ts',
    {
      ISSUER: idp.issuer,
      AUDIENCE: idp.audience,
      REDIS_URL,
      KEY_PREFIX: prefix,
      CLIENT_ID: idp.client.clientId,
      CLIENT_SECRET: idp.client.clientSecret,
    },
    0,
  );
  const store = createRedisStore({ url: REDIS_URL, keyPrefix: prefix });
  const a: Verifier = createVerifier({ issuer: idp.issuer, audience: idp.audience, store });
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const get = (token: string) =>
    new Promise<number>((resolve, reject) => {
      const req = request(`${b.url}/notes`, { agent, headers: { authorization: `Bearer ${token}` } }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode!));
      });
      req.on('error', reject);
      req.end();
    });
  const tokens = await mint(idp, REVOCATIONS + 200);
  for (const t of tokens.slice(0, 200)) await get(t); // warm B (JWKS, JIT, connection)

  const rtt: number[] = [];
  const delays: number[] = [];
  const polls: number[] = [];
  for (const token of tokens.slice(200)) {
    if ((await get(token)) !== 200) throw new Error('B refused a fresh token');
    const t = performance.now();
    await get(token); // cached hit: the plain round trip
    rtt.push(performance.now() - t);
    await a.revoke(token);
    const t0 = performance.now();
    let n = 0;
    for (;;) {
      n++;
      if ((await get(token)) === 401) break;
      if (performance.now() - t0 > 2_000) throw new Error('B never refused a revoked token');
    }
    delays.push(performance.now() - t0);
    polls.push(n);
  }
  await b.stop();
  agent.destroy();

  // The same through a second in-process verifier with its own Redis connections: no HTTP in
  // the measurement, only Redis pub/sub delivery and the mirror update.
  const peerStore = createRedisStore({ url: REDIS_URL, keyPrefix: prefix });
  const peer = createVerifier({ issuer: idp.issuer, audience: idp.audience, store: peerStore });
  const inProcess: number[] = [];
  for (const token of await mint(idp, REVOCATIONS)) {
    await peer.verify(token);
    await a.revoke(token);
    const t0 = performance.now();
    while (peer.peek(token) !== undefined) {
      await new Promise((resolve) => setImmediate(resolve));
      if (performance.now() - t0 > 2_000) throw new Error('peer never saw the revocation');
    }
    inProcess.push(performance.now() - t0);
  }
  await Promise.all([a.close(), peer.close()]);
  await Promise.all([store.close(), peerStore.close()]);

  const d = summarize(delays);
  const r = summarize(rtt);
  const m = summarize(inProcess);
  return {
    revocations: delays.length,
    propagationMs: { p50: round(d.p50, 3), p90: round(d.p90, 3), p99: round(d.p99, 3), max: round(d.max, 3) },
    inProcessMirrorMs: { p50: round(m.p50, 3), p90: round(m.p90, 3), p99: round(m.p99, 3), max: round(m.max, 3) },
    baselineRoundTripMs: { p50: round(r.p50, 3), p99: round(r.p99, 3) },
    firstPollAlreadyRefused: round(polls.filter((n) => n === 1).length / polls.length, 4),
  };
}

function peekNsPerOp(verifier: Verifier, token: string): number {
  const iterations = 2_000_000;
  for (let i = 0; i < 200_000; i++) verifier.peek(token);
  const t = process.hrtime.bigint();
  let hits = 0;
  for (let i = 0; i < iterations; i++) if (verifier.peek(token)) hits++;
  const ns = Number(process.hrtime.bigint() - t) / iterations;
  if (hits !== iterations) throw new Error('peek missed');
  return ns;
}

async function hotPath(idp: EmbeddedIdp) {
  const [token] = await mint(idp, 1);
  // In-process: the same token string object every call (as a best case for hashing).
  const prefix = `rjwt-bench:${randomUUID()}:`;
  const redisStore = createRedisStore({ url: REDIS_URL, keyPrefix: prefix });
  const memory = createVerifier({ issuer: idp.issuer, audience: idp.audience });
  const redis = createVerifier({ issuer: idp.issuer, audience: idp.audience, store: redisStore });
  await memory.verify(token!);
  await redis.verify(token!);
  const micro: Array<{ memory: number; redis: number }> = [];
  for (let i = 0; i < 3; i++) micro.push({ memory: peekNsPerOp(memory, token!), redis: peekNsPerOp(redis, token!) });
  await memory.close();
  await redis.close();
  await redisStore.close();

  const env = { ISSUER: idp.issuer, AUDIENCE: idp.audience, REDIS_URL };
  const cases = ['express-guard', 'express-guard-redis'];
  const rounds: Array<Record<string, Awaited<ReturnType<typeof measure>>>> = [];
  for (let r = 0; r < ROUNDS; r++) {
    const results: Record<string, Awaited<ReturnType<typeof measure>>> = {};
    for (const name of r % 2 === 0 ? cases : [...cases].reverse()) {
      const server = await spawnServer('bench/server.ts', { ...env, CASE: name }, 0);
      try {
        results[name] = await measure({
          url: `${server.url}/`,
          connections: 10,
          warmupSeconds: 1,
          seconds: SECONDS,
          token: token!,
        });
      } finally {
        await server.stop();
      }
      if (results[name]!.non2xx > 0) throw new Error(`${name}: ${results[name]!.non2xx} non-2xx answers`);
    }
    rounds.push(results);
  }
  return {
    peekNsPerOp: micro.map((m) => ({ memory: round(m.memory, 1), redis: round(m.redis, 1) })),
    http: rounds.map((res) => ({
      memory: {
        rps: Math.round(res['express-guard']!.rps),
        p50: round(res['express-guard']!.p50, 3),
        p99: round(res['express-guard']!.p99, 3),
      },
      redis: {
        rps: Math.round(res['express-guard-redis']!.rps),
        p50: round(res['express-guard-redis']!.p50, 3),
        p99: round(res['express-guard-redis']!.p99, 3),
      },
      ratio: round(res['express-guard-redis']!.rps / res['express-guard']!.rps, 3),
      steal: Math.max(...Object.values(res).map((m) => m.cpu.cpu?.steal ?? 0)),
    })),
  };
}

/** The bench's keys expire on their own within the hour; remove them now anyway. */
async function cleanUp(): Promise<void> {
  const { Redis } = await import('ioredis');
  const redis = new Redis(REDIS_URL);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', 'rjwt-bench:*', 'COUNT', 1000);
      cursor = next;
      if (keys.length) await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

async function main() {
  const idp = await startEmbeddedIdp();
  try {
    const prop = await propagation(idp);
    console.log('propagation', JSON.stringify(prop));
    const hot = await hotPath(idp);
    console.log('hot path', JSON.stringify(hot));
    const ratios = hot.http.map((r) => r.ratio).sort((x, y) => x - y);
    const result = {
      date: new Date().toISOString(),
      quick,
      node: process.version,
      propagation: prop,
      hotPath: hot,
      medianRatio: ratios[Math.floor(ratios.length / 2)],
    };
    await mkdir(join(root, 'bench/results'), { recursive: true });
    await writeFile(
      join(root, `bench/results/stores${quick ? '-quick' : ''}.json`),
      `${JSON.stringify(result, null, 2)}\n`,
    );
    console.log('\n| measurement | value |\n| --- | --- |');
    console.log(
      `| propagation A revoke() → B 401, p50 / p90 / p99 / max (ms), n=${prop.revocations} | ${prop.propagationMs.p50} / ${prop.propagationMs.p90} / ${prop.propagationMs.p99} / ${prop.propagationMs.max} |`,
    );
    console.log(
      `| B round trip, cached token (baseline), p50 / p99 (ms) | ${prop.baselineRoundTripMs.p50} / ${prop.baselineRoundTripMs.p99} |`,
    );
    console.log(
      `| revoke() → a second verifier's mirror (pub/sub only, no HTTP), p50 / p90 / p99 / max (ms) | ${prop.inProcessMirrorMs.p50} / ${prop.inProcessMirrorMs.p90} / ${prop.inProcessMirrorMs.p99} / ${prop.inProcessMirrorMs.max} |`,
    );
    console.log(
      `| first request after revoke() already refused | ${(prop.firstPollAlreadyRefused * 100).toFixed(1)} % |`,
    );
    for (const [i, r] of hot.http.entries()) {
      console.log(
        `| round ${i + 1}: cache hit req/s, memory vs Redis store (ratio) | ${r.memory.rps} vs ${r.redis.rps} (${r.ratio}) |`,
      );
    }
    console.log(
      `| peek() hit ns/op, memory vs Redis store | ${hot.peekNsPerOp.map((p) => `${p.memory} vs ${p.redis}`).join('; ')} |`,
    );
  } finally {
    await idp.close();
    await cleanUp();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
