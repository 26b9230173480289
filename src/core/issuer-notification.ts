/**
 * IdP-signed notifications (back-channel logout tokens, security events) act for the issuer that
 * signed them, and for no other. The verifier reports which of its issuers verified the JWT (a
 * multi-issuer verifier routes it by `iss` to that issuer's keys); every action — the replay
 * record, the cutoffs — then goes through a handle bound to that issuer, so a partner IdP can
 * never log out another issuer's users, and two issuers' `jti`s never collide.
 */
import type { JWSHeaderParameters } from 'jose';
import { claimOnce, verifyIssuerJwt } from './events.js';
import type { AccessTokenClaims, Verifier } from './types.js';

export interface IssuerJwtOptions {
  audience: string | string[];
  types: ReadonlyArray<string | undefined>;
  requiredClaims: string[];
  maxTokenAge: number;
}

/** What `[verifyIssuerJwt]` resolves to. */
export interface VerifiedIssuerJwt {
  header: JWSHeaderParameters;
  payload: AccessTokenClaims;
  /** The issuer whose keys verified it (always the JWT's own `iss`). */
  issuer: string;
  /** Epoch ms from which the verifier would refuse this JWT (too old or expired), tolerance included. */
  acceptedUntil: number;
}

/** The internal side of a verifier that notification receivers use. */
export interface NotificationReceiver {
  [verifyIssuerJwt](jwt: string, options: IssuerJwtOptions): Promise<VerifiedIssuerJwt>;
  /** Records `key` in `issuer`'s store until `until` (epoch ms, inclusive); true the first time. */
  [claimOnce](key: string, until: number, issuer: string): Promise<boolean>;
}

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

export async function verifyNotification(
  verifier: Verifier,
  kind: 'bcl' | 'set',
  jwt: string,
  options: IssuerJwtOptions,
): Promise<IssuerNotification> {
  const receiver = verifier as Verifier & NotificationReceiver;
  const { payload, issuer, acceptedUntil } = await receiver[verifyIssuerJwt](jwt, options);
  // jose required a numeric `iat` (maxTokenAge) before we got here.
  const scope = { issuer, at: payload.iat! * 1000 };
  return {
    payload,
    issuer,
    claimOnce: () => receiver[claimOnce](replayKey(kind, issuer, String(payload.jti)), acceptedUntil, issuer),
    invalidateSubject: (subject) => verifier.invalidateSubject(subject, scope),
    invalidateSession: (session) => verifier.invalidateSession(session, scope),
  };
}

/** `<kind>:<issuer, URI-encoded>:<jti>`: the issuer holds no `:`, so no two (issuer, jti) pairs share a key. */
export function replayKey(kind: 'bcl' | 'set', issuer: string, jti: string): string {
  return `${kind}:${encodeURIComponent(issuer)}:${jti}`;
}
