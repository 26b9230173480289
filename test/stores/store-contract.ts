/**
 * The contract every RevocationStore must keep, as one suite that each store's test file runs
 * against its own implementation (memory, Redis single/Cluster/Sentinel, PostgreSQL); the change
 * log part runs where a store keeps one (Redis, PostgreSQL).
 */
import { describe, expect, it } from '@jest/globals';
import type {
  ChangeCursor,
  ChangePosition,
  PendingRevocation,
  Revocation,
  RevocationChanges,
  RevocationStore,
} from '../../src/index.js';
import { digestKey, tokenDigestOf } from '../../src/core/shared/token-digest.js';

const ISS = 'https://idp.example/tenant:1';
import { waitFor } from '../support/wait-for.js';

export interface StoreHarness {
  /** A fresh, empty, ready store (isolated from other tests), using `clock` where it needs time. */
  create(clock: () => number): Promise<RevocationStore>;
}

const pending = (id: string, now: number, overrides: Partial<PendingRevocation> = {}): PendingRevocation => ({
  id,
  token: `token-${id}`,
  tokenTypeHint: 'refresh_token',
  expiresAt: now + 3_600_000,
  attempts: 1,
  nextAttemptAt: now,
  lastError: 'down',
  ...overrides,
});

/** What a change log read holds, by name: tokens by the `digest:` key of their key, cutoffs by type and subject. */
function namesIn(changes: RevocationChanges): string[] {
  const names = changes.revocations.map((r) =>
    r.type === 'token' ? digestKey(tokenDigestOf(r.key)) : r.type === 'subject' ? `subject ${r.subject}` : r.type,
  );
  for (let i = 0; i < (changes.tokens?.count ?? 0); i++) names.push(digestKey(changes.tokens!.digests, i * 16));
  return names.sort();
}
const byDigest = (key: string) => digestKey(tokenDigestOf(key));

export function revocationStoreContract(name: string, harness: StoreHarness): void {
  describe(`${name}: RevocationStore contract`, () => {
    it('delivers every publish to every subscriber, the publisher included', async () => {
      const now = Date.now();
      const store = await harness.create(() => now);
      try {
        const seenA: Revocation[] = [];
        const seenB: Revocation[] = [];
        store.subscribe((r) => seenA.push(r));
        const unsubscribe = store.subscribe((r) => seenB.push(r));
        const revocation: Revocation = { type: 'token', key: 'jti:iss:1', expiresAt: now + 60_000 };
        await store.publish(revocation);
        await waitFor(() => seenA.length === 1 && seenB.length === 1, 'delivery to both subscribers');
        expect(seenA).toEqual([revocation]);
        expect(seenB).toEqual([revocation]);
        unsubscribe();
        await store.publish({ type: 'all', issuer: ISS, cutoff: 10, expiresAt: now + 60_000 });
        // Deliveries are ordered: once A has the second message, B would have it too.
        await waitFor(() => seenA.length === 2, 'the second delivery');
        expect(seenB).toHaveLength(1);
      } finally {
        await store.close();
      }
    });

    it('snapshots what is in force, merged per target, and forgets what expired', async () => {
      let now = Date.now();
      const store = await harness.create(() => now);
      try {
        // k1 outlives the test in real time too: Redis expires keys (PX) on its own clock, and
        // this test must see it leave through the injected one (snapshot(now)), not through Redis.
        await store.publish({ type: 'token', key: 'k1', expiresAt: now + 20_000 });
        await store.publish({ type: 'token', key: 'k2', expiresAt: now + 60_000 });
        await store.publish({ type: 'subject', issuer: ISS, subject: 'alice', cutoff: 100, expiresAt: now + 60_000 });
        await store.publish({ type: 'subject', issuer: ISS, subject: 'alice', cutoff: 200, expiresAt: now + 30_000 });
        await store.publish({ type: 'subject', issuer: ISS, subject: 'alice', cutoff: 150, expiresAt: now + 30_000 }); // older: no effect
        await store.publish({
          type: 'subject',
          issuer: 'https://other.example',
          subject: 'alice',
          cutoff: 7,
          expiresAt: now + 60_000,
        });
        await store.publish({
          type: 'session',
          issuer: ISS,
          session: 'sid:with:colons',
          cutoff: 9,
          expiresAt: now + 60_000,
        });
        await store.publish({ type: 'all', issuer: ISS, cutoff: 50, expiresAt: now + 60_000 });
        const snapshot = await store.snapshot(now);
        const name = (r: Revocation) =>
          r.type === 'token'
            ? r.key
            : r.type === 'subject'
              ? `${r.issuer} ${r.subject}`
              : r.type === 'session'
                ? `sid ${r.session}`
                : `all ${r.issuer}`;
        const byTarget = Object.fromEntries(snapshot.map((r) => [name(r), r]));
        expect(Object.keys(byTarget).sort()).toEqual(
          [`${ISS} alice`, `all ${ISS}`, 'https://other.example alice', 'k1', 'k2', 'sid sid:with:colons'].sort(),
        );
        const alice = byTarget[`${ISS} alice`];
        expect(alice).toMatchObject({ type: 'subject', issuer: ISS, cutoff: 200 });
        expect(byTarget['https://other.example alice']).toMatchObject({ cutoff: 7 });
        expect(byTarget['sid sid:with:colons']).toEqual({
          type: 'session',
          issuer: ISS,
          session: 'sid:with:colons',
          cutoff: 9,
          expiresAt: now + 60_000,
        });
        expect((alice as { expiresAt: number }).expiresAt).toBeGreaterThanOrEqual(now + 59_000);
        now += 21_000;
        const later = await store.snapshot(now);
        expect(later.map((r) => (r.type === 'token' ? r.key : r.type))).not.toContain('k1');
        expect(later).toHaveLength(5);
      } finally {
        await store.close();
      }
    });

    it('is idempotent: the same revocation published many times at once is one entry', async () => {
      const now = Date.now();
      const store = await harness.create(() => now);
      try {
        const revocation: Revocation = { type: 'token', key: 'same', expiresAt: now + 60_000 };
        await Promise.all(Array.from({ length: 20 }, () => store.publish(revocation)));
        expect(await store.snapshot(now)).toEqual([revocation]);
      } finally {
        await store.close();
      }
    });

    it('watch (shared stores): a late watcher learns the current state; once `connected`, every publish is delivered', async () => {
      const now = Date.now();
      const store = await harness.create(() => now);
      try {
        if (!store.watch) return; // an in-process store is always connected
        const statuses: string[] = [];
        const seen: Revocation[] = [];
        store.subscribe((r) => seen.push(r));
        const stop = store.watch((status) => statuses.push(status));
        await waitFor(() => statuses.length > 0, 'the current state');
        expect(statuses).toEqual(['connected']);
        // `connected` means the subscription is active (not merely the connection): nothing published now is lost.
        const revocation: Revocation = {
          type: 'session',
          issuer: ISS,
          session: 's-1',
          cutoff: 5,
          expiresAt: now + 60_000,
        };
        await store.publish(revocation);
        await waitFor(() => seen.length === 1, 'the delivery');
        expect(seen).toEqual([revocation]);
        stop();
      } finally {
        await store.close();
      }
    });

    it('changeLog (stores that keep one): everything first; from a cursor, what was published since; deliveries carry positions', async () => {
      const now = Date.now();
      const store = await harness.create(() => now);
      try {
        const { changeLog } = store;
        if (!changeLog) return; // a store without a log: every sync reads snapshot()
        const positions: ChangePosition[] = [];
        store.subscribe((_, meta) => meta.position && positions.push(meta.position));
        await store.publish({ type: 'token', key: 'jti:early', expiresAt: now + 60_000 });
        const first = await changeLog.read(undefined, now);
        expect(first.complete).toBe(true);
        expect(namesIn(first)).toEqual([byDigest('jti:early')]);
        // Read on until a read finds nothing (a shared database may hold a horizon back a while).
        let cursor: ChangeCursor = first.cursor;
        await waitFor(async () => {
          const read = await changeLog.read(cursor, now);
          cursor = read.cursor;
          return !read.complete && namesIn(read).length === 0;
        }, 'a read that finds nothing new');
        await store.publish({ type: 'token', key: 'jti:late', expiresAt: now + 60_000 });
        await store.publish({ type: 'subject', issuer: ISS, subject: 'bob', cutoff: 5, expiresAt: now + 60_000 });
        const later = await changeLog.read(cursor, now);
        expect(later.complete).toBe(false);
        expect(namesIn(later)).toEqual([byDigest('jti:late'), 'subject bob'].sort());
        await waitFor(() => positions.length === 3, 'three deliveries');
        for (const position of positions) expect(Object.keys(later.cursor)).toContain(position.log);
      } finally {
        await store.close();
      }
    });

    it('claimOnce: exactly one of many concurrent claims of a key wins, and every later one loses', async () => {
      const now = Date.now();
      const store = await harness.create(() => now);
      try {
        const results = await Promise.all(Array.from({ length: 20 }, () => store.claimOnce('dpop:jkt:jti-1', 60_000)));
        expect(results.filter(Boolean)).toHaveLength(1);
        expect(await store.claimOnce('dpop:jkt:jti-1', 60_000)).toBe(false);
        expect(await store.claimOnce('dpop:jkt:jti-2', 60_000)).toBe(true);
      } finally {
        await store.close();
      }
    });

    it('outbox: enqueue is idempotent, claims lease items to one caller, reschedule and complete', async () => {
      let now = Date.now();
      const store = await harness.create(() => now);
      try {
        const { outbox } = store;
        await outbox.enqueue(pending('a', now));
        await outbox.enqueue(pending('a', now, { token: 'other' }));
        await outbox.enqueue(pending('b', now + 10_000));
        expect(await outbox.size()).toBe(2);

        const [first, second] = await Promise.all([outbox.claimDue(now, 10, 5_000), outbox.claimDue(now, 10, 5_000)]);
        const claimed = [...first!, ...second!];
        expect(claimed.map((i) => i.id)).toEqual(['a']); // b not due; a leased once
        expect(claimed[0]).toMatchObject({ token: 'token-a', tokenTypeHint: 'refresh_token', attempts: 1 });

        expect(await outbox.claimDue(now + 1_000, 10, 5_000)).toEqual([]); // still leased
        await outbox.reschedule('a', { nextAttemptAt: now + 2_000, attempts: 2, lastError: 'still down' });
        expect(await outbox.claimDue(now + 1_000, 10, 5_000)).toEqual([]); // not due yet
        now += 10_000;
        const due = await outbox.claimDue(now, 10, 5_000);
        expect(due.map((i) => i.id).sort()).toEqual(['a', 'b']);
        expect(due.find((i) => i.id === 'a')).toMatchObject({ attempts: 2, lastError: 'still down' });
        await outbox.complete('a');
        await outbox.complete('b');
        expect(await outbox.size()).toBe(0);
      } finally {
        await store.close();
      }
    });

    it('outbox: a lease that lapses (a crashed worker) makes the item claimable again', async () => {
      let now = Date.now();
      const store = await harness.create(() => now);
      try {
        await store.outbox.enqueue(pending('c', now));
        expect(await store.outbox.claimDue(now, 10, 1_000)).toHaveLength(1);
        now += 1_500;
        expect(await store.outbox.claimDue(now, 10, 1_000)).toHaveLength(1);
      } finally {
        await store.close();
      }
    });

    it('outbox: respects the claim limit', async () => {
      const now = Date.now();
      const store = await harness.create(() => now);
      try {
        for (let i = 0; i < 5; i++) await store.outbox.enqueue(pending(`n${i}`, now));
        expect(await store.outbox.claimDue(now, 3, 1_000)).toHaveLength(3);
        expect(await store.outbox.claimDue(now, 3, 1_000)).toHaveLength(2);
      } finally {
        await store.close();
      }
    });
  });
}
