/** The doctor's report for people (a line per check, details indented, colour on a terminal) and as JSON. */
import type { CheckStatus, DoctorReport } from './report.js';

const MARK: Record<CheckStatus, string> = { ok: '✔', info: 'ℹ', warn: '!', fail: '✘' };
/** ANSI colours: green, blue, yellow, red. */
const COLOUR: Record<CheckStatus, string> = { ok: '32', info: '34', warn: '33', fail: '31' };

export function renderHuman(report: DoctorReport, options: { color: boolean }): string {
  const paint = (status: CheckStatus, text: string) =>
    options.color ? `\u001b[${COLOUR[status]}m${text}\u001b[0m` : text;
  const width = Math.max(...report.checks.map((c) => c.id.length));
  const lines = [`revocable-jwt doctor: issuer ${report.issuer}, audience ${report.audience.join(', ')}`, ''];
  for (const c of report.checks) {
    lines.push(`${paint(c.status, `${MARK[c.status]} ${c.id}`)}${' '.repeat(width - c.id.length)}  ${c.summary}`);
    for (const detail of c.details) lines.push(`${' '.repeat(width + 4)}${detail}`);
  }
  const count = (status: CheckStatus) => report.checks.filter((c) => c.status === status).length;
  const failed = count('fail');
  const warned = count('warn');
  lines.push(
    '',
    failed > 0
      ? paint('fail', `${failed} check(s) failed${warned > 0 ? `, ${warned} warning(s)` : ''}`)
      : paint(warned > 0 ? 'warn' : 'ok', `all checks passed${warned > 0 ? `, ${warned} warning(s)` : ''}`),
  );
  return `${lines.join('\n')}\n`;
}

export function renderJson(report: DoctorReport): string {
  return `${JSON.stringify(report, null, 2)}\n`;
}
