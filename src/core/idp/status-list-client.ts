/**
 * Fetching a Status List Token (draft-ietf-oauth-status-list §8.1): `GET <uri>` with
 * `Accept: application/statuslist+jwt`, through the one HTTP client every IdP call uses (timeout,
 * body cap, redirects refused). Only the request step: what the token says, and whether we believe
 * it, is decided by the caller (core/verify/status-list-token.ts). The URL policy (which origins a
 * status list may come from) is the caller's too; this file fetches what it is given.
 */
import { type FetchLike, HttpRequestError, parseRetryAfter, sendRequest } from './http-client.js';

/** The media type of a Status List Token in JWT form. */
export const STATUS_LIST_JWT_MEDIA_TYPE = 'application/statuslist+jwt';

export interface StatusListFetchOptions {
  fetch: FetchLike;
  /** The request, in ms. */
  timeoutMs: number;
  /** Largest body accepted, in bytes (the compact JWT). */
  maxBytes: number;
  signal: AbortSignal;
}

/**
 * The compact JWT served at `uri`. Rejects with an {@link HttpRequestError}: no answer, a non-2xx
 * status (with the server's `Retry-After`), a redirect (never followed: the draft lets clients
 * follow them, but a redirect could lead anywhere, so the final URL must be the one in the
 * token), a body over the cap, or one that is not a single compact JWS.
 */
export async function fetchStatusListToken(uri: URL, options: StatusListFetchOptions): Promise<string> {
  const result = await sendRequest(uri, {
    ...options,
    init: { method: 'GET', headers: { accept: STATUS_LIST_JWT_MEDIA_TYPE } },
  });
  const target = `the status list ${uri.origin}${uri.pathname}`;
  if (result.status < 200 || result.status >= 300) {
    throw new HttpRequestError('status', `${target} answered ${result.status}`, {
      status: result.status,
      retryAfter: parseRetryAfter(result.headers.get('retry-after')),
    });
  }
  const jwt = result.text.trim();
  if (!/^[\w-]+\.[\w-]+\.[\w-]*$/.test(jwt))
    throw new HttpRequestError('invalid_body', `${target} did not answer with a compact JWT`, {
      status: result.status,
    });
  return jwt;
}
