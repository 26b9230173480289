/**
 * The back-channel logout step (OpenID Connect Back-Channel Logout 1.0), framework-free: take the
 * IdP's `logout_token` from the parsed form body, validate it and refuse that session's /
 * subject's tokens on every instance sharing the store (see receive/logout-token.ts), and answer
 * per §2.8: 200 on success, 400 `{ error, error_description }` otherwise, 503 with `Retry-After`
 * while the IdP's keys or the revocation store are unreachable (the IdP retries); never cached.
 */
import { AuthError, isTemporarilyUnavailable, MisconfiguredError } from '../shared/errors.js';
import { optionKeys, rejectUnknownKeys } from '../shared/option-keys.js';
import { LOGOUT_TOKEN_MAX_AGE, processLogoutToken, type LogoutTokenOptions } from '../receive/logout-token.js';
import { durationSeconds } from '../shared/duration-option.js';
import type { Verifier } from '../verify/types.js';
import { portOf } from '../verify/verifier-port.js';
import { type EndpointPolicy, jsonAnswer, oauthErrorBody, type RouteAnswer } from './route-answer.js';

/**
 * The options of {@link createBackchannelLogoutHandler} (and of `backchannelLogoutRoute`, which
 * takes the same): the verifier, and how logout tokens are checked ({@link LogoutTokenOptions}:
 * `clientId`, `maxAge` in seconds, `sessionOnly`). Unknown keys are refused at construction.
 *
 * @example
 * ```ts
 * import { createBackchannelLogoutHandler, type BackchannelLogoutRequestOptions } from 'revocable-jwt';
 * const options: BackchannelLogoutRequestOptions = { verifier, clientId: 'my-api', maxAge: 120 };
 * const logout = createBackchannelLogoutHandler(options);
 * ```
 */
export interface BackchannelLogoutRequestOptions extends LogoutTokenOptions {
  /**
   * The verifier from `createVerifier()`: its issuers' keys check the logout token, and its
   * store records the cutoffs (shared by every instance) and the replay guard. Required.
   */
  verifier: Verifier;
}

/**
 * The back-channel logout step: answers a POST whose form body is parsed. 200 (no body) once the
 * cutoffs are made, 400 `{ error: 'invalid_request', error_description }` for a missing or
 * refused logout token, 503 with `Retry-After` while the issuer's keys or the store are
 * unreachable (the IdP retries); `Cache-Control: no-store`.
 *
 * @example
 * ```ts
 * import { createBackchannelLogoutHandler } from 'revocable-jwt';
 * const logout = createBackchannelLogoutHandler({ verifier, clientId: 'my-api' });
 * declare const logoutToken: string; // the IdP's POST: logout_token=…
 * const { status } = await logout({ logout_token: logoutToken });
 * ```
 */
export interface BackchannelLogoutHandler extends EndpointPolicy {
  /** Acts on the body's `logout_token` and answers; rejects only with what is not the IdP's to hear. */
  (body: Readonly<Record<string, unknown>>): Promise<RouteAnswer>;
}

/** The keys the back-channel logout step accepts (any other is refused): one line per option. */
const BACKCHANNEL_LOGOUT_OPTION_KEYS = optionKeys<BackchannelLogoutRequestOptions>({
  verifier: true,
  clientId: true,
  maxAge: true,
  sessionOnly: true,
});

/**
 * Builds the back-channel logout step (OpenID Connect Back-Channel Logout 1.0), the
 * framework-free core of `backchannelLogoutRoute`. Options are checked here, once; construction
 * does no I/O.
 *
 * Does not: read the body or check the method (the adapter does: anything but a POST gets 405
 * with `Allow: POST`), or authenticate the IdP's request otherwise than by the logout token's
 * signature.
 *
 * @throws TypeError at construction: no verifier (or one `createVerifier()` did not make), no
 * `clientId`, a bad `maxAge`, an unknown key.
 *
 * @example
 * ```ts
 * import { createBackchannelLogoutHandler } from 'revocable-jwt';
 * const logout = createBackchannelLogoutHandler({ verifier, clientId: 'my-api' });
 * declare const request: Request; // a fetch Request: the IdP's POST
 * const answer = await logout(Object.fromEntries(await request.formData())); // 200, 400 or 503
 * ```
 */
export function createBackchannelLogoutHandler(options: BackchannelLogoutRequestOptions): BackchannelLogoutHandler {
  return buildBackchannelLogoutHandler(options, 'createBackchannelLogoutHandler');
}

/** {@link createBackchannelLogoutHandler}, naming `factory` (e.g. backchannelLogoutRoute) in configuration errors. */
export function buildBackchannelLogoutHandler(
  options: BackchannelLogoutRequestOptions,
  factory: string,
): BackchannelLogoutHandler {
  if (typeof options !== 'object' || options === null || typeof options.verifier?.invalidateSubject !== 'function') {
    throw new TypeError(`revocable-jwt: ${factory} needs { verifier, clientId }`);
  }
  rejectUnknownKeys(options, BACKCHANNEL_LOGOUT_OPTION_KEYS, factory);
  portOf(options.verifier); // a foreign object fails here, at construction, not on the IdP's first POST
  if (typeof options.clientId !== 'string' || options.clientId === '') {
    throw new TypeError(
      `revocable-jwt: ${factory} needs \`clientId\`: our client id at the IdP (the logout token audience)`,
    );
  }
  // Checked here too, so a bad `maxAge` fails at construction rather than on the IdP's first POST.
  durationSeconds(options.maxAge, 'maxAge', LOGOUT_TOKEN_MAX_AGE, factory);
  const { verifier, ...logoutOptions } = options;

  const answerError = (error: unknown): RouteAnswer | undefined => {
    // A misconfiguration is ours, not the IdP's request's: `next(err)`, or a generic 500 without one.
    if (error instanceof MisconfiguredError) return undefined;
    if (isTemporarilyUnavailable(error)) {
      return jsonAnswer(503, oauthErrorBody('temporarily_unavailable', error.description), {
        'Retry-After': String(error.retryAfter),
      });
    }
    if (error instanceof AuthError) return jsonAnswer(400, oauthErrorBody('invalid_request', error.description));
    return undefined;
  };

  const logout = async (body: Readonly<Record<string, unknown>>): Promise<RouteAnswer> => {
    // `?.`: the adapter's parsed body is whatever the IdP sent, `null` too.
    const logoutToken = body?.logout_token;
    if (typeof logoutToken !== 'string' || logoutToken === '') {
      return jsonAnswer(400, oauthErrorBody('invalid_request', 'Missing logout_token'));
    }
    try {
      await processLogoutToken(verifier, logoutToken, logoutOptions);
    } catch (error) {
      const answer = answerError(error);
      if (answer === undefined) throw error;
      return answer;
    }
    return jsonAnswer(200);
  };
  return Object.defineProperties(logout, {
    errorBody: { value: oauthErrorBody, enumerable: true },
    answerError: { value: answerError, enumerable: true },
  }) as BackchannelLogoutHandler;
}
