/**
 * The library's POST endpoints as Hono handlers: logout (`revokeRoute`), back-channel logout and
 * RFC 8935 security events. Glue only: each reads `c.req.raw` (its body within 16 KiB, or Hono's copy), calls the
 * core step and returns the core's answer as a `Response`; what the core does not answer (a
 * misconfiguration) is thrown to Hono's `onError`. Mount them with `app.all(path, …)` to get the
 * 405 for other methods, or `app.post(path, …)`.
 */
import type { Handler } from 'hono';
import {
  type BackchannelLogoutRequestOptions,
  buildBackchannelLogoutHandler,
} from '../core/request/backchannel-logout-request.js';
import {
  createProtectedResourceMetadataHandler,
  type ProtectedResourceMetadata,
  type ProtectedResourceMetadataOptions,
} from '../core/request/resource-metadata.js';
import { buildRevokeHandler, type RevokeRequestOptions } from '../core/request/revoke-request.js';
import { buildSecurityEventHandler, type SecurityEventRequestOptions } from '../core/request/security-event-request.js';
import { answerPost } from '../glue/post-answer.js';
import { toResponse, webRequestLike } from '../glue/web-request.js';
import { readHonoBodyFields, readHonoRawBody } from './request-body.js';

/**
 * The verifier, and optionally the `issuer` a body token naming none goes to and the `realm`.
 *
 * @example
 * ```ts
 * import type { RevokeRouteOptions } from 'revocable-jwt/hono';
 * const options: RevokeRouteOptions = { verifier };
 * ```
 */
export type RevokeRouteOptions = RevokeRequestOptions;

/**
 * The verifier and our `clientId` at the IdP (the logout token's audience); `maxAge`, `sessionOnly`.
 *
 * @example
 * ```ts
 * import type { BackchannelLogoutRouteOptions } from 'revocable-jwt/hono';
 * const options: BackchannelLogoutRouteOptions = { verifier, clientId: 'notes-api' };
 * ```
 */
export type BackchannelLogoutRouteOptions = BackchannelLogoutRequestOptions;

/**
 * The verifier and the `audience` the transmitter addresses this receiver by; `maxAge`.
 *
 * @example
 * ```ts
 * import type { SecurityEventRouteOptions } from 'revocable-jwt/hono';
 * const options: SecurityEventRouteOptions = { verifier, audience: 'https://api.example.com' };
 * ```
 */
export type SecurityEventRouteOptions = SecurityEventRequestOptions;

/**
 * The logout endpoint: revokes the body's `token` and/or the request's own bearer token, at the
 * IdP and locally. Answers 200, 400, 401, 405 (not POST), 502, or 503 with `Retry-After`.
 *
 * @example
 * ```ts
 * import { Hono } from 'hono';
 * import { revokeRoute } from 'revocable-jwt/hono';
 * new Hono().all('/logout', revokeRoute({ verifier }));
 * ```
 */
export function revokeRoute(options: RevokeRouteOptions): Handler {
  const revoke = buildRevokeHandler(options, 'revokeRoute');
  return async (c) => {
    const request = c.req.raw;
    const answer = await answerPost(revoke, request.method, async () =>
      revoke(await readHonoBodyFields(c.req), webRequestLike(request)),
    );
    return toResponse(answer);
  };
}

/**
 * The back-channel logout endpoint the IdP POSTs `logout_token` to: 200, 400, 503 with
 * `Retry-After`; 405 for other methods.
 *
 * @example
 * ```ts
 * import { Hono } from 'hono';
 * import { backchannelLogoutRoute } from 'revocable-jwt/hono';
 * new Hono().all('/backchannel-logout', backchannelLogoutRoute({ verifier, clientId: 'notes-api' }));
 * ```
 */
export function backchannelLogoutRoute(options: BackchannelLogoutRouteOptions): Handler {
  const logout = buildBackchannelLogoutHandler(options, 'backchannelLogoutRoute');
  return async (c) => {
    const request = c.req.raw;
    return toResponse(await answerPost(logout, request.method, async () => logout(await readHonoBodyFields(c.req))));
  };
}

/**
 * The RFC 8935 push endpoint (`Content-Type: application/secevent+jwt`): 202, 400
 * `{ err, description }`, 503 with `Retry-After`; 405 for other methods.
 *
 * @example
 * ```ts
 * import { Hono } from 'hono';
 * import { securityEventRoute } from 'revocable-jwt/hono';
 * new Hono().all('/security-events', securityEventRoute({ verifier, audience: 'https://api.example.com' }));
 * ```
 */
export function securityEventRoute(options: SecurityEventRouteOptions): Handler {
  const receive = buildSecurityEventHandler(options, 'securityEventRoute');
  return async (c) => {
    const request = c.req.raw;
    return toResponse(
      await answerPost(receive, request.method, () => receive(webRequestLike(request), () => readHonoRawBody(c.req))),
    );
  };
}

/**
 * The handler {@link protectedResourceMetadata} returns, and where it belongs.
 *
 * @example
 * ```ts
 * import { type MetadataHandler, protectedResourceMetadata } from 'revocable-jwt/hono';
 * const metadata: MetadataHandler = protectedResourceMetadata({ resource: 'https://api.example.com', verifier });
 * ```
 */
export type MetadataHandler = Handler & {
  /** Where to mount it: `/.well-known/oauth-protected-resource` followed by the resource's path. */
  readonly path: string;
  /** Its absolute URL: what guards pass as `resourceMetadata`. */
  readonly url: string;
  /** The document served. */
  readonly metadata: ProtectedResourceMetadata;
};

/**
 * The RFC 9728 protected resource metadata endpoint: GET and HEAD answer the document
 * (`Cache-Control: public, max-age=3600`, `Access-Control-Allow-Origin: *`), OPTIONS the CORS
 * preflight, anything else 405. Mount it with `app.all(metadata.path, metadata)`; give
 * `metadata.url` to the guards as `resourceMetadata`.
 *
 * @example
 * ```ts
 * import { Hono } from 'hono';
 * import { protectedResourceMetadata } from 'revocable-jwt/hono';
 * const metadata = protectedResourceMetadata({ resource: 'https://api.example.com', verifier });
 * new Hono().all(metadata.path, metadata);
 * ```
 */
export function protectedResourceMetadata(options: ProtectedResourceMetadataOptions): MetadataHandler {
  const handle = createProtectedResourceMetadataHandler(options, 'protectedResourceMetadata');
  const route: Handler = (c) => {
    const request = c.req.raw;
    const response = toResponse(handle(request));
    // A Response to HEAD carries the headers of the GET, never its body.
    return request.method === 'HEAD' ? new Response(null, response) : response;
  };
  return Object.defineProperties(route, {
    path: { value: handle.path, enumerable: true },
    url: { value: handle.url, enumerable: true },
    metadata: { value: handle.metadata, enumerable: true },
  }) as MetadataHandler;
}
