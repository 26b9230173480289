/**
 * The Fastify guard's cache hit against a Fastify app whose `preHandler` does nothing, interleaved
 * in one run (issue 12 asks for ≥ 0.97× of the no-op hook). Each app runs in its own process pinned
 * to core 0; load comes from this process (run it pinned to core 1: `npm run bench:fastify`).
 * Short windows alternate between the two already-running servers (ABBA), and each pair gives a
 * ratio (guard / no-op req/s) and the server time the guard adds per request
 * (1e6/rps(guard) − 1e6/rps(no-op) µs), which carries to other hardware better than the ratio.
 * Before measuring, the guarded app must admit the token and refuse a forged one.
 *
 *   npm run bench:fastify -- [--cycles <n>] [--seconds <s>] [--connections <n>]
 *
 * Child mode (FASTIFY_CASE=guard|noop and ISSUER in the environment) serves one app and prints its port.
 */
import Fastify from 'fastify';
import type { AddressInfo } from 'node:net';
import { createVerifier } from '../src/index.js';
import { authGuard } from '../src/fastify/index.js';
import { statusOf } from './lib/http.js';
import { startJwksStub } from './lib/jwks-server.js';
import { measure } from './lib/load.js';
import { spawnServer } from './lib/processes.js';
import { median, round } from './lib/stats.js';
import { accessClaims, badTokens, generateKey, mint } from './lib/tokens.js';

const AUDIENCE = 'notes-api';
const args = process.argv.slice(2);
const option = (name: string, fallback: string): string => {
  const at = args.indexOf(`--${name}`);
  return at === -1 ? fallback : (args[at + 1] ?? fallback);
};

if (process.env.FASTIFY_CASE) await serve(process.env.FASTIFY_CASE);
else await bench();

async function serve(kind: string): Promise<void> {
  const app = Fastify();
  const preHandler =
    kind === 'guard'
      ? authGuard({ verifier: createVerifier({ issuer: process.env.ISSUER!, audience: AUDIENCE }) })
      : (_request: unknown, _reply: unknown, done: () => void) => done();
  app.get('/', { preHandler }, async () => ({ ok: true }));
  await app.listen({ port: 0, host: '127.0.0.1' });
  process.stdout.write(`${JSON.stringify({ port: (app.server.address() as AddressInfo).port })}\n`);
  process.once('SIGTERM', () => app.close().then(() => process.exit(0)));
}

async function bench(): Promise<void> {
  const cycles = Number(option('cycles', '6'));
  const seconds = Number(option('seconds', '2'));
  const connections = Number(option('connections', '10'));
  const key = await generateKey('RS256');
  const stub = await startJwksStub([key.publicJwk]);
  const site = { issuer: stub.issuer, audience: AUDIENCE };
  const token = mint(key, accessClaims(site));
  const { forged } = await badTokens(key, site);
  const env = { ISSUER: stub.issuer };
  const servers = {
    noop: await spawnServer('bench/fastify-hit.ts', { ...env, FASTIFY_CASE: 'noop' }, 0),
    guard: await spawnServer('bench/fastify-hit.ts', { ...env, FASTIFY_CASE: 'guard' }, 0),
  };
  try {
    const checks = {
      admitted: await statusOf(servers.guard.url, token),
      forged: await statusOf(servers.guard.url, forged),
      missing: await statusOf(servers.guard.url),
    };
    if (checks.admitted !== 200 || checks.forged !== 401 || checks.missing !== 401)
      throw new Error(`the guarded app does not check tokens: ${JSON.stringify(checks)}`);
    for (const server of Object.values(servers))
      await measure({ url: server.url, connections, warmupSeconds: 0, seconds: 2, token });

    const rps: Record<'noop' | 'guard', number[]> = { noop: [], guard: [] };
    const ratios: number[] = [];
    const addedUs: number[] = [];
    for (let cycle = 0; cycle < cycles; cycle++) {
      const order = cycle % 2 === 0 ? (['noop', 'guard'] as const) : (['guard', 'noop'] as const);
      const round_: Partial<Record<'noop' | 'guard', number>> = {};
      for (const kind of order) {
        const server = servers[kind];
        const result = await measure({
          url: server.url,
          connections,
          warmupSeconds: 0,
          seconds,
          token,
          pid: server.child.pid,
        });
        if (result.non2xx > 0 || result.errors > 0)
          throw new Error(`${kind}: ${result.non2xx} non-2xx, ${result.errors} errors`);
        round_[kind] = result.rps;
        rps[kind].push(result.rps);
      }
      ratios.push(round_.guard! / round_.noop!);
      addedUs.push(1e6 / round_.guard! - 1e6 / round_.noop!);
      console.error(
        `cycle ${cycle + 1}: no-op ${Math.round(round_.noop!)} req/s, guard ${Math.round(round_.guard!)} req/s, ` +
          `ratio ${round(ratios.at(-1)!, 3)}`,
      );
    }
    const summary = {
      cycles,
      secondsPerWindow: seconds,
      connections,
      noopRps: Math.round(median(rps.noop)),
      guardRps: Math.round(median(rps.guard)),
      ratioMedian: round(median(ratios), 3),
      ratioMin: round(Math.min(...ratios), 3),
      addedServerUsPerRequest: round(median(addedUs), 2),
    };
    console.log(JSON.stringify(summary));
  } finally {
    await Promise.all(Object.values(servers).map((server) => server.stop()));
    await stub.close();
  }
}
