/**
 * An adapter's guard on a cache hit against the same framework's app with a middleware that does
 * nothing, interleaved in one run (issue 12 asks for ≥ 0.97× of the no-op): Fastify (`preHandler`),
 * Koa and Hono on Node (`@hono/node-server`). Each app runs in its own process pinned to core 0;
 * load comes from this process (run it pinned to core 1: `npm run bench:fastify`, `bench:koa`,
 * `bench:hono`). Short windows alternate between the two already-running servers (ABBA), and each
 * pair gives a ratio (guard / no-op req/s) and the server time the guard adds per request
 * (1e6/rps(guard) − 1e6/rps(no-op) µs), which carries to other hardware better than the ratio.
 * Each window records steal, other processes' CPU and the load average: a shared machine's noise
 * shows. Before measuring, the guarded app must admit the token and refuse a forged one. It runs
 * the built package (dist/; the npm scripts build it first).
 *
 *   npm run bench:fastify -- [--cycles <n>] [--seconds <s>] [--connections <n>]
 *   (tsx bench/adapter-hit.ts --framework fastify|koa|hono …)  → bench/results/adapter-hit-<framework>.json
 *
 * Child mode (ADAPTER=fastify|koa|hono, ADAPTER_CASE=guard|noop, ISSUER) serves one app and prints its port.
 */
import { serve as serveHono } from '@hono/node-server';
import Fastify from 'fastify';
import { Hono, type MiddlewareHandler } from 'hono';
import Koa, { type Middleware } from 'koa';
import { writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { loadavg } from 'node:os';
import { resolve } from 'node:path';
// The built package, as users run it (tsx's keepNames would add a `__name()` per closure made per request).
import { createVerifier } from '../dist/index.js';
import { authGuard as fastifyGuard } from '../dist/fastify/index.js';
import { authGuard as honoGuard } from '../dist/hono/index.js';
import { authGuard as koaGuard } from '../dist/koa/index.js';
import { statusOf } from './lib/http.js';
import { startJwksStub } from './lib/jwks-server.js';
import { measure } from './lib/load.js';
import { root, spawnServer } from './lib/processes.js';
import { median, round } from './lib/stats.js';
import { accessClaims, badTokens, generateKey, mint } from './lib/tokens.js';

const AUDIENCE = 'notes-api';
const FRAMEWORKS = ['fastify', 'koa', 'hono'] as const;
type Framework = (typeof FRAMEWORKS)[number];
const args = process.argv.slice(2);
const option = (name: string, fallback: string): string => {
  const at = args.indexOf(`--${name}`);
  return at === -1 ? fallback : (args[at + 1] ?? fallback);
};

if (process.env.ADAPTER_CASE) await serve(process.env.ADAPTER as Framework, process.env.ADAPTER_CASE === 'guard');
else await bench(option('framework', 'fastify') as Framework);

/** One app: `GET /` behind the guard (or the framework's no-op middleware) answering `{ ok: true }`. */
async function serve(framework: Framework, guarded: boolean): Promise<void> {
  const verifier = () => createVerifier({ issuer: process.env.ISSUER!, audience: AUDIENCE });
  let port: number;
  let close: () => Promise<unknown>;
  if (framework === 'fastify') {
    const app = Fastify();
    const preHandler = guarded
      ? fastifyGuard({ verifier: verifier() })
      : (_request: unknown, _reply: unknown, done: () => void) => done();
    app.get('/', { preHandler }, async () => ({ ok: true }));
    await app.listen({ port: 0, host: '127.0.0.1' });
    port = (app.server.address() as AddressInfo).port;
    close = () => app.close();
  } else if (framework === 'koa') {
    const app = new Koa();
    const noop: Middleware = async (_ctx, next) => {
      await next();
    };
    app.use(guarded ? (koaGuard({ verifier: verifier() }) as Middleware) : noop);
    app.use((ctx) => {
      ctx.body = { ok: true };
    });
    const server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    port = (server.address() as AddressInfo).port;
    close = () => new Promise((r) => server.close(r));
  } else {
    const app = new Hono();
    const noop: MiddlewareHandler = async (_c, next) => {
      await next();
    };
    app.get('/', guarded ? (honoGuard({ verifier: verifier() }) as MiddlewareHandler) : noop, (c) =>
      c.json({ ok: true }),
    );
    const server = await new Promise<ReturnType<typeof serveHono>>((r) => {
      const s = serveHono({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => r(s));
    });
    port = (server.address() as AddressInfo).port;
    close = () => new Promise((r) => server.close(r));
  }
  process.stdout.write(`${JSON.stringify({ port })}\n`);
  process.once('SIGTERM', () => close().then(() => process.exit(0)));
}

async function bench(framework: Framework): Promise<void> {
  if (!FRAMEWORKS.includes(framework)) throw new TypeError(`--framework takes one of ${FRAMEWORKS.join(', ')}`);
  const cycles = Number(option('cycles', '6'));
  const seconds = Number(option('seconds', '2'));
  const connections = Number(option('connections', '10'));
  const key = await generateKey('RS256');
  const stub = await startJwksStub([key.publicJwk]);
  const site = { issuer: stub.issuer, audience: AUDIENCE };
  const token = mint(key, accessClaims(site));
  const { forged } = await badTokens(key, site);
  const env = { ISSUER: stub.issuer, ADAPTER: framework };
  const servers = {
    noop: await spawnServer('bench/adapter-hit.ts', { ...env, ADAPTER_CASE: 'noop' }, 0),
    guard: await spawnServer('bench/adapter-hit.ts', { ...env, ADAPTER_CASE: 'guard' }, 0),
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
    const disturbance: { load1: number; steal: number; otherCores: number }[] = [];
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
        disturbance.push({
          load1: round(loadavg()[0]!, 2),
          steal: result.steal,
          otherCores: round(result.otherCores ?? NaN, 2),
        });
      }
      ratios.push(round_.guard! / round_.noop!);
      addedUs.push(1e6 / round_.guard! - 1e6 / round_.noop!);
      console.error(
        `cycle ${cycle + 1}: no-op ${Math.round(round_.noop!)} req/s, guard ${Math.round(round_.guard!)} req/s, ` +
          `ratio ${round(ratios.at(-1)!, 3)}, load ${disturbance.at(-1)!.load1}, ` +
          `other processes ${disturbance.at(-1)!.otherCores} cores`,
      );
    }
    const summary = {
      framework,
      date: new Date().toISOString(),
      node: process.version,
      cycles,
      secondsPerWindow: seconds,
      connections,
      noopRps: Math.round(median(rps.noop)),
      guardRps: Math.round(median(rps.guard)),
      ratioMedian: round(median(ratios), 3),
      ratioMin: round(Math.min(...ratios), 3),
      ratioMax: round(Math.max(...ratios), 3),
      ratios: ratios.map((r) => round(r, 3)),
      addedServerUsPerRequest: round(median(addedUs), 2),
      addedUsMin: round(Math.min(...addedUs), 2),
      addedUsMax: round(Math.max(...addedUs), 2),
      loadAverage1Median: round(median(disturbance.map((d) => d.load1)), 2),
      otherProcessesCoresMedian: round(median(disturbance.map((d) => d.otherCores)), 2),
      stealMax: Math.max(...disturbance.map((d) => d.steal)),
    };
    writeFileSync(
      resolve(root, `bench/results/adapter-hit-${framework}.json`),
      `${JSON.stringify(summary, null, 2)}\n`,
    );
    console.log(JSON.stringify(summary));
  } finally {
    await Promise.all(Object.values(servers).map((server) => server.stop()));
    await stub.close();
  }
}
