/**
 * What a DPoP request (RFC 9449) costs over HTTP on a cache hit, next to a plain Bearer hit
 * (issue 13; the in-process figures are bench/dpop-hit.ts). An Express app behind `authGuard`
 * runs in its own process pinned to core 0; autocannon, on core 1, sends every request with a
 * fresh proof (signed here with node:crypto, its own `jti`, `iat` and `ath`). The access token is
 * cached in the server; the proof never is: each DPoP request checks its proof and claims its
 * `jti` once in the store — in process (memory store) or one `SET NX` round trip (Redis).
 *
 * Cases, in every cycle (the order alternates): Bearer hit and DPoP hit on the memory-store
 * server, DPoP hit on the Redis-store server. What carries to other hardware is the server's CPU
 * time per request (read from /proc for the server's pid), and the server time a DPoP request
 * adds over the Bearer hit of its own cycle (1e6/rps − 1e6/rps(bearer)). Each window records the
 * load average and other processes' CPU: a shared machine's noise shows.
 *
 *   npm run bench:dpop-http -- [--cycles <n>] [--seconds <s>] [--connections <n>]
 *   → bench/results/dpop-http.json     (REDIS_URL, default redis://127.0.0.1:6379)
 *
 * Child mode (DPOP_STORE=memory|redis, ISSUER) serves one app and prints its port.
 */
import { createHash, generateKeyPairSync, type KeyObject, randomBytes, randomUUID, sign } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { loadavg } from 'node:os';
import { resolve } from 'node:path';
import express from 'express';
import { calculateJwkThumbprint, type JWK } from 'jose';
// The built package, as users run it.
import { authGuard, createRedisStore, createVerifier } from '../dist/index.js';
import { startJwksStub } from './lib/jwks-server.js';
import { measure } from './lib/load.js';
import { root, spawnServer } from './lib/processes.js';
import { median, round } from './lib/stats.js';
import { accessClaims, generateKey, mint } from './lib/tokens.js';

const AUDIENCE = 'notes-api';
const PUBLIC_URL = 'https://api.example.com';
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const args = process.argv.slice(2);
const option = (name: string, fallback: string): string => {
  const at = args.indexOf(`--${name}`);
  return at === -1 ? fallback : (args[at + 1] ?? fallback);
};

if (process.env.DPOP_STORE) await serve(process.env.DPOP_STORE);
else await bench();

/** One Express app: `GET /notes` behind the guard (Bearer or DPoP), answering `{ ok: true }`. */
async function serve(store: string): Promise<void> {
  const verifier = createVerifier({
    issuer: process.env.ISSUER!,
    audience: AUDIENCE,
    publicUrl: PUBLIC_URL,
    // A 10 s proof window keeps the memory store's live claims (one per proof) far below its cap.
    dpop: { iatWindow: 10 },
    ...(store === 'redis'
      ? {
          store: createRedisStore({
            url: REDIS_URL,
            keyPrefix: `rjwt-bench-dpop-http:${randomBytes(6).toString('hex')}:`,
          }),
        }
      : {}),
  });
  const app = express();
  app.get('/notes', authGuard({ verifier, scopes: ['notes:read'], dpop: 'allowed' }), (_req, res) => {
    res.json({ ok: true });
  });
  const server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`);
  process.once('SIGTERM', () => {
    server.close();
    void verifier.close().then(() => process.exit(0));
  });
}

/** A client's proof key, and a fresh proof for every request (untimed: the load generator's work). */
async function proofClient(): Promise<{ jkt: string; proof: (token: string) => string }> {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const { kty, crv, x, y } = publicKey.export({ format: 'jwk' }) as JWK;
  const jwk = { kty, crv, x, y };
  const header = Buffer.from(JSON.stringify({ typ: 'dpop+jwt', alg: 'ES256', jwk })).toString('base64url');
  const key: KeyObject = privateKey;
  return {
    jkt: await calculateJwkThumbprint(jwk),
    proof(token) {
      const claims = {
        jti: randomUUID(),
        htm: 'GET',
        htu: `${PUBLIC_URL}/notes`,
        iat: Math.floor(Date.now() / 1000),
        ath: createHash('sha256').update(token).digest('base64url'),
      };
      const input = `${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
      const signature = sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' });
      return `${input}.${signature.toString('base64url')}`;
    },
  };
}

type Case = 'bearer' | 'dpopMemory' | 'dpopRedis';

async function bench(): Promise<void> {
  const cycles = Number(option('cycles', '6'));
  const seconds = Number(option('seconds', '2'));
  const connections = Number(option('connections', '10'));
  const signingKey = await generateKey('RS256');
  const stub = await startJwksStub([signingKey.publicJwk]);
  const site = { issuer: stub.issuer, audience: AUDIENCE };
  const client = await proofClient();
  const bearerToken = mint(signingKey, accessClaims(site));
  const boundToken = mint(signingKey, { ...accessClaims(site), cnf: { jkt: client.jkt } });
  const env = { ISSUER: stub.issuer, REDIS_URL };
  const servers = {
    memory: await spawnServer('bench/dpop-http.ts', { ...env, DPOP_STORE: 'memory' }, 0),
    redis: await spawnServer('bench/dpop-http.ts', { ...env, DPOP_STORE: 'redis' }, 0),
  };
  const load = (kind: Case) => {
    const server = kind === 'dpopRedis' ? servers.redis : servers.memory;
    const base = { url: `${server.url}/notes`, connections, warmupSeconds: 0, pid: server.child.pid };
    return kind === 'bearer'
      ? { ...base, token: bearerToken }
      : {
          ...base,
          headers: () => ({ authorization: `DPoP ${boundToken}`, dpop: client.proof(boundToken) }),
        };
  };
  try {
    // The apps must admit what they are measured with, and refuse a replayed proof.
    for (const kind of ['bearer', 'dpopMemory', 'dpopRedis'] as const) {
      const { url, token, headers } = load(kind) as { url: string; token?: string; headers?: () => object };
      const sent = headers?.() ?? { authorization: `Bearer ${token}` };
      const first = await fetch(url, { headers: sent as Record<string, string> });
      if (first.status !== 200) throw new Error(`${kind}: the guarded app answered ${first.status}`);
      if (headers && (await fetch(url, { headers: sent as Record<string, string> })).status !== 401)
        throw new Error(`${kind}: a replayed proof was not refused`);
      await measure({ ...load(kind), seconds: 1 });
    }
    const results: Record<Case, { rps: number; serverUs: number }[]> = { bearer: [], dpopMemory: [], dpopRedis: [] };
    const added: Record<'dpopMemory' | 'dpopRedis', number[]> = { dpopMemory: [], dpopRedis: [] };
    const disturbance: { load1: number; otherCores: number }[] = [];
    for (let cycle = 0; cycle < cycles; cycle++) {
      const order: Case[] =
        cycle % 2 === 0 ? ['bearer', 'dpopMemory', 'dpopRedis'] : ['dpopRedis', 'dpopMemory', 'bearer'];
      const round_: Partial<Record<Case, number>> = {};
      for (const kind of order) {
        const result = await measure({ ...load(kind), seconds });
        if (result.non2xx > 0 || result.errors > 0)
          throw new Error(`${kind}: ${result.non2xx} non-2xx, ${result.errors} errors`);
        round_[kind] = result.rps;
        results[kind].push({ rps: result.rps, serverUs: result.serverCpuUsPerRequest ?? NaN });
        disturbance.push({ load1: round(loadavg()[0]!, 2), otherCores: round(result.otherCores ?? NaN, 2) });
      }
      for (const kind of ['dpopMemory', 'dpopRedis'] as const)
        added[kind].push(1e6 / round_[kind]! - 1e6 / round_.bearer!);
      console.error(
        `cycle ${cycle + 1}: bearer ${Math.round(round_.bearer!)} req/s, DPoP memory ${Math.round(round_.dpopMemory!)}, ` +
          `DPoP Redis ${Math.round(round_.dpopRedis!)}; load ${disturbance.at(-1)!.load1}`,
      );
    }
    const perCase = (kind: Case) => ({
      rpsMedian: Math.round(median(results[kind].map((r) => r.rps))),
      serverCpuUsPerRequestMedian: round(median(results[kind].map((r) => r.serverUs)), 1),
    });
    const summary = {
      date: new Date().toISOString(),
      node: process.version,
      cycles,
      secondsPerWindow: seconds,
      connections,
      bearer: perCase('bearer'),
      dpopMemory: {
        ...perCase('dpopMemory'),
        addedServerUsMedian: round(median(added.dpopMemory), 1),
        addedServerUsRange: [round(Math.min(...added.dpopMemory), 1), round(Math.max(...added.dpopMemory), 1)],
      },
      dpopRedis: {
        ...perCase('dpopRedis'),
        addedServerUsMedian: round(median(added.dpopRedis), 1),
        addedServerUsRange: [round(Math.min(...added.dpopRedis), 1), round(Math.max(...added.dpopRedis), 1)],
      },
      loadAverage1Median: round(median(disturbance.map((d) => d.load1)), 2),
      otherProcessesCoresMedian: round(median(disturbance.map((d) => d.otherCores)), 2),
    };
    writeFileSync(resolve(root, 'bench/results/dpop-http.json'), `${JSON.stringify(summary, null, 2)}\n`);
    console.log(JSON.stringify(summary, null, 2));
  } finally {
    await Promise.all(Object.values(servers).map((server) => server.stop()));
    await stub.close();
  }
}
