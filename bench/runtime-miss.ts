/**
 * The miss path on each runtime that has both signature backends: Node (the reference), Bun and
 * Deno. Which backend a runtime uses is decided by what this measures (is its node:crypto faster)
 * and by the differential corpus (does it answer alike: `npm run test:runtimes`); see
 * src/core/verify/jws-backend.ts.
 *
 *   npm run bench:runtimes -- [--rounds <n>] [--passes <n>] [--pool <n>]
 *
 * The driver (this process, core 1) makes the keys, serves the JWKS on 127.0.0.1, mints POOL
 * distinct tokens per algorithm (RS256, ES256, EdDSA) and POOL DPoP-style proofs, bundles
 * bench/runtime-miss-entry.ts with the sources, and runs it on each runtime in turn, pinned to
 * core 0 (`taskset -c 0`: WebCrypto's threads share the core, as in bench/miss.ts), PASSES times
 * (runtimes alternate, so drift hits all alike). Inside a run the cases are interleaved over ROUNDS
 * rounds (see the entry). Reported: medians over every round of every pass, and the medians of the
 * per-round ratios WebCrypto ÷ node:crypto (above 1: node:crypto is faster). Around each run the
 * load average and the busy share of core 1 (other processes: this driver idles) are recorded.
 * Writes bench/results/runtime-miss.json.
 */
import { execFile, execFileSync } from 'node:child_process';
import { generateKeyPairSync, randomUUID, sign } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import type { JWK } from 'jose';
// @ts-expect-error: a plain .mjs script without types
import { CACHE, install, locate, RUNTIMES } from '../test/runtimes/install.mjs';
import { startJwksStub } from './lib/jwks-server.js';
import { root } from './lib/processes.js';
import { cpuDelta, cpuSnapshot, median, round } from './lib/stats.js';
import { generateKey, mintMany, type SigningAlg } from './lib/tokens.js';
import type { RuntimeMissInput, RuntimeMissOutput } from './runtime-miss-entry.js';

const args = process.argv.slice(2);
const option = (name: string, fallback: number): number => {
  const at = args.indexOf(`--${name}`);
  return at === -1 ? fallback : Number(args[at + 1] ?? fallback);
};
const ROUNDS = option('rounds', 8);
const PASSES = option('passes', 3);
const POOL = option('pool', 300);
const IN_FLIGHT = 16;
const ALGS: SigningAlg[] = ['RS256', 'ES256', 'EdDSA'];
const log = (line: string) => process.stderr.write(`${line}\n`);

interface RuntimeSpec {
  name: string;
  pkg: string;
  version: string;
}
const runtime = (name: string) => (RUNTIMES as RuntimeSpec[]).find((r) => r.name === name)!;
const bin = (name: string) => locate(runtime(name)).bin as string;

const b64 = (value: string | Uint8Array) => Buffer.from(value).toString('base64url');

/** POOL proofs by one fresh key: the header carries the jwk, as a DPoP proof's does. */
function proofsFor(alg: SigningAlg): Pick<RuntimeMissInput['algs'][number], 'proofs' | 'proofJwk'> {
  const { privateKey, publicKey } =
    alg === 'RS256'
      ? generateKeyPairSync('rsa', { modulusLength: 2048 })
      : alg === 'ES256'
        ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
        : generateKeyPairSync('ed25519');
  const full = publicKey.export({ format: 'jwk' }) as Record<string, string>;
  const names =
    full.kty === 'EC' ? ['crv', 'kty', 'x', 'y'] : full.kty === 'RSA' ? ['e', 'kty', 'n'] : ['crv', 'kty', 'x'];
  const proofJwk = Object.fromEntries(names.map((name) => [name, full[name]!]));
  const proofs = Array.from({ length: POOL }, () => {
    const header = { typ: 'dpop+jwt', alg, jwk: proofJwk };
    const claims = { jti: randomUUID(), htm: 'GET', htu: 'https://api.example.com/notes', iat: Date.now() / 1000 };
    const input = `${b64(JSON.stringify(header))}.${b64(JSON.stringify(claims))}`;
    const data = Buffer.from(input);
    const signature =
      alg === 'ES256'
        ? sign('sha256', data, { key: privateKey, dsaEncoding: 'ieee-p1363' })
        : sign(alg === 'EdDSA' ? null : 'sha256', data, privateKey);
    return { input, signature: b64(signature) };
  });
  return { proofs, proofJwk };
}

interface Target {
  name: string;
  label: string;
  command: (bundle: string, input: string) => [string, string[]];
}

function targets(): Target[] {
  return [
    {
      name: 'node24',
      label: `Node ${runtime('node24').version}`,
      command: (bundle, input) => [bin('node24'), [bundle, input]],
    },
    { name: 'bun', label: `Bun ${runtime('bun').version}`, command: (bundle, input) => [bin('bun'), [bundle, input]] },
    {
      name: 'deno',
      label: `Deno ${runtime('deno').version}`,
      command: (bundle, input) => [
        bin('deno'),
        ['run', '--no-prompt', '--allow-net=127.0.0.1', `--allow-read=${input}`, bundle, input],
      ],
    },
  ];
}

interface RunRecord {
  pass: number;
  runtime: string;
  seconds: number;
  load1: [number, number];
  /** Busy share of core 1 during the run (other processes; the driver idles), and steal on both cores. */
  otherCore: number;
  /** Share of core 0 other processes took during the run (its busy time less the runtime's own CPU). */
  othersOnCore0: number | null;
  steal: number;
}

async function main() {
  for (const name of ['node24', 'bun', 'deno']) if (install(runtime(name))) log(`installed ${name}`);
  const bundle = join(CACHE, 'bundles', 'runtime-miss.mjs');
  mkdirSync(join(CACHE, 'bundles'), { recursive: true });
  await build({
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    mainFields: ['module', 'main'],
    target: 'es2022',
    external: ['node:*'],
    logLevel: 'warning',
    entryPoints: [join(root, 'bench/runtime-miss-entry.ts')],
    outfile: bundle,
  });

  const keys = await Promise.all(ALGS.map((alg) => generateKey(alg)));
  const server = await startJwksStub(keys.map((k) => k.publicJwk as JWK));
  const site = { issuer: server.issuer, audience: 'https://api.bench.example' };
  const input: RuntimeMissInput = {
    ...site,
    rounds: ROUNDS,
    inFlight: IN_FLIGHT,
    algs: keys.map((key) => ({
      alg: key.alg,
      publicJwk: key.publicJwk as Record<string, string>,
      tokens: mintMany(key, site, POOL),
      ...proofsFor(key.alg),
    })),
  };
  const folder = mkdtempSync(join(tmpdir(), 'runtime-miss-'));
  const inputFile = join(folder, 'input.json');
  writeFileSync(inputFile, JSON.stringify(input));

  const outputs = new Map<string, RuntimeMissOutput[]>();
  const runs: RunRecord[] = [];
  try {
    for (let pass = 0; pass < PASSES; pass++) {
      for (const target of targets()) {
        const [file, argv] = target.command(bundle, inputFile);
        const before = cpuSnapshot();
        const load = loadavg()[0]!;
        const started = performance.now();
        // Asynchronously: this process serves the JWKS the runtime fetches.
        const { stdout } = await promisify(execFile)('taskset', ['-c', '0', file, ...argv], {
          encoding: 'utf8',
          maxBuffer: 64 * 1024 * 1024,
          env: { ...process.env, DENO_DIR: join(CACHE, 'deno-dir'), DENO_NO_UPDATE_CHECK: '1', NO_COLOR: '1' },
        });
        const delta = cpuDelta(before, cpuSnapshot());
        const elapsed = (performance.now() - started) / 1000;
        const output = JSON.parse(stdout.trim().split('\n').at(-1)!) as RuntimeMissOutput;
        outputs.set(target.label, [...(outputs.get(target.label) ?? []), output]);
        const record: RunRecord = {
          pass,
          runtime: target.label,
          seconds: round(elapsed, 1),
          load1: [round(load, 2), round(loadavg()[0]!, 2)],
          otherCore: delta.cpu1?.busy ?? NaN,
          othersOnCore0:
            output.cpuSeconds === null
              ? null
              : round(Math.max(0, (delta.cpu0?.busy ?? NaN) - output.cpuSeconds / elapsed), 3),
          steal: Math.max(delta.cpu0?.steal ?? 0, delta.cpu1?.steal ?? 0),
        };
        runs.push(record);
        log(
          `pass ${pass + 1}/${PASSES} ${target.label}: ${record.seconds} s, load ${record.load1.join('→')}, ` +
            `others on core 0 ${record.othersOnCore0}, core 1 busy ${record.otherCore}, steal ${record.steal}`,
        );
      }
    }
  } finally {
    rmSync(folder, { recursive: true, force: true });
    await server.close();
  }

  // samples[runtime][alg][case] over every round of every pass; ratios per round.
  const results: Record<string, unknown> = {};
  const rows: string[] = [];
  const pairs = [
    ['verifier, one at a time', 'verifier, node:crypto, one at a time', 'verifier, WebCrypto, one at a time'],
    [
      `verifier, ${IN_FLIGHT} in flight`,
      `verifier, node:crypto, ${IN_FLIGHT} in flight`,
      `verifier, WebCrypto, ${IN_FLIGHT} in flight`,
    ],
    ['DPoP proof, known key', 'DPoP proof, node:crypto', 'DPoP proof, WebCrypto'],
    ['DPoP proof, new key', 'DPoP new key, node:crypto', 'DPoP new key, WebCrypto'],
  ] as const;
  for (const [label, list] of outputs) {
    const perRuntime: Record<string, unknown> = { defaultBackend: list[0]!.defaultBackend };
    for (const alg of ALGS) {
      const merged: Record<string, number[]> = {};
      for (const output of list)
        for (const [name, values] of Object.entries(output.samples[alg]!)) (merged[name] ??= []).push(...values);
      const medians = Object.fromEntries(Object.entries(merged).map(([name, v]) => [name, round(median(v), 1)]));
      const ratios: Record<string, number> = {};
      for (const [what, node, web] of pairs) {
        ratios[what] = round(median(merged[web]!.map((w, i) => w / merged[node]![i]!)), 2);
        rows.push(
          `| ${label} | ${alg} | ${what} | ${medians[node]} | ${medians[web]} | ${ratios[what]}× |` +
            (what === 'verifier, one at a time' ? ` ${medians['crypto.verify floor']} |` : ' |'),
        );
      }
      perRuntime[alg] = { medianUs: medians, webCryptoOverNodeCrypto: ratios };
    }
    results[label] = perRuntime;
  }
  const loads = runs.flatMap((r) => r.load1);
  const others = runs.map((r) => r.otherCore);
  const core0 = runs.flatMap((r) => (r.othersOnCore0 === null ? [] : [r.othersOnCore0]));
  const md = [
    `Machine: load average ${Math.min(...loads)}–${Math.max(...loads)}, other processes on core 0 ` +
      `${Math.min(...core0)}–${Math.max(...core0)} of it, core 1 ${Math.min(...others)}–${Math.max(...others)} busy, ` +
      `steal ≤ ${Math.max(...runs.map((r) => r.steal))}; ` +
      `${PASSES} passes × ${ROUNDS} rounds, ${POOL} tokens / proofs per case and round.`,
    '',
    '| runtime | alg | case | node:crypto µs | WebCrypto µs | node:crypto speed-up | crypto.verify floor µs |',
    '| --- | --- | --- | ---: | ---: | ---: | ---: |',
    ...rows,
  ].join('\n');
  const report = {
    machine: {
      cpu: cpus()[0]?.model ?? 'unknown',
      cores: cpus().length,
      date: new Date().toISOString(),
      commit: execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim(),
      runs,
    },
    settings: { rounds: ROUNDS, passes: PASSES, pool: POOL, inFlight: IN_FLIGHT },
    results,
    samplesUs: Object.fromEntries([...outputs].map(([label, list]) => [label, list.map((o) => o.samples)])),
  };
  await writeFile(join(root, 'bench/results/runtime-miss.json'), `${JSON.stringify(report, null, 2)}\n`);
  process.stdout.write(`${md}\n`);
}

await main();
