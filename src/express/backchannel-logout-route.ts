/**
 * `backchannelLogoutRoute()`: the RP endpoint of OpenID Connect Back-Channel Logout 1.0.
 * The IdP POSTs `logout_token` (form); we validate it (see core/receive/logout-token.ts) and refuse
 * that session's / subject's tokens on every instance sharing the store. Answers per §2.8: 200 on
 * success, 400 `{ error, error_description }` otherwise, always `Cache-Control: no-store`; 503 with
 * `Retry-After` while the IdP's keys or the revocation store are unreachable (the IdP retries).
 * Glue only: the answers are the core's (core/request/backchannel-logout-request.ts).
 */
import {
  type BackchannelLogoutRequestOptions,
  buildBackchannelLogoutHandler,
} from '../core/request/backchannel-logout-request.js';
import { postRoute } from './post-route.js';
import { readRequestBody } from './request-body.js';

/**
 * The options of {@link backchannelLogoutRoute}: `verifier` and `clientId` (required; the logout
 * token's audience), `maxAge` (how old its `iat` may be, in seconds; default 300, clock tolerance
 * on top), `sessionOnly` (when the token has a `sid`, cut only that session, not the subject;
 * default false). The same as `createBackchannelLogoutHandler`'s; unknown keys are refused at
 * construction.
 *
 * @example
 * ```ts
 * import { backchannelLogoutRoute, type BackchannelLogoutRouteOptions } from 'revocable-jwt';
 * const options: BackchannelLogoutRouteOptions = { verifier, clientId: 'my-api', maxAge: 120 };
 * app.post('/backchannel-logout', backchannelLogoutRoute(options));
 * ```
 */
export type BackchannelLogoutRouteOptions = BackchannelLogoutRequestOptions;

/**
 * The relying party's endpoint of OpenID Connect Back-Channel Logout 1.0 (Express, Connect,
 * `node:http`): register its URL as the client's `backchannel_logout_uri`. The IdP POSTs a
 * `logout_token` (form; a JSON body or one a parser already read works too); it must be signed
 * by one of the verifier's issuers, with `aud` = `clientId`, `iat` within `maxAge`, a `jti`, the
 * back-channel logout event, `sub` and/or `sid`, and no `nonce`. Then its `sid` becomes a session
 * cutoff and its `sub` a subject cutoff (both by default), on every instance sharing the store,
 * at the logout token's own `iat`; a repeated `jti` makes the same cutoffs again, which cuts
 * nothing newer.
 *
 * Answers (§2.8, `Cache-Control: no-store`): 200 · 400 `{ error: 'invalid_request',
 * error_description }` · 405 with `Allow: POST` for other methods · 503 with `Retry-After` while
 * the issuer's keys or the store are unreachable (the IdP retries; a retry is safe). A
 * misconfiguration goes to `next(err)` (a generic 500 without `next`).
 *
 * @throws TypeError at construction: no verifier, no `clientId`, a bad `maxAge`, an unknown key.
 *
 * @example
 * ```ts
 * import { backchannelLogoutRoute } from 'revocable-jwt';
 * app.post('/backchannel-logout', backchannelLogoutRoute({ verifier, clientId: 'my-api' }));
 * ```
 */
export function backchannelLogoutRoute(options: BackchannelLogoutRouteOptions) {
  const logout = buildBackchannelLogoutHandler(options, 'backchannelLogoutRoute');
  return postRoute(logout, async (req) => logout(await readRequestBody(req)));
}
