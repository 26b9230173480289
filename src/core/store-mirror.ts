/**
 * Keeps a verifier's in-process `RevocationList` in step with a `RevocationStore`.
 *
 * Revocations only ever accumulate (until they expire), so a mirror and a store are merged, never
 * overwritten: a resync applies the store's snapshot on top of the mirror and publishes back what
 * the store lacks. That heals a store that restarted empty, and nothing is ever "un-revoked" by a
 * sync. Order of a resync: subscribe first, buffer what arrives, snapshot, merge, replay.
 *
 * It also tracks whether the store is reachable, for the availability policy, and keeps
 * revocations it could not publish to retry once the store is back.
 */
import { randomUUID } from 'node:crypto';
import { revocationTarget, type AvailabilityPolicy, type Revocation, type RevocationStore } from '../stores/revocation-store.js';
import { StoreUnavailableError } from './errors.js';
import { RevocationList } from './revocation-list.js';

export interface StoreMirrorStats {
  /** False while the store is unreachable or the mirror has not synced yet. */
  synced: boolean;
  /** Epoch ms since when the store has been unreachable, if it is. */
  unavailableSince: number | undefined;
  /** Revocations applied locally but not yet written to the store. */
  unpublished: number;
  resyncs: number;
}

const ALWAYS_AVAILABLE: AvailabilityPolicy = { onUnavailable: 'fail-open', maxStalenessMs: Infinity };

export interface StoreMirrorHooks {
  /** Every revocation applied, from anywhere: evict cache entries it covers. */
  onApply(revocation: Revocation): void;
  /** A revocation took effect here; `lagMs` for ones that came from another instance. */
  onRevoked?(revocation: Revocation, source: 'local' | 'store', lagMs: number | undefined): void;
  onUnavailable?(since: number): void;
  onResynced?(entries: number, healed: number): void;
}

export class StoreMirror {
  readonly list = new RevocationList();
  private readonly policy: AvailabilityPolicy;
  private readonly unpublished = new Map<string, Revocation>();
  private readonly cleanups: Array<() => void> = [];
  private buffered: Revocation[] | undefined;
  private syncing: Promise<void> | undefined;
  private synced = false;
  private everSynced = false;
  private firstSync: Promise<void>;
  private resolveFirstSync!: () => void;
  private unavailableSince: number | undefined;
  private resyncs = 0;
  private closed = false;
  /** Tags our publishes so their echo from the store is not counted as news. */
  private readonly origin = randomUUID();

  constructor(
    private readonly store: RevocationStore,
    private readonly clock: () => number,
    private readonly hooks: StoreMirrorHooks,
  ) {
    this.policy = store.availability ?? ALWAYS_AVAILABLE;
    this.firstSync = new Promise((resolve) => (this.resolveFirstSync = resolve));
    this.unavailableSince = store.watch ? clock() : undefined; // a shared store is unknown until it connects
    this.cleanups.push(
      store.subscribe((revocation, meta) => {
        this.buffered?.push(revocation);
        this.applyLocally(revocation);
        if (meta.origin !== this.origin) {
          const lag = meta.publishedAt !== undefined ? Math.max(0, this.clock() - meta.publishedAt) : undefined;
          this.hooks.onRevoked?.(revocation, 'store', lag);
        }
      }),
    );
    if (store.watch) {
      this.cleanups.push(
        store.watch((status) => {
          if (status === 'connected') void this.resync();
          else {
            this.synced = false;
            this.markUnavailable();
          }
        }),
      );
    }
    void this.resync();
  }

  /** Applies locally now, then writes to the store; a failed write is kept and retried on reconnect. */
  async publish(revocation: Revocation): Promise<void> {
    this.applyLocally(revocation);
    this.hooks.onRevoked?.(revocation, 'local', undefined);
    try {
      await this.store.publish(revocation, this.origin);
    } catch {
      this.unpublished.set(revocationTarget(revocation), revocation);
      this.markUnavailable();
    }
  }

  /**
   * Whether every verification must fail right now: only under `fail-closed`, once the store has
   * been unreachable (or never synced) for longer than the staleness bound. Allocation-free, as
   * it sits on the cache-hit path.
   */
  refusesAll(now: number): boolean {
    return (
      this.unavailableSince !== undefined &&
      this.policy.onUnavailable === 'fail-closed' &&
      now - this.unavailableSince > this.policy.maxStalenessMs
    );
  }

  /** The error to refuse with while {@link refusesAll} holds. */
  unavailableError(): StoreUnavailableError {
    return new StoreUnavailableError(5);
  }

  /** Waits (at most `timeoutMs`) for the first successful sync. */
  async waitForFirstSync(timeoutMs: number): Promise<void> {
    if (this.everSynced) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.firstSync, new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
    clearTimeout(timer);
  }

  /** True once the mirror has synced at least once (later outages are the policy's business). */
  get hasSynced(): boolean {
    return this.everSynced;
  }

  stats(): StoreMirrorStats {
    return { synced: this.synced, unavailableSince: this.unavailableSince, unpublished: this.unpublished.size, resyncs: this.resyncs };
  }

  close(): void {
    this.closed = true;
    for (const cleanup of this.cleanups.splice(0)) cleanup();
    this.resolveFirstSync();
  }

  /** Rebuilds from the store; concurrent calls share one run. */
  resync(): Promise<void> {
    this.syncing ??= this.runResync().finally(() => {
      this.syncing = undefined;
    });
    return this.syncing;
  }

  private async runResync(): Promise<void> {
    if (this.closed) return;
    this.buffered = [];
    try {
      const now = this.clock();
      const snapshot = await this.store.snapshot(now);
      const inStore = new Set(snapshot.map(revocationTarget));
      // Heal: whatever we know that the store lost (restart without persistence) goes back.
      const missing = [...this.list.entries(now), ...this.unpublished.values()].filter((r) => !inStore.has(revocationTarget(r)));
      for (const revocation of snapshot) this.applyLocally(revocation);
      for (const revocation of this.buffered) this.applyLocally(revocation);
      for (const revocation of missing) await this.store.publish(revocation, this.origin);
      this.unpublished.clear();
      this.synced = true;
      this.everSynced = true;
      this.unavailableSince = undefined;
      this.resyncs++;
      this.resolveFirstSync();
      this.hooks.onResynced?.(snapshot.length, missing.length);
    } catch {
      this.synced = false;
      this.markUnavailable();
    } finally {
      this.buffered = undefined;
    }
  }

  private applyLocally(revocation: Revocation): void {
    this.list.apply(revocation);
    this.hooks.onApply(revocation);
  }

  private markUnavailable(): void {
    if (this.unavailableSince !== undefined) return;
    this.unavailableSince = this.clock();
    this.hooks.onUnavailable?.(this.unavailableSince);
  }
}
