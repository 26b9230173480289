/**
 * What the PostgreSQL store sends with `NOTIFY`, and how a listener reads it back.
 *
 * A payload must stay under 8000 bytes, so one write (a batch of revocations) may send several
 * notifications: JSON objects `{"x","t","e","o","p","r":[…]}`. The database itself prefixes each
 * with `x`, the writer's snapshot horizon (every transaction with a smaller id had finished before
 * the write: the change's position, see postgres-change-log.ts), `t`, the writer's transaction id,
 * and `e`, the epoch of the table it wrote to. A revocation too large to fit
 * on its own (a subject id near the token size limit) is not sent: its notification says `"more":1`
 * and listeners read the rows of transaction `t` instead.
 */
import { parseRevocation, type Revocation } from './revocation-store.js';

/** Below PostgreSQL's 8000-byte payload limit, leaving room for the `{"x":…,"t":…,"e":…,` prefix. */
export const PAYLOAD_BUDGET = 7_800;

/** What a listener learns from one notification. */
export interface Notification {
  /** The writer's snapshot horizon (xid8): every transaction below it had finished. */
  horizon: bigint;
  /** The writer's transaction id (xid8). */
  txid: bigint;
  /** The epoch of the table written to (see postgres-change-log.ts); absent from an earlier version's writers. */
  epoch: string | undefined;
  origin: string | undefined;
  publishedAt: number | undefined;
  revocations: Revocation[];
  /** Some revocations of transaction `txid` were too large to send: read them from the table. */
  more: boolean;
}

const encoder = new TextEncoder();

/** The most bytes one revocation may take in a payload; a larger one is read from the table. */
const MAX_REVOCATION_BYTES = PAYLOAD_BUDGET - 200;

/** UTF-8 length, without encoding when every character is one byte (the usual case). */
function byteLength(text: string): number {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the ASCII range is the point
  return /^[\x00-\x7f]*$/.test(text) ? text.length : encoder.encode(text).length;
}

/**
 * Whether a row read back for a `more` notification may be one the writer left out. The row holds
 * the merged cutoff and expiry, whose digits may differ from what was published: the margin makes
 * sure none is missed (one delivered twice is harmless: deliveries merge).
 */
export function mayHaveBeenLeftOut(revocation: Revocation): boolean {
  return byteLength(JSON.stringify(revocation)) > MAX_REVOCATION_BYTES - 64;
}

/**
 * The payload tails of one write (the database adds the `{"x":…,"t":…,"e":…,` head): revocations grouped
 * by origin, packed into as few notifications as fit the budget, with a `more` notification for each
 * origin that had an oversize revocation.
 */
export function payloadTails(items: ReadonlyArray<{ revocation: Revocation; origin?: string }>, publishedAt: number) {
  const byOrigin = new Map<string | undefined, Revocation[]>();
  for (const { revocation, origin } of items) {
    const group = byOrigin.get(origin);
    if (group) group.push(revocation);
    else byOrigin.set(origin, [revocation]);
  }
  const tails: string[] = [];
  for (const [origin, revocations] of byOrigin) {
    // The origin is optional meta (a mirror's id): one too long to be an id is left out, not the payload.
    const o = origin !== undefined && origin.length <= 200 ? `"o":${JSON.stringify(origin)},` : '';
    const head = `${o}"p":${publishedAt},`;
    const headBytes = byteLength(head) + 8; // `"r":[` … `]}`
    let parts: string[] = [];
    let bytes = headBytes;
    let more = false;
    for (const revocation of revocations) {
      const json = JSON.stringify(revocation);
      const size = byteLength(json) + 1;
      if (size - 1 > MAX_REVOCATION_BYTES) {
        more = true;
        continue;
      }
      if (parts.length > 0 && bytes + size > PAYLOAD_BUDGET) {
        tails.push(`${head}"r":[${parts.join(',')}]}`);
        parts = [];
        bytes = headBytes;
      }
      parts.push(json);
      bytes += size;
    }
    if (parts.length > 0) tails.push(`${head}"r":[${parts.join(',')}]}`);
    if (more) tails.push(`${head}"more":1}`);
  }
  return tails;
}

const XID = /^\d{1,20}$/;
const EPOCH = /^\d{1,10}\.\d{1,10}$/;

/** Reads a payload back; undefined for anything malformed (a stray NOTIFY on our channel). */
export function parseNotification(payload: string | undefined): Notification | undefined {
  if (payload === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(payload);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const { x, t, e, o, p, r, more } = value as Record<string, unknown>;
  if (typeof x !== 'string' || !XID.test(x) || typeof t !== 'string' || !XID.test(t)) return undefined;
  const revocations: Revocation[] = [];
  if (Array.isArray(r)) {
    for (const item of r) {
      const revocation = parseRevocation(item);
      if (revocation) revocations.push(revocation);
    }
  }
  return {
    horizon: BigInt(x),
    txid: BigInt(t),
    epoch: typeof e === 'string' && EPOCH.test(e) ? e : undefined,
    origin: typeof o === 'string' ? o : undefined,
    publishedAt: typeof p === 'number' && Number.isFinite(p) ? p : undefined,
    revocations,
    more: more === 1,
  };
}
