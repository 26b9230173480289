/**
 * A closed verifier's mirror and outbox are stopped: it neither hears nor publishes revocations,
 * so nothing it reports after close() would be true. Every operation refuses with the coded
 * VerifierClosedError (a 500: the app's mistake), and no route answers a success it did not do.
 */
import { describe, expect, it } from '@jest/globals';
import express from 'express';
import { SignJWT } from 'jose';
import request from 'supertest';
import { createVerifier, revokeRoute, type Verifier, VerifierClosedError } from '../../../src/index.js';
import { gatedJwks } from '../../support/gated-jwks.js';
import { testClock } from '../../support/idp.js';

const ISSUER = 'https://idp.example/';
const SECRET = new TextEncoder().encode('a-shared-secret-of-at-least-32-bytes!!');
const clock = testClock();

const single = () => createVerifier({ issuer: ISSUER, audience: 'api', clock, algorithms: ['HS256'], secret: SECRET });
const multi = () =>
  createVerifier({
    clock,
    algorithms: ['HS256'],
    issuers: [
      { issuer: ISSUER, audience: 'api', secret: SECRET },
      { issuer: 'https://other.example/', audience: 'api', secret: 'another issuer, another secret, 32 bytes+' },
    ],
  });

const token = () =>
  new SignJWT({ sub: 'alice', jti: 'jti-1' })
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuer(ISSUER)
    .setAudience('api')
    .setIssuedAt(Math.floor(clock() / 1000))
    .setExpirationTime(Math.floor(clock() / 1000) + 300)
    .sign(SECRET);

const operations: Array<[string, (verifier: Verifier, jwt: string) => Promise<unknown>, string]> = [
  ['revoke()', (v, jwt) => v.revoke(jwt), 'revoke() called after close()'],
  ['invalidate()', (v, jwt) => v.invalidate(jwt), 'invalidate() called after close()'],
  ['invalidateSubject()', (v) => v.invalidateSubject('alice'), 'invalidate*() called after close()'],
  ['invalidateSession()', (v) => v.invalidateSession('s-1'), 'invalidate*() called after close()'],
  ['invalidateAll()', (v) => v.invalidateAll(), 'invalidate*() called after close()'],
  ['retryPending()', (v) => v.retryPending(), 'retryPending() called after close()'],
];

describe.each([
  ['one issuer', single],
  ['several issuers', multi],
] as const)('%s, closed', (_label, make) => {
  it.each(operations)('%s refuses with VerifierClosedError', async (_name, operation, message) => {
    const verifier = make();
    const jwt = await token();
    await verifier.verify(jwt);
    await verifier.close();
    const error = await operation(verifier, jwt).then(
      () => 'done',
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(VerifierClosedError);
    expect(error).toMatchObject({ reason: 'verifier_closed', status: 500, message: `revocable-jwt: ${message}` });
  });

  it('the logout route answers 500, never a 200 for a revocation it did not make', async () => {
    const verifier = make();
    const jwt = await token();
    await verifier.close();
    const app = express().post('/logout', revokeRoute({ verifier }));
    const response = await request(app).post('/logout').set('Authorization', `Bearer ${jwt}`);
    expect(response.status).toBe(500);
    expect(response.body).not.toMatchObject({ revoked: true });
  });
});

/**
 * A verifier whose issuer's keys are fetched through `release`: until it is called, a
 * verification waits for the JWKS (a verification with its key at hand ends before verify()
 * returns, so only one that waits for I/O can be in flight when close() lands).
 */
async function waitingForKeys(several: boolean) {
  const { fetch, release, sign } = await gatedJwks();
  const issuer = { issuer: ISSUER, audience: 'api', jwksUri: 'https://idp.example/jwks' };
  const verifier = several
    ? createVerifier({
        clock,
        fetch,
        issuers: [issuer, { issuer: 'https://other.example/', audience: 'api', jwksUri: 'https://other.example/jwks' }],
      })
    : createVerifier({ ...issuer, clock, fetch });
  const iat = Math.floor(clock() / 1000);
  const jwt = await sign({ sub: 'alice', jti: 'jti-1', iss: ISSUER, aud: 'api', iat, exp: iat + 300 });
  return { verifier, jwt, release };
}

describe.each([
  ['one issuer', false],
  ['several issuers', true],
] as const)('%s, closed while a verification is in flight', (_label, several) => {
  it('that verification refuses with VerifierClosedError, not with the token it was proving', async () => {
    const { verifier, jwt, release } = await waitingForKeys(several);
    const inFlight = verifier.verify(jwt).then(
      () => 'admitted',
      (e: unknown) => e,
    ); // waiting for the JWKS
    await verifier.close();
    release();
    const error = await inFlight;
    expect(error).toBeInstanceOf(VerifierClosedError);
    expect(error).toMatchObject({
      reason: 'verifier_closed',
      status: 500,
      message: 'revocable-jwt: close() called while the token was being verified',
    });
  });

  it('the same verification, let finish before close(), is admitted', async () => {
    const { verifier, jwt, release } = await waitingForKeys(several);
    const inFlight = verifier.verify(jwt);
    release();
    await expect(inFlight).resolves.toMatchObject({ payload: { sub: 'alice' } });
    await verifier.close();
  });
});
