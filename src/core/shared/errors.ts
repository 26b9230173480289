/**
 * Errors a request can end in. Each one knows its HTTP status and its RFC 6750 challenge, so any
 * framework's default error handler (Express's included) renders the right response from
 * `status` and `headers` alone.
 */
import { bearerChallenge, type Challenge, challengeValue, formatChallenges } from './challenge.js';
import { RevocableJwtError, type RejectionReason } from './revocable-jwt-error.js';

export type { RejectionReason } from './revocable-jwt-error.js';

/**
 * The RFC 6750 §3.1 error codes a resource server puts in its `WWW-Authenticate` challenge. An
 * `AuthError`'s `code` is one of these, `temporarily_unavailable` or `server_error` (503 and 500,
 * which have no challenge code), or `undefined` when the request carried no bearer credentials.
 *
 * @example
 * ```ts
 * import type { BearerErrorCode } from 'revocable-jwt';
 * const refusals: Record<BearerErrorCode, number> = { invalid_request: 0, invalid_token: 0, insufficient_scope: 0 };
 * const isBearerCode = (code: string | undefined): code is BearerErrorCode =>
 *   code !== undefined && Object.hasOwn(refusals, code);
 * verifier.on('rejected', ({ code }) => {
 *   if (isBearerCode(code)) refusals[code] += 1;
 * });
 * ```
 */
export type BearerErrorCode = 'invalid_request' | 'invalid_token' | 'insufficient_scope';

/**
 * The error codes RFC 9449 §7.1 and §9 add for the DPoP scheme: a proof that fails a check
 * (`invalid_dpop_proof`), and a proof without the server's current nonce (`use_dpop_nonce`, with
 * the nonce in a `DPoP-Nonce` header).
 *
 * @example
 * ```ts
 * import type { DpopErrorCode } from 'revocable-jwt';
 * const retryWithNonce = (code: string | undefined): code is DpopErrorCode => code === 'use_dpop_nonce';
 * ```
 */
export type DpopErrorCode = 'invalid_dpop_proof' | 'use_dpop_nonce';

const DEFAULT_CHALLENGE = bearerChallenge('api');

/**
 * Base class of every error this library passes to `next(err)` or rejects `verify()` with: a
 * request or token refused. It carries the whole answer: `status`, `headers` (the RFC 6750
 * `WWW-Authenticate` challenge, or `Retry-After`) and a JSON body from `toJSON()`, so any
 * framework's error handler can send it as is. `code` is the RFC 6750 error code the client reads
 * in the challenge (several causes share one); `reason` is the finer, stable cause; `description`
 * is safe to show the client (never the token); `cause` keeps the original error for logs.
 *
 * @example
 * ```ts
 * import { AuthError } from 'revocable-jwt';
 * // Any framework: a refusal carries its whole HTTP answer (here as a WHATWG Response).
 * async function handle(request: Request): Promise<Response> {
 *   try {
 *     const { payload } = await verifier.verify(request.headers.get('authorization')?.slice(7) ?? '');
 *     return Response.json({ hello: payload.sub });
 *   } catch (error) {
 *     if (!(error instanceof AuthError)) throw error;
 *     log.info({ reason: error.reason }, 'request refused');
 *     return Response.json(error.toJSON(), { status: error.status, headers: error.headers });
 *   }
 * }
 * ```
 */
export abstract class AuthError extends RevocableJwtError {
  /** HTTP status to answer with. */
  abstract readonly status: number;
  /**
   * RFC 6750 error code, RFC 9449's DPoP codes or RFC 9470's `insufficient_user_authentication`
   * (absent for a request without credentials).
   */
  abstract readonly code:
    | BearerErrorCode
    | DpopErrorCode
    | 'insufficient_user_authentication'
    | 'temporarily_unavailable'
    | 'server_error'
    | undefined;
  declare readonly reason: RejectionReason;
  /** Human-readable, safe to show to the client: never the token, never internals. */
  readonly description: string;
  /**
   * How the `WWW-Authenticate` challenge is worded: realm, schemes (Bearer, DPoP), parameters
   * such as `resource_metadata`. A guard sets its own (through {@link AuthError.withChallenge}).
   */
  challenge: Challenge = DEFAULT_CHALLENGE;
  /** Tells http-errors-style handlers the message is safe to send to the client. */
  readonly expose: boolean = true;

  constructor(reason: RejectionReason, description: string, options?: { cause?: unknown }) {
    super(reason, description, options);
    this.description = description;
  }

  /** Realm of the `WWW-Authenticate` challenge (default `'api'`); a guard sets its own. */
  get realm(): string {
    return this.challenge.realm;
  }
  set realm(realm: string) {
    this.challenge = { ...this.challenge, realm };
  }

  /**
   * This error under `realm`: itself when the realm is already that, else a copy. One rejection
   * may be shared by concurrent requests (their verifications are coalesced) that reach guards of
   * different realms, so it is never mutated.
   */
  withRealm(realm: string): this {
    if (realm === this.challenge.realm) return this;
    return this.withChallenge({ ...this.challenge, realm });
  }

  /**
   * This error worded under `challenge`: itself when it already is, else a copy (never mutated,
   * like {@link AuthError.withRealm}).
   */
  withChallenge(challenge: Challenge): this {
    if (challenge === this.challenge) return this;
    const copy = Object.create(Object.getPrototypeOf(this) as object, Object.getOwnPropertyDescriptors(this)) as this;
    copy.challenge = challenge;
    return copy;
  }

  /** Alias for frameworks that read `statusCode`. */
  get statusCode(): number {
    return this.status;
  }

  /** Response headers: the RFC 6750 challenge, plus `Retry-After` where it applies. */
  get headers(): Record<string, string> {
    return { 'WWW-Authenticate': formatChallenges(this.challenge, this.challengeParams()) };
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

/**
 * 401 without an error code, reason `missing_token`: the request carried no bearer token at all,
 * so the challenge is a bare `Bearer realm="…"` (RFC 6750 §3.1: no `error` for a request that did
 * not try to authenticate). Reason `dpop_required`: a Bearer token where the route requires DPoP
 * (an authentication method the resource does not support, which RFC 6750 §3.1 also answers bare).
 *
 * @example
 * ```ts
 * import { UnauthorizedError } from 'revocable-jwt';
 * // A token kept in a cookie instead of the Authorization header:
 * async function authenticate(cookies: Record<string, string | undefined>) {
 *   const cookieToken = cookies.access_token;
 *   if (cookieToken === undefined) throw new UnauthorizedError(); // 401, WWW-Authenticate: Bearer realm="api"
 *   return verifier.verify(cookieToken);
 * }
 * ```
 */
export class UnauthorizedError extends AuthError {
  readonly status = 401;
  readonly code = undefined;
  constructor(description = 'Bearer token required', reason: 'missing_token' | 'dpop_required' = 'missing_token') {
    super(reason, description);
  }
}

/**
 * 400 `invalid_request`: the request itself is malformed (RFC 6750 §3.1): two `Authorization`
 * headers, a token in the query string, a malformed header; also a logout token the back-channel
 * logout receiver refuses. `reason` names which; the default description is generic.
 *
 * @example
 * ```ts
 * import { InvalidRequestError } from 'revocable-jwt';
 * function refuseQueryTokens(url: URL): void {
 *   if (url.searchParams.has('access_token'))
 *     throw new InvalidRequestError('query_token_not_allowed', 'Send the token in the Authorization header');
 * }
 * ```
 */
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
  token_too_old: 'The access token was issued too long ago for this resource',
  claim_mismatch: 'The access token does not meet the claim requirements of this resource',
  claim_check_error: 'The access token does not meet the claim requirements of this resource',
  revoked: 'The access token has been revoked',
  token_status_invalid: 'The access token has been revoked by its issuer',
  token_status_suspended: 'The access token is suspended by its issuer',
  token_status_unknown: 'The access token has a status this resource does not accept',
  token_status_out_of_range: 'The access token refers to a status its issuer does not publish',
  token_inactive: 'The access token is not active',
  token_not_bound: 'The access token is not bound to a client certificate',
  certificate_required: 'The access token is bound to a client certificate, and none was presented',
  certificate_unreadable: 'The client certificate could not be read',
  certificate_mismatch: 'The access token is bound to another client certificate',
  certificate_binding_unchecked:
    'The access token is bound to a client certificate, and this resource does not check client certificates',
  dpop_bound_token: 'The access token is DPoP-bound: send it with the DPoP scheme and a DPoP proof',
  dpop_key_mismatch: 'The access token is not bound to the key of the DPoP proof',
};

/**
 * 401 `invalid_token`: expired, revoked, malformed, or not signed by a trusted key. Without a
 * description, the client is told the fixed one for `reason` (jose's more detailed message stays
 * in `cause`, for logs). Throw one from your own checks to refuse a token the same way.
 *
 * @example
 * ```ts
 * import { InvalidTokenError } from 'revocable-jwt';
 * const { payload } = await verifier.verify(token);
 * // A policy of this API on top of what the verifier checks:
 * if (payload.client_id === 'retired-app') throw new InvalidTokenError('claim_invalid', 'This client is retired');
 * ```
 */
export class InvalidTokenError extends AuthError {
  readonly status = 401;
  readonly code = 'invalid_token';
  constructor(reason: RejectionReason, description?: string, options?: { cause?: unknown }) {
    super(reason, description ?? TOKEN_DESCRIPTIONS[reason] ?? 'The access token is invalid', options);
  }
}

/**
 * 403 `insufficient_scope`: a valid token without a scope the resource needs. The challenge names
 * the required scopes (`scope="notes:write"`), as RFC 6750 §3.1 suggests. For a route that takes
 * any one of several scopes (`match: 'any'`), it names every alternative, as
 * express-oauth2-jwt-bearer's `scopeIncludesAny` does: a token granted the whole list always
 * passes, and any one of them is enough.
 *
 * @example
 * ```ts
 * import { InsufficientScopeError } from 'revocable-jwt';
 * const { payload } = await verifier.verify(token);
 * const granted = typeof payload.scope === 'string' ? payload.scope.split(' ') : [];
 * if (!granted.includes('notes:write')) throw new InsufficientScopeError(['notes:write']);
 * // Either scope will do:
 * if (!granted.some((s) => s === 'notes:read' || s === 'notes:admin'))
 *   throw new InsufficientScopeError(['notes:read', 'notes:admin'], 'any');
 * ```
 */
export class InsufficientScopeError extends AuthError {
  readonly status = 403;
  readonly code = 'insufficient_scope';
  /** The scopes the resource requires (all of them, or one of them: see `match`), as named in the challenge. */
  readonly scopes: readonly string[];
  /** `all`: every scope in `scopes` is required; `any`: one of them is enough. */
  readonly match: 'all' | 'any';
  constructor(requiredScopes: readonly string[], match: 'all' | 'any' = 'all') {
    super('insufficient_scope', 'The access token lacks a required scope');
    this.scopes = requiredScopes;
    this.match = match;
  }
  protected override challengeParams(): Array<[string, string]> {
    return [...super.challengeParams(), ['scope', this.scopes.join(' ')]];
  }
}

/** What a client is told for each reason a DPoP proof is refused (which check failed, never the proof). */
const PROOF_DESCRIPTIONS: Partial<Record<RejectionReason, string>> = {
  dpop_proof_missing: 'The DPoP scheme needs a DPoP proof in a DPoP header',
  dpop_proof_malformed: 'The DPoP proof is malformed',
  dpop_algorithm_not_allowed: 'The DPoP proof is signed with an algorithm that is not accepted',
  dpop_signature_invalid: 'The DPoP proof signature is invalid',
  dpop_method_mismatch: 'The DPoP proof htm is not the request method',
  dpop_url_mismatch: 'The DPoP proof htu is not the request URL',
  dpop_ath_mismatch: 'The DPoP proof ath is not the hash of the access token',
  dpop_proof_stale: 'The DPoP proof iat is outside the accepted window',
  dpop_proof_replayed: 'The DPoP proof has already been used',
};

/**
 * 401 `invalid_dpop_proof` (RFC 9449 §7.1): the `DPoP` header is missing, malformed, signed with
 * an algorithm or key that is not accepted, or does not match the request (`htm`, `htu`), the
 * token (`ath`) or the time (`iat`); or its `jti` was already used. `reason` says which; the
 * challenge goes to the `DPoP` scheme.
 *
 * @example
 * ```ts
 * import { InvalidDpopProofError } from 'revocable-jwt';
 * verifier.on('rejected', ({ reason, code }) => {
 *   if (code === 'invalid_dpop_proof') log.info({ reason }, 'DPoP proof refused'); // e.g. dpop_proof_replayed
 * });
 * const replayed = new InvalidDpopProofError('dpop_proof_replayed');
 * replayed.headers; // { 'WWW-Authenticate': 'Bearer realm="api", error="invalid_dpop_proof", …' }
 * ```
 */
export class InvalidDpopProofError extends AuthError {
  readonly status = 401;
  readonly code = 'invalid_dpop_proof';
  constructor(reason: RejectionReason, description?: string, options?: { cause?: unknown }) {
    super(reason, description ?? PROOF_DESCRIPTIONS[reason] ?? 'The DPoP proof is invalid', options);
  }
}

/**
 * 401 `use_dpop_nonce` (RFC 9449 §9): server nonces are in use and the proof carries none, or one
 * that expired. The answer carries a fresh nonce in `DPoP-Nonce`; the client signs a new proof with
 * it and retries. Reason `dpop_nonce_required`.
 *
 * @example
 * ```ts
 * import { UseDpopNonceError } from 'revocable-jwt';
 * const error = new UseDpopNonceError('eyJub25jZSI');
 * error.headers['DPoP-Nonce']; // 'eyJub25jZSI': the client puts it in its next proof's `nonce` claim
 * ```
 */
export class UseDpopNonceError extends AuthError {
  readonly status = 401;
  readonly code = 'use_dpop_nonce';
  /** The nonce the client must put in its next proof (also sent as `DPoP-Nonce`). */
  readonly nonce: string;
  constructor(nonce: string, description = 'Sign a DPoP proof with the nonce in the DPoP-Nonce header') {
    super('dpop_nonce_required', description);
    this.nonce = nonce;
  }
  override get headers(): Record<string, string> {
    return { ...super.headers, 'DPoP-Nonce': this.nonce };
  }
}

/**
 * 401 `insufficient_user_authentication` (RFC 9470, OAuth 2.0 Step-Up Authentication): the token
 * is valid, but the user behind it did not authenticate the way this resource requires — with an
 * authentication context class (`acr`) it accepts, or recently enough (`auth_time` within
 * `max_age` seconds). The challenge tells the client what to ask the authorization server for:
 * `acr_values="…"` and/or `max_age="…"`. The client obtains a new token (sending `acr_values` /
 * `max_age` in its authorization request) and retries.
 *
 * @example
 * ```ts
 * import { InsufficientUserAuthenticationError } from 'revocable-jwt';
 * const { payload } = await verifier.verify(token);
 * if (payload.acr !== 'urn:example:mfa')
 *   throw new InsufficientUserAuthenticationError({ acrValues: ['urn:example:mfa'] });
 * // WWW-Authenticate: Bearer realm="api", error="insufficient_user_authentication",
 * //   error_description="A different authentication level is required", acr_values="urn:example:mfa"
 * ```
 */
export class InsufficientUserAuthenticationError extends AuthError {
  readonly status = 401;
  readonly code = 'insufficient_user_authentication';
  /** The authentication context classes the resource accepts (the challenge's `acr_values`), if it names any. */
  readonly acrValues: readonly string[] | undefined;
  /** The longest time since the user's authentication, in seconds (the challenge's `max_age`), if limited. */
  readonly maxAge: number | undefined;
  constructor(
    requirements: { acrValues?: readonly string[]; maxAge?: number },
    description = requirements.acrValues !== undefined
      ? 'A different authentication level is required'
      : 'More recent authentication is required',
  ) {
    super('insufficient_user_authentication', description);
    this.acrValues = requirements.acrValues;
    this.maxAge = requirements.maxAge;
  }
  protected override challengeParams(): Array<[string, string]> {
    const params = super.challengeParams();
    if (this.acrValues !== undefined) params.push(['acr_values', this.acrValues.join(' ')]);
    if (this.maxAge !== undefined) params.push(['max_age', String(this.maxAge)]);
    return params;
  }
}

/**
 * 503 `temporarily_unavailable` with `Retry-After`: the token may well be valid but what it needs
 * from the IdP cannot be had right now — the key (discovery or JWKS endpoint unreachable) or, for
 * an opaque token, the introspection answer. Not the client's fault, so not a 401. `cause` is
 * usually the `HttpRequestError` that says what failed.
 *
 * @example
 * ```ts
 * import { IdpUnavailableError } from 'revocable-jwt';
 * try {
 *   await verifier.verify(token);
 * } catch (error) {
 *   if (error instanceof IdpUnavailableError) log.warn({ retryAfter: error.retryAfter, cause: error.cause }, 'no IdP');
 *   throw error; // 503, Retry-After: error.retryAfter
 * }
 * ```
 */
export class IdpUnavailableError extends AuthError {
  readonly status = 503;
  readonly code = 'temporarily_unavailable';
  /** Seconds after which a retry makes sense (whole, at least 1); also sent as `Retry-After`. */
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
 * 503 `temporarily_unavailable` with `Retry-After`: the shared revocation store has been
 * unreachable for longer than `maxStaleness` (or has not synced within `syncTimeout`) and the
 * policy is `fail-closed`, so no token can be shown not to be revoked. Also what the logout and
 * security-event receivers answer when the store cannot record a replay or a cutoff.
 *
 * @example
 * ```ts
 * import { StoreUnavailableError } from 'revocable-jwt';
 * async function handle(request: Request): Promise<Response> {
 *   try {
 *     await verifier.verify(request.headers.get('authorization')?.replace(/^Bearer /i, '') ?? '');
 *   } catch (error) {
 *     if (error instanceof StoreUnavailableError) return new Response(null, { status: 503, headers: error.headers });
 *     throw error;
 *   }
 *   return new Response('ok');
 * }
 * ```
 */
export class StoreUnavailableError extends AuthError {
  readonly status = 503;
  readonly code = 'temporarily_unavailable';
  /** Seconds after which a retry makes sense (whole, at least 1); also sent as `Retry-After`. */
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
 *
 * @example
 * ```ts
 * import { MisconfiguredError } from 'revocable-jwt';
 * try {
 *   await verifier.verify(token);
 * } catch (error) {
 *   // `message` says what to fix (e.g. the issuer's trailing slash); the client only sees a generic 500.
 *   if (error instanceof MisconfiguredError) log.error({ reason: error.reason }, error.message);
 *   throw error;
 * }
 * ```
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
 * 500, reason `verifier_closed`: `verify()` was called after `close()`, or `close()` landed while
 * it was verifying (a closed verifier hears no revocations, so it vouches for nothing). The application's
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
  constructor(message = 'verify() called after close()', options?: { cause?: unknown }) {
    super(message, options);
  }
}

/**
 * 503 from `invalidate*()` and the routes built on them: the revocation is in force on this
 * instance, but the shared store has not confirmed it, so other instances may not know yet. The
 * write is retried in the background until it lands; repeating the call is safe (idempotent).
 * A `StoreUnavailableError`, so handlers that answer that one answer this one too.
 *
 * @example
 * ```ts
 * import { RevocationPendingError } from 'revocable-jwt';
 * declare const userId: string;
 * try {
 *   await verifier.invalidateSubject(userId); // e.g. after a password change
 * } catch (error) {
 *   if (!(error instanceof RevocationPendingError)) throw error;
 *   log.warn({ retryAfter: error.retryAfter }, 'refused here; other instances learn of it once the store takes it');
 * }
 * ```
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
 * Builds an RFC 6750 §3 Bearer challenge. Every value, the library's or an application's (its own
 * AuthError descriptions, realms, scope names), is cut down to the RFC 6750 §3 charset here.
 */
export function formatChallenge(realm: string, params: ReadonlyArray<[string, string]>): string {
  return formatChallenges(bearerChallenge(realm), params);
}

/** Whether a non-empty value fits a challenge as is (for options checked at construction, e.g. a realm). */
export function fitsChallenge(value: string): boolean {
  return value !== '' && challengeValue(value) === value;
}
