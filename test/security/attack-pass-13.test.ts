/**
 * Attack pass on issue 13 (DPoP, certificate-bound tokens, route policy), where those features
 * meet each other and what was there before: several issuers, adapters, time edges. Each test
 * names the hole it probes and fails if the hole reopens. Tokens are HMAC-signed here (the
 * attacker's odd `cnf` and claims need no IdP); proofs come from a jose DPoP client.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { createPrivateKey, generatePrimeSync, sign as nodeSign, randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { base64url, calculateJwkThumbprint, type JWK, SignJWT } from 'jose';
import {
  authErrorHandler,
  authGuard,
  createAuthenticator,
  createMemoryStore,
  createVerifier,
  type Verifier,
} from '../../src/index.js';
import { ath, dpopClient } from '../support/dpop.js';
import { testClock } from '../support/idp.js';
import { createHmacVerifier } from '../support/hmac-verifier.js';

const SECRET = new TextEncoder().encode('a-shared-secret-of-at-least-32-bytes!!');
const AUD = 'https://api.example';
const ISSUER = 'http://127.0.0.1:9/attack-13';
const PUBLIC_URL = 'https://api.example.com';

const open: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  for (const item of open.splice(0).reverse()) await item.close();
});

function hmacVerifier(clock: ReturnType<typeof testClock>, options: Record<string, unknown> = {}): Verifier {
  const { verifier } = createHmacVerifier({ issuer: ISSUER, audience: AUD, secret: SECRET }, clock, {
    publicUrl: PUBLIC_URL,
    ...options,
  });
  open.push(verifier);
  return verifier;
}

/** The secret of the other issuer some scenarios trust besides ISSUER: each issuer has its own. */
const LENIENT_SECRET = new TextEncoder().encode('the lenient issuer has a secret of its own');

function sign(clock: () => number, claims: Record<string, unknown> = {}, issuer = ISSUER): Promise<string> {
  const iat = Math.floor(clock() / 1000);
  return new SignJWT({ sub: 'alice', iss: issuer, aud: AUD, iat, exp: iat + 300, jti: `t-${iat}`, ...claims })
    .setProtectedHeader({ alg: 'HS256' })
    .sign(issuer === ISSUER ? SECRET : LENIENT_SECRET);
}

async function listen(app: express.Express): Promise<string> {
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  open.push({ close: () => new Promise<void>((resolve) => server.close(() => resolve())) });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('Express with `mtls` on (certificate read from the socket): a DPoP proof still names the full path', () => {
  // The guard copies the request to add the socket's certificate; the copy must keep `originalUrl`,
  // or a router mounted at /api makes htu `/notes`: the client's proof for /api/notes is refused,
  // and a proof made for another endpoint whose path ends the same way is taken.
  it('behind a router mounted at /api: htu …/api/notes admitted, …/notes refused', async () => {
    const clock = testClock(1_800_000_000_000);
    const verifier = hmacVerifier(clock);
    const client = await dpopClient('ES256');
    const token = await sign(clock, { cnf: { jkt: client.jkt } });
    const router = express.Router();
    router.get('/notes', authGuard({ verifier, mtls: true }), (req, res) => {
      res.json({ sub: req.auth?.payload.sub });
    });
    const app = express();
    app.use('/api', router);
    app.use(authErrorHandler());
    const base = await listen(app);
    const call = async (htu: string) => {
      const proof = await client.proof({ htu, token, at: clock() });
      const res = await fetch(`${base}/api/notes`, { headers: { authorization: `DPoP ${token}`, dpop: proof } });
      return { status: res.status, challenge: res.headers.get('www-authenticate') };
    };
    expect((await call(`${PUBLIC_URL}/api/notes`)).status).toBe(200);
    const stripped = await call(`${PUBLIC_URL}/notes`);
    expect(stripped.status).toBe(401);
    expect(stripped.challenge).toContain('invalid_dpop_proof');
  });
});

describe("several issuers: a route's step-up is judged on the token's own issuer's clock and leeway", () => {
  // The multi-issuer port handed the first issuer's time to every route: a lenient partner listed
  // first (clockTolerance 300) stretched `maxAge` for a strict issuer's tokens by five minutes.
  it('maxAge 60: a strict issuer’s token authenticated 200 s ago is refused, though the first issuer is lenient', async () => {
    const clock = testClock(1_800_000_000_000);
    const LENIENT = `${ISSUER}-lenient`;
    const verifier = createVerifier({
      issuers: [
        { issuer: LENIENT, audience: AUD, algorithms: ['HS256'], secret: LENIENT_SECRET, clockTolerance: 300 },
        { issuer: ISSUER, audience: AUD, algorithms: ['HS256'], secret: SECRET, clockTolerance: 0 },
      ],
      clock,
      store: createMemoryStore({ clock }),
    });
    open.push(verifier);
    const authenticate = createAuthenticator({ verifier, maxAge: 60 });
    const authTime = Math.floor(clock() / 1000) - 200;
    const strict = await sign(clock, { auth_time: authTime });
    const lenient = await sign(clock, { auth_time: authTime }, LENIENT);
    const strictAnswer = await authenticate({ headers: { authorization: `Bearer ${strict}` } });
    expect(strictAnswer.ok ? 'admitted' : strictAnswer.error.code).toBe('insufficient_user_authentication');
    // The lenient issuer's own leeway still applies to its own tokens.
    expect((await authenticate({ headers: { authorization: `Bearer ${lenient}` } })).ok).toBe(true);
  });
});

describe('a DPoP proof key that makes each signature check 25-90 times dearer: an RSA key with a huge public exponent', () => {
  // RSA verification is cheap because `e` is small (65537). A client free to pick its proof key
  // (the token endpoint binds whatever key signed the token request) could choose a ~2048-bit `e`:
  // every request of its then costs a full modular exponentiation (1.4 ms for RSA-2048, 4.5 ms for
  // RSA-3072, against ~60 µs; measured with WebCrypto on this machine). Refused, as Go and BoringSSL
  // refuse exponents over 32 bits.
  it('refuses it (401 invalid_dpop_proof) though the token is bound to it and the signature is good', async () => {
    const clock = testClock(1_800_000_000_000);
    const verifier = hmacVerifier(clock);
    const { publicJwk, privateJwk } = rsaKeyWithHugeExponent(2048);
    const jkt = await calculateJwkThumbprint(publicJwk);
    const token = await sign(clock, { cnf: { jkt } });
    const claims = {
      htm: 'GET',
      htu: `${PUBLIC_URL}/notes`,
      iat: Math.floor(clock() / 1000),
      jti: 'huge-e',
      ath: ath(token),
    };
    const header = { alg: 'RS256', typ: 'dpop+jwt', jwk: publicJwk };
    const input = `${base64url.encode(JSON.stringify(header))}.${base64url.encode(JSON.stringify(claims))}`;
    const key = createPrivateKey({ key: privateJwk as never, format: 'jwk' });
    const proof = `${input}.${nodeSign('sha256', Buffer.from(input), key).toString('base64url')}`;
    const answer = await createAuthenticator({ verifier })({
      method: 'GET',
      url: '/notes',
      headers: { authorization: `DPoP ${token}`, dpop: proof },
    });
    expect(answer.ok ? 'admitted' : [answer.error.code, answer.error.reason]).toEqual([
      'invalid_dpop_proof',
      'dpop_proof_malformed',
    ]);
  });
});

/** An RSA key pair whose public exponent is almost as long as its modulus (a small random `d`). */
function rsaKeyWithHugeExponent(bits: number): { publicJwk: JWK; privateJwk: JWK } {
  const big = (bytes: Uint8Array) => BigInt(`0x${Buffer.from(bytes).toString('hex')}`);
  const bytes = (n: bigint) => {
    const hex = n.toString(16);
    return Buffer.from(hex.length % 2 === 0 ? hex : `0${hex}`, 'hex');
  };
  const b64 = (n: bigint) => bytes(n).toString('base64url');
  const inverse = (a: bigint, m: bigint): bigint | undefined => {
    let [r0, r1, x0, x1] = [((a % m) + m) % m, m, 1n, 0n];
    while (r1 !== 0n) {
      const q = r0 / r1;
      [r0, r1, x0, x1] = [r1, r0 - q * r1, x1, x0 - q * x1];
    }
    return r0 === 1n ? ((x0 % m) + m) % m : undefined;
  };
  const p = big(new Uint8Array(generatePrimeSync(bits / 2)));
  const q = big(new Uint8Array(generatePrimeSync(bits / 2)));
  const phi = (p - 1n) * (q - 1n);
  for (;;) {
    const d = big(randomBytes(32)) | 1n;
    const e = inverse(d, phi);
    if (e === undefined || e.toString(2).length < bits - 16) continue;
    const publicJwk: JWK = { e: b64(e), kty: 'RSA', n: b64(p * q) };
    const privateJwk: JWK = {
      ...publicJwk,
      d: b64(d),
      p: b64(p),
      q: b64(q),
      dp: b64(d % (p - 1n)),
      dq: b64(d % (q - 1n)),
      qi: b64(inverse(q, p)!),
    };
    return { publicJwk, privateJwk };
  }
}

describe('a DPoP replay record outlives the proof on every instance, not only on the one that claimed it', () => {
  // The record lasted until the proof's end by the claiming instance's clock, plus one second. An
  // instance whose clock lags by more than that still accepted the proof after the record expired:
  // a replay there went through. The record now also covers `clockTolerance` (the clock
  // disagreement the verifier already accepts).
  it('instance B, 3 s behind A (clockTolerance 5): the proof A took is refused on B at the end of its window', async () => {
    const real = testClock(1_800_000_000_000);
    const lagging = Object.assign(() => real() - 3000, { advance: real.advance, set: real.set });
    const store = createMemoryStore({ clock: real }); // one shared store, as Redis is: its own time
    open.push(store);
    const onA = createAuthenticator({ verifier: hmacVerifier(real, { store, clockTolerance: 5 }) });
    const onB = createAuthenticator({ verifier: hmacVerifier(lagging, { store, clockTolerance: 5 }) });
    const client = await dpopClient('ES256');
    const token = await sign(real, { cnf: { jkt: client.jkt }, exp: Math.floor(real() / 1000) + 3600 });
    const request = {
      method: 'GET',
      url: '/notes',
      headers: {
        authorization: `DPoP ${token}`,
        dpop: await client.proof({ htu: `${PUBLIC_URL}/notes`, token, at: real() }),
      },
    };
    expect((await onA(request)).ok).toBe(true);
    // 300 s window + 5 s tolerance + 2 s: over on A's clock, still open on B's (3 s behind).
    real.advance((300 + 5 + 2) * 1000);
    const replay = await onB(request);
    expect(replay.ok ? 'admitted' : replay.error.reason).toBe('dpop_proof_replayed');
  });
});
