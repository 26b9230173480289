/**
 * `revocable-jwt/fetch`: the guard and the endpoints for Web-standard `Request`/`Response`
 * (Next.js route handlers, Cloudflare Workers, Deno, Bun, Node). Web-standard APIs only.
 *
 * @module revocable-jwt/fetch
 */
export {
  type AuthGuardOptions,
  authGuard,
  type Connection,
  type FetchAuthGuard,
  type OptionalFetchAuthGuard,
} from './auth-guard.js';
export { type BackchannelLogoutRouteOptions, backchannelLogoutRoute } from './backchannel-logout-route.js';
export { type FetchMetadataRoute, protectedResourceMetadata } from './resource-metadata-route.js';
export { type FetchRoute, type RevokeRouteOptions, revokeRoute } from './revoke-route.js';
export { type SecurityEventRouteOptions, securityEventRoute } from './security-event-route.js';
export type { WebRequest } from '../glue/web-request.js';
