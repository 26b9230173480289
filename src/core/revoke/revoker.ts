/**
 * Revocation as the IdPs' own warning asks for it: tell the IdP (RFC 7009) *and* stop accepting the
 * token locally. Local invalidation always comes first and never waits on the IdP; delivery to an
 * unreachable IdP is kept in the store's outbox and retried.
 *
 * Only a token proven ours the way verify() would accept it (a signature against the issuer's
 * keys with our `iss`/`aud`, or the IdP's introspection answer) ever creates a denylist entry: a
 * forged token must not be able to log someone else out, nor garbage grow every mirror.
 */
import type { PendingRevocation, Revocation, RevocationStore } from '../../stores/revocation-store.js';
import { IdpUnavailableError, RevocationPendingError } from '../shared/errors.js';
import { type MisconfigurationMonitor, misconfigurationMessage } from '../shared/misconfiguration.js';
import type { IdpEndpoints } from '../idp/endpoints.js';
import type { FetchLike } from '../idp/http-client.js';
import { OutboxWorker, type OutboxRunResult } from './outbox-worker.js';
import { invalidToken } from '../shared/rejections.js';
import { sha256 } from '../shared/sha256.js';
import { revokeAtIdp, RevocationError, type RevocationClientConfig } from '../idp/revocation-client.js';
import type { RevocationKeys } from './revocation-identity.js';
import type { StoreMirror } from './store-mirror.js';
import { cutoffAt } from '../shared/token-lifetime.js';
import type { AccessTokenClaims } from '../shared/verified-token.js';
import type { RevocationOutcome, RevokeOptions } from './revocation-outcome.js';

/** `revocation` options after validation (see options.ts). */
export interface ResolvedRevocationOptions {
  client: RevocationClientConfig;
  endpoint: URL | undefined;
  retryForMs: number;
  retryIntervalMs: number;
  maxPending: number;
}

/** A token proven to be ours, with what revocation needs to know about it. */
export interface IdentifiedToken {
  payload: AccessTokenClaims;
  keys: RevocationKeys;
  /** Epoch ms after which the token is refused anyway (exp + tolerance). */
  expiresAt: number;
}

/** What the revoker asks before it revokes anything locally: is this token ours? */
export interface TokenIdentifier {
  /**
   * Proves a token is ours the way verify() would accept it, expiry aside; undefined for
   * foreign, forged or inactive tokens. Rejects with IdpUnavailableError when it cannot tell now.
   */
  identify(token: string): Promise<IdentifiedToken | undefined>;
}

export interface RevokerOptions {
  identifier: TokenIdentifier;
  mirror: StoreMirror;
  store: RevocationStore;
  clock: () => number;
  maxTokenLifetimeMs: number;
  /** Seconds of leeway the verifier allows on `exp`/`iat`: cutoffs must outlast it too. */
  clockTolerance: number;
  issuer: string;
  revocation: ResolvedRevocationOptions | undefined;
  /** Where the IdP's revocation endpoint is (configured, or discovered). */
  endpoints: Pick<IdpEndpoints, 'revocation'>;
  fetch: FetchLike;
  signal: AbortSignal;
  /** Where an endpoint that cannot work, or the IdP rejecting our client, is reported (and cleared once one works). */
  misconfiguration: MisconfigurationMonitor;
}

export class Revoker {
  private readonly worker: OutboxWorker | undefined;

  constructor(private readonly options: RevokerOptions) {
    const { revocation } = options;
    if (revocation) {
      this.worker = new OutboxWorker({
        outbox: options.store.outbox,
        send: (item) => this.sendToIdp(item.token, item.tokenTypeHint, item.clientIdHint),
        issuer: options.issuer,
        now: options.clock,
        pollInterval: revocation.retryIntervalMs,
        leaseMs: revocation.client.timeoutMs * 2,
        maxBackoffMs: 5 * 60_000,
      });
      this.worker.start();
    }
  }

  async revoke(token: string, options: RevokeOptions = {}): Promise<RevocationOutcome> {
    if (typeof token !== 'string' || token === '')
      throw new TypeError('revocable-jwt: revoke() needs the token string');
    let identified: IdentifiedToken | undefined;
    let local: RevocationOutcome['local'];
    let store: RevocationOutcome['store'] = 'none';
    try {
      identified = await this.options.identifier.identify(token);
      local = identified ? await this.invalidateIdentified(identified) : 'not_ours';
      if (local === 'denylisted') store = 'published';
    } catch (error) {
      if (error instanceof RevocationPendingError) {
        local = 'denylisted';
        store = 'pending';
      } else if (error instanceof IdpUnavailableError) local = 'unverifiable';
      else throw error;
    }
    if (options.onlyIfOurs && local === 'not_ours') return { local, store, idp: 'skipped' };
    if (!this.options.revocation || !this.worker) return { local, store, idp: 'not_configured' };

    const clientIdHint = identified?.payload.client_id ?? identified?.payload.azp;
    try {
      const result = await this.sendToIdp(token, options.tokenTypeHint, clientIdHint);
      return { local, store, idp: result };
    } catch (error) {
      const failure =
        error instanceof RevocationError
          ? error
          : new RevocationError('the revocation request failed', { transient: true, cause: error });
      if (!failure.transient) return { local, store, idp: 'rejected', error: failure };
      const now = this.options.clock();
      const expiresAt = identified ? identified.expiresAt : now + this.options.revocation.retryForMs;
      if (expiresAt <= now) return { local, store, idp: 'revoked' }; // already dead: nothing left to revoke
      const queued = await this.queueing(() => this.options.store.outbox.size(), failure);
      if (queued instanceof RevocationError) return { local, store, idp: 'queue_unavailable', error: queued };
      if (!identified && queued >= this.options.revocation.maxPending) {
        const full = new RevocationError('the IdP is unreachable and the retry queue is full', {
          transient: true,
          reason: 'revocation_not_queued',
          cause: failure,
        });
        return { local, store, idp: 'queue_full', error: full };
      }
      const retryIn = this.worker.backoff(1, failure.retryAfter);
      const item: PendingRevocation = {
        id: sha256(`${this.options.issuer}\n${token}`),
        token,
        issuer: this.options.issuer,
        tokenTypeHint: options.tokenTypeHint,
        clientIdHint,
        expiresAt,
        attempts: 1,
        nextAttemptAt: now + retryIn,
        lastError: failure.message,
      };
      const enqueued = await this.queueing(() => this.worker!.enqueue(item), failure);
      if (enqueued instanceof RevocationError) return { local, store, idp: 'queue_unavailable', error: enqueued };
      return { local, store, idp: 'queued', retryAfter: Math.ceil(retryIn / 1000), error: failure };
    }
  }

  /** An outbox operation; a store failure there means the retry is not queued (`queue_unavailable`), not a crash. */
  private async queueing<T>(operation: () => Promise<T>, failure: RevocationError): Promise<T | RevocationError> {
    try {
      return await operation();
    } catch (cause) {
      return new RevocationError('the IdP is unreachable and the revocation store cannot queue the retry', {
        transient: true,
        reason: 'revocation_not_queued',
        cause: [failure, cause],
      });
    }
  }

  async invalidate(token: string): Promise<void> {
    if (typeof token !== 'string' || token === '')
      throw new TypeError('revocable-jwt: invalidate() needs the token string');
    const identified = await this.options.identifier.identify(token);
    if (!identified) throw invalidToken('signature_invalid');
    await this.invalidateIdentified(identified);
  }

  async invalidateSubject(subject: string, at?: number): Promise<void> {
    if (typeof subject !== 'string' || subject === '')
      throw new TypeError('revocable-jwt: invalidateSubject() needs a non-empty subject');
    await this.apply({ type: 'subject', issuer: this.options.issuer, subject, ...this.cutoff(at) });
  }

  async invalidateSession(session: string, at?: number): Promise<void> {
    if (typeof session !== 'string' || session === '')
      throw new TypeError('revocable-jwt: invalidateSession() needs a non-empty session id (sid)');
    await this.apply({ type: 'session', issuer: this.options.issuer, session, ...this.cutoff(at) });
  }

  async invalidateAll(at?: number): Promise<void> {
    await this.apply({ type: 'all', issuer: this.options.issuer, ...this.cutoff(at) });
  }

  /**
   * Every token issued up to the end of the second of `at` (default now; never later than now);
   * kept until the last of them expires (token-lifetime.ts). The same `at` gives the same cutoff.
   */
  private cutoff(at: number | undefined): { cutoff: number; expiresAt: number } {
    if (at !== undefined && (typeof at !== 'number' || !Number.isFinite(at))) {
      throw new TypeError('revocable-jwt: `at` must be an instant in epoch milliseconds');
    }
    const now = this.options.clock();
    return cutoffAt(
      at === undefined ? now : Math.min(at, now),
      this.options.maxTokenLifetimeMs,
      this.options.clockTolerance,
    );
  }

  retryPending(): Promise<OutboxRunResult> {
    if (!this.worker) return Promise.resolve({ attempted: 0, revoked: 0, rescheduled: 0, dropped: 0 });
    return this.worker.run();
  }

  stats() {
    return this.worker?.stats() ?? { pending: 0, revoked: 0, dropped: 0, lastError: undefined };
  }

  close(): void {
    this.worker?.stop();
  }

  private async invalidateIdentified(identified: IdentifiedToken): Promise<'denylisted' | 'expired'> {
    if (identified.expiresAt <= this.options.clock()) return 'expired';
    await this.apply({ type: 'token', key: identified.keys.denylist, expiresAt: identified.expiresAt });
    return 'denylisted';
  }

  /**
   * Local first (synchronously), then the store, which persists and tells other instances.
   * Resolves once the store has it; else rejects with RevocationPendingError (local stands, retried).
   */
  private apply(revocation: Revocation): Promise<void> {
    return this.options.mirror.publish(revocation);
  }

  /**
   * One delivery to the IdP, endpoint resolution included, watched as the `revocation`
   * misconfiguration: an endpoint that cannot work, or the IdP rejecting our client, is reported;
   * any answer the IdP accepts clears it.
   */
  private sendToIdp(token: string, tokenTypeHint: string | undefined, clientIdHint: string | undefined) {
    return this.options.misconfiguration.watch(
      'revocation',
      () => this.deliver(token, tokenTypeHint, clientIdHint),
      (error) => misconfigurationMessage(error) ?? this.clientRejection(error),
    );
  }

  /** What to fix when the IdP rejected our client (401 / `invalid_client`), or undefined for any other failure. */
  private clientRejection(error: unknown): string | undefined {
    if (!(error instanceof RevocationError) || error.reason !== 'revocation_client_rejected') return undefined;
    const { authMethod } = this.options.revocation!.client;
    const answer = [error.status, error.error].filter((part) => part !== undefined).join(' ');
    const fix =
      authMethod === 'none'
        ? "the client sends no secret (`revocation.authMethod` is 'none'): if the IdP requires client " +
          'authentication, set `revocation.clientId` and `revocation.clientSecret`'
        : 'check `revocation.clientId`, `revocation.clientSecret` and `revocation.authMethod` ' + `(now ${authMethod})`;
    return (
      `revocable-jwt: the revocation endpoint rejected our client (${answer}): revocations are not delivered to ` +
      `the IdP; ${fix}`
    );
  }

  private async deliver(token: string, tokenTypeHint: string | undefined, clientIdHint: string | undefined) {
    const revocation = this.options.revocation!;
    let endpoint: URL;
    try {
      endpoint = await this.options.endpoints.revocation();
    } catch (error) {
      if (error instanceof RevocationError) throw error;
      throw new RevocationError('the revocation endpoint cannot be discovered right now', {
        transient: true,
        cause: error,
      });
    }
    return revokeAtIdp(
      endpoint,
      revocation.client,
      { token, tokenTypeHint, fallbackClientId: clientIdHint },
      { fetch: this.options.fetch, signal: this.options.signal },
    );
  }
}
