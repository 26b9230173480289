/**
 * OpenID Connect Back-Channel Logout 1.0: validating a logout token and acting on it. The IdP
 * POSTs one when a session ends at the IdP; we refuse the tokens of that session (`sid`) and, by
 * default, of that subject (`sub`) on every instance, since access tokens rarely carry `sid`.
 *
 * Validation per §2.6: signature with the issuer's keys and algorithms, `iss`, `aud` = our client,
 * `iat` (recent), `jti` (replays refused), `events` with the back-channel-logout member (an object),
 * `sub` and/or `sid`, no `nonce`; `typ` `logout+jwt` (or absent / `JWT`, as older IdPs send).
 */
import { InvalidRequestError } from '../shared/errors.js';
import { verifyNotification } from './issuer-notification.js';
import type { Verifier } from '../verify/types.js';
import { durationSeconds, type DurationRule } from '../shared/duration-option.js';

export const BACKCHANNEL_LOGOUT_EVENT = 'http://schemas.openid.net/event/backchannel-logout';

export interface LogoutTokenOptions {
  /** Our client id at the IdP: the logout token's audience. */
  clientId: string;
  /** Oldest acceptable `iat`, in seconds. Default 300. */
  maxAge?: number;
  /**
   * Only refuse tokens of the ended session (`sid`), not every token of the subject. Default
   * false: access tokens seldom carry `sid`, so a session-only logout would leave them valid.
   */
  sessionOnly?: boolean;
}

/** `maxAge`: 5 minutes by default. */
export const LOGOUT_TOKEN_MAX_AGE: DurationRule = { default: 300 };

export interface LogoutResult {
  /** The issuer that signed the logout token: the only one whose tokens it refuses. */
  issuer: string;
  subject: string | undefined;
  session: string | undefined;
  /** False when this `jti` was seen before (a replay or a retry: the same cutoffs were made again, which cuts nothing newer). */
  applied: boolean;
}

export async function processLogoutToken(
  verifier: Verifier,
  logoutToken: string,
  options: LogoutTokenOptions,
): Promise<LogoutResult> {
  const maxTokenAge = durationSeconds(options.maxAge, 'maxAge', LOGOUT_TOKEN_MAX_AGE, 'processLogoutToken');
  // Everything below acts for the issuer that signed the token only (its cutoffs, its replay records).
  const notification = await verifyNotification(verifier, 'bcl', logoutToken, {
    audience: options.clientId,
    types: ['logout+jwt', 'jwt', undefined],
    requiredClaims: ['iat', 'jti', 'events'],
    maxTokenAge,
  });
  const { payload } = notification;
  const events = payload.events as Record<string, unknown> | undefined;
  const event = events?.[BACKCHANNEL_LOGOUT_EVENT];
  if (typeof event !== 'object' || event === null || Array.isArray(event)) {
    throw new InvalidRequestError('claim_invalid', 'The logout token lacks the back-channel logout event');
  }
  if ('nonce' in payload) throw new InvalidRequestError('claim_invalid', 'A logout token must not contain a nonce');
  const subject = typeof payload.sub === 'string' && payload.sub !== '' ? payload.sub : undefined;
  const session = typeof payload.sid === 'string' && payload.sid !== '' ? payload.sid : undefined;
  if (!subject && !session) throw new InvalidRequestError('claim_missing', 'The logout token needs sub or sid');

  const fresh = await notification.claimOnce();
  // A repeat makes the same cutoffs again (they are cut at the logout token's own iat, so a replay
  // cuts nothing newer): the IdP's retry is answered by the store, on whichever instance it lands.
  // Both cutoffs are made (each applied here at once) even if the store refuses the first; then
  // the failure is reported.
  const cutoffs: Array<Promise<void>> = [];
  if (session) cutoffs.push(notification.invalidateSession(session));
  if (subject && !(options.sessionOnly && session)) cutoffs.push(notification.invalidateSubject(subject));
  const failed = (await Promise.allSettled(cutoffs)).find((result) => result.status === 'rejected');
  if (failed) throw failed.reason;
  return { issuer: notification.issuer, subject, session, applied: fresh };
}
