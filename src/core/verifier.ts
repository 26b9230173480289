/**
 * The single-issuer verifier: local verification of JWT access tokens against the issuer's JWKS, with a
 * cache of verified results. Framework-agnostic: no HTTP request objects in here.
 */
import { compactVerify, errors as joseErrors, jwtVerify, type FlattenedJWSInput, type JWSHeaderParameters, type JWTVerifyOptions } from 'jose';
import { LRUCache } from 'lru-cache';
import type { Revocation } from '../stores/revocation-store.js';
import { createMetadataSource, type MetadataSource } from './discovery.js';
import { AuthError, IdpUnavailableError } from './errors.js';
import { claimOnce, reportRejection, verifyIssuerJwt, VerifierEvents, type VerifierEventName, type VerifierListener } from './events.js';
import { introspectToken, validateIntrospection } from './introspection.js';
import { JwksSource, type KeyRemoval, type VerificationKey } from './jwks.js';
import type { OutboxRunResult } from './outbox-worker.js';
import { resolveVerifierOptions, HMAC_ALGORITHMS, type ResolvedOptions } from './options.js';
import { invalidToken, toAuthError } from './rejections.js';
import { RevocationError } from './revocation-client.js';
import { revocationKeysFor } from './revocation-list.js';
import { Revoker, type IdentifiedToken } from './revoker.js';
import { StoreMirror } from './store-mirror.js';
import { TokenCache, tokenIndex } from './token-cache.js';
import type {
  AccessTokenClaims,
  IssuerScope,
  RevocationOutcome,
  RevokeOptions,
  VerifiedToken,
  Verifier,
  VerifierOptions,
  VerifierStats,
} from './types.js';
import { parseTrustedUrl } from './url-policy.js';

const MAX_JWKS_BYTES = 512 * 1024;
/** What the hit path returns for a cached token that has been revoked since. */
const REVOKED = Symbol('revoked');
const SWEEP_INTERVAL_MS = 60_000;

/** A verifier for one issuer: see `createVerifier` in create-verifier.ts for the public entry. */
export function createSingleIssuerVerifier(options: VerifierOptions): Verifier {
  return new JwtVerifier(resolveVerifierOptions(options));
}

class JwtVerifier implements Verifier {
  readonly issuer: string;
  readonly issuers: readonly string[];
  readonly audience: readonly string[];
  private readonly cache: TokenCache;
  private readonly metadata: MetadataSource;
  private readonly jwks: JwksSource;
  private readonly joseOptions: JWTVerifyOptions;
  /**
   * Concurrent verifications of the same token share one signature check. Indexed like the cache
   * (a small integer, then whole-string equality), so a miss never hashes the whole token.
   */
  private readonly inflight = new Map<number, { token: string; promise: Promise<VerifiedToken> }>();
  private readonly lifetime = new AbortController();
  private readonly events = new VerifierEvents();
  /** Tokens the IdP called inactive: a small, short-lived negative cache for introspection (made on first use). */
  private inactiveCache: LRUCache<string, true> | undefined;
  private get inactive(): LRUCache<string, true> {
    return (this.inactiveCache ??= new LRUCache<string, true>({ max: 10_000, ttl: 30_000, ttlResolution: 0 }));
  }
  private readonly mirror: StoreMirror;
  private readonly revoker: Revoker;
  private readonly sweepTimer: NodeJS.Timeout;
  private closed = false;

  constructor(private readonly options: ResolvedOptions) {
    this.issuer = options.issuer;
    this.issuers = Object.freeze([options.issuer]);
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
      onRefreshed: (keys, removedKids) => this.events.emit('jwks-refreshed', { keys, removedKids }),
    });
    this.joseOptions = {
      issuer: options.issuer,
      audience: options.audience,
      algorithms: options.algorithms,
      clockTolerance: options.clockTolerance,
      requiredClaims: options.requiredClaims,
      ...(options.typ !== undefined ? { typ: options.typ } : {}),
    };
    this.mirror = new StoreMirror(options.store, options.clock, {
      onApply: (revocation) => this.evictRevoked(revocation),
      onRevoked: (revocation, source, lagMs) => this.events.emit('revoked', { type: revocation.type, source, lagMs }),
      onUnavailable: (since) => this.events.emit('store-unavailable', { since }),
      onResynced: (entries, healed) => this.events.emit('store-resynced', { entries, healed }),
    });
    this.revoker = new Revoker({
      identify: (token) => this.identify(token),
      cache: this.cache,
      mirror: this.mirror,
      store: options.store,
      clock: options.clock,
      maxTokenLifetimeMs: options.maxTokenLifetimeMs,
      issuer: options.issuer,
      revocation: options.revocation,
      resolveEndpoint: () => this.resolveRevocationEndpoint(),
      fetch: options.fetch,
      signal: this.lifetime.signal,
    });
    this.sweepTimer = setInterval(() => this.mirror.list.sweep(options.clock()), SWEEP_INTERVAL_MS);
    this.sweepTimer.unref();
  }

  peek(token: string): VerifiedToken | undefined {
    const now = this.options.clock();
    if (this.mirror.refusesAll(now)) return undefined; // let verify() report it
    const hit = this.lookup(token, now, false);
    return hit === REVOKED ? undefined : hit;
  }

  /**
   * The cache-hit path shared by `peek()` and `verify()`: a cached, unexpired, unrevoked result,
   * REVOKED for a cached token that has since been revoked (its entry is dropped), else undefined.
   * No crypto, no I/O, nothing allocated but the event while someone listens.
   */
  private lookup(token: string, now: number, countMiss: boolean): VerifiedToken | typeof REVOKED | undefined {
    const entry = this.cache.get(token, now, countMiss);
    if (entry === undefined) return undefined;
    if (this.mirror.list.isRevoked(entry.keys, entry.result.payload.iat, now)) {
      this.cache.delete(token);
      return REVOKED;
    }
    if (this.events.listeningForVerified) this.emitVerified(entry.result, true);
    return entry.result;
  }

  on<E extends VerifierEventName>(event: E, listener: VerifierListener<E>): this {
    this.events.on(event, listener);
    return this;
  }

  off<E extends VerifierEventName>(event: E, listener: VerifierListener<E>): this {
    this.events.off(event, listener);
    return this;
  }

  /** For adapters: request-level rejections (no token, malformed header) reach the same listeners. */
  [reportRejection](error: AuthError): void {
    this.events.emit('rejected', { reason: error.reason, code: error.code, status: error.status });
  }

  verify(token: string): Promise<VerifiedToken> {
    if (this.closed) return Promise.reject(new Error('revocable-jwt: verify() called after close()'));
    if (typeof token !== 'string') return Promise.reject(invalidToken('malformed_token'));
    const now = this.options.clock();
    if (this.mirror.refusesAll(now)) return this.reject(this.mirror.unavailableError());
    const hit = this.lookup(token, now, true);
    if (hit === REVOKED) return this.reject(invalidToken('revoked'));
    if (hit !== undefined) return Promise.resolve(hit);
    const index = tokenIndex(token);
    const running = this.inflight.get(index);
    if (running !== undefined && running.token === token) return running.promise;
    const verification = this.verifyUncached(token)
      .then(
        (result) => {
          if (this.events.listeningForVerified) this.emitVerified(result, false);
          return result;
        },
        (error: unknown) => this.reject(error),
      )
      .finally(() => {
        if (this.inflight.get(index)?.promise === verification) this.inflight.delete(index);
      });
    if (running === undefined) this.inflight.set(index, { token, promise: verification });
    return verification;
  }

  /**
   * Verifies another kind of JWT signed by our issuer (a logout token, a security event): same
   * keys, algorithms and `iss`, its own audience, type and claims. Rejects with an AuthError.
   */
  async [verifyIssuerJwt](
    jwt: string,
    options: { audience: string | string[]; types: ReadonlyArray<string | undefined>; requiredClaims: string[]; maxTokenAge: number },
  ): Promise<{ header: JWSHeaderParameters; payload: AccessTokenClaims }> {
    checkShape(jwt, this.options.maxTokenLength);
    const verifyOptions: JWTVerifyOptions = {
      issuer: this.issuer,
      audience: options.audience,
      algorithms: this.options.algorithms,
      clockTolerance: this.options.clockTolerance,
      requiredClaims: options.requiredClaims,
      maxTokenAge: options.maxTokenAge,
      currentDate: new Date(this.options.clock()),
    };
    const verified = await this.verifyJws(jwt, verifyOptions);
    const typ = typeof verified.protectedHeader.typ === 'string' ? verified.protectedHeader.typ.toLowerCase().replace(/^application\//, '') : undefined;
    if (!options.types.includes(typ)) throw invalidToken('type_mismatch');
    checkClaimTypes(verified.payload, this.options.clock(), this.options.clockTolerance);
    return { header: verified.protectedHeader, payload: verified.payload };
  }

  [claimOnce](key: string, ttlMs: number): Promise<boolean> {
    return this.options.store.claimOnce(key, ttlMs);
  }

  private reject(error: unknown): Promise<never> {
    if (error instanceof AuthError) this[reportRejection](error);
    return Promise.reject(error);
  }

  private emitVerified(result: VerifiedToken, cached: boolean): void {
    const { sub, client_id: clientId } = result.payload;
    this.events.emit('verified', { cached, subject: sub, clientId });
  }

  stats(): VerifierStats {
    const size = this.mirror.list.size;
    return {
      cache: this.cache.stats(),
      jwks: this.jwks.stats(),
      discovery: { fetches: this.metadata.fetches },
      revocation: {
        denylisted: size.tokens,
        subjectCutoffs: size.subjects,
        sessionCutoffs: size.sessions,
        globalCutoff: size.all > 0,
        outbox: this.revoker.stats(),
        store: this.mirror.stats(),
      },
    };
  }

  revoke(token: string, options?: RevokeOptions): Promise<RevocationOutcome> {
    return this.revoker.revoke(token, options);
  }

  invalidate(token: string): Promise<void> {
    return this.revoker.invalidate(token);
  }

  invalidateSubject(subject: string, scope?: IssuerScope): Promise<void> {
    return this.inScope(scope, () => this.revoker.invalidateSubject(subject));
  }

  invalidateSession(session: string, scope?: IssuerScope): Promise<void> {
    return this.inScope(scope, () => this.revoker.invalidateSession(session));
  }

  invalidateAll(scope?: IssuerScope): Promise<void> {
    return this.inScope(scope, () => this.revoker.invalidateAll());
  }

  private inScope(scope: IssuerScope | undefined, action: () => Promise<void>): Promise<void> {
    if (scope?.issuer !== undefined && scope.issuer !== this.issuer) {
      return Promise.reject(new TypeError(`revocable-jwt: this verifier trusts ${this.issuer}, not ${scope.issuer}`));
    }
    return action();
  }

  retryPending(): Promise<OutboxRunResult> {
    return this.revoker.retryPending();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.lifetime.abort();
    this.revoker.close();
    this.mirror.close();
    this.events.removeAll();
    clearInterval(this.sweepTimer);
    this.cache.clear();
  }

  private async verifyUncached(token: string): Promise<VerifiedToken> {
    const introspection = this.options.introspection;
    const introspect = introspection !== undefined && (introspection.mode === 'always' || !looksLikeJws(token));
    if (introspect) checkOpaqueShape(token, this.options.maxTokenLength);
    else checkShape(token, this.options.maxTokenLength);
    if (!this.mirror.hasSynced) {
      // A new instance must not accept a token before it knows the revocations; how long it
      // waits, and what it does if the store stays away, is the store's availability policy.
      await this.mirror.waitForFirstSync(this.options.timeout);
      if (this.mirror.refusesAll(this.options.clock())) throw this.mirror.unavailableError();
    }
    if (introspect) return this.verifyByIntrospection(token);
    const now = this.options.clock();
    // With the real clock jose reads the time itself; only an injected clock costs an options copy.
    const options: JWTVerifyOptions = this.options.clock === Date.now ? this.joseOptions : { ...this.joseOptions, currentDate: new Date(now) };
    const verified = await this.verifyJws(token, options);
    return this.admit({ token, header: verified.protectedHeader, payload: verified.payload, source: 'jwt' }, now);
  }

  /**
   * The checks every freshly verified token passes, however it was verified (signature or
   * introspection), then into the cache: claim types, lifetime, revocation; the result is frozen
   * because every request presenting the token will share it.
   */
  private admit(result: VerifiedToken, now: number, maxAgeMs?: number): VerifiedToken {
    const { token, payload } = result;
    checkClaimTypes(payload, now, this.options.clockTolerance, result.source === 'jwt' && isAtJwt(this.options.typ));
    this.checkLifetime(payload, now);
    const keys = revocationKeysFor(token, payload);
    if (this.mirror.list.isRevoked(keys, payload.iat, now)) throw invalidToken('revoked');
    deepFreeze(result);
    this.cache.set(result, now, this.expiresAt(payload), keys, maxAgeMs);
    return result;
  }

  /** jose's jwtVerify with our key resolver; AuthErrors out. */
  private async verifyJws(token: string, options: JWTVerifyOptions) {
    try {
      return await jwtVerify<AccessTokenClaims>(token, this.keyFor, options);
    } catch (error) {
      if (!(error instanceof joseErrors.JWKSMultipleMatchingKeys)) throw toAuthError(error);
      return verifyWithCandidates(token, error, options);
    }
  }

  /** RFC 7662: the IdP's word instead of a signature, cached (bounded by exp and maxAge) like one. */
  private async verifyByIntrospection(token: string): Promise<VerifiedToken> {
    const settings = this.options.introspection!;
    if (this.inactive.get(token)) throw invalidToken('token_inactive');
    const endpoint = await this.resolveIntrospectionEndpoint();
    const answer = await introspectToken(endpoint, settings, token, { fetch: this.options.fetch, signal: this.lifetime.signal });
    const now = this.options.clock();
    let payload: AccessTokenClaims;
    try {
      payload = validateIntrospection(answer, {
        issuer: this.issuer,
        audience: this.audience,
        now,
        clockTolerance: this.options.clockTolerance,
        allowMissingAudience: settings.allowMissingAudience,
      });
    } catch (error) {
      // Inactive tokens never come back to life: remember briefly, so a replayed one costs no IdP call.
      if (answer.active !== true) this.inactive.set(token, true);
      throw error;
    }
    return this.admit({ token, header: {}, payload, source: 'introspection' }, now, settings.maxAgeMs);
  }

  private async resolveIntrospectionEndpoint(): Promise<URL> {
    const configured = this.options.introspection?.endpoint;
    if (configured) return configured;
    const metadata = await this.metadata.get();
    try {
      return parseTrustedUrl(metadata.introspection_endpoint, 'introspection_endpoint (from discovery)', this.options.allowHttp);
    } catch (cause) {
      throw new IdpUnavailableError('Token introspection is not configured correctly', 30, { cause });
    }
  }

  /** A revocation arrived (ours or broadcast): drop cache entries it covers that a scan can find. */
  private evictRevoked(revocation: Revocation): void {
    if (revocation.type === 'token' || revocation.issuer !== this.issuer) return;
    if (revocation.type === 'all') this.cache.clear();
    else if (revocation.type === 'subject') this.cache.evictWhere((result) => result.payload.sub === revocation.subject);
    else this.cache.evictWhere((result) => (result.payload as { sid?: unknown }).sid === revocation.session);
    // Token entries need no scan: every cache hit consults the denylist.
  }

  /** Cutoffs are kept for maxTokenLifetime; a token living longer could outlive its revocation. */
  private checkLifetime(payload: AccessTokenClaims, now: number): void {
    if (typeof payload.exp !== 'number') return;
    const issuedAt = typeof payload.iat === 'number' ? payload.iat : now / 1000;
    if ((payload.exp - issuedAt) * 1000 > this.options.maxTokenLifetimeMs + this.options.clockTolerance * 1000) {
      throw invalidToken('lifetime_too_long');
    }
  }

  private expiresAt(payload: AccessTokenClaims): number | undefined {
    return typeof payload.exp === 'number' ? (payload.exp + this.options.clockTolerance) * 1000 : undefined;
  }

  /**
   * Is this token ours? Signature against the issuer's keys, our `iss` and `aud`; expiry ignored
   * (an expired token is still ours to evict). Undefined for anything else, so forged or foreign
   * tokens never produce a denylist entry.
   */
  private async identify(token: string): Promise<IdentifiedToken | undefined> {
    // Without `exp`, a token is assumed to live as long as any token may.
    const lastingUntil = (expiresAt: number | undefined) => expiresAt ?? this.options.clock() + this.options.maxTokenLifetimeMs;
    const cached = this.cache.inspect(token);
    if (cached) return { payload: cached.result.payload, keys: cached.keys, expiresAt: lastingUntil(cached.expiresAt) };
    if (typeof token !== 'string' || token.length > this.options.maxTokenLength || token.split('.').length !== 3) return undefined;
    let payload: AccessTokenClaims;
    try {
      let verified;
      try {
        verified = await compactVerify(token, this.keyFor, { algorithms: this.options.algorithms });
      } catch (error) {
        if (!(error instanceof joseErrors.JWKSMultipleMatchingKeys)) throw error;
        verified = await firstVerifying(error, (key) => compactVerify(token, key, { algorithms: this.options.algorithms }));
      }
      payload = JSON.parse(new TextDecoder().decode(verified.payload)) as AccessTokenClaims;
    } catch (error) {
      if (error instanceof IdpUnavailableError) throw error;
      return undefined;
    }
    if (typeof payload !== 'object' || payload === null || payload.iss !== this.issuer) return undefined;
    const aud = typeof payload.aud === 'string' ? [payload.aud] : Array.isArray(payload.aud) ? payload.aud : [];
    if (!aud.some((a) => this.audience.includes(a))) return undefined;
    if (payload.jti !== undefined && typeof payload.jti !== 'string') return undefined;
    return { payload, keys: revocationKeysFor(token, payload), expiresAt: lastingUntil(this.expiresAt(payload)) };
  }

  private async resolveRevocationEndpoint(): Promise<URL> {
    const configured = this.options.revocation?.endpoint;
    if (configured) return configured;
    const metadata = await this.metadata.get();
    if (typeof metadata.revocation_endpoint !== 'string') {
      throw new RevocationError('the issuer metadata has no revocation_endpoint; set `revocation.endpoint`', { transient: false });
    }
    try {
      return parseTrustedUrl(metadata.revocation_endpoint, 'revocation_endpoint (from discovery)', this.options.allowHttp);
    } catch (error) {
      throw new RevocationError((error as Error).message, { transient: false });
    }
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
    try {
      return parseTrustedUrl(metadata.jwks_uri, 'jwks_uri (from discovery)', this.options.allowHttp);
    } catch (error) {
      // A document without a usable jwks_uri (a bad deploy at the IdP) must not stick forever.
      this.metadata.invalidate();
      throw error;
    }
  }

  /**
   * A key left the JWKS (rotation or compromise): results verified with it must not be served.
   * A token without `kid` may have been verified by any key of its type, so on any removal those
   * entries go too (they are rare, and re-verifying them is cheap).
   */
  private evictRemovedKeys(change: KeyRemoval): void {
    this.cache.evictWhere((_result, kid) => kid === undefined || change.kids.has(kid));
  }
}

/**
 * A token without `kid` can match several keys of one type (rotation at IdPs that omit `kid`):
 * jose hands back the candidates and leaves trying them to us.
 */
async function firstVerifying<T>(candidates: joseErrors.JWKSMultipleMatchingKeys, attempt: (key: VerificationKey) => Promise<T>): Promise<T> {
  for await (const key of candidates as unknown as AsyncIterable<VerificationKey>) {
    try {
      return await attempt(key);
    } catch (error) {
      if (error instanceof joseErrors.JWSSignatureVerificationFailed) continue;
      throw error;
    }
  }
  throw new joseErrors.JWSSignatureVerificationFailed();
}

async function verifyWithCandidates(token: string, candidates: joseErrors.JWKSMultipleMatchingKeys, options: JWTVerifyOptions) {
  try {
    return await firstVerifying(candidates, (key) => jwtVerify<AccessTokenClaims>(token, key, options));
  } catch (error) {
    throw toAuthError(error);
  }
}

function looksLikeJws(token: string): boolean {
  const first = token.indexOf('.');
  return first > 0 && token.indexOf('.', first + 1) > first && token.split('.').length === 3;
}

/** Opaque tokens: bounded, and only characters a bearer token may have (RFC 6750 b64token). */
function checkOpaqueShape(token: string, maxLength: number): void {
  if (token.length === 0 || !/^[A-Za-z0-9\-._~+/]+=*$/.test(token)) throw invalidToken('malformed_token');
  if (token.length > maxLength) throw invalidToken('token_too_long');
}

/**
 * Cheap structural checks before any parsing or crypto. Each segment must be canonical base64url
 * (RFC 7515 §2: no padding, no whitespace, unused bits zero): jose decodes leniently, and without
 * this several strings would verify as one token, e.g. "<sig>==" or a last character with spare
 * bits set. One token, one spelling.
 */
function checkShape(token: string, maxLength: number): void {
  if (token.length === 0) throw invalidToken('malformed_token');
  if (token.length > maxLength) throw invalidToken('token_too_long');
  const first = token.indexOf('.');
  const second = first === -1 ? -1 : token.indexOf('.', first + 1);
  if (second === -1) throw invalidToken('malformed_token');
  if (token.indexOf('.', second + 1) !== -1) {
    // Five segments is JWE: refuse before anything tries to decrypt it.
    throw invalidToken(token.split('.').length === 5 ? 'encrypted_token' : 'malformed_token');
  }
  // A regex scans the alphabet several times faster than a charCodeAt loop on a sliced string.
  if (!JWS_COMPACT.test(token)) throw invalidToken('malformed_token');
  if (!hasCanonicalEnd(token, 0, first) || !hasCanonicalEnd(token, first + 1, second) || !hasCanonicalEnd(token, second + 1, token.length)) {
    throw invalidToken('malformed_token');
  }
}

const JWS_COMPACT = /^[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*$/;
const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** Length and unused bits of one base64url segment (its alphabet is checked by the caller). */
function hasCanonicalEnd(text: string, from: number, to: number): boolean {
  const length = to - from;
  if (length % 4 === 1) return false;
  if (length === 0 || length % 4 === 0) return true;
  const value = BASE64URL.indexOf(text[to - 1]!);
  // 2 trailing chars encode 1 byte (4 spare bits), 3 encode 2 bytes (2 spare bits).
  return length % 4 === 2 ? (value & 0x0f) === 0 : (value & 0x03) === 0;
}

/**
 * RFC 7519 says these are StringOrURI / NumericDate; jose checks iss, aud, exp, nbf but not these.
 * client_id/azp are strings too (RFC 9068 §2.2, OIDC): they name the client in revocation requests.
 * With `requireClientId` (the app enforces typ at+jwt) a missing client_id is refused as RFC 9068 requires.
 */
function checkClaimTypes(payload: AccessTokenClaims, now: number, tolerance: number, requireClientId = false): void {
  for (const claim of ['sub', 'jti', 'client_id', 'azp'] as const) {
    if (payload[claim] !== undefined && typeof payload[claim] !== 'string') throw invalidToken('claim_invalid');
  }
  if (requireClientId && payload.client_id === undefined) throw invalidToken('claim_missing');
  if (payload.iat !== undefined && payload.iat > now / 1000 + tolerance) throw invalidToken('issued_in_future');
}

/** The `typ` option names RFC 9068 access tokens (`at+jwt`, `application/at+jwt`, any case). */
function isAtJwt(typ: string | undefined): boolean {
  return typ !== undefined && typ.toLowerCase().replace(/^application\//, '') === 'at+jwt';
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const member of Object.values(value)) deepFreeze(member);
  }
  return value;
}
