/**
 * What a route's requirements cost per request on a cache hit, in process (issue 13): the
 * synchronous `authenticate(request)` of `createAuthenticator` with each setting, against the same
 * authenticator with `scopes` only (what every guard did before), interleaved (ABBA) over rounds in
 * one process; the difference is what the setting adds per request. Also an `optional` route
 * answering a request without credentials. One request object is reused (its header string's hash
 * stays cached), so the figures are the checks' own cost. CPU time of the process, not wall clock.
 *
 *   npm run bench:policy -- [--rounds <n>] [--min-ms <ms>]   → bench/results/policy-hit.json
 */
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { resolve } from 'node:path';
import { do_not_optimize } from 'mitata';
import { type Authenticator, createAuthenticator, createVerifier, type RequestLike } from '../src/index.js';
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
const minCpuUs = Number(option('min-ms', '200')) * 1e3;

const key = await generateKey('RS256');
const stub = await startJwksStub([key.publicJwk]);
const site = { issuer: stub.issuer, audience: 'notes-api' };
const verifier = createVerifier(site);
const claims = {
  ...accessClaims(site),
  tenant: 't1',
  roles: ['reader', 'admin'],
  acr: 'urn:example:mfa',
  auth_time: Math.floor(Date.now() / 1000),
};
const token = mint(key, claims);
const request: RequestLike = { method: 'GET', url: '/notes', headers: { authorization: `Bearer ${token}` } };
const anonymous: RequestLike = { method: 'GET', url: '/notes', headers: {} };
await verifier.verify(token);

const build = (settings: Parameters<typeof createAuthenticator>[0]) => createAuthenticator(settings) as Authenticator;
const baseline = build({ verifier, scopes: ['notes:read'] });
const cases: Record<string, { authenticate: Authenticator; request: RequestLike }> = {
  'scopes: { anyOf }': { authenticate: build({ verifier, scopes: { anyOf: ['notes:admin', 'notes:read'] } }), request },
  'claims.equals + includes': {
    authenticate: build({
      verifier,
      scopes: ['notes:read'],
      claims: { equals: { tenant: 't1' }, includes: { roles: ['admin'] } },
    }),
    request,
  },
  'claims.check': {
    authenticate: build({ verifier, scopes: ['notes:read'], claims: { check: (p) => p.sub === 'notes-api' } }),
    request,
  },
  'acrValues + maxAge': {
    authenticate: build({ verifier, scopes: ['notes:read'], acrValues: ['urn:example:mfa'], maxAge: 3600 }),
    request,
  },
  'everything + resourceMetadata': {
    authenticate: build({
      verifier,
      scopes: { anyOf: ['notes:admin', 'notes:read'] },
      claims: { equals: { tenant: 't1' }, includes: { roles: ['admin'] }, check: (p) => p.sub === 'notes-api' },
      acrValues: ['urn:example:mfa'],
      maxAge: 3600,
      resourceMetadata: 'https://api.example.com/.well-known/oauth-protected-resource',
    }),
    request,
  },
  'optional, no credentials (anonymous)': {
    authenticate: build({ verifier, scopes: ['notes:read'], optional: true }),
    request: anonymous,
  },
};
for (const [name, { authenticate, request: r }] of Object.entries(cases)) {
  const answer = authenticate(r);
  if (answer instanceof Promise || !answer.ok) throw new Error(`${name}: not admitted synchronously`);
}

const cacheBefore = verifier.stats().cache;
const results: Record<string, unknown> = {};
const loads: number[] = [];
console.log(`createAuthenticator cache hit, each setting vs scopes only: ${rounds} rounds, CPU ns per call`);
for (const [name, { authenticate, request: r }] of Object.entries(cases)) {
  const samples = { baseline: [] as number[], policy: [] as number[] };
  for (let round_ = 0; round_ < rounds; round_++) {
    const order = round_ % 2 === 0 ? (['baseline', 'policy'] as const) : (['policy', 'baseline'] as const);
    for (const side of order)
      samples[side].push(side === 'baseline' ? cpuNsPerCall(baseline, request) : cpuNsPerCall(authenticate, r));
    loads.push(loadavg()[0]!);
  }
  const added = samples.policy.map((p, i) => p - samples.baseline[i]!);
  const spread = (values: number[]) => ({
    median: round(median(values), 1),
    min: round(Math.min(...values), 1),
    max: round(Math.max(...values), 1),
  });
  results[name] = { baseline: spread(samples.baseline), policy: spread(samples.policy), addedNs: spread(added) };
  console.log(
    `  ${name}: scopes-only median ${median(samples.baseline).toFixed(0)} ns, this ${median(samples.policy).toFixed(0)}` +
      ` ns; added: median ${median(added).toFixed(0)} ns (rounds ${Math.min(...added).toFixed(0)}–` +
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
writeFileSync(resolve(root, 'bench/results/policy-hit.json'), `${JSON.stringify(report, null, 2)}\n`);
console.log(`  load average (1 min) during the run: ${JSON.stringify(report.loadAverage1)}`);
await verifier.close();
await stub.close();

/** CPU nanoseconds per synchronous call, over batches until `--min-ms` of CPU time is spent (after a warm-up). */
function cpuNsPerCall(authenticate: Authenticator, r: RequestLike): number {
  const batch = 20_000;
  for (let i = 0; i < batch; i++) do_not_optimize(authenticate(r));
  let calls = 0;
  let spentUs = 0;
  while (spentUs < minCpuUs) {
    const start = process.cpuUsage();
    for (let i = 0; i < batch; i++) do_not_optimize(authenticate(r));
    const used = process.cpuUsage(start);
    spentUs += used.user + used.system;
    calls += batch;
  }
  return (spentUs * 1e3) / calls;
}
