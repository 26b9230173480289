/**
 * What Token Status Lists cost (issue 15), in process:
 *
 * 1. The cache hit with a status-list check against the same hit without one: `verifier.peek()` of
 *    a cached token whose `status.status_list` points into a 10^6-entry list the verifier holds,
 *    against a cached token of the same length whose equivalent claim is not a status reference
 *    (`ztatus`), interleaved (ABBA) over rounds in one process; the difference is what reading the
 *    bit adds per request. One token string each (its hash stays cached), CPU time of the process.
 * 2. Decoding a 10^6-entry list (base64url + ZLIB inflate with the size cap): 1 bit per entry at
 *    several revocation rates (random entries), and 8 bits of random statuses (the worst case for
 *    compression), median wall time over runs.
 *
 *   npm run bench:status-list -- [--rounds <n>] [--min-ms <ms>] [--decode-runs <n>]
 *     → bench/results/status-list.json
 */
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadavg } from 'node:os';
import { resolve } from 'node:path';
import { deflateSync } from 'node:zlib';
import { do_not_optimize } from 'mitata';
import { decodeStatusList } from '../src/core/revoke/status-list.js';
import { createVerifier, type Verifier } from '../src/index.js';
import { root } from './lib/processes.js';
import { median, round } from './lib/stats.js';
import { accessClaims, generateKey, mint } from './lib/tokens.js';

const args = process.argv.slice(2);
const option = (name: string, fallback: string): string => {
  const at = args.indexOf(`--${name}`);
  return at === -1 ? fallback : (args[at + 1] ?? fallback);
};
const rounds = Number(option('rounds', '10'));
const minCpuUs = Number(option('min-ms', '200')) * 1e3;
const decodeRuns = Number(option('decode-runs', '30'));
const ENTRIES = 1_000_000;

/** A deterministic PRNG (mulberry32), so every run decodes the same lists. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `lst` of a 10^6-entry list: `bits` per entry, each entry non-zero with probability `rate`. */
function statusList(bits: 1 | 8, rate: number): string {
  const next = random(42);
  const bytes = new Uint8Array((ENTRIES * bits) / 8);
  for (let i = 0; i < ENTRIES; i++) {
    if (next() >= rate) continue;
    if (bits === 1) bytes[i >> 3]! |= 1 << (i & 7);
    else bytes[i] = 1 + Math.floor(next() * 255);
  }
  return deflateSync(bytes, { level: 9 }).toString('base64url');
}

// --- 1. the hit path ------------------------------------------------------------------------------

const key = await generateKey('RS256');
const revokedLst = statusList(1, 0.01);
let origin = '';
const server = createServer((req, res) => {
  const path = (req.url ?? '/').split('?')[0];
  const json = (body: unknown) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  if (path === '/.well-known/openid-configuration') return json({ issuer: origin, jwks_uri: `${origin}/jwks` });
  if (path === '/jwks') return json({ keys: [key.publicJwk] });
  if (path === '/statuslists/1') {
    const iat = Math.floor(Date.now() / 1000);
    const list = {
      sub: `${origin}/statuslists/1`,
      iat,
      exp: iat + 3600,
      ttl: 3600,
      status_list: { bits: 1, lst: revokedLst },
    };
    res
      .writeHead(200, { 'content-type': 'application/statuslist+jwt' })
      .end(mint(key, list, { typ: 'statuslist+jwt' }));
    return;
  }
  res.writeHead(404).end();
});
await new Promise<void>((ready) => server.listen(0, '127.0.0.1', ready));
origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

const site = { issuer: origin, audience: 'notes-api' };
// maxTtl an hour: no refresh starts during the measurement (a background fetch would be measured too).
const verifier = createVerifier({ ...site, statusList: { maxTtl: 3600 } });
const reference = { status_list: { idx: 123_457, uri: `${origin}/statuslists/1` } };
const tokens = {
  // Same length and claim count; `ztatus` is no status claim, so its hit reads no list.
  without: mint(key, { ...accessClaims(site), ztatus: reference }),
  with: mint(key, { ...accessClaims(site), status: reference }),
};
if (tokens.with.length !== tokens.without.length) throw new Error('the two tokens must be the same length');
for (const token of Object.values(tokens)) await verifier.verify(token);
if (verifier.stats().statusLists.lists !== 1) throw new Error('the status list was not loaded');
for (const [name, token] of Object.entries(tokens)) if (!verifier.peek(token)) throw new Error(`${name}: not a hit`);

/** CPU nanoseconds per `peek`, over batches until `--min-ms` of CPU time is spent (after a warm-up). */
function cpuNsPerPeek(target: Verifier, token: string): number {
  const batch = 50_000;
  for (let i = 0; i < batch; i++) do_not_optimize(target.peek(token));
  let calls = 0;
  let spentUs = 0;
  while (spentUs < minCpuUs) {
    const start = process.cpuUsage();
    for (let i = 0; i < batch; i++) do_not_optimize(target.peek(token));
    const used = process.cpuUsage(start);
    spentUs += used.user + used.system;
    calls += batch;
  }
  return (spentUs * 1e3) / calls;
}

const fetchesBefore = verifier.stats().statusLists.fetches;
const samples = { without: [] as number[], with: [] as number[] };
const loads: number[] = [];
for (let r = 0; r < rounds; r++) {
  const order = r % 2 === 0 ? (['without', 'with'] as const) : (['with', 'without'] as const);
  for (const side of order) samples[side].push(cpuNsPerPeek(verifier, tokens[side]));
  loads.push(loadavg()[0]!);
}
if (verifier.stats().statusLists.fetches !== fetchesBefore)
  throw new Error('a list was fetched during the measurement');
const added = samples.with.map((ns, i) => ns - samples.without[i]!);
const spread = (values: number[]) => ({
  median: round(median(values), 1),
  min: round(Math.min(...values), 1),
  max: round(Math.max(...values), 1),
});
console.log(`verifier.peek() cache hit, ${rounds} rounds, CPU ns per call (a 10^6-entry list held):`);
console.log(`  without a status reference: median ${median(samples.without).toFixed(1)} ns`);
console.log(`  with a status reference:    median ${median(samples.with).toFixed(1)} ns`);
console.log(
  `  added by the status check: median ${median(added).toFixed(1)} ns ` +
    `(rounds ${Math.min(...added).toFixed(1)} to ${Math.max(...added).toFixed(1)})`,
);
await verifier.close();
server.close();

// --- 2. decoding a 10^6-entry list ----------------------------------------------------------------

const cases: Array<{ name: string; bits: 1 | 8; rate: number }> = [
  { name: '1 bit, none revoked', bits: 1, rate: 0 },
  { name: '1 bit, 0.1 % revoked', bits: 1, rate: 0.001 },
  { name: '1 bit, 1 % revoked', bits: 1, rate: 0.01 },
  { name: '1 bit, 10 % revoked', bits: 1, rate: 0.1 },
  { name: '1 bit, 50 % revoked', bits: 1, rate: 0.5 },
  { name: '8 bits, 50 % random statuses', bits: 8, rate: 0.5 },
];
const decoding: Record<string, unknown> = {};
console.log(`decoding a 10^6-entry list (base64url + inflate), median of ${decodeRuns} runs:`);
for (const { name, bits, rate } of cases) {
  const lst = statusList(bits, rate);
  for (let i = 0; i < 3; i++) await decodeStatusList(lst, bits, 4 * 1024 * 1024);
  const times: number[] = [];
  for (let i = 0; i < decodeRuns; i++) {
    const started = performance.now();
    const list = await decodeStatusList(lst, bits, 4 * 1024 * 1024);
    times.push(performance.now() - started);
    if (list.size < ENTRIES) throw new Error(`${name}: decoded ${list.size} entries`);
  }
  decoding[name] = { lstChars: lst.length, ms: spread(times) };
  console.log(`  ${name}: lst ${(lst.length / 1024).toFixed(1)} KiB, ${median(times).toFixed(2)} ms`);
}

const report = {
  date: new Date().toISOString(),
  node: process.version,
  rounds,
  minCpuMsPerSample: minCpuUs / 1e3,
  tokenChars: tokens.with.length,
  loadAverage1: spread(loads),
  hit: { without: spread(samples.without), with: spread(samples.with), addedNs: spread(added) },
  decode: decoding,
};
writeFileSync(resolve(root, 'bench/results/status-list.json'), `${JSON.stringify(report, null, 2)}\n`);
console.log(`  load average (1 min) during the run: ${JSON.stringify(report.loadAverage1)}`);
