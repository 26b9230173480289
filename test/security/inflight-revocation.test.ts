/**
 * A verification that waits (here for the JWKS) is shared by every verify() of the same token
 * that arrives meanwhile (verifier.ts, `inflight`). Its revocation check ran when it was admitted;
 * a verify() that begins after a revocation has taken effect must not be handed that older
 * answer. The `verified` listener stands for any code that runs between the admission and the
 * end of the shared verification (the event is emitted there); it is where the gap can be hit
 * deterministically.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { createVerifier, type Verifier } from '../../src/index.js';
import { gatedJwks } from '../support/gated-jwks.js';
import { testClock } from '../support/idp.js';
import { closedLater, closeVerifiers } from '../support/verifier-for.js';

const ISSUER = 'https://idp.example/';
const clock = testClock();

afterEach(closeVerifiers);

/** A verifier whose JWKS answers only once `release()` is called, and a token it will wait for. */
async function waitingForKeys(): Promise<{ verifier: Verifier; token: string; release: () => void }> {
  const { fetch, release, sign } = await gatedJwks();
  const verifier = closedLater(
    createVerifier({ issuer: ISSUER, audience: 'api', jwksUri: `${ISSUER}jwks`, clock, fetch }),
  );
  const iat = Math.floor(clock() / 1000);
  const token = await sign({ sub: 'alice', jti: 'inflight-1', iss: ISSUER, aud: 'api', iat, exp: iat + 300 });
  return { verifier, token, release };
}

describe('a verification in flight, and a revocation that lands after its admission', () => {
  it.each([
    ['the subject', (verifier: Verifier) => verifier.invalidateSubject('alice')],
    ['every token of the issuer', (verifier: Verifier) => verifier.invalidateAll()],
  ])('a verify() begun after %s was revoked is refused, not handed the shared answer', async (_label, revoke) => {
    const { verifier, token, release } = await waitingForKeys();
    const reasons: string[] = [];
    verifier.on('rejected', ({ reason }) => reasons.push(reason));
    let later: Promise<unknown> | undefined;
    verifier.on('verified', ({ cached }) => {
      if (later !== undefined || cached) return;
      // Applied locally at once (the store write follows); from here on the token is revoked.
      void revoke(verifier);
      later = verifier.verify(token).then(
        () => 'admitted',
        (error: { reason?: string }) => error.reason,
      );
    });
    const first = verifier.verify(token);
    release();
    await first.catch(() => undefined); // it began before the revocation: either answer is fair
    expect(later).toBeDefined();
    expect(await later).toBe('revoked');
    expect(reasons).toEqual(['revoked']); // reported once, for the call that was refused
    await expect(verifier.verify(token)).rejects.toMatchObject({ reason: 'revoked' });
  });
});

describe('a verification in flight, and close() after its admission', () => {
  it('a verify() that joined it is refused with VerifierClosedError, not handed the answer', async () => {
    const { verifier, token, release } = await waitingForKeys();
    verifier.on('verified', ({ cached }) => {
      if (!cached) void verifier.close(); // after the shared verification's admission, before the joiner's turn
    });
    const first = verifier.verify(token);
    const joined = verifier.verify(token).then(
      () => 'admitted',
      (error: { reason?: string }) => error.reason,
    );
    release();
    await first.catch(() => undefined); // it ended before close(): either answer is fair
    expect(await joined).toBe('verifier_closed');
  });
});
