/**
 * `revocable-jwt/koa`: the guard (middleware → `ctx.state.auth`) and the endpoints for Koa.
 *
 * @module revocable-jwt/koa
 */
export {
  type AuthGuardMiddleware,
  type AuthGuardOptions,
  type AuthState,
  authGuard,
  type OptionalAuthState,
} from './auth-guard.js';
export {
  type BackchannelLogoutRouteOptions,
  backchannelLogoutRoute,
  type MetadataMiddleware,
  protectedResourceMetadata,
  type RevokeRouteOptions,
  revokeRoute,
  type SecurityEventRouteOptions,
  securityEventRoute,
} from './routes.js';
