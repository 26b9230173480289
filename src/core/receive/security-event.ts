/**
 * Security Event Tokens (RFC 8417) pushed to us (RFC 8935), carrying OpenID CAEP / RISC events.
 * We act on the events that mean "stop trusting this user's or session's tokens":
 *   CAEP session-revoked  → the session (`sid`) if named, else the subject
 *   CAEP credential-change, RISC sessions-revoked / account-disabled / account-purged → the subject
 * Other events are acknowledged and ignored. Subjects come from `sub_id` (SSF) or the event's
 * `subject` member (older CAEP drafts), in `iss_sub`, `opaque` or `complex` (user + session) form.
 * A SET acts for the issuer that signed it only: its cutoffs and replay record are that issuer's,
 * and an `iss_sub` subject naming any other issuer is ignored. A subject we would act on that is
 * malformed (empty or missing id, sub or session id) is refused with 400 `invalid_request`
 * before anything is recorded.
 */
import { AuthError } from '../shared/errors.js';
import { RevocableJwtError } from '../shared/revocable-jwt-error.js';
import { verifyNotification, type IssuerNotification } from './issuer-notification.js';
import type { Verifier } from '../verify/types.js';
import { durationSeconds, type DurationRule } from '../shared/duration-option.js';

const CAEP = 'https://schemas.openid.net/secevent/caep/event-type/';
const RISC = 'https://schemas.openid.net/secevent/risc/event-type/';
export const SESSION_REVOKED = `${CAEP}session-revoked`;
export const CREDENTIAL_CHANGE = `${CAEP}credential-change`;
const SUBJECT_EVENTS = new Set([
  CREDENTIAL_CHANGE,
  `${RISC}sessions-revoked`,
  `${RISC}account-disabled`,
  `${RISC}account-purged`,
]);

/** RFC 8935 §2.3 error codes. */
export type SetErrorCode =
  | 'invalid_request'
  | 'invalid_key'
  | 'invalid_issuer'
  | 'invalid_audience'
  | 'authentication_failed'
  | 'access_denied';

/** What a refused SET defaults to saying, per RFC 8935 code. */
const DEFAULT_DESCRIPTIONS: Record<SetErrorCode, string> = {
  invalid_request: 'The SET is malformed',
  invalid_key: 'The SET signature cannot be verified',
  invalid_issuer: 'The SET issuer is not trusted',
  invalid_audience: 'The SET audience is not this receiver',
  authentication_failed: 'The transmitter could not be authenticated',
  access_denied: 'The transmitter may not deliver this SET',
};

/**
 * A pushed SET refused (RFC 8935 §2.3): answered 400 `{ err, description }`. `err` (and its alias
 * `code`) is the RFC 8935 error code on the wire; `reason` is `set_` + that code; `description` is
 * safe to send to the transmitter; `cause` keeps the verification error behind it.
 *
 * @example
 * ```ts
 * try {
 *   await processSecurityEvent(verifier, set, { audience });
 * } catch (error) {
 *   if (!(error instanceof SecurityEventError)) throw error;
 *   res.status(error.status).json({ err: error.err, description: error.description });
 * }
 * ```
 */
export class SecurityEventError extends RevocableJwtError {
  declare readonly reason: `set_${SetErrorCode}`;
  /** HTTP status to answer with: RFC 8935 answers every refused SET with 400. */
  readonly status = 400;
  /** The RFC 8935 `err` code sent back to the transmitter. */
  readonly err: SetErrorCode;
  /** Human-readable, safe to send to the transmitter. */
  readonly description: string;
  constructor(err: SetErrorCode, description: string = DEFAULT_DESCRIPTIONS[err], options?: { cause?: unknown }) {
    super(`set_${err}`, description, options);
    this.err = err;
    this.description = description;
  }
  /** The RFC 8935 error code, under the name `AuthError` gives its RFC 6750 one: same as `err`. */
  get code(): SetErrorCode {
    return this.err;
  }
}

export interface SecurityEventOptions {
  /** The audience the transmitter addresses us with. */
  audience: string | string[];
  /** Oldest acceptable `iat`, in seconds. Default 300. */
  maxAge?: number;
}

/** `maxAge`: 5 minutes by default. */
export const SECURITY_EVENT_MAX_AGE: DurationRule = { default: 300 };

export interface SecurityEventResult {
  jti: string;
  /** The issuer that signed the SET: the only one whose tokens it refuses. */
  issuer: string;
  /** What we did per event type: `subject`, `session`, or `ignored`. */
  actions: Array<{ event: string; action: 'subject' | 'session' | 'ignored'; id?: string }>;
  duplicate: boolean;
}

export async function processSecurityEvent(
  verifier: Verifier,
  set: string,
  options: SecurityEventOptions,
): Promise<SecurityEventResult> {
  const maxTokenAge = durationSeconds(options.maxAge, 'maxAge', SECURITY_EVENT_MAX_AGE, 'processSecurityEvent');
  let notification: IssuerNotification;
  try {
    notification = await verifyNotification(verifier, 'set', set, {
      audience: options.audience,
      types: ['secevent+jwt'],
      requiredClaims: ['iat', 'jti', 'events'],
      maxTokenAge,
    });
  } catch (error) {
    throw toSetError(error);
  }
  const { payload, issuer } = notification;
  const events = payload.events;
  if (typeof events !== 'object' || events === null || Array.isArray(events) || Object.keys(events).length === 0) {
    throw new SecurityEventError('invalid_request', 'The SET has no events');
  }
  // Decide everything (and refuse a malformed subject) before the jti is recorded.
  const plan = Object.entries(events as Record<string, unknown>).map(([type, body]) => {
    if (type !== SESSION_REVOKED && !SUBJECT_EVENTS.has(type)) return { type };
    return {
      type,
      target: subjectOf(
        issuer,
        payload.sub_id ?? (body as { subject?: unknown } | null)?.subject ?? subFallback(payload),
      ),
    };
  });
  const jti = String(payload.jti);
  const fresh = await notification.claimOnce();

  // A repeat makes the same cutoffs again (cut at the SET's own iat, so a replay cuts nothing
  // newer): the transmitter's retry is answered by the store, on whichever instance it lands.
  // Every cutoff is made (each applied here at once) even if the store refuses an earlier one;
  // then the failure is reported.
  const actions: SecurityEventResult['actions'] = [];
  const cutoffs: Array<Promise<void>> = [];
  for (const { type, target } of plan) {
    if (type === SESSION_REVOKED && target?.session) {
      cutoffs.push(notification.invalidateSession(target.session));
      actions.push({ event: type, action: 'session', id: target.session });
    } else if (target?.subject) {
      cutoffs.push(notification.invalidateSubject(target.subject));
      actions.push({ event: type, action: 'subject', id: target.subject });
    } else {
      actions.push({ event: type, action: 'ignored' });
    }
  }
  const failed = (await Promise.allSettled(cutoffs)).find((result) => result.status === 'rejected');
  if (failed) throw failed.reason;
  return { jti, issuer, actions, duplicate: !fresh };
}

/** A plain `sub` claim on the SET, as some transmitters send. */
function subFallback(payload: Record<string, unknown>): unknown {
  return typeof payload.sub === 'string' ? { format: 'opaque', id: payload.sub } : undefined;
}

/**
 * The subject (and session) a subject identifier names for `issuer`. Formats we do not know
 * (email, phone…) and `iss_sub` subjects of other issuers name nothing of ours: {}. A known
 * format with a missing or empty member is malformed: RFC 8935 `invalid_request`.
 */
function subjectOf(issuer: string, identifier: unknown): { subject?: string; session?: string } {
  if (identifier === undefined) return {};
  if (typeof identifier !== 'object' || identifier === null) throw malformedSubject('is not an object');
  const id = identifier as Record<string, unknown>;
  switch (id.format) {
    case 'iss_sub':
      if (!isId(id.iss) || !isId(id.sub)) throw malformedSubject('needs a non-empty iss and sub');
      return id.iss === issuer ? { subject: id.sub } : {};
    case 'opaque':
      if (!isId(id.id)) throw malformedSubject('needs a non-empty id');
      return { subject: id.id };
    case 'complex': {
      if (id.user === undefined && id.session === undefined)
        throw malformedSubject('(complex) names neither user nor session');
      const user = subjectOf(issuer, id.user);
      if (id.session === undefined) return user;
      const session = id.session as Record<string, unknown> | null;
      if (typeof session !== 'object' || session === null || !isId(session.id))
        throw malformedSubject('(complex) needs a non-empty session id');
      return { ...user, session: session.id };
    }
    default:
      return {};
  }
}

const isId = (value: unknown): value is string => typeof value === 'string' && value !== '';

function malformedSubject(what: string): SecurityEventError {
  return new SecurityEventError('invalid_request', `The SET subject ${what}`);
}

function toSetError(error: unknown): SecurityEventError {
  if (!(error instanceof AuthError))
    return new SecurityEventError('invalid_request', 'The SET could not be processed', { cause: error });
  switch (error.reason) {
    case 'issuer_mismatch':
      return new SecurityEventError('invalid_issuer', 'The SET issuer is not trusted', { cause: error });
    case 'audience_mismatch':
      return new SecurityEventError('invalid_audience', 'The SET audience is not this receiver', { cause: error });
    case 'key_not_found':
    case 'signature_invalid':
    case 'algorithm_not_allowed':
      return new SecurityEventError('invalid_key', 'The SET signature cannot be verified', { cause: error });
    case 'idp_unavailable':
    case 'misconfigured':
    case 'verifier_closed':
      throw error; // not the transmitter's fault: let the route answer 503 (500 for a misconfiguration)
    default:
      return new SecurityEventError('invalid_request', error.description, { cause: error });
  }
}
