/**
 * revocable-jwt: OAuth 2.0 resource-server middleware that verifies JWT access tokens locally and
 * makes revocation work. The root exports the framework-free core (`createVerifier`,
 * `createAuthenticator`, stores, receivers, errors) and the Express/Connect glue; the other
 * frameworks have entry points of their own (`revocable-jwt/fastify`, `/koa`, `/hono`, `/fetch`).
 *
 * @packageDocumentation
 * @module revocable-jwt
 */
export {
  createVerifier,
  type MultiIssuerOptions,
  type MultiIssuerStats,
  type MultiIssuerVerifierApi,
} from './core/verify/create-verifier.js';
export { authGuard } from './express/auth-guard.js';
export type {
  AuthGuardOptions,
  AuthGuardMiddleware,
  GuardSettings,
  GuardRequest,
  NextFunction,
} from './express/auth-guard.js';
export { authErrorHandler, writeAuthError } from './express/error-handler.js';
export { revokeRoute, type RevokeRouteOptions } from './express/revoke-route.js';
export { protectedResourceMetadata, type MetadataRoute } from './express/resource-metadata-route.js';
export type { RouteRequest } from './express/post-route.js';
export { backchannelLogoutRoute, type BackchannelLogoutRouteOptions } from './express/backchannel-logout-route.js';
export { securityEventRoute, type SecurityEventRouteOptions } from './express/security-event-route.js';
export {
  processLogoutToken,
  BACKCHANNEL_LOGOUT_EVENT,
  type LogoutTokenOptions,
  type LogoutResult,
} from './core/receive/logout-token.js';
export {
  processSecurityEvent,
  SecurityEventError,
  SESSION_REVOKED,
  CREDENTIAL_CHANGE,
  type SecurityEventOptions,
  type SecurityEventResult,
  type SetErrorCode,
} from './core/receive/security-event.js';
export { createMemoryStore, type MemoryStoreOptions } from './stores/memory-store.js';
export {
  createRedisStore,
  type RedisClientLike,
  type RedisRevocationStore,
  type RedisStoreOptions,
  type RedisSubscriberLike,
} from './stores/redis-store.js';
export type {
  AvailabilityPolicy,
  ChangeCursor,
  ChangePosition,
  CompactTokens,
  DeliveryMeta,
  PendingRevocation,
  Revocation,
  StoreStatus,
  RevocationListener,
  RevocationChangeLog,
  RevocationChanges,
  RevocationOutbox,
  RevocationStore,
} from './stores/revocation-store.js';
export {
  RevocationError,
  buildRevocationRequest,
  processRevocationResponse,
  type ClientAuthConfig,
  type ClientAuthMethod,
  type IdpRevocationResult,
  type RevocationBodyFormat,
  type RevocationClientConfig,
  type RevocationRequestInput,
} from './core/idp/revocation-client.js';
export type { OutboxRunResult, OutboxStats } from './core/revoke/outbox-worker.js';
export type { StoreMirrorStats } from './core/revoke/store-mirror.js';
export type { TokenCacheStats } from './core/verify/token-cache.js';
export type { JwksStats } from './core/idp/jwks.js';
export type { VerifierEventMap, VerifierEventName, VerifierListener } from './core/shared/events.js';
export type { MisconfigurationSource } from './core/shared/events.js';
export {
  createPrometheusMetrics,
  type PrometheusMetrics,
  type PrometheusMetricsOptions,
} from './metrics/prometheus.js';
export { extractBearerToken } from './core/request/bearer.js';
export type {
  ClientCertificate,
  HeaderRecord,
  HeadersLike,
  HeaderValue,
  RequestLike,
} from './core/request/request-like.js';
export {
  createAuthenticator,
  type Admitted,
  type Anonymous,
  type Authentication,
  type OptionalAuthentication,
  type Authenticator,
  type AuthenticatorOptions,
  type AuthenticatorSettings,
  type Refused,
  type VerifierChoice,
} from './core/request/authenticator.js';
export { publicOrigin, type PublicOrigin } from './core/request/public-origin.js';
export type { DpopMode } from './core/request/dpop-check.js';
export type { Challenge, ChallengeScheme } from './core/shared/challenge.js';
export type { DpopOptions } from './core/verify/dpop-options.js';
export type { StatusListOptions } from './core/verify/status-list-options.js';
export type { StatusListStats } from './core/verify/status-list-check.js';
export type { EndpointPolicy, ErrorBody, RouteAnswer } from './core/request/route-answer.js';
export {
  createRevokeHandler,
  type RevokeHandler,
  type RevokeRequestOptions,
} from './core/request/revoke-request.js';
export {
  createBackchannelLogoutHandler,
  type BackchannelLogoutHandler,
  type BackchannelLogoutRequestOptions,
} from './core/request/backchannel-logout-request.js';
export {
  createSecurityEventHandler,
  type SecurityEventHandler,
  type SecurityEventRequestOptions,
} from './core/request/security-event-request.js';
export { grantedScopes, requireAnyScope, requireScopes, type ScopeRequirement } from './core/request/scopes.js';
export type { ClaimRules, ClaimValue } from './core/request/claim-checks.js';
export {
  createProtectedResourceMetadataHandler,
  type ProtectedResourceMetadata,
  type ProtectedResourceMetadataHandler,
  type ProtectedResourceMetadataOptions,
} from './core/request/resource-metadata.js';
export type { MtlsOptions, MtlsSettings } from './core/request/certificate-binding.js';
export { certificateThumbprint } from './core/request/client-certificate.js';
/**
 * Errors: one root, `RevocableJwtError`, whose `reason` (an `ErrorReason`) names the cause in
 * every family; `AuthError` (and its subclasses) for refused requests, `HttpRequestError`,
 * `RevocationError`, `SecurityEventError`. Option misuse is a plain `TypeError`.
 */
export {
  RevocableJwtError,
  type ErrorReason,
  type HttpFailureReason,
  type RevocationFailureReason,
  type SecurityEventReason,
  type DpopRejectionReason,
} from './core/shared/revocable-jwt-error.js';
export {
  AuthError,
  UnauthorizedError,
  InvalidRequestError,
  InvalidTokenError,
  InsufficientScopeError,
  InsufficientUserAuthenticationError,
  IdpUnavailableError,
  StoreUnavailableError,
  MisconfiguredError,
  RevocationPendingError,
  VerifierClosedError,
  InvalidDpopProofError,
  UseDpopNonceError,
  type BearerErrorCode,
  type DpopErrorCode,
  type RejectionReason,
} from './core/shared/errors.js';
export { HttpRequestError, type FetchLike, type HttpFailureKind, type HttpResult } from './core/idp/http-client.js';
export type { VerifierLogDetails, VerifierLogger, VerifierLogKind } from './core/shared/logger.js';
export type {
  AccessTokenClaims,
  AudienceClaim,
  CacheOptions,
  IntrospectionOptions,
  IssuerScope,
  RevocationOptions,
  RevocationOutcome,
  RevokeOptions,
  StaticJwks,
  VerifiedToken,
  Verifier,
  VerifierOptions,
  VerifierStats,
} from './core/verify/types.js';
