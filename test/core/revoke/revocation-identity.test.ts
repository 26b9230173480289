/**
 * One revocation identity per token: the keys never collide across issuers, `jti`s or token
 * kinds, and do not depend on which path (signature or introspection) accepted the token.
 */
import { describe, expect, it } from '@jest/globals';
import { SignJWT } from 'jose';
import { createMemoryStore, createVerifier, InvalidTokenError } from '../../../src/index.js';
import { denylistKeyFor, revocationKeysFor } from '../../../src/core/revoke/revocation-identity.js';
import { rawToken, testClock } from '../../support/idp.js';

const SECRET = new TextEncoder().encode('a-shared-secret-of-at-least-32-bytes!!');
const AUD = 'https://api.example';

const hs256 = (claims: Record<string, unknown>, clock: () => number, secret = SECRET) => {
  const iat = Math.floor(clock() / 1000);
  return new SignJWT({ sub: 'alice', aud: AUD, iat, exp: iat + 600, ...claims })
    .setProtectedHeader({ alg: 'HS256' })
    .sign(secret);
};

const reason = (p: Promise<unknown>) =>
  p.then(
    () => 'accepted',
    (e: unknown) => (e instanceof InvalidTokenError ? e.reason : String(e)),
  );

describe('denylist keys', () => {
  it('keep issuers `…/c` and `…/c:9` with jtis `9:k` and `k` apart', () => {
    expect(denylistKeyFor('a.b.c', 'https://idp.example/c', { jti: '9:k' })).not.toBe(
      denylistKeyFor('a.b.c', 'https://idp.example/c:9', { jti: 'k' }),
    );
  });

  it('…and so do two issuers in one verifier: revoking one token leaves the other accepted', async () => {
    const clock = testClock();
    const [c, c9] = ['http://127.0.0.1:9/c', 'http://127.0.0.1:9/c:9'];
    const secretC9 = new TextEncoder().encode('issuer c:9 has a secret of its own, 32+');
    const verifier = createVerifier({
      clock,
      store: createMemoryStore({ clock }),
      issuers: [
        { issuer: c, audience: AUD, algorithms: ['HS256'], secret: SECRET },
        { issuer: c9, audience: AUD, algorithms: ['HS256'], secret: secretC9 },
      ],
    });
    try {
      const first = await hs256({ iss: c, jti: '9:k' }, clock);
      const second = await hs256({ iss: c9, jti: 'k' }, clock, secretC9);
      await verifier.invalidate(first);
      expect(await reason(verifier.verify(first))).toBe('revoked');
      expect(await reason(verifier.verify(second))).toBe('accepted');
    } finally {
      await verifier.close();
    }
  });

  it('do not depend on the path that accepted a JWS: its own jti (or signing input), never the answer', () => {
    const withJti = rawToken({ alg: 'RS256' }, { jti: 'j1', sub: 'a' }, 'sig');
    const bySignature = revocationKeysFor({
      token: withJti,
      payload: { iss: 'i', jti: 'j1', sub: 'a' },
      source: 'jwt',
    });
    // An introspection answer may carry another jti, or none.
    for (const answer of [
      { iss: 'i', sub: 'a' },
      { iss: 'i', sub: 'a', jti: 'other' },
    ]) {
      expect(revocationKeysFor({ token: withJti, payload: answer, source: 'introspection' })).toEqual(bySignature);
    }
    const noJti = rawToken({ alg: 'ES256' }, { sub: 'a' }, 'sig');
    expect(
      revocationKeysFor({ token: noJti, payload: { iss: 'i', sub: 'a', jti: 'x' }, source: 'introspection' }).denylist,
    ).toBe(revocationKeysFor({ token: noJti, payload: { iss: 'i', sub: 'a' }, source: 'jwt' }).denylist);
  });

  it('key a JWS without jti by its signing input, so both ECDSA signatures of one content share it', () => {
    const a = rawToken({ alg: 'ES256' }, { sub: 'a' }, 'sig-one');
    const b = rawToken({ alg: 'ES256' }, { sub: 'a' }, 'sig-two');
    expect(denylistKeyFor(a, 'i', { sub: 'a' })).toBe(denylistKeyFor(b, 'i', { sub: 'a' }));
    expect(denylistKeyFor(a, 'i', { sub: 'a' })).not.toBe(
      denylistKeyFor(rawToken({ alg: 'ES256' }, { sub: 'b' }, 'sig-one'), 'i', { sub: 'b' }),
    );
  });

  it('key an opaque token by the whole string alone, whatever the IdP answered', () => {
    const opaque = 'opaque-token-0123456789';
    const key = revocationKeysFor({
      token: opaque,
      payload: { iss: 'i', jti: 'answer-jti' },
      source: 'introspection',
    }).denylist;
    expect(key).toBe(denylistKeyFor(opaque, 'i'));
    expect(key).toBe(revocationKeysFor({ token: opaque, payload: { iss: 'i' }, source: 'introspection' }).denylist);
    expect(key).not.toBe(denylistKeyFor('opaque-token-0123456780', 'i'));
  });

  it("never let an opaque string equal to a JWT's signing input hit that JWT", () => {
    const jwt = rawToken({ alg: 'ES256' }, { sub: 'a' }, 'sig');
    const signingInput = jwt.slice(0, jwt.lastIndexOf('.'));
    expect(denylistKeyFor(signingInput, 'i')).not.toBe(denylistKeyFor(jwt, 'i', { sub: 'a' }));
  });
});

describe('cutoff keys', () => {
  it('keep issuer and subject (or session) apart whatever characters they hold', () => {
    const keys = (iss: string, sub: string, sid: string) =>
      revocationKeysFor({ token: 'a.b.c', payload: { iss, sub, sid } as never, source: 'jwt' });
    const one = keys('https://idp.example/c', '9:k', 'x\ny');
    const two = keys('https://idp.example/c:9', 'k', 'x');
    expect(one.subject).not.toBe(two.subject);
    expect(one.session).not.toBe(keys('https://idp.example/c', '9:k', 'x\ny\n').session);
    expect(one.all).not.toBe(two.all);
  });
});
