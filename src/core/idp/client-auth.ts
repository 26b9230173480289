/**
 * OAuth client authentication for our calls to the IdP (revocation, introspection), per RFC 6749
 * §2.3.1: `client_secret_basic` (id and secret form-urlencoded, then base64), `client_secret_post`,
 * or `none` (public clients send `client_id` only). Form bodies by default; JSON for IdPs that
 * take it (Auth0).
 */
export type ClientAuthMethod = 'client_secret_basic' | 'client_secret_post' | 'none';

/** Our client at the IdP, and how its requests are sent. */
export interface ClientAuthConfig {
  clientId: string | undefined;
  clientSecret: string | undefined;
  authMethod: ClientAuthMethod;
  /** `form` (RFC 7009, RFC 7662) or `json` (Auth0 accepts it). */
  bodyFormat: 'form' | 'json';
  /** Each request, in ms. */
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
  return `Basic ${Buffer.from(`${encode(clientId)}:${encode(clientSecret)}`).toString('base64')}`;
}
