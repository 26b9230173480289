/**
 * Memory, in its own process (started by bench/run.ts with --expose-gc, so heap numbers are taken
 * after a full GC and nothing of the benchmark process's own garbage counts):
 *
 *  1. Heap bytes per cached entry at N entries: heapUsed after GC with no verifier, with a verifier
 *     holding one entry (its fixed cost), and with N entries (cache max N); per entry is the growth
 *     from 1 to N entries over N − 1, "all in" spreads the fixed cost too. Everything an entry keeps
 *     alive counts (token string, frozen header and payload, LRU slot, revocation keys). Tokens are
 *     ES256 (cheap to mint and verify) with oidc-provider's claims; an RS256 token is ~256
 *     characters longer (one byte each on the heap).
 *  2. A flood of unique garbage tokens through `verify()` (10^6 in the full run: 10^6 HTTP requests
 *     would take far too long here), with a fresh valid token every VALID_EVERY calls into a small
 *     cache (5× more valid tokens than slots): RSS and heap before and after, and the largest cache
 *     size seen, which must stay ≤ max. Refusing garbage costs ~13-55 µs a call here, most of it
 *     jose's and our error objects capturing stack traces, so 10^6 calls take 30-50 s.
 *
 * Prints one JSON line. Usage: node --expose-gc --import tsx bench/memory-probe.ts [--quick]
 */
import { randomBytes } from 'node:crypto';
import { createVerifier, type Verifier } from '../src/index.js';
import { startJwksStub } from './lib/jwks-server.js';
import { accessClaims, generateKey, mint, withUnknownKid } from './lib/tokens.js';

const quick = process.argv.includes('--quick');
const SIZES = quick ? [10_000] : [10_000, 100_000];
const GARBAGE_CALLS = quick ? 50_000 : 1_000_000;
const VALID_EVERY = 200;
// Five times fewer slots than the valid tokens in the flood: the bound is actually reached.
const GARBAGE_CACHE_MAX = GARBAGE_CALLS / VALID_EVERY / 5;
const BATCH = 500;

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc');

function settled(): NodeJS.MemoryUsage {
  gc!();
  gc!();
  return process.memoryUsage();
}

const key = await generateKey('ES256');
const stub = await startJwksStub([key.publicJwk]);
const site = { issuer: stub.issuer, audience: 'https://api.bench.example' };
const sample = mint(key, accessClaims(site));

async function fill(verifier: Verifier, count: number): Promise<void> {
  for (let done = 0; done < count; done += BATCH) {
    // Minted per batch and dropped after it: at the end the cache holds the only references.
    const batch = Array.from({ length: Math.min(BATCH, count - done) }, () => mint(key, accessClaims(site)));
    await Promise.all(batch.map((token) => verifier.verify(token)));
  }
}

async function perEntry(entries: number) {
  const started = performance.now();
  const before = settled();
  const verifier = createVerifier({ ...site, cache: { max: entries } });
  await fill(verifier, 1);
  // The verifier's own cost (JWKS, LRU arrays sized to max, timers) with one entry, apart from the entries.
  const one = settled();
  await fill(verifier, entries - 1);
  const after = settled();
  const size = verifier.stats().cache.size;
  await verifier.close();
  // The cache index is 30 bits: a few index collisions among 100k entries are expected (each one
  // replaces an entry); anything more would mean the index is broken.
  if (size < entries * 0.999) throw new Error(`expected about ${entries} cached entries, found ${size}`);
  return {
    entries,
    heapBytesPerEntry: Math.round((after.heapUsed - one.heapUsed) / (entries - 1)),
    verifierFixedHeapBytes: one.heapUsed - before.heapUsed,
    heapBytesPerEntryAllIn: Math.round((after.heapUsed - before.heapUsed) / entries),
    rssBytesPerEntry: Math.round((after.rss - one.rss) / (entries - 1)),
    heapUsedMB: +(after.heapUsed / 2 ** 20).toFixed(1),
    seconds: +((performance.now() - started) / 1000).toFixed(1),
  };
}

/** Unique, token-sized garbage of four kinds, each refused at a different depth (none reaches a signature check). */
function garbage(i: number): string {
  const [, payload, signature] = sample.split('.');
  const unique = `${i.toString(36)}${randomBytes(6).toString('base64url')}`;
  switch (i % 4) {
    case 0: // no dots: refused by the shape check
      return `${unique}${payload}`;
    case 1: // three segments, header not JSON: refused by jose's header decoding
      return `${Buffer.from(`{"alg":${unique}`).toString('base64url')}.${payload}.${signature}`;
    case 2: // HS256 is not allowed (no secret configured): refused before any key lookup
      return `${Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'at+jwt', kid: unique })).toString('base64url')}.${payload}.${signature}`;
    default: // a kid nobody publishes: the JWKS refetch path, within its cooldown
      return withUnknownKid(sample, 'ES256');
  }
}

async function flood(calls: number) {
  const verifier = createVerifier({ ...site, cache: { max: GARBAGE_CACHE_MAX } });
  await verifier.verify(mint(key, accessClaims(site))); // JWKS loaded before the baseline
  const jwksBefore = stub.jwksRequests;
  const before = settled();
  const started = performance.now();
  let accepted = 0;
  let rejected = 0;
  let largestCache = 0;
  for (let i = 0; i < calls; i += BATCH) {
    const batch: Array<Promise<void>> = [];
    for (let j = i; j < Math.min(i + BATCH, calls); j++) {
      const token = j % VALID_EVERY === 0 ? mint(key, accessClaims(site)) : garbage(j);
      batch.push(
        verifier.verify(token).then(
          () => void accepted++,
          () => void rejected++,
        ),
      );
    }
    await Promise.all(batch);
    largestCache = Math.max(largestCache, verifier.stats().cache.size);
  }
  const seconds = (performance.now() - started) / 1000;
  const after = settled();
  const stats = verifier.stats();
  await verifier.close();
  const mb = (bytes: number) => +(bytes / 2 ** 20).toFixed(1);
  return {
    calls,
    accepted,
    rejected,
    cacheMax: GARBAGE_CACHE_MAX,
    largestCacheSize: largestCache,
    bounded: largestCache <= GARBAGE_CACHE_MAX,
    finalCacheSize: stats.cache.size,
    jwksFetches: stub.jwksRequests - jwksBefore,
    rssMB: { before: mb(before.rss), after: mb(after.rss) },
    heapUsedMB: { before: mb(before.heapUsed), after: mb(after.heapUsed) },
    seconds: +seconds.toFixed(1),
    callsPerSecond: Math.round(calls / seconds),
  };
}

// Load everything a first verification pulls in lazily (undici behind global fetch, jose, WebCrypto)
// before any baseline, or the first size measured would carry megabytes of module state.
const warm = createVerifier(site);
await warm.verify(sample);
await warm.close();

const perEntryResults = [];
for (const size of SIZES) perEntryResults.push(await perEntry(size));
const floodResult = await flood(GARBAGE_CALLS);
await stub.close();
process.stdout.write(
  `${JSON.stringify({ tokenLength: sample.length, perEntry: perEntryResults, flood: floodResult })}\n`,
);
process.exit(0);
