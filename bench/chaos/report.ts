/**
 * Turns what `npm run chaos` recorded into per-phase figures, the end-of-run checks and the targets
 * of issue 10 ("Under load, with faults"), as JSON and markdown. Targets are decided from the numbers
 * only: PASS or MISS.
 */
import { percentile, round } from '../lib/stats.js';
import type { ChaosIdp } from './idp.js';
import { PROBE_OFFSETS, type RevocationRecord, type Traffic } from './traffic.js';

export interface PhaseRun {
  name: string;
  fault: string;
  start: number;
  /** When the fault was healed (= start for the baseline). */
  healedAt: number;
  end: number;
  notes: string[];
  loopDelayP99Ms: number;
  loopDelayMaxMs: number;
  /** Whole machine during the phase (all processes, from /proc/stat): busy and steal fractions. */
  cpuBusy: number;
  cpuSteal: number;
  /** CPU the harness process itself used, in cores. */
  harnessCores: number;
}

/** Redis unreachable (process killed) from `down` until the restarted one answered `up`. */
export interface Outage {
  down: number;
  up: number;
}

export interface Settings {
  quick: boolean;
  instances: number;
  rate: number;
  revokeEveryMs: number;
  poolSize: number;
  tokenLifetimeSeconds: number;
  maxStalenessSeconds: number;
  reconnectGraceMs: number;
  jwksCooldownSeconds: number;
  tailMs: number;
  minTailAvailability: number;
  logoutAttempts: number;
  maxRetryAfterMs: number;
  maxInFlight: number;
}

export interface EndCheck {
  /** Labels of the checked instances (the live ones and a fresh one). */
  instances: string[];
  /** Per must-hold revocation (same order as `tokens`): status on each instance. */
  statuses: number[][];
  jtis: string[];
  drainedMs: number;
  drainComplete: boolean;
}

export interface RunInput {
  settings: Settings;
  machine: { node: string; cores: number; date: string; loadavg: number[] };
  phases: PhaseRun[];
  outages: Outage[];
  traffic: Traffic;
  idp: { deliveries: ReadonlyMap<string, number>; counters: ChaosIdp['counters']; rotatedKid: string };
  end: EndCheck;
  instanceStats: Record<string, unknown>;
  durationSeconds: number;
  stoppedCleanly: boolean;
}

const isFiveXx = (s: number) => s >= 500 && s !== 503;
const mustHold = (r: RevocationRecord) => r.final === 'confirmed' || r.final === 'unconfirmed';

export function summarize(input: RunInput) {
  const { traffic, settings, outages } = input;
  const maxStalenessMs = settings.maxStalenessSeconds * 1000;
  const insideWindow = (t: number) =>
    outages.some((w) => t >= w.down && t <= Math.min(w.up + settings.reconnectGraceMs, w.down + maxStalenessMs));
  const deliveries = input.idp.deliveries;

  const phases = input.phases.map((phase) => {
    const inPhase = (t: number) => t >= phase.start && t < phase.end;
    const statuses: Record<string, number> = {};
    let requests = 0;
    let ok = 0;
    let tail = 0;
    let tailOk = 0;
    const latencies: number[] = [];
    // The harness's own race (a token used while it is being logged out) says nothing about availability.
    const loggingOut = new Set(traffic.refusedWhileLoggingOut);
    for (let i = 0; i < traffic.load.t.length; i++) {
      const t = traffic.load.t[i]!;
      if (!inPhase(t)) continue;
      const status = traffic.load.status[i]!;
      requests++;
      statuses[status === 0 ? 'conn-error' : String(status)] =
        (statuses[status === 0 ? 'conn-error' : String(status)] ?? 0) + 1;
      if (status === 200) ok++;
      latencies.push(traffic.load.ms[i]!);
      if (t >= phase.end - settings.tailMs && !(status === 401 && loggingOut.has(t))) {
        tail++;
        if (status === 200) tailOk++;
      }
    }
    latencies.sort((a, b) => a - b);
    const skipped = traffic.skipped.filter(inPhase).length;
    const noAnswer: Record<string, number> = {};
    for (const e of traffic.loadErrors) if (inPhase(e.t)) noAnswer[e.code] = (noAnswer[e.code] ?? 0) + 1;

    const revs = traffic.revocations.filter((r) => inPhase(r.startedAt));
    const confirmed = revs.filter((r) => r.final === 'confirmed');
    const logoutStatuses: Record<string, number> = {};
    for (const r of revs)
      for (const a of r.attempts)
        logoutStatuses[a.status === 0 ? (a.error ?? 'ERROR') : String(a.status)] =
          (logoutStatuses[a.status === 0 ? (a.error ?? 'ERROR') : String(a.status)] ?? 0) + 1;

    // Revoked tokens accepted, per offset: a token counts once; "outside" if any accepting probe was outside the window.
    const accepted = Object.fromEntries(
      PROBE_OFFSETS.map((offset) => {
        let outside = 0;
        let inside = 0;
        let sameInstance = 0;
        let unconfirmed = 0;
        for (const r of revs) {
          const hits = r.probes.filter((p) => p.offset === offset && p.status === 200);
          if (hits.length === 0) continue;
          if (r.final !== 'confirmed') {
            unconfirmed++;
            continue;
          }
          if (hits.some((p) => p.instance === r.answeredBy)) sameInstance++;
          if (hits.some((p) => p.instance === r.answeredBy || !insideWindow(p.sentAt))) outside++;
          else inside++;
        }
        return [String(offset), { outside, inside, sameInstance, unconfirmed }];
      }),
    ) as Record<string, { outside: number; inside: number; sameInstance: number; unconfirmed: number }>;
    const probeStatuses: Record<string, number> = {};
    for (const r of revs)
      for (const p of r.probes)
        probeStatuses[p.status === 0 ? 'no answer' : String(p.status)] =
          (probeStatuses[p.status === 0 ? 'no answer' : String(p.status)] ?? 0) + 1;
    const fiveXxBodies = [
      ...new Set(revs.flatMap((r) => r.attempts.filter((a) => a.body).map((a) => `${a.status} ${a.body}`))),
    ].slice(0, 5);
    const probeLate = revs.flatMap((r) => r.probes.map((p) => p.sentAt - p.plannedAt)).sort((a, b) => a - b);

    const unexpected5xx = {
      load: Object.entries(statuses)
        .filter(([s]) => isFiveXx(Number(s)))
        .reduce((n, [, c]) => n + c, 0),
      logout: revs.reduce((n, r) => n + r.attempts.filter((a) => isFiveXx(a.status)).length, 0),
      probes: revs.reduce((n, r) => n + r.probes.filter((p) => isFiveXx(p.status)).length, 0),
    };
    const held = revs.filter(mustHold);
    const idp = {
      revocations: held.length,
      delivered: held.filter((r) => (deliveries.get(r.jti) ?? 0) >= 1).length,
      missing: held.filter((r) => (deliveries.get(r.jti) ?? 0) === 0).length,
      duplicates: held.reduce((n, r) => n + Math.max(0, (deliveries.get(r.jti) ?? 0) - 1), 0),
    };
    const seconds = (phase.end - phase.start) / 1000;
    const probeLateP99 = percentile(probeLate, 99);
    // The figures of a starved harness or machine are not the code's: say so next to them.
    const disturbed = [
      requests + skipped < 0.9 * settings.rate * seconds || skipped > 0
        ? `load ${Math.round(requests / seconds)} of ${settings.rate} req/s`
        : '',
      phase.loopDelayP99Ms > 100 ? `harness event-loop lag p99 ${phase.loopDelayP99Ms} ms` : '',
      probeLateP99 > 100 ? `probes late by up to ${Math.round(probeLateP99)} ms (p99)` : '',
      phase.cpuBusy > 0.95
        ? `machine CPU ${Math.round(phase.cpuBusy * 100)} % busy (this run's processes included)`
        : '',
    ].filter(Boolean);
    return {
      name: phase.name,
      fault: phase.fault,
      notes: phase.notes,
      seconds: round(seconds, 1),
      faultSeconds: round((phase.healedAt - phase.start) / 1000, 1),
      load: {
        requests,
        rps: Math.round(requests / seconds),
        statuses,
        skippedByHarness: skipped,
        /** 401s for tokens the harness was about to log out (its own race); the rest of the 401s are valid tokens refused. */
        refusedWhileLoggingOut: traffic.refusedWhileLoggingOut.filter(inPhase).length,
        noAnswer,
        p50Ms: round(percentile(latencies, 50), 2),
        p99Ms: round(percentile(latencies, 99), 2),
        okShare: requests ? round(ok / requests, 4) : 0,
        tailRequests: tail,
        tailOkShare: tail ? round(tailOk / tail, 4) : 0,
      },
      logouts: {
        started: revs.length,
        confirmed: confirmed.length,
        unconfirmed: revs.filter((r) => r.final === 'unconfirmed').length,
        refused: revs.filter((r) => r.final === 'refused').length,
        unanswered: revs.filter((r) => r.final === 'unanswered' || r.final === 'pending').length,
        attempts: logoutStatuses,
        retried: revs.filter((r) => r.attempts.length > 1).length,
      },
      accepted,
      probeStatuses,
      fiveXxBodies,
      probeLateMs: {
        p50: round(percentile(probeLate, 50), 1),
        p99: round(percentile(probeLate, 99), 1),
        max: round(probeLate[probeLate.length - 1] ?? NaN, 1),
      },
      unexpected5xx,
      idp,
      harness: {
        loopDelayP99Ms: phase.loopDelayP99Ms,
        loopDelayMaxMs: phase.loopDelayMaxMs,
        cores: phase.harnessCores,
        cpuBusy: phase.cpuBusy,
        cpuSteal: phase.cpuSteal,
      },
      disturbed,
    };
  });

  // End of run: every must-hold revocation on every instance and a fresh one.
  const held = traffic.revocations.filter(mustHold);
  const byJti = new Map(held.map((r) => [r.jti, r]));
  const lost = { confirmed: [] as string[], unconfirmed: [] as string[] };
  const acceptedBy: Record<string, number> = Object.fromEntries(input.end.instances.map((i) => [i, 0]));
  let inconclusive = 0;
  input.end.statuses.forEach((row, i) => {
    const r = byJti.get(input.end.jtis[i]!)!;
    if (row.some((s) => s === 200)) {
      (r.final === 'confirmed' ? lost.confirmed : lost.unconfirmed).push(r.jti);
      row.forEach((s, j) => {
        if (s === 200) acceptedBy[input.end.instances[j]!]!++;
      });
    } else if (row.some((s) => s !== 401)) inconclusive++;
  });
  const endStatuses: Record<string, number> = {};
  const label = (s: number) => (s === 0 ? 'no answer' : s === -1 ? 'not checked (deadline)' : String(s));
  for (const row of input.end.statuses) for (const s of row) endStatuses[label(s)] = (endStatuses[label(s)] ?? 0) + 1;
  const lostPhases: Record<string, number> = {};
  for (const jti of [...lost.confirmed, ...lost.unconfirmed]) {
    const phase = input.phases.find((p) => byJti.get(jti)!.startedAt >= p.start && byJti.get(jti)!.startedAt < p.end);
    lostPhases[phase?.name ?? '?'] = (lostPhases[phase?.name ?? '?'] ?? 0) + 1;
  }
  const idpMissing = held.filter((r) => (deliveries.get(r.jti) ?? 0) === 0).length;
  const duplicates = held.reduce((n, r) => n + Math.max(0, (deliveries.get(r.jti) ?? 0) - 1), 0);
  const end = {
    checked: held.length,
    instances: input.end.instances,
    statuses: endStatuses,
    lostConfirmed: lost.confirmed.length,
    lostUnconfirmed: lost.unconfirmed.length,
    lostByPhase: lostPhases,
    /** Lost tokens signed with the key rotated in during the JWKS outage. */
    lostRotatedKey: [...lost.confirmed, ...lost.unconfirmed].filter(
      (jti) => byJti.get(jti)!.kid === input.idp.rotatedKid,
    ).length,
    acceptedBy,
    inconclusive,
    idp: {
      revocations: held.length,
      missing: idpMissing,
      duplicates,
      drainedSeconds: round(input.end.drainedMs / 1000, 1),
      drainComplete: input.end.drainComplete,
      ...input.idp.counters,
    },
  };

  const outside500 = phases.reduce((n, p) => n + p.accepted['500']!.outside, 0);
  const fiveXx =
    phases.reduce((n, p) => n + p.unexpected5xx.load + p.unexpected5xx.logout + p.unexpected5xx.probes, 0) +
    Object.entries(endStatuses)
      .filter(([s]) => isFiveXx(Number(s)))
      .reduce((n, [, c]) => n + c, 0);
  const worstTail = phases.reduce(
    (w, p) => (p.load.tailOkShare < w.share ? { share: p.load.tailOkShare, phase: p.name } : w),
    { share: 1, phase: '' },
  );
  const targets = [
    {
      target:
        'Outside the staleness window, no revoked token (logout answered 200) accepted 500 ms after its logout answered',
      value: `${outside500} token(s)${
        outside500
          ? ` (${phases
              .filter((p) => p.accepted['500']!.outside)
              .map((p) => `${p.name}: ${p.accepted['500']!.outside}`)
              .join(', ')})`
          : ''
      }`,
      pass: outside500 === 0,
    },
    { target: 'No 5xx other than 503 (load, logouts, probes, end check)', value: String(fiveXx), pass: fiveXx === 0 },
    {
      target:
        'Nothing lost: every revocation the API answered 200/502/503 for is refused at the end by every instance and a fresh one',
      value: `${lost.confirmed.length} confirmed + ${lost.unconfirmed.length} unconfirmed of ${held.length}${inconclusive ? ` (${inconclusive} refused with 503 or unanswered by some instance, so not verified there)` : ''}`,
      pass: lost.confirmed.length + lost.unconfirmed.length === 0,
    },
    {
      target: 'Every revocation reaches the IdP at least once',
      value: `${idpMissing} missing of ${held.length} (${duplicates} duplicates)`,
      pass: idpMissing === 0,
    },
    {
      target: `Availability recovers (item 10): ≥ ${settings.minTailAvailability * 100} % of valid-token requests answered 200 in the last ${settings.tailMs / 1000} s of every phase`,
      value: `worst ${(worstTail.share * 100).toFixed(1)} %${worstTail.phase ? ` (${worstTail.phase})` : ''}`,
      pass: worstTail.share >= settings.minTailAvailability,
    },
  ];
  return {
    settings,
    machine: input.machine,
    durationSeconds: input.durationSeconds,
    stoppedCleanly: input.stoppedCleanly,
    phases,
    end,
    targets,
    instanceStats: input.instanceStats,
  };
}

export type Summary = ReturnType<typeof summarize>;

const pct = (v: number) => `${(v * 100).toFixed(1)} %`;
const statusCell = (statuses: Record<string, number>, keys: string[]) => keys.map((k) => statuses[k] ?? 0).join(' / ');
const codes = (counts: Record<string, number>) =>
  Object.entries(counts)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ') || '0';
const other5xx = (statuses: Record<string, number>) =>
  Object.entries(statuses)
    .filter(([s]) => isFiveXx(Number(s)))
    .reduce((n, [, c]) => n + c, 0);

export function markdown(s: Summary): string {
  const st = s.settings;
  const lines: string[] = [];
  lines.push(`# npm run chaos${st.quick ? ' --quick' : ''}`, '');
  lines.push(
    `${s.machine.date}, Node ${s.machine.node}, ${s.machine.cores} cores (load avg at start ${s.machine.loadavg.map((v) => v.toFixed(2)).join(' ')}); ${s.durationSeconds} s in all.`,
    `${st.instances} API processes (Express, Redis store, fail-closed, maxStaleness ${st.maxStalenessSeconds} s, jwksCooldown ${st.jwksCooldownSeconds} s) sharing a private redis-server; ` +
      `load ${st.rate} req/s of valid tokens over the live instances; a logout every ${st.revokeEveryMs} ms of the oldest of the ${st.poolSize} tokens the load uses (bearer-only or form body, random instance), ` +
      `retried like a client on 503 / connection errors (≤ ${st.logoutAttempts} attempts, Retry-After honoured up to ${st.maxRetryAfterMs / 1000} s). ` +
      `Each revoked token is probed on every live instance ${PROBE_OFFSETS.join(' / ')} ms after its logout's final answer.`,
    `Staleness window: while Redis is down (killed → restarted and answering) plus ${st.reconnectGraceMs} ms for the reconnect, capped at maxStaleness after it went down; it only covers *other* instances than the one that answered the logout. ` +
      `A write stall or failing writes are not an unreachable store: a logout answered 200 then must hold everywhere.`,
    '',
  );
  lines.push('## Traffic per phase', '');
  lines.push(
    '| phase | fault | s | requests | req/s | 200 / 401 / 503 | other 5xx | no answer | 200 in last ' +
      `${st.tailMs / 1000} s | p50 / p99 ms | harness lag p99 / max ms, cores | machine CPU busy / steal |`,
  );
  lines.push('| --- | --- | --: | --: | --: | --- | --: | --- | --: | --- | --- | --- |');
  for (const p of s.phases) {
    lines.push(
      `| ${p.name}${p.disturbed.length ? ' ⚠' : ''} | ${p.fault} | ${p.seconds} | ${p.load.requests} | ${p.load.rps} | ${statusCell(p.load.statuses, ['200', '401', '503'])}${p.load.refusedWhileLoggingOut ? ` (${p.load.refusedWhileLoggingOut} of the 401s: token being logged out)` : ''} | ${other5xx(p.load.statuses)} | ${codes(p.load.noAnswer)}${p.load.skippedByHarness ? ` (+${p.load.skippedByHarness} not sent: ${st.maxInFlight} in flight)` : ''} | ${pct(p.load.tailOkShare)} | ${p.load.p50Ms} / ${p.load.p99Ms} | ${p.harness.loopDelayP99Ms} / ${p.harness.loopDelayMaxMs}, ${p.harness.cores} | ${pct(p.harness.cpuBusy)} / ${pct(p.harness.cpuSteal)} |`,
    );
  }
  lines.push('', '## Revocations per phase (by when the logout started)', '');
  lines.push(
    '| phase | logouts | confirmed (200) / unconfirmed (503) / other / no answer | logout answers | revoked accepted @0 / @50 / @500 ms: outside (inside) window | same instance @0/@50/@500 | unconfirmed accepted @500 | 5xx≠503 load/logout/probe | IdP delivered / missing / duplicates |',
  );
  lines.push('| --- | --: | --- | --- | --- | --- | --: | --- | --- |');
  for (const p of s.phases) {
    const a = p.accepted;
    const answers = Object.entries(p.logouts.attempts)
      .map(([k, v]) => `${k}: ${v}`)
      .join(', ');
    lines.push(
      `| ${p.name} | ${p.logouts.started} | ${p.logouts.confirmed} / ${p.logouts.unconfirmed} / ${p.logouts.refused} / ${p.logouts.unanswered} | ${answers} | ` +
        `${PROBE_OFFSETS.map((o) => `${a[o]!.outside} (${a[o]!.inside})`).join(' / ')} | ${PROBE_OFFSETS.map((o) => a[o]!.sameInstance).join(' / ')} | ${a['500']!.unconfirmed} | ` +
        `${p.unexpected5xx.load} / ${p.unexpected5xx.logout} / ${p.unexpected5xx.probes} | ${p.idp.delivered} / ${p.idp.missing} / ${p.idp.duplicates} |`,
    );
  }
  lines.push('', `Probe answers per phase: ${s.phases.map((p) => `${p.name} ${codes(p.probeStatuses)}`).join('; ')}.`);
  const bodies = s.phases.flatMap((p) => p.fiveXxBodies.map((b) => `${p.name}: ${b}`));
  if (bodies.length > 0)
    lines.push('', 'Logout 5xx other than 503 (first bodies):', ...bodies.map((b) => `- ${b.replace(/\s+/g, ' ')}`));
  const notes = s.phases.filter((p) => p.notes.length > 0 || p.disturbed.length > 0);
  if (notes.length > 0) {
    lines.push('', 'Phase notes (⚠ = disturbed: the machine or the harness, not only the code, shaped these figures):');
    for (const p of notes) lines.push(`- ${p.name}: ${[...p.notes, ...p.disturbed.map((d) => `⚠ ${d}`)].join('; ')}`);
  }
  const e = s.end;
  lines.push('', '## End of run', '');
  lines.push(
    `- ${e.checked} revocations the API answered 200/502/503 for, each checked on ${e.instances.join(', ')} (statuses: ${Object.entries(
      e.statuses,
    )
      .map(([k, v]) => `${k}: ${v}`)
      .join(', ')}).`,
    `- Lost (accepted somewhere at the end): ${e.lostConfirmed} confirmed, ${e.lostUnconfirmed} unconfirmed${
      Object.keys(e.lostByPhase).length
        ? ` — by phase: ${Object.entries(e.lostByPhase)
            .map(([k, v]) => `${k} ${v}`)
            .join(', ')}; by instance: ${Object.entries(e.acceptedBy)
            .filter(([, v]) => v)
            .map(([k, v]) => `${k} ${v}`)
            .join(', ')}; signed with the key rotated in during the JWKS outage: ${e.lostRotatedKey}`
        : ''
    }. Inconclusive (503 or no answer on some instance, none accepting): ${e.inconclusive}.`,
    `- IdP: ${e.idp.missing} of ${e.idp.revocations} never delivered, ${e.idp.duplicates} duplicate deliveries; ${e.idp.revocationRequests} revocation requests (${e.idp.revocation503} answered 503, ${e.idp.revocationUnauthorized} 401); JWKS ${e.idp.jwks} requests (${e.idp.jwks500} answered 500). Outbox drain waited ${e.idp.drainedSeconds} s${e.idp.drainComplete ? '' : ' (gave up: deliveries still missing)'}.`,
    `- Harness stopped cleanly: ${s.stoppedCleanly ? 'yes' : 'no (some logouts or probes were still running at the stop deadline)'}.`,
  );
  lines.push('', '## Targets', '', '| target | value | |', '| --- | --- | --- |');
  for (const t of s.targets) lines.push(`| ${t.target} | ${t.value} | ${t.pass ? 'PASS' : 'MISS'} |`);
  lines.push('');
  return lines.join('\n');
}
