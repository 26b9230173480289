import type { JWTHeaderParameters, JWTPayload } from 'jose';
import type { FetchLike } from './http-client.js';
import type { JwksStats } from './jwks.js';
import type { TokenCacheStats } from './token-cache.js';

/** Claims of an OAuth 2.0 access token (RFC 9068) beyond the registered JWT claims. */
export interface AccessTokenClaims extends JWTPayload {
  scope?: string;
  scp?: string[] | string;
  client_id?: string;
  azp?: string;
}

/**
 * What `verify()` resolves to and what `authGuard` puts on `req.auth`. Deeply frozen: the same
 * object is served to every request that presents the token, so no handler can alter it for others.
 */
export interface VerifiedToken {
  readonly token: string;
  readonly header: Readonly<JWTHeaderParameters>;
  readonly payload: Readonly<AccessTokenClaims>;
}

export interface CacheOptions {
  /** Most verified tokens kept (LRU). Default 10 000. */
  max?: number;
  /** Longest a verified result is served from cache, in seconds, however far away `exp` is. Default 600. */
  maxTtl?: number;
}

export interface VerifierOptions {
  /** The IdP's issuer identifier; `iss` must equal it exactly. Required. */
  issuer: string;
  /** Accepted audience(s); the token's `aud` must contain one. Required. */
  audience: string | string[];
  /** JWKS URL. Default: `jwks_uri` from the issuer's discovery metadata. */
  jwksUri?: string | URL;
  /** Accepted `alg` values. Default: the asymmetric JWS algorithms. `none` is never accepted. */
  algorithms?: string[];
  /**
   * Shared secret for HS256/384/512. Only used, and only required, when `algorithms` lists an HMAC
   * algorithm: that is the explicit opt-in. Keys from the JWKS are never used as HMAC secrets.
   */
  secret?: string | Uint8Array;
  /** Leeway for `exp`, `nbf` and `iat`, in seconds. Default 5. */
  clockTolerance?: number;
  /** Claims that must be present. Default `['exp']`. */
  requiredClaims?: string[];
  /** Required `typ` header, e.g. `'at+jwt'` (RFC 9068). Default: not checked. */
  typ?: string;
  /** Verified-token cache, or `false` to verify every request. */
  cache?: CacheOptions | false;
  /** Seconds between two JWKS refetches triggered by unknown `kid`s. Default 30. */
  jwksCooldown?: number;
  /** Seconds after which the JWKS is refreshed in the background. Default 600. */
  jwksMaxAge?: number;
  /** Timeout for each request to the IdP, in ms. Default 5000. */
  timeout?: number;
  /** Allow plain-http issuer and JWKS URLs on non-loopback hosts. Default false. */
  allowHttp?: boolean;
  /** `fetch` implementation for all IdP requests. Default: the global `fetch`. */
  fetch?: FetchLike;
  /** Current time in epoch milliseconds. Default `Date.now`; inject one in tests. */
  clock?: () => number;
  /** Longest token (characters) worth looking at. Default 16 384. */
  maxTokenLength?: number;
}

export interface VerifierStats {
  cache: TokenCacheStats;
  jwks: JwksStats;
  discovery: { fetches: number };
}

export interface Verifier {
  readonly issuer: string;
  readonly audience: readonly string[];
  /** Verifies a JWT access token, resolving to its header and claims or rejecting with an `AuthError`. */
  verify(token: string): Promise<VerifiedToken>;
  /** Synchronous cache lookup: the verified result when the token is cached and still valid, else undefined. */
  peek(token: string): VerifiedToken | undefined;
  stats(): VerifierStats;
  /** Aborts in-flight IdP requests and releases timers so the process can exit. */
  close(): Promise<void>;
}

export type { FetchLike };
