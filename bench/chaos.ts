/**
 * `npm run chaos`: a bounded fault-injection run under load (issue 10, "Under load, with faults").
 * Not a benchmark and not part of `npm test`.
 *
 * Three API processes (bench/chaos/instance.ts) share a private redis-server; the harness serves a
 * controllable IdP (bench/chaos/idp.ts), drives a steady load of valid tokens, logs a token out every
 * 20 ms through a random instance and probes every revoked token on every instance 0 / 50 / 500 ms
 * after its logout answered (bench/chaos/traffic.ts). Faults come in phases at known times: Redis
 * killed and restarted empty, a write stall, failing writes (OOM), instances SIGKILLed and cold-started,
 * the JWKS answering 500 while the IdP rotates in a new key, the revocation endpoint answering 503.
 * At the end every revocation is checked on every instance and on a freshly started one, and against
 * the IdP's delivery counts. Prints the markdown report, writes bench/results/chaos.{json,md}, and
 * exits 1 if a target is missed (2 if the harness itself failed).
 *
 * Usage: tsx bench/chaos.ts [--quick] [--phases baseline,redis-kill,…] [--rate <req/s>] [--revoke-every <ms>]
 *   Defaults: 1,500 req/s (--quick 1,000) and a logout every 20 ms; on a machine other work keeps busy,
 *   lower both (the report flags phases where the harness or the machine could not keep up).
 *   full ≈ 1.5 min, --quick ≈ 1 min (longer on a busy machine; hard timeout 8 / 6 min); every child
 *   (instances, Redis, the load generator) is killed on every exit path, Ctrl-C included.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { killProcess } from '../test/support/kill.js';
import { waitFor } from '../test/support/wait-for.js';
import { killAll, spawnNode } from './chaos/children.js';
import { AUDIENCE, CLIENT_ID, CLIENT_SECRET, startIdp, type ChaosIdp } from './chaos/idp.js';
import { startChaosRedis, type ChaosRedis } from './chaos/redis.js';
import { markdown, summarize, type Outage, type PhaseRun, type Settings } from './chaos/report.js';
import { now, send, sleep, withTimeout } from './chaos/http.js';
import { checkTokens, Fleet, Traffic, type Instance } from './chaos/traffic.js';
import { root } from './lib/processes.js';
import { cpuDelta, cpuSnapshot, round } from './lib/stats.js';

const argv = process.argv.slice(2);
const option = (name: string) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
};
const quick = argv.includes('--quick');
const seconds = (full: number, short: number) => (quick ? short : full) * 1000;

const settings: Settings = {
  quick,
  instances: 3,
  rate: Number(option('--rate') ?? (quick ? 1_000 : 1_500)),
  revokeEveryMs: Number(option('--revoke-every') ?? 20),
  // Set below: a token stays in the load's pool ~2 s, then is logged out (so it is warm in caches, and
  // tokens signed with a key rotated in during the JWKS outage are logged out during that outage).
  poolSize: 0,
  tokenLifetimeSeconds: 900,
  maxStalenessSeconds: 2,
  // ioredis reconnects with a backoff of at most 2 s; the resync follows at once.
  reconnectGraceMs: 2_000,
  jwksCooldownSeconds: 2,
  tailMs: 2_000,
  minTailAvailability: 0.99,
  logoutAttempts: 5,
  maxRetryAfterMs: 5_000,
  // Bounded so an overloaded machine cannot bury logouts and probes under a queue of load requests.
  maxInFlight: 64,
};
const HARD_TIMEOUT_MS = quick ? 6 * 60_000 : 8 * 60_000;
const DRAIN_MS = quick ? 20_000 : 30_000;
const CHECK_MS = 60_000;
const POOL_SECONDS = 2;
/** Longest a fault may take to inject and heal before the phase is reported as failed. */
const ACT_MS = 60_000;
const log = (line: string) => process.stderr.write(`[chaos ${new Date().toISOString().slice(11, 19)}] ${line}\n`);

interface Context {
  redis: ChaosRedis;
  idp: ChaosIdp;
  fleet: Fleet;
  outages: Outage[];
  startInstance(): Promise<Instance>;
}

interface PhaseSpec {
  name: string;
  fault: string;
  /** Injects the fault and heals it (takes the fault's duration); notes go into the report. */
  act(ctx: Context, notes: string[]): Promise<void>;
  recoverMs: number;
}

const PHASES: PhaseSpec[] = [
  { name: 'baseline', fault: '—', act: async () => undefined, recoverMs: seconds(8, 4) },
  {
    name: 'redis-kill',
    fault: `Redis SIGKILLed, restarted empty after ${seconds(4, 3) / 1000} s`,
    async act(ctx, notes) {
      const down = now();
      await ctx.redis.kill();
      await sleep(seconds(4, 3));
      await ctx.redis.restart();
      const up = now();
      ctx.outages.push({ down, up });
      notes.push(`Redis down for ${Math.round(up - down)} ms`);
    },
    recoverMs: seconds(8, 5),
  },
  {
    name: 'write-stall',
    fault: `CLIENT PAUSE ${seconds(3, 3)} WRITE`,
    async act(ctx) {
      await ctx.redis.command('CLIENT', 'PAUSE', seconds(3, 3), 'WRITE');
      await sleep(seconds(3, 3));
    },
    recoverMs: seconds(7, 5),
  },
  {
    name: 'write-fail',
    fault: `maxmemory 1 + noeviction for ${seconds(3, 2) / 1000} s (writes answer OOM)`,
    async act(ctx, notes) {
      await ctx.redis.command('CONFIG', 'SET', 'maxmemory-policy', 'noeviction');
      await ctx.redis.command('CONFIG', 'SET', 'maxmemory', 1);
      // Check the fault is real: a write must fail now.
      const probe = await ctx.redis.command('SET', 'chaos:oom-check', '1').then(
        () => 'a SET still succeeded: the fault did not take',
        (error: Error) => `a SET answered: ${error.message.split('.')[0]}`,
      );
      notes.push(probe);
      await sleep(seconds(3, 2));
      await ctx.redis.command('CONFIG', 'SET', 'maxmemory', 0);
    },
    recoverMs: seconds(7, 5),
  },
  {
    name: 'instance-kill',
    fault: `${quick ? 1 : 3} instance(s) SIGKILLed and cold-started`,
    async act(ctx, notes) {
      for (let i = 0; i < (quick ? 1 : 3); i++) {
        const victim = ctx.fleet.live()[0]!;
        ctx.fleet.remove(victim); // out of the load balancer's rotation as it dies
        await killProcess(victim.child);
        const t = now();
        const fresh = await ctx.startInstance();
        notes.push(`#${victim.id} killed, #${fresh.id} listening ${Math.round(now() - t)} ms later`);
        await sleep(seconds(2, 1));
      }
    },
    recoverMs: seconds(5, 4),
  },
  {
    name: 'jwks-500',
    fault: `JWKS answers 500 for ${seconds(5, 3) / 1000} s; a new key signs 25 % of new tokens from the start`,
    async act(ctx) {
      ctx.idp.jwksFails = true;
      ctx.idp.rotate(0.25);
      await sleep(seconds(5, 3));
      ctx.idp.jwksFails = false;
    },
    recoverMs: seconds(7, 5),
  },
  {
    name: 'idp-503',
    fault: `revocation endpoint answers 503 (Retry-After: 1) for ${seconds(5, 3) / 1000} s`,
    async act(ctx) {
      ctx.idp.revocationFails = true;
      await sleep(seconds(5, 3));
      ctx.idp.revocationFails = false;
    },
    recoverMs: seconds(10, 6),
  },
];

/** Busy and steal fractions of the whole machine since `before`. */
function machineCpu(before: Record<string, number[]>): { cpuBusy: number; cpuSteal: number } {
  const all = cpuDelta(before, cpuSnapshot()).cpu;
  return { cpuBusy: all?.busy ?? NaN, cpuSteal: all?.steal ?? NaN };
}

let traffic: Traffic | undefined;
let idp: ChaosIdp | undefined;
let finishing = false;

async function cleanup(): Promise<void> {
  traffic?.halt();
  await idp?.close().catch(() => undefined);
  await killAll();
}

async function abort(reason: string, code: number): Promise<never> {
  if (!finishing) {
    finishing = true;
    log(`${reason}: cleaning up`);
    await cleanup();
  }
  process.exit(code);
}

async function main(): Promise<number> {
  const wanted = option('--phases')?.split(',');
  const unknown = wanted?.filter((name) => !PHASES.some((p) => p.name === name)) ?? [];
  if (unknown.length > 0)
    throw new Error(`unknown phase(s) ${unknown.join(', ')}; known: ${PHASES.map((p) => p.name).join(', ')}`);
  const phases = PHASES.filter((p) => !wanted || wanted.includes(p.name));
  if (!(settings.rate > 0)) throw new Error('--rate must be a positive number of requests per second');
  if (!(settings.revokeEveryMs >= 1)) throw new Error('--revoke-every must be a number of milliseconds >= 1');
  settings.poolSize = Math.max(10, Math.round((POOL_SECONDS * 1000) / settings.revokeEveryMs));

  const started = now();
  const machine = {
    node: process.versions.node,
    cores: cpus().length,
    date: new Date().toISOString(),
    loadavg: loadavg(),
  };
  const redis = await startChaosRedis();
  idp = await startIdp(settings.tokenLifetimeSeconds);
  log(`redis ${redis.url}, IdP ${idp.issuer}`);
  const fleet = new Fleet();
  const keyPrefix = `chaos:${process.pid}:`;
  let nextId = 1;
  const env = {
    ISSUER: idp.issuer,
    AUDIENCE,
    REDIS_URL: redis.url,
    KEY_PREFIX: keyPrefix,
    CLIENT_ID,
    CLIENT_SECRET,
    MAX_STALENESS: String(settings.maxStalenessSeconds),
    JWKS_COOLDOWN: String(settings.jwksCooldownSeconds),
  };
  const spawnInstance = async (): Promise<Instance> => {
    const { child, port } = await spawnNode('bench/chaos/instance.ts', env);
    return { id: nextId++, url: `http://127.0.0.1:${port}`, child, live: false };
  };
  const ctx: Context = {
    redis,
    idp,
    fleet,
    outages: [],
    async startInstance() {
      const instance = await spawnInstance();
      fleet.add(instance);
      return instance;
    },
  };
  await Promise.all(Array.from({ length: settings.instances }, () => ctx.startInstance()));
  const warm = idp.issue().token;
  for (const instance of fleet.live()) {
    await waitFor(
      async () => (await send(`${instance.url}/notes`, { token: warm }).catch(() => ({ status: 0 }))).status === 200,
      `instance #${instance.id} to accept a token`,
      20_000,
    );
  }
  log(`${fleet.live().length} instances up; load ${settings.rate} req/s, a logout every ${settings.revokeEveryMs} ms`);

  traffic = new Traffic(fleet, idp, settings);
  await traffic.start();
  // The first phase includes the warm-up, so every logout belongs to a phase.
  const trafficStarted = now();
  if (process.env.CHAOS_DEBUG) {
    let last = now();
    setInterval(() => {
      const t = now();
      log(`tick lag ${Math.round(t - last - 1000)} ms, load ${traffic!.load.t.length}`);
      last = t;
    }, 1000).unref();
  }
  await sleep(1_500); // connections opened, caches warm (counted in the first phase)

  const delay = monitorEventLoopDelay({ resolution: 5 });
  delay.enable();
  const runs: PhaseRun[] = [];
  const faultFailures: string[] = [];
  for (const spec of phases) {
    log(`phase ${spec.name}: ${spec.fault}`);
    delay.reset();
    const notes: string[] = [];
    const cpuBefore = cpuSnapshot();
    const selfBefore = process.cpuUsage();
    const start = runs.length === 0 ? trafficStarted : now();
    try {
      await withTimeout(spec.act(ctx, notes), ACT_MS, `the ${spec.name} fault`);
    } catch (error) {
      // Reported, not fatal: the rest of the run still says what the code did.
      faultFailures.push(spec.name);
      notes.push(`FAULT INJECTION FAILED: ${error instanceof Error ? error.message : String(error)}`);
      log(`phase ${spec.name}: fault injection failed: ${String(error)}`);
    }
    const healedAt = now();
    log(`phase ${spec.name}: fault healed after ${Math.round(healedAt - start)} ms`);
    await sleep(spec.recoverMs);
    runs.push({
      name: spec.name,
      fault: spec.fault,
      start,
      healedAt,
      end: now(),
      notes,
      loopDelayP99Ms: round(delay.percentile(99) / 1e6, 1),
      loopDelayMaxMs: round(delay.max / 1e6, 1),
      ...machineCpu(cpuBefore),
      harnessCores: 0,
    });
    const self = process.cpuUsage(selfBefore);
    runs[runs.length - 1]!.harnessCores = round((self.user + self.system) / 1000 / (now() - start), 2);
  }
  delay.disable();

  log('stopping load; waiting for logout retries and probes');
  const stoppedCleanly = await traffic.stop(30_000);
  const held = traffic.revocations.filter((r) => r.final === 'confirmed' || r.final === 'unconfirmed');
  log(`waiting up to ${DRAIN_MS / 1000} s for the IdP to receive ${held.length} revocations`);
  const drainStart = now();
  const delivered = () => held.every((r) => (idp!.deliveries.get(r.jti) ?? 0) > 0);
  while (!delivered() && now() - drainStart < DRAIN_MS) await sleep(250);
  const drainComplete = delivered();
  const drainedMs = now() - drainStart;

  log('checking every revocation on every instance and on a fresh one');
  const fresh = await spawnInstance();
  const checked = [...fleet.live(), fresh];
  const labels = checked.map((i) => (i === fresh ? `fresh #${i.id}` : `#${i.id}`));
  const statuses = await checkTokens(
    held.map((r) => r.token),
    checked.map((i) => i.url),
    now() + CHECK_MS,
  );
  const instanceStats: Record<string, unknown> = {};
  for (const [i, instance] of checked.entries()) {
    instanceStats[labels[i]!] = await fetch(`${instance.url}/admin/stats`, { signal: AbortSignal.timeout(2_000) })
      .then((r) => r.json())
      .then((s: any) => ({
        store: s.revocation?.store,
        outbox: s.revocation?.outbox,
        denylisted: s.revocation?.denylisted,
        jwks: s.jwks,
      }))
      .catch((error: Error) => ({ error: error.message }));
  }

  const summary = summarize({
    settings,
    machine,
    phases: runs,
    outages: ctx.outages,
    traffic,
    idp: { deliveries: idp.deliveries, counters: { ...idp.counters }, rotatedKid: idp.rotatedKid },
    end: { instances: labels, statuses, jtis: held.map((r) => r.jti), drainedMs, drainComplete },
    instanceStats,
    durationSeconds: round((now() - started) / 1000, 1),
    stoppedCleanly,
  });
  finishing = true;
  await cleanup();

  const md = markdown(summary);
  const dir = join(root, 'bench', 'results');
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'chaos.json'), `${JSON.stringify(summary, null, 2)}\n`);
  await writeFile(join(dir, 'chaos.md'), md);
  process.stdout.write(md);
  if (faultFailures.length > 0) {
    log(`fault injection failed in: ${faultFailures.join(', ')} (exit 2: this run did not test what it says)`);
    return 2;
  }
  return summary.targets.every((t) => t.pass) ? 0 : 1;
}

process.on('SIGINT', () => void abort('interrupted', 130));
process.on('SIGTERM', () => void abort('terminated', 143));
const hardTimeout = setTimeout(() => void abort(`hard timeout after ${HARD_TIMEOUT_MS / 1000} s`, 2), HARD_TIMEOUT_MS);
main().then(
  (code) => {
    clearTimeout(hardTimeout);
    process.exit(code);
  },
  (error: unknown) =>
    void abort(`failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`, 2),
);
