/**
 * `createPostgresStore()`: revocations shared by every instance through PostgreSQL, for teams that
 * run Postgres and no Redis. Entry point `revocable-jwt/postgres` (kept off the main entry so that
 * bundles that do not use it never reach for `pg`, an optional peer dependency).
 *
 * - Revocations are rows of `<schema>.revocations`, one per target, merged in place; each write is
 *   one statement that upserts and `pg_notify`s, so storing and announcing are atomic
 *   (postgres-writer.ts). Concurrent publishes are grouped into one statement.
 * - Every instance LISTENs on one connection (postgres-listener.ts). The table is the store's change
 *   log (`store.changeLog`, postgres-change-log.ts): each verifier's mirror keeps a cursor, a
 *   transaction horizon that deliveries move along, and after a reconnect reads only the rows
 *   written since it; only its first read is complete. The store keeps no copy of the table.
 * - Replay records (`claimOnce`) are `INSERT … ON CONFLICT` on `<schema>.claims`, expiring on the
 *   database's clock; the IdP outbox is `<schema>.outbox`, claimed with `FOR UPDATE SKIP LOCKED`.
 * - Expired rows are deleted by a periodic, bounded purge that one instance at a time runs.
 */
import { durationMs, MAX_WAIT_SECONDS } from '../core/shared/duration-option.js';
import { optionKeys, rejectUnknownKeys, rejectUnsetValue } from '../core/shared/option-keys.js';
import { sharedStorePolicy } from './shared-store-policy.js';
import { unrefTimer } from '../core/shared/unref-timer.js';
import { checkOut, createPool, withTimeout, type PostgresPoolLike } from './postgres-client.js';
import { LOG, PostgresChangeLog } from './postgres-change-log.js';
import { PostgresListener } from './postgres-listener.js';
import { mayHaveBeenLeftOut, parseNotification, type Notification } from './postgres-notification.js';
import { postgresOutbox } from './postgres-outbox.js';
import { digestOf, isSchemaName, migrate, namesFor } from './postgres-schema.js';
import { PostgresWriter } from './postgres-writer.js';
import type {
  AvailabilityPolicy,
  ChangePosition,
  DeliveryMeta,
  Revocation,
  RevocationChangeLog,
  RevocationListener,
  RevocationStore,
  StoreStatus,
} from './revocation-store.js';

export type { PostgresClientLike, PostgresPoolLike, PostgresQuery } from './postgres-client.js';

/**
 * Options of {@link createPostgresStore}: `connectionString` or `pool` (exactly one), where its
 * tables live, and how the verifiers that use the store behave while PostgreSQL is unreachable.
 * Durations are in seconds; any other key is refused with a `TypeError` naming the closest valid one.
 *
 * @example
 * ```ts
 * import { createPostgresStore, type PostgresStoreOptions } from 'revocable-jwt/postgres';
 * const options: PostgresStoreOptions = {
 *   connectionString: process.env.DATABASE_URL,
 *   schema: 'notes_api_revocations',
 *   onStoreUnavailable: 'fail-closed', // 503 once PostgreSQL has been gone longer than maxStaleness
 *   maxStaleness: 10,
 *   commandTimeout: 2,
 * };
 * const store = createPostgresStore(options);
 * ```
 */
export interface PostgresStoreOptions {
  /** `postgres://…` URL; the store creates (and on close, ends) its own `pg.Pool` of up to 10 connections. */
  connectionString?: string;
  /**
   * A node-postgres `Pool` you own (of at least 2 connections): the store keeps one of them for
   * LISTEN, and does not end the pool.
   */
  pool?: PostgresPoolLike;
  /**
   * The schema of the store's tables (`revocations`, `claims`, `outbox`) and the name of its NOTIFY
   * channel (`<schema>_revocations`): lower-case letters, digits and `_`, at most 48 characters.
   * Default `'revocable_jwt'`. Deployments sharing one database need different schemas.
   */
  schema?: string;
  /**
   * Create the schema and tables on first use (`CREATE … IF NOT EXISTS` under an advisory lock).
   * Default true. Set false when the application's role may not create tables: run `migrate()`
   * once with a role that may.
   */
  autoMigrate?: boolean;
  /** Policy once PostgreSQL has been unreachable longer than `maxStaleness`. Default `'fail-closed'`. */
  onStoreUnavailable?: 'fail-closed' | 'fail-open';
  /** How long the local mirror is trusted after losing PostgreSQL, in seconds. Default 10. */
  maxStaleness?: number;
  /**
   * Each database call, in seconds (e.g. 0.5). Default 2, at most 60. A revocation not written
   * within it is retried in the background.
   */
  commandTimeout?: number;
  /**
   * How long a verification waits for the mirror's first sync (and for the resync after each
   * reconnect) before `fail-closed` answers 503, in seconds. Default 5, at most 60.
   */
  syncTimeout?: number;
  /**
   * How often the LISTEN connection is checked with a query, in seconds. Default 5, at most 60. A
   * link that went silent without closing is noticed within `heartbeat + commandTimeout`.
   */
  heartbeat?: number;
  /**
   * How often expired rows are deleted, in seconds (jittered; one instance at a time, in bounded
   * batches). Default 60; 0 turns it off (another instance or a job of yours runs `purge()`).
   */
  purgeInterval?: number;
  /** Current time in epoch ms (expiry of snapshots and writes). Default `Date.now`. */
  clock?: () => number;
}

/** The keys createPostgresStore accepts (any other is refused): one line per option. */
const POSTGRES_STORE_OPTION_KEYS = optionKeys<PostgresStoreOptions>({
  connectionString: true,
  pool: true,
  schema: true,
  autoMigrate: true,
  onStoreUnavailable: true,
  maxStaleness: true,
  commandTimeout: true,
  syncTimeout: true,
  heartbeat: true,
  purgeInterval: true,
  clock: true,
});

/**
 * How a PostgreSQL store is doing, from `store.stats()`: its LISTEN connection, the newest position
 * of its change log and what reads cost. For health checks and dashboards.
 *
 * @example
 * ```ts
 * import { createPostgresStore, type PostgresStoreStats } from 'revocable-jwt/postgres';
 * const store = createPostgresStore({ connectionString: process.env.DATABASE_URL });
 * const stats: PostgresStoreStats = store.stats();
 * if (!stats.connected) log.warn({ error: stats.lastError }, 'revocation store: not listening');
 * ```
 */
export interface PostgresStoreStats {
  /** LISTEN is in force: every revocation committed from now on reaches this process. */
  connected: boolean;
  /** The backend process id of the LISTEN connection (`pg_stat_activity.pid`), while connected. */
  listenerPid: number | undefined;
  /** How many times the LISTEN connection was established (first connect included). */
  connects: number;
  /**
   * The newest position of the change log this store has handed out, by a read or a notification:
   * a transaction id horizon (xid8, as text), where a mirror that follows the deliveries has its
   * cursor; undefined before either.
   */
  horizon: string | undefined;
  /**
   * Reads of everything: each mirror's first sync, any after the table lost its history (a new
   * table, a TRUNCATE, a restore), and `snapshot()` calls.
   */
  fullReads: number;
  /** Reads of only what was written since a mirror's cursor: every resync after a mirror's first. */
  incrementalReads: number;
  /** Rows those reads returned, together. */
  rowsRead: number;
  /** Notifications received (each carries one or more revocations). */
  notifications: number;
  /** Publishes waiting for their statement. */
  queuedWrites: number;
  /** Expired rows this instance's purges deleted. */
  purged: number;
  /** The last database error the store met on its own (LISTEN connection, purge, read of a large revocation). */
  lastError: string | undefined;
}

/**
 * The store {@link createPostgresStore} returns: a shared `RevocationStore` that reports connection
 * changes (`watch`) and keeps a change log (`changeLog`: mirrors resync by reading only what they
 * missed), with an availability policy, `migrate()`, `purge()` and `stats()`.
 *
 * @example
 * ```ts
 * import { createVerifier } from 'revocable-jwt';
 * import { createPostgresStore, type PostgresRevocationStore } from 'revocable-jwt/postgres';
 * const store: PostgresRevocationStore = createPostgresStore({ connectionString: process.env.DATABASE_URL });
 * await store.migrate(); // optional: fail at startup, not at the first request, if the role may not create tables
 * const verifier = createVerifier({ issuer: 'https://idp.example.com/', audience: 'api', store });
 * // on shutdown: verifier first, then the store
 * await verifier.close();
 * await store.close();
 * ```
 */
export type PostgresRevocationStore = RevocationStore & {
  /** The policy built from `onStoreUnavailable`, `maxStaleness` and `syncTimeout` (here in milliseconds). */
  readonly availability: AvailabilityPolicy;
  /**
   * The `revocations` table read as a change log: what was written since a cursor (a transaction
   * horizon), or everything when there is none or the table lost its history. Verifiers' mirrors
   * use it; positions are not contiguous (`contiguous: false`).
   */
  readonly changeLog: RevocationChangeLog;
  /** The schema holding the store's tables. */
  readonly schema: string;
  /** Creates the schema and tables if they are missing (idempotent, safe to run from many instances at once). */
  migrate(): Promise<void>;
  /** Deletes expired rows now (bounded batches; skipped if another instance is purging); resolves to how many. */
  purge(): Promise<number>;
  /** The LISTEN connection, the change log's newest position and what reads cost (see {@link PostgresStoreStats}). */
  stats(): PostgresStoreStats;
};

/** Rows kept past their expiry before the purge deletes them: room for instances whose clocks run behind. */
const PURGE_GRACE_MS = 300_000;
const PURGE_BATCH = 5_000;
const PURGE_MAX_BATCHES = 20;

const fail = (message: string): never => {
  throw new TypeError(`revocable-jwt: createPostgresStore: ${message}`);
};

/**
 * A `RevocationStore` in PostgreSQL, shared by every instance: a token revoked through one
 * instance is refused by all, while each still verifies locally (the hot path never queries the
 * database). Revocations are rows that a single statement writes and announces with `NOTIFY`;
 * every instance LISTENs, keeps a mirror, and after a reconnect reads only the rows written since
 * its mirror's cursor (the table is the change log): a resync costs what was missed, in the
 * database and in process. Writes the database does not take are retried in the background until
 * they land.
 * Replay records and the IdP outbox live in the database too.
 *
 * `{ connectionString }` makes the store create (and on `close()` end) its own `pg.Pool` — `pg` is
 * an optional peer dependency, loaded only then; `{ pool }` takes a node-postgres pool you own.
 * Construction does not wait for the database: the first verifications wait up to `syncTimeout`
 * for the first sync. The tables are created on first use unless `autoMigrate: false`.
 *
 * Does not work through a pooler in transaction mode (PgBouncer `pool_mode=transaction`): LISTEN
 * needs a session of its own; point the store at the server or a session-mode pool. Does not
 * validate that two deployments sharing one database use different `schema`s.
 *
 * @param options - `connectionString` or `pool`, the schema, and the outage policy (see {@link PostgresStoreOptions}).
 * @returns The store; pass it to `createVerifier({ store })` and `close()` it after the verifiers.
 * @throws TypeError for bad options (both or neither of `connectionString`/`pool`, an empty
 *   `connectionString`, a schema that is not a plain identifier, a wait over 60 s, an unknown key);
 *   Error when `connectionString` is given and pg is not installed.
 *
 * @example
 * ```ts
 * import { createVerifier } from 'revocable-jwt';
 * import { createPostgresStore } from 'revocable-jwt/postgres';
 * const store = createPostgresStore({ connectionString: 'postgres://api@db.internal/app' });
 * const verifier = createVerifier({ issuer: 'https://idp.example.com/', audience: 'api', store });
 * // shutdown: await verifier.close(); await store.close();
 * ```
 */
export function createPostgresStore(options: PostgresStoreOptions): PostgresRevocationStore {
  if (typeof options !== 'object' || options === null) fail('needs options: { connectionString } or { pool }');
  rejectUnknownKeys(options, POSTGRES_STORE_OPTION_KEYS, 'createPostgresStore');
  if (options.connectionString !== undefined && options.pool !== undefined)
    fail('pass either `connectionString` or `pool`, not both');
  if (options.connectionString === undefined && options.pool === undefined) {
    fail(
      "pass { connectionString: 'postgres://user@host/db' } or { pool } (a pg.Pool); " +
        '`connectionString` was undefined (is DATABASE_URL set?)',
    );
  }
  if (options.pool === undefined) rejectUnsetValue(options, 'connectionString', 'createPostgresStore');
  if (options.connectionString !== undefined && typeof options.connectionString !== 'string')
    fail('`connectionString` must be a string');
  if (
    options.pool !== undefined &&
    (typeof options.pool?.query !== 'function' || typeof options.pool.connect !== 'function')
  )
    fail('`pool` must be a node-postgres Pool (with query() and connect())');
  const schema = options.schema ?? 'revocable_jwt';
  if (!isSchemaName(schema))
    fail(
      '`schema` must be lower-case letters, digits and _ (not starting with a digit), at most 48 characters; ' +
        `got ${JSON.stringify(schema)}`,
    );
  const autoMigrate = options.autoMigrate ?? true;
  if (typeof autoMigrate !== 'boolean') fail('`autoMigrate` must be true or false');
  const factory = 'createPostgresStore';
  const { availability, commandTimeoutMs } = sharedStorePolicy(options, factory);
  const wait = { max: MAX_WAIT_SECONDS };
  const heartbeatMs = durationMs(options.heartbeat, 'heartbeat', { ...wait, default: 5 }, factory);
  const purgeIntervalMs = durationMs(
    options.purgeInterval,
    'purgeInterval',
    { default: 60, allowZero: true, max: 86_400 },
    factory,
  );
  const clock = options.clock ?? Date.now;
  if (typeof clock !== 'function') fail('`clock` must be a function returning epoch milliseconds');

  const owned = options.pool === undefined;
  const pool = options.pool ?? createPool(options.connectionString!, commandTimeoutMs);
  const names = namesFor(schema);
  const listeners = new Set<RevocationListener>();
  const watchers = new Set<(status: StoreStatus) => void>();
  let connected: boolean | undefined; // unknown until the first connect or failure
  let closed = false;
  let notifications = 0;
  let purged = 0;
  let lastError: string | undefined;
  const noteError = (error: unknown) => {
    lastError = error instanceof Error ? error.message : String(error);
  };

  let migration: Promise<void> | undefined;
  const runMigration = async () => {
    const connection = await checkOut(pool, commandTimeoutMs);
    await withTimeout(migrate(connection, names), commandTimeoutMs * 4, 'migrate');
  };
  const migrateOnce = () => {
    migration ??= runMigration().catch((error: unknown) => {
      migration = undefined; // the next call tries again
      throw error;
    });
    return migration;
  };
  const ready = () => (autoMigrate ? migrateOnce() : Promise.resolve());

  // Every `connected` is announced (each reconnect means a resync); `disconnected` once per
  // outage, including a first connection that fails (so a store that never connects says so).
  const setStatus = (status: StoreStatus) => {
    if (closed || (status === 'disconnected' && connected === false)) return;
    connected = status === 'connected';
    for (const watcher of watchers) watcher(status);
  };

  const deliver = (revocations: Revocation[], meta: DeliveryMeta) => {
    for (const revocation of revocations) for (const listener of listeners) listener(revocation, meta);
  };

  // Deliveries carry their writer's horizon as their position (mirrors move their cursor along),
  // except while revocations left out of a payload are being read: no cursor moves past them
  // before they are delivered.
  let leftOut = 0;
  let lastPosition: ChangePosition | undefined;
  const onNotification = (payload: string | undefined) => {
    const notification = parseNotification(payload);
    if (!notification) return; // not ours (a stray NOTIFY on the channel)
    notifications++;
    const meta: DeliveryMeta = {
      ...(notification.publishedAt !== undefined ? { publishedAt: notification.publishedAt } : {}),
      ...(notification.origin !== undefined ? { origin: notification.origin } : {}),
    };
    if (notification.epoch !== undefined) {
      lastPosition = { log: LOG, epoch: notification.epoch, seq: Number(notification.horizon) };
      changeLog.saw(lastPosition);
    }
    if (!notification.more) {
      const position = leftOut === 0 ? lastPosition : undefined;
      deliver(notification.revocations, position === undefined ? meta : { ...meta, position });
      return;
    }
    void fetchLeftOut(notification, meta);
  };

  // Revocations too large for a payload: read them by the writer's transaction id, then deliver
  // them with the newest position heard (every notification before it has been delivered).
  const fetchLeftOut = async (notification: Notification, meta: DeliveryMeta) => {
    leftOut++;
    let rows: Revocation[];
    try {
      rows = (await changeLog.rowsOf(notification.txid)).filter(mayHaveBeenLeftOut);
    } catch (error) {
      leftOut--;
      // A delivery we cannot complete: drop the connection so that every mirror resyncs.
      noteError(error);
      listener.restart(error);
      return;
    }
    leftOut--;
    const position = leftOut === 0 ? lastPosition : undefined;
    deliver(rows, position === undefined ? meta : { ...meta, position });
  };

  const listener = new PostgresListener({
    pool,
    channel: names.channel,
    commandTimeoutMs,
    heartbeatMs,
    prepare: ready,
    onNotification,
    onStatus: setStatus,
    onError: noteError,
  });
  const changeLog = new PostgresChangeLog(pool, names, commandTimeoutMs);
  const writer = new PostgresWriter(pool, names, ready, commandTimeoutMs, clock);
  const outbox = postgresOutbox(pool, names, ready, commandTimeoutMs);

  const purge = async (): Promise<number> => {
    await ready();
    let total = 0;
    for (let batch = 0; batch < PURGE_MAX_BATCHES; batch++) {
      const deleted = await purgeBatch();
      total += deleted;
      if (deleted < PURGE_BATCH) break;
    }
    purged += total;
    return total;
  };
  // One bounded batch of each table, by the database's clock (instances' clocks may disagree), by
  // whichever instance holds the purge lock; the others skip rather than queue behind it.
  const purgeBatch = async (): Promise<number> => {
    const connection = await checkOut(pool, commandTimeoutMs);
    const query = (text: string, values: unknown[] = []) =>
      withTimeout(connection.query({ text, values, rowMode: 'array' }), commandTimeoutMs, 'purge');
    try {
      await query('BEGIN');
      const [[locked]] = (
        await query('SELECT pg_try_advisory_xact_lock(hashtext($1))', [`revocable-jwt:purge:${schema}`])
      ).rows as boolean[][];
      let deleted = 0;
      if (locked) {
        const revocations = await query(
          `WITH gone AS (DELETE FROM ${names.revocations} WHERE ctid = ANY(ARRAY(
             SELECT ctid FROM ${names.revocations}
             WHERE expires_at < (extract(epoch FROM clock_timestamp()) * 1000)::bigint - $1 LIMIT $2)) RETURNING 1)
           SELECT count(*)::int FROM gone`,
          [PURGE_GRACE_MS, PURGE_BATCH],
        );
        deleted = (revocations.rows as number[][])[0]![0]!;
        await query(
          `DELETE FROM ${names.claims} WHERE ctid = ANY(ARRAY(
             SELECT ctid FROM ${names.claims} WHERE expires_at < clock_timestamp() LIMIT $1))`,
          [PURGE_BATCH],
        );
      }
      await query('COMMIT');
      connection.release();
      return deleted;
    } catch (error) {
      connection.release(error instanceof Error ? error : true);
      throw error;
    }
  };
  let purgeTimer: NodeJS.Timeout | undefined;
  const purgeLater = () => {
    if (purgeIntervalMs === 0 || closed) return;
    purgeTimer = setTimeout(
      () => {
        purge().then(
          () => purgeLater(),
          (error: unknown) => {
            noteError(error);
            purgeLater();
          },
        );
      },
      purgeIntervalMs * (0.5 + Math.random()),
    );
    unrefTimer(purgeTimer);
  };

  listener.start();
  purgeLater();

  return {
    schema,
    availability,
    outbox,
    migrate: migrateOnce,
    purge,
    async publish(revocation, origin) {
      if (Math.ceil(revocation.expiresAt - clock()) <= 0) return; // already over: nothing to keep or announce
      await writer.publish(revocation, origin);
    },
    async claimOnce(key, ttlMs) {
      await ready();
      const { rows } = await withTimeout(
        pool.query({
          text: `INSERT INTO ${names.claims} AS c (id, expires_at)
                 VALUES (${digestOf('$1::text')}, clock_timestamp() + $2 * interval '1 millisecond')
                 ON CONFLICT (id) DO UPDATE SET expires_at = EXCLUDED.expires_at
                 WHERE c.expires_at <= clock_timestamp()
                 RETURNING 1`,
          values: [key, Math.max(1, Math.ceil(ttlMs))],
        }),
        commandTimeoutMs,
        'claim',
      );
      return rows.length === 1;
    },
    async snapshot(now) {
      await ready();
      return changeLog.snapshot(now);
    },
    changeLog: {
      contiguous: changeLog.contiguous,
      async read(cursor, now) {
        await ready();
        return changeLog.read(cursor, now);
      },
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    watch(listener) {
      watchers.add(listener);
      const now = connected;
      // Replays the current state, unless a change reached the listener first.
      if (now !== undefined)
        queueMicrotask(
          () => watchers.has(listener) && connected === now && listener(now ? 'connected' : 'disconnected'),
        );
      return () => watchers.delete(listener);
    },
    stats() {
      return {
        connected: listener.active,
        listenerPid: listener.pid,
        connects: listener.connects,
        horizon: changeLog.latest === undefined ? undefined : String(changeLog.latest.seq),
        ...changeLog.counters,
        notifications,
        queuedWrites: writer.pending,
        purged,
        lastError,
      };
    },
    async close() {
      if (closed) return;
      closed = true;
      clearTimeout(purgeTimer);
      listeners.clear();
      watchers.clear();
      writer.failQueued(new Error('revocable-jwt: the PostgreSQL store was closed'));
      await listener.close();
      if (owned) await pool.end().catch(() => undefined);
    },
  };
}
