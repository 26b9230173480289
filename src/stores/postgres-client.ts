/**
 * What the PostgreSQL store needs of node-postgres (`pg`), as structural types, so that `pg` stays
 * an optional peer dependency (loaded only when the store creates its own pool) and any `pg.Pool`
 * fits without a cast. Also the one place that bounds every database call in time.
 */
import { createRequire } from 'node:module';

/**
 * A query as node-postgres takes it, the one shape the store passes to `query()`: a `pg.Pool` or
 * `pg.PoolClient` accepts it as it is.
 *
 * @example
 * ```ts
 * import pg from 'pg';
 * import type { PostgresQuery } from 'revocable-jwt/postgres';
 * const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL });
 * const live: PostgresQuery = {
 *   text: 'SELECT count(*) FROM revocable_jwt.revocations WHERE expires_at > $1',
 *   values: [Date.now()],
 *   rowMode: 'array',
 * };
 * const { rows } = await pool.query(live);
 * ```
 */
export interface PostgresQuery {
  /** The SQL, with `$1`, `$2`… placeholders. */
  text: string;
  /** The placeholders' values. */
  values?: unknown[];
  /** `'array'`: each row as an array of column values (the store's bulk reads), not an object. */
  rowMode?: 'array';
}

/**
 * A connection checked out of a {@link PostgresPoolLike}: what the store runs its transactions and
 * its `LISTEN` on. A `pg.PoolClient` fits as it is.
 *
 * @example
 * ```ts
 * import pg from 'pg';
 * import type { PostgresClientLike } from 'revocable-jwt/postgres';
 * const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL });
 * const client: PostgresClientLike = await pool.connect(); // what the store LISTENs on
 * client.release();
 * ```
 */
export interface PostgresClientLike {
  /** Runs one statement on this connection. */
  query(query: PostgresQuery): Promise<{ rows: unknown[] }>;
  /** `notification` (a NOTIFY on a channel it LISTENs to), `error` and `end` of the connection. */
  // biome-ignore lint/suspicious/noExplicitAny: node-postgres types its listeners per event
  on(event: 'notification' | 'error' | 'end', listener: (...args: any[]) => void): unknown;
  /** Returns it to the pool; with an error (or `true`), closes it instead. */
  release(destroy?: Error | boolean): void;
}

/**
 * The part of a node-postgres `Pool` the store uses: what `{ pool }` must offer. A `pg.Pool` fits
 * as it is; the type exists so that the store does not import pg's own types.
 *
 * @example
 * ```ts
 * import pg from 'pg';
 * import { createPostgresStore, type PostgresPoolLike } from 'revocable-jwt/postgres';
 * const pool: PostgresPoolLike = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 10 });
 * const store = createPostgresStore({ pool }); // you own the pool: the store does not end it
 * ```
 */
export interface PostgresPoolLike {
  /** Runs one statement on any idle connection. */
  query(query: PostgresQuery): Promise<{ rows: unknown[] }>;
  /** Checks a connection out, for a transaction or for the `LISTEN` the store keeps open. */
  connect(): Promise<PostgresClientLike>;
  /** Closes every connection; called on `close()` only for a pool the store created itself. */
  end(): Promise<void>;
}

/** Something that runs statements: a pool or one checked-out connection. */
export type Queryable = Pick<PostgresPoolLike, 'query'>;

/**
 * `promise`, or a rejection after `timeoutMs`: a database that stops answering (a paused link, a
 * lock held elsewhere) must not hold a publish or a sync for longer than the store promised.
 */
export function withTimeout<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`postgres ${what} timed out after ${timeoutMs} ms`)), timeoutMs);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Checks a connection out within `timeoutMs`. A connection that arrives after the wait gave up is
 * returned to the pool at once instead of leaking.
 */
export async function checkOut(pool: PostgresPoolLike, timeoutMs: number): Promise<PostgresClientLike> {
  let gaveUp = false;
  const pending = pool.connect();
  pending.then(
    (client) => gaveUp && client.release(),
    () => undefined,
  );
  try {
    return await withTimeout(pending, timeoutMs, 'connect');
  } catch (error) {
    gaveUp = true;
    throw error;
  }
}

/** Creates a `pg.Pool` for `connectionString`; `pg` is an optional peer dependency, loaded only here. */
export function createPool(connectionString: string, commandTimeoutMs: number): PostgresPoolLike {
  let Pool: new (config: object) => PostgresPoolLike & { on(event: 'error', listener: () => void): unknown };
  try {
    const loaded = createRequire(import.meta.url)('pg') as { Pool?: unknown; default?: { Pool?: unknown } };
    Pool = (loaded.Pool ?? loaded.default?.Pool) as typeof Pool;
  } catch (cause) {
    throw new Error('revocable-jwt: createPostgresStore needs the optional peer dependency pg: npm install pg', {
      cause,
    });
  }
  const pool = new Pool({
    connectionString,
    max: 10,
    connectionTimeoutMillis: commandTimeoutMs,
    // A query that never answers (a black-holed link) closes its connection instead of holding it.
    query_timeout: commandTimeoutMs,
    // Notice a peer that vanished without closing the connection (the heartbeat covers LISTEN).
    keepAlive: true,
    application_name: 'revocable-jwt',
  });
  // An idle connection that dies emits `error` on the pool; unhandled, it would end the process.
  // Outages surface as failed calls and as the LISTEN connection's status instead.
  pool.on('error', () => undefined);
  return pool;
}
