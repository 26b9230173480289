/**
 * The PostgreSQL store under real faults: its LISTEN connection killed by the server
 * (pg_terminate_backend), cut or stalled by a TCP proxy, writes blocked by a table lock past
 * `commandTimeout`, a transaction that commits out of order while an instance is away, the table
 * truncated or purged while it is away, and a database that has never been reachable. Verifiers on
 * top show what their users would see: a mirror behind the store is never trusted, and what was
 * missed while away is read back, alone (the store's change log reads are recorded: a resync that
 * handed the mirror the whole table again fails here).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  createVerifier,
  InvalidTokenError,
  RevocationPendingError,
  StoreUnavailableError,
  type ChangeCursor,
  type ChangePosition,
  type Revocation,
  type StoreStatus,
  type Verifier,
} from '../../src/index.js';
import { denylistKeyFor } from '../../src/core/revoke/revocation-identity.js';
import { digestKey, tokenDigestOf } from '../../src/core/shared/token-digest.js';
import {
  createPostgresStore,
  type PostgresRevocationStore,
  type PostgresStoreOptions,
} from '../../src/stores/postgres-store.js';
import { issuedAt, startIdp, testClock, type EmbeddedIdp } from '../support/idp.js';
import { DATABASE_URL, postgresAdmin } from '../support/postgres.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';
import { waitFor } from '../support/wait-for.js';

const admin = postgresAdmin();
let idp: EmbeddedIdp;
const cleanups: Array<() => Promise<unknown> | unknown> = [];

beforeAll(async () => {
  idp = await startIdp();
}, 30_000);

afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  await admin.cleanUp();
  await idp.close();
});

const database = new URL(DATABASE_URL);

async function proxy(): Promise<TcpProxy & { url: string }> {
  const p = await startTcpProxy(Number(database.port || 5432), database.hostname);
  cleanups.push(() => p.close());
  const url = new URL(DATABASE_URL);
  url.port = String(p.port);
  return Object.assign(p, { url: url.toString() });
}

function store(schema: string, options: Partial<PostgresStoreOptions> = {}): PostgresRevocationStore {
  const created = createPostgresStore({ connectionString: DATABASE_URL, schema, purgeInterval: 0, ...options });
  cleanups.push(() => created.close());
  return created;
}

/** What each read of the store's change log handed over: complete or not, and how many revocations. */
interface ReadRecord {
  complete: boolean;
  entries: number;
  keys: string[];
}

/** `on` with its change log's reads recorded (the verifier's mirror reads through it). */
function recorded(on: PostgresRevocationStore): { store: PostgresRevocationStore; reads: ReadRecord[] } {
  const reads: ReadRecord[] = [];
  const store: PostgresRevocationStore = {
    ...on,
    changeLog: {
      contiguous: on.changeLog.contiguous,
      async read(cursor: ChangeCursor | undefined, now: number) {
        const changes = await on.changeLog.read(cursor, now);
        const keys: string[] = [];
        for (let i = 0; i < (changes.tokens?.count ?? 0); i++) keys.push(digestKey(changes.tokens!.digests, i * 16));
        reads.push({ complete: changes.complete, entries: changes.revocations.length + keys.length, keys });
        return changes;
      },
    },
  };
  return { store, reads };
}

/** The `digest:` key a mirror and the table know an access token's revocation by. */
const digestOfToken = (jwt: string) => digestKey(tokenDigestOf(denylistKeyFor(jwt, idp.issuer)));

function verifierOn(on: PostgresRevocationStore, clock?: () => number): Verifier {
  const verifier = createVerifier({
    issuer: idp.issuer,
    audience: idp.audience,
    store: on,
    ...(clock ? { clock } : {}),
  });
  cleanups.unshift(() => verifier.close()); // closed before its store
  return verifier;
}

function statusesOf(on: PostgresRevocationStore): StoreStatus[] {
  const statuses: StoreStatus[] = [];
  cleanups.push(on.watch!((status) => statuses.push(status)));
  return statuses;
}

const synced = (verifier: Verifier) => waitFor(() => verifier.stats().revocation.store.synced, 'the mirror to sync');

async function outcome(promise: Promise<unknown>): Promise<string> {
  return promise.then(
    () => 'accepted',
    (error: unknown) =>
      error instanceof InvalidTokenError
        ? error.reason
        : error instanceof StoreUnavailableError
          ? 'store_unavailable'
          : `unexpected ${String(error)}`,
  );
}

const token = (key: string): Revocation => ({ type: 'token', key, expiresAt: Date.now() + 3_600_000 });

async function fill(on: PostgresRevocationStore, count: number): Promise<void> {
  await Promise.all(Array.from({ length: count }, (_, i) => on.publish(token(`filler-${i}`))));
}

/**
 * Waits until `listener` has heard a position past every row written so far, so that a mirror
 * on it stands there too. Another session's open transaction (the server is shared) holds
 * positions back for as long as it lasts: this waits it out. Writes an issuer-wide cutoff marker
 * (no token), through `writer`, each time it tries.
 */
async function caughtUp(writer: PostgresRevocationStore, listener: PostgresRevocationStore): Promise<void> {
  const { rows } = await admin.pool.query(`SELECT max(txid)::text AS t FROM "${writer.schema}".revocations`);
  const last = Number(rows[0].t);
  await waitFor(async () => {
    await writer.publish({
      type: 'all',
      issuer: 'https://marker.example',
      cutoff: 1,
      expiresAt: Date.now() + 3_600_000,
    });
    await new Promise((resolve) => setTimeout(resolve, 20));
    return Number(listener.stats().horizon) > last;
  }, 'a position past every row written so far');
}

describe('the LISTEN connection lost', () => {
  it('killed by the server (pg_terminate_backend): reported, re-established, and the mirror resyncs incrementally', async () => {
    const schema = admin.newSchema();
    const b = store(schema);
    await fill(b, 1_000);
    const statuses = statusesOf(b);
    const { store: bRead, reads } = recorded(b);
    const vb = verifierOn(bRead);
    await synced(vb);
    expect(reads).toEqual([{ complete: true, entries: 1_000, keys: expect.any(Array) }]);
    await caughtUp(b, b);
    const pid = b.stats().listenerPid!;
    const resyncs = vb.stats().revocation.store.resyncs;

    const { rows } = await admin.pool.query('SELECT pg_terminate_backend($1) AS killed', [pid]);
    expect(rows).toEqual([{ killed: true }]);
    await waitFor(() => statuses.join() === 'connected,disconnected,connected', 'the store to report and recover');
    await waitFor(() => vb.stats().revocation.store.resyncs > resyncs, 'the mirror to resync');
    expect(b.stats()).toMatchObject({ connected: true, connects: 2, fullReads: 1 });
    expect(b.stats().listenerPid).not.toBe(pid);
    expect(b.stats().incrementalReads).toBeGreaterThanOrEqual(1);
    // The mirror was handed what changed since its cursor (nothing, give or take a transaction
    // held open elsewhere on the server), not the 1000 rows again.
    expect(reads.at(-1)!.complete).toBe(false);
    expect(reads.at(-1)!.entries).toBeLessThan(1_000);
    expect(vb.stats().revocation.denylisted).toBe(1_000);
  });

  it('cut (proxy): missing 10 of 3500, the mirror is handed those 10 — its cursor moved with what it heard', async () => {
    const schema = admin.newSchema();
    const a = store(schema);
    await fill(a, 3_000);
    const link = await proxy();
    const b = store(schema, { connectionString: link.url });
    const statuses = statusesOf(b);
    const { store: bRead, reads } = recorded(b);
    const [va, vb] = [verifierOn(a), verifierOn(bRead)];
    await Promise.all([synced(va), synced(vb)]);
    expect(b.stats()).toMatchObject({ fullReads: 1 });
    expect(b.stats().rowsRead).toBeGreaterThanOrEqual(3_000);
    // 500 more while B listens: its mirror applies them, and its cursor follows their positions.
    await Promise.all(Array.from({ length: 500 }, (_, i) => a.publish(token(`heard-${i}`))));
    await waitFor(() => vb.stats().revocation.denylisted === 3_500, 'B to hear the 500');
    await caughtUp(a, b);
    const revoked = await idp.issueAccessToken();
    expect(await outcome(vb.verify(revoked))).toBe('accepted');
    const before = b.stats();
    const readsBefore = reads.length;

    link.cut();
    await waitFor(() => statuses.at(-1) === 'disconnected', 'B to notice');
    await va.invalidate(revoked);
    for (let i = 0; i < 9; i++) await a.publish(token(`missed-${i}`));
    expect(b.stats().notifications).toBe(before.notifications); // B heard none of it

    link.restore();
    await waitFor(async () => (await outcome(vb.verify(revoked))) === 'revoked', 'B to refuse after resyncing');
    const after = b.stats();
    expect(after.fullReads).toBe(1);
    expect(after.incrementalReads).toBeGreaterThan(before.incrementalReads);
    // The 10 rows written while B was away, not the 3500 before, nor the 500 it heard (more only
    // if a transaction left open elsewhere on the server held the horizon back; never fewer).
    expect(after.rowsRead - before.rowsRead).toBeGreaterThanOrEqual(10);
    expect(after.rowsRead - before.rowsRead).toBeLessThan(500);
    const resync = reads.slice(readsBefore);
    expect(resync.every((read) => !read.complete)).toBe(true);
    const handed = new Set(resync.flatMap((read) => read.keys));
    expect(handed).toContain(digestOfToken(revoked));
    expect(handed.size).toBeGreaterThanOrEqual(10);
    expect(handed.size).toBeLessThan(500);
    expect(vb.stats().revocation.denylisted).toBe(3_510);
    expect((await b.snapshot(Date.now())).filter((r) => r.type === 'token')).toHaveLength(3_510);
  });

  it('stalled (proxy paused): noticed by the heartbeat, and the mirror behind it is not trusted (503, fail-closed)', async () => {
    const schema = admin.newSchema();
    const a = store(schema);
    const link = await proxy();
    const b = store(schema, {
      connectionString: link.url,
      heartbeat: 0.2,
      commandTimeout: 0.3,
      syncTimeout: 0.3,
      maxStaleness: 0,
    });
    const statuses = statusesOf(b);
    const revoked = await idp.issueAccessToken();
    // B's verifier on a test clock (anchored on the IdP's token): maxStaleness 0 must be past, not
    // "within the same millisecond".
    const clock = testClock(issuedAt(revoked));
    const [va, vb] = [verifierOn(a), verifierOn(b, clock)];
    await Promise.all([synced(va), synced(vb)]);
    expect(await outcome(vb.verify(revoked))).toBe('accepted');

    link.pause(); // nothing reaches B; its connections stay open
    await va.invalidate(revoked);
    await waitFor(() => statuses.at(-1) === 'disconnected', 'the heartbeat to give up', 3_000);
    clock.advance(1);
    expect(await outcome(vb.verify(revoked))).toBe('store_unavailable');

    link.resume();
    await waitFor(async () => (await outcome(vb.verify(revoked))) === 'revoked', 'B to resync', 10_000);
  });
});

describe('cursor soundness', () => {
  it('a transaction that commits after a later one, while an instance is away, is still read back', async () => {
    const schema = admin.newSchema();
    const a = store(schema);
    const link = await proxy();
    const b = store(schema, { connectionString: link.url });
    const statuses = statusesOf(b);
    const heard = new Map<string, ChangePosition>();
    b.subscribe((r, meta) => r.type === 'token' && meta.position && heard.set(r.key, meta.position));
    await a.migrate();
    await waitFor(() => statuses.at(-1) === 'connected', 'B to listen');
    await b.changeLog.read(undefined, Date.now());

    // A slow writer: its transaction id is taken now, its commit comes last.
    const slow = await admin.pool.connect();
    try {
      await slow.query('BEGIN');
      const { rows } = await slow.query(
        `INSERT INTO "${schema}".revocations (id, target, cutoff, expires_at, txid)
         VALUES (substring(sha256('slow') FROM 1 FOR 16), 'token:slow', 0, $1, pg_current_xact_id())
         RETURNING txid::text`,
        [Date.now() + 3_600_000],
      );
      const slowTxid = Number(rows[0].txid);
      // A fast writer commits after it started and before it ends; B hears that one.
      await a.publish(token('fast'));
      await waitFor(() => heard.has('fast'), 'B to hear the fast write');
      // A sequence-number cursor would now stand past the slow row; the position B heard (where a
      // mirror's cursor goes) stays at or below it.
      expect(heard.get('fast')!.seq).toBeLessThanOrEqual(slowTxid);
      expect(Number(b.stats().horizon)).toBeLessThanOrEqual(slowTxid);

      link.cut();
      await waitFor(() => statuses.at(-1) === 'disconnected', 'B to notice');
      await slow.query('COMMIT');
    } finally {
      slow.release();
    }
    link.restore();
    await waitFor(() => statuses.at(-1) === 'connected', 'B to come back');
    // What a mirror that followed the deliveries reads on reconnect: only changes, the slow row among them.
    const missed = await b.changeLog.read({ revocations: heard.get('fast')! }, Date.now());
    expect(missed.complete).toBe(false);
    const keys = Array.from({ length: missed.tokens!.count }, (_, i) => digestKey(missed.tokens!.digests, i * 16));
    expect(keys).toContain(digestKey(tokenDigestOf('slow')));
  });
});

describe('a table that lost its history, or was purged, while an instance was away', () => {
  it('truncated: the epoch changes, both mirrors read everything and heal the table; a fresh instance refuses what was revoked', async () => {
    const schema = admin.newSchema();
    const a = store(schema);
    await fill(a, 200);
    const link = await proxy();
    const b = store(schema, { connectionString: link.url });
    const statuses = statusesOf(b);
    const { store: bRead, reads } = recorded(b);
    const [va, vb] = [verifierOn(a), verifierOn(bRead)];
    await Promise.all([synced(va), synced(vb)]);
    const revoked = await idp.issueAccessToken();
    await va.invalidate(revoked);
    await waitFor(async () => (await outcome(vb.verify(revoked))) === 'revoked', 'B to refuse');

    link.cut();
    await waitFor(() => statuses.at(-1) === 'disconnected', 'B to notice');
    await admin.pool.query(`TRUNCATE "${schema}".revocations`); // a restore from an empty dump, a mistake
    await a.publish(token('after-truncate')); // A hears a new epoch in its own delivery
    link.restore();
    await waitFor(() => reads.length > 1 && vb.stats().revocation.store.synced, 'B to resync');
    expect(reads.at(-1)!.complete).toBe(true);
    // Nothing lost: the mirrors wrote back what the table lost, and a new instance syncs from it.
    const row = `SELECT count(*)::int AS n FROM "${schema}".revocations WHERE id = decode($1, 'hex')`;
    const revokedId = digestOfToken(revoked).slice('digest:'.length);
    await waitFor(async () => (await admin.pool.query(row, [revokedId])).rows[0].n === 1, 'the table to be healed');
    await waitFor(
      async () => (await admin.pool.query(`SELECT count(*)::int AS n FROM "${schema}".revocations`)).rows[0].n === 202,
      'every revocation back',
    );
    const fresh = verifierOn(store(schema));
    await synced(fresh);
    expect(await outcome(fresh.verify(revoked))).toBe('revoked');
    expect(await outcome(vb.verify(revoked))).toBe('revoked');
  });

  it('purged (rows past expiry deleted): nothing a mirror needs is gone, and its cursor still reads only what it missed', async () => {
    const schema = admin.newSchema();
    const realNow = Date.now();
    // A writer whose clock runs an hour behind: it still takes revocations that are over by real time.
    const behind = store(schema, { clock: () => realNow - 3_600_000 });
    await Promise.all(
      Array.from({ length: 300 }, (_, i) =>
        behind.publish({ type: 'token', key: `over-${i}`, expiresAt: realNow - 600_000 }),
      ),
    );
    const a = store(schema);
    await fill(a, 100);
    const link = await proxy();
    const b = store(schema, { connectionString: link.url });
    const statuses = statusesOf(b);
    const { store: bRead, reads } = recorded(b);
    const [va, vb] = [verifierOn(a), verifierOn(bRead)];
    await Promise.all([synced(va), synced(vb)]);
    const kept = await idp.issueAccessToken();
    await va.invalidate(kept);
    await waitFor(async () => (await outcome(vb.verify(kept))) === 'revoked', 'B to refuse');
    const fullReads = b.stats().fullReads;

    link.cut();
    await waitFor(() => statuses.at(-1) === 'disconnected', 'B to notice');
    expect(await a.purge()).toBe(300);
    const missed = await idp.issueAccessToken();
    await va.invalidate(missed);
    link.restore();
    await waitFor(async () => (await outcome(vb.verify(missed))) === 'revoked', 'B to resync');
    expect(b.stats().fullReads).toBe(fullReads);
    expect(reads.at(-1)!.complete).toBe(false);
    expect(reads.at(-1)!.keys).toContain(digestOfToken(missed));
    expect(await outcome(vb.verify(kept))).toBe('revoked');
    expect(vb.stats().revocation.denylisted).toBe(102);
  });
});

describe('writes the database does not take in time', () => {
  it('a table lock past commandTimeout: pending, refused locally at once, retried until it lands; others follow', async () => {
    const schema = admin.newSchema();
    const a = store(schema, { commandTimeout: 0.3 });
    const b = store(schema);
    const [va, vb] = [verifierOn(a), verifierOn(b)];
    await Promise.all([synced(va), synced(vb)]);
    const revoked = await idp.issueAccessToken();
    await vb.verify(revoked);

    const locker = await admin.pool.connect();
    try {
      await locker.query('BEGIN');
      await locker.query(`LOCK TABLE "${schema}".revocations IN EXCLUSIVE MODE`); // reads go on, writes wait
      const failure = await va.invalidate(revoked).then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(failure).toBeInstanceOf(RevocationPendingError);
      expect(await outcome(va.verify(revoked))).toBe('revoked');
      expect(va.stats().revocation.store.unpublished).toBe(1);
      await locker.query('COMMIT');
    } finally {
      locker.release();
    }
    await waitFor(async () => (await outcome(vb.verify(revoked))) === 'revoked', 'B to refuse once the write landed');
    await waitFor(() => va.stats().revocation.store.unpublished === 0, 'A to see its write confirmed');
  });
});

describe('a database never reached', () => {
  it('cold start: verifications wait syncTimeout, then 503; service starts once the database answers', async () => {
    const link = await proxy();
    link.cut();
    const b = store(admin.newSchema(), { connectionString: link.url, commandTimeout: 0.3, syncTimeout: 0.3 });
    const statuses = statusesOf(b);
    const vb = verifierOn(b);
    const fresh = await idp.issueAccessToken();
    expect(await outcome(vb.verify(fresh))).toBe('store_unavailable');
    await waitFor(() => statuses.includes('disconnected'), 'the store to report it');
    link.restore();
    await waitFor(async () => (await outcome(vb.verify(fresh))) === 'accepted', 'service once synced', 10_000);
  });
});
