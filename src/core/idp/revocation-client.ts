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

/**
 * How the revocation request's body is encoded: `form` (RFC 7009) or `json` (Auth0 accepts it).
 *
 * @example
 * ```ts
 * import type { RevocationBodyFormat } from 'revocable-jwt';
 * const bodyFormat: RevocationBodyFormat = 'json'; // Auth0's /oauth/revoke takes JSON
 * ```
 */
export type RevocationBodyFormat = ClientAuthConfig['bodyFormat'];
/**
 * Our client at the IdP, as {@link buildRevocationRequest} authenticates it: `clientId`,
 * `clientSecret`, `authMethod` (`client_secret_basic`, `client_secret_post`, `none`), `bodyFormat`
 * (`form`, or `json` for Auth0) and `timeoutMs` (each request, in milliseconds; used only when
 * the library sends the request itself).
 *
 * @example
 * ```ts
 * import { buildRevocationRequest } from 'revocable-jwt';
 * const auth0 = {
 *   clientId: 'my-api',
 *   clientSecret: 'secret',
 *   authMethod: 'client_secret_post',
 *   bodyFormat: 'json',
 *   timeoutMs: 5_000,
 * } as const;
 * const init = buildRevocationRequest(auth0, { token }); // POST, JSON body with client_id and client_secret
 * ```
 */
export type RevocationClientConfig = ClientAuthConfig;

/**
 * What one revocation request says about the token: the token itself, an optional RFC 7009
 * `token_type_hint`, and for a public client without a configured `clientId` the token's own
 * `client_id`/`azp` to send as `client_id`.
 *
 * @example
 * ```ts
 * import { buildRevocationRequest } from 'revocable-jwt';
 * declare const refreshToken: string;
 * const config = {
 *   clientId: undefined,
 *   clientSecret: undefined,
 *   authMethod: 'none',
 *   bodyFormat: 'form',
 *   timeoutMs: 5_000,
 * } as const;
 * const init = buildRevocationRequest(config, {
 *   token: refreshToken,
 *   tokenTypeHint: 'refresh_token',
 *   fallbackClientId: 'spa-client', // a public client: client_id only
 * });
 * ```
 */
export interface RevocationRequestInput {
  /** The token to revoke, sent as is (never logged). */
  token: string;
  /** RFC 7009 `token_type_hint`: `access_token`, `refresh_token`, or an IdP-specific value. */
  tokenTypeHint?: string | undefined;
  /** For public clients without a configured `clientId`: the token's own `client_id`/`azp`. */
  fallbackClientId?: string | undefined;
}

/**
 * Why the IdP did not confirm a revocation: `verifier.revoke()` reports it as `outcome.error`
 * (it does not throw it), and {@link buildRevocationRequest} / {@link processRevocationResponse}
 * throw it. `transient` ones are retried from the outbox. `reason` says which failure it was;
 * when not given, a transient failure is `revocation_unavailable`, one caused by a
 * {@link MisconfiguredError} `revocation_misconfigured`, any other `revocation_refused`. `status`
 * is the status the IdP answered with, if it answered. Text the IdP sent back is scrubbed of the
 * token and our client secret before it reaches `message`, `error` or `errorDescription` (when you
 * call {@link processRevocationResponse} yourself, pass it both for that).
 *
 * @example
 * ```ts
 * const outcome = await verifier.revoke(token);
 * if (outcome.error?.reason === 'revocation_client_rejected') {
 *   const { status, error } = outcome.error; // e.g. 401, 'invalid_client'
 *   log.error({ status, error }, 'the IdP refused our client: check revocation.clientId / clientSecret');
 * }
 * ```
 */
export class RevocationError extends RevocableJwtError {
  declare readonly reason: RevocationFailureReason;
  /** True when trying again later may succeed (IdP unreachable, 5xx, 429): such failures are queued and retried. */
  readonly transient: boolean;
  /** OAuth `error` from the IdP's body, when it sent one. */
  readonly error: string | undefined;
  /** OAuth `error_description` from the IdP's body, when it sent one (scrubbed of the token and secret). */
  readonly errorDescription: string | undefined;
  /** The HTTP status the IdP answered with; undefined when it did not answer. */
  readonly status: number | undefined;
  /** Seconds, from the IdP's `Retry-After` header when it sent one: no retry comes sooner. */
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

/**
 * What the IdP said: `revoked` (any 2xx), or `not_revocable` — "I cannot revoke this kind of
 * token" (400 `unsupported_token_type`, RFC 7009 §2.2.1), as oidc-provider and Auth0 answer for
 * JWT access tokens. Both are successes: for a token the IdP cannot revoke, the verifier's local
 * denylist is the revocation.
 *
 * @example
 * ```ts
 * import { processRevocationResponse, type IdpRevocationResult } from 'revocable-jwt';
 * declare const response: Response;
 * const answer = { status: response.status, headers: response.headers, text: await response.text() };
 * const result: IdpRevocationResult = processRevocationResponse(answer, token);
 * if (result === 'not_revocable') await verifier.invalidate(token); // kill it locally instead
 * ```
 */
export type IdpRevocationResult = 'revoked' | 'not_revocable';

/**
 * The request step of an RFC 7009 revocation (oauth4webapi's split): the `RequestInit` of a POST
 * carrying `token`, `token_type_hint` and our client authentication (`Authorization: Basic`, or
 * `client_id`/`client_secret` in the body), form-encoded or JSON per `config.bodyFormat`. Send it
 * with any `fetch` to the revocation endpoint, then read the answer with
 * {@link processRevocationResponse}. `verifier.revoke()` does both for you, plus the outbox.
 *
 * Does not validate: the endpoint (you choose it), the token (forwarded as it is), or `config`
 * beyond the client id — a `clientSecret` missing under `client_secret_basic`/`_post` is sent as
 * an empty secret (`createVerifier` refuses that at construction; this function does not).
 *
 * @param config - Our client at the IdP and how to authenticate it.
 * @param input - The token, its type hint, and a fallback client id for public clients.
 * @returns A POST `RequestInit` with headers and body; no `signal` and no `redirect` setting.
 * @throws {@link RevocationError} (`revocation_misconfigured`) when neither `config.clientId` nor
 *   `input.fallbackClientId` gives a client id.
 *
 * @example
 * ```ts
 * import { buildRevocationRequest, processRevocationResponse } from 'revocable-jwt';
 * declare const refreshToken: string;
 * const client = {
 *   clientId: 'my-api',
 *   clientSecret: 'secret',
 *   authMethod: 'client_secret_basic',
 *   bodyFormat: 'form',
 *   timeoutMs: 5_000,
 * } as const;
 * const init = buildRevocationRequest(client, { token: refreshToken, tokenTypeHint: 'refresh_token' });
 * const response = await fetch('https://idp.example.com/token/revocation', {
 *   ...init,
 *   redirect: 'manual',
 *   signal: AbortSignal.timeout(5_000),
 * });
 * const answer = { status: response.status, headers: response.headers, text: await response.text() };
 * processRevocationResponse(answer, refreshToken, client); // 'revoked' | 'not_revocable', or throws RevocationError
 * ```
 */
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
 * The processing step of an RFC 7009 revocation: interprets the IdP's answer (RFC 7009 §2.2,
 * §2.2.1). Any 2xx is `revoked`, whatever its body; 400 `unsupported_token_type` is
 * `not_revocable`; anything else throws. `token` and `client`, when given, are cut out of any
 * text the IdP sent back, in every encoding (some echo the request in `error_description`), so
 * they never reach messages, logs or the outbox's `lastError`: pass them.
 *
 * Does not validate: that the answer came from the revocation endpoint, or any 2xx body (RFC 7009
 * gives it no meaning). A 3xx is a refusal here: redirects are not followed, so do not let your
 * `fetch` follow them (`redirect: 'manual'`).
 *
 * @param result - The answer: status, headers and the body as text.
 * @param token - The token that was sent, to scrub from the IdP's text.
 * @param client - The client config that was used, to scrub its secret from the IdP's text.
 * @returns `revoked` or `not_revocable`.
 * @throws {@link RevocationError}: `revocation_unavailable` (transient: 5xx, 429; with
 *   `retryAfter` from the header), `revocation_client_rejected` (401 or `invalid_client`), or
 *   `revocation_refused` (any other answer).
 *
 * @example
 * ```ts
 * import { processRevocationResponse, RevocationError } from 'revocable-jwt';
 * declare const response: Response; // from fetch(endpoint, buildRevocationRequest(config, { token }))
 * const answer = { status: response.status, headers: response.headers, text: await response.text() };
 * try {
 *   processRevocationResponse(answer, token);
 * } catch (error) {
 *   if (!(error instanceof RevocationError)) throw error;
 *   if (error.transient) log.warn({ retryAfter: error.retryAfter }, 'IdP unavailable: try again later');
 *   else log.error({ reason: error.reason, error: error.error }, error.message);
 * }
 * ```
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
