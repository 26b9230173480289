/**
 * Attack pass on issue 13 (DPoP, certificate-bound tokens, route policy), where those features
 * meet each other and what was there before: several issuers, adapters, time edges. Each test
 * names the hole it probes and fails if the hole reopens. Tokens are HMAC-signed here (the
 * attacker's odd `cnf` and claims need no IdP); proofs come from a jose DPoP client.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { SignJWT } from 'jose';
import {
  authErrorHandler,
  authGuard,
  createAuthenticator,
  createMemoryStore,
  createVerifier,
  type Verifier,
} from '../../src/index.js';
import { dpopClient } from '../support/dpop.js';
import { testClock } from '../support/idp.js';

const SECRET = new TextEncoder().encode('a-shared-secret-of-at-least-32-bytes!!');
const AUD = 'https://api.example';
const ISSUER = 'http://127.0.0.1:9/attack-13';
const PUBLIC_URL = 'https://api.example.com';

const open: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  for (const item of open.splice(0).reverse()) await item.close();
});

function hmacVerifier(clock: ReturnType<typeof testClock>, options: Record<string, unknown> = {}): Verifier {
  const verifier = createVerifier({
    issuer: ISSUER,
    audience: AUD,
    algorithms: ['HS256'],
    secret: SECRET,
    clock,
    store: createMemoryStore({ clock }),
    publicUrl: PUBLIC_URL,
    ...options,
  });
  open.push(verifier);
  return verifier;
}

function sign(clock: () => number, claims: Record<string, unknown> = {}, issuer = ISSUER): Promise<string> {
  const iat = Math.floor(clock() / 1000);
  return new SignJWT({ sub: 'alice', iss: issuer, aud: AUD, iat, exp: iat + 300, jti: `t-${iat}`, ...claims })
    .setProtectedHeader({ alg: 'HS256' })
    .sign(SECRET);
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
        { issuer: LENIENT, audience: AUD, algorithms: ['HS256'], secret: SECRET, clockTolerance: 300 },
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
