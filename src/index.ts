export { createVerifier } from './core/verifier.js';
export { authGuard } from './express/auth-guard.js';
export type { AuthGuardOptions, AuthGuardMiddleware, GuardSettings, GuardRequest, NextFunction } from './express/auth-guard.js';
export { authErrorHandler, writeAuthError } from './express/error-handler.js';
export { extractBearerToken, type RequestLike } from './core/bearer.js';
export { grantedScopes, requireScopes } from './core/scopes.js';
export {
  AuthError,
  UnauthorizedError,
  InvalidRequestError,
  InvalidTokenError,
  InsufficientScopeError,
  IdpUnavailableError,
  type BearerErrorCode,
  type RejectionReason,
} from './core/errors.js';
export { HttpRequestError, type FetchLike, type HttpFailureKind } from './core/http-client.js';
export type {
  AccessTokenClaims,
  CacheOptions,
  VerifiedToken,
  Verifier,
  VerifierOptions,
  VerifierStats,
} from './core/types.js';
