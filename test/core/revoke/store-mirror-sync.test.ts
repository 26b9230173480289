/**
 * The store mirror's states, deterministically, on a scripted store (test/support/scripted-store.ts)
 * instead of Redis: the trust gate (never synced, fresh, cut off within and past `maxStaleness`,
 * reconnected but not resynced), resyncs (merge, heal, one that straddles a reconnect), and the
 * retry of writes the store refused. Timers are Jest's fake ones (the sync wait and the retry
 * backoff), with the jitter pinned; the mirror's clock is a test clock. The same mirror under real
 * Redis faults is in store-mirror.test.ts.
 */
import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { performance } from 'node:perf_hooks';
import {
  RevocationPendingError,
  StoreUnavailableError,
  type AvailabilityPolicy,
  type Revocation,
} from '../../../src/index.js';
import { StoreMirror } from '../../../src/core/revoke/store-mirror.js';
import { VerifierEvents } from '../../../src/core/shared/events.js';
import { digestKey, tokenDigestOf } from '../../../src/core/shared/token-digest.js';
import { testClock } from '../../support/idp.js';
import { scriptedStore, type ScriptedStore } from '../../support/scripted-store.js';

const ISSUER = 'https://idp.example';
const SYNC_TIMEOUT = 2_000;
const MAX_STALENESS = 10_000;

const settle = () => new Promise((resolve) => setImmediate(resolve));

beforeEach(() => {
  // setTimeout is fake; setImmediate stays real so `settle` drains promises. The mirror reads
  // performance.now() from node:perf_hooks, which Jest does not fake: follow the fake clock.
  jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });
  jest.spyOn(performance, 'now').mockImplementation(() => jest.now());
  jest.spyOn(Math, 'random').mockReturnValue(1); // retry delays without jitter: 100, 200, 400 … ms
});
afterEach(() => {
  for (const close of mirrors.splice(0)) close();
  jest.restoreAllMocks();
  jest.useRealTimers();
});

const mirrors: Array<() => void> = [];

function setup(policy: Partial<AvailabilityPolicy> = {}) {
  const clock = testClock();
  const start = clock();
  const store = scriptedStore(
    { onUnavailable: 'fail-closed', maxStalenessMs: MAX_STALENESS, syncTimeoutMs: SYNC_TIMEOUT, ...policy },
    clock,
  );
  const events: string[] = [];
  const received: Array<{ type: Revocation['type']; source: string; lag: number | undefined }> = [];
  const verifierEvents = new VerifierEvents();
  verifierEvents.on('revoked', ({ type, source, lagMs }) => received.push({ type, source, lag: lagMs }));
  verifierEvents.on('store-unavailable', ({ since }) => events.push(`unavailable@${since - start}`));
  verifierEvents.on('store-resynced', ({ entries, healed }) => events.push(`resynced(${entries},${healed})`));
  const mirror = new StoreMirror(store, clock, { onApply: () => undefined, events: verifierEvents });
  mirrors.push(() => mirror.close());
  return { clock, store, mirror, events, received };
}

/** Connects the store and lets the resync finish. */
async function connected(store: ScriptedStore): Promise<void> {
  store.connect();
  await settle();
}

const subjectCut = (subject: string, cutoff: number): Revocation => ({
  type: 'subject',
  issuer: ISSUER,
  subject,
  cutoff,
  expiresAt: 2_000_000_000_000,
});
const tokenRevoked = (key: string): Revocation => ({ type: 'token', key, expiresAt: 2_000_000_000_000 });

/** A revocation as the mirror's list lists it: a token by the digest of its key. */
const asListed = (revocation: Revocation): Revocation =>
  revocation.type === 'token' ? { ...revocation, key: digestKey(tokenDigestOf(revocation.key)) } : revocation;

/** Whether the mirror's list holds a revocation for this target. */
const holds = (mirror: StoreMirror, now: number, revocation: Revocation) =>
  mirror.list.entries(now).some((entry) => JSON.stringify(entry) === JSON.stringify(asListed(revocation)));

/** Settles `promise` and reports 'resolved', 'pending' or the rejection. */
function track(promise: Promise<unknown>) {
  const state: { value: unknown } = { value: 'pending' };
  promise.then(
    () => {
      state.value = 'resolved';
    },
    (error: unknown) => {
      state.value = error;
    },
  );
  return state;
}

describe('the trust gate', () => {
  it('never synced: not trusted; a verification waits syncTimeout, then fail-closed refuses with 503', async () => {
    const { clock, mirror, events } = setup();
    expect(mirror.stats()).toEqual({
      synced: false,
      connected: false,
      trusted: false,
      unavailableSince: clock(),
      unpublished: 0,
      resyncs: 0,
      lastError: undefined,
    });
    const waiting = track(mirror.whenTrusted());
    await jest.advanceTimersByTimeAsync(SYNC_TIMEOUT - 1);
    expect(waiting.value).toBe('pending');
    expect(events).toEqual([]);
    await jest.advanceTimersByTimeAsync(1);
    expect(waiting.value).toBeInstanceOf(StoreUnavailableError);
    expect(waiting.value).toMatchObject({ status: 503, retryAfter: 2, headers: { 'Retry-After': '2' } });
    // A store that never answered is announced once the wait is over, as unavailable since start.
    expect(events).toEqual(['unavailable@0']);
    clock.advance(3_600_000);
    expect(mirror.accepts(clock())).toBe(false); // never synced is never trusted, however long it has been
  });

  // fail-open is about a mirror cut off after a sync; an empty one would accept every revoked token.
  it('never synced, fail-open: never trusted either; after the bounded wait, 503', async () => {
    const { mirror } = setup({ onUnavailable: 'fail-open' });
    const waiting = track(mirror.whenTrusted());
    await jest.advanceTimersByTimeAsync(SYNC_TIMEOUT);
    expect(waiting.value).toBeInstanceOf(StoreUnavailableError);
    expect(mirror.stats().trusted).toBe(false);
  });

  it('a verification waiting for the first sync goes ahead as soon as the resync completes', async () => {
    const { store, mirror, events } = setup();
    const waiting = track(mirror.whenTrusted());
    await jest.advanceTimersByTimeAsync(500);
    await connected(store);
    expect(waiting.value).toBe('resolved');
    expect(events).toEqual(['resynced(0,0)']);
    expect(mirror.stats()).toMatchObject({
      synced: true,
      connected: true,
      trusted: true,
      unavailableSince: undefined,
      resyncs: 1,
    });
  });

  it('cut off after a sync, fail-closed: trusted for exactly maxStaleness, then refused at once', async () => {
    const { clock, store, mirror, events } = setup();
    await connected(store);
    clock.advance(5_000);
    store.disconnect();
    const lost = clock();
    expect(mirror.stats()).toMatchObject({ synced: false, connected: false, trusted: true, unavailableSince: lost });
    expect(events).toEqual(['resynced(0,0)', 'unavailable@5000']);
    expect(mirror.accepts(lost + MAX_STALENESS)).toBe(true);
    expect(mirror.accepts(lost + MAX_STALENESS + 1)).toBe(false);
    clock.set(lost + MAX_STALENESS + 1);
    // Cut off (not reconnecting): nothing to wait for.
    const refused = track(mirror.whenTrusted());
    await settle();
    expect(refused.value).toBeInstanceOf(StoreUnavailableError);
  });

  it('cut off after a sync, fail-open: trusted however long the outage lasts', async () => {
    const { clock, store, mirror } = setup({ onUnavailable: 'fail-open' });
    await connected(store);
    store.disconnect();
    clock.advance(30 * 24 * 3_600_000);
    expect(mirror.accepts(clock())).toBe(true);
  });

  it('announces an outage once, however often the connection drops before the next sync', async () => {
    const { store, events } = setup();
    await connected(store);
    store.disconnect();
    store.disconnect();
    const release = store.holdNextSnapshot();
    store.connect(); // reconnected, resync held: still the same outage
    store.disconnect();
    release();
    await settle();
    expect(events.filter((e) => e.startsWith('unavailable'))).toHaveLength(1);
  });

  it('reconnected: not trusted until the resync completes; a verification waits for it', async () => {
    const { clock, store, mirror } = setup();
    await connected(store);
    store.disconnect();
    const release = store.holdNextSnapshot();
    store.connect();
    await settle();
    expect(mirror.stats()).toMatchObject({ connected: true, synced: false, trusted: false });
    expect(mirror.accepts(clock())).toBe(false); // the stale mirror may lack what was published meanwhile
    const waiting = track(mirror.whenTrusted());
    await jest.advanceTimersByTimeAsync(1_000);
    expect(waiting.value).toBe('pending');
    release();
    await settle();
    expect(waiting.value).toBe('resolved');
    expect(mirror.stats()).toMatchObject({ synced: true, trusted: true, resyncs: 2 });
  });

  it('reconnected, resync slower than syncTimeout: the waiting verification gets 503', async () => {
    const { store, mirror } = setup();
    await connected(store);
    store.disconnect();
    const release = store.holdNextSnapshot();
    store.connect();
    const waiting = track(mirror.whenTrusted());
    await jest.advanceTimersByTimeAsync(SYNC_TIMEOUT);
    expect(waiting.value).toBeInstanceOf(StoreUnavailableError);
    release();
    await settle();
    expect(mirror.stats().trusted).toBe(true);
  });

  it('close() wakes a waiting verification at once', async () => {
    const { mirror } = setup();
    const waiting = track(mirror.whenTrusted());
    await jest.advanceTimersByTimeAsync(100);
    mirror.close();
    await settle();
    expect(waiting.value).toBeInstanceOf(StoreUnavailableError);
  });
});

describe('resyncs', () => {
  it('applies what was published while the subscription was down', async () => {
    const { clock, store, mirror } = setup();
    await connected(store);
    store.disconnect();
    const missed = subjectCut('alice', 1_000);
    await store.publishElsewhere(missed); // stored, but never delivered to this instance
    expect(holds(mirror, clock(), missed)).toBe(false);
    await connected(store);
    expect(holds(mirror, clock(), missed)).toBe(true);
  });

  // A store that restarted empty and then got an older cutoff for the same subject back (another
  // instance's delayed retry) must get the later one again: otherwise every instance that syncs
  // from the store accepts the tokens issued between the two cutoffs, which this one refuses.
  it('heals a store that holds an older cutoff than the mirror for the same target', async () => {
    const { clock, store, mirror } = setup();
    await connected(store);
    await mirror.publish(subjectCut('alice', 2_000));
    store.disconnect();
    store.restartEmpty();
    await store.publishElsewhere(subjectCut('alice', 1_000));
    await connected(store);
    expect(await store.snapshot(clock())).toEqual([subjectCut('alice', 2_000)]);
  });

  it('merges, never overwrites: a resync keeps the later cutoff of the two', async () => {
    const { clock, store, mirror } = setup();
    await connected(store);
    await mirror.publish(subjectCut('alice', 2_000));
    store.disconnect();
    store.restartEmpty();
    await store.publishElsewhere(subjectCut('alice', 1_000)); // an older cutoff, all the new store has
    await connected(store);
    expect(mirror.list.entries(clock())).toEqual([subjectCut('alice', 2_000)]);
  });

  it('heals a store that restarted empty: what the mirror knows goes back to the store', async () => {
    const { clock, store, mirror, events } = setup();
    await connected(store);
    const mine = tokenRevoked('jti-1');
    const theirs = subjectCut('bob', 1_000);
    await mirror.publish(mine);
    await store.publishElsewhere(theirs);
    store.disconnect();
    store.restartEmpty();
    await connected(store);
    expect(events.at(-1)).toBe('resynced(0,2)');
    expect((await store.snapshot(clock())).map((r) => r.type).sort()).toEqual(['subject', 'token']);
    expect(mirror.stats()).toMatchObject({ synced: true, unpublished: 0 });
  });

  it('a resync that fails is retried with backoff; not trusted meanwhile', async () => {
    const { store, mirror } = setup();
    store.failSnapshots(new Error('LOADING Redis is loading the dataset in memory'));
    store.connect();
    await settle();
    expect(mirror.stats()).toMatchObject({
      synced: false,
      trusted: false,
      resyncs: 0,
      lastError: 'LOADING Redis is loading the dataset in memory',
    });
    expect(store.snapshots).toBe(1);
    await jest.advanceTimersByTimeAsync(100);
    expect(store.snapshots).toBe(2);
    await jest.advanceTimersByTimeAsync(199);
    expect(store.snapshots).toBe(2);
    store.failSnapshots();
    await jest.advanceTimersByTimeAsync(1);
    expect(store.snapshots).toBe(3);
    expect(mirror.stats()).toMatchObject({ synced: true, trusted: true, resyncs: 1, lastError: undefined });
  });

  it('a resync that straddles a reconnect does not count: the mirror resyncs again', async () => {
    const { clock, store, mirror } = setup();
    await connected(store);
    store.disconnect();
    const release = store.holdNextSnapshot();
    store.connect(); // resync 2 reads its snapshot, then is held
    await settle();
    store.disconnect();
    const missed = subjectCut('carol', 1_000);
    await store.publishElsewhere(missed); // in neither that snapshot nor delivered
    store.connect();
    release(); // the stale snapshot comes back after the second connect
    await settle();
    expect(holds(mirror, clock(), missed)).toBe(true);
    expect(store.snapshots).toBe(3);
    expect(mirror.stats()).toMatchObject({ synced: true, resyncs: 2 });
  });
});

describe('writes the store refused', () => {
  it('are applied here at once, kept, and the caller gets a 503 saying so', async () => {
    const { clock, store, mirror } = setup();
    await connected(store);
    const oom = new Error("OOM command not allowed when used memory > 'maxmemory'");
    store.failWrites(oom);
    const revocation = tokenRevoked('jti-1');
    const error = await mirror.publish(revocation).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RevocationPendingError);
    expect(error).toMatchObject({ status: 503, retryAfter: 1, cause: oom });
    expect(holds(mirror, clock(), revocation)).toBe(true);
    expect(mirror.stats()).toMatchObject({
      synced: false,
      connected: true,
      trusted: true,
      unpublished: 1,
      lastError: oom.message,
    });
  });

  it('are retried with exponential backoff (100 ms doubling, at most 2 s) until they land', async () => {
    const { store, mirror } = setup();
    await connected(store);
    store.failWrites(new Error('OOM'));
    await mirror.publish(tokenRevoked('jti-1')).catch(() => undefined);
    const attempts = () => store.writes.length;
    expect(attempts()).toBe(1);
    for (const delay of [100, 200, 400, 800, 1_600, 2_000, 2_000]) {
      await jest.advanceTimersByTimeAsync(delay - 1);
      const before = attempts();
      await jest.advanceTimersByTimeAsync(1);
      expect(attempts()).toBe(before + 1);
    }
    store.failWrites();
    await jest.advanceTimersByTimeAsync(2_000);
    expect(store.writes.at(-1)).toMatchObject({ landed: true });
    expect(mirror.stats()).toMatchObject({ synced: true, unpublished: 0, lastError: undefined });
    const landed = store.writes.length;
    await jest.advanceTimersByTimeAsync(60_000);
    expect(store.writes.length).toBe(landed); // nothing left to retry
  });

  it('are not written again once the store delivers them from another instance (it has them)', async () => {
    const { store, mirror } = setup();
    await connected(store);
    store.failWrites(new Error('OOM'));
    const revocation = tokenRevoked('jti-1');
    await mirror.publish(revocation).catch(() => undefined);
    expect(mirror.stats().unpublished).toBe(1);
    await store.publishElsewhere({ ...revocation, expiresAt: revocation.expiresAt + 1_000 }); // covers ours
    expect(mirror.stats()).toMatchObject({ unpublished: 0, synced: true });
    const attempts = store.writes.length;
    await jest.advanceTimersByTimeAsync(10_000);
    expect(store.writes.length).toBe(attempts); // no retry
    await store.publishElsewhere(subjectCut('bob', 5)); // one that covers nothing of ours changes nothing
    store.failWrites(new Error('OOM'));
    await mirror.publish(subjectCut('alice', 9)).catch(() => undefined);
    await store.publishElsewhere(subjectCut('alice', 8)); // an earlier cutoff does not cover ours
    expect(mirror.stats().unpublished).toBe(1);
  });

  it('are retried at once on reconnect, not at the next backoff step', async () => {
    const { store, mirror } = setup();
    await connected(store);
    store.failWrites(new Error('OOM'));
    await mirror.publish(subjectCut('alice', 1_000)).catch(() => undefined);
    await jest.advanceTimersByTimeAsync(100 + 200 + 400); // backoff now at 800 ms
    store.disconnect();
    store.failWrites();
    const before = store.writes.length;
    await connected(store);
    expect(store.writes.length).toBe(before + 1);
    expect(mirror.stats()).toMatchObject({ synced: true, unpublished: 0 });
  });

  it('merge while they wait: one retry carries the later cutoff', async () => {
    const { store, mirror } = setup();
    await connected(store);
    store.failWrites(new Error('OOM'));
    await mirror.publish(subjectCut('alice', 1_000)).catch(() => undefined);
    await mirror.publish(subjectCut('alice', 3_000)).catch(() => undefined);
    expect(mirror.stats().unpublished).toBe(1);
    store.failWrites();
    await jest.advanceTimersByTimeAsync(2_000);
    expect(store.writes.filter((w) => w.landed).map((w) => w.revocation)).toEqual([subjectCut('alice', 3_000)]);
  });

  it('never start the staleness clock: a failed write says nothing about the subscription', async () => {
    const { clock, store, mirror, events } = setup();
    await connected(store);
    store.failWrites(new Error('OOM'));
    await mirror.publish(tokenRevoked('jti-1')).catch(() => undefined);
    clock.advance(MAX_STALENESS * 10);
    expect(mirror.accepts(clock())).toBe(true);
    expect(mirror.stats().unavailableSince).toBeUndefined();
    expect(events.some((e) => e.startsWith('unavailable'))).toBe(false);
  });

  it('stop being retried once the mirror is closed', async () => {
    const { store, mirror } = setup();
    await connected(store);
    store.failWrites(new Error('OOM'));
    await mirror.publish(tokenRevoked('jti-1')).catch(() => undefined);
    mirror.close();
    const before = store.writes.length;
    await jest.advanceTimersByTimeAsync(60_000);
    expect(store.writes.length).toBe(before);
  });
});

describe('deliveries', () => {
  it("reports another instance's revocation as from the store, with its lag; its own echo not at all", async () => {
    const { clock, store, mirror, received } = setup();
    await connected(store);
    await mirror.publish(tokenRevoked('mine'));
    expect(received).toEqual([{ type: 'token', source: 'local', lag: undefined }]);
    await store.publishElsewhere(subjectCut('bob', 1_000));
    expect(received.at(-1)).toEqual({ type: 'subject', source: 'store', lag: 0 });
    expect(received).toHaveLength(2);
    expect(holds(mirror, clock(), subjectCut('bob', 1_000))).toBe(true);
  });
});
