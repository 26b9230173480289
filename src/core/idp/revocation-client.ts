/**
 * RFC 7009 token revocation client. Split, as in oauth4webapi, into building the request and
 * interpreting the answer, so each is testable alone; `revokeAtIdp` just runs both.
 *
 * Flavours covered: RFC 7009 form bodies (oidc-provider, Okta, Keycloak, Authing/GenAuth) and
 * Auth0's `/oauth/revoke` JSON body with `client_id`/`client_secret`. Client authentication per
 * RFC 6749 §2.3.1: `client_secret_basic` (id and secret form-encoded before base64),
 * `client_secret_post`, or `none` (public clients send `client_id` only).
 *
 * Does not validate: that the endpoint belongs to the token's issuer (the caller configures or
 * discovers it), or anything about the token (opaque tokens are forwarded as they are).
 *
 * Not built on oauth4webapi itself (evaluated for issue 11): its requests are form-only (no Auth0 JSON)
 * with a Basic encoding our scrubber does not know, its steps are async over `Response` (ours are
 * public and synchronous), and it accepts only 200 and reads error bodies of JSON 4xx answers only.
 */
import { clientAuthenticatedRequest, type ClientAuthConfig } from './client-auth.js';
import { HttpRequestError, parseRetryAfter, sendRequest, type FetchLike, type HttpResult } from './http-client.js';
import { readOAuthError, sentSecrets } from './idp-text.js';
import { MisconfiguredError } from '../shared/errors.js';
import type { RevocationFailureReason } from '../shared/revocable-jwt-error.js';
import { RevocableJwtError } from '../shared/revocable-jwt-error.js';

export type { ClientAuthConfig, ClientAuthMethod } from './client-auth.js';
export { basicCredentials } from './client-auth.js';

/** How the revocation request's body is encoded: `form` (RFC 7009) or `json` (Auth0 accepts it). */
export type RevocationBodyFormat = ClientAuthConfig['bodyFormat'];
/** Our client at the IdP, as {@link buildRevocationRequest} authenticates it. */
export type RevocationClientConfig = ClientAuthConfig;

export interface RevocationRequestInput {
  token: string;
  tokenTypeHint?: string | undefined;
  /** For public clients without a configured `clientId`: the token's own `client_id`/`azp`. */
  fallbackClientId?: string | undefined;
}

/**
 * Why the IdP did not confirm a revocation. `transient` ones are retried from the outbox.
 * `reason` says which failure it was; when not given, a transient failure is
 * `revocation_unavailable`, one caused by a {@link MisconfiguredError} `revocation_misconfigured`,
 * any other `revocation_refused`. `status` is the status the IdP answered with, if it answered.
 *
 * @example
 * ```ts
 * const outcome = await verifier.revoke(token);
 * if (outcome.error?.reason === 'revocation_client_rejected') alert('check revocation.clientSecret');
 * ```
 */
export class RevocationError extends RevocableJwtError {
  declare readonly reason: RevocationFailureReason;
  readonly transient: boolean;
  /** OAuth `error` from the IdP's body, when it sent one. */
  readonly error: string | undefined;
  readonly errorDescription: string | undefined;
  readonly status: number | undefined;
  readonly retryAfter: number | undefined;
  constructor(
    message: string,
    details: {
      transient: boolean;
      reason?: RevocationFailureReason;
      error?: string;
      errorDescription?: string;
      status?: number;
      retryAfter?: number;
      cause?: unknown;
    },
  ) {
    super(details.reason ?? defaultReason(details), message, { cause: details.cause });
    this.transient = details.transient;
    this.error = details.error;
    this.errorDescription = details.errorDescription;
    this.status = details.status;
    this.retryAfter = details.retryAfter;
  }
}

function defaultReason(details: { transient: boolean; cause?: unknown }): RevocationFailureReason {
  if (details.transient) return 'revocation_unavailable';
  return details.cause instanceof MisconfiguredError ? 'revocation_misconfigured' : 'revocation_refused';
}

/** What the IdP said: revoked, or "I cannot revoke this kind of token" (RFC 7009 §2.2.1). */
export type IdpRevocationResult = 'revoked' | 'not_revocable';

/** Builds the HTTP request for one revocation. Throws RevocationError when no client id is known. */
export function buildRevocationRequest(config: RevocationClientConfig, input: RevocationRequestInput): RequestInit {
  const params: Record<string, string> = { token: input.token };
  if (input.tokenTypeHint) params.token_type_hint = input.tokenTypeHint;
  try {
    return clientAuthenticatedRequest(config, params, input.fallbackClientId);
  } catch (error) {
    throw new RevocationError(`${(error as Error).message} (revocation.clientId)`, {
      transient: false,
      reason: 'revocation_misconfigured',
    });
  }
}

/**
 * Interprets the IdP's answer (RFC 7009 §2.2, §2.2.1). `token` and `client`, when given, are cut
 * out of any text the IdP sent back, in every encoding (some echo the request in
 * `error_description`), so they never reach messages, logs or the outbox's `lastError`.
 */
export function processRevocationResponse(
  result: HttpResult,
  token?: string,
  client?: RevocationClientConfig,
): IdpRevocationResult {
  if (result.status >= 200 && result.status < 300) return 'revoked'; // any or no body
  const body = readOAuthError(result.text, sentSecrets(token, client));
  const retryAfter = parseRetryAfter(result.headers.get('retry-after'));
  // Structured (JWT) tokens often cannot be revoked at the IdP (oidc-provider, Auth0 for access
  // tokens). RFC 7009 allows that answer; for such tokens our local denylist is the revocation.
  if (result.status === 400 && body.error === 'unsupported_token_type') return 'not_revocable';
  const transient = result.status >= 500 || result.status === 429;
  const clientRejected = !transient && (result.status === 401 || body.error === 'invalid_client');
  const what = body.error
    ? `${body.error}${body.error_description ? `: ${body.error_description}` : ''}`
    : `HTTP ${result.status}`;
  throw new RevocationError(
    transient
      ? `the revocation endpoint is unavailable (${what})`
      : clientRejected
        ? `the IdP rejected our client credentials (${what}); check revocation.clientId / clientSecret / authMethod`
        : `the IdP refused the revocation request (${what})`,
    {
      transient,
      reason: transient
        ? 'revocation_unavailable'
        : clientRejected
          ? 'revocation_client_rejected'
          : 'revocation_refused',
      status: result.status,
      ...(body.error ? { error: body.error } : {}),
      ...(body.error_description ? { errorDescription: body.error_description } : {}),
      ...(retryAfter !== undefined ? { retryAfter } : {}),
    },
  );
}

/** Sends one revocation request; network failures and timeouts are transient RevocationErrors. */
export async function revokeAtIdp(
  endpoint: URL,
  config: RevocationClientConfig,
  input: RevocationRequestInput,
  transport: { fetch: FetchLike; signal?: AbortSignal },
): Promise<IdpRevocationResult> {
  const init = buildRevocationRequest(config, input);
  let result: HttpResult;
  try {
    result = await sendRequest(endpoint, {
      fetch: transport.fetch,
      timeoutMs: config.timeoutMs,
      maxBytes: 64 * 1024,
      signal: transport.signal,
      init,
    });
  } catch (error) {
    // An oversized body still came with a status, and the status is what counts (a 200's body
    // is ignored anyway): judge by it rather than calling the IdP unreachable.
    if (error instanceof HttpRequestError && error.kind === 'too_large' && error.status !== undefined) {
      return processRevocationResponse({ status: error.status, headers: new Headers(), text: '' });
    }
    const permanent = error instanceof HttpRequestError && error.kind === 'redirect';
    // A redirect is not followed: the configured or discovered endpoint is not the one to use.
    throw new RevocationError(error instanceof Error ? error.message : 'the revocation request failed', {
      transient: !permanent,
      reason: permanent ? 'revocation_misconfigured' : 'revocation_unavailable',
      cause: error,
    });
  }
  return processRevocationResponse(result, input.token, config);
}
