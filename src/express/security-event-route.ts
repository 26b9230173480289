/**
 * `securityEventRoute()`: an RFC 8935 push endpoint for Security Event Tokens (RFC 8417) with
 * OpenID CAEP / RISC events (see core/receive/security-event.ts). Expects `Content-Type:
 * application/secevent+jwt`; answers 202 on success (duplicates too), 400 `{ err, description }`
 * with the RFC 8935 codes otherwise, 503 when the issuer's keys cannot be fetched or the revocation
 * store has not confirmed the revocation.
 * Glue only: the checks and the answers are the core's (core/request/security-event-request.ts).
 */
import { buildSecurityEventHandler, type SecurityEventRequestOptions } from '../core/request/security-event-request.js';
import { postRoute } from './post-route.js';
import { readRawBody } from './request-body.js';

/**
 * The options of {@link securityEventRoute}: `verifier` and `audience` (required; how the
 * transmitter addresses this receiver, one string or several), `maxAge` (how old a SET's `iat`
 * may be, in seconds; default 300, clock tolerance on top). The same as
 * `createSecurityEventHandler`'s; unknown keys are refused at construction.
 *
 * @example
 * ```ts
 * import { securityEventRoute, type SecurityEventRouteOptions } from 'revocable-jwt';
 * const options: SecurityEventRouteOptions = { verifier, audience: 'https://api.example.com/ssf', maxAge: 60 };
 * app.post('/security-events', securityEventRoute(options));
 * ```
 */
export type SecurityEventRouteOptions = SecurityEventRequestOptions;

/**
 * An RFC 8935 push endpoint for Security Event Tokens (RFC 8417) with OpenID CAEP / RISC events
 * (Express, Connect, `node:http`). Expects `Content-Type: application/secevent+jwt` and a SET with
 * `typ: secevent+jwt` signed by one of the verifier's issuers. Acts on CAEP `session-revoked`
 * and `credential-change`, RISC `sessions-revoked`, `account-disabled` and `account-purged` with
 * session or subject cutoffs on every instance sharing the store; other events are acknowledged
 * and ignored. Reads the raw body itself (up to 16 KiB) unless a parser left it as a string or
 * bytes.
 *
 * Answers (`Cache-Control: no-store`): 202 (a duplicate too) · 400 `{ err, description }` with the
 * RFC 8935 codes (`invalid_request`, `invalid_key`, `invalid_issuer`, `invalid_audience`) · 405
 * with `Allow: POST` for other methods · 503 with `Retry-After` while the issuer's keys or the
 * store are unreachable. A misconfiguration goes to `next(err)` (a generic 500 without `next`).
 *
 * @throws TypeError at construction: no verifier, no `audience`, a bad `maxAge`, an unknown key.
 *
 * @example
 * ```ts
 * import { securityEventRoute } from 'revocable-jwt';
 * app.post('/security-events', securityEventRoute({ verifier, audience: 'https://api.example.com/ssf' }));
 * ```
 */
export function securityEventRoute(options: SecurityEventRouteOptions) {
  const receive = buildSecurityEventHandler(options, 'securityEventRoute');
  return postRoute(receive, (req) => receive(req, () => readRawBody(req)));
}
