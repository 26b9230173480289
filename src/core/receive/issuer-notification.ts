/**
 * IdP-signed notifications (back-channel logout tokens, security events) act for the issuer that
 * signed them, and for no other. The verifier reports which of its issuers verified the JWT (a
 * multi-issuer verifier routes it by `iss` to that issuer's keys); every action — the replay
 * record, the cutoffs — then goes through a handle bound to that issuer, so a partner IdP can
 * never log out another issuer's users, and two issuers' `jti`s never collide.
 */
import type { AccessTokenClaims, Verifier } from '../verify/types.js';
import { portOf, type IssuerJwtOptions } from '../verify/verifier-port.js';

/** A verified notification and what may be done on behalf of the issuer that signed it. */
export interface IssuerNotification {
  payload: AccessTokenClaims;
  issuer: string;
  /**
   * Records this `jti` (per kind and issuer) for as long as the verifier would accept the
   * notification; true the first time, false for a repeat (a replay, or the IdP's retry).
   */
  claimOnce(): Promise<boolean>;
  /**
   * Cutoffs at the notification's own `iat`: the IdP's clock, the one its tokens' `iat` use. The
   * same notification always makes the same cutoffs, so a repeat may make them again: a replay
   * cuts nothing issued after the original, and an IdP retry that reaches another instance than
   * the first (whose write the store may not have taken) gets its answer from the store.
   */
  invalidateSubject(subject: string): Promise<void>;
  invalidateSession(session: string): Promise<void>;
}

/**
 * A notification is only ours if it is addressed to us: jose checks `aud` only when given one, so
 * an absent audience (e.g. an unset environment variable) would accept one meant for any client
 * of the issuer. Refused as a misuse, before anything is verified.
 */
export function requireAudience(audience: unknown, name: string, factory: string): void {
  const audiences = Array.isArray(audience) ? audience : [audience];
  if (audiences.length === 0 || audiences.some((a) => typeof a !== 'string' || a === '')) {
    throw new TypeError(`revocable-jwt: ${factory} needs \`${name}\`: the audience the IdP addresses us by`);
  }
}

export async function verifyNotification(
  verifier: Verifier,
  kind: 'bcl' | 'set',
  jwt: string,
  options: IssuerJwtOptions,
): Promise<IssuerNotification> {
  const port = portOf(verifier);
  const { payload, issuer, acceptedUntil } = await port.verifyIssuerJwt(jwt, options);
  // jose required a numeric `iat` (maxTokenAge) before we got here.
  const scope = { issuer, at: payload.iat! * 1000 };
  return {
    payload,
    issuer,
    claimOnce: () => port.claimOnce(replayKey(kind, issuer, String(payload.jti)), acceptedUntil, issuer),
    invalidateSubject: (subject) => verifier.invalidateSubject(subject, scope),
    invalidateSession: (session) => verifier.invalidateSession(session, scope),
  };
}

/** `<kind>:<issuer, URI-encoded>:<jti>`: the issuer holds no `:`, so no two (issuer, jti) pairs share a key. */
export function replayKey(kind: 'bcl' | 'set', issuer: string, jti: string): string {
  return `${kind}:${encodeURIComponent(issuer)}:${jti}`;
}
