/**
 * `createVerifier()`: local verification of JWT access tokens against the issuer's JWKS, with a
 * cache of verified results. Framework-agnostic: no HTTP request objects in here.
 */
import { jwtVerify, type FlattenedJWSInput, type JWSHeaderParameters, type JWTVerifyOptions } from 'jose';
import { createMetadataSource, type MetadataSource } from './discovery.js';
import { JwksSource, type KeyRemoval, type VerificationKey } from './jwks.js';
import { resolveVerifierOptions, HMAC_ALGORITHMS, type ResolvedOptions } from './options.js';
import { invalidToken, toAuthError } from './rejections.js';
import { TokenCache } from './token-cache.js';
import type { AccessTokenClaims, VerifiedToken, Verifier, VerifierOptions, VerifierStats } from './types.js';
import { parseTrustedUrl } from './url-policy.js';

const MAX_JWKS_BYTES = 512 * 1024;

export function createVerifier(options: VerifierOptions): Verifier {
  return new JwtVerifier(resolveVerifierOptions(options));
}

class JwtVerifier implements Verifier {
  readonly issuer: string;
  readonly audience: readonly string[];
  private readonly cache: TokenCache;
  private readonly metadata: MetadataSource;
  private readonly jwks: JwksSource;
  private readonly joseOptions: JWTVerifyOptions;
  /** Concurrent verifications of the same token share one signature check. */
  private readonly inflight = new Map<string, Promise<VerifiedToken>>();
  private readonly lifetime = new AbortController();
  private closed = false;

  constructor(private readonly options: ResolvedOptions) {
    this.issuer = options.issuer;
    this.audience = Object.freeze([...options.audience]);
    this.cache = new TokenCache(options.cache);
    this.metadata = createMetadataSource({
      issuer: options.issuer,
      fetch: options.fetch,
      timeout: options.timeout,
      now: options.clock,
      signal: this.lifetime.signal,
    });
    this.jwks = new JwksSource({
      resolveUri: () => this.resolveJwksUri(),
      fetch: options.fetch,
      timeout: options.timeout,
      cooldownMs: options.jwksCooldownMs,
      maxAgeMs: options.jwksMaxAgeMs,
      maxBytes: MAX_JWKS_BYTES,
      now: options.clock,
      signal: this.lifetime.signal,
      onKeysRemoved: (change) => this.evictRemovedKeys(change),
    });
    this.joseOptions = {
      issuer: options.issuer,
      audience: options.audience,
      algorithms: options.algorithms,
      clockTolerance: options.clockTolerance,
      requiredClaims: options.requiredClaims,
      ...(options.typ !== undefined ? { typ: options.typ } : {}),
    };
  }

  peek(token: string): VerifiedToken | undefined {
    return this.cache.get(token, this.options.clock(), false);
  }

  verify(token: string): Promise<VerifiedToken> {
    if (this.closed) return Promise.reject(new Error('revocable-jwt: verify() called after close()'));
    if (typeof token !== 'string') return Promise.reject(invalidToken('malformed_token'));
    const hit = this.cache.get(token, this.options.clock());
    if (hit !== undefined) return Promise.resolve(hit);
    const running = this.inflight.get(token);
    if (running) return running;
    const verification = this.verifyUncached(token).finally(() => this.inflight.delete(token));
    this.inflight.set(token, verification);
    return verification;
  }

  stats(): VerifierStats {
    return { cache: this.cache.stats(), jwks: this.jwks.stats(), discovery: { fetches: this.metadata.fetches } };
  }

  async close(): Promise<void> {
    this.closed = true;
    this.lifetime.abort();
    this.cache.clear();
  }

  private async verifyUncached(token: string): Promise<VerifiedToken> {
    checkShape(token, this.options.maxTokenLength);
    const now = this.options.clock();
    let verified;
    try {
      verified = await jwtVerify<AccessTokenClaims>(token, this.keyFor, { ...this.joseOptions, currentDate: new Date(now) });
    } catch (error) {
      throw toAuthError(error);
    }
    const payload = verified.payload;
    checkClaimTypes(payload, now, this.options.clockTolerance);
    const result: VerifiedToken = deepFreeze({ token, header: verified.protectedHeader, payload });
    const expiresAt = typeof payload.exp === 'number' ? (payload.exp + this.options.clockTolerance) * 1000 : undefined;
    this.cache.set(result, now, expiresAt);
    return result;
  }

  /** jose key resolver: HMAC only from the configured secret, everything else only from the JWKS. */
  private readonly keyFor = (header: JWSHeaderParameters, jws: FlattenedJWSInput): Promise<VerificationKey | Uint8Array> => {
    if ((HMAC_ALGORITHMS as readonly string[]).includes(header.alg ?? '')) {
      // Reaching here means the algorithm passed the allowlist, so the secret exists.
      return Promise.resolve(this.options.secret!);
    }
    return this.jwks.getKey(header, jws);
  };

  private async resolveJwksUri(): Promise<URL> {
    if (this.options.jwksUri) return this.options.jwksUri;
    const metadata = await this.metadata.get();
    return parseTrustedUrl(metadata.jwks_uri, 'jwks_uri (from discovery)', this.options.allowHttp);
  }

  /** A key left the JWKS (rotation or compromise): results verified with it must not be served. */
  private evictRemovedKeys(change: KeyRemoval): void {
    this.cache.evictWhere((_result, kid) => (kid === undefined ? change.kidless : change.kids.has(kid)));
  }
}

/** Cheap structural checks before any parsing or crypto. */
function checkShape(token: string, maxLength: number): void {
  if (token.length === 0) throw invalidToken('malformed_token');
  if (token.length > maxLength) throw invalidToken('token_too_long');
  let dots = 0;
  for (let i = 0; i < token.length; i++) if (token.charCodeAt(i) === 46) dots++;
  // Five segments is JWE: refuse before anything tries to decrypt it.
  if (dots === 4) throw invalidToken('encrypted_token');
  if (dots !== 2) throw invalidToken('malformed_token');
}

/** RFC 7519 says these are StringOrURI / NumericDate; jose checks iss, aud, exp, nbf but not these. */
function checkClaimTypes(payload: AccessTokenClaims, now: number, tolerance: number): void {
  for (const claim of ['sub', 'jti'] as const) {
    if (payload[claim] !== undefined && typeof payload[claim] !== 'string') throw invalidToken('claim_invalid');
  }
  if (payload.iat !== undefined && payload.iat > now / 1000 + tolerance) throw invalidToken('issued_in_future');
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const member of Object.values(value)) deepFreeze(member);
  }
  return value;
}
