/**
 * Keeps the store's replica of the `revocations` table current at a cost that follows the change,
 * not the table: the first read is full, every later one reads only rows written since a cursor.
 *
 * Why the cursor is a transaction horizon, not a sequence number. A `bigserial` is handed out when a
 * row is written, not when it commits: writer A takes 41, writer B takes 42 and commits first, a
 * reader sees 42 and moves its cursor past 41, then A commits — and `WHERE seq > 42` never returns
 * A's row. So every row carries `txid`, the id of the transaction that last wrote it, and the cursor
 * is a *horizon* H with the invariant: the replica holds every row written by a transaction whose id
 * is below H (or something newer for the same target).
 *
 * - A read runs in a REPEATABLE READ snapshot S. Every transaction below S's `xmin` had finished
 *   before S, so it is visible in S (or rolled back): reading `txid >= H` and then setting
 *   H = xmin(S) keeps the invariant. Rows of transactions still running at S have ids >= xmin(S)
 *   and are read next time (or arrive by NOTIFY).
 * - A NOTIFY carries its writer's horizon W (xmin of the writer's snapshot). PostgreSQL delivers
 *   notifications in commit order, and every transaction below W committed before the writer did;
 *   so once this process has listened without a break since before a read's snapshot, receiving the
 *   writer's notification means it has every one of those transactions (from the read or from
 *   earlier notifications): H = W keeps the invariant. That is what makes a reconnect cost only
 *   what was missed: the cursor keeps moving while connected.
 * - A horizon that goes *backwards* (the server's transaction ids are below the cursor: a restore, a
 *   failover that lost commits) means another history: the replica is dropped and read in full, so
 *   verifiers' mirrors heal the database from what they know (see StoreMirror).
 *
 * A transaction left open elsewhere on the server holds horizons back; reads then return more than
 * was missed (all of it merged idempotently), never less.
 */
import { checkOut, withTimeout, type PostgresClientLike, type PostgresPoolLike } from './postgres-client.js';
import type { PostgresListener } from './postgres-listener.js';
import type { Notification } from './postgres-notification.js';
import { PostgresReplica } from './postgres-replica.js';
import type { PostgresNames } from './postgres-schema.js';
import { revocationFromTarget, type Revocation } from './revocation-store.js';

/** Rows per FETCH of a sync read: bounds memory and any single round trip. */
const FETCH_ROWS = 20_000;

/** How a store's reads have gone, for `stats()` (and tests that prove a reconnect read only what it missed). */
export interface SyncCounters {
  fullReads: number;
  incrementalReads: number;
  rowsRead: number;
}

export class PostgresSync {
  readonly replica = new PostgresReplica();
  readonly counters: SyncCounters = { fullReads: 0, incrementalReads: 0, rowsRead: 0 };
  /** H: the replica holds every row written by a transaction below it. Undefined: nothing read yet. */
  private cursor: bigint | undefined;
  /** The listener epoch in which a read's snapshot came after LISTEN: notifications may then move H. */
  private trackedEpoch = -1;
  private running: Promise<void> | undefined;
  private queued: Promise<void> | undefined;

  constructor(
    private readonly pool: PostgresPoolLike,
    private readonly names: PostgresNames,
    private readonly listener: PostgresListener,
    private readonly commandTimeoutMs: number,
    private readonly clock: () => number,
  ) {}

  get horizon(): bigint | undefined {
    return this.cursor;
  }

  /**
   * Brings the replica up to date with everything committed before this call: a read that starts
   * after it (one already under way may have taken its snapshot too early, so callers that arrive
   * meanwhile share the next one).
   */
  catchUp(): Promise<void> {
    if (this.running === undefined) {
      this.running = this.read().finally(() => (this.running = undefined));
      return this.running;
    }
    this.queued ??= this.running
      .catch(() => undefined)
      .then(() => {
        this.queued = undefined;
        return this.catchUp();
      });
    return this.queued;
  }

  /** Applies a notification's revocations, and moves the horizon when that is proven safe. */
  observe(notification: Notification, delivered: Revocation[]): void {
    for (const revocation of delivered) this.replica.apply(revocation);
    if (this.cursor !== undefined && this.trackedEpoch === this.listener.epoch && this.listener.active)
      if (notification.horizon > this.cursor) this.cursor = notification.horizon;
  }

  /** Stops notifications from moving the horizon until the next read (a delivery could not be completed). */
  untrack(): void {
    this.trackedEpoch = -1;
  }

  /** The rows transaction `txid` wrote that are still its own (for a `more` notification). */
  async rowsOf(txid: bigint): Promise<Revocation[]> {
    const { rows } = await withTimeout(
      this.pool.query({
        text: `SELECT target, cutoff::text, expires_at::text FROM ${this.names.revocations} WHERE txid = $1::xid8`,
        values: [txid.toString()],
        rowMode: 'array',
      }),
      this.commandTimeoutMs,
      'read',
    );
    return rows.map((row) => fromRow(row as string[])).filter((r): r is Revocation => r !== undefined);
  }

  private async read(): Promise<void> {
    const epoch = this.listener.epoch;
    const listening = this.listener.active;
    const client = await checkOut(this.pool, this.commandTimeoutMs);
    const query = (text: string, values?: unknown[]) =>
      withTimeout(client.query({ text, values, rowMode: 'array' }), this.commandTimeoutMs, 'sync read');
    try {
      await query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      const [[xmin]] = (await query('SELECT pg_snapshot_xmin(pg_current_snapshot())::text')).rows as string[][];
      const horizon = BigInt(xmin!);
      if (this.cursor !== undefined && horizon < this.cursor) {
        // Another history (a restore, a failover that lost commits): start over from the table.
        this.cursor = undefined;
        this.replica.clear();
      }
      const from = this.cursor;
      const now = this.clock();
      await query(
        `DECLARE revocations_sync NO SCROLL CURSOR FOR
         SELECT target, cutoff::text, expires_at::text FROM ${this.names.revocations}
         WHERE expires_at > $1${from === undefined ? '' : ' AND txid >= $2::xid8'}`,
        from === undefined ? [now] : [now, from.toString()],
      );
      let rows: string[][];
      do {
        rows = (await query(`FETCH ${FETCH_ROWS} FROM revocations_sync`)).rows as string[][];
        for (const row of rows) {
          const revocation = fromRow(row);
          if (revocation) this.replica.apply(revocation);
        }
        this.counters.rowsRead += rows.length;
      } while (rows.length === FETCH_ROWS);
      await query('COMMIT');
      client.release();
      if (from === undefined) this.counters.fullReads++;
      else this.counters.incrementalReads++;
      if (this.cursor === undefined || horizon > this.cursor) this.cursor = horizon;
      if (listening && epoch === this.listener.epoch) this.trackedEpoch = epoch;
    } catch (error) {
      release(client, error);
      throw error;
    }
  }
}

function release(client: PostgresClientLike, error: unknown): void {
  client.release(error instanceof Error ? error : true); // never back in the pool mid-transaction
}

function fromRow([target, cutoff, expiresAt]: string[]): Revocation | undefined {
  return revocationFromTarget(target!, Number(cutoff), Number(expiresAt));
}
