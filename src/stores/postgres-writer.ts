/**
 * `publish()` for the PostgreSQL store: every revocation is written and announced by one statement
 * (an upsert that merges the later cutoff and expiry, and `pg_notify` in the same transaction, so a
 * revocation is never announced without being stored, nor stored without being announced).
 *
 * Writes are grouped: revocations published while a statement is on its way go together in the
 * next one (up to `MAX_BATCH`, at most `MAX_IN_FLIGHT` statements at a time). A mass logout then
 * costs a few hundred commits instead of one per token, and a single revocation still leaves at once.
 */
import { isDigestKey, tokenDigestOf } from '../core/shared/token-digest.js';
import { epochOf } from './postgres-change-log.js';
import { withTimeout, type PostgresPoolLike } from './postgres-client.js';
import { payloadTails } from './postgres-notification.js';
import { digestOf, type PostgresNames } from './postgres-schema.js';
import { mergeRevocation, revocationTarget, type Revocation } from './revocation-store.js';

const MAX_BATCH = 1_000;
const MAX_IN_FLIGHT = 4;

interface Pending {
  revocation: Revocation;
  origin: string | undefined;
  resolve(): void;
  reject(error: unknown): void;
}

export class PostgresWriter {
  private queue: Pending[] = [];
  private inFlight = 0;
  private scheduled = false;
  private readonly statement: string;
  private readonly channel: string;

  constructor(
    private readonly pool: PostgresPoolLike,
    names: PostgresNames,
    private readonly ready: () => Promise<void>,
    private readonly commandTimeoutMs: number,
    private readonly clock: () => number,
  ) {
    // $1 channel; $2..$4 the rows, $6 their ids (a token's digest; null: the SHA-256 of the
    // target); $5 the payload tails. The database adds each payload's head: this statement's
    // horizon (x), transaction id (t) and the table's epoch (e), which only it knows. The horizon
    // is its snapshot's xmin (every transaction below it had finished), or its own id + 1 when that
    // xmin is its own id (nothing older was running: a listener that hears this commit has every
    // transaction up to it) and $7 says every revocation is in the payloads. A token named by its
    // digest alone (`digest:` key, a mirror healing the store) keeps the key a row has.
    this.statement = `
      WITH written AS (
        INSERT INTO ${names.revocations} AS r (id, target, cutoff, expires_at, txid)
        SELECT COALESCE(id, ${digestOf('target')}), target, cutoff, expires_at, pg_current_xact_id()
        FROM unnest($2::text[], $3::int8[], $4::int8[], $6::bytea[]) AS i(target, cutoff, expires_at, id)
        ON CONFLICT (id) DO UPDATE SET
          target = CASE WHEN left(EXCLUDED.target, 13) = 'token:digest:' THEN r.target ELSE EXCLUDED.target END,
          cutoff = GREATEST(r.cutoff, EXCLUDED.cutoff),
          expires_at = GREATEST(r.expires_at, EXCLUDED.expires_at),
          txid = EXCLUDED.txid
        RETURNING 1
      ), snap AS (
        SELECT pg_snapshot_xmin(pg_current_snapshot()) AS xmin, pg_current_xact_id() AS xid
      ), head AS (
        SELECT CASE WHEN $7 AND xmin = xid THEN (xid::text::numeric + 1)::text ELSE xmin::text END AS x,
               xid::text AS t, ${epochOf(names)} AS e
        FROM snap
      )
      SELECT (SELECT count(*) FROM written) AS written,
             count(pg_notify($1, '{"x":"' || head.x || '","t":"' || head.t || '","e":"' || head.e || '",' || tail))
               AS sent
      FROM head, unnest($5::text[]) AS tail`;
    this.channel = names.channel;
  }

  publish(revocation: Revocation, origin: string | undefined): Promise<void> {
    return new Promise((resolve, reject) => {
      this.queue.push({ revocation, origin, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        queueMicrotask(() => this.drain()); // whatever else is published in this tick goes along
      }
    });
  }

  /** How many publishes wait for a statement (queued or on their way). */
  get pending(): number {
    return this.queue.length;
  }

  /** Fails every queued publish (the store is closing): callers keep and retry them. */
  failQueued(error: Error): void {
    for (const item of this.queue.splice(0)) item.reject(error);
  }

  private drain(): void {
    this.scheduled = false;
    while (this.queue.length > 0 && this.inFlight < MAX_IN_FLIGHT) {
      const batch = this.queue.splice(0, MAX_BATCH);
      this.inFlight++;
      this.write(batch).finally(() => {
        this.inFlight--;
        this.drain();
      });
    }
  }

  private async write(batch: Pending[]): Promise<void> {
    try {
      await this.ready();
      // One row per id: an upsert may not touch a row twice in one statement.
      const rows = new Map<string, { revocation: Revocation; id: Buffer | null }>();
      for (const { revocation } of batch) {
        const id = revocation.type === 'token' ? Buffer.from(tokenDigestOf(revocation.key)) : null;
        const name = id === null ? revocationTarget(revocation) : id.toString('latin1');
        const known = rows.get(name)?.revocation;
        rows.set(name, { revocation: merged(known, revocation), id });
      }
      const targets: string[] = [];
      const cutoffs: number[] = [];
      const expiries: number[] = [];
      const ids: Array<Buffer | null> = [];
      for (const { revocation, id } of rows.values()) {
        targets.push(revocationTarget(revocation));
        ids.push(id);
        // Whole numbers for bigint columns, rounded up: a later cutoff or expiry only revokes more.
        cutoffs.push(revocation.type === 'token' ? 0 : Math.ceil(revocation.cutoff));
        expiries.push(Math.ceil(revocation.expiresAt));
      }
      const tails = payloadTails(batch, this.clock());
      // A revocation left out of the payloads is read by the listeners afterwards: until they have
      // it, no position may cover this transaction.
      const coversItself = !tails.some((tail) => tail.endsWith('"more":1}'));
      await withTimeout(
        this.pool.query({
          text: this.statement,
          values: [this.channel, targets, cutoffs, expiries, tails, ids, coversItself],
        }),
        this.commandTimeoutMs,
        'publish',
      );
    } catch (error) {
      for (const item of batch) item.reject(error);
      return;
    }
    for (const item of batch) item.resolve();
  }
}

/** Merges two revocations of one row; a token keeps a key over a `digest:` name of the same token. */
function merged(known: Revocation | undefined, incoming: Revocation): Revocation {
  const result = mergeRevocation(known, incoming);
  if (known?.type === 'token' && incoming.type === 'token' && isDigestKey(incoming.key) && !isDigestKey(known.key))
    return { ...result, type: 'token', key: known.key };
  return result;
}
