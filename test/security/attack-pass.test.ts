/**
 * Attack pass on issue 10 ("revocation holds by construction"): tests an outside attacker would
 * write against the revocation promise. Each names the hole it probes.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { SignJWT } from 'jose';
import { createMemoryStore, InvalidTokenError, type Verifier } from '../../src/index.js';
import request from 'supertest';
import { revokeRoute } from '../../src/index.js';
import { startStubServer, sendJson, type StubServer } from '../support/http.js';
import { testClock } from '../support/idp.js';
import { createHmacVerifier } from '../support/hmac-verifier.js';

const SECRET = new TextEncoder().encode('a-shared-secret-of-at-least-32-bytes!!');
const AUD = 'https://api.example';
const ISSUER = 'http://127.0.0.1:9/attack';
const LIFETIME = 600; // maxTokenLifetime, s

const outcome = (p: Promise<unknown>) =>
  p.then(
    () => 'accepted',
    (e: unknown) => (e instanceof InvalidTokenError ? e.reason : String(e)),
  );

const open: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  for (const item of open.splice(0).reverse()) await item.close();
});

function hmacVerifier(clock: ReturnType<typeof testClock>, extra: Record<string, unknown> = {}): Verifier {
  const { verifier } = createHmacVerifier({ issuer: ISSUER, audience: AUD, secret: SECRET }, clock, {
    maxTokenLifetime: LIFETIME,
    ...extra,
  });
  open.push(verifier);
  return verifier;
}

describe('a cutoff outlives every token it covers', () => {
  it('even a JWT without `iat` (its exp far away) stays cut after the cutoff record would lapse', async () => {
    const clock = testClock(1_800_000_000_000);
    const verifier = hmacVerifier(clock);
    const now = Math.floor(clock() / 1000);
    // Issued before the logout; no iat, so nothing says when. Refused for now (too long to live)...
    const token = await new SignJWT({ sub: 'alice', iss: ISSUER, aud: AUD, exp: now + 3 * LIFETIME })
      .setProtectedHeader({ alg: 'HS256' })
      .sign(SECRET);
    await verifier.invalidateSubject('alice');
    expect(await outcome(verifier.verify(token))).not.toBe('accepted');
    // ...but once exp − now fits maxTokenLifetime, the cutoff (kept maxTokenLifetime + 2 × tolerance) is gone.
    clock.advance((2 * LIFETIME + 1) * 1000);
    expect(await outcome(verifier.verify(token))).not.toBe('accepted');
  });
});

describe('revocation identity', () => {
  it("revoking one user's token with an empty `jti` does not revoke every other token with an empty `jti`", async () => {
    const clock = testClock(1_800_000_000_000);
    const verifier = hmacVerifier(clock);
    const iat = Math.floor(clock() / 1000);
    const sign = (sub: string) =>
      new SignJWT({ sub, iss: ISSUER, aud: AUD, iat, exp: iat + 300, jti: '' })
        .setProtectedHeader({ alg: 'HS256' })
        .sign(SECRET);
    const [mallory, alice] = [await sign('mallory'), await sign('alice')];
    expect(await outcome(verifier.verify(alice))).toBe('accepted');
    // Mallory logs herself out: an empty jti names no token, so it must not be the key of all of them.
    await verifier.revoke(mallory);
    expect(await outcome(verifier.verify(mallory))).toBe('revoked');
    expect(await outcome(verifier.verify(alice))).toBe('accepted');
  });
});

describe('a claim that is no well-formed string (a lone UTF-16 surrogate)', () => {
  it('is a refused token (401), not a URIError and not a 500 from the logout route', async () => {
    const clock = testClock(1_800_000_000_000);
    const verifier = hmacVerifier(clock);
    const iat = Math.floor(clock() / 1000);
    // JSON can carry "\ud800"; encodeURIComponent (our revocation keys) throws on it.
    const token = await new SignJWT({ sub: 'eve\ud800', iss: ISSUER, aud: AUD, iat, exp: iat + 300 })
      .setProtectedHeader({ alg: 'HS256' })
      .sign(SECRET);
    expect(await outcome(verifier.verify(token))).toBe('claim_invalid');
    const res = await request(revokeRoute({ verifier })).post('/').set('authorization', `Bearer ${token}`);
    expect(res.status).toBe(401);
  });
});

describe('an introspected token without `exp`', () => {
  let idp: StubServer;
  afterEach(async () => idp?.close());

  it('stays refused after invalidate(), however long the IdP keeps calling it active', async () => {
    const clock = testClock(1_800_000_000_000);
    // An IdP whose introspection never says when the token expires (RFC 7662 makes `exp` optional).
    const iat = Math.floor(clock() / 1000);
    idp = await startStubServer((_req, res) =>
      sendJson(res, 200, { active: true, sub: 'alice', aud: AUD, iss: ISSUER, iat }),
    );
    const verifier = hmacVerifier(clock, {
      introspection: { clientId: 'rs', clientSecret: 'rs-secret', endpoint: `${idp.url}/introspect`, maxAge: 30 },
    });
    const token = 'opaque-access-token-0123456789';
    expect(await outcome(verifier.verify(token))).toBe('accepted');
    await verifier.invalidate(token); // local revocation: the IdP is not asked to forget it
    expect(await outcome(verifier.verify(token))).toBe('revoked');
    clock.advance((LIFETIME + 120) * 1000);
    // Its revocation lasted as long as the token could live (iat + maxTokenLifetime); now it is dead anyway.
    expect(await outcome(verifier.verify(token))).not.toBe('accepted');
  });
});

describe('an introspection answer with neither `exp` nor `iat`', () => {
  let idp: StubServer;
  afterEach(async () => idp?.close());

  it('is refused (claim_missing): nothing would bound how long its revocation must last', async () => {
    const clock = testClock(1_800_000_000_000);
    idp = await startStubServer((_req, res) =>
      sendJson(res, 200, { active: true, sub: 'alice', aud: AUD, iss: ISSUER }),
    );
    const verifier = hmacVerifier(clock, {
      introspection: { clientId: 'rs', clientSecret: 'rs-secret', endpoint: `${idp.url}/introspect` },
    });
    expect(await outcome(verifier.verify('opaque-access-token-without-dates'))).toBe('claim_missing');
  });
});

describe('the introspection gate', () => {
  let idp: StubServer;
  afterEach(async () => idp?.close());

  it("a token the IdP answers 400 to does not stop the IdP being asked about everyone else's tokens", async () => {
    const clock = testClock(1_800_000_000_000);
    // An IdP (or a filter in front of it) that answers 400 to a request it finds malformed: the
    // client's token is at fault, not the IdP; README: only 429, 5xx or a network failure back off.
    idp = await startStubServer((_req, res, body) => {
      const token = new URLSearchParams(body).get('token') ?? '';
      if (token.startsWith('bad')) return sendJson(res, 400, { error: 'invalid_request' });
      sendJson(res, 200, { active: true, sub: 'alice', aud: AUD, iss: ISSUER, exp: Math.floor(clock() / 1000) + 3600 });
    });
    const verifier = hmacVerifier(clock, {
      maxTokenLifetime: 7200,
      introspection: { clientId: 'rs', clientSecret: 'rs-secret', endpoint: `${idp.url}/introspect`, maxAge: 30 },
    });
    const good = 'good-opaque-access-token-0123456789';
    expect(await outcome(verifier.verify(good))).toBe('accepted');
    clock.advance(31_000); // its cached answer is past maxAge: the IdP is asked again
    await outcome(verifier.verify('bad-attacker-token-0123456789'));
    expect(await outcome(verifier.verify(good))).toBe('accepted');
  });
});

describe('a shared outbox', () => {
  let idp: StubServer;
  afterEach(async () => idp?.close());

  it("an issuer's pending revocations reach its IdP even behind 50 dead items of an issuer no verifier serves any more", async () => {
    const clock = testClock(1_800_000_000_000);
    idp = await startStubServer((_req, res) => {
      res.statusCode = 200;
      res.end();
    });
    const store = createMemoryStore({ clock });
    open.push(store);
    const verifier = hmacVerifier(clock, {
      store,
      revocation: { clientId: 'rs', clientSecret: 'rs-secret', endpoint: `${idp.url}/revoke` },
    });
    const now = clock();
    // Left behind by a deployment that trusted another issuer: long expired, due first.
    for (let i = 0; i < 50; i++) {
      await store.outbox.enqueue({
        id: `gone-${i}`,
        token: `gone-refresh-token-${i}`,
        issuer: 'https://gone.example',
        expiresAt: now - 60_000,
        attempts: 3,
        nextAttemptAt: now - 120_000 + i,
        lastError: 'unreachable',
      });
    }
    await store.outbox.enqueue({
      id: 'ours',
      token: 'our-refresh-token-0123456789',
      issuer: ISSUER,
      expiresAt: now + 3_600_000,
      attempts: 1,
      nextAttemptAt: now - 1_000,
      lastError: 'unreachable',
    });
    for (let run = 0; run < 3; run++) await verifier.retryPending();
    expect(idp.requests.map((r) => new URLSearchParams(r.body).get('token'))).toContain('our-refresh-token-0123456789');
    expect(await store.outbox.size()).toBe(0);
  });
});
