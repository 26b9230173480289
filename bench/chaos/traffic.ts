/**
 * The traffic of `npm run chaos`: a steady open-loop load of valid tokens over every live instance,
 * a logout every few ms through a random instance (retried like a real client on 503 and on
 * connection errors, honouring a bounded `Retry-After`), and probes of each revoked token against
 * every live instance at fixed offsets after its logout answered. Everything is recorded with
 * timestamps on one monotonic clock (`now()`), so the report can attribute it to phases afterwards.
 */
import type { ChildProcess } from 'node:child_process';
import { Agent, request } from 'node:http';
import type { ChaosIdp } from './idp.js';

export const now = () => performance.now();
export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

const agent = new Agent({ keepAlive: true, maxSockets: 256 });
/** Generous: on a busy 2-core machine answers can take seconds; a real client waits this long too. */
const REQUEST_TIMEOUT_MS = 10_000;

/** Why a request got no HTTP answer: TIMEOUT, ECONNREFUSED, ECONNRESET, … */
export const errorCode = (error: unknown): string => String((error as { code?: unknown })?.code ?? 'ERROR');

export interface Answer {
  status: number;
  retryAfter: string | undefined;
}

/** One HTTP request over a shared keep-alive agent; rejects on a connection error or after `timeoutMs`. */
export function send(url: string, options: { method?: string; token?: string; form?: Record<string, string>; timeoutMs?: number } = {}): Promise<Answer> {
  const body = options.form ? new URLSearchParams(options.form).toString() : undefined;
  const headers: Record<string, string> = {};
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (body !== undefined) {
    headers['content-type'] = 'application/x-www-form-urlencoded';
    headers['content-length'] = String(Buffer.byteLength(body));
  }
  return new Promise((resolve, reject) => {
    const req = request(url, { method: options.method ?? 'GET', headers, agent, timeout: options.timeoutMs ?? REQUEST_TIMEOUT_MS }, (res) => {
      res.resume();
      res.once('end', () => resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'] }));
      res.once('error', reject);
    });
    req.once('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'TIMEOUT' })));
    req.once('error', reject);
    req.end(body);
  });
}

export interface Instance {
  id: number;
  url: string;
  child: ChildProcess;
  /** In the load balancer's rotation. */
  live: boolean;
}

export class Fleet {
  readonly all: Instance[] = [];
  live(): Instance[] {
    return this.all.filter((i) => i.live);
  }
  pick(): Instance | undefined {
    const live = this.live();
    return live[Math.floor(Math.random() * live.length)];
  }
}

export const PROBE_OFFSETS = [0, 50, 500] as const;

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
  readonly revocations: RevocationRecord[] = [];
  private readonly pool: Array<{ token: string; jti: string; kid: string }> = [];
  private readonly pending = new Set<Promise<unknown>>();
  private inFlight = 0;
  private timers: NodeJS.Timeout[] = [];

  constructor(
    private readonly fleet: Fleet,
    private readonly idp: ChaosIdp,
    private readonly settings: TrafficSettings,
  ) {
    for (let i = 0; i < settings.poolSize; i++) this.pool.push(idp.issue());
  }

  start(): void {
    const started = now();
    let sent = 0;
    let revoked = 0;
    this.timers.push(
      setInterval(() => {
        const due = Math.floor(((now() - started) * this.settings.rate) / 1000);
        for (; sent < due; sent++) {
          if (this.inFlight >= this.settings.maxInFlight) this.skipped.push(now());
          else this.fireLoad();
        }
      }, 5),
      setInterval(() => {
        const due = Math.floor((now() - started) / this.settings.revokeEveryMs);
        for (; revoked < due; revoked++) this.track(this.logout());
      }, Math.max(1, Math.floor(this.settings.revokeEveryMs / 2))),
    );
  }

  /** Stops new load and logouts at once (cleanup after a failure). */
  halt(): void {
    for (const timer of this.timers) clearInterval(timer);
    this.timers = [];
  }

  /** Stops new load and logouts; waits (at most `timeoutMs`) for logouts, their retries and probes. */
  async stop(timeoutMs: number): Promise<boolean> {
    this.halt();
    const deadline = now() + timeoutMs;
    while (this.pending.size > 0 && now() < deadline) {
      await Promise.race([Promise.allSettled([...this.pending]), sleep(Math.max(0, deadline - now()))]);
    }
    return this.pending.size === 0;
  }

  private track(promise: Promise<unknown>): void {
    this.pending.add(promise);
    void promise.finally(() => this.pending.delete(promise));
  }

  private fireLoad(): void {
    const instance = this.fleet.pick();
    const entry = this.pool[Math.floor(Math.random() * this.pool.length)];
    if (!instance || !entry) return;
    const t = now();
    this.inFlight++;
    const record = (status: number) => {
      this.inFlight--;
      this.load.t.push(t);
      this.load.status.push(status);
      this.load.ms.push(now() - t);
    };
    send(`${instance.url}/notes`, { token: entry.token }).then(
      (answer) => record(answer.status),
      (error: unknown) => {
        record(0);
        this.loadErrors.push({ t, code: errorCode(error) });
      },
    );
  }

  /** Revokes the oldest token of the pool (warm in every instance's cache by now) and replaces it. */
  private async logout(): Promise<void> {
    const entry = this.pool.shift()!;
    this.pool.push(this.idp.issue());
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
          ...(rec.mode === 'bearer' ? { token: rec.token } : { form: { token: rec.token, token_type_hint: 'access_token' } }),
        });
        rec.attempts.push({ instance: instance.id, at, status: answer.status, ...(answer.retryAfter ? { retryAfter: answer.retryAfter } : {}) });
        rec.answeredAt = now();
        rec.answeredBy = instance.id;
        if (answer.status !== 503) break;
        // Not confirmed: a client retries after Retry-After (bounded here), through any instance.
        if (attempt < this.settings.logoutAttempts) {
          const seconds = Number(answer.retryAfter);
          await sleep(Math.min(this.settings.maxRetryAfterMs, Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : 1000));
        }
      } catch (error) {
        rec.attempts.push({ instance: instance.id, at, status: 0, error: errorCode(error) });
        await sleep(100);
      }
    }
    const last = [...rec.attempts].reverse().find((a) => a.status !== 0);
    rec.final = !last ? 'unanswered' : last.status === 200 ? 'confirmed' : last.status === 502 || last.status === 503 ? 'unconfirmed' : 'refused';
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

/** Each token against each URL, `concurrency` at a time: status per token per URL (0 = no answer). */
export async function checkTokens(tokens: string[], urls: string[], concurrency = 32): Promise<number[][]> {
  const results = tokens.map(() => urls.map(() => 0));
  const jobs = tokens.flatMap((_, i) => urls.map((_, j) => [i, j] as const));
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < jobs.length) {
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
