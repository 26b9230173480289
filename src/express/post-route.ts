/**
 * What the library's POST endpoints (logout, back-channel logout, security events) share: 405 for
 * other methods, and every failure turned into an answer, never an unhandled rejection. What each
 * answer is, the core decides (`EndpointPolicy`); errors it does not answer go to `next`
 * (Express, Connect) or become a plain 500.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type EndpointPolicy, postOnly, type RouteAnswer, serverErrorAnswer } from '../core/request/route-answer.js';
import type { NextFunction } from './auth-guard.js';
import { writeAnswer } from '../glue/node-answer.js';

/**
 * The request the library's POST routes (`revokeRoute`, `backchannelLogoutRoute`,
 * `securityEventRoute`) take: a Node `IncomingMessage` (an Express or Connect request is one),
 * with the `body` a parser may have left.
 *
 * @example
 * ```ts
 * import { createServer } from 'node:http';
 * import { revokeRoute, type RouteRequest } from 'revocable-jwt';
 * const logout = revokeRoute({ verifier });
 * createServer((req: RouteRequest, res) => logout(req, res)).listen(3000); // no parser: it reads the stream
 * ```
 */
export type RouteRequest = IncomingMessage & {
  /**
   * The body a parser left, if one ran: the logout routes take an object as the parsed fields; a
   * string or bytes is read as the raw body; without one the route reads the stream itself (up to
   * 16 KiB).
   */
  body?: unknown;
};

/** A POST endpoint: `handle` reads the body, calls the core step and returns its answer. */
export function postRoute(policy: EndpointPolicy, handle: (req: RouteRequest) => Promise<RouteAnswer>) {
  return (req: RouteRequest, res: ServerResponse, next?: NextFunction): void => {
    const refused = postOnly(req, policy.errorBody);
    if (refused !== undefined) {
      writeAnswer(res, refused);
      return;
    }
    handle(req)
      .then((answer) => writeAnswer(res, answer))
      .catch((error: unknown) => {
        const answer = res.headersSent ? undefined : policy.answerError(error);
        if (answer !== undefined) writeAnswer(res, answer);
        else if (next) next(error);
        else if (!res.headersSent) writeAnswer(res, serverErrorAnswer(policy.errorBody));
      });
  };
}
