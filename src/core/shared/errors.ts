/**
 * Errors a request can end in. Each one knows its HTTP status and its RFC 6750 challenge, so any
 * framework's default error handler (Express's included) renders the right response from
 * `status` and `headers` alone.
 */
import { RevocableJwtError, type RejectionReason } from './revocable-jwt-error.js';

export type { RejectionReason } from './revocable-jwt-error.js';

/** The RFC 6750 §3.1 error code, or `undefined` when the request carried no bearer credentials. */
export type BearerErrorCode = 'invalid_request' | 'invalid_token' | 'insufficient_scope';

const DEFAULT_REALM = 'api';

/**
 * Base class of every error this library passes to `next(err)` or rejects `verify()` with: a
 * request or token refused. `code` is the RFC 6750 error code the client reads in the challenge
 * (several causes share one); `reason` is the finer, stable cause.
 *
 * @example
 * ```ts
 * import { AuthError } from 'revocable-jwt';
 * app.use((err, req, res, next) => {
 *   if (!(err instanceof AuthError)) return next(err);
 *   metrics.rejections.inc({ reason: err.reason });
 *   res.status(err.status).set(err.headers).json(err.toJSON());
 * });
 * ```
 */
export abstract class AuthError extends RevocableJwtError {
  /** HTTP status to answer with. */
  abstract readonly status: number;
  /** RFC 6750 error code (absent for a request without credentials). */
  abstract readonly code: BearerErrorCode | 'temporarily_unavailable' | 'server_error' | undefined;
  declare readonly reason: RejectionReason;
  /** Human-readable, safe to show to the client: never the token, never internals. */
  readonly description: string;
  /** Realm for the `WWW-Authenticate` challenge; the guard sets its own. */
  realm = DEFAULT_REALM;
  /** Tells http-errors-style handlers the message is safe to send to the client. */
  readonly expose: boolean = true;

  constructor(reason: RejectionReason, description: string, options?: { cause?: unknown }) {
    super(reason, description, options);
    this.description = description;
  }

  /**
   * This error under `realm`: itself when the realm is already that, else a copy. One rejection
   * may be shared by concurrent requests (their verifications are coalesced) that reach guards of
   * different realms, so it is never mutated.
   */
  withRealm(realm: string): this {
    if (realm === this.realm) return this;
    const copy = Object.create(Object.getPrototypeOf(this) as object, Object.getOwnPropertyDescriptors(this)) as this;
    copy.realm = realm;
    return copy;
  }

  /** Alias for frameworks that read `statusCode`. */
  get statusCode(): number {
    return this.status;
  }

  /** Response headers: the RFC 6750 challenge, plus `Retry-After` where it applies. */
  get headers(): Record<string, string> {
    return { 'WWW-Authenticate': formatChallenge(this.realm, this.challengeParams()) };
  }

  /**
   * The JSON body the library's own handlers send; also handy for custom error handlers. The
   * description is the one the challenge carries (RFC 6750 §3 charset), whoever wrote it.
   */
  toJSON(): { error: string; error_description: string } {
    return { error: this.code ?? 'unauthorized', error_description: challengeValue(this.description) };
  }

  protected challengeParams(): Array<[string, string]> {
    return this.code
      ? [
          ['error', this.code],
          ['error_description', this.description],
        ]
      : [];
  }
}

/** 401 without an error code: the request carried no bearer token at all (RFC 6750 §3.1). */
export class UnauthorizedError extends AuthError {
  readonly status = 401;
  readonly code = undefined;
  constructor(description = 'Bearer token required') {
    super('missing_token', description);
  }
}

/** 400 `invalid_request`: the request itself is malformed (RFC 6750 §3.1). */
export class InvalidRequestError extends AuthError {
  readonly status = 400;
  readonly code = 'invalid_request';
  constructor(reason: RejectionReason, description = 'The request is malformed', options?: { cause?: unknown }) {
    super(reason, description, options);
  }
}

/**
 * What a client is told for each reason a token is refused: fixed text (jose's messages are
 * precise but written for developers, and stay available as `cause`).
 */
const TOKEN_DESCRIPTIONS: Partial<Record<RejectionReason, string>> = {
  malformed_token: 'The access token is malformed',
  token_too_long: 'The access token is too long',
  encrypted_token: 'Encrypted (JWE) tokens are not accepted',
  algorithm_not_allowed: 'The access token is signed with an algorithm that is not accepted',
  unsupported_token: 'The access token uses an unsupported feature',
  key_not_found: 'The access token is signed with an unknown key',
  signature_invalid: 'The access token signature is invalid',
  issuer_mismatch: 'The access token was issued by an untrusted issuer',
  audience_mismatch: 'The access token is not intended for this resource',
  type_mismatch: 'The access token has the wrong type',
  token_expired: 'The access token expired',
  token_not_yet_valid: 'The access token is not valid yet',
  issued_in_future: 'The access token is issued in the future',
  claim_missing: 'The access token lacks a required claim',
  claim_invalid: 'The access token has an invalid claim',
  lifetime_too_long: 'The access token lifetime exceeds what this resource accepts',
  revoked: 'The access token has been revoked',
  token_inactive: 'The access token is not active',
};

/**
 * 401 `invalid_token`: expired, revoked, malformed, or not signed by a trusted key. Without a
 * description, the client is told the fixed one for `reason`.
 */
export class InvalidTokenError extends AuthError {
  readonly status = 401;
  readonly code = 'invalid_token';
  constructor(reason: RejectionReason, description?: string, options?: { cause?: unknown }) {
    super(reason, description ?? TOKEN_DESCRIPTIONS[reason] ?? 'The access token is invalid', options);
  }
}

/** 403 `insufficient_scope`, naming the scopes the resource needs. */
export class InsufficientScopeError extends AuthError {
  readonly status = 403;
  readonly code = 'insufficient_scope';
  readonly scopes: readonly string[];
  constructor(requiredScopes: readonly string[]) {
    super('insufficient_scope', 'The access token lacks a required scope');
    this.scopes = requiredScopes;
  }
  protected override challengeParams(): Array<[string, string]> {
    return [...super.challengeParams(), ['scope', this.scopes.join(' ')]];
  }
}

/**
 * 503: the token may well be valid but the key it needs cannot be fetched because the IdP
 * (discovery or JWKS endpoint) is unreachable. Not the client's fault, so not a 401.
 */
export class IdpUnavailableError extends AuthError {
  readonly status = 503;
  readonly code = 'temporarily_unavailable';
  /** Seconds after which a retry makes sense. */
  readonly retryAfter: number;
  constructor(description: string, retryAfter: number, options?: { cause?: unknown }) {
    super('idp_unavailable', description, options);
    this.retryAfter = Math.max(1, Math.ceil(retryAfter));
  }
  override get headers(): Record<string, string> {
    return { 'Retry-After': String(this.retryAfter) };
  }
}

/**
 * 503: the shared revocation store has been unreachable for longer than the staleness bound and
 * the policy is `fail-closed`, so no token can be shown not to be revoked.
 */
export class StoreUnavailableError extends AuthError {
  readonly status = 503;
  readonly code = 'temporarily_unavailable';
  readonly retryAfter: number;
  constructor(retryAfter: number, options?: { cause?: unknown; description?: string }) {
    super('store_unavailable', options?.description ?? 'Token revocation status cannot be checked right now', options);
    this.retryAfter = Math.max(1, Math.ceil(retryAfter));
  }
  override get headers(): Record<string, string> {
    return { 'Retry-After': String(this.retryAfter) };
  }
}

/**
 * 500: this server's configuration cannot work with its IdP (the configured issuer differs from
 * the one in the IdP's metadata, the metadata lacks an endpoint we need, an endpoint it announces
 * is refused by our URL policy). Neither the client's fault nor an outage: no `WWW-Authenticate`
 * challenge (the token is not the problem), no `Retry-After` (retrying will not help), and a
 * generic body. The explanation is in `message` (for logs; never sent to clients), the verifier's
 * `misconfigured` event and `stats().misconfigured`. Its subclass {@link VerifierClosedError} is
 * the application's other mistake: using a verifier it has closed.
 */
export class MisconfiguredError extends AuthError {
  readonly status = 500;
  readonly code = 'server_error';
  override readonly expose = false;
  constructor(message: string, options?: { cause?: unknown }) {
    super('misconfigured', 'The request could not be processed', options);
    this.message = message.startsWith('revocable-jwt: ') ? message : `revocable-jwt: ${message}`;
  }
  override get headers(): Record<string, string> {
    return {};
  }
}

/**
 * 500, reason `verifier_closed`: `verify()` was called after `close()`. The application's
 * mistake (e.g. serving requests during shutdown after closing the verifier), not the client's,
 * so never a 401: like any {@link MisconfiguredError} it carries no challenge, a generic body,
 * and the explanation in `message`. Adapters hand it to `next(err)` as they do a misconfiguration.
 *
 * @example
 * ```ts
 * await verifier.close();
 * await verifier.verify(token); // rejects: VerifierClosedError, status 500, reason 'verifier_closed'
 * ```
 */
export class VerifierClosedError extends MisconfiguredError {
  override readonly reason = 'verifier_closed';
  constructor(message = 'verify() called after close()') {
    super(message);
  }
}

/**
 * 503 from `invalidate*()` and the routes built on them: the revocation is in force on this
 * instance, but the shared store has not confirmed it, so other instances may not know yet. The
 * write is retried in the background until it lands; repeating the call is safe (idempotent).
 */
export class RevocationPendingError extends StoreUnavailableError {
  constructor(retryAfter: number, options?: { cause?: unknown }) {
    super(retryAfter, {
      ...options,
      description: 'Revoked on this instance; the shared revocation store has not confirmed it yet (retrying)',
    });
  }
}

/** A 503 that carries `Retry-After`: the IdP or the revocation store is unreachable right now. */
export function isTemporarilyUnavailable(error: unknown): error is IdpUnavailableError | StoreUnavailableError {
  return error instanceof IdpUnavailableError || error instanceof StoreUnavailableError;
}

/**
 * Builds an RFC 6750 §3 challenge. Every value, the library's or an application's (its own
 * AuthError descriptions, realms, scope names), is cut down to the RFC 6750 §3 charset here.
 */
export function formatChallenge(realm: string, params: ReadonlyArray<[string, string]>): string {
  const parts = [`realm="${challengeValue(realm)}"`, ...params.map(([k, v]) => `${k}="${challengeValue(v)}"`)];
  return `Bearer ${parts.join(', ')}`;
}

/**
 * RFC 6750 §3 allows only %x20-21 / %x23-5B / %x5D-7E in error_description (and scope tokens,
 * RFC 6749 §3.3, are the same set without the space): no `"`, no `\`, no control or non-ASCII
 * character. So nothing needs quoted-pair escaping, which many clients parse wrongly anyway:
 * `"` becomes `'` (descriptions stay readable), everything else outside the set is dropped.
 */
function challengeValue(value: string): string {
  return value.replace(/"/g, "'").replace(NOT_IN_CHALLENGE, '');
}

/** Outside the RFC 6750 §3 charset (%x20-21 / %x23-5B / %x5D-7E): no quote, backslash, control or non-ASCII. */
const NOT_IN_CHALLENGE = /[^\x20\x21\x23-\x5b\x5d-\x7e]/g;

/** Whether a non-empty value fits a challenge as is (for options checked at construction, e.g. a realm). */
export function fitsChallenge(value: string): boolean {
  return value !== '' && value.search(NOT_IN_CHALLENGE) === -1;
}
