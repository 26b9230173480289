/**
 * The IdP outbox of the PostgreSQL store: one row per pending revocation, due at `due_at`. A claim
 * takes due rows with `FOR UPDATE SKIP LOCKED` and moves their `due_at` forward by the lease in the
 * same statement: concurrent workers (other instances) skip rows another is claiming instead of
 * waiting for it, and no row is handed to two of them.
 */
import { withTimeout, type Queryable } from './postgres-client.js';
import type { PostgresNames } from './postgres-schema.js';
import type { PendingRevocation, RevocationOutbox } from './revocation-store.js';

export function postgresOutbox(
  pool: Queryable,
  names: PostgresNames,
  ready: () => Promise<void>,
  commandTimeoutMs: number,
): RevocationOutbox {
  const table = names.outbox;
  const run = async (text: string, values: unknown[], what: string) => {
    await ready();
    return withTimeout(pool.query({ text, values }), commandTimeoutMs, what);
  };
  return {
    async enqueue(item) {
      await run(
        `INSERT INTO ${table} (id, item, due_at) VALUES ($1, $2::jsonb, $3) ON CONFLICT (id) DO NOTHING`,
        [item.id, JSON.stringify(item), Math.ceil(item.nextAttemptAt)],
        'enqueue',
      );
    },
    async claimDue(now, limit, leaseMs) {
      const { rows } = await run(
        `UPDATE ${table} SET due_at = $2
         WHERE id IN (
           SELECT id FROM ${table} WHERE due_at <= $1 ORDER BY due_at LIMIT $3 FOR UPDATE SKIP LOCKED
         )
         RETURNING item::text AS item`,
        [Math.floor(now), Math.ceil(now + leaseMs), limit],
        'claim',
      );
      return rows.map((row) => JSON.parse((row as { item: string }).item) as PendingRevocation);
    },
    async complete(id) {
      await run(`DELETE FROM ${table} WHERE id = $1`, [id], 'complete');
    },
    async reschedule(id, update) {
      await run(
        `UPDATE ${table} SET item = item || $2::jsonb, due_at = $3 WHERE id = $1`,
        [id, JSON.stringify(update), Math.ceil(update.nextAttemptAt)],
        'reschedule',
      );
    },
    async size() {
      const { rows } = await run(`SELECT count(*)::int AS n FROM ${table}`, [], 'size');
      return (rows[0] as { n: number }).n;
    },
  };
}
