/**
 * Security Event Tokens (RFC 8417) pushed to us (RFC 8935), carrying OpenID CAEP / RISC events.
 * We act on the events that mean "stop trusting this user's or session's tokens":
 *   CAEP session-revoked  → the session (`sid`) if named, else the subject
 *   CAEP credential-change, RISC sessions-revoked / account-disabled / account-purged → the subject
 * Other events are acknowledged and ignored. Subjects come from `sub_id` (SSF) or the event's
 * `subject` member (older CAEP drafts), in `iss_sub`, `opaque` or `complex` (user + session) form;
 * an `iss_sub` subject of another issuer is ignored (our cutoffs are per issuer).
 */
import { AuthError } from './errors.js';
import { claimOnce, verifyIssuerJwt } from './events.js';
import type { Verifier } from './types.js';

const CAEP = 'https://schemas.openid.net/secevent/caep/event-type/';
const RISC = 'https://schemas.openid.net/secevent/risc/event-type/';
export const SESSION_REVOKED = `${CAEP}session-revoked`;
export const CREDENTIAL_CHANGE = `${CAEP}credential-change`;
const SUBJECT_EVENTS = new Set([CREDENTIAL_CHANGE, `${RISC}sessions-revoked`, `${RISC}account-disabled`, `${RISC}account-purged`]);

/** RFC 8935 §2.3 error codes. */
export type SetErrorCode = 'invalid_request' | 'invalid_key' | 'invalid_issuer' | 'invalid_audience' | 'authentication_failed' | 'access_denied';

export class SecurityEventError extends Error {
  readonly err: SetErrorCode;
  readonly description: string;
  constructor(err: SetErrorCode, description: string, options?: { cause?: unknown }) {
    super(description, options);
    this.name = 'SecurityEventError';
    this.err = err;
    this.description = description;
  }
}

export interface SecurityEventOptions {
  /** The audience the transmitter addresses us with. */
  audience: string | string[];
  /** Oldest acceptable `iat`, seconds. Default 300. */
  maxAge?: number;
}

export interface SecurityEventResult {
  jti: string;
  /** What we did per event type: `subject`, `session`, or `ignored`. */
  actions: Array<{ event: string; action: 'subject' | 'session' | 'ignored'; id?: string }>;
  duplicate: boolean;
}

interface InternalVerifier extends Verifier {
  [verifyIssuerJwt](jwt: string, options: object): Promise<{ payload: Record<string, unknown> }>;
  [claimOnce](key: string, ttlMs: number): Promise<boolean>;
}

export async function processSecurityEvent(verifier: Verifier, set: string, options: SecurityEventOptions): Promise<SecurityEventResult> {
  const internal = verifier as InternalVerifier;
  const maxAge = options.maxAge ?? 300;
  let payload: Record<string, unknown>;
  try {
    ({ payload } = await internal[verifyIssuerJwt](set, {
      audience: options.audience,
      types: ['secevent+jwt'],
      requiredClaims: ['iat', 'jti', 'events'],
      maxTokenAge: maxAge,
    }));
  } catch (error) {
    throw toSetError(error);
  }
  const events = payload.events;
  if (typeof events !== 'object' || events === null || Array.isArray(events) || Object.keys(events).length === 0) {
    throw new SecurityEventError('invalid_request', 'The SET has no events');
  }
  const jti = String(payload.jti);
  const fresh = await internal[claimOnce](`set:${verifier.issuer}:${jti}`, (maxAge + 60) * 1000);
  if (!fresh) return { jti, actions: [], duplicate: true };

  const actions: SecurityEventResult['actions'] = [];
  for (const [type, body] of Object.entries(events as Record<string, unknown>)) {
    const target = subjectOf(verifier.issuer, payload.sub_id ?? (body as { subject?: unknown } | null)?.subject ?? subFallback(payload));
    if (type === SESSION_REVOKED && target.session) {
      await verifier.invalidateSession(target.session);
      actions.push({ event: type, action: 'session', id: target.session });
    } else if ((type === SESSION_REVOKED || SUBJECT_EVENTS.has(type)) && target.subject) {
      await verifier.invalidateSubject(target.subject);
      actions.push({ event: type, action: 'subject', id: target.subject });
    } else {
      actions.push({ event: type, action: 'ignored' });
    }
  }
  return { jti, actions, duplicate: false };
}

/** A plain `sub` claim on the SET, as some transmitters send. */
function subFallback(payload: Record<string, unknown>): unknown {
  return typeof payload.sub === 'string' ? { format: 'opaque', id: payload.sub } : undefined;
}

function subjectOf(issuer: string, identifier: unknown): { subject?: string; session?: string } {
  if (typeof identifier !== 'object' || identifier === null) return {};
  const id = identifier as Record<string, unknown>;
  switch (id.format) {
    case 'iss_sub':
      return id.iss === issuer && typeof id.sub === 'string' ? { subject: id.sub } : {};
    case 'opaque':
      return typeof id.id === 'string' ? { subject: id.id } : {};
    case 'complex': {
      const user = subjectOf(issuer, id.user);
      const session = typeof id.session === 'object' && id.session !== null ? (id.session as Record<string, unknown>) : undefined;
      return { ...user, ...(session && typeof session.id === 'string' ? { session: session.id } : {}) };
    }
    default:
      return {};
  }
}

function toSetError(error: unknown): SecurityEventError {
  if (!(error instanceof AuthError)) return new SecurityEventError('invalid_request', 'The SET could not be processed', { cause: error });
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
      throw error; // not the transmitter's fault: let the route answer 503 (500 for a misconfiguration)
    default:
      return new SecurityEventError('invalid_request', error.description, { cause: error });
  }
}
