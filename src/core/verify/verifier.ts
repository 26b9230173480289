/**
 * The single-issuer verifier: local verification of JWT access tokens against the issuer's JWKS, with a
 * cache of verified results. Framework-agnostic: no HTTP request objects in here.
 */
import {
  type CompactVerifyResult,
  compactVerify,
  errors as joseErrors,
  jwtVerify,
  type FlattenedJWSInput,
  type JWSHeaderParameters,
  type JWTVerifyOptions,
} from 'jose';
import type { Revocation } from '../../stores/revocation-store.js';
import { createMetadataSource, type IssuerMetadata, type MetadataSource } from '../idp/discovery.js';
import {
  AuthError,
  IdpUnavailableError,
  InvalidTokenError,
  MisconfiguredError,
  StoreUnavailableError,
  VerifierClosedError,
} from '../shared/errors.js';
import { VerifierEvents, type VerifierEventName, type VerifierListener } from '../shared/events.js';
import { introspectToken, validateIntrospection } from '../idp/introspection.js';
import { IntrospectionGate } from './introspection-gate.js';
import { JwksSource, type KeyRemoval, type VerificationKey } from '../idp/jwks.js';
import { MisconfigurationMonitor } from '../shared/misconfiguration.js';
import type { OutboxRunResult } from '../revoke/outbox-worker.js';
import { resolveVerifierOptions, HMAC_ALGORITHMS, type ResolvedOptions } from './options.js';
import { invalidToken, toAuthError } from '../shared/rejections.js';
import { RevocationError } from '../idp/revocation-client.js';
import { denylistKeyFor, revocationKeysFor } from '../revoke/revocation-identity.js';
import { Revoker, type IdentifiedToken } from '../revoke/revoker.js';
import { StoreMirror } from '../revoke/store-mirror.js';
import { TokenCache, tokenIndex } from './token-cache.js';
import { registerPort, type IssuerJwtOptions, type VerifiedIssuerJwt } from './verifier-port.js';
import { accessTokenDeadline, expAcceptedUntil, maxAgeAcceptedUntil } from '../shared/token-lifetime.js';
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
import { parseTrustedUrl } from '../idp/url-policy.js';

const MAX_JWKS_BYTES = 512 * 1024;
/** What the hit path returns for a cached token that has been revoked since. */
const REVOKED = Symbol('revoked');
const SWEEP_INTERVAL_MS = 60_000;

/** A verifier for one issuer: see `createVerifier` in create-verifier.ts for the public entry. */
export function createSingleIssuerVerifier(options: VerifierOptions, factory?: string, path?: string): Verifier {
  return new JwtVerifier(resolveVerifierOptions(options, factory, path));
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
  /** Bounds on introspection calls (made on first use). */
  private introspectionGate: IntrospectionGate | undefined;
  private readonly misconfiguration = new MisconfigurationMonitor((source, message) =>
    this.events.emit('misconfigured', { source, message, issuer: this.issuer }),
  );
  private readonly mirror: StoreMirror;
  private readonly revoker: Revoker;
  private readonly sweepTimer: NodeJS.Timeout;
  /** The app enforces RFC 9068 access tokens (`typ: 'at+jwt'`), which must carry `client_id`. */
  private readonly requireClientId: boolean;
  private closed = false;

  constructor(private readonly options: ResolvedOptions) {
    this.issuer = options.issuer;
    this.issuers = Object.freeze([options.issuer]);
    this.audience = Object.freeze([...options.audience]);
    this.cache = new TokenCache(options.cache);
    this.metadata = createMetadataSource({
      issuer: options.issuer,
      fetch: options.fetch,
      timeoutMs: options.timeoutMs,
      now: options.clock,
      signal: this.lifetime.signal,
    });
    this.jwks = new JwksSource({
      resolveUri: () => this.resolveJwksUri(),
      fetch: options.fetch,
      timeoutMs: options.timeoutMs,
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
      mirror: this.mirror,
      store: options.store,
      clock: options.clock,
      maxTokenLifetimeMs: options.maxTokenLifetimeMs,
      clockTolerance: options.clockTolerance,
      issuer: options.issuer,
      revocation: options.revocation,
      resolveEndpoint: () => this.resolveRevocationEndpoint(),
      fetch: options.fetch,
      signal: this.lifetime.signal,
    });
    this.requireClientId = mediaType(options.typ) === 'at+jwt';
    this.sweepTimer = setInterval(() => this.mirror.list.sweep(options.clock()), SWEEP_INTERVAL_MS);
    this.sweepTimer.unref();
    registerPort(this, {
      verifyIssuerJwt: (jwt, verifyOptions) => this.verifyIssuerJwt(jwt, verifyOptions),
      claimOnce: (key, until) => this.claimOnce(key, until),
      reportRejection: (error) => this.reportRejection(error),
    });
  }

  peek(token: string): VerifiedToken | undefined {
    const now = this.options.clock();
    if (!this.mirror.accepts(now)) return undefined; // let verify() wait for the sync or report it
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
  private reportRejection(error: AuthError): void {
    this.events.emit('rejected', { reason: error.reason, code: error.code, status: error.status });
  }

  verify(token: string): Promise<VerifiedToken> {
    if (this.closed) return Promise.reject(new VerifierClosedError());
    if (typeof token !== 'string') return Promise.reject(invalidToken('malformed_token'));
    const now = this.options.clock();
    // An unsynced or stale mirror is not trusted: wait (bounded) for its sync, or refuse.
    if (!this.mirror.accepts(now)) {
      return this.mirror.whenTrusted().then(
        () => this.verifyTrusted(token, this.options.clock()),
        (error: unknown) => this.reject(error),
      );
    }
    return this.verifyTrusted(token, now);
  }

  private verifyTrusted(token: string, now: number): Promise<VerifiedToken> {
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
   * Reports the issuer, and until when this JWT would be accepted (for its replay record).
   */
  private async verifyIssuerJwt(jwt: string, options: IssuerJwtOptions): Promise<VerifiedIssuerJwt> {
    checkShape(jwt, this.options.maxTokenLength);
    const tolerance = this.options.clockTolerance;
    const verifyOptions: JWTVerifyOptions = {
      issuer: this.issuer,
      audience: options.audience,
      algorithms: this.options.algorithms,
      clockTolerance: tolerance,
      requiredClaims: options.requiredClaims,
      maxTokenAge: options.maxTokenAge,
      currentDate: new Date(this.options.clock()),
    };
    const verified = await this.verifyJws(jwt, verifyOptions);
    if (!options.types.includes(mediaType(verified.protectedHeader.typ))) throw invalidToken('type_mismatch');
    const { payload } = verified;
    checkClaimTypes(payload, this.options.clock(), tolerance);
    // jose required a numeric iat (maxTokenAge); exp, when present, may end acceptance sooner.
    const tooOld = maxAgeAcceptedUntil(payload.iat!, options.maxTokenAge, tolerance);
    const acceptedUntil =
      typeof payload.exp === 'number' ? Math.min(tooOld, expAcceptedUntil(payload.exp, tolerance)) : tooOld;
    return { header: verified.protectedHeader, payload, issuer: this.issuer, acceptedUntil };
  }

  /** Replay records for logout tokens and SETs. A store failure is a 503 (the IdP retries). */
  private async claimOnce(key: string, until: number): Promise<boolean> {
    try {
      return await this.options.store.claimOnce(key, until - this.options.clock());
    } catch (cause) {
      throw new StoreUnavailableError(1, { cause });
    }
  }

  private reject(error: unknown): Promise<never> {
    if (error instanceof AuthError) this.reportRejection(error);
    return Promise.reject(error);
  }

  private emitVerified(result: VerifiedToken, cached: boolean): void {
    const { sub, client_id: clientId } = result.payload;
    this.events.emit('verified', { cached, subject: sub, clientId });
  }

  stats(): VerifierStats {
    const size = this.mirror.list.size;
    return {
      misconfigured: this.misconfiguration.current,
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
    return this.inScope(scope, () => this.revoker.invalidateSubject(subject, scope?.at));
  }

  invalidateSession(session: string, scope?: IssuerScope): Promise<void> {
    return this.inScope(scope, () => this.revoker.invalidateSession(session, scope?.at));
  }

  invalidateAll(scope?: IssuerScope): Promise<void> {
    return this.inScope(scope, () => this.revoker.invalidateAll(scope?.at));
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
    const introspect = this.introspects(token);
    if (introspect) checkOpaqueShape(token, this.options.maxTokenLength);
    else checkShape(token, this.options.maxTokenLength);
    if (introspect) return this.verifyByIntrospection(token);
    const now = this.options.clock();
    // With the real clock jose reads the time itself; only an injected clock costs an options copy.
    const options: JWTVerifyOptions =
      this.options.clock === Date.now ? this.joseOptions : { ...this.joseOptions, currentDate: new Date(now) };
    const verified = await this.verifyJws(token, options);
    return this.admit({ token, header: verified.protectedHeader, payload: verified.payload, source: 'jwt' }, now);
  }

  /**
   * The checks every freshly verified token passes, however it was verified (signature or
   * introspection), then into the cache: claim types, lifetime, revocation; the result is frozen
   * because every request presenting the token will share it.
   */
  private admit(result: VerifiedToken, now: number, maxAgeMs?: number): VerifiedToken {
    const { payload } = result;
    checkClaimTypes(payload, now, this.options.clockTolerance, result.source === 'jwt' && this.requireClientId);
    this.checkLifetime(payload, now, result.source);
    const keys = revocationKeysFor(result);
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

  /** Whether the IdP's word (RFC 7662), not a signature, decides if this token is accepted. */
  private introspects(token: string): boolean {
    const introspection = this.options.introspection;
    return introspection !== undefined && (introspection.mode === 'always' || !looksLikeJws(token));
  }

  /** RFC 7662: the IdP's word instead of a signature, cached (bounded by exp and maxAge) like one. */
  private async verifyByIntrospection(token: string): Promise<VerifiedToken> {
    // A token revoked here or on another instance costs the IdP nothing: its key needs only the string.
    if (this.mirror.list.isDenylisted(denylistKeyFor(token, this.issuer), this.options.clock()))
      throw invalidToken('revoked');
    const { payload, now } = await this.introspect(token);
    return this.admit(
      { token, header: {}, payload, source: 'introspection' },
      now,
      this.options.introspection!.maxAgeMs,
    );
  }

  /**
   * The validated claims of a token the IdP calls active, asked through the introspection gate
   * (which also coalesces verify() and identify() of one token: both want exactly these claims);
   * rejects with an AuthError otherwise.
   */
  private introspect(token: string): Promise<{ payload: AccessTokenClaims; now: number }> {
    const settings = this.options.introspection!;
    // What an unknown token may cost the IdP (coalescing, remembered refusals, budget, backoff).
    this.introspectionGate ??= new IntrospectionGate({
      now: this.options.clock,
      newTokenBudget: settings.newTokenBudget,
      newTokenWindowMs: settings.newTokenWindowMs,
    });
    // Any answer from the endpoint clears an earlier misconfiguration of introspection.
    const ask = () =>
      this.misconfiguration.watch('introspection', async () =>
        introspectToken(await this.resolveIntrospectionEndpoint(), settings, token, {
          fetch: this.options.fetch,
          signal: this.lifetime.signal,
        }),
      );
    return this.introspectionGate.check(token, ask, (answer) => {
      const now = this.options.clock();
      const payload = validateIntrospection(answer, {
        issuer: this.issuer,
        audience: this.audience,
        now,
        clockTolerance: this.options.clockTolerance,
        allowMissingAudience: settings.allowMissingAudience,
      });
      return { payload, now };
    });
  }

  private async resolveIntrospectionEndpoint(): Promise<URL> {
    const configured = this.options.introspection?.endpoint;
    if (configured) return configured;
    const metadata = await this.metadata.get();
    try {
      return parseTrustedUrl(
        metadata.introspection_endpoint,
        'introspection_endpoint (from discovery)',
        this.options.allowHttp,
      );
    } catch (cause) {
      throw new MisconfiguredError(
        `the issuer metadata has no usable introspection_endpoint (${unprefixed(cause)}); set \`introspection.endpoint\``,
        { cause },
      );
    }
  }

  /** A revocation arrived (ours or broadcast): drop cache entries it covers that a scan can find. */
  private evictRevoked(revocation: Revocation): void {
    if (revocation.type === 'token' || revocation.issuer !== this.issuer) return;
    if (revocation.type === 'all') this.cache.clear();
    else if (revocation.type === 'subject')
      this.cache.evictWhere((result) => result.payload.sub === revocation.subject);
    else this.cache.evictWhere((result) => (result.payload as { sid?: unknown }).sid === revocation.session);
    // Token entries need no scan: every cache hit consults the denylist.
  }

  /**
   * Revocations last as long as the longest token we accept (token-lifetime.ts), so no token may
   * live longer: `exp − iat ≤ maxTokenLifetime + tolerance`; a token (JWT or introspection answer)
   * without `exp` expires at `iat + maxTokenLifetime`; a JWT without `iat`, or an answer with
   * neither, cannot be bounded and is refused.
   */
  private checkLifetime(payload: AccessTokenClaims, now: number, source: VerifiedToken['source']): void {
    // A JWT without `iat` cannot be placed before or after a cutoff, nor bounded by one: a cutoff
    // made while it existed would lapse while it is still acceptable (RFC 9068 requires `iat`).
    if (source === 'jwt' && typeof payload.iat !== 'number') throw invalidToken('claim_missing');
    const deadline = this.expiresAt(payload);
    // An introspection answer with neither `exp` nor `iat` cannot be bounded either.
    if (deadline === undefined) throw invalidToken('claim_missing');
    if (typeof payload.exp !== 'number') {
      if (now >= deadline) throw invalidToken('token_expired');
      return;
    }
    const issuedAt = typeof payload.iat === 'number' ? payload.iat : now / 1000;
    if ((payload.exp - issuedAt) * 1000 > this.options.maxTokenLifetimeMs + this.options.clockTolerance * 1000) {
      throw invalidToken('lifetime_too_long');
    }
  }

  /**
   * Epoch ms from which the token is refused as expired (jose's whole-second rule, tolerance
   * included): from `exp`, else `iat + maxTokenLifetime`, for JWTs and introspection answers alike,
   * so every revocation of an accepted token has an end that outlives it.
   */
  private expiresAt(payload: AccessTokenClaims): number | undefined {
    return accessTokenDeadline(payload, this.options.maxTokenLifetimeMs, this.options.clockTolerance);
  }

  /**
   * Is this token ours? Proven the way verify() would accept it, expiry aside (an expired token
   * is still ours to evict): a cached acceptance; else the IdP's introspection answer for tokens
   * verify() introspects (opaque ones, or all with `mode: 'always'`); else the signature against
   * the issuer's keys with our `iss` and `aud`. Undefined for anything else, so forged, foreign,
   * inactive or garbage tokens never produce a denylist entry (an opaque string's key could only
   * ever hit that string, but entries anyone could create for free would grow every mirror).
   * Rejects with IdpUnavailableError when the keys or the IdP cannot be asked right now.
   */
  private async identify(token: string): Promise<IdentifiedToken | undefined> {
    const cached = this.cache.inspect(token);
    if (cached) {
      return { payload: cached.result.payload, keys: cached.keys, expiresAt: this.revocableUntil(cached.expiresAt) };
    }
    if (typeof token !== 'string' || token.length > this.options.maxTokenLength) return undefined;
    const accepted = this.introspects(token)
      ? await this.identifyByIntrospection(token)
      : await this.identifyBySignature(token);
    if (accepted === undefined) return undefined;
    return {
      payload: accepted.payload,
      keys: revocationKeysFor(accepted),
      expiresAt: this.revocableUntil(this.expiresAt(accepted.payload)),
    };
  }

  /**
   * Until when a revocation must last: the token's own deadline, after which nothing accepts it
   * anyway (every accepted token has one: see checkLifetime). A token without one is never
   * accepted; its entry still lasts as long as any token may live.
   */
  private revocableUntil(deadline: number | undefined): number {
    return deadline ?? this.options.clock() + this.options.maxTokenLifetimeMs;
  }

  private async identifyByIntrospection(
    token: string,
  ): Promise<Pick<VerifiedToken, 'token' | 'payload' | 'source'> | undefined> {
    try {
      checkOpaqueShape(token, this.options.maxTokenLength);
      const { payload } = await this.introspect(token);
      return { token, payload, source: 'introspection' };
    } catch (error) {
      // Inactive, foreign, a refresh token, malformed: not ours. An unreachable or misconfigured IdP is not an answer.
      if (error instanceof InvalidTokenError) return undefined;
      throw error;
    }
  }

  private async identifyBySignature(
    token: string,
  ): Promise<Pick<VerifiedToken, 'token' | 'payload' | 'source'> | undefined> {
    if (token.split('.').length !== 3) return undefined;
    let payload: AccessTokenClaims;
    try {
      let verified: CompactVerifyResult;
      try {
        verified = await compactVerify(token, this.keyFor, { algorithms: this.options.algorithms });
      } catch (error) {
        if (!(error instanceof joseErrors.JWKSMultipleMatchingKeys)) throw error;
        verified = await firstVerifying(error, (key) =>
          compactVerify(token, key, { algorithms: this.options.algorithms }),
        );
      }
      payload = JSON.parse(new TextDecoder().decode(verified.payload)) as AccessTokenClaims;
    } catch (error) {
      if (error instanceof IdpUnavailableError || error instanceof MisconfiguredError) throw error;
      return undefined;
    }
    if (typeof payload !== 'object' || payload === null || payload.iss !== this.issuer) return undefined;
    const aud = typeof payload.aud === 'string' ? [payload.aud] : Array.isArray(payload.aud) ? payload.aud : [];
    if (!aud.some((a) => this.audience.includes(a))) return undefined;
    if (payload.jti !== undefined && typeof payload.jti !== 'string') return undefined;
    return { token, payload, source: 'jwt' };
  }

  private async resolveRevocationEndpoint(): Promise<URL> {
    const configured = this.options.revocation?.endpoint;
    if (configured) return configured;
    return this.misconfiguration.watch('revocation', async () => {
      // Not retried (transient: false): no retry fixes a configuration; the cause says what to fix.
      const misconfigured = (cause: MisconfiguredError) =>
        new RevocationError(cause.message, { transient: false, cause });
      let metadata: IssuerMetadata;
      try {
        metadata = await this.metadata.get();
      } catch (error) {
        throw error instanceof MisconfiguredError ? misconfigured(error) : error;
      }
      if (typeof metadata.revocation_endpoint !== 'string') {
        throw misconfigured(
          new MisconfiguredError('the issuer metadata has no revocation_endpoint; set `revocation.endpoint`'),
        );
      }
      try {
        return parseTrustedUrl(
          metadata.revocation_endpoint,
          'revocation_endpoint (from discovery)',
          this.options.allowHttp,
        );
      } catch (error) {
        throw misconfigured(new MisconfiguredError((error as Error).message, { cause: error }));
      }
    });
  }

  /** jose key resolver: HMAC only from the configured secret, everything else only from the JWKS. */
  private readonly keyFor = (
    header: JWSHeaderParameters,
    jws: FlattenedJWSInput,
  ): Promise<VerificationKey | Uint8Array> => {
    if ((HMAC_ALGORITHMS as readonly string[]).includes(header.alg ?? '')) {
      // Reaching here means the algorithm passed the allowlist, so the secret exists.
      return Promise.resolve(this.options.secret!);
    }
    return this.jwks.getKey(header, jws);
  };

  private async resolveJwksUri(): Promise<URL> {
    if (this.options.jwksUri) return this.options.jwksUri;
    return this.misconfiguration.watch('keys', async () => {
      const metadata = await this.metadata.get();
      try {
        return parseTrustedUrl(metadata.jwks_uri, 'jwks_uri (from discovery)', this.options.allowHttp);
      } catch (cause) {
        // Our URL policy refuses it (or it is missing): no retry fixes that. The document is
        // forgotten all the same, so a fixed one is picked up after the backoff.
        const error = new MisconfiguredError(
          `the issuer metadata has no usable jwks_uri (${unprefixed(cause)}); set \`jwksUri\`, or \`allowHttp\` if its http is intended`,
          { cause },
        );
        this.metadata.invalidate(error);
        throw error;
      }
    });
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
 * Most keys a token without `kid` is checked against. Two covers the rotation overlap of an IdP
 * that omits `kid` (old and new key of one type); more would let a forged kid-less token cost one
 * signature check per published key (64 with 64 keys).
 */
const MAX_KIDLESS_CANDIDATES = 2;

/**
 * A token without `kid` can match several keys of one type (rotation at IdPs that omit `kid`):
 * jose hands back the candidates and leaves trying them to us. The rule: the first
 * {@link MAX_KIDLESS_CANDIDATES} keys that match the token's `alg` (key type, curve, `alg`, `use`),
 * in the order the JWKS lists them; a token signed by any later key of that type is refused
 * (`signature_invalid`). IdPs that publish more keys of one type must put `kid` in their tokens.
 */
async function firstVerifying<T>(
  candidates: joseErrors.JWKSMultipleMatchingKeys,
  attempt: (key: VerificationKey) => Promise<T>,
): Promise<T> {
  let tried = 0;
  for await (const key of candidates as unknown as AsyncIterable<VerificationKey>) {
    if (tried++ === MAX_KIDLESS_CANDIDATES) break;
    try {
      return await attempt(key);
    } catch (error) {
      if (error instanceof joseErrors.JWSSignatureVerificationFailed) continue;
      throw error;
    }
  }
  throw new joseErrors.JWSSignatureVerificationFailed();
}

async function verifyWithCandidates(
  token: string,
  candidates: joseErrors.JWKSMultipleMatchingKeys,
  options: JWTVerifyOptions,
) {
  try {
    return await firstVerifying(candidates, (key) => jwtVerify<AccessTokenClaims>(token, key, options));
  } catch (error) {
    throw toAuthError(error);
  }
}

/** A nested message without its own `revocable-jwt: ` prefix. */
function unprefixed(error: unknown): string {
  return String((error as Error)?.message ?? error).replace(/^revocable-jwt: /, '');
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
  if (
    !hasCanonicalEnd(token, 0, first) ||
    !hasCanonicalEnd(token, first + 1, second) ||
    !hasCanonicalEnd(token, second + 1, token.length)
  ) {
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

/** A `typ` as a bare media type (RFC 7515 §4.1.9: `application/` may be left out; any case). */
function mediaType(typ: unknown): string | undefined {
  return typeof typ === 'string' ? typ.toLowerCase().replace(/^application\//, '') : undefined;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const member of Object.values(value)) deepFreeze(member);
  }
  return value;
}
