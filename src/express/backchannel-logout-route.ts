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

export type BackchannelLogoutRouteOptions = BackchannelLogoutRequestOptions;

export function backchannelLogoutRoute(options: BackchannelLogoutRouteOptions) {
  const logout = buildBackchannelLogoutHandler(options, 'backchannelLogoutRoute');
  return postRoute(logout, async (req) => logout(await readRequestBody(req)));
}
