/**
 * What an unknown opaque token may cost. Without a bound, every made-up token is one call to the
 * IdP's introspection endpoint: 300 garbage tokens are 300 calls, the IdP starts answering 429,
 * and every genuine opaque token then gets a 503. Bounded here, before the IdP is asked:
 *   - concurrent checks of one token share one call;
 *   - a refusal (inactive, wrong audience, revoked...) is remembered for 30 s, so a replayed token
 *     costs nothing (at most 10 000 entries, keyed by the token's SHA-256: ~1 MB whatever the
 *     tokens' length);
 *   - tokens the IdP has never called active get a budget of calls per window; the surplus gets a
 *     503 with `Retry-After`, and the IdP is not called. Tokens it did call active (whose cached
 *     answer outlived `maxAge`) are not counted, so a flood of garbage cannot lock them out;
 *   - once the endpoint fails or answers 429/5xx, no call at all until its `Retry-After` (up to
 *     5 minutes) or an exponential backoff (1 s doubling to 30 s) has passed; a failed call is
 *     never retried per request. Another 4xx fails that token's check only (503), no backoff.
 * Answers already cached keep being served during a backoff, but never past `maxAge`: that bound
 * is how long a revocation made at the IdP may go unnoticed, and an IdP outage does not extend it.
 */
import { LRUCache } from 'lru-cache';
import { FailureBackoff } from '../shared/backoff.js';
import { IdpUnavailableError, InvalidTokenError, type RejectionReason } from '../shared/errors.js';
import { HttpRequestError } from '../idp/http-client.js';
import { invalidToken } from '../shared/rejections.js';
import { sha256 } from '../shared/sha256.js';

export interface IntrospectionGateOptions {
  now: () => number;
  /** IdP calls per window for tokens the IdP has not called active before. */
  newTokenBudget: number;
  /** Length of that window (ms). */
  newTokenWindowMs: number;
}

/** Refusals that may turn into acceptance as time passes: never remembered. */
const TIME_DEPENDENT = new Set<RejectionReason>(['token_not_yet_valid', 'issued_in_future']);
const REFUSALS_KEPT = 10_000;
const REFUSAL_TTL_MS = 30_000;
const KNOWN_KEPT = 10_000;
const KNOWN_TTL_MS = 3_600_000;
const MAX_RETRY_AFTER_MS = 300_000;

export class IntrospectionGate {
  private readonly refused: LRUCache<string, RejectionReason>;
  private readonly known: LRUCache<string, true>;
  private readonly inflight = new Map<string, Promise<unknown>>();
  private readonly backoff: FailureBackoff;
  private lastFailure: unknown;
  private windowStart = -Infinity;
  private spent = 0;

  constructor(private readonly options: IntrospectionGateOptions) {
    const perf = { now: options.now };
    this.refused = new LRUCache({ max: REFUSALS_KEPT, ttl: REFUSAL_TTL_MS, ttlResolution: 0, perf });
    this.known = new LRUCache({ max: KNOWN_KEPT, ttl: KNOWN_TTL_MS, ttlResolution: 0, perf });
    this.backoff = new FailureBackoff(1_000, 30_000, options.now, MAX_RETRY_AFTER_MS);
  }

  /**
   * Asks the IdP about `token` (through `ask`) unless a bound says no, then `accept`s the answer.
   * An InvalidTokenError from `accept` is remembered; the IdP's failures start the backoff.
   */
  check<T>(
    token: string,
    ask: () => Promise<Record<string, unknown>>,
    accept: (answer: Record<string, unknown>) => T,
  ): Promise<T> {
    const key = sha256(token);
    const refusal = this.refused.get(key);
    if (refusal !== undefined) return Promise.reject(invalidToken(refusal));
    const running = this.inflight.get(key);
    if (running !== undefined) return running as Promise<T>;
    const wait = this.backoff.waitMs;
    if (wait > 0)
      return Promise.reject(
        new IdpUnavailableError('The introspection endpoint asked us to wait', wait / 1000, {
          cause: this.lastFailure,
        }),
      );
    if (!this.known.has(key)) {
      const refusedFor = this.spend();
      if (refusedFor > 0)
        return Promise.reject(
          new IdpUnavailableError('Too many unknown tokens to introspect right now', refusedFor / 1000),
        );
    }
    const call = this.call(key, ask, accept).finally(() => this.inflight.delete(key));
    this.inflight.set(key, call);
    return call;
  }

  private async call<T>(
    key: string,
    ask: () => Promise<Record<string, unknown>>,
    accept: (answer: Record<string, unknown>) => T,
  ): Promise<T> {
    let answer: Record<string, unknown>;
    try {
      answer = await ask();
    } catch (error) {
      const cause = error instanceof IdpUnavailableError ? error.cause : undefined;
      // A 4xx other than 429 answers this request (this token), not the IdP's health: backing
      // off for it would let one client's crafted token lock every other token out.
      const aboutThisRequest =
        cause instanceof HttpRequestError &&
        cause.status !== undefined &&
        cause.status >= 400 &&
        cause.status < 500 &&
        cause.status !== 429;
      if (error instanceof IdpUnavailableError && !aboutThisRequest) {
        this.lastFailure = cause;
        this.backoff.recordFailure(cause instanceof HttpRequestError ? cause.retryAfter : undefined);
      }
      throw error;
    }
    this.backoff.recordSuccess();
    try {
      const accepted = accept(answer);
      if (answer.active === true) this.known.set(key, true, { ttl: this.knownFor(answer.exp) });
      return accepted;
    } catch (error) {
      if (error instanceof InvalidTokenError && !TIME_DEPENDENT.has(error.reason)) {
        this.refused.set(key, error.reason);
        this.known.delete(key);
      }
      throw error;
    }
  }

  /** Takes one call from the window's budget: 0, or the ms until the next window when it is spent. */
  private spend(): number {
    const now = this.options.now();
    if (now - this.windowStart >= this.options.newTokenWindowMs) {
      this.windowStart = now;
      this.spent = 0;
    }
    if (this.spent >= this.options.newTokenBudget) return this.windowStart + this.options.newTokenWindowMs - now;
    this.spent++;
    return 0;
  }

  /** A token the IdP called active stays known until it expires (at most an hour). */
  private knownFor(exp: unknown): number {
    if (typeof exp !== 'number') return KNOWN_TTL_MS;
    return Math.min(KNOWN_TTL_MS, Math.max(1, exp * 1000 - this.options.now()));
  }
}
