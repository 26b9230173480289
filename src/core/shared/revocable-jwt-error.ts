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

/**
 * Why a request or token was refused: the `reason` of an `AuthError`, finer than its RFC 6750
 * `code` (`token_expired`, `revoked` and `signature_invalid` are all `invalid_token`). Also the
 * `reason` of the verifier's `rejected` event. Never contains the token.
 *
 * @example
 * ```ts
 * import type { RejectionReason } from 'revocable-jwt';
 * // Expired tokens are routine; a forged one or a broken setup is worth a look.
 * const suspicious = new Set<RejectionReason>(['signature_invalid', 'key_not_found', 'issuer_mismatch']);
 * verifier.on('rejected', ({ reason, status }) => {
 *   if (suspicious.has(reason) || status === 500) log.warn({ reason, status }, 'token refused');
 * });
 * ```
 */
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
  | 'token_too_old'
  | 'claim_mismatch'
  | 'claim_check_error'
  | 'insufficient_scope'
  /** `mtls` on: the token carries no `cnf['x5t#S256']` (RFC 8705), and unbound tokens are refused. */
  | 'token_not_bound'
  /** `mtls` on: the token is bound to a certificate, and the request presented none. */
  | 'certificate_required'
  /** `mtls` on: the certificate given (a proxy's header, a `clientCertificate`) is no certificate. */
  | 'certificate_unreadable'
  /** `mtls` on: the token is bound to a certificate other than the one presented. */
  | 'certificate_mismatch'
  /**
   * `mtls` off: the token is bound to a client certificate (`cnf['x5t#S256']`) this route does not
   * check, and it is not presented with a DPoP proof that binds it instead.
   */
  | 'certificate_binding_unchecked'
  | 'insufficient_user_authentication'
  /** The issuer's Token Status List gives the token status INVALID (0x01): revoked. */
  | 'token_status_invalid'
  /** The issuer's Token Status List gives the token status SUSPENDED (0x02). */
  | 'token_status_suspended'
  /** The issuer's Token Status List gives the token a status other than VALID, INVALID or SUSPENDED. */
  | 'token_status_unknown'
  /** The token's status list index is past the end of the issuer's list: no status can be read. */
  | 'token_status_out_of_range'
  | DpopRejectionReason
  | 'idp_unavailable'
  | 'store_unavailable'
  | 'misconfigured'
  | 'verifier_closed';

/**
 * Why a DPoP request (RFC 9449) was refused: the `reason` of an `InvalidDpopProofError`
 * (`invalid_dpop_proof`), a `UseDpopNonceError` (`dpop_nonce_required`), an `InvalidTokenError`
 * (`dpop_bound_token`: a DPoP-bound token sent as Bearer; `dpop_key_mismatch`: the proof's key is
 * not the one the token is bound to), or an `UnauthorizedError` (`dpop_required`: a Bearer token
 * where the route requires DPoP).
 *
 * @example
 * ```ts
 * import type { DpopRejectionReason } from 'revocable-jwt';
 * // A replayed proof or a stolen token is worth an alert; a stale clock is routine.
 * const alarming = new Set<DpopRejectionReason>(['dpop_proof_replayed', 'dpop_key_mismatch', 'dpop_bound_token']);
 * verifier.on('rejected', ({ reason }) => {
 *   if (alarming.has(reason as DpopRejectionReason)) log.warn({ reason }, 'sender-constrained token misused');
 * });
 * ```
 */
export type DpopRejectionReason =
  /** `Authorization: DPoP …` without a `DPoP` header. */
  | 'dpop_proof_missing'
  /** Not a well-formed proof: size, encoding, `typ`, `jwk`, missing or mistyped claims. */
  | 'dpop_proof_malformed'
  /** The proof's `alg` is not in `dpop.algorithms` (never `none` or an HMAC). */
  | 'dpop_algorithm_not_allowed'
  /** The proof's signature does not verify with its own `jwk`. */
  | 'dpop_signature_invalid'
  /** `htm` is not the request's method. */
  | 'dpop_method_mismatch'
  /** `htu` is not this resource's public URL and the request's path. */
  | 'dpop_url_mismatch'
  /** `ath` is not the hash of the access token presented. */
  | 'dpop_ath_mismatch'
  /** `iat` outside the accepted window (and no server nonce in use). */
  | 'dpop_proof_stale'
  /** A proof `jti` already used (on any instance sharing the store). */
  | 'dpop_proof_replayed'
  /** Server nonces are in use and the proof has none, or an expired one (`use_dpop_nonce`). */
  | 'dpop_nonce_required'
  /** The proof's key is not the key the access token is bound to (`cnf.jkt`), or the token is not bound. */
  | 'dpop_key_mismatch'
  /** A DPoP-bound token (`cnf.jkt`) presented as a Bearer token. */
  | 'dpop_bound_token'
  /** A Bearer token on a route that requires DPoP. */
  | 'dpop_required';

/**
 * Why a request to the IdP gave no usable answer (an `HttpRequestError`): `http_` + its `kind`.
 * `http_status` is a non-2xx answer; `http_redirect` one we refuse to follow; `http_too_large` a
 * body over the size cap; `http_invalid_body` one that is not the JSON expected; `http_aborted` a
 * request cancelled by `verifier.close()`.
 *
 * @example
 * ```ts
 * import { HttpRequestError, IdpUnavailableError, type HttpFailureReason } from 'revocable-jwt';
 * try {
 *   await verifier.verify(token);
 * } catch (error) {
 *   // A 503 because the JWKS or discovery endpoint failed: the cause says how.
 *   if (error instanceof IdpUnavailableError && error.cause instanceof HttpRequestError) {
 *     const reason: HttpFailureReason = error.cause.reason; // e.g. 'http_timeout'
 *     log.warn({ reason, status: error.cause.status }, 'IdP unreachable');
 *   }
 *   throw error;
 * }
 * ```
 */
export type HttpFailureReason =
  | 'http_network'
  | 'http_timeout'
  | 'http_status'
  | 'http_redirect'
  | 'http_too_large'
  | 'http_invalid_body'
  | 'http_aborted';

/**
 * Why the IdP did not confirm a revocation: the `reason` of a `RevocationError`, as
 * `verifier.revoke()` reports it in `outcome.error`. Only `revocation_unavailable` is retried
 * from the outbox; the others need a person (credentials, endpoint) or nothing at all.
 *
 * @example
 * ```ts
 * import type { RevocationFailureReason } from 'revocable-jwt';
 * const outcome = await verifier.revoke(token);
 * const reason: RevocationFailureReason | undefined = outcome.error?.reason;
 * if (reason === 'revocation_client_rejected' || reason === 'revocation_misconfigured')
 *   log.error({ reason }, 'the IdP will not take our revocations: check the `revocation` options');
 * ```
 */
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

/**
 * Why a pushed Security Event Token was refused (a `SecurityEventError`): `set_` + its RFC 8935
 * code, so it can share a metric label or log field with every other {@link ErrorReason}.
 *
 * @example
 * ```ts
 * import { processSecurityEvent, SecurityEventError, type SecurityEventReason } from 'revocable-jwt';
 * declare const set: string; // the request body, Content-Type application/secevent+jwt
 * try {
 *   await processSecurityEvent(verifier, set, { audience: 'https://api.example.com/ssf' });
 * } catch (error) {
 *   if (!(error instanceof SecurityEventError)) throw error;
 *   const reason: SecurityEventReason = error.reason; // e.g. 'set_invalid_key'
 *   log.warn({ reason }, error.description);
 * }
 * ```
 */
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
