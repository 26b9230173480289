/**
 * What a logout / revoke endpoint answers, given what `revoke()` did. A 200 means every instance
 * will refuse the token: never claimed for something we did not do.
 *
 * | outcome | answer |
 * | --- | --- |
 * | body token, several issuers and it names none (`idp: 'unknown_issuer'`) | 400 `invalid_request`, sent nowhere |
 * | bearer-only logout, the token is not ours (`local: 'not_ours'`) | 401 `invalid_token`, nothing changed |
 * | a `MisconfiguredError` in any outcome | thrown: the application's to log (500) |
 * | `local: 'unverifiable'` (keys or introspection unreachable) | 503 `Retry-After: 5`, nothing revoked |
 * | `store: 'pending'` (the shared store has not confirmed it) | 503 `Retry-After: 1`, dead here, retried |
 * | `idp: 'queue_full'` / `'queue_unavailable'` (IdP down, the retry not queued) | 503 `Retry-After: 30` |
 * | `idp: 'rejected'` (the IdP refused our client) | 502 `idp_error`, dead locally |
 * | `idp: 'queued'` (IdP down, retried from the outbox) | 503 `Retry-After` (the soonest retry), dead locally |
 * | anything else | 200 `{ "revoked": true }` |
 *
 * Earlier rows win: the first reason the revocation is not (yet) done is the one the client hears.
 */
import { type AuthError, InvalidRequestError, InvalidTokenError } from '../shared/errors.js';
import { findMisconfiguration } from '../shared/misconfiguration.js';
import type { RevocationOutcome } from '../verify/types.js';
import { authErrorAnswer, jsonAnswer, type RouteAnswer } from './route-answer.js';

/** What one logout request revoked: the body's `token`, the request's own bearer token, or both. */
export interface RevokedTokens {
  /** The outcome for the body's `token` (RFC 7009), if it had one. */
  token?: RevocationOutcome | undefined;
  /** The outcome for the bearer token, if it was revoked apart from the body's. */
  bearer?: RevocationOutcome | undefined;
}

/**
 * The answer to a logout request whose revocations ended in `revoked`; AuthError answers carry
 * the challenge under `realm`. Throws the `MisconfiguredError` an outcome holds (no usable
 * revocation endpoint): not the client's fault, and the application's to log. E.g. for
 * `{ token: await verifier.revoke(refreshToken) }`: 200 `{ revoked: true }`, or 502 / 503 + `Retry-After`.
 */
export function revocationAnswer(revoked: RevokedTokens, realm: string): RouteAnswer {
  const refusal = refusalFor(revoked);
  if (refusal !== undefined) return authErrorAnswer(refusal.withRealm(realm));
  const outcomes = [revoked.token, revoked.bearer].filter((o): o is RevocationOutcome => o !== undefined);
  // Not the IdP refusing us: we could not even ask it (no usable revocation endpoint).
  const misconfigured = outcomes.map((o) => findMisconfiguration(o.error)).find((m) => m !== undefined);
  if (misconfigured) throw misconfigured;
  return unconfirmed(outcomes) ?? jsonAnswer(200, { revoked: true });
}

/** The outcomes that make the request itself wrong, rather than the revocation incomplete. */
function refusalFor({ token, bearer }: RevokedTokens): AuthError | undefined {
  if (token?.idp === 'unknown_issuer') {
    // Several issuers and nothing says which one this token belongs to: it went nowhere.
    return new InvalidRequestError(
      'unsupported_token',
      'The token does not name its issuer, and this endpoint serves several: it was not revoked',
    );
  }
  // A bearer-only logout with a token that is not ours (forged, foreign) is an unauthenticated
  // request: nothing changed locally, and the client deserves to know its token is bad.
  if (token === undefined && bearer?.local === 'not_ours') {
    return new InvalidTokenError('signature_invalid', 'The access token is invalid');
  }
  return undefined;
}

/** Why the outcomes are not (yet) a success, first reason first; undefined when they are. */
function unconfirmed(outcomes: readonly RevocationOutcome[]): RouteAnswer | undefined {
  const unavailable = (retryAfter: number, description: string) =>
    jsonAnswer(
      503,
      { error: 'temporarily_unavailable', error_description: description },
      { 'Retry-After': String(retryAfter) },
    );
  // A JWT whose keys (or an opaque token whose introspection endpoint) cannot be reached right
  // now: nothing was revoked locally, and the IdP cannot revoke most JWTs.
  if (outcomes.some((o) => o.local === 'unverifiable')) {
    return unavailable(
      5,
      'The token cannot be checked right now (the identity provider is unreachable); ' +
        'it was not revoked here, try again',
    );
  }
  // The store must have it, or other instances do not know.
  if (outcomes.some((o) => o.store === 'pending')) {
    return unavailable(
      1,
      'The token is revoked on this instance; the shared revocation store has not confirmed it yet (retrying)',
    );
  }
  if (outcomes.some((o) => o.idp === 'queue_full' || o.idp === 'queue_unavailable')) {
    return unavailable(30, 'The identity provider is unreachable; try again later');
  }
  if (outcomes.some((o) => o.idp === 'rejected')) {
    return jsonAnswer(502, {
      error: 'idp_error',
      error_description: 'The identity provider refused the revocation request; the token is revoked locally',
    });
  }
  const queued = outcomes.filter((o) => o.idp === 'queued');
  if (queued.length > 0) {
    const retryAfter = Math.max(1, Math.min(...queued.map((o) => o.retryAfter ?? 1)));
    return unavailable(
      retryAfter,
      'The token is revoked locally; the identity provider will be told once it is reachable',
    );
  }
  return undefined;
}
