/**
 * The outbox worker alone, on the real memory store's outbox, with an injected clock and a `send`
 * the test scripts: what is sent, completed, rescheduled (and when) or dropped, whose items it
 * leaves alone, and that its poll timer neither doubles up nor keeps running after stop().
 */
import { afterEach, describe, expect, it, jest } from '@jest/globals';
import { createMemoryStore, RevocationError, type PendingRevocation } from '../../../src/index.js';
import { OutboxWorker, type OutboxWorkerOptions } from '../../../src/core/revoke/outbox-worker.js';
import { testClock } from '../../support/idp.js';

const ISSUER = 'https://idp.example';
const LEASE = 10_000;
const HOUR = 3_600_000;

type Send = OutboxWorkerOptions['send'];

function setup(overrides: Partial<OutboxWorkerOptions> = {}) {
  const clock = testClock();
  const store = createMemoryStore({ clock });
  const sent: string[] = [];
  let answer: Send = async () => 'revoked';
  const errors: unknown[] = [];
  const worker = new OutboxWorker({
    outbox: store.outbox,
    send: (item) => {
      sent.push(item.id);
      return answer(item);
    },
    issuer: ISSUER,
    now: clock,
    pollInterval: 1_000,
    leaseMs: LEASE,
    maxBackoffMs: 60_000,
    onError: (error) => errors.push(error),
    ...overrides,
  });
  const item = (id: string, fields: Partial<PendingRevocation> = {}): PendingRevocation => ({
    id,
    token: `token-${id}`,
    issuer: ISSUER,
    expiresAt: clock() + HOUR,
    attempts: 0,
    nextAttemptAt: clock(),
    ...fields,
  });
  /** Every queued item, due or not, read without keeping a lease on it (the lease it takes ends now). */
  const queued = () => store.outbox.claimDue(clock() + 1e12, 1_000, -1e12);
  return {
    clock,
    store,
    worker,
    sent,
    errors,
    item,
    queued,
    answer: (next: Send) => {
      answer = next;
    },
  };
}

const transient = (retryAfter?: number) =>
  new RevocationError('the IdP answered 503', {
    transient: true,
    status: 503,
    ...(retryAfter !== undefined ? { retryAfter } : {}),
  });
const permanent = () =>
  new RevocationError('the IdP rejected our client credentials', {
    transient: false,
    status: 401,
    error: 'invalid_client',
  });

describe('run()', () => {
  it('sends every due item once and completes it', async () => {
    const { worker, store, sent, item } = setup();
    await worker.enqueue(item('a'));
    await worker.enqueue(item('b'));
    expect(worker.stats().pending).toBe(2);
    expect(await worker.run()).toEqual({ attempted: 2, revoked: 2, rescheduled: 0, dropped: 0 });
    expect(sent).toEqual(['a', 'b']);
    expect(await store.outbox.size()).toBe(0);
    expect(worker.stats()).toEqual({ pending: 0, revoked: 2, dropped: 0, lastError: undefined });
  });

  it('counts not_revocable (the IdP cannot revoke that kind of token) as done', async () => {
    const { worker, store, item, answer } = setup();
    answer(async () => 'not_revocable');
    await worker.enqueue(item('a'));
    expect(await worker.run()).toMatchObject({ attempted: 1, revoked: 1 });
    expect(await store.outbox.size()).toBe(0);
  });

  it('leaves items that are not due yet alone', async () => {
    const { worker, clock, sent, item } = setup();
    await worker.enqueue(item('later', { nextAttemptAt: clock() + 5_000 }));
    expect(await worker.run()).toEqual({ attempted: 0, revoked: 0, rescheduled: 0, dropped: 0 });
    clock.advance(5_000);
    expect(await worker.run()).toMatchObject({ attempted: 1, revoked: 1 });
    expect(sent).toEqual(['later']);
  });

  it('drops an item whose token has expired without sending it, whoever its issuer', async () => {
    const { worker, clock, store, sent, item } = setup();
    await worker.enqueue(item('mine', { expiresAt: clock() + 1_000 }));
    await worker.enqueue(item('orphan', { issuer: 'https://gone.example', expiresAt: clock() + 1_000 }));
    clock.advance(1_000); // expiresAt <= now
    expect(await worker.run()).toEqual({ attempted: 0, revoked: 0, rescheduled: 0, dropped: 2 });
    expect(sent).toEqual([]);
    expect(await store.outbox.size()).toBe(0);
    expect(worker.stats()).toMatchObject({ pending: 0, dropped: 2 });
  });

  it("releases another issuer's item at once, untouched, for that issuer's worker", async () => {
    const { worker, clock, store, sent, item } = setup();
    await worker.enqueue(item('theirs', { issuer: 'https://other.example', attempts: 2, lastError: 'was down' }));
    expect(await worker.run()).toEqual({ attempted: 0, revoked: 0, rescheduled: 0, dropped: 0 });
    expect(sent).toEqual([]);
    // Not leased any more: the other issuer's worker can claim it right now, as it was.
    const [claimed] = await store.outbox.claimDue(clock(), 10, LEASE);
    expect(claimed).toMatchObject({ id: 'theirs', attempts: 2, nextAttemptAt: clock(), lastError: 'was down' });
  });

  it('sends an item that names no issuer (queued before items carried one)', async () => {
    const { worker, sent, item } = setup();
    const { issuer: _issuer, ...legacy } = item('legacy');
    await worker.enqueue(legacy);
    expect(await worker.run()).toMatchObject({ attempted: 1, revoked: 1 });
    expect(sent).toEqual(['legacy']);
  });

  it('reschedules a transient failure with exponential backoff (1 s, 2 s, 4 s …) and records the error', async () => {
    const { worker, clock, queued, item, answer } = setup();
    answer(async () => {
      throw transient();
    });
    await worker.enqueue(item('a'));
    const start = clock();
    expect(await worker.run()).toEqual({ attempted: 1, revoked: 0, rescheduled: 1, dropped: 0 });
    expect(worker.stats()).toMatchObject({ pending: 1, lastError: 'the IdP answered 503' });
    for (const [attempts, wait] of [
      [1, 1_000],
      [2, 2_000],
      [3, 4_000],
    ] as const) {
      const [due] = await queued();
      expect(due).toMatchObject({ attempts, lastError: 'the IdP answered 503' });
      expect(due!.nextAttemptAt - clock()).toBe(wait);
      clock.set(due!.nextAttemptAt - 1);
      expect((await worker.run()).attempted).toBe(0); // not due one ms early
      clock.advance(1);
      expect(await worker.run()).toMatchObject({ attempted: 1, rescheduled: 1 });
    }
    expect(clock() - start).toBe(1_000 + 2_000 + 4_000);
  });

  it('treats any other error (a bug, a network failure) as transient', async () => {
    const { worker, store, item, answer } = setup();
    answer(async () => {
      throw new TypeError('fetch failed');
    });
    await worker.enqueue(item('a'));
    expect(await worker.run()).toMatchObject({ attempted: 1, rescheduled: 1, dropped: 0 });
    expect(await store.outbox.size()).toBe(1);
    expect(worker.stats().lastError).toBe('fetch failed');
  });

  it("waits at least the IdP's Retry-After before the next attempt", async () => {
    const { worker, clock, queued, item, answer } = setup();
    answer(async () => {
      throw transient(30);
    });
    await worker.enqueue(item('a'));
    await worker.run();
    const [due] = await queued();
    expect(due!.nextAttemptAt - clock()).toBe(30_000);
  });

  it('drops an item the IdP refused for good, and reports it through onError', async () => {
    const { worker, store, item, answer, errors } = setup();
    const refusal = permanent();
    answer(async () => {
      throw refusal;
    });
    await worker.enqueue(item('a'));
    expect(await worker.run()).toEqual({ attempted: 1, revoked: 0, rescheduled: 0, dropped: 1 });
    expect(await store.outbox.size()).toBe(0);
    expect(errors).toEqual([refusal]);
    expect(worker.stats()).toMatchObject({ pending: 0, dropped: 1, lastError: refusal.message });
  });

  it('delivers once the IdP is back, and keeps totals across runs', async () => {
    const { worker, clock, item, answer } = setup();
    let down = true;
    answer(async () => {
      if (down) throw transient();
      return 'revoked';
    });
    await worker.enqueue(item('a'));
    await worker.run();
    down = false;
    clock.advance(1_000);
    expect(await worker.run()).toMatchObject({ attempted: 1, revoked: 1 });
    expect(worker.stats()).toMatchObject({ pending: 0, revoked: 1, dropped: 0 });
  });

  it('shares one run among concurrent calls: each item is sent once', async () => {
    const { worker, sent, item, answer } = setup();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    answer(async () => {
      await gate;
      return 'revoked';
    });
    await worker.enqueue(item('a'));
    const first = worker.run();
    const second = worker.run();
    expect(second).toBe(first);
    release();
    expect(await first).toMatchObject({ attempted: 1, revoked: 1 });
    expect(sent).toEqual(['a']);
  });

  it('two workers on one outbox never send the same item at the same time (leases)', async () => {
    const a = setup();
    const sentByB: string[] = [];
    const b = new OutboxWorker({
      outbox: a.store.outbox,
      send: async (item) => {
        sentByB.push(item.id);
        return 'revoked';
      },
      issuer: ISSUER,
      now: a.clock,
      pollInterval: 1_000,
      leaseMs: LEASE,
      maxBackoffMs: 60_000,
    });
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    a.answer(async () => {
      await gate;
      return 'revoked';
    });
    await a.worker.enqueue(a.item('x'));
    const running = a.worker.run(); // claims x, then waits in send
    await new Promise((resolve) => setImmediate(resolve));
    expect(await b.run()).toMatchObject({ attempted: 0 });
    release();
    await running;
    expect([a.sent, sentByB]).toEqual([['x'], []]);
  });
});

describe('enqueue()', () => {
  it('is idempotent per id; stats report the queue length and the latest failure', async () => {
    const { worker, store, item } = setup();
    await worker.enqueue(item('a', { lastError: 'timed out' }));
    await worker.enqueue(item('a', { token: 'another', lastError: 'answered 503' }));
    expect(worker.stats()).toEqual({ pending: 1, revoked: 0, dropped: 0, lastError: 'answered 503' });
    expect(await store.outbox.claimDue(Number.MAX_SAFE_INTEGER, 10, 0)).toMatchObject([
      { id: 'a', token: 'token-a', lastError: 'timed out' },
    ]);
  });
});

describe('backoff()', () => {
  it('doubles from 1 s up to maxBackoffMs, and never undercuts a Retry-After', () => {
    const { worker } = setup({ maxBackoffMs: 5_000 });
    expect([0, 1, 2, 3, 4, 10].map((attempts) => worker.backoff(attempts))).toEqual([
      1_000, 1_000, 2_000, 4_000, 5_000, 5_000,
    ]);
    expect(worker.backoff(1, 3)).toBe(3_000);
    expect(worker.backoff(3, 1)).toBe(4_000);
    // Documents: a Retry-After longer than maxBackoffMs is honoured (the token is dead locally
    // already; an item that waits past its expiry is dropped, not sent late).
    expect(worker.backoff(1, 600)).toBe(600_000);
  });
});

describe('start() and stop()', () => {
  afterEach(() => {
    jest.useRealTimers();
  });

  it('polls every pollInterval once started, with one timer however often started, until stop()', async () => {
    jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });
    const { worker, sent, item } = setup({ pollInterval: 1_000 });
    await worker.enqueue(item('a'));
    worker.start();
    worker.start();
    await jest.advanceTimersByTimeAsync(999);
    expect(sent).toEqual([]);
    await jest.advanceTimersByTimeAsync(1);
    expect(sent).toEqual(['a']);
    expect(jest.getTimerCount()).toBe(1);

    worker.stop();
    expect(jest.getTimerCount()).toBe(0);
    await worker.enqueue(item('b'));
    await jest.advanceTimersByTimeAsync(10_000);
    expect(sent).toEqual(['a']);
  });

  it('reports a failed background run through onError instead of throwing', async () => {
    jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });
    const broken = createMemoryStore().outbox;
    const failure = new Error('store down');
    broken.claimDue = async () => {
      throw failure;
    };
    const { worker, errors } = setup({ outbox: broken });
    worker.start();
    await jest.advanceTimersByTimeAsync(1_000);
    worker.stop();
    expect(errors).toEqual([failure]);
    await expect(worker.run()).rejects.toBe(failure);
  });
});
