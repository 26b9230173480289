/**
 * The one root of every error this library makes, and the one machine-readable name for why it
 * happened: `reason`. As in jose, the identifier is a string-literal union (not an enum), each
 * class keeps the original error as `cause`, and misuse of options stays a plain `TypeError`
 * (thrown at construction, never one of these).
 *
 * Why `reason` and not `code`: `AuthError.code` already is, and stays, the RFC 6750 error code a
 * client reads in `WWW-Authenticate` (`invalid_token`, …), shared by many causes. `code`, where a
 * class has one, is always the code of the protocol the error is answered in (RFC 6750, RFC 8935);
 * `reason` is always ours, finer, and unique to one cause.
 */

/** Why a request or token was refused (an `AuthError`), finer than its RFC 6750 code. */
export type RejectionReason =
  | 'missing_token'
  | 'malformed_request'
  | 'multiple_tokens'
  | 'query_token_not_allowed'
  | 'malformed_token'
  | 'token_too_long'
  | 'encrypted_token'
  | 'algorithm_not_allowed'
  | 'unsupported_token'
  | 'key_not_found'
  | 'signature_invalid'
  | 'issuer_mismatch'
  | 'audience_mismatch'
  | 'type_mismatch'
  | 'token_expired'
  | 'token_not_yet_valid'
  | 'issued_in_future'
  | 'claim_missing'
  | 'claim_invalid'
  | 'lifetime_too_long'
  | 'revoked'
  | 'token_inactive'
  | 'insufficient_scope'
  | 'idp_unavailable'
  | 'store_unavailable'
  | 'misconfigured'
  | 'verifier_closed';

/**
 * Why a request to the IdP gave no usable answer (an `HttpRequestError`): `http_` + its `kind`.
 * `http_status` is a non-2xx answer; `http_redirect` one we refuse to follow.
 */
export type HttpFailureReason =
  | 'http_network'
  | 'http_timeout'
  | 'http_status'
  | 'http_redirect'
  | 'http_too_large'
  | 'http_invalid_body'
  | 'http_aborted';

/** Why the IdP did not confirm a revocation (a `RevocationError`). */
export type RevocationFailureReason =
  /** Unreachable, timed out, 5xx or 429, or its endpoint not discoverable right now: retried. */
  | 'revocation_unavailable'
  /** Unavailable, and the retry could not be queued (queue full, or the store refused it). */
  | 'revocation_not_queued'
  /** The IdP refused the request (a 4xx other than a client-authentication failure). */
  | 'revocation_refused'
  /** The IdP refused our client credentials (401, or `invalid_client`). */
  | 'revocation_client_rejected'
  /** Our setup cannot work: no client id, no usable revocation endpoint, an endpoint that redirects. */
  | 'revocation_misconfigured';

/** Why a pushed Security Event Token was refused (a `SecurityEventError`): `set_` + its RFC 8935 code. */
export type SecurityEventReason =
  | 'set_invalid_request'
  | 'set_invalid_key'
  | 'set_invalid_issuer'
  | 'set_invalid_audience'
  | 'set_authentication_failed'
  | 'set_access_denied';

/**
 * Every `reason` a {@link RevocableJwtError} can carry: stable strings, safe for metrics and logs
 * (never a token), each naming one cause. New members may be added in minor releases, so keep a
 * `default` branch when switching on it.
 *
 * @example
 * ```ts
 * import type { ErrorReason } from 'revocable-jwt';
 * const retryable = new Set<ErrorReason>(['idp_unavailable', 'store_unavailable', 'revocation_unavailable']);
 * ```
 */
export type ErrorReason = RejectionReason | HttpFailureReason | RevocationFailureReason | SecurityEventReason;

/**
 * Base class of every error the library throws or rejects with, other than option misuse
 * (a `TypeError`). `reason` says why, as one {@link ErrorReason}; `cause` keeps the original
 * error (jose's, the network's, the store's) for logs; `name` is the concrete class's name.
 *
 * Families: `AuthError` (a request or token refused, with `status`, RFC 6750 `code` and
 * `headers` to answer with), `HttpRequestError` (a call to the IdP failed), `RevocationError`
 * (the IdP did not confirm a revocation), `SecurityEventError` (an RFC 8935 push refused).
 *
 * @example
 * ```ts
 * import { RevocableJwtError } from 'revocable-jwt';
 * try {
 *   await verifier.verify(token);
 * } catch (error) {
 *   if (error instanceof RevocableJwtError) log.warn({ reason: error.reason, cause: error.cause }, error.message);
 *   throw error;
 * }
 * ```
 */
export abstract class RevocableJwtError extends Error {
  /** Why, as a stable machine-readable string; each subclass narrows it to its own family. */
  readonly reason: ErrorReason;

  constructor(reason: ErrorReason, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.reason = reason;
  }

  /** The concrete class's name (`InvalidTokenError`, `RevocationError`, …), also in stack traces. */
  override get name(): string {
    return this.constructor.name;
  }
}
