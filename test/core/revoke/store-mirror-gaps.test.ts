/**
 * The store mirror on a change log whose positions have gaps (`contiguous: false`), modelled on the
 * PostgreSQL store's, deterministically: a scripted log in this file gives each change an id (1, 2,
 * 3 …, like transaction ids) and reads `id >= cursor` with the next id as the new cursor (a
 * transaction horizon); a delivery carries its writer's horizon (its id + 1, or lower for a writer
 * that ran beside an older one) while connected, and is lost while not; a cursor of another epoch
 * or past the end gets everything. Timers are Jest's fake ones, the jitter pinned. The same mirror
 * on the real PostgreSQL store under faults is in test/stores/postgres-faults.test.ts.
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

/** A shared store whose change log reads by horizon (as PostgreSQL's), and switches to drive it. */
function horizonStore(clock: () => number) {
  const backing = createMemoryStore({ clock });
  const listeners = new Set<RevocationListener>();
  const watchers = new Set<(status: StoreStatus) => void>();
  let log: Array<{ id: number; revocation: Revocation }> = [];
  let epoch = 'e1';
  let nextId = 1;
  let connected = false;
  let readError: Error | undefined;
  let hold: Promise<void> | undefined;
  const reads: Array<{ from: number | undefined; complete: boolean; changes: number }> = [];
  const announce = (status: StoreStatus) => {
    connected = status === 'connected';
    for (const watcher of [...watchers]) watcher(status);
  };
  /** Writes a change; delivers it (if connected) with `horizon`, by default its id + 1. */
  const write = (revocation: Revocation, horizon?: number) => {
    const id = nextId++;
    log.push({ id, revocation });
    const meta = { position: { log: 't', epoch, seq: horizon ?? id + 1 } };
    if (connected) for (const listener of [...listeners]) listener(revocation, meta);
  };
  const store: RevocationStore = {
    availability: { onUnavailable: 'fail-closed', maxStalenessMs: 10_000, syncTimeoutMs: 2_000 },
    outbox: backing.outbox,
    claimOnce: (key, ttlMs) => backing.claimOnce(key, ttlMs),
    publish: async (revocation) => write(revocation),
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
        const complete = at === undefined || at.epoch !== epoch || at.seq > nextId;
        const changes = complete ? log : log.filter((c) => c.id >= at.seq);
        reads.push({ from: at?.seq, complete, changes: changes.length });
        const position = { log: 't', epoch, seq: nextId };
        return { complete, revocations: changes.map((c) => c.revocation), cursor: { t: position } };
      },
    },
    close: () => backing.close(),
  };
  return {
    store,
    reads,
    write,
    connect: () => announce('connected'),
    disconnect: () => announce('disconnected'),
    failReads: (error?: Error) => (readError = error),
    holdNextRead() {
      let release!: () => void;
      hold = new Promise<void>((resolve) => (release = resolve));
      return release;
    },
    /** The log starts over (another history): a new epoch, ids from `from`. */
    startOver(newEpoch: string, from: number) {
      log = [];
      epoch = newEpoch;
      nextId = from;
    },
  };
}

function setup() {
  const clock = testClock();
  const scripted = horizonStore(clock);
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
    const { write, reads, connect, disconnect, mirror, resynced, holds } = setup();
    connect();
    await settle();
    for (const key of ['a', 'b', 'c', 'd']) write(revoked(key)); // ids 1 … 4, the last delivered at 5
    disconnect();
    write(revoked('missed')); // id 5, lost
    connect();
    await settle();
    expect(reads).toEqual([
      { from: undefined, complete: true, changes: 0 },
      { from: 5, complete: false, changes: 1 },
    ]);
    expect(resynced).toEqual([0, 1]);
    expect(holds('missed')).toBe(true);
    expect(mirror.stats().synced).toBe(true);
  });

  it('a delivery after a reconnect, before the read that follows it, does not carry the cursor past what was missed', async () => {
    const { write, reads, connect, disconnect, failReads, mirror, holds } = setup();
    connect();
    await settle();
    write(revoked('seen')); // id 1, delivered at 2: the cursor follows
    disconnect();
    write(revoked('missed')); // id 2, lost
    failReads(new Error('read timed out'));
    connect(); // the read fails; the next is 100 ms away
    await settle();
    expect(mirror.stats()).toMatchObject({ synced: false, lastError: 'read timed out' });
    // id 3, from a writer that ran beside an older one: its horizon is 3, one past the cursor,
    // which says nothing about id 2.
    write(revoked('after'), 3);
    failReads();
    await jest.advanceTimersByTimeAsync(100);
    // Read from 2, where the mirror stood when it reconnected: 'missed' is in it.
    expect(reads.at(-1)).toEqual({ from: 2, complete: false, changes: 2 });
    expect(holds('missed')).toBe(true);
    expect(mirror.stats().synced).toBe(true);
  });

  it('deliveries during a read wait beside the cursor; the read then takes the newest', async () => {
    const { write, reads, connect, disconnect, holdNextRead, mirror } = setup();
    connect();
    await settle();
    write(revoked('a')); // id 1, delivered at 2
    disconnect();
    const release = holdNextRead();
    connect(); // reads from 2
    await settle();
    write(revoked('b'), 2); // id 2, delivered during the read (a writer beside an older one)
    write(revoked('c')); // id 3, delivered at 4
    release(); // the read sees ids 2 and 3, and ends at 4
    await settle();
    expect(mirror.stats().synced).toBe(true);
    write(revoked('d'), 4); // id 4, delivered at 4 while fresh: the cursor stays
    disconnect();
    connect();
    await settle();
    expect(reads.map((r) => r.from)).toEqual([undefined, 2, 4]);
  });

  it('a position of a log that started over (another history) delivered during the first read: dropped, read once more, then trusted', async () => {
    const { write, reads, connect, holdNextRead, startOver, mirror, holds } = setup();
    for (const key of ['a', 'b', 'c']) write(revoked(key)); // e1: ids 1 … 3, before we connect
    const release = holdNextRead();
    connect(); // the first read, held
    await settle();
    write(revoked('d')); // e1 id 4, delivered at 5 while there is no cursor yet
    startOver('e2', 2); // the log is lost and starts over, lower
    write(revoked('e')); // e2 id 2, delivered at 3
    release(); // the read sees e2: everything, up to 3
    await settle();
    await jest.advanceTimersByTimeAsync(0);
    // e1's 5 cannot be compared with e2's 3: one more read (of nothing new), not a read for ever.
    expect(reads.map((r) => [r.from, r.complete])).toEqual([
      [undefined, true],
      [3, false],
    ]);
    expect(mirror.stats().synced).toBe(true);
    for (const key of ['d', 'e']) expect(holds(key)).toBe(true);
  });
});
