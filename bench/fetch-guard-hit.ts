/**
 * The fetch adapter's cost per request on a cache hit, in process (issue 12): `await guard(request)`
 * on a cached token against `await noop(request)` (an async function that only returns its argument),
 * interleaved (ABBA) over rounds in one process; the difference is what the guard adds per request.
 * Two request shapes: one `Request` reused (its header string's hash stays cached in V8) and a new
 * `Request` per call with a fresh copy of the header string, as a server sees it (built before each
 * timed batch, so building it is not counted). Time is the process's CPU time, not the wall
 * clock, so other work on a shared machine inflates it less; the load average is recorded.
 *
 *   npm run bench:fetch -- [--rounds <n>] [--min-ms <ms>]   → bench/results/fetch-guard-hit.json
 */
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { resolve } from 'node:path';
import { do_not_optimize } from 'mitata';
import { authGuard } from '../src/fetch/index.js';
import { createVerifier } from '../src/index.js';
import { startJwksStub } from './lib/jwks-server.js';
import { root } from './lib/processes.js';
import { median, round } from './lib/stats.js';
import { accessClaims, generateKey, mint } from './lib/tokens.js';

const args = process.argv.slice(2);
const option = (name: string, fallback: string): string => {
  const at = args.indexOf(`--${name}`);
  return at === -1 ? fallback : (args[at + 1] ?? fallback);
};
const rounds = Number(option('rounds', '10'));
const minCpuUs = Number(option('min-ms', '300')) * 1e3;

const key = await generateKey('RS256');
const stub = await startJwksStub([key.publicJwk]);
const site = { issuer: stub.issuer, audience: 'notes-api' };
const verifier = createVerifier(site);
const token = mint(key, accessClaims(site));
const guard = authGuard({ verifier, scopes: ['notes:read'] });
const header = `Bearer ${token}`;
const url = 'https://api.example.com/notes';
/** A copy with its own identity and no cached hash, as a fresh request header would be. */
const fresh = (value: string): string => ` ${value}`.slice(1);
const noop = async (request: Request): Promise<Request> => request;

const first = await guard(new Request(url, { headers: { authorization: header } }));
if (first instanceof Response) throw new Error(`the guard refused the token: ${first.status}`);

const reused = new Request(url, { headers: { authorization: header } });
const variants = {
  'same Request': () => reused,
  'new Request, fresh header string': () => new Request(url, { headers: { authorization: fresh(header) } }),
};
type Side = 'noop' | 'guard';
const sides: Record<Side, (request: Request) => Promise<unknown>> = { noop, guard };

const cacheBefore = verifier.stats().cache;
const results: Record<string, unknown> = {};
const loads: number[] = [];
console.log(`fetch authGuard cache hit vs an async no-op: ${rounds} rounds, CPU ns per call`);
for (const [variant, make] of Object.entries(variants)) {
  const samples: Record<Side, number[]> = { noop: [], guard: [] };
  for (let r = 0; r < rounds; r++) {
    const order: Side[] = r % 2 === 0 ? ['noop', 'guard'] : ['guard', 'noop'];
    for (const side of order) samples[side].push(await cpuNsPerCall(make, sides[side]));
    loads.push(loadavg()[0]!);
  }
  const added = samples.guard.map((g, i) => g - samples.noop[i]!);
  const spread = (values: number[]) => ({
    median: round(median(values), 1),
    min: round(Math.min(...values), 1),
    max: round(Math.max(...values), 1),
  });
  results[variant] = { noop: spread(samples.noop), guard: spread(samples.guard), addedNs: spread(added) };
  console.log(
    `  ${variant}: no-op median ${median(samples.noop).toFixed(0)} ns, guard median ${median(samples.guard).toFixed(0)}` +
      ` ns; added per call: median ${median(added).toFixed(0)} ns (rounds ${Math.min(...added).toFixed(0)}–` +
      `${Math.max(...added).toFixed(0)})`,
  );
}
if (verifier.stats().cache.misses !== cacheBefore.misses) throw new Error('a measured call missed the cache');
const report = {
  date: new Date().toISOString(),
  node: process.version,
  rounds,
  minCpuMsPerSample: minCpuUs / 1e3,
  tokenChars: token.length,
  loadAverage1: {
    median: round(median(loads), 2),
    min: round(Math.min(...loads), 2),
    max: round(Math.max(...loads), 2),
  },
  results,
};
writeFileSync(resolve(root, 'bench/results/fetch-guard-hit.json'), `${JSON.stringify(report, null, 2)}\n`);
console.log(`  load average (1 min) during the run: ${JSON.stringify(report.loadAverage1)}`);
await verifier.close();
await stub.close();

/**
 * CPU nanoseconds per awaited call, over batches until `--min-ms` of CPU time is spent or 100 000
 * calls are made (after a warm-up batch). Each batch's requests are built before its timed loop, so building them is not counted.
 */
async function cpuNsPerCall(make: () => Request, call: (request: Request) => Promise<unknown>): Promise<number> {
  const batch = 2_000;
  const build = () => Array.from({ length: batch }, make);
  for (const request of build()) do_not_optimize(await call(request));
  let calls = 0;
  let spentUs = 0;
  // At most 100 000 calls: with a new Request each, building them (untimed) dwarfs a no-op's timed part.
  while (spentUs < minCpuUs && calls < 100_000) {
    const requests = build();
    const start = process.cpuUsage();
    for (const request of requests) do_not_optimize(await call(request));
    const used = process.cpuUsage(start);
    spentUs += used.user + used.system;
    calls += batch;
  }
  return (spentUs * 1e3) / calls;
}
