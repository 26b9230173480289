/**
 * Turns raw measurements into the summary (medians across rounds, per-round ratios) and the
 * markdown report. Targets are evaluated here, from the numbers only: PASS or MISS, nothing else.
 */
import type { CaseRun, HttpCase } from './http-bench.js';
import type { MicroResult } from './micro.js';
import { median, round } from './stats.js';

export interface CaseSummary {
  name: string;
  description: string;
  baseline: string | undefined;
  rps: number;
  p50: number;
  p99: number;
  /** rps(case) / rps(baseline) per round, and their median. */
  ratios: number[];
  ratio: number | undefined;
  /** Server time this case adds per request over its baseline: 1e6/rps − 1e6/rps(baseline), median across rounds. */
  addedUs: number | undefined;
  maxSteal: number;
  maxOtherCores: number | undefined;
  hitRate: number | undefined;
  remeasured: number;
}

export interface Comparison {
  label: string;
  numerator: string;
  denominator: string;
  ratios: number[];
  median: number;
  /**
   * The same ratio from the servers' own CPU time per request (denominator's ÷ numerator's, so
   * above 1 means cheaper): unlike requests per second it does not move with the load generator's
   * share of the machine or with an event loop left idle between requests.
   */
  cpuRatios: number[];
  cpuMedian: number | undefined;
  /** Minimum median ratio, for target comparisons. */
  target?: number;
  pass?: boolean;
}

export interface Target {
  target: string;
  value: string;
  pass: boolean;
}

export function summarizeHttp(cases: HttpCase[], rounds: Array<Record<string, CaseRun>>): CaseSummary[] {
  return cases.map((c) => {
    const runs = rounds.map((r) => r[c.name]!);
    const ratios = c.baseline ? rounds.map((r) => r[c.name]!.rps / r[c.baseline!]!.rps) : [];
    const added = c.baseline ? rounds.map((r) => 1e6 / r[c.name]!.rps - 1e6 / r[c.baseline!]!.rps) : [];
    const others = runs.map((r) => r.otherCores).filter((v): v is number => v !== undefined);
    const hitRates = runs.map((r) => r.hitRate).filter((v): v is number => v !== undefined);
    return {
      name: c.name,
      description: c.description,
      baseline: c.baseline,
      rps: Math.round(median(runs.map((r) => r.rps))),
      p50: round(median(runs.map((r) => r.p50)), 3),
      p99: round(median(runs.map((r) => r.p99)), 3),
      ratios: ratios.map((v) => round(v, 3)),
      ratio: ratios.length ? round(median(ratios), 3) : undefined,
      addedUs: added.length ? round(median(added), 1) : undefined,
      maxSteal: Math.max(...runs.map((r) => r.steal)),
      maxOtherCores: others.length ? round(Math.max(...others), 2) : undefined,
      hitRate: hitRates.length ? round(hitRates.reduce((s, v) => s + v, 0) / hitRates.length, 4) : undefined,
      remeasured: runs.filter((r) => r.remeasured).length,
    };
  });
}

export function compare(
  rounds: Array<Record<string, CaseRun>>,
  label: string,
  numerator: string,
  denominator: string,
  target?: number,
): Comparison | undefined {
  if (!rounds.every((r) => r[numerator] && r[denominator])) return undefined;
  const ratios = rounds.map((r) => round(r[numerator]!.rps / r[denominator]!.rps, 3));
  const m = round(median(ratios), 3);
  const cpuRatios = rounds
    .map(
      (r) =>
        (r[denominator]!.serverCpuUsPerRequest ?? Number.NaN) / (r[numerator]!.serverCpuUsPerRequest ?? Number.NaN),
    )
    .filter((v) => Number.isFinite(v))
    .map((v) => round(v, 3));
  return {
    label,
    numerator,
    denominator,
    ratios,
    median: m,
    cpuRatios,
    cpuMedian: cpuRatios.length === ratios.length ? round(median(cpuRatios), 3) : undefined,
    ...(target === undefined ? {} : { target, pass: m >= target }),
  };
}

const pct = (v: number) => `${(v * 100).toFixed(1)} %`;
const cell = (v: number | undefined, digits = 0) => (v === undefined ? '—' : v.toFixed(digits));

export interface ReportInput {
  machine: { cpu: string; cores: number; node: string; date: string; quick: boolean; affinity: string };
  settings: {
    rounds: number;
    warmupSeconds: number;
    seconds: number;
    connections: number;
    missPool: number;
    missCacheMax: number;
    tokenLength: Record<string, number>;
  };
  http: CaseSummary[];
  comparisons: Comparison[];
  micro: MicroResult[];
  /** Derived in-process comparisons (label → value), shown under the micro table. */
  microComparisons: Array<{ label: string; value: string }>;
  memory: {
    tokenLength: number;
    perEntry: Array<{
      entries: number;
      heapBytesPerEntry: number;
      verifierFixedHeapBytes: number;
      heapBytesPerEntryAllIn: number;
      rssBytesPerEntry: number;
      heapUsedMB: number;
    }>;
    flood: {
      calls: number;
      accepted: number;
      rejected: number;
      cacheMax: number;
      largestCacheSize: number;
      finalCacheSize: number;
      bounded: boolean;
      jwksFetches: number;
      rssMB: { before: number; after: number };
      heapUsedMB: { before: number; after: number };
      callsPerSecond: number;
    };
  };
  attack: {
    cooldownSeconds: number;
    attackRequests: number;
    attackSeconds: number;
    attackRps: number;
    attackStatuses: Record<string, number>;
    jwksFetches: number;
    maxAllowedFetches: number;
    validAlone: { rps: number; p50: number; p99: number };
    validDuringAttack: { rps: number; p50: number; p99: number; failed: number };
  };
  targets: Target[];
  skipped: string[];
}

export function markdown(r: ReportInput): string {
  const out: string[] = [];
  const s = r.settings;
  out.push(`# revocable-jwt benchmark${r.machine.quick ? ' (--quick)' : ''}`);
  out.push('');
  out.push(
    `${r.machine.date} · ${r.machine.cpu} · ${r.machine.cores} cores · Node ${r.machine.node} · bench process affinity: ${r.machine.affinity}`,
  );
  out.push('');
  out.push(`## HTTP throughput`);
  out.push('');
  out.push(
    `Each case in its own server process pinned to core 0, autocannon on core 1, ${s.connections} connections, ${s.warmupSeconds} s warm-up + ${s.seconds} s window, ${s.rounds} interleaved round(s); medians across rounds; ratios against the baseline of the same round. Hit cases send one RS256 token (${s.tokenLength.RS256} chars); miss cases cycle ${s.missPool} pre-minted tokens through a cache of ${s.missCacheMax}.`,
  );
  out.push('');
  out.push(
    '| case | what | req/s | p50 ms | p99 ms | ratio to baseline (rounds) | added µs/req | max steal / other procs (cores) | cache hit rate |',
  );
  out.push('| --- | --- | ---: | ---: | ---: | --- | ---: | ---: | ---: |');
  for (const c of r.http) {
    const ratio =
      c.ratio === undefined
        ? 'baseline'
        : `**${c.ratio.toFixed(3)}** × ${c.baseline} (${c.ratios.map((v) => v.toFixed(3)).join(', ')})`;
    out.push(
      `| ${c.name}${c.remeasured ? ' ¹' : ''} | ${c.description} | ${c.rps} | ${c.p50.toFixed(2)} | ${c.p99.toFixed(2)} | ${ratio} | ${cell(c.addedUs, 1)} | ${pct(c.maxSteal)} / ${cell(c.maxOtherCores, 2)} | ${c.hitRate === undefined ? '—' : pct(c.hitRate)} |`,
    );
  }
  if (r.http.some((c) => c.remeasured))
    out.push('', '¹ measured again in at least one round because steal or other processes disturbed the first window.');
  if (r.skipped.length) out.push('', `Skipped: ${r.skipped.join('; ')}.`);
  out.push('');
  out.push('| comparison (same round) | per round | median | by server CPU, median (rounds) | target | result |');
  out.push('| --- | --- | ---: | --- | ---: | --- |');
  for (const c of r.comparisons) {
    const cpu =
      c.cpuMedian === undefined
        ? '—'
        : `${c.cpuMedian.toFixed(3)} (${c.cpuRatios.map((v) => v.toFixed(3)).join(', ')})`;
    out.push(
      `| ${c.label} | ${c.ratios.map((v) => v.toFixed(3)).join(', ')} | ${c.median.toFixed(3)} | ${cpu} | ${c.target === undefined ? '—' : `≥ ${c.target}`} | ${c.pass === undefined ? 'info' : c.pass ? 'PASS' : 'MISS'} |`,
    );
  }
  out.push('');
  out.push('## Micro-benchmarks (in-process, mitata, bench process on core 1)');
  out.push('');
  out.push('| benchmark | avg ns/op | p50 ns | p99 ns |');
  out.push('| --- | ---: | ---: | ---: |');
  for (const m of r.micro)
    out.push(`| ${m.name} | ${m.avgNs.toFixed(1)} | ${m.p50Ns.toFixed(1)} | ${m.p99Ns.toFixed(1)} |`);
  out.push('');
  for (const c of r.microComparisons) out.push(`- ${c.label}: ${c.value}`);
  out.push('');
  out.push('## Memory (child process, --expose-gc, heap after full GC)');
  out.push('');
  out.push(
    `| cached entries | heap bytes / entry | verifier fixed heap KB | all-in heap bytes / entry | RSS bytes / entry | heap used MB | token length |`,
  );
  out.push('| ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const m of r.memory.perEntry) {
    out.push(
      `| ${m.entries} | ${m.heapBytesPerEntry} | ${(m.verifierFixedHeapBytes / 1024).toFixed(0)} | ${m.heapBytesPerEntryAllIn} | ${m.rssBytesPerEntry} | ${m.heapUsedMB} | ${r.memory.tokenLength} (ES256) |`,
    );
  }
  const f = r.memory.flood;
  out.push('');
  out.push(`| flood: ${f.calls} verify() calls, unique garbage + 1 valid in 200 | before | after |`);
  out.push('| --- | ---: | ---: |');
  out.push(`| RSS MB | ${f.rssMB.before} | ${f.rssMB.after} |`);
  out.push(`| heap used MB | ${f.heapUsedMB.before} | ${f.heapUsedMB.after} |`);
  out.push(
    `| cache size (max ${f.cacheMax}): largest seen / final | | ${f.largestCacheSize} / ${f.finalCacheSize} (${f.bounded ? 'bounded' : 'EXCEEDED max'}) |`,
  );
  out.push(
    `| accepted / rejected, JWKS fetches, calls/s | | ${f.accepted} / ${f.rejected}, ${f.jwksFetches}, ${f.callsPerSecond} |`,
  );
  out.push('');
  const a = r.attack;
  out.push(
    `## JWKS under attack (${a.attackRequests} unknown-kid requests over HTTP, cooldown ${a.cooldownSeconds} s)`,
  );
  out.push('');
  out.push('| measurement | value |');
  out.push('| --- | --- |');
  out.push(`| attack duration, rate | ${a.attackSeconds.toFixed(2)} s, ${Math.round(a.attackRps)} req/s |`);
  out.push(
    `| attack answers | ${Object.entries(a.attackStatuses)
      .map(([k, v]) => `${v} × ${k}`)
      .join(', ')} |`,
  );
  out.push(
    `| JWKS fetches during the attack (allowed: 1 per cooldown window = ${a.maxAllowedFetches}) | ${a.jwksFetches} |`,
  );
  out.push(
    `| valid requests alone: req/s, p50 / p99 ms | ${Math.round(a.validAlone.rps)}, ${a.validAlone.p50.toFixed(2)} / ${a.validAlone.p99.toFixed(2)} |`,
  );
  out.push(
    `| valid requests during the attack: req/s, p50 / p99 ms, failed | ${Math.round(a.validDuringAttack.rps)}, ${a.validDuringAttack.p50.toFixed(2)} / ${a.validDuringAttack.p99.toFixed(2)}, ${a.validDuringAttack.failed} |`,
  );
  out.push('');
  out.push('## Targets');
  out.push('');
  out.push('| target | measured | result |');
  out.push('| --- | --- | --- |');
  for (const t of r.targets) out.push(`| ${t.target} | ${t.value} | ${t.pass ? 'PASS' : 'MISS'} |`);
  out.push('');
  if (r.machine.quick)
    out.push(
      '_--quick: one round and short windows; ratios can be off by ±25 % on this kind of machine. Judge targets on a full run._',
      '',
    );
  return out.join('\n');
}
