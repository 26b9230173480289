/**
 * `authGuard()`: Express/Connect middleware. Glue only: hand the request to the core's
 * authenticate step (core/request/authenticator.ts), set `req.auth` on success, and hand a
 * refusal to `next(err)` as an `AuthError` whose `status` and `headers` tell the framework what to
 * answer. Uses nothing Express-specific, so it runs under Connect or a bare `node:http` server
 * with a hand-written `next`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  type Authentication,
  buildAuthenticator,
  GUARD_SETTING_KEYS,
  type GuardSettings,
  type VerifierChoice,
} from '../core/request/authenticator.js';
import type { VerifiedToken, Verifier } from '../core/verify/types.js';

export type { GuardSettings } from '../core/request/authenticator.js';

declare global {
  namespace Express {
    interface Request {
      /** Set by `authGuard` once the bearer token is verified. */
      auth?: VerifiedToken;
    }
  }
}

/** A verifier, or the options to build one (not both: options beside a verifier would be ignored). */
export type AuthGuardOptions = GuardSettings & VerifierChoice;

export type NextFunction = (err?: unknown) => void;
export type GuardRequest = IncomingMessage & { auth?: VerifiedToken; body?: unknown };

export interface AuthGuardMiddleware {
  (req: GuardRequest, res: ServerResponse, next: NextFunction): void;
  /** The verifier this guard uses (built by the guard for the `{ issuer, audience }` shorthand). */
  readonly verifier: Verifier;
}

export function authGuard(options: AuthGuardOptions): AuthGuardMiddleware {
  const authenticate = buildAuthenticator(options, 'authGuard', GUARD_SETTING_KEYS);

  const finish = (req: GuardRequest, next: NextFunction, answer: Authentication): void => {
    if (!answer.ok) {
      next(answer.error);
      return;
    }
    req.auth = answer.auth;
    next();
  };

  // An IncomingMessage is a RequestLike as is: nothing to copy on the hit path.
  const guard = (req: GuardRequest, _res: ServerResponse, next: NextFunction): void => {
    const answer = authenticate(req);
    if ('ok' in answer) finish(req, next, answer);
    else answer.then((settled) => finish(req, next, settled));
  };
  return Object.defineProperty(guard, 'verifier', {
    value: authenticate.verifier,
    enumerable: true,
  }) as AuthGuardMiddleware;
}
