/**
 * `revocable-jwt/hono`: the guard (middleware → `c.get('auth')`) and the endpoints for Hono.
 * Web-standard APIs only: runs wherever Hono runs.
 *
 * @module revocable-jwt/hono
 */
export {
  type AuthEnv,
  type AuthGuardMiddleware,
  type AuthGuardOptions,
  authGuard,
  type OptionalAuthEnv,
} from './auth-guard.js';
export {
  type BackchannelLogoutRouteOptions,
  backchannelLogoutRoute,
  type MetadataHandler,
  protectedResourceMetadata,
  type RevokeRouteOptions,
  revokeRoute,
  type SecurityEventRouteOptions,
  securityEventRoute,
} from './routes.js';
