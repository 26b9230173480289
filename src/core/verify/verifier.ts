/**
 * The single-issuer verifier: its lifecycle, the cache-hit path, and the orchestration of its
 * collaborators (token shape, signature, introspection, claims, revocation). Framework-agnostic:
 * no HTTP request objects in here.
 */
import { createMetadataSource, type MetadataSource } from '../idp/discovery.js';
import { createEndpoints } from '../idp/endpoints.js';
import { JwksSource } from '../idp/jwks.js';
import { StaticJwks } from '../idp/static-jwks.js';
import type { OutboxRunResult } from '../revoke/outbox-worker.js';
import { revocationKeysFor } from '../revoke/revocation-identity.js';
import { Revoker } from '../revoke/revoker.js';
import { StoreMirror } from '../revoke/store-mirror.js';
import { AuthError, type RejectionReason, StoreUnavailableError, VerifierClosedError } from '../shared/errors.js';
import { VerifierEvents, type VerifierEventName, type VerifierListener } from '../shared/events.js';
import type { LogContext, VerifierLog } from '../shared/logger.js';
import { isPromise, type MaybePromise, promiseOf } from '../shared/maybe-promise.js';
import { MisconfigurationMonitor } from '../shared/misconfiguration.js';
import { invalidToken } from '../shared/rejections.js';
import { unrefTimer } from '../shared/unref-timer.js';
import { Admission } from './admission.js';
import { IntrospectionVerifier } from './introspection-verifier.js';
import { issuerJwtVerifier } from './issuer-jwt.js';
import { resolveVerifierOptions, type ResolvedOptions } from './options.js';
import { OwnershipCheck } from './ownership-check.js';
import { SignatureCheck } from './signature.js';
import { StatusListCheck, statusRefusal, UNDECIDED } from './status-list-check.js';
import { TokenCache, tokenIndex } from './token-cache.js';
import { registerPort } from './verifier-port.js';
import type {
  IssuerScope,
  RevocationOutcome,
  RevokeOptions,
  VerifiedToken,
  Verifier,
  VerifierOptions,
  VerifierStats,
} from './types.js';

const MAX_JWKS_BYTES = 512 * 1024;
/**
 * Expired revocations leave the mirror a slice at a time: every second, at most SWEEP_SLOTS slots
 * of the token table (a fraction of a millisecond), so a table of 10^6 (2^21 slots) is swept
 * every ~32 s without ever stalling the event loop.
 */
const SWEEP_INTERVAL_MS = 1_000;
const SWEEP_SLOTS = 1 << 16;

/**
 * A verifier for one issuer: see `createVerifier` in create-verifier.ts for the public entry.
 * `inherited`: a multi-issuer verifier's log, for an entry without its own `logger`.
 */
export function createSingleIssuerVerifier(
  options: VerifierOptions,
  factory?: string,
  path?: string,
  inherited?: { log: VerifierLog | undefined },
): Verifier {
  return new JwtVerifier(resolveVerifierOptions(options, factory, path, inherited));
}

/** The refusal of a verification that close() ended (or found waiting for the store). */
function closedMidway(cause?: unknown): VerifierClosedError {
  return new VerifierClosedError('close() called while the token was being verified', { cause });
}

class JwtVerifier implements Verifier {
  readonly issuer: string;
  readonly issuers: readonly string[];
  readonly audience: readonly string[];
  private readonly cache: TokenCache;
  private readonly metadata: MetadataSource;
  private readonly jwks: Pick<JwksSource, 'getKey' | 'stats'>;
  /** Verifies, checks and caches the tokens the cache does not have. */
  private readonly admission: Admission;
  /**
   * Concurrent verifications of the same token share one signature check. Indexed like the cache
   * (a small integer, then whole-string equality), so a miss never hashes the whole token.
   */
  private readonly inflight = new Map<number, { token: string; promise: Promise<VerifiedToken> }>();
  private readonly lifetime = new AbortController();
  private readonly events = new VerifierEvents();
  private readonly misconfiguration: MisconfigurationMonitor;
  private readonly mirror: StoreMirror;
  private readonly revoker: Revoker;
  /** Absent with `statusList: { mode: 'off' }`. */
  private readonly statusLists: StatusListCheck | undefined;
  private readonly sweepTimer: NodeJS.Timeout;
  /** What the log (if any) is told about this issuer. */
  private readonly logContext: LogContext;
  private closed = false;

  constructor(private readonly options: ResolvedOptions) {
    const { issuer, clock, fetch, timeoutMs } = options;
    const signal = this.lifetime.signal;
    this.issuer = issuer;
    this.issuers = Object.freeze([issuer]);
    this.audience = Object.freeze([...options.audience]);
    this.cache = new TokenCache(options.cache);
    this.logContext = { issuer, store: options.store, algorithms: options.algorithms, clock };
    // Listening before any collaborator can report anything.
    options.log?.attach(this.events, this.logContext);
    this.misconfiguration = new MisconfigurationMonitor(this.events, issuer);
    this.metadata = createMetadataSource({ issuer, fetch, timeoutMs, now: clock, signal });
    const endpoints = createEndpoints({
      metadata: this.metadata,
      jwksUri: options.jwksUri,
      revocationEndpoint: options.revocation?.endpoint,
      introspectionEndpoint: options.introspection?.endpoint,
      allowHttp: options.allowHttp,
      misconfiguration: this.misconfiguration,
    });
    // Keys given (`jwks`) are never fetched; otherwise from `jwksUri` or discovery.
    this.jwks = options.staticKeys
      ? new StaticJwks(options.staticKeys, clock())
      : new JwksSource({
          endpoints,
          fetch,
          timeoutMs,
          cooldownMs: options.jwksCooldownMs,
          maxAgeMs: options.jwksMaxAgeMs,
          maxBytes: MAX_JWKS_BYTES,
          now: clock,
          signal,
          onKeysRemoved: (change) => this.cache.evictSignedBy(change),
          events: this.events,
          algorithms: options.algorithms,
        });
    this.mirror = new StoreMirror(options.store, clock, {
      onApply: (revocation) => this.cache.evictRevoked(revocation, issuer),
      events: this.events,
    });
    // The resolved options with the shared collaborators in place (`cache` replaces its settings):
    // each collaborator's options type picks what it reads, and the compiler checks every one.
    const shared = {
      ...options,
      audience: this.audience,
      endpoints,
      signal,
      cache: this.cache,
      signature: new SignatureCheck({ jwks: this.jwks, secret: options.secret, algorithms: options.algorithms }),
      misconfiguration: this.misconfiguration,
      revocations: this.mirror.list,
    };
    const introspection =
      options.introspection && new IntrospectionVerifier({ ...shared, settings: options.introspection });
    this.statusLists =
      options.statusList &&
      new StatusListCheck({ ...shared, settings: options.statusList, staticKeys: options.staticKeys !== undefined });
    const statusLists = this.statusLists;
    this.admission = new Admission({ ...shared, audience: options.audience, introspection, statusLists });
    this.revoker = new Revoker({
      ...shared,
      identifier: new OwnershipCheck({ ...shared, introspection }),
      mirror: this.mirror,
    });
    this.sweepTimer = setInterval(() => this.mirror.list.sweep(clock(), SWEEP_SLOTS), SWEEP_INTERVAL_MS);
    unrefTimer(this.sweepTimer);
    registerPort(this, {
      verifyIssuerJwt: this.whileOpen('a notification', issuerJwtVerifier(shared)),
      claimOnce: (key, until) => this.claimOnce(key, until),
      reportRejection: (error) => this.reportRejection(error),
      verifyNow: (token) => this.verifyNow(token),
      // As the hit path's look-up, with the token's keys derived again (the cache entry's may be gone).
      revoked: (auth) => this.mirror.list.isRevoked(revocationKeysFor(auth), auth.payload.iat, clock()),
      time: new Map([[issuer, Object.freeze({ clock, clockTolerance: options.clockTolerance })]]),
      dpop: new Map([[issuer, options.dpop]]),
      proofsClaimed: new WeakMap(),
    });
  }

  peek(token: string): VerifiedToken | undefined {
    // A verification in flight at close() may still fill the cache; a closed verifier hears no
    // revocations any more (its mirror is closed), so it vouches for nothing.
    // Not a string (an absent header or field in a caller's code): nothing cached, as for any unknown token.
    if (this.closed || typeof token !== 'string') return undefined;
    const now = this.options.clock();
    if (!this.mirror.accepts(now)) return undefined; // let verify() wait for the sync or report it
    const hit = this.lookup(token, now, false);
    return typeof hit === 'string' ? undefined : hit;
  }

  /**
   * The cache-hit path shared by `peek()` and `verify()`: a cached, unexpired, unrevoked result;
   * the reason to refuse a cached token that has been revoked since (its entry is dropped) or
   * whose status list now says otherwise than VALID (its entry stays: a suspension may be lifted);
   * else undefined (also when its status list is due and a fresh one must be awaited).
   * No crypto, no I/O, nothing allocated but the event while someone listens.
   */
  private lookup(token: string, now: number, countMiss: boolean): VerifiedToken | RejectionReason | undefined {
    const entry = this.cache.get(token, now, countMiss);
    if (entry === undefined) return undefined;
    if (this.mirror.list.isRevoked(entry.keys, entry.result.payload.iat, now)) {
      this.cache.delete(token);
      return 'revoked';
    }
    const { status } = entry;
    if (status !== undefined) {
      const value = status.list.read(status.index, now);
      if (value !== 0) return value === UNDECIDED ? undefined : statusRefusal(value);
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
    // 5xx answers the log may have to explain (the event carries no message: it is for metrics).
    if (error.status >= 500) this.options.log?.rejected(error, this.logContext);
  }

  verify(token: string): Promise<VerifiedToken> {
    return promiseOf(() => this.verifyNow(token));
  }

  /**
   * verify() without a promise where none is needed (the port's `verifyNow`): a cache hit, and a
   * miss that needs no I/O (see Admission.verify), are answered at once, a refusal thrown (and
   * reported, as verify() reports it); anything else as verify() answers it.
   */
  private verifyNow(token: string): MaybePromise<VerifiedToken> {
    if (this.closed) throw new VerifierClosedError();
    if (typeof token !== 'string') throw invalidToken('malformed_token');
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

  private verifyTrusted(token: string, now: number): MaybePromise<VerifiedToken> {
    if (this.closed) throw this.reported(closedMidway()); // while it waited for the store's sync
    const hit = this.lookup(token, now, true);
    if (typeof hit === 'string') throw this.reported(invalidToken(hit));
    if (hit !== undefined) return hit;
    const index = tokenIndex(token);
    const running = this.inflight.get(index);
    if (running !== undefined && running.token === token) return this.joined(running.promise);
    let admitted: MaybePromise<VerifiedToken>;
    try {
      admitted = this.admission.verify(token);
    } catch (error) {
      throw this.reported(error);
    }
    if (!isPromise(admitted)) {
      // Verified without waiting for anything: no other verification of it can be in flight.
      if (this.events.listeningForVerified) this.emitVerified(admitted, false);
      return admitted;
    }
    const verification = admitted
      .then(
        (result) => {
          // close() landed meanwhile: a closed verifier hears no revocations, so it vouches for
          // nothing; and what its aborted requests failed with is not the IdP's fault (no 503).
          if (this.closed) return this.reject(closedMidway());
          if (this.events.listeningForVerified) this.emitVerified(result, false);
          return result;
        },
        (error: unknown) => this.reject(this.closed ? closedMidway(error) : error),
      )
      .finally(() => {
        if (this.inflight.get(index)?.promise === verification) this.inflight.delete(index);
      });
    if (running === undefined) this.inflight.set(index, { token, promise: verification });
    return verification;
  }

  /**
   * A verification in flight, for a caller that came after it began: its revocation check ran
   * at admission, so a revocation applied since (before this call, maybe) is checked again, and a
   * verifier closed since vouches for nothing.
   */
  private joined(running: Promise<VerifiedToken>): Promise<VerifiedToken> {
    return running.then((result) => {
      // close() may land between the shared verification's end and this caller's turn.
      if (this.closed) return this.reject(closedMidway());
      return this.mirror.list.isRevoked(revocationKeysFor(result), result.payload.iat, this.options.clock())
        ? this.reject(invalidToken('revoked'))
        : result;
    });
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
    return Promise.reject(this.reported(error));
  }

  /** `error`, reported to the listeners first when it is a refusal of the token. */
  private reported(error: unknown): unknown {
    if (error instanceof AuthError) this.reportRejection(error);
    return error;
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
      statusLists: this.statusLists?.stats() ?? { lists: 0, fetches: 0, failures: 0 },
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

  /**
   * A closed verifier neither hears nor publishes revocations (its mirror and outbox are stopped):
   * what it would report as done would not be, so every operation refuses with a coded error.
   */
  private whileOpen<A extends unknown[], R>(
    operation: string,
    action: (...args: A) => Promise<R>,
  ): (...args: A) => Promise<R> {
    return (...args) =>
      this.closed ? Promise.reject(new VerifierClosedError(`${operation} called after close()`)) : action(...args);
  }

  revoke(token: string, options?: RevokeOptions): Promise<RevocationOutcome> {
    return this.whileOpen('revoke()', () => this.revoker.revoke(token, options))();
  }

  invalidate(token: string): Promise<void> {
    return this.whileOpen('invalidate()', () => this.revoker.invalidate(token))();
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
    if (this.closed) return Promise.reject(new VerifierClosedError('invalidate*() called after close()'));
    if (scope?.issuer !== undefined && scope.issuer !== this.issuer) {
      return Promise.reject(new TypeError(`revocable-jwt: this verifier trusts ${this.issuer}, not ${scope.issuer}`));
    }
    return action();
  }

  retryPending(): Promise<OutboxRunResult> {
    return this.whileOpen('retryPending()', () => this.revoker.retryPending())();
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
}
