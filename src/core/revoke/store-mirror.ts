/**
 * Keeps a verifier's in-process `RevocationList` in step with a `RevocationStore`.
 *
 * Revocations only ever accumulate (until they expire), so a mirror and a store are merged, never
 * overwritten: a resync applies the store's snapshot on top of the mirror and publishes back what
 * the store lacks. That heals a store that restarted empty, and nothing is ever "un-revoked" by a
 * sync.
 *
 * Two directions, each with one path:
 * - Store → mirror. Deliveries are applied as they arrive. A resync runs only once the store
 *   reports `connected`, which a shared store reports only after its subscription is active:
 *   whatever is published after the resync's read is then delivered, whatever was published
 *   before is in what it read, so nothing falls in between. Every reconnect does the same (a
 *   resync requested while one runs makes it run again). What a resync reads:
 *   - a store with a change log (`store.changeLog`): what changed after the mirror's cursor, the
 *     position of the last change it holds in each log, which deliveries move along as they come;
 *     everything (the store's compact snapshot) on the first sync, or when the store trimmed its
 *     log past the cursor or lost a log. A delivery that skips a position (a lost message while
 *     connected) or names a new epoch (the store lost that log) makes the mirror fall behind:
 *     untrusted until it has read what it missed.
 *   - any other store: its whole `snapshot()`.
 * - Mirror → store. `publish()` applies locally, then writes. A write that fails (Redis `OOM`, a
 *   timeout) is kept in `unpublished` and retried in the background (backoff with jitter, at once
 *   on reconnect) until it lands; writes are idempotent merges, so a late landing plus a retry is
 *   harmless. A failed write says nothing about the mirror's freshness (the subscription may be
 *   fine), so it never starts the staleness clock: only losing the subscription does.
 *
 * Trust (see {@link StoreMirror.accepts}): the mirror is trusted while fresh (subscribed and
 * resynced since the last connect, and not behind). Cut off from the store after a sync, it stays
 * trusted for `maxStaleness` under `fail-closed` (the documented staleness window; for ever under
 * `fail-open`). Never synced, reconnected and not resynced yet, or behind: never trusted, whatever
 * the policy (an empty or incomplete mirror would accept revoked tokens); verifications wait up
 * to `syncTimeoutMs` for the sync, then get 503.
 */
import {
  mergeRevocation,
  revocationTarget,
  type AvailabilityPolicy,
  type ChangeCursor,
  type ChangePosition,
  type Revocation,
  type RevocationChangeLog,
  type RevocationChanges,
  type RevocationStore,
} from '../../stores/revocation-store.js';
import { RevocationPendingError, StoreUnavailableError } from '../shared/errors.js';
import type { VerifierEvents } from '../shared/events.js';
import { unrefTimer } from '../shared/unref-timer.js';
import { RevocationList } from './revocation-list.js';

/**
 * How this instance's mirror of the revocation store stands, as `verifier.stats().revocation.store`
 * reports it: whether it is in sync, connected and trusted, and what waits to be written.
 *
 * @example
 * ```ts
 * import type { StoreMirrorStats } from 'revocable-jwt';
 * const store: StoreMirrorStats = verifier.stats().revocation.store;
 * if (!store.trusted) log.warn({ since: store.unavailableSince, error: store.lastError }, 'revocation store lost');
 * if (store.unpublished > 0) log.warn({ unpublished: store.unpublished }, 'revocations not yet shared');
 * ```
 */
export interface StoreMirrorStats {
  /**
   * True only while mirror and store agree both ways: the subscription is up, the mirror has
   * resynced since the last (re)connect, and nothing is waiting in `unpublished`.
   */
  synced: boolean;
  /** Whether the store's subscription is up (always true for an in-process store). */
  connected: boolean;
  /** Whether verifications trust the mirror right now without waiting (see the staleness window). */
  trusted: boolean;
  /** Epoch ms since when the mirror has not been known fresh (never synced, or lost the store), if so. */
  unavailableSince: number | undefined;
  /** Revocations applied locally that the store has not confirmed yet; retried until it does. */
  unpublished: number;
  /** Completed syncs of the mirror from a store snapshot: the first one, then one per reconnect. */
  resyncs: number;
  /** The last store error (a failed write or resync), cleared by the next success. */
  lastError: string | undefined;
}

const ALWAYS_AVAILABLE: AvailabilityPolicy = { onUnavailable: 'fail-open', maxStalenessMs: Infinity };
/** How long verifications wait for a (re)sync when the policy does not say. */
export const DEFAULT_SYNC_TIMEOUT_MS = 5_000;
const RETRY_BASE_MS = 100;
/** Unpublished revocations written at once (after the first, a probe). */
const FLUSH_CHUNK = 2_048;
const RETRY_MAX_MS = 2_000;

export interface StoreMirrorHooks {
  /** Every revocation applied, from anywhere: evict cache entries it covers. */
  onApply(revocation: Revocation): void;
  /** Where `revoked`, `store-unavailable` and `store-resynced` are reported. */
  events: VerifierEvents;
}

export class StoreMirror {
  readonly list = new RevocationList();
  private readonly policy: AvailabilityPolicy;
  private readonly syncTimeoutMs: number;
  private readonly unpublished = new Map<string, Revocation>();
  private readonly cleanups: Array<() => void> = [];
  private readonly waiters = new Set<() => void>();
  /** The subscription is up (a store without `watch` is always connected). */
  private connected: boolean;
  /** Connected and resynced since: the mirror holds everything the store does. */
  private fresh = false;
  private everSynced = false;
  /** Bumped on every connection change, so a resync that straddles one does not count. */
  private epoch = 0;
  private unavailableSince: number | undefined;
  private announced = false;
  /** Until when (performance.now() ms) a verification waits for a sync instead of failing. */
  private waitUntil: number;
  private running = false;
  private again = false;
  private failures = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private startupTimer: NodeJS.Timeout | undefined;
  private lastError: string | undefined;
  private resyncs = 0;
  private closed = false;
  /** Tags our publishes so their echo from the store is not counted as news. */
  private readonly origin = crypto.randomUUID();
  /** The store's change log, if it has one. */
  private readonly changeLog: RevocationChangeLog | undefined;
  /** Per log, the position of the last change the mirror holds; undefined: read everything next. */
  private cursor: Map<string, { epoch: string; seq: number }> | undefined;
  /** Per log, positions delivered beyond the cursor (seq → epoch): expected while a read runs. */
  private readonly ahead = new Map<string, Map<number, string>>();
  /** A read of the change log is under way. */
  private reading = false;
  /** Bumped when the cursor is dropped (the store lost a log), so a read under way does not restore it. */
  private cursorResets = 0;

  constructor(
    private readonly store: RevocationStore,
    private readonly clock: () => number,
    private readonly hooks: StoreMirrorHooks,
  ) {
    this.policy = store.availability ?? ALWAYS_AVAILABLE;
    this.syncTimeoutMs = this.policy.syncTimeoutMs ?? DEFAULT_SYNC_TIMEOUT_MS;
    this.connected = !store.watch;
    this.waitUntil = performance.now() + this.syncTimeoutMs;
    this.changeLog = store.changeLog;
    this.cleanups.push(
      store.subscribe((revocation, meta) => {
        this.applyLocally(revocation);
        if (this.unpublished.size > 0) this.delivered(revocation);
        if (meta.position !== undefined) this.follow(meta.position);
        if (meta.origin !== this.origin) {
          const lag = meta.publishedAt !== undefined ? Math.max(0, this.clock() - meta.publishedAt) : undefined;
          this.hooks.events.emit('revoked', { type: revocation.type, source: 'store', lagMs: lag });
        }
      }),
    );
    if (store.watch) {
      this.unavailableSince = clock(); // a shared store is unknown until it connects and syncs
      // A store that never answers (no refusal, no connect) is announced once the wait is over.
      this.startupTimer = setTimeout(() => this.everSynced || this.markUnavailable(), this.syncTimeoutMs);
      unrefTimer(this.startupTimer);
      this.cleanups.push(
        store.watch((status) => (status === 'connected' ? this.onConnected() : this.onDisconnected())),
      );
    }
    this.kick();
  }

  /**
   * Applies locally now, then writes to the store. Resolves once the store has it; otherwise
   * rejects with {@link RevocationPendingError} (after the store's own bounded wait, e.g. Redis
   * `commandTimeout`): the local revocation stands and the write is retried until it lands.
   */
  async publish(revocation: Revocation): Promise<void> {
    this.applyLocally(revocation);
    this.hooks.events.emit('revoked', { type: revocation.type, source: 'local', lagMs: undefined });
    try {
      await this.store.publish(revocation, this.origin);
    } catch (error) {
      this.keep(revocation, error);
      throw this.pendingError(error);
    }
    const target = revocationTarget(revocation);
    const waiting = this.unpublished.get(target);
    if (waiting !== undefined && covers(revocation, waiting)) this.unpublished.delete(target);
  }

  /**
   * Whether verifications may trust the mirror right now, without waiting: fresh; or cut off
   * after a sync and within the staleness window (`fail-closed`: `maxStaleness` since the store
   * was lost; `fail-open`: always). Never synced, or reconnected but not resynced: false.
   * Allocation-free: it sits on the cache-hit path.
   */
  accepts(now: number): boolean {
    if (this.fresh) return true;
    if (!this.everSynced || this.connected) return false;
    return this.policy.onUnavailable === 'fail-open' || now - this.unavailableSince! <= this.policy.maxStalenessMs;
  }

  /**
   * The slow path behind {@link accepts}: waits (bounded by the sync timeout, counted from the
   * last (re)connect, from start, or from falling behind) for a sync that is under way, then
   * resolves if the mirror may be used, or rejects with StoreUnavailableError. `fail-open` does
   * not make a mirror that never synced, or is behind, usable: only one cut off after a sync.
   */
  async whenTrusted(): Promise<void> {
    if (this.accepts(this.clock())) return;
    const waitMs = this.waitUntil - performance.now();
    if (waitMs > 0 && !this.closed && (this.connected || !this.everSynced)) await this.waitForFresh(waitMs);
    if (this.accepts(this.clock())) return;
    throw new StoreUnavailableError(Math.ceil(this.syncTimeoutMs / 1000));
  }

  stats(): StoreMirrorStats {
    return {
      synced: this.fresh && this.unpublished.size === 0,
      connected: this.connected,
      trusted: this.accepts(this.clock()),
      unavailableSince: this.unavailableSince,
      unpublished: this.unpublished.size,
      resyncs: this.resyncs,
      lastError: this.lastError,
    };
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.retryTimer);
    clearTimeout(this.startupTimer);
    for (const cleanup of this.cleanups.splice(0)) cleanup();
    this.wake();
  }

  private onConnected(): void {
    this.connected = true;
    this.epoch++;
    this.fresh = false; // may have missed publishes: not trusted until resynced
    this.waitUntil = performance.now() + this.syncTimeoutMs;
    this.failures = 0;
    this.kick();
  }

  private onDisconnected(): void {
    this.connected = false;
    this.epoch++;
    this.fresh = false;
    this.markUnavailable();
  }

  /** Runs the repair loop now (resync if needed, then flush unpublished); one run at a time. */
  private kick(): void {
    if (this.closed) return;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    void this.repair();
  }

  private async repair(): Promise<void> {
    let ok = false;
    try {
      do {
        this.again = false;
        ok = true;
        // Connected but not fresh: a (re)connect, or a resync that failed or straddled a reconnect.
        if (this.connected && !this.fresh) ok = await this.resync();
        if (this.unpublished.size > 0) ok = (await this.flush()) && ok;
      } while (this.again && !this.closed);
    } finally {
      this.running = false; // in the same tick as the last check of `again`: no kick is lost
    }
    if (this.closed) return;
    if (ok && this.unpublished.size === 0) this.failures = 0;
    else this.retryLater();
  }

  private resync(): Promise<boolean> {
    return this.changeLog === undefined ? this.resyncFromSnapshot() : this.resyncFromLog(this.changeLog);
  }

  /**
   * Reads the change log from the cursor (everything, when there is no cursor or the store says
   * so), applies it, and moves the cursor: to the read's end, or further if deliveries that came
   * meanwhile follow on from it. Positions still ahead of the cursor after that were skipped by
   * a lost delivery: the mirror stays behind and reads again.
   */
  private async resyncFromLog(changeLog: RevocationChangeLog): Promise<boolean> {
    const epoch = this.epoch;
    const resets = this.cursorResets;
    this.reading = true;
    try {
      const now = this.clock();
      const changes = await changeLog.read(this.cursor === undefined ? undefined : cursorOf(this.cursor), now);
      if (epoch !== this.epoch || this.closed) return true; // a newer connect asks again; a disconnect waits for one
      let healed = 0;
      if (!changes.complete || this.list.isEmpty) this.applyChanges(changes);
      else healed = this.mergeSnapshot(this.listOf(changes), now);
      if (resets !== this.cursorResets) {
        this.again = true; // the store lost a log while we read: read everything again
        return true;
      }
      const again = this.moveCursor(changes.cursor, changeLog.contiguous);
      if (again || this.behindCursor()) {
        this.again = true;
        return true;
      }
      const entries = changes.revocations.length + (changes.tokens?.count ?? 0);
      this.synced(entries, healed);
      return true;
    } catch (error) {
      this.lastError = describe(error);
      return false;
    } finally {
      this.reading = false;
    }
  }

  /** Applies what a read found straight to the mirror (changes, or everything into an empty mirror). */
  private applyChanges(changes: RevocationChanges): void {
    if (changes.tokens) this.list.applyTokens(changes.tokens.digests, changes.tokens.expiresAt, changes.tokens.count);
    for (const revocation of changes.revocations) this.applyLocally(revocation);
  }

  /** What a complete read holds, as a list (sized for its tokens at once). */
  private listOf(changes: RevocationChanges): RevocationList {
    const list = new RevocationList(changes.tokens?.count ?? 0);
    if (changes.tokens) list.applyTokens(changes.tokens.digests, changes.tokens.expiresAt, changes.tokens.count);
    for (const revocation of changes.revocations) list.apply(revocation);
    return list;
  }

  /**
   * A delivery's position: moves the cursor on when it is the next change of its log (or, for a
   * store that numbers with gaps, any later one once the mirror is fresh); a new epoch means the
   * store lost that log (read everything again); a position past the next one means a delivery was
   * lost, unless a read is under way (which covers it, or leaves it to the next).
   *
   * Why a log with gaps moves the cursor only while fresh: its positions cannot show a lost
   * delivery, so a delivery proves the changes before it only to a mirror that has read since
   * it last connected (what was committed before that read is in it, what came after was
   * delivered). Until then, deliveries wait beside the cursor and the read takes the newest.
   */
  private follow(position: ChangePosition): void {
    const changeLog = this.changeLog;
    if (changeLog === undefined || this.closed) return;
    const at = this.cursor?.get(position.log);
    if (at !== undefined && at.epoch !== '' && at.epoch !== position.epoch) {
      this.cursor = undefined;
      this.cursorResets++;
      this.ahead.clear();
      this.fallBehind();
      return;
    }
    if (at !== undefined && position.seq <= at.seq) return;
    // Numbers with gaps say nothing by their distance (a position one past the cursor may still
    // follow a change this mirror missed while away): only freshness lets such a delivery count.
    if (at !== undefined && (changeLog.contiguous ? position.seq === at.seq + 1 : this.fresh)) {
      at.epoch = position.epoch;
      at.seq = position.seq;
      this.drain(position.log, at);
      return;
    }
    const pending = this.ahead.get(position.log) ?? new Map<number, string>();
    this.ahead.set(position.log, pending);
    if (!changeLog.contiguous) {
      // Only the newest of an epoch counts (see moveCursor): keep one.
      for (const [seq, epoch] of pending) if (epoch === position.epoch && seq < position.seq) pending.delete(seq);
    }
    pending.set(position.seq, position.epoch);
    // A gap shows a lost delivery only where numbers are contiguous; elsewhere the next read takes it.
    if (changeLog.contiguous && !this.reading && this.cursor !== undefined) this.fallBehind();
  }

  /**
   * The read's cursor, or (same epoch) the live one where deliveries already went further. True
   * when the read must be repeated: a store with gaps delivered positions of another epoch than
   * the read's (its log started over before or after the read: the next read tells which).
   */
  private moveCursor(read: ChangeCursor, contiguous: boolean): boolean {
    let again = false;
    const next = new Map<string, { epoch: string; seq: number }>();
    for (const position of Object.values(read)) {
      const live = this.cursor?.get(position.log);
      const further = live !== undefined && live.epoch === position.epoch && live.seq > position.seq;
      const at = further ? { ...live } : { epoch: position.epoch, seq: position.seq };
      if (!contiguous) {
        // Deliveries of such a store come in order and none is lost while connected, and this read
        // started after the last connect: the newest delivered counts.
        const pending = this.ahead.get(position.log);
        for (const [seq, epoch] of pending ?? []) {
          if ((epoch === at.epoch || at.epoch === '') && seq > at.seq) Object.assign(at, { epoch, seq });
        }
        for (const [seq, epoch] of pending ?? []) {
          if (epoch === at.epoch) continue;
          pending!.delete(seq);
          again = true;
        }
      }
      next.set(position.log, at);
      this.drain(position.log, at);
    }
    this.cursor = next;
    return again;
  }

  /** Moves `at` over the delivered positions that follow on from it; forgets those it passed. */
  private drain(log: string, at: { epoch: string; seq: number }): void {
    const pending = this.ahead.get(log);
    if (pending === undefined) return;
    for (;;) {
      const epoch = pending.get(at.seq + 1);
      if (epoch === undefined || (at.epoch !== '' && epoch !== at.epoch)) break;
      pending.delete(at.seq + 1);
      at.epoch = epoch;
      at.seq++;
    }
    for (const seq of pending.keys()) if (seq <= at.seq) pending.delete(seq);
    if (pending.size === 0) this.ahead.delete(log);
  }

  /** Whether deliveries beyond the cursor remain that do not follow on from it (one was lost). */
  private behindCursor(): boolean {
    return this.ahead.size > 0;
  }

  /** A lost delivery or a lost log: not trusted until the mirror has read what it missed. */
  private fallBehind(): void {
    if (this.closed || !this.connected) return; // the next connect resyncs anyway
    if (this.fresh) {
      this.fresh = false;
      this.waitUntil = performance.now() + this.syncTimeoutMs;
    }
    this.kick();
  }

  private async resyncFromSnapshot(): Promise<boolean> {
    const epoch = this.epoch;
    try {
      const now = this.clock();
      const snapshot = await this.store.snapshot(now);
      if (epoch !== this.epoch || this.closed) return true; // a newer connect asks again; a disconnect waits for one
      const inStore = new RevocationList(snapshot.length);
      for (const revocation of snapshot) inStore.apply(revocation);
      const healed = this.mergeSnapshot(inStore, now);
      this.synced(snapshot.length, healed);
      return true;
    } catch (error) {
      this.lastError = describe(error);
      return false;
    }
  }

  /**
   * Merges a store's complete snapshot into the mirror, and heals the store: whatever we know that
   * it lost (a restart without persistence), or holds only in an older form (an earlier cutoff for
   * the same subject), goes back through the same retrying path as any other write; the store
   * merges, so a later cutoff wins there too. Returns how many revocations go back.
   */
  private mergeSnapshot(inStore: RevocationList, now: number): number {
    const heal = this.list.notCoveredBy(inStore, now);
    this.list.merge(inStore, (cutoff) => this.hooks.onApply(cutoff));
    // From a random place in the list: instances that heal one store together start apart, and
    // each drops what the others' deliveries show written.
    const start = Math.floor(Math.random() * heal.length);
    for (let i = 0; i < heal.length; i++) this.remember(heal[(start + i) % heal.length]!);
    return heal.length;
  }

  private synced(entries: number, healed: number): void {
    this.fresh = true;
    this.everSynced = true;
    this.unavailableSince = undefined;
    this.announced = false;
    this.lastError = undefined;
    this.resyncs++;
    this.wake();
    this.hooks.events.emit('store-resynced', { entries, healed });
  }

  /** Writes every unpublished revocation: one first as a probe, then the rest together. */
  /**
   * Writes every unpublished revocation: one first as a probe, then the rest in chunks. Between
   * chunks, whatever another instance wrote meanwhile (its delivery reached us) has left
   * `unpublished`: instances healing the same store together share the work.
   */
  private async flush(): Promise<boolean> {
    const first = this.unpublished.entries().next();
    if (first.done) return true;
    if (!(await this.send(first.value[0], first.value[1]))) return false;
    while (this.unpublished.size > 0 && !this.closed) {
      const chunk: Array<[string, Revocation]> = [];
      for (const entry of this.unpublished) {
        chunk.push(entry);
        if (chunk.length === FLUSH_CHUNK) break;
      }
      const results = await Promise.all(chunk.map(([target, revocation]) => this.send(target, revocation)));
      if (!results.every(Boolean)) return false;
    }
    return true;
  }

  private async send(target: string, revocation: Revocation): Promise<boolean> {
    try {
      await this.store.publish(revocation, this.origin);
    } catch (error) {
      this.lastError = describe(error);
      return false;
    }
    // A newer merge for the same target may have arrived meanwhile: it stays for the next round.
    if (this.unpublished.get(target) === revocation) this.unpublished.delete(target);
    if (this.unpublished.size === 0) this.lastError = undefined;
    return true;
  }

  /** A delivery is a write the store has: nothing of ours it covers needs writing any more. */
  private delivered(revocation: Revocation): void {
    const target = revocationTarget(revocation);
    const waiting = this.unpublished.get(target);
    if (waiting !== undefined && covers(revocation, waiting)) this.unpublished.delete(target);
  }

  private keep(revocation: Revocation, error: unknown): void {
    this.remember(revocation);
    this.lastError = describe(error);
    if (!this.running && this.retryTimer === undefined) this.retryLater();
  }

  private remember(revocation: Revocation): void {
    const target = revocationTarget(revocation);
    this.unpublished.set(target, mergeRevocation(this.unpublished.get(target), revocation));
  }

  /** Exponential backoff with jitter (half to full delay), so instances do not retry in step. */
  private retryLater(): void {
    if (this.closed) return;
    clearTimeout(this.retryTimer);
    this.failures++;
    this.retryTimer = setTimeout(() => this.kick(), this.nextDelay() * (0.5 + Math.random() / 2));
    unrefTimer(this.retryTimer);
  }

  private nextDelay(): number {
    return Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** Math.max(0, this.failures - 1));
  }

  private pendingError(cause: unknown): RevocationPendingError {
    return new RevocationPendingError(Math.ceil(this.nextDelay() / 1000), cause === undefined ? undefined : { cause });
  }

  private waitForFresh(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.waiters.add(done);
    });
  }

  private wake(): void {
    for (const done of [...this.waiters]) done();
  }

  private applyLocally(revocation: Revocation): void {
    this.list.apply(revocation);
    this.hooks.onApply(revocation);
  }

  private markUnavailable(): void {
    this.unavailableSince ??= this.clock();
    if (this.announced) return;
    this.announced = true;
    this.hooks.events.emit('store-unavailable', { since: this.unavailableSince });
  }
}

/** Whether having published `a` makes publishing `b` unnecessary (same target, merged in). */
function covers(a: Revocation, b: Revocation): boolean {
  if (a.type !== b.type || a.expiresAt < b.expiresAt) return false;
  return a.type === 'token' || a.cutoff >= (b as { cutoff: number }).cutoff;
}

function cursorOf(cursor: Map<string, { epoch: string; seq: number }>): ChangeCursor {
  const out: Record<string, ChangePosition> = {};
  for (const [log, { epoch, seq }] of cursor) out[log] = { log, epoch, seq };
  return out;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
