/**
 * The store mirror on a change log whose positions have gaps (`contiguous: false`, as PostgreSQL's
 * transaction horizons), deterministically: a scripted log in this file numbers its changes 10, 20,
 * 30 …, delivers each with its position while connected (and loses it while not), and answers a
 * read from a cursor with the changes after it, or everything from a cursor of another epoch or
 * past its end. Timers are Jest's fake ones, the jitter pinned. The same mirror on the real
 * PostgreSQL store under faults is in test/stores/postgres-faults.test.ts.
 */
import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { performance } from 'node:perf_hooks';
import {
  createMemoryStore,
  type Revocation,
  type RevocationChanges,
  type RevocationListener,
  type RevocationStore,
  type StoreStatus,
} from '../../../src/index.js';
import { StoreMirror } from '../../../src/core/revoke/store-mirror.js';
import { VerifierEvents } from '../../../src/core/shared/events.js';
import { testClock } from '../../support/idp.js';

const settle = () => new Promise((resolve) => setImmediate(resolve));

beforeEach(() => {
  jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });
  jest.spyOn(performance, 'now').mockImplementation(() => jest.now());
  jest.spyOn(Math, 'random').mockReturnValue(1); // retry delays without jitter: 100, 200, 400 … ms
});
const closers: Array<() => void> = [];
afterEach(() => {
  for (const close of closers.splice(0)) close();
  jest.restoreAllMocks();
  jest.useRealTimers();
});

const revoked = (key: string): Revocation => ({ type: 'token', key, expiresAt: 2_000_000_000_000 });

/** A shared store whose change log numbers with gaps, and switches to drive it. */
function gappedStore(clock: () => number) {
  const backing = createMemoryStore({ clock });
  const listeners = new Set<RevocationListener>();
  const watchers = new Set<(status: StoreStatus) => void>();
  let log: Array<{ seq: number; revocation: Revocation }> = [];
  let epoch = 'e1';
  let next = 10;
  let connected = false;
  let readError: Error | undefined;
  let hold: Promise<void> | undefined;
  const reads: Array<{ from: number | undefined; complete: boolean; changes: number }> = [];
  const announce = (status: StoreStatus) => {
    connected = status === 'connected';
    for (const watcher of [...watchers]) watcher(status);
  };
  const store: RevocationStore = {
    availability: { onUnavailable: 'fail-closed', maxStalenessMs: 10_000, syncTimeoutMs: 2_000 },
    outbox: backing.outbox,
    claimOnce: (key, ttlMs) => backing.claimOnce(key, ttlMs),
    async publish(revocation, origin) {
      const seq = next;
      next += 10;
      log.push({ seq, revocation });
      const meta = { ...(origin ? { origin } : {}), position: { log: 't', epoch, seq } };
      if (connected) for (const listener of [...listeners]) listener(revocation, meta);
    },
    snapshot: async () => log.map((c) => c.revocation),
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    watch(watcher) {
      watchers.add(watcher);
      return () => watchers.delete(watcher);
    },
    changeLog: {
      contiguous: false,
      async read(cursor): Promise<RevocationChanges> {
        if (readError) throw readError;
        // A held read takes its snapshot when released (as a read whose transaction started late).
        const gate = hold;
        hold = undefined;
        if (gate) await gate;
        const at = cursor?.t;
        const end = log.at(-1)?.seq ?? 0;
        const complete = at === undefined || at.epoch !== epoch || at.seq > end;
        const changes = complete ? log : log.filter((c) => c.seq > at.seq);
        reads.push({ from: at?.seq, complete, changes: changes.length });
        return {
          complete,
          revocations: changes.map((c) => c.revocation),
          cursor: { t: { log: 't', epoch, seq: end } },
        };
      },
    },
    close: () => backing.close(),
  };
  return {
    store,
    reads,
    connect: () => announce('connected'),
    disconnect: () => announce('disconnected'),
    failReads: (error?: Error) => (readError = error),
    holdNextRead() {
      let release!: () => void;
      hold = new Promise<void>((resolve) => (release = resolve));
      return release;
    },
    /** The log starts over (another history): a new epoch, numbers from `from`. */
    startOver(newEpoch: string, from: number) {
      log = [];
      epoch = newEpoch;
      next = from;
    },
  };
}

function setup() {
  const clock = testClock();
  const scripted = gappedStore(clock);
  const events = new VerifierEvents();
  const resynced: number[] = [];
  events.on('store-resynced', ({ entries }) => resynced.push(entries));
  const mirror = new StoreMirror(scripted.store, clock, { onApply: () => undefined, events });
  closers.push(() => mirror.close());
  const holds = (key: string) => mirror.list.isDenylisted(key, clock());
  return { ...scripted, clock, mirror, resynced, holds };
}

describe('a change log with gaps', () => {
  it('deliveries move the cursor while fresh: a reconnect reads only what was missed while away', async () => {
    const { store, reads, connect, disconnect, mirror, resynced, holds } = setup();
    connect();
    await settle();
    for (const key of ['a', 'b', 'c', 'd']) await store.publish(revoked(key));
    disconnect();
    await store.publish(revoked('missed')); // seq 50, lost
    connect();
    await settle();
    expect(reads).toEqual([
      { from: undefined, complete: true, changes: 0 },
      { from: 40, complete: false, changes: 1 },
    ]);
    expect(resynced).toEqual([0, 1]);
    expect(holds('missed')).toBe(true);
    expect(mirror.stats().synced).toBe(true);
  });

  it('a delivery after a reconnect, before the read that follows it, does not move the cursor past what was missed', async () => {
    const { store, reads, connect, disconnect, failReads, mirror, holds } = setup();
    connect();
    await settle();
    await store.publish(revoked('seen')); // 10, delivered: the cursor follows
    disconnect();
    await store.publish(revoked('missed')); // 20, lost
    failReads(new Error('read timed out'));
    connect(); // the read fails; the next is 100 ms away
    await settle();
    expect(mirror.stats()).toMatchObject({ synced: false, lastError: 'read timed out' });
    await store.publish(revoked('after')); // 30, delivered while the mirror is not fresh
    failReads();
    await jest.advanceTimersByTimeAsync(100);
    // Read from 10, where the mirror stood when it reconnected, not from 30: 'missed' is in it.
    expect(reads.at(-1)).toEqual({ from: 10, complete: false, changes: 2 });
    expect(holds('missed')).toBe(true);
    expect(mirror.stats().synced).toBe(true);
    // And the cursor took the newest delivered position: the next read starts there.
    disconnect();
    connect();
    await settle();
    expect(reads.at(-1)).toEqual({ from: 30, complete: false, changes: 0 });
  });

  it('deliveries during a read wait beside the cursor; the read then takes the newest', async () => {
    const { store, reads, connect, disconnect, holdNextRead, mirror } = setup();
    connect();
    await settle();
    await store.publish(revoked('a')); // 10
    disconnect();
    const release = holdNextRead();
    connect(); // reads from 10, ends at 10
    await settle();
    await store.publish(revoked('b')); // 20, delivered during the read
    await store.publish(revoked('c')); // 30
    release();
    await settle();
    expect(mirror.stats().synced).toBe(true);
    disconnect();
    connect();
    await settle();
    expect(reads.map((r) => r.from)).toEqual([undefined, 10, 30]);
  });

  it('a position of a log that started over (another history) delivered during the first read: dropped, read once more, then trusted', async () => {
    const { store, reads, connect, holdNextRead, startOver, mirror, holds } = setup();
    for (const key of ['a', 'b', 'c']) await store.publish(revoked(key)); // e1: 10 … 30, before we connect
    const release = holdNextRead();
    connect(); // the first read, held
    await settle();
    await store.publish(revoked('d')); // e1 40, delivered while there is no cursor yet
    startOver('e2', 5); // the log is lost and starts over, lower
    await store.publish(revoked('e')); // e2 5, delivered too
    release(); // the read sees e2: everything, up to 5
    await settle();
    await jest.advanceTimersByTimeAsync(0);
    // e1's 40 cannot follow on from e2's 5: one more read (of nothing new), not a read for ever.
    expect(reads.map((r) => [r.from, r.complete])).toEqual([
      [undefined, true],
      [5, false],
    ]);
    expect(mirror.stats().synced).toBe(true);
    for (const key of ['d', 'e']) expect(holds(key)).toBe(true);
  });
});
