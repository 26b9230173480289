import { base64, utf8Bytes } from './base64.js';

/**
 * OAuth client authentication for our calls to the IdP (revocation, introspection), per RFC 6749
 * §2.3.1: `client_secret_basic` (id and secret form-urlencoded, then base64), `client_secret_post`,
 * or `none` (public clients send `client_id` only). Form bodies by default; JSON for IdPs that
 * take it (Auth0). The default of `revocation.authMethod` and `introspection.authMethod` is
 * `client_secret_basic` with a `clientSecret`, `none` without.
 *
 * @example
 * ```ts
 * import { createVerifier, type ClientAuthMethod } from 'revocable-jwt';
 * const authMethod: ClientAuthMethod = 'client_secret_post'; // id and secret in the body
 * const verifier = createVerifier({
 *   issuer: 'https://idp.example.com/',
 *   audience: 'api',
 *   revocation: { clientId: 'my-api', clientSecret: 'secret', authMethod },
 * });
 * ```
 */
export type ClientAuthMethod = 'client_secret_basic' | 'client_secret_post' | 'none';

/**
 * Our client at the IdP, and how its requests are sent: what {@link ClientAuthMethod} to use,
 * in which body format, with what timeout. Nothing here is checked: `createVerifier()` checks
 * the `revocation` / `introspection` options it builds one from.
 *
 * @example
 * ```ts
 * import { buildRevocationRequest, type ClientAuthConfig } from 'revocable-jwt';
 * const okta: ClientAuthConfig = {
 *   clientId: 'my-api',
 *   clientSecret: 'secret',
 *   authMethod: 'client_secret_basic',
 *   bodyFormat: 'form',
 *   timeoutMs: 5_000,
 * };
 * const init = buildRevocationRequest(okta, { token, tokenTypeHint: 'access_token' });
 * ```
 */
export interface ClientAuthConfig {
  /**
   * Our client id at the IdP. `undefined`: the token's own `client_id`/`azp` stands in (a public
   * client, `none`); with neither, building the request throws.
   */
  clientId: string | undefined;
  /** Our client secret: sent for `client_secret_basic` and `client_secret_post`, never for `none`. */
  clientSecret: string | undefined;
  /** How the client authenticates: Basic header, secret in the body, or `client_id` only. */
  authMethod: ClientAuthMethod;
  /** `form` (RFC 7009, RFC 7662) or `json` (Auth0 accepts it). */
  bodyFormat: 'form' | 'json';
  /** Each request, in milliseconds (used when the library sends the request itself). */
  timeoutMs: number;
}

/** A POST carrying `params` and our client authentication. Throws when no client id is known. */
export function clientAuthenticatedRequest(
  config: ClientAuthConfig,
  params: Record<string, string>,
  fallbackClientId?: string,
): RequestInit {
  const clientId = config.clientId ?? fallbackClientId;
  if (!clientId) throw new Error('no client_id to authenticate the request with; set `clientId`');
  const body: Record<string, string> = { ...params };
  const headers: Record<string, string> = { accept: 'application/json' };
  if (config.authMethod === 'client_secret_basic') {
    headers.authorization = basicCredentials(clientId, config.clientSecret ?? '');
  } else {
    body.client_id = clientId;
    if (config.authMethod === 'client_secret_post') body.client_secret = config.clientSecret ?? '';
  }
  if (config.bodyFormat === 'json') {
    headers['content-type'] = 'application/json';
    return { method: 'POST', headers, body: JSON.stringify(body) };
  }
  headers['content-type'] = 'application/x-www-form-urlencoded';
  return { method: 'POST', headers, body: new URLSearchParams(body).toString() };
}

/** RFC 6749 §2.3.1: form-urlencode id and secret, then base64 `id:secret`. */
export function basicCredentials(clientId: string, clientSecret: string): string {
  const encode = (value: string) => encodeURIComponent(value).replace(/%20/g, '+');
  return `Basic ${base64(utf8Bytes(`${encode(clientId)}:${encode(clientSecret)}`))}`;
}
