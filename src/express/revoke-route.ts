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
import { requestLikeOf } from './auth-guard.js';
import { postRoute } from './post-route.js';
import { readRequestBody } from './request-body.js';

/**
 * The options of {@link revokeRoute}: `verifier` (required), `issuer` (several issuers: the IdP
 * that gets body tokens naming none of them), `realm` (of the 400/401 challenges; default
 * `'api'`). The same as `createRevokeHandler`'s; unknown keys are refused at construction.
 *
 * @example
 * ```ts
 * import { revokeRoute, type RevokeRouteOptions } from 'revocable-jwt';
 * // Several issuers: refresh tokens posted here go to this one (it must be one of the verifier's).
 * const options: RevokeRouteOptions = { verifier, issuer: 'https://login.example.com/' };
 * app.post('/logout', revokeRoute(options));
 * ```
 */
export type RevokeRouteOptions = RevokeRequestOptions;

/**
 * A logout / revoke endpoint (Express, Connect, `node:http`): revokes the body's `token` (RFC
 * 7009, e.g. a refresh token, with `token_type_hint`) and/or, without a body token, the request's
 * own bearer token (logout); with both, both. Each is revoked at the IdP (RFC 7009, through the
 * verifier's `revocation` options; retried from the outbox while the IdP is down) and locally, at
 * once. Reads a form or JSON body: the one a body parser left, else the stream itself (up to
 * 16 KiB). A bearer-only logout never forwards a token that is not ours.
 *
 * Answers (JSON, `Cache-Control: no-store`): 200 `{ revoked: true }` once every instance will
 * refuse the token · 400 `invalid_request` (no token, bad body or hint; several issuers and a body
 * token naming none, without `issuer`) · 401 `invalid_token` (a bearer-only logout with a forged,
 * foreign or inactive token: nothing changed) · 405 with `Allow: POST` for other methods · 502
 * `idp_error` (the IdP refused our client; dead locally) · 503 with `Retry-After` (the token cannot
 * be checked right now, the store has not confirmed it, or the IdP is unreachable). A
 * misconfiguration goes to `next(err)` (a generic 500 without `next`). A forged body token gets
 * 200, as RFC 7009 answers for unknown tokens, and changes nothing.
 *
 * Does not: authenticate the client of a body-only revocation (anyone may revoke a token they
 * hold, RFC 7009 §2.1).
 *
 * @throws TypeError at construction: no verifier, an unknown key, an `issuer` the verifier does
 * not trust.
 *
 * @example
 * ```ts
 * import { revokeRoute } from 'revocable-jwt';
 * app.post('/logout', revokeRoute({ verifier }));
 * // POST /logout  Authorization: Bearer <access token>  token=<refresh token>&token_type_hint=refresh_token
 * ```
 */
export function revokeRoute(options: RevokeRouteOptions) {
  const revoke = buildRevokeHandler(options, 'revokeRoute');
  return postRoute(revoke, async (req) => revoke(await readRequestBody(req), requestLikeOf(req, false)));
}
