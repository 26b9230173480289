/**
 * `revokeRoute()` for Web-standard `Request`/`Response`: the logout / revoke endpoint (see the
 * Express `revokeRoute` for its answers). Glue only: the checks and the answers are the core's
 * (core/request/revoke-request.ts); the body (form or JSON) is read here, within 16 KiB.
 */
import { buildRevokeHandler, type RevokeRequestOptions } from '../core/request/revoke-request.js';
import { answerPost } from '../glue/post-answer.js';
import { readWebBodyFields, toResponse, type WebRequest, webRequestLike } from '../glue/web-request.js';

/**
 * The verifier, and optionally the `issuer` a body token naming none goes to and the `realm`.
 *
 * @example
 * ```ts
 * import type { RevokeRouteOptions } from 'revocable-jwt/fetch';
 * const options: RevokeRouteOptions = { verifier, realm: 'notes' };
 * ```
 */
export type RevokeRouteOptions = RevokeRequestOptions;

/**
 * A handler from `Request` to `Response`.
 *
 * @example
 * ```ts
 * import { type FetchRoute, revokeRoute } from 'revocable-jwt/fetch';
 * const logout: FetchRoute = revokeRoute({ verifier });
 * ```
 */
export type FetchRoute = (request: WebRequest) => Promise<Response>;

/**
 * Builds the logout endpoint: revokes the body's `token` and/or the request's own bearer token, at
 * the IdP and locally. Answers 200, 400, 401, 405 (not POST), 502, or 503 with `Retry-After`.
 * Rejects only with what is not the client's to hear (a misconfiguration): the runtime logs it
 * and answers 500.
 *
 * @example
 * ```ts
 * import { revokeRoute } from 'revocable-jwt/fetch';
 * const logout = revokeRoute({ verifier });
 * export const POST = (request: Request) => logout(request);
 * ```
 */
export function revokeRoute(options: RevokeRouteOptions): FetchRoute {
  const revoke = buildRevokeHandler(options, 'revokeRoute');
  return async (request) => {
    const answer = await answerPost(revoke, request.method, async () =>
      revoke(await readWebBodyFields(request), webRequestLike(request)),
    );
    return toResponse(answer);
  };
}
