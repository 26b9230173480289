/**
 * The PostgreSQL store's tables, and the migration that creates them.
 *
 * - `revocations`: one row per revocation target (`revocationTarget()`), merged in place (the later
 *   cutoff and expiry win), with `txid`, the id of the transaction that last wrote it. It is the
 *   store's change log too: readers resync from it by transaction horizon (see
 *   postgres-change-log.ts). A token's row is keyed by its 16-byte digest (the first 16 bytes of a
 *   SHA-256 of its key, as the verifiers' mirrors keep it: a complete read hands the ids over as
 *   they are, and a `digest:` key a mirror heals the store with lands on the token's own row);
 *   every other row by the 32-byte SHA-256 of its target: a B-tree entry holds at most ~2700
 *   bytes, and a subject id may be as long as a token (16 KiB).
 * - `claims`: replay records (`claimOnce`), by the SHA-256 of the key, expiring on the database's clock.
 * - `outbox`: IdP revocations waiting for delivery, leased by `due_at`.
 *
 * The migration only ever creates what is missing (`IF NOT EXISTS`), under a transaction-scoped
 * advisory lock so that instances starting together do not race on the catalog. It never drops or
 * rewrites anything.
 */
import type { Queryable } from './postgres-client.js';

/** Lower-case identifiers only: they are spliced into SQL, and LISTEN channels are identifiers too. */
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,47}$/;

/** The quoted names of one store's objects, derived from its schema. */
export interface PostgresNames {
  schema: string;
  revocations: string;
  claims: string;
  outbox: string;
  /** The NOTIFY channel (an identifier: `<schema>_revocations`). */
  channel: string;
}

/** Whether `schema` can name the store's schema (letters, digits, `_`; at most 48 characters). */
export function isSchemaName(schema: unknown): schema is string {
  return typeof schema === 'string' && SCHEMA_NAME.test(schema);
}

export function namesFor(schema: string): PostgresNames {
  const quoted = (table: string) => `"${schema}"."${table}"`;
  return {
    schema,
    revocations: quoted('revocations'),
    claims: quoted('claims'),
    outbox: quoted('outbox'),
    channel: `${schema}_revocations`,
  };
}

/** The fixed-size key of a text (a target, a claim key), as SQL over `text`. */
export const digestOf = (text: string) => `sha256(convert_to(${text}, 'UTF8'))`;

/** The DDL, one statement per entry; each is a no-op when its object exists. */
export function schemaStatements(names: PostgresNames): string[] {
  const { schema } = names;
  return [
    `CREATE SCHEMA IF NOT EXISTS "${schema}"`,
    // id: a token's digest (16 bytes) or the SHA-256 of the target (32); cutoff: whole epoch seconds
    // (0 for a token); expires_at: epoch ms; txid: the last writer.
    `CREATE TABLE IF NOT EXISTS ${names.revocations} (
      id bytea PRIMARY KEY,
      target text NOT NULL,
      cutoff bigint NOT NULL,
      expires_at bigint NOT NULL,
      txid xid8 NOT NULL
    )`,
    `CREATE INDEX IF NOT EXISTS revocations_txid ON ${names.revocations} (txid)`,
    `CREATE INDEX IF NOT EXISTS revocations_expires_at ON ${names.revocations} (expires_at)`,
    `CREATE TABLE IF NOT EXISTS ${names.claims} (
      id bytea PRIMARY KEY,
      expires_at timestamptz NOT NULL
    )`,
    `CREATE INDEX IF NOT EXISTS claims_expires_at ON ${names.claims} (expires_at)`,
    `CREATE TABLE IF NOT EXISTS ${names.outbox} (
      id text PRIMARY KEY,
      item jsonb NOT NULL,
      due_at bigint NOT NULL
    )`,
    `CREATE INDEX IF NOT EXISTS outbox_due_at ON ${names.outbox} (due_at)`,
  ];
}

/**
 * Creates whatever is missing, in one transaction on one connection, serialized across instances by
 * an advisory lock (concurrent `CREATE … IF NOT EXISTS` can otherwise fail on the catalog's unique
 * indexes).
 */
export async function migrate(
  connection: Queryable & { release(destroy?: Error | boolean): void },
  names: PostgresNames,
): Promise<void> {
  try {
    await connection.query({ text: 'BEGIN' });
    await connection.query({ text: 'SELECT pg_advisory_xact_lock(hashtext($1))', values: ['revocable-jwt:migrate'] });
    for (const statement of schemaStatements(names)) await connection.query({ text: statement });
    await connection.query({ text: 'COMMIT' });
    connection.release();
  } catch (error) {
    connection.release(error instanceof Error ? error : true); // never back in the pool mid-transaction
    throw error;
  }
}
