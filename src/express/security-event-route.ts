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

export type SecurityEventRouteOptions = SecurityEventRequestOptions;

export function securityEventRoute(options: SecurityEventRouteOptions) {
  const receive = buildSecurityEventHandler(options, 'securityEventRoute');
  return postRoute(receive, (req) => receive(req, () => readRawBody(req)));
}
