/**
 * Retries IdP revocations that could not be delivered (IdP down, 503, timeout) until the IdP
 * accepts them or the token expires. Items live in the store's outbox, so with a shared store a
 * restart loses nothing and `claimDue` leases keep two instances from sending the same one.
 */
import type { PendingRevocation, RevocationOutbox } from '../../stores/revocation-store.js';
import { RevocationError, type IdpRevocationResult } from '../idp/revocation-client.js';
import { unrefTimer } from '../shared/unref-timer.js';

export interface OutboxWorkerOptions {
  outbox: RevocationOutbox;
  send: (item: PendingRevocation) => Promise<IdpRevocationResult>;
  /** Items of other issuers are released at once for their own verifier's worker. */
  issuer: string;
  now: () => number;
  /** How often to look for due items (ms); timers are unref'd so they never keep a process alive. */
  pollInterval: number;
  /** How long a claimed item is reserved for this worker (ms). */
  leaseMs: number;
  /** Ceiling of the exponential backoff between attempts (ms). */
  maxBackoffMs: number;
  onError?: (error: unknown) => void;
}

/**
 * What one pass over the outbox did: `verifier.retryPending()` resolves to it (the worker makes
 * the same pass on a timer, every `revocation.retryInterval` seconds).
 *
 * @example
 * ```ts
 * import type { OutboxRunResult } from 'revocable-jwt';
 * // After an IdP outage, deliver what waits now instead of at the next poll:
 * const run: OutboxRunResult = await verifier.retryPending();
 * log.info({ ...run }, 'outbox retried');
 * ```
 */
export interface OutboxRunResult {
  /** Due items of this verifier's issuer that were sent to the IdP in this pass. */
  attempted: number;
  /** Items the IdP accepted (revoked, or cannot revoke that token type): removed from the outbox. */
  revoked: number;
  /** Items that failed again for a transient reason: due again after a backoff. */
  rescheduled: number;
  /** Refused for good by the IdP, or expired before the IdP could be told. */
  dropped: number;
}

/**
 * The IdP outbox as this verifier sees it: `verifier.stats().revocation.outbox`. `pending` counts
 * every instance's items in a shared store; the totals count this verifier's deliveries since start.
 *
 * @example
 * ```ts
 * import type { OutboxStats } from 'revocable-jwt';
 * const outbox: OutboxStats = verifier.stats().revocation.outbox;
 * if (outbox.pending > 0) log.warn({ ...outbox }, 'IdP revocations waiting for retry');
 * ```
 */
export interface OutboxStats {
  /** Items waiting, as of the last enqueue or run. */
  pending: number;
  /** Items delivered from the outbox since start (first attempts made by `revoke()` are not counted). */
  revoked: number;
  /** Items given up since start: refused for good by the IdP, or expired before it could be told. */
  dropped: number;
  /** Why the last delivery failed (never contains the token), or undefined. */
  lastError: string | undefined;
}

const BATCH = 50;

export class OutboxWorker {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<OutboxRunResult> | undefined;
  private readonly totals: OutboxStats = { pending: 0, revoked: 0, dropped: 0, lastError: undefined };

  constructor(private readonly options: OutboxWorkerOptions) {}

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      this.run().catch((error: unknown) => this.options.onError?.(error));
    }, this.options.pollInterval);
    unrefTimer(this.timer);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  async enqueue(item: PendingRevocation): Promise<void> {
    await this.options.outbox.enqueue(item);
    this.totals.pending = await this.options.outbox.size();
    this.totals.lastError = item.lastError;
  }

  /** Attempts every due item once. Concurrent calls share one run. */
  run(): Promise<OutboxRunResult> {
    this.running ??= this.runOnce().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  stats(): OutboxStats {
    return { ...this.totals };
  }

  /** Backoff after `attempts` failures: 1 s, 2 s, 4 s … capped, never shorter than Retry-After. */
  backoff(attempts: number, retryAfterSeconds?: number): number {
    const exponential = Math.min(this.options.maxBackoffMs, 1_000 * 2 ** Math.max(0, attempts - 1));
    return Math.max(exponential, (retryAfterSeconds ?? 0) * 1_000);
  }

  private async runOnce(): Promise<OutboxRunResult> {
    const result: OutboxRunResult = { attempted: 0, revoked: 0, rescheduled: 0, dropped: 0 };
    const { outbox } = this.options;
    const now = this.options.now();
    const due = await outbox.claimDue(now, BATCH, this.options.leaseMs);
    for (const item of due) {
      if (item.expiresAt <= now) {
        // The token is dead everywhere by now; telling the IdP no longer matters. Whoever's item
        // it is: one of an issuer no verifier serves any more would otherwise stay due for ever,
        // and a batch of them would keep every worker from reaching its own items.
        await outbox.complete(item.id);
        result.dropped++;
        continue;
      }
      if (item.issuer !== undefined && item.issuer !== this.options.issuer) {
        await outbox.reschedule(item.id, {
          nextAttemptAt: item.nextAttemptAt,
          attempts: item.attempts,
          lastError: item.lastError ?? '',
        });
        continue;
      }
      result.attempted++;
      try {
        await this.options.send(item);
        await outbox.complete(item.id);
        result.revoked++;
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        this.totals.lastError = message;
        if (error instanceof RevocationError && !error.transient) {
          await outbox.complete(item.id);
          result.dropped++;
          this.options.onError?.(error);
          continue;
        }
        const attempts = item.attempts + 1;
        const retryAfter = error instanceof RevocationError ? error.retryAfter : undefined;
        await outbox.reschedule(item.id, {
          attempts,
          nextAttemptAt: this.options.now() + this.backoff(attempts, retryAfter),
          lastError: message,
        });
        result.rescheduled++;
      }
    }
    this.totals.revoked += result.revoked;
    this.totals.dropped += result.dropped;
    this.totals.pending = await outbox.size();
    return result;
  }
}
