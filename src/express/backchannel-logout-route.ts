/**
 * `backchannelLogoutRoute()`: the RP endpoint of OpenID Connect Back-Channel Logout 1.0.
 * The IdP POSTs `logout_token` (form); we validate it (see core/logout-token.ts) and refuse that
 * session's / subject's tokens on every instance sharing the store. Answers per §2.8: 200 on
 * success, 400 `{ error, error_description }` otherwise, always `Cache-Control: no-store`; 503 with
 * `Retry-After` while the IdP's keys or the revocation store are unreachable (the IdP retries).
 */
import { AuthError, isTemporarilyUnavailable, MisconfiguredError } from '../core/shared/errors.js';
import { LOGOUT_TOKEN_MAX_AGE, processLogoutToken, type LogoutTokenOptions } from '../core/receive/logout-token.js';
import { durationSeconds } from '../core/shared/duration-option.js';
import { optionKeys, rejectUnknownKeys } from '../core/shared/option-keys.js';
import type { Verifier } from '../core/verify/types.js';
import { oauthErrorBody, postRoute } from './post-route.js';
import { readRequestBody } from './request-body.js';
import { sendJson } from './send-json.js';
import { portOf } from '../core/verify/verifier-port.js';

export interface BackchannelLogoutRouteOptions extends LogoutTokenOptions {
  verifier: Verifier;
}

/** The keys backchannelLogoutRoute accepts (any other is refused): one line per option. */
const BACKCHANNEL_LOGOUT_ROUTE_OPTION_KEYS = optionKeys<BackchannelLogoutRouteOptions>({
  verifier: true,
  clientId: true,
  maxAge: true,
  sessionOnly: true,
});

export function backchannelLogoutRoute(options: BackchannelLogoutRouteOptions) {
  if (typeof options !== 'object' || options === null || typeof options.verifier?.invalidateSubject !== 'function') {
    throw new TypeError('revocable-jwt: backchannelLogoutRoute needs { verifier, clientId }');
  }
  rejectUnknownKeys(options, BACKCHANNEL_LOGOUT_ROUTE_OPTION_KEYS, 'backchannelLogoutRoute');
  portOf(options.verifier); // a foreign object fails here, at construction, not on the IdP's first POST
  if (typeof options.clientId !== 'string' || options.clientId === '') {
    throw new TypeError(
      'revocable-jwt: backchannelLogoutRoute needs `clientId`: our client id at the IdP (the logout token audience)',
    );
  }
  // Checked here too, so a bad `maxAge` fails at construction rather than on the IdP's first POST.
  durationSeconds(options.maxAge, 'maxAge', LOGOUT_TOKEN_MAX_AGE, 'backchannelLogoutRoute');
  const { verifier, ...logoutOptions } = options;

  return postRoute({
    errorBody: oauthErrorBody,
    renderError(res, error) {
      // A misconfiguration is ours, not the IdP's request's: `next(err)`, or a generic 500 without one.
      if (error instanceof MisconfiguredError) return false;
      if (isTemporarilyUnavailable(error)) {
        res.setHeader('Retry-After', String(error.retryAfter));
        sendJson(res, 503, oauthErrorBody('temporarily_unavailable', error.description));
      } else if (error instanceof AuthError) {
        sendJson(res, 400, oauthErrorBody('invalid_request', error.description));
      } else return false;
      return true;
    },
    async handle(req, res) {
      const body = await readRequestBody(req);
      const logoutToken = body.logout_token;
      if (typeof logoutToken !== 'string' || logoutToken === '') {
        sendJson(res, 400, oauthErrorBody('invalid_request', 'Missing logout_token'));
        return;
      }
      await processLogoutToken(verifier, logoutToken, logoutOptions);
      res.statusCode = 200;
      res.setHeader('Cache-Control', 'no-store');
      res.end();
    },
  });
}
