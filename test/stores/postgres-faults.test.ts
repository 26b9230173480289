/**
 * The PostgreSQL store under real faults: its LISTEN connection killed by the server
 * (pg_terminate_backend), cut or stalled by a TCP proxy, writes blocked by a table lock past
 * `commandTimeout`, a transaction that commits out of order while an instance is away, and a
 * database that has never been reachable. Verifiers on top show what their users would see: a
 * mirror behind the store is never trusted, and what was missed while away is read back, alone.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  createVerifier,
  InvalidTokenError,
  RevocationPendingError,
  StoreUnavailableError,
  type Revocation,
  type StoreStatus,
  type Verifier,
} from '../../src/index.js';
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

describe('the LISTEN connection lost', () => {
  it('killed by the server (pg_terminate_backend): reported, re-established, and the mirror resyncs incrementally', async () => {
    const schema = admin.newSchema();
    const b = store(schema);
    const statuses = statusesOf(b);
    const vb = verifierOn(b);
    await synced(vb);
    const pid = b.stats().listenerPid!;
    const resyncs = vb.stats().revocation.store.resyncs;

    const { rows } = await admin.pool.query('SELECT pg_terminate_backend($1) AS killed', [pid]);
    expect(rows).toEqual([{ killed: true }]);
    await waitFor(() => statuses.join() === 'connected,disconnected,connected', 'the store to report and recover');
    await waitFor(() => vb.stats().revocation.store.resyncs > resyncs, 'the mirror to resync');
    expect(b.stats()).toMatchObject({ connected: true, connects: 2, fullReads: 1 });
    expect(b.stats().listenerPid).not.toBe(pid);
    expect(b.stats().incrementalReads).toBeGreaterThanOrEqual(1);
  });

  it('cut (proxy): the NOTIFY missed while away is read back by cursor — only what was missed', async () => {
    const schema = admin.newSchema();
    const a = store(schema);
    await fill(a, 3_000);
    const link = await proxy();
    const b = store(schema, { connectionString: link.url });
    const statuses = statusesOf(b);
    const [va, vb] = [verifierOn(a), verifierOn(b)];
    await Promise.all([synced(va), synced(vb)]);
    expect(b.stats()).toMatchObject({ fullReads: 1 });
    expect(b.stats().rowsRead).toBeGreaterThanOrEqual(3_000);
    const revoked = await idp.issueAccessToken();
    expect(await outcome(vb.verify(revoked))).toBe('accepted');
    const before = b.stats();

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
    // The 10 rows written while B was away, not the 3000 before (more only if a transaction left
    // open elsewhere on the server held the horizon back; never fewer).
    expect(after.rowsRead - before.rowsRead).toBeGreaterThanOrEqual(10);
    expect(after.rowsRead - before.rowsRead).toBeLessThan(3_000);
    expect((await b.snapshot(Date.now())).length).toBe(3_010);
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
    const seen = new Set<string>();
    b.subscribe((r) => r.type === 'token' && seen.add(r.key));
    await a.migrate();
    await waitFor(() => statuses.at(-1) === 'connected', 'B to listen');
    await b.snapshot(Date.now());

    // A slow writer: its transaction id is taken now, its commit comes last.
    const slow = await admin.pool.connect();
    try {
      await slow.query('BEGIN');
      const { rows } = await slow.query(
        `INSERT INTO "${schema}".revocations (id, target, cutoff, expires_at, txid)
         VALUES (sha256('token:slow'), 'token:slow', 0, $1, pg_current_xact_id()) RETURNING txid::text`,
        [Date.now() + 3_600_000],
      );
      const slowTxid = BigInt(rows[0].txid);
      // A fast writer commits after it started and before it ends; B hears that one.
      await a.publish(token('fast'));
      await waitFor(() => seen.has('fast'), 'B to hear the fast write');
      // A sequence-number cursor would now stand past the slow row; the horizon stays at or below it.
      expect(BigInt(b.stats().horizon!)).toBeLessThanOrEqual(slowTxid);

      link.cut();
      await waitFor(() => statuses.at(-1) === 'disconnected', 'B to notice');
      await slow.query('COMMIT');
    } finally {
      slow.release();
    }
    link.restore();
    await waitFor(() => statuses.at(-1) === 'connected', 'B to come back');
    const keys = (await b.snapshot(Date.now())).map((r) => (r.type === 'token' ? r.key : r.type));
    expect(keys).toEqual(expect.arrayContaining(['fast', 'slow']));
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
