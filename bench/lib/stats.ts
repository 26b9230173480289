/** Small statistics helpers for benchmark output. */
import { readFileSync } from 'node:fs';
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index]!;
}

export function summarize(samples: number[]) {
  const sorted = [...samples].sort((a, b) => a - b);
  const mean = sorted.reduce((s, v) => s + v, 0) / (sorted.length || 1);
  return {
    n: sorted.length,
    mean,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    max: sorted[sorted.length - 1] ?? NaN,
  };
}

export const round = (value: number, digits = 2) => Number(value.toFixed(digits));

/** Median of a few values (per-round ratios); the upper middle for an even count. */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0 ? NaN : sorted[Math.floor(sorted.length / 2)]!;
}

/** CPU seconds (user + system) a process has used so far, from /proc/<pid>/stat; NaN if unreadable. */
export function processCpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which is in parentheses and may contain spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return NaN;
  }
}

/** USER_HZ: /proc counts CPU time in these ticks; 100 on every Linux we run on. */
const CLOCK_TICKS = 100;

/** Non-idle, non-interrupt CPU seconds of all cores together (user + nice + system), from a snapshot. */
export function busySeconds(snapshot: Record<string, number[]>): number {
  const all = snapshot.cpu;
  return all ? ((all[0] ?? 0) + (all[1] ?? 0) + (all[2] ?? 0)) / CLOCK_TICKS : NaN;
}

/** CPU time counters from /proc/stat, to record steal and load around a measurement. */
export function cpuSnapshot(): Record<string, number[]> {
  try {
    const lines = readFileSync('/proc/stat', 'utf8').split('\n');
    return Object.fromEntries(
      lines
        .filter((l) => l.startsWith('cpu'))
        .map((l) => {
          const [name, ...values] = l.trim().split(/\s+/);
          return [name!, values.map(Number)];
        }),
    );
  } catch {
    return {};
  }
}

/** Steal and busy fractions per CPU between two snapshots. */
export function cpuDelta(before: Record<string, number[]>, after: Record<string, number[]>) {
  const out: Record<string, { busy: number; steal: number }> = {};
  for (const [name, a] of Object.entries(after)) {
    const b = before[name];
    if (!b) continue;
    const d = a.map((v, i) => v - (b[i] ?? 0));
    const total = d.reduce((s, v) => s + v, 0) || 1;
    const idle = (d[3] ?? 0) + (d[4] ?? 0);
    out[name] = { busy: round(1 - idle / total, 3), steal: round((d[7] ?? 0) / total, 3) };
  }
  return out;
}
