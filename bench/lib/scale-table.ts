/**
 * The Markdown table `npm run bench:scale` prints for one store: a column per size, "now (before:
 * …)" cells where the previous layout was measured in the same run, and the rows every store shares
 * (propagation, the hit path, the load). Each store's script adds its own rows.
 */
/** One size's results, the scripts' own JSON records, read by path. */
export type ScaleResult = Record<string, any>;

export interface ScaleRun {
  results: ScaleResult[];
  minutes: number;
  cpu: Record<string, { busy: number; steal: number }>;
}

export function scaleTable(title: string, run: ScaleRun) {
  const lines = [
    `| ${title} | ${run.results.map((r) => `${r.size} live`).join(' | ')} |`,
    `|---|${run.results.map(() => '---:').join('|')}|`,
  ];
  const row = (label: string, cell: (r: ScaleResult) => string) =>
    lines.push(`| ${label} | ${run.results.map((r) => cell(r)).join(' | ')} |`);
  /** A cell of `path` in the current layout, and in the previous one when it was measured. */
  const both = (path: (s: ScaleResult) => unknown) => (r: ScaleResult) =>
    r.before ? `${path(r.after)} (before: ${path(r.before)})` : String(path(r.after));
  return {
    row,
    both,
    /** Propagation and the hit path, as every store measures them. */
    sharedRows(): void {
      row(
        'propagation A invalidate() → B refuses, p50 / p99 (ms)',
        (r) => `${r.propagation.bRefusesMs.p50} / ${r.propagation.bRefusesMs.p99}`,
      );
      row('authGuard hit, empty mirror (ns)', (r) => String(r.hitPath.cases['empty mirror'].medianNs));
      row('authGuard hit, N in the mirror (ns, ratio)', (r) => {
        const c = r.hitPath.cases[`${r.size} in the mirror`];
        return `${c.medianNs} (${c.ratioToEmpty})`;
      });
    },
    /** The storms (`storeCpu`: the key of the store's CPU figure), the load, then the table is printed. */
    finish(instances: number, storeCpu: string, storeName: string): void {
      row(
        `${instances} instances cold-start at once: wall ms (${storeName} CPU ms)`,
        (r) => `${r.storm.coldStart.wallMs} (${r.storm.coldStart[storeCpu]})`,
      );
      row(
        `${instances} instances reconnect at once, missed 10^3: wall ms (${storeName} CPU ms)`,
        (r) => `${r.storm.reconnectAfterMissing1000.wallMs} (${r.storm.reconnectAfterMissing1000[storeCpu]})`,
      );
      row('load average (1 min) during', (r) => `${r.after.load.join('–')}, ${r.load}`);
      console.log(
        `\n${lines.join('\n')}\n\n${run.minutes} min; CPU busy ${run.cpu.cpu?.busy}, steal ${run.cpu.cpu?.steal}`,
      );
    },
  };
}
