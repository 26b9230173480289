/**
 * `securityEventRoute()`: an RFC 8935 push endpoint for Security Event Tokens (RFC 8417) with
 * OpenID CAEP / RISC events (see core/security-event.ts). Expects `Content-Type:
 * application/secevent+jwt`; answers 202 on success (duplicates too), 400 `{ err, description }`
 * with the RFC 8935 codes otherwise, 503 when the issuer's keys cannot be fetched or the revocation
 * store has not confirmed the revocation.
 */
import { isTemporarilyUnavailable } from '../core/shared/errors.js';
import {
  processSecurityEvent,
  SECURITY_EVENT_MAX_AGE,
  SecurityEventError,
  type SecurityEventOptions,
} from '../core/receive/security-event.js';
import { durationSeconds } from '../core/shared/duration-option.js';
import { optionKeys, rejectUnknownKeys } from '../core/shared/option-keys.js';
import type { Verifier } from '../core/verify/types.js';
import { postRoute } from './post-route.js';
import { readRawBody } from './request-body.js';
import { sendJson } from './send-json.js';
import { portOf } from '../core/verify/verifier-port.js';

export interface SecurityEventRouteOptions extends SecurityEventOptions {
  verifier: Verifier;
}

/** The keys securityEventRoute accepts (any other is refused): one line per option. */
const SECURITY_EVENT_ROUTE_OPTION_KEYS = optionKeys<SecurityEventRouteOptions>({
  verifier: true,
  audience: true,
  maxAge: true,
});

export function securityEventRoute(options: SecurityEventRouteOptions) {
  if (typeof options !== 'object' || options === null || typeof options.verifier?.invalidateSubject !== 'function') {
    throw new TypeError('revocable-jwt: securityEventRoute needs { verifier, audience }');
  }
  rejectUnknownKeys(options, SECURITY_EVENT_ROUTE_OPTION_KEYS, 'securityEventRoute');
  portOf(options.verifier); // a foreign object fails here, at construction, not on the IdP's first POST
  const audiences = typeof options.audience === 'string' ? [options.audience] : options.audience;
  if (!Array.isArray(audiences) || audiences.length === 0 || audiences.some((a) => typeof a !== 'string' || a === '')) {
    throw new TypeError(
      'revocable-jwt: securityEventRoute needs `audience`: how the transmitter addresses this receiver',
    );
  }
  // Checked here too, so a bad `maxAge` fails at construction rather than on the first SET.
  durationSeconds(options.maxAge, 'maxAge', SECURITY_EVENT_MAX_AGE, 'securityEventRoute');
  const { verifier, ...eventOptions } = options;

  return postRoute({
    errorBody: (err, description) => ({ err, description }),
    renderError(res, error) {
      if (error instanceof SecurityEventError) sendJson(res, 400, { err: error.err, description: error.description });
      else if (isTemporarilyUnavailable(error)) {
        res.setHeader('Retry-After', String(error.retryAfter));
        sendJson(res, 503, { err: 'temporarily_unavailable', description: error.description });
      } else return false;
      return true;
    },
    async handle(req, res) {
      const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
      if (type !== 'application/secevent+jwt') {
        throw new SecurityEventError('invalid_request', 'Send the SET as application/secevent+jwt');
      }
      let set: string;
      try {
        set = (await readRawBody(req)).trim();
      } catch (cause) {
        throw new SecurityEventError('invalid_request', 'The request body could not be read', { cause });
      }
      if (set === '') throw new SecurityEventError('invalid_request', 'The body holds no SET');
      await processSecurityEvent(verifier, set, eventOptions);
      res.statusCode = 202;
      res.setHeader('Cache-Control', 'no-store');
      res.end();
    },
  });
}
