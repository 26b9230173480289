/**
 * Claim rules every accepted token meets, however it was verified (signature or introspection),
 * beyond what jose checks: claim types, and a lifetime that revocation can outlast.
 */
import { invalidToken } from '../shared/rejections.js';
import { accessTokenDeadline } from '../shared/token-lifetime.js';
import type { AccessTokenClaims, VerifiedToken } from '../shared/verified-token.js';

/** The bounds {@link checkLifetime} holds a token to (the verifier's resolved options). */
export interface LifetimeLimits {
  maxTokenLifetimeMs: number;
  /** Seconds of leeway on `exp` and `iat`. */
  clockTolerance: number;
}

/**
 * RFC 7519 says these are StringOrURI / NumericDate; jose checks iss, aud, exp, nbf but not these.
 * client_id/azp are strings too (RFC 9068 §2.2, OIDC): they name the client in revocation requests.
 * With `requireClientId` (the app enforces typ at+jwt) a missing client_id is refused as RFC 9068 requires.
 */
export function checkClaimTypes(
  payload: AccessTokenClaims,
  now: number,
  tolerance: number,
  requireClientId = false,
): void {
  for (const claim of ['sub', 'jti', 'client_id', 'azp'] as const) {
    if (payload[claim] !== undefined && typeof payload[claim] !== 'string') throw invalidToken('claim_invalid');
  }
  if (requireClientId && payload.client_id === undefined) throw invalidToken('claim_missing');
  if (payload.iat !== undefined && payload.iat > now / 1000 + tolerance) throw invalidToken('issued_in_future');
}

/**
 * Revocations last as long as the longest token we accept (token-lifetime.ts), so no token may
 * live longer: `exp − iat ≤ maxTokenLifetime + tolerance`; a token (JWT or introspection answer)
 * without `exp` expires at `iat + maxTokenLifetime`; a JWT without `iat`, or an answer with
 * neither, cannot be bounded and is refused.
 */
export function checkLifetime(
  payload: AccessTokenClaims,
  now: number,
  source: VerifiedToken['source'],
  limits: LifetimeLimits,
): void {
  // A JWT without `iat` cannot be placed before or after a cutoff, nor bounded by one: a cutoff
  // made while it existed would lapse while it is still acceptable (RFC 9068 requires `iat`).
  if (source === 'jwt' && typeof payload.iat !== 'number') throw invalidToken('claim_missing');
  const deadline = expiresAt(payload, limits);
  // An introspection answer with neither `exp` nor `iat` cannot be bounded either.
  if (deadline === undefined) throw invalidToken('claim_missing');
  if (typeof payload.exp !== 'number') {
    if (now >= deadline) throw invalidToken('token_expired');
    return;
  }
  const issuedAt = typeof payload.iat === 'number' ? payload.iat : now / 1000;
  if ((payload.exp - issuedAt) * 1000 > limits.maxTokenLifetimeMs + limits.clockTolerance * 1000) {
    throw invalidToken('lifetime_too_long');
  }
}

/**
 * Epoch ms from which the token is refused as expired (jose's whole-second rule, tolerance
 * included): from `exp`, else `iat + maxTokenLifetime`, for JWTs and introspection answers alike,
 * so every revocation of an accepted token has an end that outlives it.
 */
export function expiresAt(payload: AccessTokenClaims, limits: LifetimeLimits): number | undefined {
  return accessTokenDeadline(payload, limits.maxTokenLifetimeMs, limits.clockTolerance);
}
