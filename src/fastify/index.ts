/**
 * `revocable-jwt/fastify`: the guard (`preHandler` hook → `request.auth`) and the endpoints
 * (plugins to `register` with a `prefix`) for Fastify.
 *
 * @module revocable-jwt/fastify
 */
export { type AuthGuardHook, type AuthGuardOptions, authGuard } from './auth-guard.js';
export {
  type BackchannelLogoutRouteOptions,
  backchannelLogoutRoute,
  type MetadataPlugin,
  protectedResourceMetadata,
  type RevokeRouteOptions,
  revokeRoute,
  type SecurityEventRouteOptions,
  securityEventRoute,
} from './routes.js';
