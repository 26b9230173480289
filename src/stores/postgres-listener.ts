/**
 * The one connection a PostgreSQL store keeps open to `LISTEN` on its channel: the store's
 * connection state, reported through `watch()`.
 *
 * `connected` is reported once `LISTEN` has returned (every later commit's NOTIFY reaches us), so a
 * sync read after it misses nothing. The connection is checked every `heartbeatMs` with a query
 * that must answer within the command timeout: a link that went silent (a peer gone without
 * closing, a stalled proxy) is dropped like one that broke. A lost connection is reported
 * `disconnected` at once and re-established with jittered exponential backoff, so instances that
 * lost the database together do not come back in step.
 */
import { unrefTimer } from '../core/shared/unref-timer.js';
import { checkOut, withTimeout, type PostgresClientLike, type PostgresPoolLike } from './postgres-client.js';
import type { StoreStatus } from './revocation-store.js';

const RECONNECT_BASE_MS = 100;
const RECONNECT_MAX_MS = 5_000;

export interface PostgresListenerOptions {
  pool: PostgresPoolLike;
  channel: string;
  commandTimeoutMs: number;
  heartbeatMs: number;
  /** Runs before each LISTEN (creates the tables on first use). */
  prepare(): Promise<void>;
  onNotification(payload: string | undefined): void;
  onStatus(status: StoreStatus): void;
  onError(error: unknown): void;
}

export class PostgresListener {
  /** Bumped whenever the connection comes up or goes down: a sync that straddles a change is no proof. */
  epoch = 0;
  /** LISTEN is in force on a live connection. */
  active = false;
  /** The listening connection's backend process id (`pg_backend_pid()`), while there is one. */
  pid: number | undefined;
  /** How many times the connection was (re)established. */
  connects = 0;
  private current: PostgresClientLike | undefined;
  private failures = 0;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly options: PostgresListenerOptions) {}

  start(): void {
    void this.connect();
  }

  /** Drops the connection now (a delivery could not be completed): it is re-established as after a fault. */
  restart(reason: unknown): void {
    if (this.current) this.drop(this.current, reason);
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    const client = this.current;
    this.current = undefined;
    this.active = false;
    client?.release(true);
  }

  private async connect(): Promise<void> {
    if (this.closed) return;
    const { pool, channel, commandTimeoutMs } = this.options;
    let client: PostgresClientLike;
    try {
      await this.options.prepare();
      client = await checkOut(pool, commandTimeoutMs);
    } catch (error) {
      this.options.onError(error);
      this.options.onStatus('disconnected');
      this.reconnectLater();
      return;
    }
    if (this.closed) {
      client.release(true);
      return;
    }
    this.current = client;
    client.on('notification', (message: { channel?: string; payload?: string }) => {
      if (client === this.current && message.channel === channel) this.options.onNotification(message.payload);
    });
    client.on('error', (error: unknown) => this.drop(client, error));
    client.on('end', () => this.drop(client, new Error('postgres: the LISTEN connection ended')));
    try {
      await withTimeout(client.query({ text: `LISTEN "${channel}"` }), commandTimeoutMs, 'LISTEN');
      const { rows } = await withTimeout(
        client.query({ text: 'SELECT pg_backend_pid()', rowMode: 'array' }),
        commandTimeoutMs,
        'LISTEN',
      );
      if (client !== this.current) return; // lost while setting up: already dropped
      this.pid = Number((rows[0] as unknown[])[0]);
    } catch (error) {
      this.drop(client, error);
      return;
    }
    this.active = true;
    this.epoch++;
    this.connects++;
    this.failures = 0;
    this.options.onStatus('connected');
    this.heartbeatLater(client);
  }

  private heartbeatLater(client: PostgresClientLike): void {
    this.timer = setTimeout(async () => {
      try {
        await withTimeout(client.query({ text: 'SELECT 1' }), this.options.commandTimeoutMs, 'heartbeat');
      } catch (error) {
        this.drop(client, error);
        return;
      }
      if (client === this.current && !this.closed) this.heartbeatLater(client);
    }, this.options.heartbeatMs);
    unrefTimer(this.timer);
  }

  /** Forgets `client` (once), closes it, reports the loss and schedules a reconnect. */
  private drop(client: PostgresClientLike, error: unknown): void {
    if (client !== this.current) return;
    this.current = undefined;
    this.pid = undefined;
    this.active = false;
    this.epoch++;
    clearTimeout(this.timer);
    // Closes it rather than pooling it; node-postgres destroys the socket if a query hangs on it.
    client.release(error instanceof Error ? error : new Error(String(error)));
    if (this.closed) return;
    this.options.onError(error);
    this.options.onStatus('disconnected');
    this.reconnectLater();
  }

  /** Exponential backoff with jitter (half to full delay). */
  private reconnectLater(): void {
    if (this.closed) return;
    clearTimeout(this.timer);
    const delay = Math.min(RECONNECT_MAX_MS, RECONNECT_BASE_MS * 2 ** this.failures);
    this.failures++;
    this.timer = setTimeout(() => void this.connect(), delay * (0.5 + Math.random() / 2));
    unrefTimer(this.timer);
  }
}
