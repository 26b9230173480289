/**
 * The library's POST endpoints as Koa middleware: logout (`revokeRoute`), back-channel logout and
 * RFC 8935 security events. Glue only: each reads the body (the one a body parser left in
 * `ctx.request.body`, else the raw stream within 16 KiB), calls the core step and writes the core's
 * answer; what the core does not answer (a misconfiguration) is thrown to Koa's error handling.
 * Mount each on its path with your router (`router.all('/logout', revokeRoute({ verifier }))`).
 */
import type { Middleware } from 'koa';
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
import { readNodeBodyFields, readNodeRawBody } from '../glue/node-body.js';
import { koaRequestLike, parsedBodyOf } from './auth-guard.js';
import { writeKoaAnswer } from './write-answer.js';

/**
 * The verifier, and optionally the `issuer` a body token naming none goes to and the `realm`.
 *
 * @example
 * ```ts
 * import type { RevokeRouteOptions } from 'revocable-jwt/koa';
 * const options: RevokeRouteOptions = { verifier };
 * ```
 */
export type RevokeRouteOptions = RevokeRequestOptions;

/**
 * The verifier and our `clientId` at the IdP (the logout token's audience); `maxAge`, `sessionOnly`.
 *
 * @example
 * ```ts
 * import type { BackchannelLogoutRouteOptions } from 'revocable-jwt/koa';
 * const options: BackchannelLogoutRouteOptions = { verifier, clientId: 'notes-api' };
 * ```
 */
export type BackchannelLogoutRouteOptions = BackchannelLogoutRequestOptions;

/**
 * The verifier and the `audience` the transmitter addresses this receiver by; `maxAge`.
 *
 * @example
 * ```ts
 * import type { SecurityEventRouteOptions } from 'revocable-jwt/koa';
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
 * import Koa from 'koa';
 * import { revokeRoute } from 'revocable-jwt/koa';
 * const logout = revokeRoute({ verifier });
 * new Koa().use((ctx, next) => (ctx.path === '/logout' ? logout(ctx, next) : next()));
 * ```
 */
export function revokeRoute(options: RevokeRouteOptions): Middleware {
  const revoke = buildRevokeHandler(options, 'revokeRoute');
  return async (ctx) => {
    const answer = await answerPost(revoke, ctx.method, async () =>
      revoke(await readNodeBodyFields(ctx.req, parsedBodyOf(ctx)), koaRequestLike(ctx)),
    );
    writeKoaAnswer(ctx, answer);
  };
}

/**
 * The back-channel logout endpoint the IdP POSTs `logout_token` to: 200, 400, 503 with
 * `Retry-After`; 405 for other methods.
 *
 * @example
 * ```ts
 * import Koa from 'koa';
 * import { backchannelLogoutRoute } from 'revocable-jwt/koa';
 * const logout = backchannelLogoutRoute({ verifier, clientId: 'notes-api' });
 * new Koa().use((ctx, next) => (ctx.path === '/backchannel-logout' ? logout(ctx, next) : next()));
 * ```
 */
export function backchannelLogoutRoute(options: BackchannelLogoutRouteOptions): Middleware {
  const logout = buildBackchannelLogoutHandler(options, 'backchannelLogoutRoute');
  return async (ctx) => {
    const answer = await answerPost(logout, ctx.method, async () =>
      logout(await readNodeBodyFields(ctx.req, parsedBodyOf(ctx))),
    );
    writeKoaAnswer(ctx, answer);
  };
}

/**
 * The RFC 8935 push endpoint (`Content-Type: application/secevent+jwt`): 202, 400
 * `{ err, description }`, 503 with `Retry-After`; 405 for other methods.
 *
 * @example
 * ```ts
 * import Koa from 'koa';
 * import { securityEventRoute } from 'revocable-jwt/koa';
 * const events = securityEventRoute({ verifier, audience: 'https://api.example.com' });
 * new Koa().use((ctx, next) => (ctx.path === '/security-events' ? events(ctx, next) : next()));
 * ```
 */
export function securityEventRoute(options: SecurityEventRouteOptions): Middleware {
  const receive = buildSecurityEventHandler(options, 'securityEventRoute');
  return async (ctx) => {
    const answer = await answerPost(receive, ctx.method, () =>
      receive(koaRequestLike(ctx), () => readNodeRawBody(ctx.req, parsedBodyOf(ctx))),
    );
    writeKoaAnswer(ctx, answer);
  };
}

/**
 * The middleware {@link protectedResourceMetadata} returns, and where it belongs.
 *
 * @example
 * ```ts
 * import { type MetadataMiddleware, protectedResourceMetadata } from 'revocable-jwt/koa';
 * const metadata: MetadataMiddleware = protectedResourceMetadata({ resource: 'https://api.example.com', verifier });
 * ```
 */
export type MetadataMiddleware = Middleware & {
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
 * preflight, anything else 405. Mount it at `metadata.path`; give `metadata.url` to the guards as
 * `resourceMetadata`.
 *
 * @example
 * ```ts
 * import Koa from 'koa';
 * import { protectedResourceMetadata } from 'revocable-jwt/koa';
 * const metadata = protectedResourceMetadata({ resource: 'https://api.example.com', verifier });
 * new Koa().use((ctx, next) => (ctx.path === metadata.path ? metadata(ctx, next) : next()));
 * ```
 */
export function protectedResourceMetadata(options: ProtectedResourceMetadataOptions): MetadataMiddleware {
  const handle = createProtectedResourceMetadataHandler(options, 'protectedResourceMetadata');
  // Koa sends no body for HEAD (only its length): the answer is the same for both.
  const route: Middleware = (ctx) => writeKoaAnswer(ctx, handle(ctx));
  return Object.defineProperties(route, {
    path: { value: handle.path, enumerable: true },
    url: { value: handle.url, enumerable: true },
    metadata: { value: handle.metadata, enumerable: true },
  }) as MetadataMiddleware;
}
