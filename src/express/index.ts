/**
 * `revocable-jwt/express`: the guard (middleware → `req.auth`), the endpoints and the error
 * renderer for Express 4 and 5, Connect and bare `node:http`. The package root exports them too.
 *
 * @module revocable-jwt/express
 */
export {
  type AuthGuardMiddleware,
  type AuthGuardOptions,
  authGuard,
  type GuardRequest,
  type GuardSettings,
  type NextFunction,
} from './auth-guard.js';
export { type BackchannelLogoutRouteOptions, backchannelLogoutRoute } from './backchannel-logout-route.js';
export { authErrorHandler, writeAuthError } from './error-handler.js';
export type { RouteRequest } from './post-route.js';
export { type MetadataRoute, protectedResourceMetadata } from './resource-metadata-route.js';
export { type RevokeRouteOptions, revokeRoute } from './revoke-route.js';
export { type SecurityEventRouteOptions, securityEventRoute } from './security-event-route.js';
