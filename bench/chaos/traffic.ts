/**
 * The traffic of `npm run chaos`: a steady open-loop load of valid tokens over every live instance
 * (bench/chaos/load-gen.ts, its own process),
 * a logout every few ms through a random instance (retried like a real client on 503 and on
 * connection errors, honouring a bounded `Retry-After`), and probes of each revoked token against
 * every live instance at fixed offsets after its logout answered. Everything is recorded with
 * timestamps on one monotonic clock (`now()`), so the report can attribute it to phases afterwards.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { root } from '../lib/processes.js';
import { track } from './children.js';
import { errorCode, now, send, sleep, withTimeout } from './http.js';
import type { LoadBatch, LoadMessage } from './load-gen.js';
import type { ChaosIdp } from './idp.js';

export interface Instance {
  id: number;
  url: string;
  child: ChildProcess;
  /** In the load balancer's rotation. */
  live: boolean;
}

export class Fleet {
  readonly all: Instance[] = [];
  private readonly listeners: Array<() => void> = [];
  /** Into the rotation. */
  add(instance: Instance): void {
    instance.live = true;
    if (!this.all.includes(instance)) this.all.push(instance);
    this.changed();
  }
  /** Out of the rotation (before it is killed). */
  remove(instance: Instance): void {
    instance.live = false;
    this.changed();
  }
  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }
  private changed(): void {
    for (const listener of this.listeners) listener();
  }
  live(): Instance[] {
    return this.all.filter((i) => i.live);
  }
  pick(): Instance | undefined {
    const live = this.live();
    return live[Math.floor(Math.random() * live.length)];
  }
}

export const PROBE_OFFSETS = [0, 50, 500] as const;
const LOGOUT_AFTER_SWAP_MS = 100;

export interface Probe {
  offset: number;
  instance: number;
  /** Planned and actual send time. */
  plannedAt: number;
  sentAt: number;
  /** HTTP status; 0 for a connection error or timeout. */
  status: number;
}

export interface LogoutAttempt {
  instance: number;
  at: number;
  /** HTTP status; 0 when there was no answer (see `error`). */
  status: number;
  retryAfter?: string;
  error?: string;
  /** Body of a 5xx other than 503. */
  body?: string;
}

export interface RevocationRecord {
  jti: string;
  kid: string;
  token: string;
  mode: 'bearer' | 'body';
  startedAt: number;
  attempts: LogoutAttempt[];
  /** `confirmed`: final answer 200; `unconfirmed`: 502/503 (revoked locally, not confirmed); `refused`: another answer; `unanswered`: no HTTP answer at all. */
  final: 'confirmed' | 'unconfirmed' | 'refused' | 'unanswered' | 'pending';
  answeredAt?: number;
  answeredBy?: number;
  probes: Probe[];
}

export interface TrafficSettings {
  /** Load requests per second, all instances together. */
  rate: number;
  revokeEveryMs: number;
  poolSize: number;
  maxInFlight: number;
  logoutAttempts: number;
  maxRetryAfterMs: number;
}

export class Traffic {
  /** Load requests: send time, status (0 = no answer), latency. */
  readonly load = { t: [] as number[], status: [] as number[], ms: [] as number[] };
  /** Load requests without an answer: send time and why. */
  readonly loadErrors: Array<{ t: number; code: string }> = [];
  /** Send times of load requests not sent because `maxInFlight` were outstanding. */
  readonly skipped: number[] = [];
  /** Send times of load 401s for tokens already on their way to being logged out. */
  readonly refusedWhileLoggingOut: number[] = [];
  readonly revocations: RevocationRecord[] = [];
  private readonly pool: Array<{ token: string; jti: string; kid: string }> = [];
  private readonly pending = new Set<Promise<unknown>>();
  private timers: NodeJS.Timeout[] = [];
  private readonly loadGen: ChildProcess;
  private loadStopped: Promise<void> | undefined;
  private readonly loadReady: Promise<void>;

  constructor(
    private readonly fleet: Fleet,
    private readonly idp: ChaosIdp,
    private readonly settings: TrafficSettings,
  ) {
    for (let i = 0; i < settings.poolSize; i++) this.pool.push(idp.issue());
    this.loadGen = track(
      fork(join(root, 'bench/chaos/load-gen.ts'), [], {
        execArgv: ['--import', 'tsx'],
        cwd: root,
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      }),
    );
    this.loadReady = new Promise((resolve, reject) => {
      this.loadGen.once('exit', (code) => reject(new Error(`the load generator exited (${code}) before it was ready`)));
      this.loadGen.on('message', (message: { type: string }) => message.type === 'ready' && resolve());
    });
    this.loadGen.on('message', (message: LoadBatch | { type: 'stopped' | 'ready' }) => {
      if (message.type !== 'batch') return;
      this.load.t.push(...message.t);
      this.load.status.push(...message.status);
      this.load.ms.push(...message.ms);
      this.loadErrors.push(...message.errors);
      this.skipped.push(...message.skipped);
      this.refusedWhileLoggingOut.push(...message.refusedWhileLoggingOut);
    });
    fleet.onChange(() => this.tell({ type: 'instances', urls: fleet.live().map((i) => i.url) }));
  }

  private tell(message: LoadMessage): void {
    if (this.loadGen.connected) this.loadGen.send(message);
  }

  async start(): Promise<void> {
    await withTimeout(this.loadReady, 30_000, 'the load generator');
    const started = now();
    let revoked = 0;
    this.tell({
      type: 'start',
      rate: this.settings.rate,
      maxInFlight: this.settings.maxInFlight,
      tokens: this.pool.map((e) => e.token),
      urls: this.fleet.live().map((i) => i.url),
    });
    this.timers.push(
      setInterval(
        () => {
          const due = Math.floor((now() - started) / this.settings.revokeEveryMs);
          for (; revoked < due; revoked++) this.track(this.logout());
        },
        Math.max(1, Math.floor(this.settings.revokeEveryMs / 2)),
      ),
    );
  }

  /** Stops new load and logouts at once (cleanup after a failure). */
  halt(): void {
    for (const timer of this.timers) clearInterval(timer);
    this.timers = [];
    this.stopLoad();
  }

  /** Stops the load generator; resolves once it has sent its last results (or exited). */
  private stopLoad(): Promise<void> {
    this.loadStopped ??= new Promise<void>((resolve) => {
      if (this.loadGen.exitCode !== null || this.loadGen.signalCode !== null) return resolve();
      this.loadGen.once('exit', () => resolve());
      this.tell({ type: 'stop' });
    });
    return this.loadStopped;
  }

  /** Stops new load and logouts; waits (at most `timeoutMs`) for logouts, their retries and probes. */
  async stop(timeoutMs: number): Promise<boolean> {
    this.halt();
    const deadline = now() + timeoutMs;
    await withTimeout(this.stopLoad(), timeoutMs, 'the load generator').catch(() => undefined);
    while (this.pending.size > 0 && now() < deadline) {
      await Promise.race([Promise.allSettled([...this.pending]), sleep(Math.max(0, deadline - now()))]);
    }
    return this.pending.size === 0;
  }

  private track(promise: Promise<unknown>): void {
    this.pending.add(promise);
    void promise.finally(() => this.pending.delete(promise));
  }

  /** Revokes the oldest token of the pool (warm in every instance's cache by now) and replaces it. */
  private async logout(): Promise<void> {
    const entry = this.pool.shift()!;
    const fresh = this.idp.issue();
    this.pool.push(fresh);
    this.tell({ type: 'swap', remove: entry.token, add: fresh.token });
    // A client stops using its token, then logs out: the load's own requests then never race the logout.
    await sleep(LOGOUT_AFTER_SWAP_MS);
    const rec: RevocationRecord = {
      ...entry,
      mode: Math.random() < 0.5 ? 'bearer' : 'body',
      startedAt: now(),
      attempts: [],
      final: 'pending',
      probes: [],
    };
    this.revocations.push(rec);
    for (let attempt = 1; attempt <= this.settings.logoutAttempts; attempt++) {
      const instance = this.fleet.pick();
      if (!instance) {
        await sleep(100);
        continue;
      }
      const at = now();
      try {
        const answer = await send(`${instance.url}/logout`, {
          method: 'POST',
          ...(rec.mode === 'bearer'
            ? { token: rec.token }
            : { form: { token: rec.token, token_type_hint: 'access_token' } }),
        });
        rec.attempts.push({
          instance: instance.id,
          at,
          status: answer.status,
          ...(answer.retryAfter ? { retryAfter: answer.retryAfter } : {}),
          ...(answer.body ? { body: answer.body } : {}),
        });
        rec.answeredAt = now();
        rec.answeredBy = instance.id;
        if (answer.status !== 503) break;
        // Not confirmed: a client retries after Retry-After (bounded here), through any instance.
        if (attempt < this.settings.logoutAttempts) {
          const seconds = Number(answer.retryAfter);
          await sleep(
            Math.min(this.settings.maxRetryAfterMs, Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : 1000),
          );
        }
      } catch (error) {
        rec.attempts.push({ instance: instance.id, at, status: 0, error: errorCode(error) });
        await sleep(100);
      }
    }
    const last = [...rec.attempts].reverse().find((a) => a.status !== 0);
    rec.final = !last
      ? 'unanswered'
      : last.status === 200
        ? 'confirmed'
        : last.status === 502 || last.status === 503
          ? 'unconfirmed'
          : 'refused';
    if (rec.answeredAt !== undefined) await this.probe(rec, rec.answeredAt);
  }

  /** The revoked token against every live instance, `PROBE_OFFSETS` ms after its logout answered. */
  private async probe(rec: RevocationRecord, answeredAt: number): Promise<void> {
    await Promise.all(
      PROBE_OFFSETS.map(async (offset) => {
        await sleep(Math.max(0, answeredAt + offset - now()));
        await Promise.all(
          this.fleet.live().map(async (instance) => {
            const sentAt = now();
            let status = 0;
            try {
              status = (await send(`${instance.url}/notes`, { token: rec.token })).status;
            } catch {
              /* 0: connection error */
            }
            rec.probes.push({ offset, instance: instance.id, plannedAt: answeredAt + offset, sentAt, status });
          }),
        );
      }),
    );
  }
}

/** Each token against each URL, `concurrency` at a time: status per token per URL (0 = no answer, -1 = not checked before `deadline`). */
export async function checkTokens(
  tokens: string[],
  urls: string[],
  deadline: number,
  concurrency = 32,
): Promise<number[][]> {
  const results = tokens.map(() => urls.map(() => -1));
  const jobs = tokens.flatMap((_, i) => urls.map((_, j) => [i, j] as const));
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < jobs.length && now() < deadline) {
        const [i, j] = jobs[next++]!;
        try {
          results[i]![j] = (await send(`${urls[j]}/notes`, { token: tokens[i]! })).status;
        } catch {
          results[i]![j] = 0;
        }
      }
    }),
  );
  return results;
}
