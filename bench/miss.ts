/**
 * The miss path in process: what one verification of a token nobody has seen costs, for our
 * verifier on each signature backend and for its peers, RS256, ES256 and EdDSA, one at a time and
 * 16 in flight. Every verification is of another token (a pool of POOL distinct tokens per
 * algorithm; nothing caches results: `cache: false`, jose and fast-jwt without their caches).
 *
 *   npm run bench:miss -- [--rounds <n>] [--pool <n>]   (builds dist/, then runs pinned: taskset -c 0)
 *
 * Cases, interleaved in every round (the order rotates, so drift and warm-up hit all alike), each
 * compared with the others *of its own round*; the medians of those per-round ratios are reported:
 *   ours (node:crypto)   createVerifier({ cache: false }), the default backend on Node
 *   ours, revocations held  the same with HELD token revocations in its list: a miss then also takes
 *                        the SHA-256 its revocation is looked up by (skipped while the list holds none)
 *   ours (WebCrypto)     the same verifier on jose's WebCrypto backend (what runs off Node)
 *   jose jwtVerify       bare jose over createLocalJWKSet, the JWKS ours uses too
 *   fast-jwt, no cache   fast-jwt's verifier with `cache: false`, its key a function over get-jwks (as
 *                        a JWKS needs: fast-jwt then costs several times more than with a fixed key)
 *   fast-jwt, fixed key  the same with the issuer's one PEM key given directly (no JWKS, no key
 *                        function): fast-jwt at its fastest, the peer the targets are judged against
 *   crypto.verify floor  node's one-shot verify on a prepared KeyObject, inputs decoded beforehand
 *
 * The whole process runs on one core, WebCrypto's thread pool included (the issue's setting).
 * Load average and other processes' CPU are recorded per round: the machine may be shared.
 * Writes bench/results/miss.json.
 */
import { createPublicKey, verify as nodeVerify } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { createLocalJWKSet, jwtVerify } from 'jose';
// The built package, as users run it (the npm script builds it first): tsx's transform of src/
// adds work to every call (a `__name` property definition per inner function), ~7 % of a miss.
import { forceJwsBackendForTests, jwsBackend } from '../dist/core/verify/jws-backend.js';
import { createVerifier } from '../dist/index.js';
import { startJwksStub } from './lib/jwks-server.js';
import { root } from './lib/processes.js';
import { busySeconds, cpuSnapshot, median, round } from './lib/stats.js';
import { accessClaims, badTokens, type BenchKey, generateKey, mint, type SigningAlg } from './lib/tokens.js';

const args = process.argv.slice(2);
const option = (name: string, fallback: number): number => {
  const at = args.indexOf(`--${name}`);
  return at === -1 ? fallback : Number(args[at + 1] ?? fallback);
};
const ROUNDS = option('rounds', 12);
const POOL = option('pool', 400);
const IN_FLIGHT = 16;
const HELD = 1_000;
const ALGS: SigningAlg[] = ['RS256', 'ES256', 'EdDSA'];
const log = (line: string) => process.stderr.write(`${line}\n`);
const CLOCKS = ['cpu', 'wall'] as const;
type Clock = (typeof CLOCKS)[number];

type Verify = (token: string) => Promise<unknown> | unknown;
interface Case {
  name: string;
  verify: Verify;
}

async function fastJwtNoCache(issuer: string, audience: string, jwksUri: string): Promise<Verify> {
  const { createVerifier: createFastVerifier } = await import('fast-jwt');
  const { default: buildGetJwks } = await import('get-jwks');
  const getJwks = buildGetJwks({ jwksPath: new URL(jwksUri).pathname });
  // get-jwks fetches and caches the JWKS; the PEM a key function hands fast-jwt is made once per
  // kid here (get-jwks' own getPublicKey converts with pure-JS jwk-to-pem on every call, which
  // costs milliseconds for EC keys, and has no OKP): what a user tuning fast-jwt would do, so only
  // fast-jwt's own work is timed.
  const pems = new Map<string, Promise<string>>();
  const pemFor = (kid = '', alg = ''): Promise<string> => {
    let pem = pems.get(kid);
    if (pem === undefined) {
      pem = getJwks
        .getJwk({ kid, alg, domain: issuer })
        .then(
          (jwk) =>
            createPublicKey({ key: jwk as never, format: 'jwk' }).export({ type: 'spki', format: 'pem' }) as string,
        );
      pems.set(kid, pem);
    }
    return pem;
  };
  return createFastVerifier({
    key: async ({ header }: { header: { kid?: string; alg?: string } }) => pemFor(header.kid, header.alg),
    cache: false,
    allowedIss: issuer,
    allowedAud: audience,
  }) as Verify;
}

/** fast-jwt with one known key as a PEM string: no key function, no JWKS. */
async function fastFixedFor(): Promise<(key: BenchKey, site: { issuer: string; audience: string }) => Verify> {
  const { createVerifier: createFastVerifier } = await import('fast-jwt');
  const made = new Map<BenchKey, Verify>();
  return (key, site) => {
    let verify = made.get(key);
    if (verify === undefined) {
      const pem = createPublicKey({ key: key.publicJwk as never, format: 'jwk' }).export({
        type: 'spki',
        format: 'pem',
      });
      verify = createFastVerifier({
        key: pem as string,
        cache: false,
        allowedIss: site.issuer,
        allowedAud: site.audience,
      }) as Verify;
      made.set(key, verify);
    }
    return verify;
  };
}

/** node's verify alone: the signature check every case must make, with nothing around it. */
function floor(key: BenchKey, tokens: string[]): Verify {
  const publicKey = createPublicKey({ key: key.publicJwk as never, format: 'jwk' });
  const prepared = new Map(
    tokens.map((token) => {
      const last = token.lastIndexOf('.');
      return [
        token,
        { data: Buffer.from(token.slice(0, last)), signature: Buffer.from(token.slice(last + 1), 'base64url') },
      ];
    }),
  );
  const hash = key.alg === 'EdDSA' ? null : 'sha256';
  const keyInput = key.alg === 'ES256' ? { key: publicKey, dsaEncoding: 'ieee-p1363' as const } : publicKey;
  return (token) => {
    const { data, signature } = prepared.get(token)!;
    if (!nodeVerify(hash, data, keyInput, signature)) throw new Error('floor: signature invalid');
    return true;
  };
}

/**
 * µs per verification over the whole pool, sequentially or with `inFlight` verifications pending at
 * once: wall-clock, and CPU time of this process (every thread: WebCrypto's pool included), which
 * other work on a shared machine inflates less.
 */
async function timePool(verify: Verify, tokens: string[], inFlight: number): Promise<{ wall: number; cpu: number }> {
  const cpu = process.cpuUsage();
  const started = performance.now();
  if (inFlight === 1) {
    for (const token of tokens) await verify(token);
  } else {
    let next = 0;
    const worker = async () => {
      while (next < tokens.length) await verify(tokens[next++]!);
    };
    await Promise.all(Array.from({ length: inFlight }, worker));
  }
  const used = process.cpuUsage(cpu);
  return {
    wall: ((performance.now() - started) * 1000) / tokens.length,
    cpu: (used.user + used.system) / tokens.length,
  };
}

async function main() {
  const keys = Object.fromEntries(await Promise.all(ALGS.map(async (alg) => [alg, await generateKey(alg)] as const)));
  const jwksKeys = ALGS.map((alg) => keys[alg]!.publicJwk);
  const server = await startJwksStub(jwksKeys);
  const site = { issuer: server.issuer, audience: 'https://api.bench.example' };
  const started = performance.now();
  const pools = Object.fromEntries(
    ALGS.map((alg) => [alg, Array.from({ length: POOL }, () => mint(keys[alg]!, accessClaims(site)))]),
  ) as Record<SigningAlg, string[]>;
  log(`${3 * POOL} tokens minted in ${((performance.now() - started) / 1000).toFixed(1)} s`);

  const node = createVerifier({ ...site, cache: false });
  // Other tokens of the same issuer, invalidated: the pools' tokens stay valid, the list is not empty.
  const held = createVerifier({ ...site, cache: false });
  for (let i = 0; i < HELD; i++) await held.invalidate(mint(keys.ES256!, accessClaims(site)));
  forceJwsBackendForTests(jwsBackend('webcrypto'));
  const web = createVerifier({ ...site, cache: false });
  forceJwsBackendForTests(undefined);
  const localJwks = createLocalJWKSet({ keys: jwksKeys });
  const fast = await fastJwtNoCache(site.issuer, site.audience, server.jwksUri);
  const fastFixed = await fastFixedFor();
  const casesFor = (alg: SigningAlg): Case[] => [
    { name: 'ours (node:crypto)', verify: (t) => node.verify(t) },
    { name: 'ours, revocations held', verify: (t) => held.verify(t) },
    { name: 'ours (WebCrypto)', verify: (t) => web.verify(t) },
    { name: 'jose jwtVerify', verify: (t) => jwtVerify(t, localJwks, site) },
    { name: 'fast-jwt, no cache', verify: fast },
    { name: 'fast-jwt, fixed key', verify: fastFixed(keys[alg]!, site) },
    { name: 'crypto.verify floor', verify: floor(keys[alg]!, pools[alg]) },
  ];

  // Every case accepts a genuine token and refuses forged and tampered ones before it is measured.
  for (const alg of ALGS) {
    const bad = await badTokens(keys[alg]!, site);
    for (const c of casesFor(alg)) {
      await c.verify(pools[alg][0]!);
      if (c.name === 'crypto.verify floor') continue;
      for (const token of [bad.forged, bad.tampered]) {
        const refused = await Promise.resolve()
          .then(() => c.verify(token))
          .then(
            () => false,
            () => true,
          );
        if (!refused) throw new Error(`${c.name} accepted a bad ${alg} token`);
      }
    }
  }

  const modes = [
    { name: 'one at a time', inFlight: 1 },
    { name: `${IN_FLIGHT} in flight`, inFlight: IN_FLIGHT },
  ];
  // Warm-up: one untimed pass of everything (JIT, key preparation, thread pool start).
  for (const alg of ALGS)
    for (const c of casesFor(alg)) for (const m of modes) await timePool(c.verify, pools[alg], m.inFlight);

  /** µs per verification: samples[clock][alg][mode][case] = one value per round. */
  const samples: Record<Clock, Record<string, Record<string, Record<string, number[]>>>> = { cpu: {}, wall: {} };
  const machine: Array<{ round: number; load1: number; otherCores: number }> = [];
  for (let r = 0; r < ROUNDS; r++) {
    const before = cpuSnapshot();
    const self = process.cpuUsage();
    const t0 = performance.now();
    for (const alg of ALGS) {
      for (const m of modes) {
        const cases = casesFor(alg);
        const rotated = [...cases.slice(r % cases.length), ...cases.slice(0, r % cases.length)];
        for (const c of rotated) {
          const us = await timePool(c.verify, pools[alg], m.inFlight);
          for (const clock of CLOCKS) (((samples[clock][alg] ??= {})[m.name] ??= {})[c.name] ??= []).push(us[clock]);
        }
      }
    }
    const elapsed = (performance.now() - t0) / 1000;
    const used = process.cpuUsage(self);
    const others = busySeconds(cpuSnapshot()) - busySeconds(before) - (used.user + used.system) / 1e6;
    machine.push({ round: r, load1: round(loadavg()[0]!, 2), otherCores: round(Math.max(0, others / elapsed), 2) });
    log(
      `round ${r + 1}/${ROUNDS}: ${elapsed.toFixed(1)} s, load ${loadavg()[0]!.toFixed(2)}, others ${(others / elapsed).toFixed(2)} cores`,
    );
  }

  const results: Record<string, unknown> = {};
  const tables: string[] = [];
  for (const clock of CLOCKS) {
    const ratio = (alg: string, mode: string, a: string, b: string) =>
      median(samples[clock][alg]![mode]![a]!.map((value, i) => value / samples[clock][alg]![mode]![b]![i]!));
    const rows: string[] = [];
    for (const alg of ALGS) {
      for (const m of modes) {
        const perCase = samples[clock][alg]![m.name]!;
        const medians = Object.fromEntries(
          Object.entries(perCase).map(([name, values]) => [name, round(median(values), 1)]),
        );
        const summary = {
          medianUs: medians,
          // Speed ratios (>1: ours is faster), medians of the per-round ratios.
          oursOverFastJwt: round(ratio(alg, m.name, 'fast-jwt, fixed key', 'ours (node:crypto)'), 3),
          oursOverFastJwtJwks: round(ratio(alg, m.name, 'fast-jwt, no cache', 'ours (node:crypto)'), 3),
          oursOverJose: round(ratio(alg, m.name, 'jose jwtVerify', 'ours (node:crypto)'), 3),
          webCryptoOverJose: round(ratio(alg, m.name, 'jose jwtVerify', 'ours (WebCrypto)'), 3),
          // Cost ratio: how many floors one of our verifications costs.
          oursPerFloor: round(ratio(alg, m.name, 'ours (node:crypto)', 'crypto.verify floor'), 2),
          // What holding token revocations adds to a miss (cost, >1: slower).
          heldPerOurs: round(ratio(alg, m.name, 'ours, revocations held', 'ours (node:crypto)'), 3),
        };
        ((results[clock] ??= {}) as Record<string, unknown>)[`${alg}, ${m.name}`] = summary;
        rows.push(
          `| ${alg}, ${m.name} | ${medians['ours (node:crypto)']} | ${medians['ours, revocations held']} | ${medians['ours (WebCrypto)']} | ${medians['jose jwtVerify']} | ${medians['fast-jwt, no cache']} | ${medians['fast-jwt, fixed key']} | ${medians['crypto.verify floor']} | ${summary.oursOverFastJwt}× | ${summary.oursOverJose}× | ${summary.webCryptoOverJose}× | ${summary.oursPerFloor}× | ${summary.heldPerOurs}× |`,
        );
      }
    }
    tables.push(
      [
        `${clock === 'cpu' ? 'CPU time of the process' : 'Wall-clock time'}, µs per verification (medians of ${ROUNDS} rounds, ${POOL} tokens per case and round):`,
        '',
        `| case | ours (node:crypto) | ours, ${HELD} revocations held | ours (WebCrypto) | jose jwtVerify | fast-jwt, no cache (JWKS key fn) | fast-jwt, fixed key | crypto.verify floor | ours vs fast-jwt fixed key (speed) | ours vs jose (speed) | ours WebCrypto vs jose (speed) | ours / floor (cost) | held / ours (cost) |`,
        '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
        ...rows,
      ].join('\n'),
    );
  }
  const load = machine.map((m) => m.load1);
  const others = machine.map((m) => m.otherCores);
  const md = [
    `Machine during the run: load average ${Math.min(...load)}–${Math.max(...load)}, other processes ${Math.min(...others)}–${Math.max(...others)} cores (of ${cpus().length}).`,
    '',
    ...tables.flatMap((t) => [t, '']),
  ].join('\n');
  const report = {
    machine: {
      cpu: cpus()[0]?.model ?? 'unknown',
      cores: cpus().length,
      node: process.version,
      date: new Date().toISOString(),
      affinity: /Cpus_allowed_list:\s*(\S+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1],
      rounds: machine,
    },
    settings: {
      rounds: ROUNDS,
      pool: POOL,
      inFlight: IN_FLIGHT,
      tokenLength: Object.fromEntries(ALGS.map((a) => [a, pools[a][0]!.length])),
    },
    results,
    samplesUs: samples,
  };
  await writeFile(join(root, 'bench/results/miss.json'), `${JSON.stringify(report, null, 2)}\n`);
  process.stdout.write(`${md}\n`);
  await node.close();
  await held.close();
  await web.close();
  await server.close();
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
