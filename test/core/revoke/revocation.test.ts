/**
 * Revocation end to end against the real IdP (oidc-provider): its revocation endpoint, its
 * introspection endpoint, and JWT access tokens it refuses to revoke (so our denylist must).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createMemoryStore, InvalidTokenError, type Verifier } from '../../../src/index.js';
import {
  issuedAt,
  signToken,
  standardClaims,
  startIdp,
  testClock,
  tokenAt,
  type EmbeddedIdp,
} from '../../support/idp.js';
import { closeVerifiers, verifierFor } from '../../support/verifier-for.js';

let idp: EmbeddedIdp;

/** A verifier for the embedded IdP that also revokes there (RFC 7009, its endpoint found through discovery). */
function revokingVerifier(): Verifier {
  return verifierFor(idp, { revocation: { clientId: idp.client.clientId, clientSecret: idp.client.clientSecret } });
}

async function reason(promise: Promise<unknown>): Promise<string> {
  return promise.then(
    () => 'accepted',
    (error: unknown) => (error instanceof InvalidTokenError ? error.reason : `unexpected ${String(error)}`),
  );
}

const claimsOf = (token: string) =>
  JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { iat: number; exp: number; sub: string };

beforeAll(async () => {
  idp = await startIdp();
});
afterAll(async () => {
  await closeVerifiers();
  await idp.close();
});

describe('revoke()', () => {
  it("kills a JWT access token locally even though the IdP cannot revoke it (the IdPs' warning, fixed)", async () => {
    const verifier = revokingVerifier();
    const token = await idp.issueAccessToken();
    await verifier.verify(token); // cached
    const outcome = await verifier.revoke(token, { tokenTypeHint: 'access_token' });
    // oidc-provider: 400 unsupported_token_type, "Structured JWT Tokens cannot be revoked".
    expect(outcome).toEqual({ local: 'denylisted', store: 'published', idp: 'not_revocable' });
    expect(verifier.peek(token)).toBeUndefined();
    expect(await reason(verifier.verify(token))).toBe('revoked');
    expect(verifier.stats().revocation.denylisted).toBe(1);
  });

  it('revokes a refresh token at the IdP (introspection turns inactive), nothing local', async () => {
    const verifier = revokingVerifier();
    const refreshToken = await idp.issueRefreshToken();
    expect(await idp.introspect(refreshToken)).toMatchObject({ active: true });
    const outcome = await verifier.revoke(refreshToken, { tokenTypeHint: 'refresh_token' });
    expect(outcome).toEqual({ local: 'not_ours', store: 'none', idp: 'revoked' });
    expect(await idp.introspect(refreshToken)).toEqual({ active: false });
    expect(verifier.stats().revocation.denylisted).toBe(0);
  });

  it('finds the revocation endpoint through discovery and authenticates with client_secret_post too', async () => {
    const verifier = verifierFor(idp, {
      revocation: {
        clientId: idp.client.clientId,
        clientSecret: idp.client.clientSecret,
        authMethod: 'client_secret_post',
      },
    });
    const refreshToken = await idp.issueRefreshToken();
    expect(await verifier.revoke(refreshToken)).toEqual({ local: 'not_ours', store: 'none', idp: 'revoked' });
    expect(await idp.introspect(refreshToken)).toEqual({ active: false });
  });

  it('reports a wrong client secret as rejected, after killing the token locally', async () => {
    const verifier = verifierFor(idp, {
      revocation: { clientId: idp.client.clientId, clientSecret: 'wrong-secret-wrong-secret' },
    });
    const token = await idp.issueAccessToken();
    const outcome = await verifier.revoke(token);
    expect(outcome).toMatchObject({ local: 'denylisted', idp: 'rejected' });
    expect(outcome.error?.message).toMatch(/client credentials/);
    expect(outcome.error?.message).not.toContain(token);
    expect(await reason(verifier.verify(token))).toBe('revoked');
    expect(verifier.stats().revocation.outbox.pending).toBe(0);
  });

  it('works without revocation options: local only', async () => {
    const verifier = verifierFor(idp);
    const token = await idp.issueAccessToken();
    expect(await verifier.revoke(token)).toEqual({ local: 'denylisted', store: 'published', idp: 'not_configured' });
    expect(await reason(verifier.verify(token))).toBe('revoked');
  });

  it('evicts an already expired token without denylisting it', async () => {
    const token = await idp.issueAccessToken();
    const clock = testClock((claimsOf(token).exp + 60) * 1000);
    const verifier = verifierFor(idp, { clock });
    expect(await verifier.revoke(token)).toEqual({ local: 'expired', store: 'none', idp: 'not_configured' });
    expect(verifier.stats().revocation.denylisted).toBe(0);
  });

  it('denylists a token without jti by a hash of the whole token', async () => {
    const claims = standardClaims(idp);
    delete claims.jti;
    const token = await signToken(claims, idp.keys[0]!);
    const twin = await signToken({ ...claims, scope: 'notes:read' }, idp.keys[0]!);
    const verifier = verifierFor(idp);
    await verifier.invalidate(token);
    expect(await reason(verifier.verify(token))).toBe('revoked');
    expect(await reason(verifier.verify(twin))).toBe('accepted');
  });

  it('never lets a forged or foreign token create a denylist entry', async () => {
    const verifier = revokingVerifier();
    const genuine = await idp.issueAccessToken();
    const [h, p] = genuine.split('.');
    const forged = `${h}.${p}.${'A'.repeat(342)}`; // genuine claims (same jti), bad signature
    expect((await verifier.revoke(forged)).local).toBe('not_ours');
    await expect(verifier.invalidate(forged)).rejects.toBeInstanceOf(InvalidTokenError);
    const foreign = await signToken(
      standardClaims(idp, { iss: 'https://other-idp.example', jti: claimsOf(genuine).sub }),
      idp.keys[0]!,
    );
    expect((await verifier.revoke(foreign)).local).toBe('not_ours');
    expect(verifier.stats().revocation).toMatchObject({ denylisted: 0, subjectCutoffs: 0, globalCutoff: false });
    expect(await reason(verifier.verify(genuine))).toBe('accepted');
  });

  it('queues the IdP call while the IdP is down and delivers it once it is back', async () => {
    const flaky = await startIdp();
    try {
      const access = await flaky.issueAccessToken();
      const clock = testClock(issuedAt(access));
      const verifier = verifierFor(flaky, {
        clock,
        revocation: {
          clientId: flaky.client.clientId,
          clientSecret: flaky.client.clientSecret,
          endpoint: `${flaky.issuer}/token/revocation`,
        },
      });
      await verifier.verify(access);
      const refresh = await flaky.issueRefreshToken();
      await flaky.pause();

      const accessOutcome = await verifier.revoke(access);
      expect(accessOutcome).toMatchObject({ local: 'denylisted', idp: 'queued' });
      expect(accessOutcome.retryAfter).toBeGreaterThanOrEqual(1);
      expect(await reason(verifier.verify(access))).toBe('revoked'); // dead locally at once
      expect(await verifier.revoke(refresh, { tokenTypeHint: 'refresh_token' })).toMatchObject({
        local: 'not_ours',
        idp: 'queued',
      });
      expect(verifier.stats().revocation.outbox.pending).toBe(2);

      // Not due yet: nothing is attempted.
      expect(await verifier.retryPending()).toMatchObject({ attempted: 0 });
      clock.advance(2_000);
      expect(await verifier.retryPending()).toMatchObject({ attempted: 2, rescheduled: 2 }); // still down
      await flaky.resume();
      expect(await verifier.retryPending()).toMatchObject({ attempted: 0 }); // backing off (2 s now)
      clock.advance(5_000);
      expect(await verifier.retryPending()).toEqual({ attempted: 2, revoked: 2, rescheduled: 0, dropped: 0 });
      expect(verifier.stats().revocation.outbox.pending).toBe(0);
      expect(await flaky.introspect(refresh)).toEqual({ active: false });
    } finally {
      await flaky.close();
    }
  });

  it('caps the queue for tokens it cannot verify, never for its own', async () => {
    const verifier = verifierFor(idp, {
      revocation: { clientId: 'c', clientSecret: 's', endpoint: 'http://127.0.0.1:9/revoke', maxPending: 2 },
    });
    expect((await verifier.revoke('opaque-1')).idp).toBe('queued');
    expect((await verifier.revoke('opaque-2')).idp).toBe('queued');
    const third = await verifier.revoke('opaque-3');
    expect(third).toMatchObject({ local: 'not_ours', idp: 'queue_full' });
    expect(third.error?.message).toMatch(/queue is full/);
    expect((await verifier.revoke(await idp.issueAccessToken())).idp).toBe('queued');
    expect(verifier.stats().revocation.outbox.pending).toBe(3);
  });

  it('onlyIfOurs: a token that is not ours is neither forwarded nor queued', async () => {
    const verifier = verifierFor(idp, {
      revocation: { clientId: 'c', clientSecret: 's', endpoint: 'http://127.0.0.1:9/revoke' },
    });
    expect(await verifier.revoke('garbage', { onlyIfOurs: true })).toEqual({
      local: 'not_ours',
      store: 'none',
      idp: 'skipped',
    });
    expect(verifier.stats().revocation.outbox.pending).toBe(0);
  });

  it('drops queued revocations of tokens that expired meanwhile', async () => {
    const store = createMemoryStore();
    const clock = testClock();
    const verifier = verifierFor(idp, {
      clock,
      store,
      revocation: { clientId: 'c', clientSecret: 's', endpoint: 'http://127.0.0.1:9/revoke' },
    });
    const token = await tokenAt(idp, clock());
    expect((await verifier.revoke(token)).idp).toBe('queued');
    clock.set((claimsOf(token).exp + 10) * 1000);
    expect(await verifier.retryPending()).toEqual({ attempted: 0, revoked: 0, rescheduled: 0, dropped: 1 });
    expect(await store.outbox.size()).toBe(0);
  });
});

describe('invalidate(), invalidateSubject(), invalidateAll()', () => {
  it('invalidate() is local only and immediate', async () => {
    const verifier = revokingVerifier();
    const token = await idp.issueAccessToken();
    await verifier.verify(token);
    await verifier.invalidate(token);
    expect(await reason(verifier.verify(token))).toBe('revoked');
  });

  it("invalidateSubject() refuses that subject's earlier tokens, same second included, and only those", async () => {
    const clock = testClock();
    const now = clock();
    const verifier = verifierFor(idp, { clock });
    const nowSec = Math.floor(now / 1000);
    const alice1 = await tokenAt(idp, now, { sub: 'alice', iat: nowSec - 100 });
    const aliceSameSecond = await tokenAt(idp, now, { sub: 'alice', iat: nowSec });
    const bob = await tokenAt(idp, now, { sub: 'bob', iat: nowSec - 100 });
    await verifier.verify(alice1);
    await verifier.verify(bob);

    await verifier.invalidateSubject('alice');
    expect(verifier.peek(alice1)).toBeUndefined();
    expect(await reason(verifier.verify(alice1))).toBe('revoked');
    expect(await reason(verifier.verify(aliceSameSecond))).toBe('revoked');
    expect(await reason(verifier.verify(bob))).toBe('accepted');

    clock.advance(1_000);
    const aliceLater = await signToken(
      standardClaims(idp, { sub: 'alice', iat: nowSec + 1 }, now + 1_000),
      idp.keys[0]!,
    );
    expect(await reason(verifier.verify(aliceLater))).toBe('accepted');
    expect(verifier.stats().revocation.subjectCutoffs).toBe(1);
  });

  it('a token issued by the IdP after a subject cutoff still works', async () => {
    const after = await idp.issueAccessToken(); // sub = client_id for client_credentials
    const clock = testClock(issuedAt(after) - 5_000); // the cutoff falls 5 s before the IdP issued `after`
    const verifier = verifierFor(idp, { clock });
    const before = await tokenAt(idp, clock(), { sub: idp.client.clientId, iat: Math.floor(clock() / 1000) - 1 });
    await verifier.invalidateSubject(idp.client.clientId);
    clock.set(issuedAt(after));
    expect(await reason(verifier.verify(before))).toBe('revoked');
    expect(await reason(verifier.verify(after))).toBe('accepted');
  });

  it('invalidateAll() refuses every earlier token and clears the cache; later tokens work', async () => {
    const later = await idp.issueAccessToken();
    const clock = testClock(issuedAt(later) - 5_000); // the cutoff falls 5 s before the IdP issued `later`
    const verifier = verifierFor(idp, { clock });
    const early = await tokenAt(idp, clock(), { iat: Math.floor(clock() / 1000) - 1 });
    await verifier.verify(early);
    await verifier.invalidateAll();
    expect(verifier.stats().cache.size).toBe(0);
    expect(await reason(verifier.verify(early))).toBe('revoked');
    clock.set(issuedAt(later));
    expect(await reason(verifier.verify(later))).toBe('accepted');
  });

  it('refuses tokens that carry no iat: nothing places them before or after a cutoff, or bounds how long one must last', async () => {
    const verifier = verifierFor(idp);
    const claims = standardClaims(idp, { sub: 'carol' });
    delete claims.iat;
    const token = await signToken(claims, idp.keys[0]!);
    expect(await reason(verifier.verify(token))).toBe('claim_missing');
    await verifier.invalidateSubject('carol');
    expect(await reason(verifier.verify(token))).toBe('claim_missing');
  });

  it('refuses tokens living longer than maxTokenLifetime (a cutoff could not outlive them)', async () => {
    const verifier = verifierFor(idp, { maxTokenLifetime: 3600 });
    const iat = Math.floor(Date.now() / 1000);
    expect(
      await reason(verifier.verify(await signToken(standardClaims(idp, { iat, exp: iat + 3600 }), idp.keys[0]!))),
    ).toBe('accepted');
    expect(
      await reason(verifier.verify(await signToken(standardClaims(idp, { iat, exp: iat + 7200 }), idp.keys[0]!))),
    ).toBe('lifetime_too_long');
  });

  it('validates its arguments', async () => {
    const verifier = revokingVerifier();
    await expect(verifier.invalidateSubject('')).rejects.toThrow(TypeError);
    await expect(verifier.revoke(undefined as never)).rejects.toThrow(TypeError);
    await expect(verifier.invalidate('')).rejects.toThrow(TypeError);
  });
});

describe('verifiers sharing one store', () => {
  it('agree: a revocation through one is refused by the other, cached or not', async () => {
    const store = createMemoryStore();
    const a = verifierFor(idp, { store });
    const b = verifierFor(idp, { store });
    const token = await idp.issueAccessToken();
    await a.verify(token);
    await b.verify(token); // cached in b
    await a.revoke(token);
    expect(b.peek(token)).toBeUndefined();
    expect(await reason(b.verify(token))).toBe('revoked');

    await b.invalidateSubject('dave');
    const dave = await signToken(
      standardClaims(idp, { sub: 'dave', iat: Math.floor(Date.now() / 1000) - 5 }),
      idp.keys[0]!,
    );
    expect(await reason(a.verify(dave))).toBe('revoked');
  });

  it("a verifier created later starts from the store's snapshot", async () => {
    const store = createMemoryStore();
    const a = verifierFor(idp, { store });
    const token = await idp.issueAccessToken();
    await a.invalidate(token);
    const late = verifierFor(idp, { store });
    expect(await reason(late.verify(token))).toBe('revoked');
  });
});
