/**
 * The library's POST endpoints for Fastify: logout (`revokeRoute`), back-channel logout and RFC
 * 8935 security events. Each is a plugin to `register` with the path as its `prefix`: inside its
 * own encapsulated context it replaces Fastify's content-type parsers with one that leaves the
 * body unread, so the endpoint reads form, JSON or `application/secevent+jwt` bodies itself (within
 * 16 KiB) without `@fastify/formbody`, and answers bad input like every other adapter (a 400, not
 * Fastify's 415). Glue only: the checks and the answers are the core's; what the core does not
 * answer (a misconfiguration) is thrown to Fastify's error handler.
 */
import type { FastifyPluginCallback, FastifyReply, FastifyRequest } from 'fastify';
import {
  type BackchannelLogoutRequestOptions,
  buildBackchannelLogoutHandler,
} from '../core/request/backchannel-logout-request.js';
import type { RequestLike } from '../core/request/request-like.js';
import {
  createProtectedResourceMetadataHandler,
  type ProtectedResourceMetadata,
  type ProtectedResourceMetadataOptions,
} from '../core/request/resource-metadata.js';
import { buildRevokeHandler, type RevokeRequestOptions } from '../core/request/revoke-request.js';
import type { EndpointPolicy, RouteAnswer } from '../core/request/route-answer.js';
import { buildSecurityEventHandler, type SecurityEventRequestOptions } from '../core/request/security-event-request.js';
import { readNodeBodyFields, readNodeRawBody } from '../glue/node-body.js';
import { answerPost } from '../glue/post-answer.js';
import { sendAnswer } from './send-answer.js';

/**
 * The verifier, and optionally the `issuer` a body token naming none goes to and the `realm`.
 *
 * @example
 * ```ts
 * import type { RevokeRouteOptions } from 'revocable-jwt/fastify';
 * const options: RevokeRouteOptions = { verifier };
 * ```
 */
export type RevokeRouteOptions = RevokeRequestOptions;

/**
 * The verifier and our `clientId` at the IdP (the logout token's audience); `maxAge`, `sessionOnly`.
 *
 * @example
 * ```ts
 * import type { BackchannelLogoutRouteOptions } from 'revocable-jwt/fastify';
 * const options: BackchannelLogoutRouteOptions = { verifier, clientId: 'notes-api' };
 * ```
 */
export type BackchannelLogoutRouteOptions = BackchannelLogoutRequestOptions;

/**
 * The verifier and the `audience` the transmitter addresses this receiver by; `maxAge`.
 *
 * @example
 * ```ts
 * import type { SecurityEventRouteOptions } from 'revocable-jwt/fastify';
 * const options: SecurityEventRouteOptions = { verifier, audience: 'https://api.example.com' };
 * ```
 */
export type SecurityEventRouteOptions = SecurityEventRequestOptions;

/**
 * The logout endpoint, a plugin: revokes the body's `token` and/or the request's own bearer token,
 * at the IdP and locally. Answers 200, 400, 401, 405 (not POST), 502, or 503 with `Retry-After`.
 *
 * @example
 * ```ts
 * import Fastify from 'fastify';
 * import { revokeRoute } from 'revocable-jwt/fastify';
 * const app = Fastify();
 * app.register(revokeRoute({ verifier }), { prefix: '/logout' });
 * ```
 */
export function revokeRoute(options: RevokeRouteOptions): FastifyPluginCallback {
  const revoke = buildRevokeHandler(options, 'revokeRoute');
  return endpoint(revoke, async (request) =>
    revoke(await readNodeBodyFields(request.raw, undefined), requestLikeOf(request)),
  );
}

/**
 * The back-channel logout endpoint the IdP POSTs `logout_token` to, a plugin: 200, 400, 503 with
 * `Retry-After`; 405 for other methods.
 *
 * @example
 * ```ts
 * import Fastify from 'fastify';
 * import { backchannelLogoutRoute } from 'revocable-jwt/fastify';
 * const app = Fastify();
 * app.register(backchannelLogoutRoute({ verifier, clientId: 'notes-api' }), { prefix: '/backchannel-logout' });
 * ```
 */
export function backchannelLogoutRoute(options: BackchannelLogoutRouteOptions): FastifyPluginCallback {
  const logout = buildBackchannelLogoutHandler(options, 'backchannelLogoutRoute');
  return endpoint(logout, async (request) => logout(await readNodeBodyFields(request.raw, undefined)));
}

/**
 * The RFC 8935 push endpoint (`Content-Type: application/secevent+jwt`), a plugin: 202, 400
 * `{ err, description }`, 503 with `Retry-After`; 405 for other methods.
 *
 * @example
 * ```ts
 * import Fastify from 'fastify';
 * import { securityEventRoute } from 'revocable-jwt/fastify';
 * const app = Fastify();
 * app.register(securityEventRoute({ verifier, audience: 'https://api.example.com' }), { prefix: '/events' });
 * ```
 */
export function securityEventRoute(options: SecurityEventRouteOptions): FastifyPluginCallback {
  const receive = buildSecurityEventHandler(options, 'securityEventRoute');
  return endpoint(receive, (request) => receive(requestLikeOf(request), () => readNodeRawBody(request.raw, undefined)));
}

/**
 * The plugin {@link protectedResourceMetadata} returns, and where it belongs.
 *
 * @example
 * ```ts
 * import { type MetadataPlugin, protectedResourceMetadata } from 'revocable-jwt/fastify';
 * const metadata: MetadataPlugin = protectedResourceMetadata({ resource: 'https://api.example.com', verifier });
 * ```
 */
export type MetadataPlugin = FastifyPluginCallback & {
  /** Where it serves: `/.well-known/oauth-protected-resource` followed by the resource's path. */
  readonly path: string;
  /** Its absolute URL: what guards pass as `resourceMetadata`. */
  readonly url: string;
  /** The document served. */
  readonly metadata: ProtectedResourceMetadata;
};

/**
 * The RFC 9728 protected resource metadata endpoint, a plugin: GET and HEAD answer the document
 * (`Cache-Control: public, max-age=3600`, `Access-Control-Allow-Origin: *`), OPTIONS the CORS
 * preflight, anything else 405. Register it with its path as `prefix`, like the other endpoints
 * (without a prefix it serves at its own path); give `metadata.url` to the guards as
 * `resourceMetadata`.
 *
 * @example
 * ```ts
 * import Fastify from 'fastify';
 * import { protectedResourceMetadata } from 'revocable-jwt/fastify';
 * const app = Fastify();
 * const metadata = protectedResourceMetadata({ resource: 'https://api.example.com', verifier });
 * app.register(metadata, { prefix: metadata.path });
 * ```
 */
export function protectedResourceMetadata(options: ProtectedResourceMetadataOptions): MetadataPlugin {
  const handle = createProtectedResourceMetadataHandler(options, 'protectedResourceMetadata');
  const plugin: FastifyPluginCallback = (instance, _options, done) => {
    // Node sends no body for HEAD, whatever is written: the answer is the same for both.
    instance.all(instance.prefix === '' ? handle.path : '/', async (request, reply) =>
      sendAnswer(reply, handle({ method: request.method, headers: request.headers })),
    );
    done();
  };
  return Object.defineProperties(plugin, {
    path: { value: handle.path, enumerable: true },
    url: { value: handle.url, enumerable: true },
    metadata: { value: handle.metadata, enumerable: true },
  }) as MetadataPlugin;
}

/** A plugin serving `handle` at its prefix, every method (405 for all but POST), body left unread. */
function endpoint(
  policy: EndpointPolicy,
  handle: (request: FastifyRequest) => Promise<RouteAnswer>,
): FastifyPluginCallback {
  return (instance, _options, done) => {
    instance.removeAllContentTypeParsers();
    instance.addContentTypeParser('*', (_request, _payload, parsed) => parsed(null, undefined));
    const answer = async (request: FastifyRequest, reply: FastifyReply) =>
      sendAnswer(reply, await answerPost(policy, request.method, () => handle(request)));
    instance.all('/', answer);
    // A Content-Type Fastify cannot parse (`foo`, an empty one) is refused with its own 415 before
    // any parser runs: the endpoint answers it instead, as on every other adapter.
    instance.setErrorHandler((error, request, reply) => {
      if (isInvalidMediaType(error)) return answer(request, reply);
      throw error;
    });
    done();
  };
}

function isInvalidMediaType(error: unknown): boolean {
  return (
    typeof error === 'object' && error !== null && 'code' in error && error.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE'
  );
}

function requestLikeOf(request: FastifyRequest): RequestLike {
  const { method, url, headers, raw } = request;
  return { method, url, headers, rawHeaders: raw.rawHeaders, identity: raw };
}
