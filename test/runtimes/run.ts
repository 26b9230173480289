/**
 * `npm run test:runtimes`: the fetch and Hono adapters on Node 20 (the engines floor), 22 and 24,
 * Bun, Deno and workerd (without and with `nodejs_compat`). Installs the runtimes (install.mjs,
 * cached in .cache/runtimes), bundles the conformance scenarios with the built package (dist/),
 * jose, lru-cache and Hono into one ESM file per entry (so no runtime resolves node_modules),
 * starts the embedded IdP on 127.0.0.1, closes a port for an issuer that is down, mints the tokens
 * (logout tokens and SETs too), runs the bundle on each runtime and compares every answer with
 * the one expected here, the signature backend the runtime uses included.
 *
 * Then the signature backends' differential corpus (differential-entry.ts: named attacks,
 * generated tokens and mutated DPoP proofs, node:crypto against WebCrypto) on every runtime that
 * has a node:crypto: each Node, Bun and Deno. Every case must get the same answer from both, the
 * answer due, bar the deviations pinned per runtime below (which must show, so a runtime that
 * changes is noticed). DIFFERENTIAL_TOKENS / DIFFERENTIAL_PROOFS / FUZZ_SEED change the run.
 *
 * Exits 1 on any difference. Run `npm run build` first (the npm script does).
 */
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createServer } from 'node:net';
import { isDeepStrictEqual, promisify } from 'node:util';
import { type BuildOptions, build } from 'esbuild';
import { SignJWT } from 'jose';
import { CREDENTIAL_CHANGE } from '../../src/index.js';
import type { KnownDeviation } from '../security/backend-differential.js';
import { dpopClient } from '../support/dpop.js';
import { attackerKey, type EmbeddedIdp, signToken, standardClaims, startIdp, tokenAt } from '../support/idp.js';
import { APP_NAMES, type AppName, type ConformanceInput, ORIGIN, type Observed } from './conformance.js';
import type { CorpusReport, DifferentialInput, DifferentialReport } from './differential-entry.js';
// @ts-expect-error: a plain .mjs script without types
import { CACHE, install, locate, RUNTIMES } from './install.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');
const bundles = join(CACHE, 'bundles');
const run = promisify(execFile);

interface RuntimeSpec {
  name: string;
  pkg: string;
  version: string;
  bin?: string;
}

/** How each runtime runs a bundle (`cli`: a command entry; `worker`: the Worker entry). */
interface Target {
  label: string;
  /** The conformance run, given its input. */
  command: (input: string) => [string, string[]];
  /** The signature backend a verifier uses there (jws-backend.ts). */
  backend: 'node:crypto' | 'webcrypto';
  /**
   * Where the runtime has a node:crypto: how it runs the differential bundle, the runtime it must
   * say it is (js-runtime.ts), and the deviations pinned for it (dpop-differential.ts).
   */
  differential:
    | { command: (input: string) => [string, string[]]; runtime: string; tolerated: KnownDeviation[] }
    | { skipped: string };
}

function targets(): Target[] {
  const cli = join(bundles, 'cli.mjs');
  const worker = join(bundles, 'worker.mjs');
  const differential = join(bundles, 'differential.mjs');
  const bin = (name: string) => locate((RUNTIMES as RuntimeSpec[]).find((r) => r.name === name)).bin as string;
  const version = (name: string) => (RUNTIMES as RuntimeSpec[]).find((r) => r.name === name)!.version;
  const workerd = locate((RUNTIMES as RuntimeSpec[]).find((r) => r.name === 'workerd')).prefix as string;
  const node = (name: string): Target => ({
    label: `Node ${version(name)}`,
    command: (input) => [bin(name), [cli, input]],
    backend: 'node:crypto',
    differential: { command: (input) => [bin(name), [differential, input]], runtime: 'node', tolerated: [] },
  });
  const deno = (file: string, input: string, ...allow: string[]): [string, string[]] => [
    bin('deno'),
    ['run', '--no-prompt', ...allow, file, input],
  ];
  // workerd: the fetch and Hono code path needs no Node API, so it runs without nodejs_compat;
  // with it, workerd offers a node:crypto and says it is Node 22, and must still use WebCrypto.
  const workerdTarget = (flags: string[]): Target => ({
    label: `workerd (miniflare ${version('workerd')}${flags.length > 0 ? `, ${flags.join(', ')}` : ''})`,
    command: (input) => [bin('node24'), [join(here, 'miniflare-host.mjs'), workerd, worker, input, ...flags]],
    backend: 'webcrypto',
    differential: {
      skipped:
        flags.length === 0
          ? 'no node:crypto here (WebCrypto is its only backend)'
          : 'its node:crypto is never chosen (verifiers use WebCrypto: checked above)',
    },
  });
  return [
    node('node20'),
    node('node22'),
    node('node24'),
    {
      label: `Bun ${version('bun')}`,
      command: (input) => [bin('bun'), [cli, input]],
      backend: 'node:crypto',
      differential: { command: (input) => [bin('bun'), [differential, input]], runtime: 'bun', tolerated: [] },
    },
    {
      label: `Deno ${version('deno')}`,
      command: (input) => deno(cli, input, '--allow-net=127.0.0.1'),
      backend: 'webcrypto',
      differential: {
        command: (input) => deno(differential, input),
        runtime: 'deno',
        tolerated: ['webcrypto-imports-off-curve-ec-keys'],
      },
    },
    workerdTarget([]),
    workerdTarget(['nodejs_compat']),
  ];
}

async function bundle(): Promise<void> {
  mkdirSync(bundles, { recursive: true });
  const common: BuildOptions = {
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    mainFields: ['module', 'main'],
    target: 'es2022',
    // The package as published: its entry points, built.
    alias: { 'revocable-jwt': join(root, 'dist') },
    // Kept as imports, not bundled: what the edge path still needs of Node shows in the bundle.
    external: ['node:*'],
    logLevel: 'warning',
  };
  await build({ ...common, entryPoints: [join(here, 'cli-entry.ts')], outfile: join(bundles, 'cli.mjs') });
  // The conditions wrangler bundles a Worker with: lru-cache's browser build has no node:diagnostics_channel.
  await build({
    ...common,
    entryPoints: [join(here, 'worker-entry.ts')],
    outfile: join(bundles, 'worker.mjs'),
    conditions: ['workerd', 'worker', 'browser'],
  });
  // The differential corpus from the sources: the signature backends are internal to the package.
  await build({
    ...common,
    entryPoints: [join(here, 'differential-entry.ts')],
    outfile: join(bundles, 'differential.mjs'),
  });
  for (const file of ['cli.mjs', 'worker.mjs']) {
    const source = readFileSync(join(bundles, file), 'utf8');
    const imports = new Set([...source.matchAll(/(?:from\s*|import\s*\(\s*)"(node:[^"]+)"/g)].map((m) => m[1]));
    console.log(`${file}: ${imports.size === 0 ? 'no node:* import' : `imports ${[...imports].join(', ')}`}`);
    // workerd runs without nodejs_compat: a node:* import in the Worker would not even load.
    if (file === 'worker.mjs' && imports.size > 0) throw new Error('the Worker bundle imports node:* modules');
  }
}

const EVENT_AUDIENCE = 'https://api.example/receiver';

/** An issuer URL on a 127.0.0.1 port that was free a moment ago and is closed now: connections are refused. */
async function closedPortIssuer(): Promise<string> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as { port: number };
  await new Promise<void>((done) => server.close(() => done()));
  return `http://127.0.0.1:${port}`;
}

/** Signs a JWT with the IdP's active key and the given `typ` (logout tokens, SETs). */
function signedByIdp(idp: EmbeddedIdp, payload: Record<string, unknown>, typ: string): Promise<string> {
  const key = idp.keys[0]!;
  return new SignJWT(payload).setProtectedHeader({ alg: key.alg, kid: key.kid, typ }).sign(key.privateKey);
}

/** One value per app, built by `make(name)`. */
async function perApp<T>(make: (name: AppName) => Promise<T>): Promise<Record<AppName, T>> {
  return Object.fromEntries(
    await Promise.all(APP_NAMES.map(async (name) => [name, await make(name)] as const)),
  ) as Record<AppName, T>;
}

/** The scenarios' tokens, fresh for each runtime (its logouts revoke some). */
async function inputFor(idp: EmbeddedIdp, downIssuer: string): Promise<ConformanceInput> {
  const now = Date.now();
  const list = idp.statusList!;
  const entry = (status: number) => {
    const idx = list.allocate();
    list.setStatus(idx, status);
    return { status: { status_list: { idx, uri: list.uri } } };
  };
  const iat = Math.floor(now / 1000);
  const forger = { ...(await attackerKey()), kid: idp.keys[0]!.kid };
  return {
    issuer: idp.issuer,
    audience: idp.audience,
    client: idp.client,
    downIssuer,
    eventAudience: EVENT_AUDIENCE,
    tokens: {
      valid: await tokenAt(idp, now, { sub: 'alice', scope: 'notes:read' }),
      readOnly: await tokenAt(idp, now, { scope: 'notes:read' }),
      expired: await tokenAt(idp, now - 3_600_000),
      forged: await signToken(standardClaims(idp, {}, now), forger),
      revocable: await perApp((name) => tokenAt(idp, now, { sub: `bob-${name}` })),
      // Signed with the running IdP's key: the down issuer has no keys, so its kid is unknown there.
      outage: await tokenAt(idp, now, { iss: downIssuer }),
      loggedOut: await perApp(async (name) => ({
        token: await tokenAt(idp, now, { sub: `bcl-${name}` }),
        logoutToken: await signedByIdp(
          idp,
          {
            iss: idp.issuer,
            aud: idp.client.clientId,
            iat,
            jti: `bcl-${name}-${now}`,
            sub: `bcl-${name}`,
            events: { 'http://schemas.openid.net/event/backchannel-logout': {} },
          },
          'logout+jwt',
        ),
      })),
      securityEvent: await perApp((name) =>
        signedByIdp(
          idp,
          {
            iss: idp.issuer,
            aud: EVENT_AUDIENCE,
            iat,
            jti: `set-${name}-${now}`,
            events: { [CREDENTIAL_CHANGE]: { event_timestamp: iat } },
            sub_id: { format: 'iss_sub', iss: idp.issuer, sub: `set-${name}` },
          },
          'secevent+jwt',
        ),
      ),
      dpop: await perApp(async (name) => {
        const key = await dpopClient();
        const token = await tokenAt(idp, now, { sub: `dpop-${name}`, scope: 'notes:read', cnf: { jkt: key.jkt } });
        return {
          token,
          proof: await key.proof({ htu: `${ORIGIN}/dpop`, token, at: now }),
          nonceProof: await key.proof({ htu: `${ORIGIN}/dpop-nonce`, token, at: now }),
        };
      }),
      statusList: {
        valid: await tokenAt(idp, now, { sub: 'listed', scope: 'notes:read', ...entry(0) }),
        revoked: await tokenAt(idp, now, { sub: 'listed', scope: 'notes:read', ...entry(1) }),
      },
    },
  };
}

const JSON_TYPE = 'application/json; charset=utf-8';
const refusal = (status: number, challenge: string, body?: Record<string, string>): Observed => ({
  status,
  headers: {
    'www-authenticate': challenge,
    'cache-control': 'no-store',
    ...(body ? { 'content-type': JSON_TYPE } : {}),
  },
  body,
});
const invalidToken = (description: string) =>
  refusal(401, `Bearer realm="api", error="invalid_token", error_description="${description}"`, {
    error: 'invalid_token',
    error_description: description,
  });
const invalidRequest = (description: string) =>
  refusal(400, `Bearer realm="api", error="invalid_request", error_description="${description}"`, {
    error: 'invalid_request',
    error_description: description,
  });
/** The answers every runtime must give, exactly (but the signature backend, which is the target's). */
function expected(backend: Target['backend']): Record<string, Observed> {
  const out: Record<string, Observed> = { 'signature backend': { status: 200, headers: {}, body: backend } };
  for (const name of APP_NAMES) {
    const ok = (body: unknown): Observed => ({ status: 200, headers: {}, body });
    out[`${name} valid token`] = ok({ sub: 'alice', scope: 'notes:read' });
    out[`${name} no token`] = refusal(401, 'Bearer realm="api"', {
      error: 'unauthorized',
      error_description: 'Bearer token required',
    });
    out[`${name} malformed header`] = invalidRequest('Malformed Bearer token');
    out[`${name} expired token`] = invalidToken('The access token expired');
    out[`${name} forged token`] = invalidToken('The access token signature is invalid');
    out[`${name} insufficient scope`] = refusal(
      403,
      'Bearer realm="api", error="insufficient_scope", error_description="The access token lacks a required scope", ' +
        'scope="notes:admin"',
      { error: 'insufficient_scope', error_description: 'The access token lacks a required scope' },
    );
    out[`${name} form body token beside the header`] = invalidRequest('Send the access token by one method only');
    out[`${name} form body read by the app after the guard`] = ok({ sub: 'alice', scope: 'notes:read', note: 'kept' });
    out[`${name} logout by GET`] = {
      status: 405,
      headers: { allow: 'POST', 'cache-control': 'no-store', 'content-type': JSON_TYPE },
      body: { error: 'invalid_request', error_description: 'Use POST' },
    };
    out[`${name} logout body over 16 KiB`] = invalidRequest('The request body exceeds 16384 bytes');
    out[`${name} before logout`] = ok({ sub: `bob-${name}`, scope: 'notes:read notes:write' });
    out[`${name} logout`] = {
      status: 200,
      headers: { 'cache-control': 'no-store', 'content-type': JSON_TYPE },
      body: { revoked: true },
    };
    out[`${name} after logout`] = invalidToken('The access token has been revoked');
    // As test/adapters/conformance.test.ts: 503, Retry-After, temporarily_unavailable (no challenge).
    out[`${name} IdP down`] = {
      status: 503,
      headers: { 'cache-control': 'no-store', 'retry-after': '<seconds>', 'content-type': JSON_TYPE },
      body: { error: 'temporarily_unavailable', error_description: 'The identity provider metadata is unavailable' },
    };
    out[`${name} before back-channel logout`] = ok({ sub: `bcl-${name}`, scope: 'notes:read notes:write' });
    out[`${name} back-channel logout`] = { status: 200, headers: { 'cache-control': 'no-store' }, body: undefined };
    for (const other of APP_NAMES) {
      out[`${name} back-channel logout, then ${other}`] = invalidToken('The access token has been revoked');
    }
    out[`${name} security event`] = { status: 202, headers: { 'cache-control': 'no-store' }, body: undefined };
    out[`${name} security event of another type`] = {
      status: 400,
      headers: { 'cache-control': 'no-store', 'content-type': JSON_TYPE },
      body: { err: 'invalid_request', description: 'Send the SET as application/secevent+jwt' },
    };
    const algs = 'ES256 ES384 ES512 EdDSA Ed25519 PS256 PS384 PS512 RS256 RS384 RS512';
    out[`${name} DPoP proof`] = ok({ sub: `dpop-${name}`, scope: 'notes:read' });
    out[`${name} DPoP replay`] = refusal(
      401,
      `Bearer realm="api", DPoP realm="api", algs="${algs}", error="invalid_dpop_proof", ` +
        'error_description="The DPoP proof has already been used"',
      { error: 'invalid_dpop_proof', error_description: 'The DPoP proof has already been used' },
    );
    const nonce = 'Sign a DPoP proof with the nonce in the DPoP-Nonce header';
    out[`${name} DPoP without a nonce`] = {
      ...refusal(401, `DPoP realm="api", algs="${algs}", error="use_dpop_nonce", error_description="${nonce}"`, {
        error: 'use_dpop_nonce',
        error_description: nonce,
      }),
    };
    out[`${name} DPoP without a nonce`].headers['dpop-nonce'] = '<nonce>';
    out[`${name} status list: valid`] = ok({ sub: 'listed', scope: 'notes:read' });
    out[`${name} status list: revoked by the IdP`] = invalidToken('The access token has been revoked by its issuer');
  }
  out['hono refuses what fetch revoked'] = invalidToken('The access token has been revoked');
  return out;
}

const asJson = (value: Observed | undefined): unknown => JSON.parse(JSON.stringify(value ?? null));

/** Every scenario whose answer differs, with both answers. */
function differences(got: Record<string, Observed>, want: Record<string, Observed>): string[] {
  const keys = new Set([...Object.keys(want), ...Object.keys(got)]);
  return (
    [...keys]
      // Both through JSON, as the answers travel: an absent body is `undefined` in one, missing in the other.
      .filter((key) => !isDeepStrictEqual(asJson(got[key]), asJson(want[key])))
      .map((key) => `  ${key}:\n    expected ${JSON.stringify(want[key])}\n    got      ${JSON.stringify(got[key])}`)
  );
}

const count = (name: string, fallback: number) => {
  const value = Number(process.env[name]);
  return Number.isInteger(value) && value > 0 ? value : fallback;
};

/** What is wrong with one half of a differential report (nothing when it held). */
function corpusProblems(what: string, report: CorpusReport, runs: number, tolerated: KnownDeviation[]): string[] {
  const problems = report.namedFailures.map((failure) => `${what}, named: ${failure}`);
  if (report.generatedFailure !== undefined) problems.push(`${what}, generated:\n${report.generatedFailure}`);
  else if (report.generated !== runs) problems.push(`${what}: ${report.generated} of ${runs} generated cases ran`);
  if (report.unreached.length > 0) problems.push(`${what}: the generator never reached ${report.unreached.join(', ')}`);
  const seen = Object.keys(report.deviations).sort();
  const pinned = [...tolerated].sort();
  if (!isDeepStrictEqual(seen, pinned))
    problems.push(`${what}: deviations seen ${JSON.stringify(seen)}, pinned ${JSON.stringify(pinned)}`);
  return problems;
}

/** The differential corpus on each runtime that has node:crypto; the number of runtimes where it failed. */
async function runDifferential(): Promise<number> {
  const input: DifferentialInput = {
    tokens: count('DIFFERENTIAL_TOKENS', 3_000),
    proofs: count('DIFFERENTIAL_PROOFS', 1_000),
    seed: count('FUZZ_SEED', 20_261_201),
    tolerated: [],
  };
  let failed = 0;
  for (const target of targets()) {
    const { differential } = target;
    if ('skipped' in differential) {
      console.log(`-    ${target.label}: no differential run: ${differential.skipped}`);
      continue;
    }
    const [file, args] = differential.command(JSON.stringify({ ...input, tolerated: differential.tolerated }));
    try {
      const { stdout } = await run(file, args, { timeout: 600_000, maxBuffer: 16 * 1024 * 1024, env: runtimeEnv() });
      const report = JSON.parse(stdout.trim().split('\n').at(-1)!) as DifferentialReport;
      const problems = [
        ...(report.runtime === differential.runtime ? [] : [`runs as ${report.runtime}, not ${differential.runtime}`]),
        ...(report.defaultBackend === target.backend
          ? []
          : [`verifiers use ${report.defaultBackend}, not ${target.backend}`]),
        ...corpusProblems('access tokens', report.accessTokens, input.tokens, differential.tolerated),
        ...corpusProblems('DPoP proofs', report.dpopProofs, input.proofs, differential.tolerated),
      ];
      const { accessTokens: at, dpopProofs: dp } = report;
      const deviations = Object.entries(at.deviations)
        .map(([name, n]) => `${name} ×${n} (tokens)`)
        .concat(Object.entries(dp.deviations).map(([name, n]) => `${name} ×${n} (proofs)`));
      const summary =
        `${at.named} named attacks + ${at.generated} tokens, ${dp.named} named proofs + ${dp.generated} proofs` +
        `${deviations.length > 0 ? `; pinned: ${deviations.join(', ')}` : ''} (${report.seconds} s)`;
      if (problems.length > 0) {
        failed++;
        console.log(`FAIL ${target.label}: ${summary}\n  ${problems.join('\n  ')}`);
      } else console.log(`ok   ${target.label}: backends agree on ${summary}; verifiers use ${report.defaultBackend}`);
    } catch (error) {
      failed++;
      const { stderr, code, signal } = error as { stderr?: string; code?: number; signal?: string };
      console.log(`FAIL ${target.label}: exit ${code ?? signal}\n${(stderr ?? String(error)).slice(0, 4000)}`);
    }
  }
  return failed;
}

/** The environment the runtimes run in: Deno's cache in .cache, no update check, no colours. */
const runtimeEnv = () => ({
  ...process.env,
  DENO_DIR: join(CACHE, 'deno-dir'),
  DENO_NO_UPDATE_CHECK: '1',
  NO_COLOR: '1',
});

async function main(): Promise<number> {
  const seconds = (from: number) => ((performance.now() - from) / 1000).toFixed(1);
  const started = performance.now();
  for (const runtime of RUNTIMES as RuntimeSpec[]) {
    if (install(runtime)) console.log(`installed ${runtime.pkg}@${runtime.version} (${runtime.name})`);
  }
  console.log(`runtimes ready in ${seconds(started)} s`);
  await bundle();
  // It publishes a Token Status List too: the status list scenarios' tokens have entries in it.
  const idp = await startIdp({ statusList: true });
  const downIssuer = await closedPortIssuer();
  let failed = 0;
  try {
    for (const target of targets()) {
      const want = expected(target.backend);
      const from = performance.now();
      const [file, args] = target.command(JSON.stringify(await inputFor(idp, downIssuer)));
      try {
        const { stdout } = await run(file, args, { timeout: 60_000, maxBuffer: 16 * 1024 * 1024, env: runtimeEnv() });
        const got = JSON.parse(stdout.trim().split('\n').at(-1)!) as Record<string, Observed>;
        const diff = differences(got, want);
        if (diff.length > 0) {
          failed++;
          console.log(`FAIL ${target.label}: ${diff.length} of ${Object.keys(want).length} scenarios differ`);
          console.log(diff.join('\n'));
        } else {
          console.log(`ok   ${target.label}: ${Object.keys(want).length} scenarios (${seconds(from)} s)`);
        }
      } catch (error) {
        failed++;
        const { stderr, code, signal } = error as { stderr?: string; code?: number; signal?: string };
        console.log(`FAIL ${target.label}: exit ${code ?? signal}\n${(stderr ?? String(error)).slice(0, 4000)}`);
      }
    }
  } finally {
    await idp.close();
  }
  failed += await runDifferential();
  console.log(`test:runtimes ${failed === 0 ? 'passed' : `failed (${failed} run(s))`} in ${seconds(started)} s`);
  return failed === 0 ? 0 : 1;
}

process.exitCode = await main();
