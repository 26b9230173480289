/**
 * The miss path over HTTP, and what it does to the event loop: Express 5 where every request
 * carries a token the server has not seen (a pool of distinct tokens cycled through a cache of 100:
 * an LRU never hits), for our guard on each signature backend (node:crypto's synchronous verify
 * vs jose's asynchronous WebCrypto) and for bare jose and fast-jwt without cache, against Express
 * with a middleware that does nothing. Each server runs in its own process pinned to core 0 and
 * records its event-loop delay (perf_hooks.monitorEventLoopDelay at 1 ms resolution: how late a
 * 1 ms timer fires, p50/p99/max) and event-loop utilization per window; load comes from this process (pin it to core 1: `npm run bench:miss-http`). Short
 * windows alternate between the already-running servers, the order rotating per cycle; each case is
 * compared with the no-op of its own cycle (added server µs per request: 1e6/rps(case) −
 * 1e6/rps(no-op)). Load average and other processes' CPU are recorded per window.
 *
 *   npm run bench:miss-http -- [--cycles <n>] [--seconds <s>] [--connections <n>] [--alg RS256|ES256]
 *   → bench/results/miss-http-<alg>.json
 *
 * Child mode (MISS_CASE=noop|ours|ours-webcrypto|jose|fast-jwt, ISSUER, JWKS_URI) serves one app.
 */
import { createPublicKey } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadavg } from 'node:os';
import { resolve } from 'node:path';
import { monitorEventLoopDelay, performance as perf } from 'node:perf_hooks';
import express, { type ErrorRequestHandler, type RequestHandler } from 'express';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { forceJwsBackendForTests, jwsBackend } from '../dist/core/verify/jws-backend.js';
import { authErrorHandler, authGuard, createVerifier } from '../dist/index.js';
import { getJson, statusOf } from './lib/http.js';
import { startJwksStub } from './lib/jwks-server.js';
import { measure } from './lib/load.js';
import { root, spawnServer } from './lib/processes.js';
import { median, round } from './lib/stats.js';
import { accessClaims, badTokens, generateKey, mint, type SigningAlg } from './lib/tokens.js';

const AUDIENCE = 'notes-api';
const CASES = ['noop', 'ours', 'ours-webcrypto', 'jose', 'fast-jwt'] as const;
type Case = (typeof CASES)[number];
const args = process.argv.slice(2);
const option = (name: string, fallback: string): string => {
  const at = args.indexOf(`--${name}`);
  return at === -1 ? fallback : (args[at + 1] ?? fallback);
};

if (process.env.MISS_CASE) await serve(process.env.MISS_CASE as Case);
else await bench();

/** One Express app: `GET /` behind the case's middleware, plus /admin/event-loop in front of Express. */
async function serve(kind: Case): Promise<void> {
  const issuer = process.env.ISSUER!;
  const bearer = (header: string | undefined) => (header ?? '').replace(/^Bearer /i, '');
  const unauthorized = (cause: unknown) => Object.assign(new Error('invalid token', { cause }), { status: 401 });
  let middleware: RequestHandler;
  if (kind === 'noop') middleware = (_req, _res, next) => next();
  else if (kind === 'ours' || kind === 'ours-webcrypto') {
    if (kind === 'ours-webcrypto') forceJwsBackendForTests(jwsBackend('webcrypto'));
    middleware = authGuard({ verifier: createVerifier({ issuer, audience: AUDIENCE, cache: { max: 100 } }) });
  } else if (kind === 'jose') {
    const jwks = createRemoteJWKSet(new URL(process.env.JWKS_URI!));
    middleware = (req, _res, next) => {
      jwtVerify(bearer(req.headers.authorization), jwks, { issuer, audience: AUDIENCE }).then(
        () => next(),
        (error: unknown) => next(unauthorized(error)),
      );
    };
  } else {
    // fast-jwt at its fastest: no cache, the issuer's one key as PEM (no key function, no JWKS round).
    const { createVerifier: createFastVerifier } = await import('fast-jwt');
    const { keys } = (await (await fetch(process.env.JWKS_URI!)).json()) as { keys: object[] };
    const pem = createPublicKey({ key: keys[0] as never, format: 'jwk' }).export({ type: 'spki', format: 'pem' });
    const verify = createFastVerifier({ key: pem as string, cache: false, allowedIss: issuer, allowedAud: AUDIENCE });
    middleware = (req, _res, next) => {
      try {
        verify(bearer(req.headers.authorization));
        next();
      } catch (error) {
        next(unauthorized(error));
      }
    };
  }
  const app = express();
  app.use(middleware);
  app.get('/', (_req, res) => {
    res.json({ ok: true });
  });
  const statusOnly: ErrorRequestHandler = (err: { status?: number }, _req, res, _next) => {
    res.status(err.status ?? 500).end();
  };
  app.use(authErrorHandler(), statusOnly);
  const delay = monitorEventLoopDelay({ resolution: 1 });
  let elu = perf.eventLoopUtilization();
  delay.enable();
  const expressApp = app as unknown as (req: unknown, res: unknown) => void;
  const server = createServer((req, res) => {
    if (req.url === '/admin/event-loop/reset') {
      delay.reset();
      elu = perf.eventLoopUtilization();
      res.writeHead(204).end();
    } else if (req.url === '/admin/event-loop') {
      // The histogram holds the time between two ticks of a 1 ms timer: the delay is what exceeds 1 ms.
      const late = (ns: number) => Math.max(0, ns / 1000 - 1000);
      const body = JSON.stringify({
        p50Us: late(delay.percentile(50)),
        p99Us: late(delay.percentile(99)),
        maxUs: late(delay.max),
        meanUs: late(delay.mean),
        utilization: perf.eventLoopUtilization(elu).utilization,
      });
      res.writeHead(200, { 'content-type': 'application/json' }).end(body);
    } else expressApp(req, res);
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`);
  process.once('SIGTERM', () => process.exit(0));
}

interface EventLoop {
  p50Us: number;
  p99Us: number;
  maxUs: number;
  meanUs: number;
  utilization: number;
}
interface Window {
  rps: number;
  p50Ms: number;
  p99Ms: number;
  eventLoop: EventLoop;
  load1: number;
  otherCores: number;
  /** The server process's own CPU per answered request (from /proc): less sensitive to other load than rps. */
  serverCpuUs: number;
}

async function bench(): Promise<void> {
  const cycles = Number(option('cycles', '4'));
  const seconds = Number(option('seconds', '2'));
  const connections = Number(option('connections', '10'));
  const alg = option('alg', 'RS256') as SigningAlg;
  const key = await generateKey(alg);
  const stub = await startJwksStub([key.publicJwk]);
  const site = { issuer: stub.issuer, audience: AUDIENCE };
  // Enough distinct tokens that none repeats within a window's reach of a 100-entry cache.
  const pool = Array.from({ length: alg === 'RS256' ? 3_000 : 6_000 }, () => mint(key, accessClaims(site)));
  let next = 0;
  const token = () => pool[next++ % pool.length]!;
  const { forged, tampered } = await badTokens(key, site);
  const env = { ISSUER: stub.issuer, JWKS_URI: stub.jwksUri };
  const servers = Object.fromEntries(
    await Promise.all(
      CASES.map(
        async (kind) => [kind, await spawnServer('bench/miss-http.ts', { ...env, MISS_CASE: kind }, 0)] as const,
      ),
    ),
  ) as Record<Case, Awaited<ReturnType<typeof spawnServer>>>;
  try {
    for (const kind of CASES) {
      if (kind === 'noop') continue;
      const checks = [
        await statusOf(servers[kind].url, pool[0]),
        await statusOf(servers[kind].url, forged),
        await statusOf(servers[kind].url, tampered),
      ];
      if (checks.join() !== '200,401,401') throw new Error(`${kind} does not check tokens: ${checks.join()}`);
    }
    for (const kind of CASES)
      await measure({ url: servers[kind].url, connections, warmupSeconds: 0, seconds: 1, token });

    const windows: Record<Case, Window[]> = { noop: [], ours: [], 'ours-webcrypto': [], jose: [], 'fast-jwt': [] };
    for (let cycle = 0; cycle < cycles; cycle++) {
      const order = [...CASES.slice(cycle % CASES.length), ...CASES.slice(0, cycle % CASES.length)];
      for (const kind of order) {
        const server = servers[kind];
        await fetch(`${server.url}/admin/event-loop/reset`);
        const result = await measure({
          url: server.url,
          connections,
          warmupSeconds: 0,
          seconds,
          token,
          pid: server.child.pid,
        });
        const eventLoop = await getJson<EventLoop>(`${server.url}/admin/event-loop`);
        if (result.non2xx > 0 || result.errors > 0)
          throw new Error(`${kind}: ${result.non2xx} non-2xx, ${result.errors} errors`);
        windows[kind].push({
          rps: result.rps,
          p50Ms: result.p50,
          p99Ms: result.p99,
          eventLoop,
          load1: round(loadavg()[0]!, 2),
          otherCores: round(result.otherCores ?? Number.NaN, 2),
          serverCpuUs: round(result.serverCpuUsPerRequest ?? Number.NaN, 1),
        });
      }
      console.error(
        `cycle ${cycle + 1}/${cycles}: ${CASES.map((k) => `${k} ${Math.round(windows[k].at(-1)!.rps)}`).join(', ')} req/s; ` +
          `load ${round(loadavg()[0]!, 2)}`,
      );
    }
    const perCycle = (kind: Case, f: (w: Window, noop: Window) => number) =>
      windows[kind].map((w, i) => f(w, windows.noop[i]!));
    const summary = Object.fromEntries(
      CASES.map((kind) => [
        kind,
        {
          rps: Math.round(median(windows[kind].map((w) => w.rps))),
          addedServerUsPerRequest:
            kind === 'noop' ? 0 : round(median(perCycle(kind, (w, n) => 1e6 / w.rps - 1e6 / n.rps)), 1),
          serverCpuUsPerRequest: round(median(windows[kind].map((w) => w.serverCpuUs)), 1),
          addedServerCpuUsPerRequest:
            kind === 'noop' ? 0 : round(median(perCycle(kind, (w, n) => w.serverCpuUs - n.serverCpuUs)), 1),
          latencyP50Ms: round(median(windows[kind].map((w) => w.p50Ms)), 2),
          latencyP99Ms: round(median(windows[kind].map((w) => w.p99Ms)), 2),
          eventLoopDelayP50Us: round(median(windows[kind].map((w) => w.eventLoop.p50Us)), 0),
          eventLoopDelayP99Us: round(median(windows[kind].map((w) => w.eventLoop.p99Us)), 0),
          eventLoopDelayMaxUs: round(median(windows[kind].map((w) => w.eventLoop.maxUs)), 0),
          eventLoopUtilization: round(median(windows[kind].map((w) => w.eventLoop.utilization)), 3),
        },
      ]),
    );
    const ratio = (a: Case, b: Case) => round(median(windows[a].map((w, i) => w.rps / windows[b][i]!.rps)), 3);
    // The same comparison on the servers' own CPU per request, the middleware's part only (the
    // no-op's CPU of the same cycle subtracted): b's added CPU ÷ a's, above 1 when a is cheaper.
    const cpuRatio = (a: Case, b: Case) =>
      round(
        median(
          windows[a].map(
            (w, i) =>
              (windows[b][i]!.serverCpuUs - windows.noop[i]!.serverCpuUs) /
              (w.serverCpuUs - windows.noop[i]!.serverCpuUs),
          ),
        ),
        3,
      );
    const report = {
      alg,
      date: new Date().toISOString(),
      node: process.version,
      cycles,
      secondsPerWindow: seconds,
      connections,
      summary,
      ratios: {
        oursOverFastJwt: ratio('ours', 'fast-jwt'),
        oursOverJose: ratio('ours', 'jose'),
        oursOverOursWebCrypto: ratio('ours', 'ours-webcrypto'),
        byAddedServerCpu: {
          oursOverFastJwt: cpuRatio('ours', 'fast-jwt'),
          oursOverJose: cpuRatio('ours', 'jose'),
          oursOverOursWebCrypto: cpuRatio('ours', 'ours-webcrypto'),
        },
      },
      machine: {
        load1: CASES.flatMap((k) => windows[k].map((w) => w.load1)),
        otherCores: CASES.flatMap((k) => windows[k].map((w) => w.otherCores)),
      },
      windows,
    };
    writeFileSync(resolve(root, `bench/results/miss-http-${alg}.json`), `${JSON.stringify(report, null, 2)}\n`);
    console.log(JSON.stringify({ alg, summary, ratios: report.ratios, machine: report.machine }, null, 1));
  } finally {
    await Promise.all(Object.values(servers).map((server) => server.stop()));
    await stub.close();
  }
}
