/**
 * `createVerifier({ maxTokenAge })`: tokens issued longer ago than that (plus `clockTolerance`) are
 * refused, `token_too_old`, however far away their `exp` is, cached ones included; tokens (and
 * introspection answers) without `iat` are refused. The injected clock drives every case.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { type AuthError, createAuthenticator } from '../../../src/index.js';
import { refused } from '../../support/expect-refusal.js';
import { type EmbeddedIdp, startIdp, testClock, tokenAt } from '../../support/idp.js';
import { closeVerifiers, verifierFor } from '../../support/verifier-for.js';

let idp: EmbeddedIdp;
beforeAll(async () => {
  idp = await startIdp();
});
afterAll(async () => {
  await closeVerifiers();
  await idp.close();
});

/** A token issued `ageSeconds` before the clock's now, valid for a day (so only its age can refuse it). */
function tokenAged(now: number, ageSeconds: number, overrides: Record<string, unknown> = {}) {
  const iat = Math.floor(now / 1000) - ageSeconds;
  return tokenAt(idp, now, { iat, exp: iat + 86_400, ...overrides });
}

describe('maxTokenAge: 600 s, clockTolerance 5 s', () => {
  it.each<[string, number, string]>([
    ['just issued', 0, 'accepted'],
    ['599 s old', 599, 'accepted'],
    ['600 s old', 600, 'accepted'],
    ['605 s old (the leeway)', 605, 'accepted'],
    ['606 s old', 606, 'token_too_old'],
    ['a day old, exp still ahead', 86_000, 'token_too_old'],
  ])('a token %s: %s', async (_name, age, expected) => {
    const clock = testClock();
    const verifier = verifierFor(idp, { clock, maxTokenAge: 600 });
    const verdict = await verifier.verify(await tokenAged(clock(), age)).then(
      () => 'accepted',
      (error: unknown) => (error as AuthError).reason,
    );
    expect(verdict).toBe(expected);
  });

  it('answers a too-old token 401 invalid_token with its own description', async () => {
    const clock = testClock();
    const verifier = verifierFor(idp, { clock, maxTokenAge: 600 });
    const error = await refused(verifier.verify(await tokenAged(clock(), 3600)), 'token_too_old');
    expect(error).toMatchObject({
      status: 401,
      code: 'invalid_token',
      description: 'The access token was issued too long ago for this resource',
    });
  });

  it('ages a cached token out: served from the cache until then, refused from then on', async () => {
    const clock = testClock();
    const verifier = verifierFor(idp, { clock, maxTokenAge: 600, cache: { max: 10, maxTtl: 3600 } });
    const token = await tokenAged(clock(), 0);
    await verifier.verify(token);
    clock.advance(605_999);
    expect(verifier.peek(token)).toBeDefined();
    clock.advance(1);
    expect(verifier.peek(token)).toBeUndefined();
    await refused(verifier.verify(token), 'token_too_old');
    // Through a guard on the same verifier: the same refusal.
    const answer = await createAuthenticator({ verifier })({ headers: { authorization: `Bearer ${token}` } });
    expect(answer).toMatchObject({ ok: false, status: 401, error: { reason: 'token_too_old' } });
  });

  it('refuses a token without iat (there is no age to check)', async () => {
    const clock = testClock();
    const verifier = verifierFor(idp, { clock, maxTokenAge: 600 });
    await refused(verifier.verify(await tokenAged(clock(), 0, { iat: undefined })), 'claim_missing');
  });

  it('counts from iat, not from when this verifier first saw the token', async () => {
    const clock = testClock();
    const verifier = verifierFor(idp, { clock, maxTokenAge: 600 });
    const token = await tokenAged(clock(), 500);
    await verifier.verify(token);
    clock.advance(106_000); // 606 s after iat
    await refused(verifier.verify(token), 'token_too_old');
  });

  it('without maxTokenAge, age alone refuses nothing', async () => {
    const clock = testClock();
    const verifier = verifierFor(idp, { clock });
    await expect(verifier.verify(await tokenAged(clock(), 80_000))).resolves.toBeDefined();
  });

  it.each<[string, unknown, RegExp]>([
    ['zero', 0, /`maxTokenAge` must be a number of seconds > 0/],
    ['negative', -60, /`maxTokenAge` must be a number of seconds > 0/],
    ['a string', '600', /`maxTokenAge` must be a number of seconds/],
  ])('refuses a maxTokenAge that is %s', (_name, maxTokenAge, message) => {
    expect(() => verifierFor(idp, { maxTokenAge: maxTokenAge as number })).toThrow(message);
  });
});

describe('maxTokenAge with introspection (opaque tokens from the real IdP)', () => {
  it('holds the introspection answer to its iat like a JWT', async () => {
    const token = await idp.issueAccessToken({ resource: idp.opaqueAudience });
    const answer = await idp.introspect(token);
    const clock = testClock((answer.iat as number) * 1000); // the IdP's clock, as its answer says
    const verifier = verifierFor(
      { issuer: idp.issuer, audience: idp.opaqueAudience },
      {
        clock,
        maxTokenAge: 60,
        introspection: { clientId: idp.client.clientId, clientSecret: idp.client.clientSecret, maxAge: 600 },
      },
    );
    await expect(verifier.verify(token)).resolves.toMatchObject({ source: 'introspection' });
    clock.advance(66_000);
    expect(verifier.peek(token)).toBeUndefined(); // the cached answer aged out with the token
    await refused(verifier.verify(token), 'token_too_old');
  });
});
