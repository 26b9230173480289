/**
 * What `revocable-jwt doctor` finds: one check per concern, each with a status, a one-line summary
 * and the details that say why and what to change. Rendered for people (render.ts) or as JSON.
 */

/** `fail` makes the run exit 1; `warn` is worth a look; `info` is a fact; `ok` passed. */
export type CheckStatus = 'ok' | 'info' | 'warn' | 'fail';

export interface Check {
  /** Stable identifier for scripts: `configuration`, `discovery`, `jwks`, `clock`, `token.*`, … */
  id: string;
  status: CheckStatus;
  /** One line: what was found. */
  summary: string;
  /** Why, and what to change: one line each. */
  details: string[];
  /** Machine-readable facts behind the summary (JSON output only). */
  data?: Record<string, unknown>;
}

export interface DoctorReport {
  issuer: string;
  audience: string[];
  /** False when any check failed. */
  ok: boolean;
  checks: Check[];
}

export function check(
  id: string,
  status: CheckStatus,
  summary: string,
  details: string[] = [],
  data?: Record<string, unknown>,
): Check {
  return data === undefined ? { id, status, summary, details } : { id, status, summary, details, data };
}

/** A message without the library's `revocable-jwt: ` prefix (the doctor names the tool once). */
export function plainMessage(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.replace(/^revocable-jwt: /, '');
}
