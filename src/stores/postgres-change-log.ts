/**
 * The PostgreSQL store's change log (`store.changeLog`): the `revocations` table is its own log.
 * Every row carries `txid`, the transaction that last wrote it, so "what changed since" is a range
 * of that column; a mirror's cursor is a transaction horizon, and a reconnect reads only the rows
 * written since it. The store keeps no copy of the table: each verifier's mirror is the only one.
 *
 * Why the cursor is a transaction horizon, not a sequence number. A `bigserial` is handed out when a
 * row is written, not when it commits: writer A takes 41, writer B takes 42 and commits first, a
 * reader sees 42 and moves its cursor past 41, then A commits — and `WHERE seq > 42` never returns
 * A's row. So the cursor is a *horizon* H with the invariant: the mirror holds every row written by
 * a transaction whose id is below H (or something newer for the same target).
 *
 * - A read runs in a REPEATABLE READ snapshot S. Every transaction below S's `xmin` had finished
 *   before S, so it is visible in S (or rolled back): reading `txid >= H` and then setting
 *   H = xmin(S) keeps the invariant. Rows of transactions still running at S have ids >= xmin(S)
 *   and are read next time (or arrive by NOTIFY).
 * - A NOTIFY carries its writer's horizon W as its position: the xmin of the writer's snapshot,
 *   or the writer's own id + 1 when that xmin *is* its own id (nothing older was running) and
 *   every revocation it wrote is in its payloads (one left out is read by the listeners after).
 *   PostgreSQL delivers notifications in commit order, and every transaction below the xmin
 *   committed before the writer did; so once a mirror has listened without a break since before a
 *   read's snapshot, receiving the writer's notification means it has every one of those
 *   transactions (from the read or from earlier notifications), and the writer's own: H = W keeps
 *   the invariant. (With writers running side by side, W is the oldest one's id: a reconnect then
 *   reads those writes again, harmlessly, until a later notification moves H past them.) Positions are not
 *   contiguous (`contiguous: false`), so a mirror moves its cursor along deliveries only once it has
 *   read since its last connect (see StoreMirror): that is what makes a reconnect cost only what
 *   was missed, the cursor having kept moving while connected.
 * - The log's epoch names the table's storage (its oid and file node): a table dropped and
 *   created again, restored from a dump, or truncated is a log that lost its history, and a cursor
 *   from before gets everything (`complete: true`), so mirrors heal the database from what they
 *   know. A table rewrite (VACUUM FULL, CLUSTER) changes it too: one complete read per mirror.
 * - A server whose horizon is *below* the cursor (a restore, a failover that lost commits) is
 *   another history: everything again, as for a new epoch.
 * - Purging expired rows loses no change a mirror needs (it forgets them by their expiry itself),
 *   so no cursor is ever too old: an old cursor reads what was written since, at most the table.
 *
 * Reads hand token revocations over in bulk (`CompactTokens`: the 16-byte digest is the row's id,
 * the expiry goes in seconds), aggregated by the database into a few large values instead of a
 * row each: a complete read scans the table in ranges of heap blocks (TID range scans), an
 * incremental one follows the `txid` index in chunks. Other rows (cutoffs) come as JSON.
 *
 * A transaction left open elsewhere on the server holds horizons back; reads then return more than
 * was missed (all of it merged idempotently), never less.
 */
import { TOKEN_DIGEST_BYTES } from '../core/shared/token-digest.js';
import { checkOut, withTimeout, type PostgresClientLike, type PostgresPoolLike } from './postgres-client.js';
import type { PostgresNames } from './postgres-schema.js';
import {
  mergeRevocation,
  revocationFromTarget,
  revocationTarget,
  type ChangeCursor,
  type ChangePosition,
  type CompactTokens,
  type Revocation,
  type RevocationChangeLog,
  type RevocationChanges,
} from './revocation-store.js';

/** The one log of a PostgreSQL store, as positions and cursors name it. */
export const LOG = 'revocations';
/** Heap blocks per chunk of a complete read: ~120 000 rows of tokens, ~3 MB on the wire. */
const BLOCKS_PER_CHUNK = 2_048;
/** Rows per chunk of an incremental read. */
const CHANGES_PER_CHUNK = 50_000;
/** Rows per FETCH of `snapshot()` (every revocation as an object: not the mirror's path). */
const FETCH_ROWS = 20_000;
/** A token in a read: its 16-byte digest (the row's id), then its expiry in epoch seconds (uint32, big-endian). */
const TOKEN_RECORD = TOKEN_DIGEST_BYTES + 4;

/** How a store's reads have gone, for `stats()` (and tests that prove a reconnect read only what it missed). */
export interface ReadCounters {
  /** Reads of everything: a mirror's first, one after the table lost its history, and `snapshot()`. */
  fullReads: number;
  /** Reads of the rows written since a cursor. */
  incrementalReads: number;
  /** Rows those reads returned, together. */
  rowsRead: number;
}

/** The log's epoch, as SQL: the table's oid and file node (a new table, a TRUNCATE or a rewrite changes it). */
export function epochOf(names: PostgresNames): string {
  const table = `'${names.revocations}'::regclass`;
  return `(${table}::oid::text || '.' || pg_relation_filenode(${table})::text)`;
}

/** What one chunk of a read found. */
interface Chunk {
  /** Token records (TOKEN_RECORD bytes each), base64. */
  tokens: string | null;
  /** Other rows: `[target, cutoff, expires_at]`. */
  others: Array<[string, number, number]> | null;
}

export class PostgresChangeLog implements RevocationChangeLog {
  readonly contiguous = false;
  readonly counters: ReadCounters = { fullReads: 0, incrementalReads: 0, rowsRead: 0 };
  /** The newest position handed out, by a read or a notification (for `stats()`). */
  latest: ChangePosition | undefined;
  private readonly head: string;
  private readonly everything: [string, string];
  private readonly since: string;

  constructor(
    private readonly pool: PostgresPoolLike,
    private readonly names: PostgresNames,
    private readonly commandTimeoutMs: number,
  ) {
    const table = names.revocations;
    // The read's snapshot is taken by this first statement; the table's size read in it covers
    // every row the snapshot sees.
    this.head = `SELECT pg_snapshot_xmin(pg_current_snapshot())::text, ${epochOf(names)},
      pg_relation_size('${table}'::regclass) / current_setting('block_size')::int8`;
    // Token rows have 16-byte ids (their digest); every other row (cutoffs) is keyed by a SHA-256.
    const record = `id || substring(int8send(LEAST((expires_at + 999) / 1000, 4294967295)) FROM 5)`;
    // Expiry is a filter of the aggregates, not of the scan: whatever the table's statistics (none
    // before its first ANALYZE), each query has one way in, a TID range or the txid index.
    const aggregates = (tokens: string) => `
      SELECT encode(string_agg(${tokens}, ''::bytea) FILTER (WHERE length(id) = 16 AND expires_at > $1), 'base64'),
             json_agg(json_build_array(target, cutoff, expires_at))
               FILTER (WHERE length(id) <> 16 AND expires_at > $1)`;
    const blocks = `${aggregates(record)} FROM ${table} WHERE ctid >= $2::tid`;
    this.everything = [`${blocks} AND ctid < $3::tid`, blocks];
    // Ordered by txid and bounded, so a chunk ends on a transaction the next one starts from
    // (its rows are read twice: harmless, reads merge).
    this.since = `${aggregates('record')}, count(*), max(txid)::text FROM (
        SELECT ${record} AS record, id, target, cutoff, expires_at, txid FROM ${table}
        WHERE txid >= $2::xid8 ORDER BY txid LIMIT ${CHANGES_PER_CHUNK}) AS changed`;
  }

  /** Notes a position a notification carried (the newest one shows in `stats()`). */
  saw(position: ChangePosition): void {
    if (this.latest === undefined || position.epoch !== this.latest.epoch || position.seq > this.latest.seq)
      this.latest = position;
  }

  /**
   * The rows written since `cursor` (transaction ids from its horizon on), or everything in force
   * at `now` when there is no cursor, it is of another epoch, or it stands past the server's
   * horizon (another history). One REPEATABLE READ transaction: one snapshot for the whole read.
   */
  async read(cursor: ChangeCursor | undefined, now: number): Promise<RevocationChanges> {
    const client = await checkOut(this.pool, this.commandTimeoutMs);
    const query = (text: string, values?: unknown[]) =>
      withTimeout(client.query({ text, values, rowMode: 'array' }), this.commandTimeoutMs, 'sync read');
    try {
      await query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      const [[xmin, epoch, blockCount]] = (await query(this.head)).rows as string[][];
      const horizon = Number(xmin);
      const at = cursor?.[LOG];
      let from = at !== undefined && at.epoch === epoch && at.seq <= horizon ? at.seq : undefined;
      const chunks: Chunk[] = [];
      const since = from === undefined ? undefined : await this.readSince(query, from, now, chunks);
      if (since === 'too-large') from = undefined;
      if (from === undefined) {
        chunks.length = 0;
        await this.readAll(query, Number(blockCount), now, chunks);
      }
      await query('COMMIT');
      client.release();
      const changes = collect(chunks, now);
      this.counters.rowsRead += changes.revocations.length + changes.tokens.count;
      if (from === undefined) this.counters.fullReads++;
      else this.counters.incrementalReads++;
      const position: ChangePosition = { log: LOG, epoch: epoch!, seq: horizon };
      this.saw(position);
      return { complete: from === undefined, ...changes, cursor: { [LOG]: position } };
    } catch (error) {
      release(client, error);
      throw error;
    }
  }

  /** Everything in force, by ranges of heap blocks (the last range open-ended). */
  private async readAll(query: Query, blockCount: number, now: number, chunks: Chunk[]): Promise<void> {
    for (let start = 0; ; start += BLOCKS_PER_CHUNK) {
      const last = start + BLOCKS_PER_CHUNK >= blockCount;
      const { rows } = await (last
        ? query(this.everything[1], [now, `(${start},0)`])
        : query(this.everything[0], [now, `(${start},0)`, `(${start + BLOCKS_PER_CHUNK},0)`]));
      chunks.push(chunkOf(rows[0] as unknown[]));
      if (last) return;
    }
  }

  /**
   * The rows written from horizon `from` on, in chunks along the `txid` index. 'too-large': one
   * transaction wrote more than a chunk (never the store's own writes, at most 1000 rows each):
   * read everything instead.
   */
  private async readSince(query: Query, from: number, now: number, chunks: Chunk[]): Promise<'ok' | 'too-large'> {
    let next = String(from);
    for (;;) {
      const { rows } = await query(this.since, [now, next]);
      const row = rows[0] as unknown[];
      chunks.push(chunkOf(row));
      if (Number(row[2]) < CHANGES_PER_CHUNK) return 'ok';
      const last = row[3] as string;
      if (last === next) return 'too-large';
      next = last;
    }
  }

  /** Every revocation in force at `now`, as objects with their keys (`snapshot()`: not the mirror's path). */
  async snapshot(now: number): Promise<Revocation[]> {
    const client = await checkOut(this.pool, this.commandTimeoutMs);
    const query = (text: string, values?: unknown[]) =>
      withTimeout(client.query({ text, values, rowMode: 'array' }), this.commandTimeoutMs, 'snapshot');
    try {
      await query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      await query(
        `DECLARE revocations_snapshot NO SCROLL CURSOR FOR
         SELECT target, cutoff::text, expires_at::text FROM ${this.names.revocations} WHERE expires_at > $1`,
        [now],
      );
      const found = new Map<string, Revocation>();
      let rows: string[][];
      do {
        rows = (await query(`FETCH ${FETCH_ROWS} FROM revocations_snapshot`)).rows as string[][];
        for (const row of rows) {
          const revocation = fromRow(row);
          if (revocation === undefined) continue;
          const target = revocationTarget(revocation);
          found.set(target, mergeRevocation(found.get(target), revocation));
        }
        this.counters.rowsRead += rows.length;
      } while (rows.length === FETCH_ROWS);
      await query('COMMIT');
      client.release();
      this.counters.fullReads++;
      return [...found.values()];
    } catch (error) {
      release(client, error);
      throw error;
    }
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
}

type Query = (text: string, values?: unknown[]) => Promise<{ rows: unknown[] }>;

function chunkOf(row: unknown[]): Chunk {
  return { tokens: row[0] as string | null, others: row[1] as Chunk['others'] };
}

/** The chunks' token records as compact tokens, and their other rows as revocations. */
function collect(chunks: Chunk[], now: number): { revocations: Revocation[]; tokens: CompactTokens } {
  const blobs = chunks.flatMap((chunk) => (chunk.tokens === null ? [] : [Buffer.from(chunk.tokens, 'base64')]));
  let total = 0;
  for (const blob of blobs) total += Math.floor(blob.length / TOKEN_RECORD);
  const digests = new Uint8Array(total * TOKEN_DIGEST_BYTES);
  const expiresAt = new Uint32Array(total);
  let count = 0;
  for (const blob of blobs) {
    for (let pos = 0; pos + TOKEN_RECORD <= blob.length; pos += TOKEN_RECORD) {
      blob.copy(digests, count * TOKEN_DIGEST_BYTES, pos, pos + TOKEN_DIGEST_BYTES);
      expiresAt[count++] = blob.readUInt32BE(pos + TOKEN_DIGEST_BYTES);
    }
  }
  const revocations: Revocation[] = [];
  for (const chunk of chunks) {
    for (const [target, cutoff, expires] of chunk.others ?? []) {
      const revocation = revocationFromTarget(target, Number(cutoff), Number(expires));
      if (revocation !== undefined && revocation.expiresAt > now) revocations.push(revocation);
    }
  }
  return { revocations, tokens: { digests, expiresAt, count } };
}

function release(client: PostgresClientLike, error: unknown): void {
  client.release(error instanceof Error ? error : true); // never back in the pool mid-transaction
}

function fromRow([target, cutoff, expiresAt]: string[]): Revocation | undefined {
  return revocationFromTarget(target!, Number(cutoff), Number(expiresAt));
}
