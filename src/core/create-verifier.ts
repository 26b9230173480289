/**
 * `createVerifier()`: one issuer (`{ issuer, audience }`) or several (`{ issuers: [...] }`).
 *
 * With several issuers each gets its own verifier: its own discovery, JWKS, audience, cache and
 * revocation settings. A token is routed by its (not yet verified) `iss` claim, by exact match,
 * **before** any key is chosen, and only that issuer's verifier, with that issuer's keys, ever
 * looks at it; its own `iss` check then confirms the route. A token of an unknown issuer is
 * refused without touching any key. Cache hits are found first, without decoding anything.
 */
import { decodeJwt } from 'jose';
import { createMemoryStore } from '../stores/memory-store.js';
import type { AuthError } from './errors.js';
import { claimOnce, reportRejection, verifyIssuerJwt, type VerifierEventName, type VerifierListener } from './events.js';
import type { OutboxRunResult } from './outbox-worker.js';
import { invalidToken } from './rejections.js';
import type { IssuerScope, RevocationOutcome, RevokeOptions, VerifiedToken, Verifier, VerifierOptions, VerifierStats } from './types.js';
import { createSingleIssuerVerifier } from './verifier.js';

/** Several issuers; top-level options are defaults every issuer entry may override. */
export interface MultiIssuerOptions extends Partial<Omit<VerifierOptions, 'issuer' | 'audience'>> {
  issuers: Array<Partial<VerifierOptions> & Pick<VerifierOptions, 'issuer' | 'audience'>>;
}

export type MultiIssuerStats = VerifierStats & { issuers: Record<string, VerifierStats> };
export type MultiIssuerVerifierApi = Omit<Verifier, 'stats'> & { stats(): MultiIssuerStats };

export function createVerifier(options: MultiIssuerOptions): MultiIssuerVerifierApi;
export function createVerifier(options: VerifierOptions): Verifier;
export function createVerifier(options: VerifierOptions | MultiIssuerOptions): Verifier | MultiIssuerVerifierApi {
  if (typeof options === 'object' && options !== null && 'issuers' in options) return createMultiIssuerVerifier(options);
  return createSingleIssuerVerifier(options);
}

function createMultiIssuerVerifier(options: MultiIssuerOptions): MultiIssuerVerifierApi {
  const { issuers: entries, ...defaults } = options;
  if (!Array.isArray(entries) || entries.length === 0) {
    throw new TypeError("revocable-jwt: `issuers` must be a non-empty array of { issuer, audience, ... }");
  }
  const seen = new Set<string>();
  for (const entry of entries) {
    if (typeof entry !== 'object' || entry === null) throw new TypeError('revocable-jwt: every `issuers` entry must be an object');
    if (seen.has(entry.issuer)) throw new TypeError(`revocable-jwt: issuer ${JSON.stringify(entry.issuer)} is listed twice in \`issuers\``);
    seen.add(entry.issuer);
  }
  // One store for all, so replay protection and the outbox are shared; ours to close if we made it.
  const ownStore = defaults.store === undefined ? createMemoryStore(defaults.clock ? { clock: defaults.clock } : {}) : undefined;
  const store = defaults.store ?? ownStore!;
  const verifiers = entries.map((entry) => createSingleIssuerVerifier({ ...defaults, store, ...entry } as VerifierOptions));
  return new MultiIssuerVerifier(verifiers, ownStore);
}

class MultiIssuerVerifier implements Verifier {
  readonly issuer: string;
  readonly issuers: readonly string[];
  readonly audience: readonly string[];
  private readonly byIssuer: Map<string, Verifier>;

  constructor(
    private readonly verifiers: Verifier[],
    private readonly ownStore: { close(): Promise<void> } | undefined,
  ) {
    this.byIssuer = new Map(verifiers.map((v) => [v.issuer, v]));
    this.issuer = verifiers[0]!.issuer;
    this.issuers = Object.freeze(verifiers.map((v) => v.issuer));
    this.audience = Object.freeze([...new Set(verifiers.flatMap((v) => v.audience))]);
  }

  peek(token: string): VerifiedToken | undefined {
    for (const verifier of this.verifiers) {
      const hit = verifier.peek(token);
      if (hit !== undefined) return hit;
    }
    return undefined;
  }

  verify(token: string): Promise<VerifiedToken> {
    const hit = this.peek(token);
    if (hit !== undefined) return Promise.resolve(hit);
    const verifier = this.route(token);
    if (!verifier) {
      const error = invalidToken(typeof token === 'string' && token.split('.').length === 3 ? 'issuer_mismatch' : 'malformed_token');
      this[reportRejection](error);
      return Promise.reject(error);
    }
    return verifier.verify(token);
  }

  revoke(token: string, options: RevokeOptions = {}): Promise<RevocationOutcome> {
    const verifier = (options.issuer !== undefined ? this.byIssuer.get(options.issuer) : undefined) ?? this.route(token);
    if (verifier) return verifier.revoke(token, options);
    if (options.issuer !== undefined) return Promise.reject(new TypeError(`revocable-jwt: unknown issuer ${options.issuer}`));
    // An opaque token (e.g. a refresh token) names no issuer: say which IdP it belongs to.
    if (this.verifiers.length === 1) return this.verifiers[0]!.revoke(token, options);
    return Promise.resolve({ local: 'not_ours', store: 'none', idp: 'skipped' });
  }

  invalidate(token: string): Promise<void> {
    const verifier = this.route(token);
    return verifier ? verifier.invalidate(token) : Promise.reject(invalidToken('issuer_mismatch'));
  }

  invalidateSubject(subject: string, scope?: IssuerScope): Promise<void> {
    return this.each(scope, (v) => v.invalidateSubject(subject));
  }

  invalidateSession(session: string, scope?: IssuerScope): Promise<void> {
    return this.each(scope, (v) => v.invalidateSession(session));
  }

  invalidateAll(scope?: IssuerScope): Promise<void> {
    return this.each(scope, (v) => v.invalidateAll());
  }

  async retryPending(): Promise<OutboxRunResult> {
    const total: OutboxRunResult = { attempted: 0, revoked: 0, rescheduled: 0, dropped: 0 };
    for (const verifier of this.verifiers) {
      const run = await verifier.retryPending();
      total.attempted += run.attempted;
      total.revoked += run.revoked;
      total.rescheduled += run.rescheduled;
      total.dropped += run.dropped;
    }
    return total;
  }

  stats(): MultiIssuerStats {
    const per = Object.fromEntries(this.verifiers.map((v) => [v.issuer, v.stats()]));
    const all = Object.values(per);
    const sum = (pick: (s: VerifierStats) => number) => all.reduce((total, s) => total + pick(s), 0);
    const first = all[0]!;
    return {
      cache: { hits: sum((s) => s.cache.hits), misses: sum((s) => s.cache.misses), size: sum((s) => s.cache.size), max: sum((s) => s.cache.max) },
      jwks: {
        fetches: sum((s) => s.jwks.fetches),
        failures: sum((s) => s.jwks.failures),
        keys: sum((s) => s.jwks.keys),
        fetchedAt: first.jwks.fetchedAt,
      },
      discovery: { fetches: sum((s) => s.discovery.fetches) },
      // One store feeds every issuer's mirror, so the first one's revocation figures stand for all.
      revocation: {
        ...first.revocation,
        outbox: {
          ...first.revocation.outbox,
          revoked: sum((s) => s.revocation.outbox.revoked),
          dropped: sum((s) => s.revocation.outbox.dropped),
        },
      },
      issuers: per,
    };
  }

  on<E extends VerifierEventName>(event: E, listener: VerifierListener<E>): this {
    for (const verifier of this.verifiers) verifier.on(event, listener);
    return this;
  }

  off<E extends VerifierEventName>(event: E, listener: VerifierListener<E>): this {
    for (const verifier of this.verifiers) verifier.off(event, listener);
    return this;
  }

  [reportRejection](error: AuthError): void {
    (this.verifiers[0] as unknown as { [reportRejection](e: AuthError): void })[reportRejection](error);
  }

  [verifyIssuerJwt](jwt: string, options: object): Promise<unknown> {
    const verifier = this.route(jwt);
    if (!verifier) return Promise.reject(invalidToken('issuer_mismatch'));
    return (verifier as unknown as { [verifyIssuerJwt](jwt: string, options: object): Promise<unknown> })[verifyIssuerJwt](jwt, options);
  }

  [claimOnce](key: string, ttlMs: number): Promise<boolean> {
    return (this.verifiers[0] as unknown as { [claimOnce](key: string, ttl: number): Promise<boolean> })[claimOnce](key, ttlMs);
  }

  async close(): Promise<void> {
    await Promise.all(this.verifiers.map((v) => v.close()));
    await this.ownStore?.close();
  }

  /** The verifier for the token's claimed issuer; never a guess. */
  private route(token: string): Verifier | undefined {
    if (typeof token !== 'string' || token.length > 65_536) return undefined;
    let iss: unknown;
    try {
      iss = decodeJwt(token).iss;
    } catch {
      return undefined;
    }
    return typeof iss === 'string' ? this.byIssuer.get(iss) : undefined;
  }

  private async each(scope: IssuerScope | undefined, action: (v: Verifier) => Promise<void>): Promise<void> {
    if (scope?.issuer !== undefined) {
      const verifier = this.byIssuer.get(scope.issuer);
      if (!verifier) throw new TypeError(`revocable-jwt: unknown issuer ${scope.issuer}`);
      return action(verifier);
    }
    // Every issuer's revocation is applied even if one's store write fails; then that failure is reported.
    const failed = (await Promise.allSettled(this.verifiers.map(action))).find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
  }
}
