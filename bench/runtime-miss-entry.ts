/**
 * The runtime side of bench/runtime-miss.ts (bundled by it with the sources and run on Node, Bun
 * and Deno, pinned to one core): what one miss costs on each signature backend of *this* runtime.
 * Reads its input from the file named by its first argument (keys, tokens and proofs minted by
 * the driver), prints one JSON line of samples. No node:os, no /proc: the driver records the
 * machine's load around each run.
 *
 * Cases per algorithm (RS256, ES256, EdDSA), interleaved in every round (the order rotates):
 *   verifier, node:crypto / WebCrypto   createVerifier({ cache: false }).verify(token), every token
 *                                       new (the miss path end to end: parse, key, signature, claims)
 *   DPoP proof, node:crypto / WebCrypto a proof by a key seen before: its signature check alone
 *   DPoP new key, node:crypto / WebCrypto the proof's key prepared (embeddedKey) and one check
 *   crypto.verify floor                 node:crypto's one-shot verify on a prepared KeyObject
 * The verifier cases run one at a time and 16 in flight; the others one at a time.
 */
import { Buffer } from 'node:buffer';
import { createPublicKey, verify as nodeVerify } from 'node:crypto';
import { readFileSync } from 'node:fs';
import {
  defaultJwsBackend,
  forceJwsBackendForTests,
  type JwsBackend,
  jwsBackend,
} from '../src/core/verify/jws-backend.js';
import { jsRuntime } from '../src/core/verify/js-runtime.js';
import { createVerifier } from '../src/index.js';

declare const Deno: { args: string[] } | undefined;

/** What the driver writes: one entry per algorithm. */
export interface RuntimeMissInput {
  issuer: string;
  audience: string;
  rounds: number;
  inFlight: number;
  algs: Array<{
    alg: string;
    /** The public JWK as the JWKS publishes it. */
    publicJwk: Record<string, string>;
    /** Distinct access tokens (every verification a miss). */
    tokens: string[];
    /** DPoP-style JWSs: signing input and signature (base64url), by the key below. */
    proofs: Array<{ input: string; signature: string }>;
    /** The proofs' public key (RFC 7638 members only). */
    proofJwk: Record<string, string>;
  }>;
}

/** µs per operation: samples[alg][case] = one value per round. */
export interface RuntimeMissOutput {
  runtime: string;
  version: string;
  defaultBackend: string;
  samples: Record<string, Record<string, number[]>>;
  /** CPU seconds this process used (every thread), or null where the runtime cannot tell. */
  cpuSeconds: number | null;
}

type Op = (index: number) => unknown;

const args = typeof Deno === 'undefined' ? process.argv.slice(2) : Deno.args;
const input = JSON.parse(readFileSync(args[0]!, 'utf8')) as RuntimeMissInput;
const nodeCrypto = jwsBackend('node:crypto');
if (nodeCrypto === undefined) throw new Error(`no node:crypto on ${jsRuntime()}`);
const backends: Array<[string, JwsBackend]> = [
  ['node:crypto', nodeCrypto],
  ['WebCrypto', jwsBackend('webcrypto')!],
];

/** µs per operation over `count` operations, `inFlight` pending at once. */
async function time(op: Op, count: number, inFlight: number): Promise<number> {
  const started = performance.now();
  if (inFlight === 1) {
    for (let i = 0; i < count; i++) await op(i);
  } else {
    let next = 0;
    const worker = async () => {
      while (next < count) await op(next++);
    };
    await Promise.all(Array.from({ length: inFlight }, worker));
  }
  return ((performance.now() - started) * 1000) / count;
}

interface Case {
  name: string;
  op: Op;
  count: number;
  inFlight: number;
}

const verifiers = backends.map(([name, backend]) => {
  forceJwsBackendForTests(backend);
  const verifier = createVerifier({ issuer: input.issuer, audience: input.audience, cache: false });
  return [name, verifier] as const;
});
forceJwsBackendForTests(undefined);

const cases: Array<[string, Case[]]> = [];
for (const spec of input.algs) {
  const { tokens, proofs } = spec;
  const list: Case[] = [];
  for (const [name, verifier] of verifiers) {
    list.push({
      name: `verifier, ${name}, one at a time`,
      op: (i) => verifier.verify(tokens[i]!),
      count: tokens.length,
      inFlight: 1,
    });
    list.push({
      name: `verifier, ${name}, ${input.inFlight} in flight`,
      op: (i) => verifier.verify(tokens[i]!),
      count: tokens.length,
      inFlight: input.inFlight,
    });
  }
  for (const [name, backend] of backends) {
    const check = await backend.embeddedKey(spec.alg, spec.proofJwk);
    list.push({
      name: `DPoP proof, ${name}`,
      op: async (i) => {
        const proof = proofs[i]!;
        if (!(await check(proof.input, proof.signature))) throw new Error(`${name}: proof signature invalid`);
      },
      count: proofs.length,
      inFlight: 1,
    });
    list.push({
      name: `DPoP new key, ${name}`,
      op: async (i) => {
        // A copy: nothing may recognise the object and skip the import.
        const fresh = await backend.embeddedKey(spec.alg, { ...spec.proofJwk });
        const proof = proofs[i]!;
        if (!(await fresh(proof.input, proof.signature))) throw new Error(`${name}: proof signature invalid`);
      },
      count: proofs.length,
      inFlight: 1,
    });
  }
  const key = createPublicKey({ key: spec.publicJwk as never, format: 'jwk' });
  const prepared = tokens.map((token) => {
    const last = token.lastIndexOf('.');
    return { data: Buffer.from(token.slice(0, last)), signature: Buffer.from(token.slice(last + 1), 'base64url') };
  });
  const hash = spec.alg === 'EdDSA' ? null : 'sha256';
  const keyInput = spec.alg === 'ES256' ? { key, dsaEncoding: 'ieee-p1363' as const } : key;
  list.push({
    name: 'crypto.verify floor',
    op: (i) => {
      if (!nodeVerify(hash, prepared[i]!.data, keyInput, prepared[i]!.signature)) throw new Error('floor: invalid');
    },
    count: tokens.length,
    inFlight: 1,
  });
  cases.push([spec.alg, list]);
}

// Warm-up: everything once, untimed (JIT, JWKS fetch, key preparation, thread pool).
for (const [, list] of cases) for (const c of list) await time(c.op, c.count, c.inFlight);

const samples: RuntimeMissOutput['samples'] = {};
for (let r = 0; r < input.rounds; r++) {
  for (const [alg, list] of cases) {
    const rotated = [...list.slice(r % list.length), ...list.slice(0, r % list.length)];
    for (const c of rotated) ((samples[alg] ??= {})[c.name] ??= []).push(await time(c.op, c.count, c.inFlight));
  }
}
for (const [, verifier] of verifiers) await verifier.close();

const runtimeProcess = (
  globalThis as {
    process?: { versions?: Record<string, string>; cpuUsage?: () => { user: number; system: number } };
  }
).process;
const versions = runtimeProcess?.versions ?? {};
const usage = runtimeProcess?.cpuUsage?.();
const output: RuntimeMissOutput = {
  runtime: jsRuntime(),
  version: versions.bun ?? versions.deno ?? versions.node ?? 'unknown',
  defaultBackend: defaultJwsBackend().name,
  samples,
  cpuSeconds: usage === undefined ? null : (usage.user + usage.system) / 1e6,
};
console.log(JSON.stringify(output));
