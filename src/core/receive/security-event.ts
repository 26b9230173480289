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
import { requireAudience, verifyNotification, type IssuerNotification } from './issuer-notification.js';
import { portOf } from '../verify/verifier-port.js';
import type { Verifier } from '../verify/types.js';
import { durationSeconds, type DurationRule } from '../shared/duration-option.js';

const CAEP = 'https://schemas.openid.net/secevent/caep/event-type/';
const RISC = 'https://schemas.openid.net/secevent/risc/event-type/';
/**
 * The OpenID CAEP `session-revoked` event type: {@link processSecurityEvent} cuts off the session
 * the subject names (a `complex` subject with a session), else every token of the subject.
 *
 * @example
 * ```ts
 * import { processSecurityEvent, SESSION_REVOKED } from 'revocable-jwt';
 * declare const set: string;
 * const { actions } = await processSecurityEvent(verifier, set, { audience: 'https://api.example.com/ssf' });
 * const endedSessions = actions.filter((a) => a.event === SESSION_REVOKED && a.action === 'session').map((a) => a.id);
 * ```
 */
export const SESSION_REVOKED = `${CAEP}session-revoked`;
/**
 * The OpenID CAEP `credential-change` event type (a password or key changed, added or removed):
 * {@link processSecurityEvent} cuts off every token of the subject issued up to the SET's `iat`.
 *
 * @example
 * ```ts
 * import { CREDENTIAL_CHANGE } from 'revocable-jwt';
 * // The events claim of a SET a test transmitter would sign (typ: 'secevent+jwt'):
 * const events = {
 *   [CREDENTIAL_CHANGE]: {
 *     subject: { format: 'iss_sub', iss: 'https://idp.example.com/', sub: 'alice' },
 *     credential_type: 'password',
 *     change_type: 'update',
 *   },
 * };
 * ```
 */
export const CREDENTIAL_CHANGE = `${CAEP}credential-change`;
const SUBJECT_EVENTS = new Set([
  CREDENTIAL_CHANGE,
  `${RISC}sessions-revoked`,
  `${RISC}account-disabled`,
  `${RISC}account-purged`,
]);

/**
 * The RFC 8935 §2.3 error codes a SET receiver answers a refused push with, as
 * `{ "err": code, "description": … }` and status 400. {@link processSecurityEvent} uses the first
 * four; `authentication_failed` and `access_denied` are for your own transmitter authentication.
 *
 * @example
 * ```ts
 * import { SecurityEventError, type SetErrorCode } from 'revocable-jwt';
 * declare const authorization: string | undefined; // the push request's Authorization header
 * const refuse = (err: SetErrorCode) => new SecurityEventError(err);
 * if (authorization !== `Bearer ${process.env.SSF_PUSH_TOKEN}`) throw refuse('authentication_failed');
 * ```
 */
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
 * import { processSecurityEvent, SecurityEventError } from 'revocable-jwt';
 * // Express, with a text body parser for application/secevent+jwt in front of this route:
 * app.post('/security-events', async (req, res, next) => {
 *   try {
 *     await processSecurityEvent(verifier, String(req.body), { audience: 'https://api.example.com/ssf' });
 *     res.status(202).end();
 *   } catch (error) {
 *     if (!(error instanceof SecurityEventError)) return next(error); // 503s and misconfiguration
 *     res.status(error.status).json({ err: error.err, description: error.description });
 *   }
 * });
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

/**
 * How {@link processSecurityEvent} (and `securityEventRoute`, which takes the same options beside
 * `verifier`) judges a SET.
 *
 * @example
 * ```ts
 * import { securityEventRoute, type SecurityEventOptions } from 'revocable-jwt';
 * const receiver: SecurityEventOptions = { audience: 'https://api.example.com/ssf', maxAge: 600 };
 * app.post('/security-events', securityEventRoute({ verifier, ...receiver }));
 * ```
 */
export interface SecurityEventOptions {
  /** The audience the transmitter addresses us with (the SET's `aud` must contain one). */
  audience: string | string[];
  /** How old a SET may be (its `iat`), in seconds; clock tolerance comes on top. Default 300. */
  maxAge?: number;
}

/** `maxAge`: 5 minutes by default. */
export const SECURITY_EVENT_MAX_AGE: DurationRule = { default: 300 };

/**
 * What {@link processSecurityEvent} did with an accepted SET: one action per event it carried,
 * and whether its `jti` was seen before.
 *
 * @example
 * ```ts
 * import { processSecurityEvent } from 'revocable-jwt';
 * declare const set: string;
 * const result = await processSecurityEvent(verifier, set, { audience: 'https://api.example.com/ssf' });
 * for (const { event, action, id } of result.actions) log.info({ jti: result.jti, event, action, id }, 'SET');
 * ```
 */
export interface SecurityEventResult {
  /** The SET's `jti` (replays are recorded per issuer under it). */
  jti: string;
  /** The issuer that signed the SET: the only one whose tokens it refuses. */
  issuer: string;
  /** What we did per event type: `subject`, `session`, or `ignored`. */
  actions: Array<{ event: string; action: 'subject' | 'session' | 'ignored'; id?: string }>;
  /**
   * True when this `jti` from this issuer was seen before (a retry or a replay): the same cutoffs
   * were made again, which cuts nothing issued after the original.
   */
  duplicate: boolean;
}

/**
 * Validates a pushed Security Event Token (RFC 8417, delivered per RFC 8935) and acts on its CAEP /
 * RISC events: the framework-free core of `securityEventRoute`. The SET must be signed by one of
 * the verifier's issuers, with `typ` `secevent+jwt`, our `audience`, an `iat` no older than
 * `maxAge`, a `jti` and a non-empty `events` object. CAEP `session-revoked` cuts off the session
 * when the subject names one, else the subject; CAEP `credential-change` and RISC
 * `sessions-revoked`, `account-disabled`, `account-purged` cut off the subject; other events are
 * acknowledged and ignored. Cutoffs are made at the SET's `iat`, for the issuer that signed it only.
 *
 * Does not validate: the HTTP request (method, `Content-Type: application/secevent+jwt`, how the
 * transmitter authenticates: read and check those yourself), or `options` the way the route does
 * at construction — an `audience` that is `undefined` turns the audience check off.
 *
 * @param verifier - A verifier made by `createVerifier()`: its issuers' keys check the SET.
 * @param set - The request body: the SET in compact JWS form.
 * @param options - The `audience` we are addressed with, and `maxAge` (seconds, default 300).
 * @returns The SET's `jti` and issuer, what was done per event, and whether it was a repeat.
 * @throws {@link SecurityEventError} (answer 400 `{ err, description }`) for a SET we refuse;
 *   `IdpUnavailableError` or `StoreUnavailableError` (including `RevocationPendingError`) while the
 *   keys or the store are unreachable (answer 503: the transmitter retries); `MisconfiguredError`
 *   (500); `TypeError` for a bad `maxAge`.
 *
 * @example
 * ```ts
 * import { AuthError, processSecurityEvent, SecurityEventError } from 'revocable-jwt';
 * // POST /security-events with WHATWG Request/Response:
 * export async function POST(request: Request): Promise<Response> {
 *   try {
 *     await processSecurityEvent(verifier, await request.text(), { audience: 'https://api.example.com/ssf' });
 *     return new Response(null, { status: 202 });
 *   } catch (error) {
 *     if (error instanceof SecurityEventError)
 *       return Response.json({ err: error.err, description: error.description }, { status: 400 });
 *     if (error instanceof AuthError && error.status === 503)
 *       return new Response(null, { status: 503, headers: error.headers }); // the transmitter retries
 *     throw error;
 *   }
 * }
 * ```
 */
export async function processSecurityEvent(
  verifier: Verifier,
  set: string,
  options: SecurityEventOptions,
): Promise<SecurityEventResult> {
  requireAudience(options?.audience, 'audience', 'processSecurityEvent');
  portOf(verifier); // a foreign verifier is the app's mistake (TypeError), not the transmitter's (400)
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
