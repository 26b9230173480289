/**
 * `backchannelLogoutRoute()` for Web-standard `Request`/`Response`: the RP endpoint of OpenID
 * Connect Back-Channel Logout 1.0 (see the Express one for its answers). Glue only: the answers are
 * the core's (core/request/backchannel-logout-request.ts).
 */
import {
  type BackchannelLogoutRequestOptions,
  buildBackchannelLogoutHandler,
} from '../core/request/backchannel-logout-request.js';
import { answerPost } from '../glue/post-answer.js';
import { readWebBodyFields, toResponse } from '../glue/web-request.js';
import type { FetchRoute } from './revoke-route.js';

/**
 * The verifier and our `clientId` at the IdP (the logout token's audience); `maxAge`, `sessionOnly`.
 *
 * @example
 * ```ts
 * import type { BackchannelLogoutRouteOptions } from 'revocable-jwt/fetch';
 * const options: BackchannelLogoutRouteOptions = { verifier, clientId: 'notes-api' };
 * ```
 */
export type BackchannelLogoutRouteOptions = BackchannelLogoutRequestOptions;

/**
 * Builds the back-channel logout endpoint the IdP POSTs `logout_token` to: 200 on success, 400
 * `{ error, error_description }` otherwise, 503 with `Retry-After` while the IdP's keys or the
 * store are unreachable; 405 for other methods.
 *
 * @example
 * ```ts
 * import { backchannelLogoutRoute } from 'revocable-jwt/fetch';
 * const logout = backchannelLogoutRoute({ verifier, clientId: 'notes-api' });
 * export const POST = (request: Request) => logout(request);
 * ```
 */
export function backchannelLogoutRoute(options: BackchannelLogoutRouteOptions): FetchRoute {
  const logout = buildBackchannelLogoutHandler(options, 'backchannelLogoutRoute');
  return async (request) =>
    toResponse(await answerPost(logout, request.method, async () => logout(await readWebBodyFields(request))));
}
