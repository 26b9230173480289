/**
 * The RFC 8935 push step for Security Event Tokens (RFC 8417) with OpenID CAEP / RISC events,
 * framework-free (see receive/security-event.ts). Expects `Content-Type: application/secevent+jwt`;
 * answers 202 on success (duplicates too), 400 `{ err, description }` with the RFC 8935 codes
 * otherwise, 503 with `Retry-After` when the issuer's keys cannot be fetched or the revocation
 * store has not confirmed the revocation; never cached.
 */
import { isTemporarilyUnavailable, MisconfiguredError } from '../shared/errors.js';
import { optionKeys, rejectUnknownKeys } from '../shared/option-keys.js';
import {
  processSecurityEvent,
  SECURITY_EVENT_MAX_AGE,
  SecurityEventError,
  type SecurityEventOptions,
} from '../receive/security-event.js';
import { durationSeconds } from '../shared/duration-option.js';
import type { Verifier } from '../verify/types.js';
import { portOf } from '../verify/verifier-port.js';
import { mediaTypeOf, type RequestLike } from './request-like.js';
import { type EndpointPolicy, type ErrorBody, jsonAnswer, type RouteAnswer } from './route-answer.js';

/**
 * The options of {@link createSecurityEventHandler} (and of `securityEventRoute`, which takes the
 * same): the verifier, and how SETs are checked ({@link SecurityEventOptions}: `audience`, `maxAge`
 * in seconds). Unknown keys are refused at construction.
 *
 * @example
 * ```ts
 * import { createSecurityEventHandler, type SecurityEventRequestOptions } from 'revocable-jwt';
 * const options: SecurityEventRequestOptions = { verifier, audience: 'https://api.example.com/ssf' };
 * const receive = createSecurityEventHandler(options);
 * ```
 */
export interface SecurityEventRequestOptions extends SecurityEventOptions {
  /**
   * The verifier from `createVerifier()`: the transmitter must be one of its issuers (whose keys
   * sign the SETs), and its store records the cutoffs and the replay guard. Required.
   */
  verifier: Verifier;
}

/**
 * The security event step (RFC 8935 push): 202 (no body) once the SET is acted on (a duplicate
 * too), 400 `{ err, description }` with the RFC 8935 codes, 503 with `Retry-After` while the
 * issuer's keys or the store are unreachable; `Cache-Control: no-store`.
 *
 * @example
 * ```ts
 * import { createSecurityEventHandler } from 'revocable-jwt';
 * const receive = createSecurityEventHandler({ verifier, audience: 'https://api.example.com/ssf' });
 * declare const set: string; // the transmitter's POST body
 * const headers = { 'content-type': 'application/secevent+jwt' };
 * const { status } = await receive({ method: 'POST', headers }, async () => set); // 202
 * ```
 */
export interface SecurityEventHandler extends EndpointPolicy {
  /**
   * Checks the request, then reads its body with `readBody` (only then: a request of the wrong
   * type is refused unread), acts on the SET and answers. Rejects only with what is not the
   * transmitter's to hear.
   */
  (request: RequestLike, readBody: () => Promise<string>): Promise<RouteAnswer>;
}

/** The keys the security event step accepts (any other is refused): one line per option. */
const SECURITY_EVENT_OPTION_KEYS = optionKeys<SecurityEventRequestOptions>({
  verifier: true,
  audience: true,
  maxAge: true,
});

/** RFC 8935 §2.3 error body. */
const setErrorBody: ErrorBody = (err, description) => ({ err, description });

/**
 * Builds the RFC 8935 push step for Security Event Tokens, the framework-free core of
 * `securityEventRoute`. Options are checked here, once; construction does no I/O.
 *
 * Does not: check the method (the adapter answers anything but a POST with 405 and
 * `Allow: POST`), or bound the body's size (`readBody` does).
 *
 * @throws TypeError at construction: no verifier (or one `createVerifier()` did not make), no
 * `audience`, a bad `maxAge`, an unknown key.
 *
 * @example
 * ```ts
 * import { createSecurityEventHandler } from 'revocable-jwt';
 * const receive = createSecurityEventHandler({ verifier, audience: 'https://api.example.com/ssf' });
 * declare const request: Request; // a fetch Request: the transmitter's POST
 * const answer = await receive({ headers: request.headers }, () => request.text()); // 202, 400 or 503
 * ```
 */
export function createSecurityEventHandler(options: SecurityEventRequestOptions): SecurityEventHandler {
  return buildSecurityEventHandler(options, 'createSecurityEventHandler');
}

/** {@link createSecurityEventHandler}, naming `factory` (e.g. securityEventRoute) in configuration errors. */
export function buildSecurityEventHandler(options: SecurityEventRequestOptions, factory: string): SecurityEventHandler {
  if (typeof options !== 'object' || options === null || typeof options.verifier?.invalidateSubject !== 'function') {
    throw new TypeError(`revocable-jwt: ${factory} needs { verifier, audience }`);
  }
  rejectUnknownKeys(options, SECURITY_EVENT_OPTION_KEYS, factory);
  portOf(options.verifier); // a foreign object fails here, at construction, not on the IdP's first POST
  const audiences = typeof options.audience === 'string' ? [options.audience] : options.audience;
  if (!Array.isArray(audiences) || audiences.length === 0 || audiences.some((a) => typeof a !== 'string' || a === '')) {
    throw new TypeError(`revocable-jwt: ${factory} needs \`audience\`: how the transmitter addresses this receiver`);
  }
  // Checked here too, so a bad `maxAge` fails at construction rather than on the first SET.
  durationSeconds(options.maxAge, 'maxAge', SECURITY_EVENT_MAX_AGE, factory);
  const { verifier, ...eventOptions } = options;

  const answerError = (error: unknown): RouteAnswer | undefined => {
    if (error instanceof SecurityEventError) return jsonAnswer(400, setErrorBody(error.err, error.description));
    if (isTemporarilyUnavailable(error)) {
      return jsonAnswer(503, setErrorBody('temporarily_unavailable', error.description), {
        'Retry-After': String(error.retryAfter),
      });
    }
    return undefined;
  };

  const receive = async (request: RequestLike, readBody: () => Promise<string>): Promise<RouteAnswer> => {
    try {
      if (mediaTypeOf(request) !== 'application/secevent+jwt') {
        throw new SecurityEventError('invalid_request', 'Send the SET as application/secevent+jwt');
      }
      let set: string;
      try {
        set = (await readBody()).trim();
      } catch (cause) {
        if (cause instanceof MisconfiguredError) throw cause; // the application's, not the transmitter's
        throw new SecurityEventError('invalid_request', 'The request body could not be read', { cause });
      }
      if (set === '') throw new SecurityEventError('invalid_request', 'The body holds no SET');
      await processSecurityEvent(verifier, set, eventOptions);
      return jsonAnswer(202);
    } catch (error) {
      const answer = answerError(error);
      if (answer === undefined) throw error;
      return answer;
    }
  };
  return Object.defineProperties(receive, {
    errorBody: { value: setErrorBody, enumerable: true },
    answerError: { value: answerError, enumerable: true },
  }) as SecurityEventHandler;
}
