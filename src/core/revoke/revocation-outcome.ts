/** What a caller asks of `revoke()`, and what it reports back. */
import type { RevocationError } from '../idp/revocation-client.js';

/**
 * What a caller asks of `verifier.revoke()`: a `token_type_hint`, to act only on our own tokens,
 * and (several issuers) which IdP gets a token that names none.
 *
 * @example
 * ```ts
 * import type { RevokeOptions } from 'revocable-jwt';
 * declare const refreshToken: string;
 * const options: RevokeOptions = { tokenTypeHint: 'refresh_token', issuer: 'https://login.example.com/' };
 * const outcome = await verifier.revoke(refreshToken, options);
 * ```
 */
export interface RevokeOptions {
  /** RFC 7009 `token_type_hint`: `access_token` or `refresh_token` (or an IdP-specific value). */
  tokenTypeHint?: string;
  /**
   * Act only on a token that verifies as ours: anything else is neither forwarded nor queued
   * (`idp: 'skipped'`). For tokens that can only be JWT access tokens, such as a bearer header.
   */
  onlyIfOurs?: boolean;
  /**
   * Multi-issuer verifiers: which IdP gets a token that names none of ours (an opaque token, e.g.
   * a refresh token). A JWT naming one of our issuers always goes to that one. Without it, such a
   * token is sent nowhere (`idp: 'unknown_issuer'`): handing it to the wrong IdP would leak it.
   */
  issuer?: string;
}

/**
 * What `revoke()` did, locally, in the shared store and at the IdP.
 * - `local`: `denylisted` (verified as ours — signature, or the IdP's introspection answer for an
 *   opaque token — refused from now until it expires), `expired` (ours and already dead),
 *   `not_ours` (foreign, forged, inactive, or a token we never accept such as a refresh token:
 *   nothing local to do, only forwarded), `unverifiable` (the keys or the introspection endpoint
 *   that would prove it ours cannot be reached right now).
 * - `idp`: `revoked`, `not_revocable` (the IdP cannot revoke this token type — the local denylist
 *   is the revocation), `queued` (IdP unreachable: kept in the outbox and retried), `queue_full`
 *   (IdP unreachable, and the outbox already holds `revocation.maxPending` tokens we cannot
 *   verify: not queued, try again later), `queue_unavailable` (IdP unreachable, and the revocation
 *   store could not queue the retry: try again later), `rejected` (the IdP refused our request:
 *   see `error`), `not_configured` (no `revocation` options), `skipped` (`onlyIfOurs` and the token is not ours),
 *   `unknown_issuer` (several issuers, the token names none of them and `options.issuer` did not
 *   say which IdP it belongs to: sent nowhere, nothing done).
 *
 * @example
 * ```ts
 * import type { RevocationOutcome } from 'revocable-jwt';
 * const outcome: RevocationOutcome = await verifier.revoke(token, { tokenTypeHint: 'access_token' });
 * if (outcome.store === 'pending') log.warn({}, 'refused here; other instances learn of it once the store has it');
 * if (outcome.idp === 'queued') log.info({ retryAfter: outcome.retryAfter }, 'the IdP will be told later');
 * if (outcome.idp === 'rejected') log.error({ reason: outcome.error?.reason }, outcome.error?.message);
 * ```
 */
export interface RevocationOutcome {
  /**
   * What happened here: `denylisted` (ours, refused from now until it expires), `expired` (ours
   * and already dead), `not_ours` (nothing local to do), `unverifiable` (cannot be checked now).
   */
  local: 'denylisted' | 'expired' | 'not_ours' | 'unverifiable';
  /**
   * Whether the local revocation reached the shared store, i.e. every instance: `published` (it
   * did), `pending` (it is in force here, the store has not confirmed it; the write is retried in
   * the background until it lands, and repeating the call is safe), `none` (nothing to publish:
   * `local` is not `denylisted`).
   */
  store: 'published' | 'pending' | 'none';
  /**
   * What the IdP was told: `revoked`, `not_revocable` (a success: the denylist is the
   * revocation), `queued`, `queue_full`, `queue_unavailable`, `rejected`, `not_configured`,
   * `skipped`, `unknown_issuer` (see above).
   */
  idp:
    | 'revoked'
    | 'not_revocable'
    | 'queued'
    | 'queue_full'
    | 'queue_unavailable'
    | 'rejected'
    | 'not_configured'
    | 'skipped'
    | 'unknown_issuer';
  /** Seconds until the next delivery attempt, when `idp` is `queued`. */
  retryAfter?: number;
  /**
   * Why the IdP did not confirm the revocation, when `idp` is `rejected`, `queued`, `queue_full` or
   * `queue_unavailable`: what to fix, or what it is waiting for.
   */
  error?: RevocationError;
}
