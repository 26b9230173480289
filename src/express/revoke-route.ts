/**
 * `revokeRoute()`: a logout / revoke endpoint. Revokes the body's `token` (RFC 7009 style, e.g. a
 * refresh token) and/or the request's own bearer token, at the IdP and locally, then answers:
 *   200 done · 400 invalid_request (also: several issuers and a body token naming none of them,
 *   without the `issuer` option) · 401 forged bearer-only logout · 405 not POST ·
 *   502 IdP refused our client (token already dead locally) · 503 IdP unreachable (dead locally,
 *   queued for retry, `Retry-After`) · 503 revocation store has not confirmed the local revocation
 *   (dead on this instance, written in the background, `Retry-After`; repeating is safe).
 * Glue only: the checks and the answers are the core's (core/request/revoke-request.ts).
 */
import { buildRevokeHandler, type RevokeRequestOptions } from '../core/request/revoke-request.js';
import { postRoute } from './post-route.js';
import { readRequestBody } from './request-body.js';

export type RevokeRouteOptions = RevokeRequestOptions;

export function revokeRoute(options: RevokeRouteOptions) {
  const revoke = buildRevokeHandler(options, 'revokeRoute');
  return postRoute(revoke, async (req) => revoke(await readRequestBody(req), req));
}
