/**
 * In-process micro-benchmarks (mitata), no HTTP: what one call costs.
 *
 *  - Hit path: `verify()` (a resolved promise, awaited: the delivery an async caller pays) and
 *    `peek()` (synchronous, what authGuard calls first), with the same string object every call and
 *    with a fresh copy per call. A server sees a fresh header string on every request, and a cache
 *    keyed by the token string makes V8 hash a fresh string in full (a reused one has its hash
 *    cached), so "fresh" is the realistic number. The copy's own cost is measured alone, to subtract.
 *    fast-jwt's cached verify, fresh string, as the peer reference.
 *  - Miss path: `verify()` with `cache: false` against bare jose `jwtVerify` over the same JWKS
 *    (`createLocalJWKSet`, which our verifier uses too), RS256 and ES256: our overhead per signature check.
 */
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet } from 'jose';
import { do_not_optimize, measure } from 'mitata';
import { createVerifier } from '../../src/index.js';
import type { Alg } from './tokens.js';

export interface MicroResult {
  name: string;
  avgNs: number;
  p50Ns: number;
  p99Ns: number;
}

export interface MicroOptions {
  issuer: string;
  audience: string;
  jwksUri: string;
  jwks: JSONWebKeySet;
  /** The cache-hit token (RS256). */
  hitToken: string;
  missToken: Record<Alg, string>;
  /** mitata's minimum measuring time per benchmark, in ms. */
  minCpuMs: number;
}

/** A copy with the same characters but its own identity and no cached hash, like a fresh request header's. */
const fresh = (token: string): string => ` ${token}`.slice(1);

async function fastJwtVerifier(options: MicroOptions): Promise<(token: string) => Promise<unknown>> {
  const { createVerifier: createFastVerifier } = await import('fast-jwt');
  const { default: buildGetJwks } = await import('get-jwks');
  const getJwks = buildGetJwks({ jwksPath: new URL(options.jwksUri).pathname });
  return createFastVerifier({
    key: async ({ header }: { header: { kid?: string; alg?: string } }) =>
      getJwks.getPublicKey({ kid: header.kid, alg: header.alg, domain: options.issuer }),
    cache: true,
    allowedIss: options.issuer,
    allowedAud: options.audience,
  }) as (token: string) => Promise<unknown>;
}

export async function runMicro(options: MicroOptions, log: (line: string) => void): Promise<MicroResult[]> {
  const site = { issuer: options.issuer, audience: options.audience };
  const cached = createVerifier(site);
  const uncached = createVerifier({ ...site, cache: false });
  const fast = await fastJwtVerifier(options);
  const localJwks = createLocalJWKSet(options.jwks);
  const token = options.hitToken;

  // Prime: JWKS fetched, the hit token cached in both verifiers that cache, and check each path works.
  await cached.verify(token);
  await fast(token);
  for (const alg of ['RS256', 'ES256'] as const) {
    await uncached.verify(options.missToken[alg]);
    await jwtVerify(options.missToken[alg], localJwks, site);
  }
  if (cached.peek(fresh(token)) === undefined) throw new Error('peek() missed a cached token given as a fresh string');

  const benches: Array<[string, () => unknown]> = [
    ['fresh string copy only (subtract from "fresh")', () => do_not_optimize(fresh(token))],
    ['peek() hit, same string', () => do_not_optimize(cached.peek(token))],
    ['peek() hit, fresh string', () => do_not_optimize(cached.peek(fresh(token)))],
    ['verify() hit, same string', () => cached.verify(token)],
    ['verify() hit, fresh string', () => cached.verify(fresh(token))],
    ['fast-jwt cached verify, fresh string (peer)', () => fast(fresh(token))],
  ];
  for (const alg of ['RS256', 'ES256'] as const) {
    const t = options.missToken[alg];
    benches.push([`verify() miss (cache: false), ${alg}`, () => uncached.verify(t)]);
    benches.push([`jose jwtVerify, ${alg}`, () => jwtVerify(t, localJwks, site)]);
  }

  const before = cached.stats().cache;
  const results: MicroResult[] = [];
  for (const [name, fn] of benches) {
    const stats = await measure(fn, { min_cpu_time: options.minCpuMs * 1e6 });
    results.push({ name, avgNs: stats.avg, p50Ns: stats.p50, p99Ns: stats.p99 });
    log(`  ${name.padEnd(48)} ${stats.avg.toFixed(1).padStart(10)} ns/op`);
  }
  // Guard against measuring a path that silently missed: the hit benches must have hit.
  const after = cached.stats().cache;
  if (after.misses !== before.misses || after.hits === before.hits)
    throw new Error('the hit-path micro-benchmarks did not hit the cache');
  await cached.close();
  await uncached.close();
  return results;
}
