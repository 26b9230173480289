/**
 * DPoP (RFC 9449) in the request step, against a real IdP: oidc-provider issues DPoP-bound JWT
 * access tokens (`cnf.jkt`) to a client_credentials request carrying a proof, and a client made
 * with jose signs the proofs. Every check of RFC 9449 §4.3 gets the proof an attacker would send,
 * and must be refused with its own reason; replays are refused across two verifier instances
 * sharing one Redis; server nonces are stateless, so one instance's nonce works on the other.
 * One test clock drives the verifiers and the proofs (anchored on the IdP's own `iat`s).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createPrivateKey, generateKeyPairSync, type KeyObject, randomUUID, sign } from 'node:crypto';
import { Redis } from 'ioredis';
import { base64url, calculateJwkThumbprint, SignJWT } from 'jose';
import {
  type Authentication,
  type Authenticator,
  createAuthenticator,
  createMemoryStore,
  createRedisStore,
  createVerifier,
  type RequestLike,
  type RevocationStore,
  type Verifier,
  type VerifierOptions,
} from '../../../src/index.js';
import { ath, dpopClient, type DpopClient, issueDpopToken, type ProofOptions } from '../../support/dpop.js';
import { issuedAt, rawToken, startIdp, testClock, tokenAt, type EmbeddedIdp } from '../../support/idp.js';
import { REDIS_URL, startPrivateRedis, type PrivateRedis } from '../../support/redis-server.js';
import { scriptedStore } from '../../support/scripted-store.js';
import { waitFor } from '../../support/wait-for.js';

const PUBLIC_URL = 'https://api.example.com';
const HTU = `${PUBLIC_URL}/notes`;
const NONCE_SECRET = 'a nonce secret shared by every instance, 32+ bytes';
const clock = testClock();
let idp: EmbeddedIdp;
let client: DpopClient;
let other: DpopClient;
/** Bound to `client`'s key. */
let bound: string;
let bearerToken: string;
const closers: Array<() => Promise<unknown>> = [];

function verifierWith(options: Partial<VerifierOptions> = {}): Verifier {
  const verifier = createVerifier({
    issuer: idp.issuer,
    audience: idp.audience,
    clock,
    publicUrl: PUBLIC_URL,
    ...options,
  });
  closers.push(() => verifier.close());
  return verifier;
}

function redisStore(prefix: string): RevocationStore {
  const store = createRedisStore({ url: REDIS_URL, keyPrefix: prefix, clock });
  closers.push(() => store.close());
  return store;
}

beforeAll(async () => {
  idp = await startIdp();
  [client, other] = await Promise.all([dpopClient('ES256'), dpopClient('EdDSA')]);
  [bound, bearerToken] = await Promise.all([issueDpopToken(idp, client), idp.issueAccessToken()]);
  clock.set(Math.max(issuedAt(bound), issuedAt(bearerToken)) + 1000);
}, 30_000);

afterAll(async () => {
  for (const close of closers.reverse()) await close();
  await idp.close();
});

/** A DPoP request for `token` with `proof` (default: a fresh, valid proof by `client`). */
async function dpopRequest(
  token = bound,
  proof?: string | Partial<ProofOptions>,
  request: Partial<RequestLike> = {},
): Promise<RequestLike> {
  const dpop =
    typeof proof === 'string' ? proof : await client.proof({ htu: HTU, token, at: clock(), ...(proof ?? {}) });
  return {
    method: 'GET',
    url: '/notes',
    ...request,
    headers: { authorization: `DPoP ${token}`, dpop, ...(request.headers as Record<string, string>) },
  };
}

async function expectRefused(
  answer: Authentication | Promise<Authentication>,
  expected: { status: number; code?: string; reason: string },
) {
  const settled = await answer;
  if (settled.ok) throw new Error(`expected a refusal (${expected.reason}), got admitted`);
  expect({ status: settled.status, code: settled.error.code, reason: settled.error.reason }).toEqual({
    code: undefined,
    ...expected,
  });
  return settled;
}

const invalidProof = (reason: string) => ({ status: 401, code: 'invalid_dpop_proof', reason });

/** A compact JWS signed with node:crypto: for headers and keys jose refuses to sign with. */
function signWithNode(header: object, claims: object, key: KeyObject): string {
  const input = `${base64url.encode(JSON.stringify(header))}.${base64url.encode(JSON.stringify(claims))}`;
  const ec = key.asymmetricKeyType === 'ec';
  const signature = sign('sha256', Buffer.from(input), ec ? { key, dsaEncoding: 'ieee-p1363' } : key);
  return `${input}.${signature.toString('base64url')}`;
}

/** A valid proof by `client` (ES256), with extra header members. */
function nodeSigned(extra: object): string {
  const claims = { htm: 'GET', htu: HTU, iat: Math.floor(clock() / 1000), jti: randomUUID(), ath: ath(bound) };
  const header = { alg: 'ES256', typ: 'dpop+jwt', jwk: client.publicJwk, ...extra };
  return signWithNode(header, claims, createPrivateKey({ key: client.privateJwk as never, format: 'jwk' }));
}

describe('a DPoP-bound token from the IdP', () => {
  it('is bound to the key of the proof the token request carried (cnf.jkt)', () => {
    const payload = JSON.parse(Buffer.from(bound.split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;
    expect(payload.cnf).toEqual({ jkt: client.jkt });
  });

  it('is admitted with a fresh proof, on a cache miss and on a cache hit (the proof checked again)', async () => {
    const authenticate = createAuthenticator({ verifier: verifierWith() });
    const miss = await authenticate(await dpopRequest());
    expect(miss).toMatchObject({ ok: true, auth: { token: bound } });
    const hit = authenticate(await dpopRequest());
    expect(hit).toBeInstanceOf(Promise); // the proof needs a signature check and a store claim
    expect(await hit).toMatchObject({ ok: true, auth: { token: bound } });
  });

  it.each(['ES256', 'ES384', 'EdDSA', 'PS256', 'RS256'] as const)(
    'admits proofs by a %s key (the RFC 7638 thumbprint of each key type is cnf.jkt)',
    async (alg) => {
      const key = await dpopClient(alg);
      const token = await tokenAt(idp, clock(), { cnf: { jkt: key.jkt } });
      const authenticate = createAuthenticator({ verifier: verifierWith() });
      const proof = await key.proof({ htu: HTU, token, at: clock() });
      const answer = await authenticate({
        method: 'GET',
        url: '/notes',
        headers: { authorization: `DPoP ${token}`, dpop: proof },
      });
      expect(answer).toMatchObject({ ok: true });
    },
  );

  it('takes the guard shorthand: dpop is the mode, publicUrl goes to the verifier it builds', async () => {
    const authenticate = createAuthenticator({
      issuer: idp.issuer,
      audience: idp.audience,
      clock,
      publicUrl: PUBLIC_URL,
      dpop: 'required',
    });
    closers.push(() => authenticate.verifier.close());
    expect(await authenticate(await dpopRequest())).toMatchObject({ ok: true });
    expect(() =>
      createAuthenticator({ issuer: idp.issuer, audience: idp.audience, dpop: { algorithms: ['ES256'] } as never }),
    ).toThrow(/proof settings such as algorithms go to createVerifier\(\{ dpop \}\)/);
  });

  it('challenges with both schemes when DPoP is allowed, and the DPoP one carries a DPoP error', async () => {
    const authenticate = createAuthenticator({ verifier: verifierWith({ dpop: { algorithms: ['ES256', 'EdDSA'] } }) });
    const none = await expectRefused(authenticate({ headers: {} }), { status: 401, reason: 'missing_token' });
    expect(none.headers['WWW-Authenticate']).toBe('Bearer realm="api", DPoP realm="api", algs="ES256 EdDSA"');
    expect(none.body).toEqual({ error: 'unauthorized', error_description: 'Bearer or DPoP token required' });
    const stale = await expectRefused(
      authenticate(await dpopRequest(bound, { at: clock() - 3_600_000 })),
      invalidProof('dpop_proof_stale'),
    );
    expect(stale.headers['WWW-Authenticate']).toBe(
      'Bearer realm="api", DPoP realm="api", algs="ES256 EdDSA", error="invalid_dpop_proof", ' +
        'error_description="The DPoP proof iat is outside the accepted window"',
    );
  });
});

describe('every check of RFC 9449 §4.3, with the proof an attacker would send', () => {
  let authenticate: Authenticator;
  beforeAll(() => {
    authenticate = createAuthenticator({ verifier: verifierWith() });
  });

  it.each<[string, () => Promise<Partial<ProofOptions> | string>, string]>([
    ['another method (htm)', async () => ({ htm: 'POST' }), 'dpop_method_mismatch'],
    ['a lower-case method (htm is case-sensitive)', async () => ({ htm: 'get' }), 'dpop_method_mismatch'],
    ['another path (htu)', async () => ({ htu: `${PUBLIC_URL}/admin` }), 'dpop_url_mismatch'],
    ['another host (htu)', async () => ({ htu: 'https://evil.example/notes' }), 'dpop_url_mismatch'],
    ['another scheme (htu)', async () => ({ htu: 'http://api.example.com/notes' }), 'dpop_url_mismatch'],
    ['userinfo in htu', async () => ({ htu: 'https://evil@api.example.com/notes' }), 'dpop_url_mismatch'],
    ['a relative htu', async () => ({ htu: '/notes' }), 'dpop_url_mismatch'],
    ['a numeric htu', async () => ({ claims: { htu: 5 } }), 'dpop_url_mismatch'],
    ['the hash of another token (ath)', async () => ({ claims: { ath: ath(bearerToken) } }), 'dpop_ath_mismatch'],
    ['no ath', async () => ({ claims: { ath: undefined } }), 'dpop_ath_mismatch'],
    ['an iat 301 s old', async () => ({ at: clock() - 301_000 - 5_000 }), 'dpop_proof_stale'],
    ['an iat 10 s ahead', async () => ({ at: clock() + 10_000 }), 'dpop_proof_stale'],
    ['an expired exp', async () => ({ claims: { exp: Math.floor(clock() / 1000) - 60 } }), 'dpop_proof_stale'],
    ['no jti', async () => ({ claims: { jti: undefined } }), 'dpop_proof_malformed'],
    ['a jti of 300 characters', async () => ({ jti: 'j'.repeat(300) }), 'dpop_proof_malformed'],
    ['no iat', async () => ({ claims: { iat: undefined } }), 'dpop_proof_malformed'],
    ['a string iat', async () => ({ claims: { iat: String(Math.floor(clock() / 1000)) } }), 'dpop_proof_malformed'],
    ['an nbf ahead', async () => ({ claims: { nbf: Math.floor(clock() / 1000) + 60 } }), 'dpop_proof_stale'],
    ['a string exp', async () => ({ claims: { exp: 'soon' } }), 'dpop_proof_malformed'],
    ['a crit header', async () => nodeSigned({ crit: ['exp'] }), 'dpop_proof_malformed'],
    ['b64: false', async () => nodeSigned({ b64: false }), 'dpop_proof_malformed'],
    [
      'a signature that is not base64url',
      async () => `${(await client.proof({ htu: HTU, token: bound, at: clock() })).slice(0, -4)}!!!!`,
      'dpop_signature_invalid',
    ],
    ['typ JWT', async () => ({ header: { typ: 'JWT' } }), 'dpop_proof_malformed'],
    ['no typ', async () => ({ header: { typ: undefined } }), 'dpop_proof_malformed'],
    ['no jwk', async () => ({ header: { jwk: undefined } }), 'dpop_proof_malformed'],
    ['the private key in jwk', async () => ({ header: { jwk: client.privateJwk } }), 'dpop_proof_malformed'],
    [
      'an oct (symmetric) jwk',
      async () => ({ header: { jwk: { kty: 'oct', k: base64url.encode('x'.repeat(32)) } as never } }),
      'dpop_proof_malformed',
    ],
    ['garbage', async () => 'not-a-jwt', 'dpop_proof_malformed'],
    ['four segments', async () => 'a.b.c.d', 'dpop_proof_malformed'],
    ['a header that is not JSON', async () => `${base64url.encode('{')}.e30.sig`, 'dpop_proof_malformed'],
  ])('refuses %s', async (_name, proof, reason) => {
    await expectRefused(authenticate(await dpopRequest(bound, await proof())), invalidProof(reason));
  });

  it('refuses alg none and HS256 proofs, and an algorithm outside the allowlist', async () => {
    const claims = { htm: 'GET', htu: HTU, iat: Math.floor(clock() / 1000), jti: randomUUID(), ath: ath(bound) };
    const none = rawToken({ alg: 'none', typ: 'dpop+jwt', jwk: client.publicJwk }, claims);
    await expectRefused(authenticate(await dpopRequest(bound, none)), invalidProof('dpop_algorithm_not_allowed'));
    const secret = new TextEncoder().encode('x'.repeat(32));
    const hs256 = await new SignJWT(claims)
      .setProtectedHeader({ alg: 'HS256', typ: 'dpop+jwt', jwk: { kty: 'oct', k: base64url.encode(secret) } as never })
      .sign(secret);
    await expectRefused(authenticate(await dpopRequest(bound, hs256)), invalidProof('dpop_algorithm_not_allowed'));
    const strict = createAuthenticator({ verifier: verifierWith({ dpop: { algorithms: ['EdDSA'] } }) });
    await expectRefused(strict(await dpopRequest()), invalidProof('dpop_algorithm_not_allowed'));
  });

  it('refuses a proof whose signature is not by its jwk', async () => {
    const forged = await client.proof({ htu: HTU, token: bound, at: clock() });
    const [header, payload] = forged.split('.');
    const otherSignature = (await client.proof({ htu: HTU, token: bound, at: clock() })).split('.')[2];
    await expectRefused(
      authenticate(await dpopRequest(bound, `${header}.${payload}.${otherSignature}`)),
      invalidProof('dpop_signature_invalid'),
    );
  });

  it('refuses an RSA key shorter than 2048 bits, even bound to the token', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const { kty, n, e } = publicKey.export({ format: 'jwk' });
    const jwk = { e: e!, kty: kty!, n: n! };
    const token = await tokenAt(idp, clock(), { cnf: { jkt: await calculateJwkThumbprint(jwk) } });
    const claims = { htm: 'GET', htu: HTU, iat: Math.floor(clock() / 1000), jti: randomUUID(), ath: ath(token) };
    const weak = signWithNode({ alg: 'RS256', typ: 'dpop+jwt', jwk }, claims, privateKey);
    const answer = await authenticate({
      method: 'GET',
      url: '/notes',
      headers: { authorization: `DPoP ${token}`, dpop: weak },
    });
    await expectRefused(answer, invalidProof('dpop_proof_malformed'));
  });

  it('admits the node-signed proof the crit and b64 cases start from', async () => {
    expect(await authenticate(await dpopRequest(bound, nodeSigned({})))).toMatchObject({ ok: true });
  });

  it('admits a proof that carries a future exp', async () => {
    const answer = await authenticate(await dpopRequest(bound, { claims: { exp: Math.floor(clock() / 1000) + 60 } }));
    expect(answer).toMatchObject({ ok: true });
  });

  it('refuses a jwk that does not fit its alg (a P-256 key claiming ES384)', async () => {
    const proof = await client.proof({ htu: HTU, token: bound, at: clock() });
    const [, payload, signature] = proof.split('.');
    const header = base64url.encode(JSON.stringify({ alg: 'ES384', typ: 'dpop+jwt', jwk: client.publicJwk }));
    await expectRefused(
      authenticate(await dpopRequest(bound, `${header}.${payload}.${signature}`)),
      invalidProof('dpop_proof_malformed'),
    );
  });

  it('refuses a proof by another key than the one the token is bound to (a stolen token): invalid_token', async () => {
    const stolen = await other.proof({ htu: HTU, token: bound, at: clock() });
    const answer = await expectRefused(authenticate(await dpopRequest(bound, stolen)), {
      status: 401,
      code: 'invalid_token',
      reason: 'dpop_key_mismatch',
    });
    expect(answer.headers['WWW-Authenticate']).toMatch(/DPoP realm="api", algs="[^"]+", error="invalid_token"/);
  });

  it('refuses an unbound token under the DPoP scheme', async () => {
    await expectRefused(authenticate(await dpopRequest(bearerToken)), {
      status: 401,
      code: 'invalid_token',
      reason: 'dpop_key_mismatch',
    });
  });

  it('accepts the htu however RFC 3986 spells the same URI, and ignores its query and fragment', async () => {
    for (const htu of [
      'HTTPS://API.EXAMPLE.COM/notes',
      'https://api.example.com:443/notes',
      'https://api.example.com/notes?page=2#top',
      'https://api.example.com/%6Eotes',
      'https://api.example.com/a/../notes',
    ]) {
      expect(await authenticate(await dpopRequest(bound, { htu }))).toMatchObject({ ok: true });
    }
    const encoded = await dpopRequest(bound, { htu: `${PUBLIC_URL}/caf%c3%a9` }, { url: '/caf%C3%A9?x=1' });
    expect(await authenticate(encoded)).toMatchObject({ ok: true });
  });

  it('compares htu with the configured public URL, never Host or X-Forwarded-*', async () => {
    const spoofed = { host: 'evil.example', 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'http' };
    const theirs = await dpopRequest(bound, { htu: 'http://evil.example/notes' }, { headers: spoofed });
    await expectRefused(authenticate(theirs), invalidProof('dpop_url_mismatch'));
    const ours = await dpopRequest(bound, {}, { headers: spoofed });
    expect(await authenticate(ours)).toMatchObject({ ok: true });
  });

  it('names the path a router left in originalUrl, not the one it stripped to', async () => {
    const mounted = await dpopRequest(bound, {}, { url: '/', originalUrl: '/notes' });
    expect(await authenticate(mounted)).toMatchObject({ ok: true });
  });

  it('refuses a DPoP token without a DPoP header (401), and two DPoP headers however they come (400)', async () => {
    await expectRefused(authenticate({ method: 'GET', url: '/notes', headers: { authorization: `DPoP ${bound}` } }), {
      ...invalidProof('dpop_proof_missing'),
    });
    const proof = await client.proof({ htu: HTU, token: bound, at: clock() });
    const twice: RequestLike[] = [
      { method: 'GET', url: '/notes', headers: { authorization: `DPoP ${bound}`, dpop: [proof, proof] } },
      { method: 'GET', url: '/notes', headers: { authorization: `DPoP ${bound}`, dpop: proof, DPoP: proof } },
      {
        method: 'GET',
        url: '/notes',
        headers: new Headers([
          ['authorization', `DPoP ${bound}`],
          ['dpop', proof],
          ['dpop', proof],
        ]),
      },
      {
        method: 'GET',
        url: '/notes',
        headers: { authorization: `DPoP ${bound}`, dpop: proof },
        rawHeaders: ['Authorization', `DPoP ${bound}`, 'DPoP', proof, 'dpop', proof],
      },
    ];
    for (const request of twice) {
      const answer = await expectRefused(authenticate(request), {
        status: 400,
        code: 'invalid_request',
        reason: 'multiple_tokens',
      });
      expect(answer.headers['WWW-Authenticate']).toContain('DPoP realm="api", algs=');
    }
  });

  it('refuses a proof over 8 KiB unread', async () => {
    const huge = `${'a'.repeat(9000)}.b.c`;
    await expectRefused(authenticate(await dpopRequest(bound, huge)), invalidProof('dpop_proof_malformed'));
  });

  it('takes the DPoP scheme case-insensitively and refuses a malformed DPoP token 400', async () => {
    const proof = await client.proof({ htu: HTU, token: bound, at: clock() });
    const answer = await authenticate({
      method: 'GET',
      url: '/notes',
      headers: { authorization: `dpop ${bound}`, dpop: proof },
    });
    expect(answer).toMatchObject({ ok: true });
    await expectRefused(authenticate(await dpopRequest('a,b')), {
      status: 400,
      code: 'invalid_request',
      reason: 'malformed_request',
    });
    await expectRefused(authenticate({ headers: { authorization: 'DPoP ', dpop: proof } }), {
      status: 400,
      code: 'invalid_request',
      reason: 'malformed_request',
    });
  });
});

describe('bound tokens as Bearer, Bearer tokens where DPoP is required', () => {
  it('refuses a DPoP-bound token sent as Bearer in every mode, off included', async () => {
    const verifier = verifierWith();
    for (const dpop of ['off', 'allowed', 'required', undefined] as const) {
      const authenticate = createAuthenticator({ verifier, dpop });
      const answer = await expectRefused(
        authenticate({ headers: { authorization: `Bearer ${bound}` } }),
        dpop === 'required'
          ? { status: 401, reason: 'dpop_required' }
          : { status: 401, code: 'invalid_token', reason: 'dpop_bound_token' },
      );
      if (dpop === 'off') {
        expect(answer.headers['WWW-Authenticate']).toMatch(/^Bearer realm="api", error="invalid_token"/);
      }
    }
    const noPublicUrl = createAuthenticator({
      verifier: createVerifier({ issuer: idp.issuer, audience: idp.audience, clock }),
    });
    await expectRefused(noPublicUrl({ headers: { authorization: `Bearer ${bound}` } }), {
      status: 401,
      code: 'invalid_token',
      reason: 'dpop_bound_token',
    });
    await noPublicUrl.verifier.close();
  });

  it("refuses a Bearer token under 'required' before verifying it: 401 with a bare DPoP challenge", async () => {
    const authenticate = createAuthenticator({ verifier: verifierWith(), dpop: 'required' });
    const answer = await expectRefused(authenticate({ headers: { authorization: `Bearer ${bearerToken}` } }), {
      status: 401,
      reason: 'dpop_required',
    });
    expect(answer.headers['WWW-Authenticate']).toMatch(/^DPoP realm="api", algs="[^"]+"$/);
    expect(answer.body).toEqual({ error: 'unauthorized', error_description: 'DPoP token required' });
    expect(await authenticate(await dpopRequest())).toMatchObject({ ok: true });
  });

  it("takes an unbound Bearer token as before under 'allowed' (a stray DPoP header is ignored)", async () => {
    const authenticate = createAuthenticator({ verifier: verifierWith() });
    const answer = await authenticate({ headers: { authorization: `Bearer ${bearerToken}`, dpop: 'whatever' } });
    expect(answer).toMatchObject({ ok: true });
  });

  it("takes no DPoP scheme under 'off', or by default without a public URL (401, Bearer challenge)", async () => {
    const plain = createVerifier({ issuer: idp.issuer, audience: idp.audience, clock });
    closers.push(() => plain.close());
    for (const authenticate of [
      createAuthenticator({ verifier: plain }),
      createAuthenticator({ verifier: verifierWith(), dpop: 'off' }),
    ]) {
      const answer = await expectRefused(authenticate(await dpopRequest()), { status: 401, reason: 'missing_token' });
      expect(answer.headers['WWW-Authenticate']).toBe('Bearer realm="api"');
    }
  });
});

describe('revocation and the cache', () => {
  it('refuses a revoked DPoP token on a cache hit, with a valid proof', async () => {
    const key = await dpopClient();
    const token = await issueDpopToken(idp, key);
    const verifier = verifierWith();
    const authenticate = createAuthenticator({ verifier });
    const request = async () => ({
      method: 'GET',
      url: '/notes',
      headers: { authorization: `DPoP ${token}`, dpop: await key.proof({ htu: HTU, token, at: clock() }) },
    });
    expect(await authenticate(await request())).toMatchObject({ ok: true });
    expect(verifier.peek(token)).toBeDefined();
    await verifier.invalidate(token);
    await expectRefused(authenticate(await request()), { status: 401, code: 'invalid_token', reason: 'revoked' });
  });

  it('refuses a request whose proof claim was in flight when another instance confirmed the revocation', async () => {
    // Two instances sharing a store; A's claim of the proof waits in the store (one round trip)
    // while B revokes the token and the store delivers it to A. Before: A admitted the request, its
    // revocation check having run before the claim.
    const store = scriptedStore({ onUnavailable: 'fail-closed', maxStalenessMs: 60_000 }, clock);
    const [a, b] = [verifierWith({ store }), verifierWith({ store })];
    store.connect();
    const key = await dpopClient();
    const token = await issueDpopToken(idp, key);
    const request = async () => ({
      method: 'GET',
      url: '/notes',
      headers: { authorization: `DPoP ${token}`, dpop: await key.proof({ htu: HTU, token, at: clock() }) },
    });
    const onA = createAuthenticator({ verifier: a });
    expect(await onA(await request())).toMatchObject({ ok: true }); // A has the token cached
    const release = store.holdClaims();
    try {
      const pending = onA(await request()); // a cache hit: not revoked yet; the proof's claim goes out
      await waitFor(() => store.claimsHeld === 1, 'the claim in flight');
      await b.invalidate(token); // confirmed: in the store, and delivered to A
      expect(a.peek(token)).toBeUndefined();
      release();
      await expectRefused(pending, { status: 401, code: 'invalid_token', reason: 'revoked' });
    } finally {
      release();
    }
    // A proof claimed before a revocation that comes after the answer is not this check's business:
    // the next request is refused as any revoked token is.
    await expectRefused(onA(await request()), { status: 401, code: 'invalid_token', reason: 'revoked' });
  });

  it('never reuses a proof: the same proof twice is a replay, even with the token cached', async () => {
    const authenticate = createAuthenticator({ verifier: verifierWith() });
    const request = await dpopRequest();
    expect(await authenticate(request)).toMatchObject({ ok: true });
    await expectRefused(authenticate(request), invalidProof('dpop_proof_replayed'));
  });

  it('claims a proof once per request identity: a second guard on it admits the proof, a new request does not', async () => {
    const verifier = verifierWith();
    const [outer, inner] = [
      createAuthenticator({ verifier }),
      createAuthenticator({ verifier, scopes: ['notes:read'] }),
    ];
    const proof = await client.proof({ htu: HTU, token: bound, at: clock() });
    const identity = {}; // what an adapter passes: the framework's own object for this request
    expect(await outer(await dpopRequest(bound, proof, { identity }))).toMatchObject({ ok: true });
    expect(await inner(await dpopRequest(bound, proof, { identity }))).toMatchObject({ ok: true });
    // Another request (another identity, or none) presenting the same proof: a replay.
    await expectRefused(inner(await dpopRequest(bound, proof, { identity: {} })), invalidProof('dpop_proof_replayed'));
    await expectRefused(outer(await dpopRequest(bound, proof)), invalidProof('dpop_proof_replayed'));
  });

  it('on the same request identity, still claims another proof and still runs every other proof check', async () => {
    const verifier = verifierWith();
    const authenticate = createAuthenticator({ verifier });
    const identity = {};
    expect(await authenticate(await dpopRequest(bound, undefined, { identity }))).toMatchObject({ ok: true });
    // A second proof on the same identity is claimed in the store: another request cannot reuse it.
    const second = await client.proof({ htu: HTU, token: bound, at: clock() });
    expect(await authenticate(await dpopRequest(bound, second, { identity }))).toMatchObject({ ok: true });
    await expectRefused(
      authenticate(await dpopRequest(bound, second, { identity: {} })),
      invalidProof('dpop_proof_replayed'),
    );
    // The proof already claimed for this identity, checked against another URL, method or token.
    const proof = await client.proof({ htu: HTU, token: bound, at: clock() });
    expect(await authenticate(await dpopRequest(bound, proof, { identity }))).toMatchObject({ ok: true });
    await expectRefused(
      authenticate(await dpopRequest(bound, proof, { identity, url: '/other' })),
      invalidProof('dpop_url_mismatch'),
    );
    await expectRefused(
      authenticate(await dpopRequest(bound, proof, { identity, method: 'POST' })),
      invalidProof('dpop_method_mismatch'),
    );
    const elsewhere = createAuthenticator({ verifier, origin: 'https://other.example.com' });
    await expectRefused(elsewhere(await dpopRequest(bound, proof, { identity })), invalidProof('dpop_url_mismatch'));
    clock.advance(400_000); // past iatWindow
    try {
      await expectRefused(
        authenticate(await dpopRequest(bound, proof, { identity })),
        invalidProof('dpop_proof_stale'),
      );
    } finally {
      clock.advance(-400_000);
    }
  });

  it('shares one claim between concurrent checks of one request, and never between two verifiers', async () => {
    const verifier = verifierWith();
    const authenticate = createAuthenticator({ verifier });
    const identity = {};
    const request = await dpopRequest(bound, undefined, { identity });
    const answers = await Promise.all([authenticate(request), authenticate(request)]);
    expect(answers).toMatchObject([{ ok: true }, { ok: true }]);
    // Another verifier (its own store) claims for itself: the memory is per verifier.
    const store = createMemoryStore({ clock });
    const [a, b] = [verifierWith({ store }), verifierWith({ store })];
    expect(await createAuthenticator({ verifier: a })(request)).toMatchObject({ ok: true });
    await expectRefused(createAuthenticator({ verifier: b })(request), invalidProof('dpop_proof_replayed'));
  });

  it('does not use up a jti when the proof is refused for another reason', async () => {
    const authenticate = createAuthenticator({ verifier: verifierWith() });
    const jti = randomUUID();
    await expectRefused(
      authenticate(await dpopRequest(bound, { jti, htm: 'POST' })),
      invalidProof('dpop_method_mismatch'),
    );
    expect(await authenticate(await dpopRequest(bound, { jti }))).toMatchObject({ ok: true });
  });
});

describe('replay across instances sharing Redis', () => {
  it('refuses on instance B a proof already used on instance A, and on A itself', async () => {
    const prefix = `rjwt-dpop:${randomUUID()}:`;
    const [a, b] = [verifierWith({ store: redisStore(prefix) }), verifierWith({ store: redisStore(prefix) })];
    const [onA, onB] = [createAuthenticator({ verifier: a }), createAuthenticator({ verifier: b })];
    const request = await dpopRequest();
    expect(await onA(request)).toMatchObject({ ok: true });
    await expectRefused(onB(request), invalidProof('dpop_proof_replayed'));
    await expectRefused(onA(request), invalidProof('dpop_proof_replayed'));
    expect(await onB(await dpopRequest())).toMatchObject({ ok: true });
  });

  it('keeps the claim as long as the proof would be accepted (Redis TTL covers iatWindow)', async () => {
    const prefix = `rjwt-dpop:${randomUUID()}:`;
    const authenticate = createAuthenticator({ verifier: verifierWith({ store: redisStore(prefix) }) });
    const jti = randomUUID();
    expect(await authenticate(await dpopRequest(bound, { jti }))).toMatchObject({ ok: true });
    const admin = new Redis(REDIS_URL);
    try {
      const ttl = await admin.pttl(`${prefix}seen:dpop:${client.jkt}:${jti}`);
      // iatWindow 300 s + clockTolerance 5 s after iat (= now here), + clockTolerance 5 s for an
      // instance whose clock runs behind, + 1 s.
      expect(ttl).toBeGreaterThan(309_000);
      expect(ttl).toBeLessThanOrEqual(311_000);
    } finally {
      admin.disconnect();
    }
  });
});

describe('the store cannot record the claim', () => {
  let redis: PrivateRedis;
  beforeAll(async () => {
    redis = await startPrivateRedis();
  }, 30_000);
  afterAll(async () => {
    await redis.stop();
  });

  it('answers 503 with Retry-After (never admits an unrecorded proof), and heals', async () => {
    const prefix = `rjwt-dpop:${randomUUID()}:`;
    const store = createRedisStore({ url: redis.url, keyPrefix: prefix, clock });
    closers.push(() => store.close());
    const authenticate = createAuthenticator({ verifier: verifierWith({ store }) });
    const admin = new Redis(redis.url);
    try {
      expect(await authenticate(await dpopRequest())).toMatchObject({ ok: true });
      await admin.config('SET', 'maxmemory-policy', 'noeviction');
      await admin.config('SET', 'maxmemory', '1'); // writes answer OOM, reads and subscriptions go on
      const answer = await expectRefused(authenticate(await dpopRequest()), {
        status: 503,
        code: 'temporarily_unavailable',
        reason: 'store_unavailable',
      });
      expect(answer.headers['Retry-After']).toBe('1');
      await admin.config('SET', 'maxmemory', '0');
      expect(await authenticate(await dpopRequest())).toMatchObject({ ok: true });
    } finally {
      admin.disconnect();
    }
  });

  it('a memory store full of live claims refuses new ones (503) rather than forget one', async () => {
    const store = createMemoryStore({ clock });
    for (let i = 0; i < 100_000; i++) await store.claimOnce(`dpop:filler:${i}`, 600_000); // the DPoP proofs' cap
    const authenticate = createAuthenticator({ verifier: verifierWith({ store }) });
    await expectRefused(authenticate(await dpopRequest()), {
      status: 503,
      code: 'temporarily_unavailable',
      reason: 'store_unavailable',
    });
    expect(await store.claimOnce('dpop:filler:0', 600_000)).toBe(false); // nothing was forgotten
    clock.advance(601_000);
    try {
      expect(await store.claimOnce('dpop:after', 1000)).toBe(true); // expired claims made room
    } finally {
      clock.advance(-601_000);
    }
  });
});

describe('server nonces (stateless, shared by every instance)', () => {
  const nonceVerifier = (store?: RevocationStore, iatWindow?: number) =>
    verifierWith({ dpop: { nonce: { secret: NONCE_SECRET }, iatWindow }, ...(store ? { store } : {}) });

  it('asks for a nonce (use_dpop_nonce + DPoP-Nonce), admits the retry that carries it', async () => {
    const authenticate = createAuthenticator({ verifier: nonceVerifier() });
    const first = await expectRefused(authenticate(await dpopRequest()), {
      status: 401,
      code: 'use_dpop_nonce',
      reason: 'dpop_nonce_required',
    });
    const nonce = first.headers['DPoP-Nonce']!;
    expect(nonce).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(first.headers['WWW-Authenticate']).toContain('DPoP realm="api", algs=');
    expect(first.headers['WWW-Authenticate']).toContain('error="use_dpop_nonce"');
    const retry = await authenticate(await dpopRequest(bound, { nonce }));
    expect(retry).toEqual({ ok: true, auth: expect.anything() }); // a current nonce: no new one sent
  });

  it("accepts another instance's nonce, and refuses a replay there as invalid_dpop_proof", async () => {
    const prefix = `rjwt-dpop:${randomUUID()}:`;
    const [onA, onB] = [
      createAuthenticator({ verifier: nonceVerifier(redisStore(prefix)) }),
      createAuthenticator({ verifier: nonceVerifier(redisStore(prefix)) }),
    ];
    const asked = await onA(await dpopRequest());
    const nonce = (asked as { headers: Record<string, string> }).headers['DPoP-Nonce']!;
    const request = await dpopRequest(bound, { nonce });
    expect(await onB(request)).toMatchObject({ ok: true });
    await expectRefused(onA(request), invalidProof('dpop_proof_replayed'));
  });

  it('rotates: past its first period the answer carries the next nonce; past two, the nonce is refused', async () => {
    // A 60 s period, so two periods on the token (600 s) has not expired yet.
    const authenticate = createAuthenticator({ verifier: nonceVerifier(undefined, 60) });
    const start = clock();
    try {
      const nonce = ((await authenticate(await dpopRequest())) as { headers: Record<string, string> }).headers[
        'DPoP-Nonce'
      ]!;
      clock.set((Math.floor(start / 60_000) + 1) * 60_000 + 1000); // the next period
      const rotated = await authenticate(await dpopRequest(bound, { nonce }));
      if (!rotated.ok) throw new Error('expected admitted');
      const next = rotated.headers?.['DPoP-Nonce'];
      expect(next).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(next).not.toBe(nonce);
      clock.advance(60_000); // two periods on: the first nonce is gone
      const refused = await expectRefused(authenticate(await dpopRequest(bound, { nonce })), {
        status: 401,
        code: 'use_dpop_nonce',
        reason: 'dpop_nonce_required',
      });
      expect(refused.headers['DPoP-Nonce']).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect([nonce, next]).not.toContain(refused.headers['DPoP-Nonce']); // the current period's
    } finally {
      clock.set(start);
    }
  });

  it('takes a valid nonce instead of a recent iat, and refuses a made-up nonce with a fresh one', async () => {
    const authenticate = createAuthenticator({ verifier: nonceVerifier() });
    const nonce = ((await authenticate(await dpopRequest())) as { headers: Record<string, string> }).headers[
      'DPoP-Nonce'
    ]!;
    const oldClock = await dpopRequest(bound, { nonce, at: clock() - 3_600_000 });
    expect(await authenticate(oldClock)).toMatchObject({ ok: true });
    const madeUp = await expectRefused(authenticate(await dpopRequest(bound, { nonce: 'x'.repeat(43) })), {
      status: 401,
      code: 'use_dpop_nonce',
      reason: 'dpop_nonce_required',
    });
    expect(madeUp.headers['DPoP-Nonce']).toBe(nonce);
  });
});

describe('configuration', () => {
  const base = () => ({ issuer: idp.issuer, audience: idp.audience });

  it.each([
    [{ dpop: { algorithms: ['HS256'] } }, /dpop.algorithms/],
    [{ dpop: { algorithms: ['none'] } }, /dpop.algorithms/],
    [{ dpop: { algorithms: [] } }, /dpop.algorithms/],
    [{ dpop: { iatWindow: 300_000 } }, /dpop.iatWindow.*milliseconds/],
    [{ dpop: { iatWindow: 0 } }, /dpop.iatWindow/],
    [{ dpop: { nonce: { secret: 'short' } } }, /dpop.nonce.secret.*32 bytes/],
    [{ dpop: { nonce: { secret: undefined } } }, /dpop.nonce.secret/],
    [{ dpop: { nonce: { secrets: 'x' } } }, /unknown option `dpop.nonce.secrets`/],
    [{ dpop: { iatwindow: 60 } }, /did you mean `dpop.iatWindow`/],
    [{ dpop: 'required' }, /`dpop` must be an object/],
    [{ publicUrl: 'api.example.com' }, /publicUrl.*not an absolute URL/],
    [{ publicUrl: 'https://api.example.com/?x=1' }, /publicUrl.*query/],
    [{ publicUrl: 'https://user:pw@api.example.com' }, /publicUrl.*user name/],
    [{ publicUrl: 'ftp://api.example.com' }, /publicUrl.*scheme/],
  ])('createVerifier refuses %j', (options, message) => {
    expect(() => createVerifier({ ...base(), ...options } as VerifierOptions)).toThrow(message);
  });

  it("refuses dpop: 'allowed' or 'required' without a public URL to check htu against", () => {
    const plain = createVerifier(base());
    closers.push(() => plain.close());
    for (const dpop of ['allowed', 'required'] as const) {
      expect(() => createAuthenticator({ verifier: plain, dpop })).toThrow(/needs the public URL.*publicUrl/);
    }
    expect(() => createAuthenticator({ verifier: plain, dpop: 'on' as never })).toThrow(
      /'off', 'allowed' or 'required'/,
    );
    expect(createAuthenticator({ verifier: plain, dpop: 'off' }).dpop).toBe('off');
    expect(createAuthenticator({ verifier: plain }).dpop).toBe('off'); // the default without a public URL
    expect(createAuthenticator({ verifier: verifierWith() }).dpop).toBe('allowed'); // … and with one
  });

  it("takes the authenticator's origin as the base of htu, over the verifier's publicUrl", async () => {
    const plain = createVerifier({ ...base(), clock });
    closers.push(() => plain.close());
    const authenticate = createAuthenticator({ verifier: plain, origin: 'https://edge.example.com', dpop: 'required' });
    const request = await dpopRequest(bound, { htu: 'https://edge.example.com/notes' });
    expect(await authenticate(request)).toMatchObject({ ok: true });
    const overridden = createAuthenticator({ verifier: verifierWith(), origin: 'https://edge.example.com' });
    await expectRefused(overridden(await dpopRequest()), invalidProof('dpop_url_mismatch'));
  });

  it('joins a base path of publicUrl and the request path', async () => {
    const authenticate = createAuthenticator({ verifier: verifierWith({ publicUrl: 'https://example.com/api/' }) });
    const request = await dpopRequest(bound, { htu: 'https://example.com/api/notes' });
    expect(await authenticate(request)).toMatchObject({ ok: true });
  });

  it('works with a multi-issuer verifier (each issuer its own settings)', async () => {
    const verifier = createVerifier({
      clock,
      publicUrl: PUBLIC_URL,
      issuers: [
        { issuer: idp.issuer, audience: idp.audience, dpop: { algorithms: ['ES256'] } },
        { issuer: 'https://other-idp.example/', audience: 'api', dpop: { algorithms: ['EdDSA'] } },
      ],
    });
    closers.push(() => verifier.close());
    const authenticate = createAuthenticator({ verifier, dpop: 'required' });
    expect(await authenticate(await dpopRequest())).toMatchObject({ ok: true });
    const answer = await expectRefused(authenticate({ headers: {} }), { status: 401, reason: 'missing_token' });
    expect(answer.headers['WWW-Authenticate']).toBe('DPoP realm="api", algs="ES256 EdDSA"');
  });
});
