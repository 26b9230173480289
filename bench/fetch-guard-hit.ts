/**
 * The fetch adapter's cost per request on a cache hit, in process (issue 12): `await guard(request)`
 * on a cached token against `await noop(request)` (an async function that only returns its argument),
 * interleaved (ABBA) over rounds in one process; the difference is what the guard adds per request.
 * Two request shapes: one `Request` reused (its header string's hash stays cached in V8) and a new
 * `Request` per call with a fresh copy of the header string, as a server sees it (built before each
 * timed batch, so building it is not counted). Time is the process's CPU time, not the wall
 * clock, so other work on a shared machine inflates it less; the load average is recorded.
 *
 * It measures the built package (dist/, what users run; the npm script builds it first), not src/
 * through tsx: tsx compiles with esbuild's `keepNames`, which wraps every function created per
 * request in a `__name()` call (an Object.defineProperty) and so adds a few hundred ns that no
 * user pays. `--against <dir>` adds a third side: the guard of another build of the package (e.g.
 * the previous commit's, `npx tsc -p tsconfig.build.json --outDir .cache/before/dist`), with its
 * own verifier, interleaved with the others in the same rounds: a before/after from one run.
 *
 *   npm run bench:fetch -- [--rounds <n>] [--min-ms <ms>] [--against <dist dir>]
 *     → bench/results/fetch-guard-hit.json
 */
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { do_not_optimize } from 'mitata';
import { authGuard } from '../dist/fetch/index.js';
import { createVerifier } from '../dist/index.js';
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
const against = option('against', '');

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

/** The guard of the build in `dir`, on a verifier of that build (a verifier only serves its own build's guards). */
async function guardOf(dir: string): Promise<{ guard: typeof guard; close(): Promise<void> }> {
  const load = (path: string) => import(pathToFileURL(resolve(dir, path)).href);
  const [{ authGuard: otherGuard }, { createVerifier: otherVerifier }] = await Promise.all([
    load('fetch/index.js'),
    load('index.js'),
  ]);
  const own = otherVerifier(site);
  return { guard: otherGuard({ verifier: own, scopes: ['notes:read'] }), close: () => own.close() };
}
const other = against === '' ? undefined : await guardOf(against);

for (const side of [guard, ...(other ? [other.guard] : [])]) {
  const first = await side(new Request(url, { headers: { authorization: header } }));
  if (first instanceof Response) throw new Error(`the guard refused the token: ${first.status}`);
}

const reused = new Request(url, { headers: { authorization: header } });
const variants = {
  'same Request': () => reused,
  'new Request, fresh header string': () => new Request(url, { headers: { authorization: fresh(header) } }),
};
type Side = 'noop' | 'guard' | 'against';
const sides: Partial<Record<Side, (request: Request) => Promise<unknown>>> = { noop, guard };
if (other) sides.against = other.guard;
const sideNames = Object.keys(sides) as Side[];

const cacheBefore = verifier.stats().cache;
const results: Record<string, unknown> = {};
const loads: number[] = [];
console.log(
  `fetch authGuard cache hit vs an async no-op${other ? ` and the build in ${against}` : ''}: ${rounds} rounds, ` +
    'CPU ns per call',
);
for (const [variant, make] of Object.entries(variants)) {
  const samples: Partial<Record<Side, number[]>> = Object.fromEntries(sideNames.map((side) => [side, []]));
  for (let r = 0; r < rounds; r++) {
    // Each round in another order (rotated, and reversed every other round), so no side always goes first.
    const rotated = sideNames.map((_, i) => sideNames[(i + r) % sideNames.length]!);
    const order = r % 2 === 0 ? rotated : rotated.reverse();
    for (const side of order) samples[side]!.push(await cpuNsPerCall(make, sides[side]!));
    loads.push(loadavg()[0]!);
  }
  const spread = (values: number[]) => ({
    median: round(median(values), 1),
    min: round(Math.min(...values), 1),
    max: round(Math.max(...values), 1),
  });
  const addedBy = (side: Side) => samples[side]!.map((g, i) => g - samples.noop![i]!);
  const entry: Record<string, unknown> = {};
  for (const side of sideNames) entry[side] = spread(samples[side]!);
  entry.addedNs = spread(addedBy('guard'));
  if (other) {
    entry.againstAddedNs = spread(addedBy('against'));
    // Per round: what the other build costs more than this one (positive: this one is cheaper).
    entry.againstMinusGuardNs = spread(samples.against!.map((b, i) => b - samples.guard![i]!));
  }
  results[variant] = entry;
  const line = (side: Side) => {
    const added = addedBy(side);
    return (
      `${side} median ${median(samples[side]!).toFixed(0)} ns, added per call: median ${median(added).toFixed(0)} ns` +
      ` (rounds ${Math.min(...added).toFixed(0)}–${Math.max(...added).toFixed(0)})`
    );
  };
  console.log(`  ${variant}: no-op median ${median(samples.noop!).toFixed(0)} ns`);
  for (const side of sideNames.filter((s) => s !== 'noop')) console.log(`    ${line(side)}`);
}
if (verifier.stats().cache.misses !== cacheBefore.misses) throw new Error('a measured call missed the cache');
const report = {
  date: new Date().toISOString(),
  node: process.version,
  measured: 'dist/ (the built package)',
  ...(other ? { against } : {}),
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
await other?.close();
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
