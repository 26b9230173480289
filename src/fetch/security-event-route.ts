/**
 * `securityEventRoute()` for Web-standard `Request`/`Response`: an RFC 8935 push endpoint for
 * Security Event Tokens (see the Express one for its answers). Glue only: the checks and the
 * answers are the core's (core/request/security-event-request.ts).
 */
import { buildSecurityEventHandler, type SecurityEventRequestOptions } from '../core/request/security-event-request.js';
import { answerPost } from '../glue/post-answer.js';
import { readWebRawBody, toResponse, webRequestLike } from '../glue/web-request.js';
import type { FetchRoute } from './revoke-route.js';

/**
 * The verifier and the `audience` the transmitter addresses this receiver by; `maxAge`.
 *
 * @example
 * ```ts
 * import type { SecurityEventRouteOptions } from 'revocable-jwt/fetch';
 * const options: SecurityEventRouteOptions = { verifier, audience: 'https://api.example.com' };
 * ```
 */
export type SecurityEventRouteOptions = SecurityEventRequestOptions;

/**
 * Builds the RFC 8935 push endpoint: expects `Content-Type: application/secevent+jwt`; 202 on
 * success (duplicates too), 400 `{ err, description }`, 503 with `Retry-After`; 405 for other methods.
 *
 * @example
 * ```ts
 * import { securityEventRoute } from 'revocable-jwt/fetch';
 * const events = securityEventRoute({ verifier, audience: 'https://api.example.com' });
 * export const POST = (request: Request) => events(request);
 * ```
 */
export function securityEventRoute(options: SecurityEventRouteOptions): FetchRoute {
  const receive = buildSecurityEventHandler(options, 'securityEventRoute');
  return async (request) =>
    toResponse(
      await answerPost(receive, request.method, () => receive(webRequestLike(request), () => readWebRawBody(request))),
    );
}
