/**
 * authGuard's cache-hit path, this tree against an earlier commit, interleaved in one process:
 * what moving the request step into the core (or any later change) costs per request.
 *
 *   npm run bench:guard -- [--before <commit>] [--rounds <n>] [--min-ms <ms>]
 *
 * The earlier commit's `src/` is extracted (git archive) into a temporary directory beside a
 * link to our node_modules, and its authGuard runs against the same verifier as ours: verifiers
 * find their internal port through a per-process registry shared by every copy of the library.
 * Rounds alternate the order (ABBA) so drift and warm-up hit both sides alike; each side's
 * per-round averages are summarised by their median and minimum, and the pairs by the median of
 * their ratio (after / before), the figure least moved by drift. Time is the process's CPU time
 * (`process.cpuUsage()`), not the wall clock, so other work on a shared machine inflates it less.
 * No HTTP: one call of the middleware on a request object shaped like Node's, `next` a no-op.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { do_not_optimize } from 'mitata';
import * as current from '../src/index.js';
import { startJwksStub } from './lib/jwks-server.js';
import { accessClaims, generateKey, mint } from './lib/tokens.js';

type Guard = (req: never, res: never, next: (err?: unknown) => void) => void;

const args = process.argv.slice(2);
const option = (name: string, fallback: string): string => {
  const at = args.indexOf(`--${name}`);
  return at === -1 ? fallback : (args[at + 1] ?? fallback);
};
const beforeCommit = option('before', 'f9a3b88');
const rounds = Number(option('rounds', '8'));
const minCpuUs = Number(option('min-ms', '300')) * 1e3;

const repo = resolve(import.meta.dirname, '..');
const dir = mkdtempSync(join(tmpdir(), 'revocable-jwt-before-'));
try {
  execFileSync('sh', ['-c', `git -C "${repo}" archive "${beforeCommit}" src | tar -x -C "${dir}"`]);
  symlinkSync(join(repo, 'node_modules'), join(dir, 'node_modules'));
  const before = (await import(pathToFileURL(join(dir, 'src/index.ts')).href)) as typeof current;
  await run(before);
} finally {
  rmSync(dir, { recursive: true, force: true });
}

async function run(before: typeof current): Promise<void> {
  const key = await generateKey('RS256');
  const stub = await startJwksStub([key.publicJwk]);
  const site = { issuer: stub.issuer, audience: 'notes-api' };
  const verifier = current.createVerifier(site);
  const token = mint(key, accessClaims(site));
  await verifier.verify(token);

  const header = `Bearer ${token}`;
  /** A copy with its own identity and no cached hash, as a fresh request header would be. */
  const fresh = (value: string): string => ` ${value}`.slice(1);
  const request = (authorization: string) => ({
    method: 'GET',
    url: '/notes',
    headers: { host: '127.0.0.1:3000', 'user-agent': 'bench', accept: '*/*', authorization },
    rawHeaders: ['Host', '127.0.0.1:3000', 'User-Agent', 'bench', 'Accept', '*/*', 'Authorization', authorization],
  });
  const next = (err?: unknown): void => {
    if (err !== undefined) throw err;
  };
  const guards: Record<'before' | 'after', Guard> = {
    before: before.authGuard({ verifier, scopes: ['notes:read'] }) as Guard,
    after: current.authGuard({ verifier, scopes: ['notes:read'] }) as Guard,
  };
  for (const [name, guard] of Object.entries(guards)) {
    let sync = false;
    guard(request(header) as never, {} as never, (err) => {
      if (err !== undefined) throw err;
      sync = true;
    });
    if (!sync) throw new Error(`${name}: the hit path did not answer synchronously`);
  }

  const variants = {
    'same string': () => request(header),
    'fresh string': () => request(fresh(header)),
  };
  const cacheBefore = verifier.stats().cache;
  console.log(`authGuard cache hit, ${beforeCommit} (before) vs this tree (after): ${rounds} rounds, ns/op`);
  for (const [variant, make] of Object.entries(variants)) {
    const samples: Record<'before' | 'after', number[]> = { before: [], after: [] };
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 === 0 ? (['before', 'after'] as const) : (['after', 'before'] as const);
      for (const side of order) {
        const guard = guards[side];
        samples[side].push(
          cpuNsPerOp(() => {
            const req = make();
            guard(req as never, {} as never, next);
            do_not_optimize(req);
          }),
        );
      }
    }
    const summary = (side: 'before' | 'after') => {
      const values = samples[side];
      return `median ${median(values).toFixed(1).padStart(7)}  min ${Math.min(...values)
        .toFixed(1)
        .padStart(7)}`;
    };
    // Each round measured both sides back to back: their ratio is the least disturbed by drift.
    const ratio = median(samples.after.map((after, round) => after / samples.before[round]!));
    const alone = cpuNsPerOp(() => do_not_optimize(make()));
    console.log(`  ${variant}: before ${summary('before')} · after ${summary('after')}`);
    console.log(`    after/before, median of the rounds' ratios: ${ratio.toFixed(3)}`);
    console.log(`    building the request object alone (in both): ${alone.toFixed(1)}`);
  }
  const cacheAfter = verifier.stats().cache;
  if (cacheAfter.misses !== cacheBefore.misses) throw new Error('a measured call missed the cache');
  await verifier.close();
  await stub.close();
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** CPU nanoseconds per call of `fn`, over batches until `--min-ms` of CPU time is spent (after a warm-up batch). */
function cpuNsPerOp(fn: () => void): number {
  const batch = 10_000;
  for (let i = 0; i < batch; i++) fn();
  let calls = 0;
  const start = process.cpuUsage();
  let spentUs = 0;
  while (spentUs < minCpuUs) {
    for (let i = 0; i < batch; i++) fn();
    calls += batch;
    const used = process.cpuUsage(start);
    spentUs = used.user + used.system;
  }
  return (spentUs * 1e3) / calls;
}
