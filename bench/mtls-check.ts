/**
 * What the certificate-bound token check (RFC 8705, `mtls`) adds to a cache hit, in process: the
 * authenticate step (createAuthenticator, the core every adapter calls) on a cached token with a
 * fresh `Authorization` string per call, as a server sees it, against the same step without
 * `mtls`. The certificate comes from a real TLS connection of this process (`node:https` with
 * `requestCert`, a client presenting a P-256 certificate), read through the adapters' glue:
 *   - TLS 1.3: read once per connection, so its thumbprint is hashed once (the default);
 *   - TLS 1.2: read and hashed on every request (renegotiation could change it);
 *   - a trusted proxy's header, URL-encoded PEM in a fresh string per request: the value a client's
 *     proxy sends again (its thumbprint remembered), and values never seen lately (300 spellings
 *     of the same certificate, percent-encoding one more character each, round-robin: each is
 *     decoded and hashed).
 * Interleaved over rounds (the order rotates), CPU time of this process per call; each case is
 * compared with the baseline of its own round.
 *
 *   npx tsx bench/mtls-check.ts [--rounds <n>] [--min-ms <ms>]   → bench/results/mtls-check.json
 */
import { writeFileSync } from 'node:fs';
import { createServer, request } from 'node:https';
import type { AddressInfo } from 'node:net';
import { loadavg } from 'node:os';
import { resolve } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { do_not_optimize } from 'mitata';
import { peerCertificateOf } from '../src/glue/peer-certificate.js';
import { type Authenticator, createAuthenticator, createVerifier, type RequestLike } from '../src/index.js';
import { createTestCa } from '../test/support/certificates.js';
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

const ca = await createTestCa();
const [serverCertificate, client] = await Promise.all([ca.issueServer(), ca.issueClient('bench-client')]);

/** The server side of one TLS connection on which `client` presented its certificate. */
async function serverSocket(maxVersion: 'TLSv1.2' | 'TLSv1.3'): Promise<{ socket: TLSSocket; close(): void }> {
  let socket: TLSSocket | undefined;
  const server = createServer(
    {
      cert: serverCertificate.pem,
      key: serverCertificate.keyPem,
      requestCert: true,
      rejectUnauthorized: false,
      maxVersion,
    },
    (req, res) => {
      socket = req.socket as TLSSocket;
      res.end();
    },
  );
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((done, fail) => {
    request(`https://127.0.0.1:${port}/`, { ca: ca.pem, cert: client.pem, key: client.keyPem }, (res) => {
      res.resume();
      res.on('end', done);
    })
      .on('error', fail)
      .end();
  });
  if (socket?.getProtocol() !== maxVersion) throw new Error(`expected ${maxVersion}, got ${socket?.getProtocol()}`);
  return { socket, close: () => server.close() };
}
const tls13 = await serverSocket('TLSv1.3');
const tls12 = await serverSocket('TLSv1.2');

const key = await generateKey('RS256');
const stub = await startJwksStub([key.publicJwk]);
const site = { issuer: stub.issuer, audience: 'notes-api' };
const verifier = createVerifier(site);
const token = mint(key, { ...accessClaims(site), cnf: { 'x5t#S256': client.thumbprint } });
const header = `Bearer ${token}`;
/** A copy with its own identity and no cached hash, as a fresh request header would be. */
const fresh = (value: string): string => ` ${value}`.slice(1);

const plain = createAuthenticator({ verifier });
const fromSocket = createAuthenticator({ verifier, mtls: true });
const fromHeader = createAuthenticator({ verifier, mtls: { certificateHeader: 'x-client-cert' } });

/** 300 spellings of the same certificate, more than the header cache holds: every read misses it. */
const body = client.escapedPem.slice(0, client.escapedPem.indexOf('-----END'));
const letters = [...body.matchAll(/%[0-9A-F]{2}|[A-Za-z0-9]/g)]
  .filter((m) => m[0].length === 1 && m.index > body.indexOf('%0A'))
  .map((m) => m.index);
if (letters.length < 300) throw new Error(`only ${letters.length} base64 letters to spell differently`);
const spellings = letters.slice(0, 300).map((at) => {
  const code = client.escapedPem.charCodeAt(at).toString(16).toUpperCase();
  return `${client.escapedPem.slice(0, at)}%${code}${client.escapedPem.slice(at + 1)}`;
});
let spelling = 0;

type Case = { authenticate: Authenticator; make: () => RequestLike };
const cases: Record<string, Case> = {
  'no mtls (baseline)': { authenticate: plain, make: () => ({ headers: { authorization: fresh(header) } }) },
  'mtls, TLS 1.3 connection': {
    authenticate: fromSocket,
    make: () => ({ headers: { authorization: fresh(header) }, clientCertificate: peerCertificateOf(tls13.socket) }),
  },
  'mtls, TLS 1.2 connection': {
    authenticate: fromSocket,
    make: () => ({ headers: { authorization: fresh(header) }, clientCertificate: peerCertificateOf(tls12.socket) }),
  },
  'mtls, proxy header, value seen lately': {
    authenticate: fromHeader,
    make: () => ({ headers: { authorization: fresh(header), 'x-client-cert': fresh(client.escapedPem) } }),
  },
  'mtls, proxy header, value not seen lately': {
    authenticate: fromHeader,
    make: () => ({
      headers: { authorization: fresh(header), 'x-client-cert': fresh(spellings[spelling++ % spellings.length]!) },
    }),
  },
};

for (const { authenticate, make } of Object.values(cases)) {
  const first = await authenticate(make());
  if (!first.ok) throw new Error(`refused: ${first.error.reason}`);
}
const cacheBefore = verifier.stats().cache;

const names = Object.keys(cases);
const samples: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
const loads: number[] = [];
console.log(`mtls check on a cache hit, in process: ${rounds} rounds, CPU ns per authenticate() call`);
for (let r = 0; r < rounds; r++) {
  const order = names.map((_, i) => names[(i + r) % names.length]!);
  for (const name of order) samples[name]!.push(cpuNsPerCall(cases[name]!));
  loads.push(loadavg()[0]!);
}
if (verifier.stats().cache.misses !== cacheBefore.misses) throw new Error('a measured call missed the cache');

const baseline = samples[names[0]!]!;
const spread = (values: number[]) => ({
  median: round(median(values), 1),
  min: round(Math.min(...values), 1),
  max: round(Math.max(...values), 1),
});
const results: Record<string, unknown> = {};
for (const name of names) {
  const added = samples[name]!.map((v, i) => v - baseline[i]!);
  results[name] = { perCallNs: spread(samples[name]!), addedNs: spread(added) };
  console.log(
    `  ${name}: median ${median(samples[name]!).toFixed(0)} ns; added over the baseline of its round: median ` +
      `${median(added).toFixed(0)} ns (${Math.min(...added).toFixed(0)}–${Math.max(...added).toFixed(0)})`,
  );
}
const report = {
  date: new Date().toISOString(),
  node: process.version,
  rounds,
  minCpuMsPerSample: minCpuUs / 1e3,
  tokenChars: token.length,
  certificate: { key: 'ECDSA P-256', derBytes: client.der.length, escapedPemChars: client.escapedPem.length },
  loadAverage1: {
    median: round(median(loads), 2),
    min: round(Math.min(...loads), 2),
    max: round(Math.max(...loads), 2),
  },
  results,
};
writeFileSync(resolve(root, 'bench/results/mtls-check.json'), `${JSON.stringify(report, null, 2)}\n`);
console.log(`  load average (1 min) during the run: ${JSON.stringify(report.loadAverage1)}`);
tls13.close();
tls12.close();
await verifier.close();
await stub.close();
process.exit(0); // the TLS connections are kept alive by the client agent

/** CPU nanoseconds per call, over batches until `--min-ms` of CPU time is spent (after a warm-up batch). */
function cpuNsPerCall({ authenticate, make }: Case): number {
  const batch = 2_000;
  // Building each request is timed in every case, the baseline's too: the fresh header strings
  // cancel out, and what remains is the check and reading the certificate (socket, header).
  for (let i = 0; i < batch; i++) do_not_optimize(authenticate(make()));
  let calls = 0;
  let spentUs = 0;
  while (spentUs < minCpuUs) {
    const start = process.cpuUsage();
    for (let i = 0; i < batch; i++) do_not_optimize(authenticate(make()));
    const used = process.cpuUsage(start);
    spentUs += used.user + used.system;
    calls += batch;
  }
  return (spentUs * 1e3) / calls;
}
