/**
 * A shared store whose connection, writes and snapshots a test controls, for the store mirror's
 * states without Redis: the real memory store underneath (so what is published is stored and
 * snapshotted), plus `watch` and an availability policy like a shared store's, and switches to
 * disconnect it (deliveries are then lost, as with a dropped subscription), refuse its writes,
 * hold its next snapshot or its replay claims at a gate, or restart it empty.
 */
import {
  createMemoryStore,
  type AvailabilityPolicy,
  type Revocation,
  type RevocationListener,
  type RevocationStore,
  type StoreStatus,
} from '../../src/index.js';

export interface ScriptedStore extends RevocationStore {
  /** Announces `connected` (the subscription is up) to every watcher. */
  connect(): void;
  disconnect(): void;
  /** Writes reject with this error until called again without one. */
  failWrites(error?: Error): void;
  /** Snapshots reject with this error until called again without one. */
  failSnapshots(error?: Error): void;
  /** Holds the next snapshot (read, not yet returned) until the returned function is called. */
  holdNextSnapshot(): () => void;
  /**
   * Holds every `claimOnce` (made, not yet answered: a round trip in flight) until the returned
   * function is called; `claimsHeld` counts those waiting.
   */
  holdClaims(): () => void;
  readonly claimsHeld: number;
  /** Another instance's write: stored, and delivered to this store's subscribers if connected. */
  publishElsewhere(revocation: Revocation): Promise<void>;
  /** Loses everything, as a store restarted without persistence (call it while disconnected). */
  restartEmpty(): void;
  /** Every publish attempt, in order, whether it landed or not. */
  readonly writes: Array<{ revocation: Revocation; landed: boolean }>;
  readonly snapshots: number;
}

export function scriptedStore(policy: AvailabilityPolicy, clock: () => number): ScriptedStore {
  let backing = createMemoryStore({ clock });
  const watchers = new Set<(status: StoreStatus) => void>();
  const listeners = new Set<RevocationListener>();
  let connected = false;
  const deliver: RevocationListener = (revocation, meta) => {
    if (!connected) return; // no subscription: the delivery is lost
    for (const listener of [...listeners]) listener(revocation, meta);
  };
  backing.subscribe(deliver);
  const writes: ScriptedStore['writes'] = [];
  let writeError: Error | undefined;
  let snapshotError: Error | undefined;
  let hold: Promise<void> | undefined;
  let claimGate: Promise<void> | undefined;
  let claimsHeld = 0;
  let snapshots = 0;
  return {
    availability: policy,
    get outbox() {
      return backing.outbox;
    },
    async claimOnce(key, ttlMs) {
      const claimed = await backing.claimOnce(key, ttlMs);
      const gate = claimGate;
      if (gate) {
        claimsHeld++;
        await gate;
        claimsHeld--;
      }
      return claimed;
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    async publish(revocation, origin) {
      const error = writeError;
      writes.push({ revocation, landed: error === undefined });
      if (error) throw error;
      await backing.publish(revocation, origin);
    },
    async snapshot(now) {
      snapshots++;
      if (snapshotError) throw snapshotError;
      const result = await backing.snapshot(now);
      const gate = hold;
      hold = undefined;
      if (gate) await gate;
      return result;
    },
    watch(listener) {
      watchers.add(listener);
      return () => watchers.delete(listener);
    },
    close: () => backing.close(),
    connect: () => {
      connected = true;
      for (const watcher of [...watchers]) watcher('connected');
    },
    disconnect: () => {
      connected = false;
      for (const watcher of [...watchers]) watcher('disconnected');
    },
    publishElsewhere: (revocation) => backing.publish(revocation, 'another-instance'),
    restartEmpty() {
      backing = createMemoryStore({ clock });
      backing.subscribe(deliver);
    },
    failWrites(error) {
      writeError = error;
    },
    failSnapshots(error) {
      snapshotError = error;
    },
    holdNextSnapshot() {
      let release!: () => void;
      hold = new Promise<void>((resolve) => (release = resolve));
      return release;
    },
    holdClaims() {
      let release!: () => void;
      claimGate = new Promise<void>((resolve) => (release = resolve));
      return () => {
        claimGate = undefined;
        release();
      };
    },
    get claimsHeld() {
      return claimsHeld;
    },
    writes,
    get snapshots() {
      return snapshots;
    },
  };
}
