/**
 * OpenID Connect Back-Channel Logout 1.0: validating a logout token and acting on it. The IdP
 * POSTs one when a session ends at the IdP; we refuse the tokens of that session (`sid`) and, by
 * default, of that subject (`sub`) on every instance, since access tokens rarely carry `sid`.
 *
 * Validation per §2.6: signature with the issuer's keys and algorithms, `iss`, `aud` = our client,
 * `iat` (recent), `jti` (a repeat makes the same cutoffs again), `events` with the
 * back-channel-logout member (an object), `sub` and/or `sid`, no `nonce`; `typ` `logout+jwt` (or
 * absent / `JWT`, as older IdPs send).
 */
import { InvalidRequestError } from '../shared/errors.js';
import { requireAudience, verifyNotification } from './issuer-notification.js';
import type { Verifier } from '../verify/types.js';
import { durationSeconds, type DurationRule } from '../shared/duration-option.js';

/**
 * The member of a logout token's `events` claim that makes it one (OpenID Connect Back-Channel
 * Logout 1.0 §2.4); its value must be an object (`{}`).
 *
 * @example
 * ```ts
 * import { randomUUID } from 'node:crypto';
 * import { BACKCHANNEL_LOGOUT_EVENT } from 'revocable-jwt';
 * // The claims of a logout token, e.g. for a test IdP to sign (typ: 'logout+jwt'):
 * const claims = {
 *   iss: 'https://idp.example.com/',
 *   aud: 'my-api',
 *   iat: Math.floor(Date.now() / 1000),
 *   jti: randomUUID(),
 *   sub: 'alice',
 *   events: { [BACKCHANNEL_LOGOUT_EVENT]: {} },
 * };
 * ```
 */
export const BACKCHANNEL_LOGOUT_EVENT = 'http://schemas.openid.net/event/backchannel-logout';

/**
 * How {@link processLogoutToken} (and `backchannelLogoutRoute`, which takes the same options
 * beside `verifier`) judges a logout token and what it cuts.
 *
 * @example
 * ```ts
 * import { backchannelLogoutRoute, type LogoutTokenOptions } from 'revocable-jwt';
 * const logout: LogoutTokenOptions = { clientId: 'my-api', maxAge: 120 }; // sessionOnly: false (default)
 * app.post('/backchannel-logout', backchannelLogoutRoute({ verifier, ...logout }));
 * ```
 */
export interface LogoutTokenOptions {
  /** Our client id at the IdP: the logout token's audience. */
  clientId: string;
  /** How old a logout token may be (its `iat`), in seconds; clock tolerance comes on top. Default 300. */
  maxAge?: number;
  /**
   * Only refuse tokens of the ended session (`sid`), not every token of the subject. Default
   * false: access tokens seldom carry `sid`, so a session-only logout would leave them valid.
   */
  sessionOnly?: boolean;
}

/** `maxAge`: 5 minutes by default. */
export const LOGOUT_TOKEN_MAX_AGE: DurationRule = { default: 300 };

/**
 * What {@link processLogoutToken} did: which issuer's tokens it cut, for which subject and/or
 * session, and whether this was the first delivery of that logout token.
 *
 * @example
 * ```ts
 * import { processLogoutToken } from 'revocable-jwt';
 * declare const logoutToken: string;
 * const result = await processLogoutToken(verifier, logoutToken, { clientId: 'my-api' });
 * const { issuer, subject, session, applied } = result;
 * log.info({ issuer, subject, session, repeat: !applied }, 'back-channel logout');
 * ```
 */
export interface LogoutResult {
  /** The issuer that signed the logout token: the only one whose tokens it refuses. */
  issuer: string;
  /**
   * The logout token's `sub`, when it has one: every token of that subject issued up to the
   * logout token's `iat` is refused (unless `sessionOnly` and a `sid` was given).
   */
  subject: string | undefined;
  /** The logout token's `sid`, when it has one: every token carrying that `sid` issued up to its `iat` is refused. */
  session: string | undefined;
  /**
   * False when this `jti` was seen before (a replay or a retry: the same cutoffs were made again,
   * which cuts nothing newer).
   */
  applied: boolean;
}

/**
 * Validates an OpenID Connect Back-Channel Logout token and acts on it: the framework-free core of
 * `backchannelLogoutRoute`, for any other framework. The token must be signed by one of the
 * verifier's issuers (its keys and algorithms), carry `aud` = `clientId`, an `iat` no older than
 * `maxAge`, a `jti`, the back-channel logout event, `sub` and/or `sid` and no `nonce`, with `typ`
 * `logout+jwt` (or absent, or `JWT`). Then the session (`sid`) and, unless `sessionOnly`, the
 * subject (`sub`) are cut off at the token's `iat`, on every instance sharing the store; a
 * repeated `jti` makes the same cutoffs again (`applied: false`), so an IdP's retry is safe.
 *
 * Does not validate: the HTTP request (method, `Content-Type`, the `logout_token` form field:
 * read it yourself), or `options` the way the route does at construction — in particular a
 * `clientId` that is `undefined` turns the audience check off, so pass a non-empty string.
 *
 * @param verifier - A verifier made by `createVerifier()`: its issuers' keys check the token.
 * @param logoutToken - The `logout_token` form parameter the IdP POSTed.
 * @param options - Our `clientId` (the audience), `maxAge` (seconds, default 300), `sessionOnly`.
 * @returns Which issuer, subject and session were cut, and whether this `jti` was new.
 * @throws `InvalidRequestError` / `InvalidTokenError` (answer 400) for a token that is not a valid
 *   logout token; `IdpUnavailableError` or `StoreUnavailableError` (including `RevocationPendingError`)
 *   when the keys or the store are unreachable (answer 503 with their `Retry-After`: the IdP
 *   retries); `MisconfiguredError` (500); `TypeError` for a bad `maxAge` or a foreign verifier.
 *
 * @example
 * ```ts
 * import { AuthError, processLogoutToken } from 'revocable-jwt';
 * // POST /backchannel-logout with WHATWG Request/Response (Hono, Next.js route handlers, …):
 * export async function POST(request: Request): Promise<Response> {
 *   const logoutToken = (await request.formData()).get('logout_token');
 *   if (typeof logoutToken !== 'string') return new Response(null, { status: 400 });
 *   try {
 *     await processLogoutToken(verifier, logoutToken, { clientId: 'my-api' });
 *     return new Response(null, { status: 200, headers: { 'Cache-Control': 'no-store' } });
 *   } catch (error) {
 *     if (!(error instanceof AuthError) || error.status === 500) throw error; // ours to fix
 *     // 503 + Retry-After while keys or store are unreachable (the IdP retries); else 400.
 *     if (error.status === 503) return new Response(null, { status: 503, headers: error.headers });
 *     return new Response(null, { status: 400, headers: { 'Cache-Control': 'no-store' } });
 *   }
 * }
 * ```
 */
export async function processLogoutToken(
  verifier: Verifier,
  logoutToken: string,
  options: LogoutTokenOptions,
): Promise<LogoutResult> {
  requireAudience(options?.clientId, 'clientId', 'processLogoutToken');
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
