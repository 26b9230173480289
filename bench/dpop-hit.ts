/**
 * What a DPoP request (RFC 9449) costs on a cache hit, in process, next to a plain Bearer hit
 * (issue 13). The access token is cached; the proof never is: every DPoP request decodes its
 * proof, checks its signature with its own key (prepared once per key: an LRU of 1 024), its
 * htm/htu/ath/iat, and claims its `jti` once in the store — the memory store in this process, or
 * Redis (one `SET NX` round trip, shared by every instance). The signature goes through the access
 * tokens' backend: on Node, node:crypto's one-shot `verify` on a KeyObject made from the JWK.
 *
 * Cases, interleaved in each round (the order rotates) and each compared with the Bearer hit of
 * its own round:
 *  - Bearer hit: the authenticator answering a cached unbound token synchronously (what the
 *    Express guard does on a hit);
 *  - DPoP hit, memory store / Redis store: one client key (its prepared key cached);
 *  - DPoP hit, 2 000 clients, memory store: a key per client, more than the key cache holds, so
 *    every request prepares its key again;
 *  - with `--before <commit>`, the three DPoP cases again on that commit's src/ (loaded in this
 *    process, so both trees share every round: the before/after comparison of one run);
 *  - Redis claimOnce alone: the store's `SET NX` round trip, awaited;
 *  - the proof's signature alone, three ways: WebCrypto's `subtle.verify` (what the proof check
 *    runs off Node), jose's `jwtVerify` with the key imported (what it ran at first: it parses the
 *    JWS and its claims again), and node:crypto's one-shot `verify` on a KeyObject (what it runs
 *    on Node).
 * Every request is built before its timed batch (a fresh header string and a fresh proof, signed
 * with node:crypto): building is not counted. Time is the process's CPU time (`process.cpuUsage`,
 * every thread: WebCrypto's work on the thread pool included) and the wall clock; one request at a
 * time, and 32 in flight (what a busy server has: Redis answers the claims of concurrent requests
 * from one connection, so their round trips overlap).
 *
 *   npm run bench:dpop -- [--before <commit>] [--rounds <n>] [--min-ms <ms>]
 *   → bench/results/dpop-hit.json (REDIS_URL, default redis://127.0.0.1:6379)
 */
import {
  createHash,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  randomBytes,
  randomUUID,
  sign,
  verify,
} from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type CryptoKey, calculateJwkThumbprint, importJWK, type JWK, jwtVerify } from 'jose';
import { do_not_optimize } from 'mitata';
import * as current from '../src/index.js';
import type { Authentication, RequestLike } from '../src/index.js';
import { startJwksStub } from './lib/jwks-server.js';
import { root } from './lib/processes.js';
import { median, round } from './lib/stats.js';
import { accessClaims, generateKey, mint } from './lib/tokens.js';

const args = process.argv.slice(2);
const option = (name: string, fallback: string): string => {
  const at = args.indexOf(`--${name}`);
  return at === -1 ? fallback : (args[at + 1] ?? fallback);
};
const beforeCommit = args.includes('--before') ? option('before', '') : undefined;
const rounds = Number(option('rounds', '8'));
const minCpuUs = Number(option('min-ms', '300')) * 1e3;
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const PUBLIC_URL = 'https://api.example.com';
const BATCH = 1_000;
const CLIENTS = 2_000;

/** A client's proof key: node:crypto signs thousands of proofs a second, untimed. */
interface ProofKey {
  privateKey: KeyObject;
  header: string;
  jkt: string;
  jwk: JWK;
}

async function proofKey(): Promise<ProofKey> {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const { kty, crv, x, y } = publicKey.export({ format: 'jwk' }) as JWK;
  const jwk = { kty, crv, x, y };
  const header = b64(JSON.stringify({ typ: 'dpop+jwt', alg: 'ES256', jwk }));
  return { privateKey, header, jkt: await calculateJwkThumbprint(jwk), jwk };
}

const b64 = (value: string | Buffer): string => Buffer.from(value).toString('base64url');

function proof(key: ProofKey, token: string): string {
  const claims = {
    jti: randomUUID(),
    htm: 'GET',
    htu: `${PUBLIC_URL}/notes`,
    iat: Math.floor(Date.now() / 1000),
    ath: createHash('sha256').update(token).digest('base64url'),
  };
  const input = `${key.header}.${b64(JSON.stringify(claims))}`;
  const signature = sign('sha256', Buffer.from(input), { key: key.privateKey, dsaEncoding: 'ieee-p1363' });
  return `${input}.${signature.toString('base64url')}`;
}

/** A copy with its own identity and no cached hash, as a fresh request header would be. */
const fresh = (value: string): string => ` ${value}`.slice(1);

const signingKey = await generateKey('RS256');
const stub = await startJwksStub([signingKey.publicJwk]);
const site = { issuer: stub.issuer, audience: 'notes-api' };
// A 10 s window keeps the memory store's live claims (one per proof) far below its 100 000 cap.
const dpopOptions = { ...site, publicUrl: PUBLIC_URL, dpop: { iatWindow: 10 }, cache: { max: 20_000 } };
const scopes = ['notes:read'];

/** One tree's verifiers (memory and Redis store) and authenticators. */
function side(library: typeof current) {
  const memoryVerifier = library.createVerifier(dpopOptions);
  const redisStore = library.createRedisStore({
    url: REDIS_URL,
    keyPrefix: `rjwt-bench-dpop:${randomBytes(6).toString('hex')}:`,
  });
  const redisVerifier = library.createVerifier({ ...dpopOptions, store: redisStore });
  return {
    memoryVerifier,
    redisVerifier,
    redisStore,
    memoryAuth: library.createAuthenticator({ verifier: memoryVerifier, scopes }),
    redisAuth: library.createAuthenticator({ verifier: redisVerifier, scopes }),
    close: async () => {
      await Promise.all([memoryVerifier.close(), redisVerifier.close()]);
      await redisStore.close();
    },
  };
}

const repo = resolve(import.meta.dirname, '..');
let beforeDir: string | undefined;
let beforeLibrary: typeof current | undefined;
if (beforeCommit !== undefined) {
  beforeDir = mkdtempSync(join(tmpdir(), 'revocable-jwt-before-'));
  execFileSync('sh', ['-c', `git -C "${repo}" archive "${beforeCommit}" src | tar -x -C "${beforeDir}"`]);
  symlinkSync(join(repo, 'node_modules'), join(beforeDir, 'node_modules'));
  beforeLibrary = (await import(pathToFileURL(join(beforeDir, 'src/index.ts')).href)) as typeof current;
}
const after = side(current);
const before = beforeLibrary && side(beforeLibrary);
const { memoryVerifier, redisStore } = after;
const bearerAuth = current.createAuthenticator({ verifier: memoryVerifier, scopes });

const bearerToken = mint(signingKey, accessClaims(site));
const client = await proofKey();
const boundToken = mint(signingKey, { ...accessClaims(site), cnf: { jkt: client.jkt } });
const clients = await Promise.all(
  Array.from({ length: CLIENTS }, async () => {
    const key = await proofKey();
    return { key, token: mint(signingKey, { ...accessClaims(site), cnf: { jkt: key.jkt } }) };
  }),
);

const bearerRequest = (): RequestLike => ({
  method: 'GET',
  url: '/notes',
  headers: { authorization: fresh(`Bearer ${bearerToken}`) },
});
const dpopRequest = (key: ProofKey, token: string): RequestLike => ({
  method: 'GET',
  url: '/notes',
  headers: { authorization: `DPoP ${token}`, dpop: proof(key, token) },
});
let next = 0;
const manyClientsRequest = (): RequestLike => {
  const { key, token } = clients[next++ % CLIENTS]!;
  return dpopRequest(key, token);
};

// Prime: keys fetched, every token cached; each path admits.
const expectAdmitted = async (answer: Authentication | Promise<Authentication>, what: string) => {
  const settled = await answer;
  if (!settled.ok) throw new Error(`${what} refused: ${settled.error.reason}`);
};
await expectAdmitted(bearerAuth(bearerRequest()), 'Bearer');
for (const [name, tree] of Object.entries({ after, before })) {
  if (tree === undefined) continue;
  await expectAdmitted(tree.memoryAuth(dpopRequest(client, boundToken)), `DPoP (memory, ${name})`);
  await expectAdmitted(tree.redisAuth(dpopRequest(client, boundToken)), `DPoP (Redis, ${name})`);
  for (const { token } of clients) await tree.memoryVerifier.verify(token);
}
if (bearerAuth(bearerRequest()) instanceof Promise) throw new Error('the Bearer hit was not synchronous');

interface Case {
  make: () => unknown;
  call: (input: never) => unknown;
}
const dpopCases = (tree: ReturnType<typeof side>, suffix: string): Record<string, Case> => ({
  [`DPoP hit, memory store${suffix}`]: {
    make: () => dpopRequest(client, boundToken),
    call: (request: RequestLike) => tree.memoryAuth(request),
  },
  [`DPoP hit, Redis store${suffix}`]: {
    make: () => dpopRequest(client, boundToken),
    call: (request: RequestLike) => tree.redisAuth(request),
  },
  [`DPoP hit, 2 000 clients (key prepared each time), memory store${suffix}`]: {
    make: manyClientsRequest,
    call: (request: RequestLike) => tree.memoryAuth(request),
  },
});
const cases: Record<string, Case> = {
  'Bearer hit': { make: bearerRequest, call: (request: RequestLike) => bearerAuth(request) },
  ...dpopCases(after, ''),
  ...(before === undefined ? {} : dpopCases(before, ` (before: ${beforeCommit})`)),
  'Redis claimOnce alone': {
    make: () => `claim:${randomUUID()}`,
    call: (key: string) => redisStore.claimOnce(key, 10_000),
  },
};
// The signature alone, on proofs made before each batch.
const importedKey = (await importJWK(client.jwk, 'ES256')) as CryptoKey;
const keyObject = createPublicKey({ key: client.jwk as never, format: 'jwk' });
const signed = () => {
  const jws = proof(client, boundToken);
  const dot = jws.lastIndexOf('.');
  return { jws, data: Buffer.from(jws.slice(0, dot)), signature: Buffer.from(jws.slice(dot + 1), 'base64url') };
};
type Signed = ReturnType<typeof signed>;
cases['proof signature: jose jwtVerify (WebCrypto)'] = {
  make: signed,
  call: ({ jws }: Signed) => jwtVerify(jws, importedKey, { typ: 'dpop+jwt', algorithms: ['ES256'] }).then(() => true),
};
cases['proof signature: subtle.verify'] = {
  make: signed,
  call: ({ data, signature }: Signed) =>
    crypto.subtle.verify({ name: 'ECDSA', hash: 'SHA-256' }, importedKey, signature, data),
};
cases['proof signature: node:crypto one-shot verify'] = {
  make: signed,
  call: ({ data, signature }: Signed) =>
    verify('sha256', data, { key: keyObject, dsaEncoding: 'ieee-p1363' }, signature),
};
const names = Object.keys(cases);

interface Sample {
  cpuNs: number;
  wallNs: number;
}

/**
 * CPU and wall nanoseconds per request, `inFlight` at a time, over batches until `--min-ms` of
 * CPU time is spent (after a warm-up batch). Each answer is checked: a refusal fails the run.
 */
async function measure({ make, call }: Case, inFlight: number): Promise<Sample> {
  const run = call as (input: unknown) => unknown;
  const once = async (inputs: unknown[]) => {
    if (inFlight === 1) {
      for (const input of inputs) check(await run(input));
      return;
    }
    for (let i = 0; i < inputs.length; i += inFlight) {
      const answers = await Promise.all(inputs.slice(i, i + inFlight).map(run));
      for (const answer of answers) check(answer);
    }
  };
  await once(Array.from({ length: BATCH }, make));
  let calls = 0;
  let cpuUs = 0;
  let wallMs = 0;
  while (cpuUs < minCpuUs) {
    const inputs = Array.from({ length: BATCH }, make);
    const cpu = process.cpuUsage();
    const wall = performance.now();
    await once(inputs);
    wallMs += performance.now() - wall;
    const used = process.cpuUsage(cpu);
    cpuUs += used.user + used.system;
    calls += BATCH;
  }
  return { cpuNs: (cpuUs * 1e3) / calls, wallNs: (wallMs * 1e6) / calls };
}

function check(answer: unknown): void {
  do_not_optimize(answer);
  if (typeof answer === 'object' && answer !== null && (answer as Authentication).ok === false)
    throw new Error(`refused during the run: ${(answer as { error: { reason: string } }).error.reason}`);
  if (answer === false) throw new Error('a claim was refused during the run');
}

const results: Record<string, unknown> = {};
const loads: number[] = [];
for (const inFlight of [1, 32]) {
  const samples: Record<string, Sample[]> = Object.fromEntries(names.map((name) => [name, []]));
  console.log(`\n${inFlight} in flight: ${rounds} rounds, per request (CPU µs / wall µs)`);
  for (let r = 0; r < rounds; r++) {
    const order = names.map((_, i) => names[(i + r) % names.length]!);
    for (const name of order) samples[name]!.push(await measure(cases[name]!, inFlight));
    loads.push(loadavg()[0]!);
  }
  const perCase: Record<string, unknown> = {};
  for (const name of names) {
    const own = samples[name]!;
    const bearer = samples['Bearer hit']!;
    const us = (values: number[]) => round(median(values) / 1e3, 2);
    const spread = (values: number[]) => ({
      median: us(values),
      min: round(Math.min(...values) / 1e3, 2),
      max: round(Math.max(...values) / 1e3, 2),
    });
    const cpuUs = spread(own.map((s) => s.cpuNs));
    const wallUs = spread(own.map((s) => s.wallNs));
    let line = `  ${name}: ${cpuUs.median} / ${wallUs.median}`;
    if (name.startsWith('DPoP')) {
      const addedCpuUs = spread(own.map((s, i) => s.cpuNs - bearer[i]!.cpuNs));
      const addedWallUs = spread(own.map((s, i) => s.wallNs - bearer[i]!.wallNs));
      perCase[name] = { cpuUs, wallUs, addedCpuUs, addedWallUs };
      line += `; over Bearer: +${addedCpuUs.median} CPU / +${addedWallUs.median} wall`;
      // This tree against the before tree, round by round: the CPU time the change saves per request.
      const twin = beforeCommit === undefined ? undefined : samples[`${name} (before: ${beforeCommit})`];
      if (twin !== undefined) {
        const savedCpuUs = spread(own.map((s, i) => twin[i]!.cpuNs - s.cpuNs));
        const cpuRatio = round(median(own.map((s, i) => s.cpuNs / twin[i]!.cpuNs)), 3);
        perCase[name] = { ...(perCase[name] as object), savedCpuUs, cpuRatio };
        line += `; saved vs before: ${savedCpuUs.median} CPU (after/before ${cpuRatio})`;
      }
    } else perCase[name] = { cpuUs, wallUs };
    console.log(line);
  }
  results[`${inFlight} in flight`] = perCase;
}

const report = {
  date: new Date().toISOString(),
  node: process.version,
  before: beforeCommit,
  rounds,
  batch: BATCH,
  minCpuMsPerSample: minCpuUs / 1e3,
  tokenChars: boundToken.length,
  proofChars: proof(client, boundToken).length,
  loadAverage1: {
    median: round(median(loads), 2),
    min: round(Math.min(...loads), 2),
    max: round(Math.max(...loads), 2),
  },
  results,
};
writeFileSync(resolve(root, 'bench/results/dpop-hit.json'), `${JSON.stringify(report, null, 2)}\n`);
console.log(`\nload average (1 min) during the run: ${JSON.stringify(report.loadAverage1)}`);
await after.close();
await before?.close();
await stub.close();
if (beforeDir !== undefined) rmSync(beforeDir, { recursive: true, force: true });
