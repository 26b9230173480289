/**
 * Assertions on a refused verification: it must always end in one of our typed errors (never a
 * TypeError, a crash or a hang), and which one tells who is at fault: InvalidTokenError (401)
 * the token, IdpUnavailableError (503) the IdP, MisconfiguredError (500) our configuration.
 */
import { expect } from '@jest/globals';
import {
  AuthError,
  IdpUnavailableError,
  InvalidTokenError,
  MisconfiguredError,
  type RejectionReason,
} from '../../src/index.js';

/** Awaits a refusal: always an AuthError, with `reason` (or one of `reason`) when given. */
export async function refused(
  promise: Promise<unknown>,
  reason?: RejectionReason | RejectionReason[],
): Promise<AuthError> {
  const error = await promise.then(
    () => {
      throw new Error(`expected a refusal${reason ? ` (${String(reason)})` : ''}, got a verified token`);
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(AuthError);
  if (typeof reason === 'string') expect((error as AuthError).reason).toBe(reason);
  else if (reason !== undefined) expect(reason).toContain((error as AuthError).reason);
  return error as AuthError;
}

/** The IdP is the problem: 503 with a Retry-After of whole seconds. */
export function expectUnavailable(error: AuthError): IdpUnavailableError {
  expect(error).toBeInstanceOf(IdpUnavailableError);
  expect(error).toMatchObject({ status: 503, code: 'temporarily_unavailable', reason: 'idp_unavailable' });
  expect(error.headers['Retry-After']).toMatch(/^[1-9]\d*$/);
  return error as IdpUnavailableError;
}

/** A configuration that cannot work: 500, no Retry-After, no challenge; the explanation in `message`. */
export function expectMisconfigured(error: AuthError): MisconfiguredError {
  expect(error).toBeInstanceOf(MisconfiguredError);
  expect(error).toMatchObject({ status: 500, code: 'server_error', reason: 'misconfigured', expose: false });
  expect(error.headers).toEqual({});
  return error as MisconfiguredError;
}

/** The token is the problem: 401 invalid_token, with `reason` when given. */
export function expectInvalid(error: AuthError, reason?: RejectionReason): InvalidTokenError {
  expect(error).toBeInstanceOf(InvalidTokenError);
  expect(error).toMatchObject({ status: 401, code: 'invalid_token' });
  if (reason) expect(error.reason).toBe(reason);
  return error as InvalidTokenError;
}

/** The error and its `cause` chain, outermost first. */
export function causes(error: unknown): unknown[] {
  const chain: unknown[] = [];
  for (let current = error; current !== undefined; current = current instanceof Error ? current.cause : undefined)
    chain.push(current);
  return chain;
}

/** The innermost `cause`, following the chain. */
export function rootCause(error: unknown): unknown {
  return causes(error).at(-1);
}
