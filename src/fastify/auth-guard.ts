/**
 * `authGuard()`: a Fastify `preHandler` hook. Glue only: it reads the request (and the body a
 * content-type parser left, if one ran), asks the core's authenticate step
 * (core/request/authenticator.ts), sets `request.auth` on success, and answers the refusal itself
 * otherwise (the route handler does not run).
 */
import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import {
  buildAuthenticator,
  GUARD_SETTING_KEYS,
  type GuardSettings,
  type OptionalAuthentication,
  type VerifierChoice,
} from '../core/request/authenticator.js';
import { authErrorAnswer } from '../core/request/route-answer.js';
import type { VerifiedToken, Verifier } from '../core/verify/types.js';
import { peerCertificateOf, readsPeerCertificate } from '../glue/peer-certificate.js';
import { sendAnswer } from './send-answer.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by `authGuard` (revocable-jwt/fastify) once the bearer token is verified. */
    auth?: VerifiedToken;
  }
}

/**
 * What a route requires (`scopes`, `realm`), and a verifier or the options to build one: the
 * options of the Express `authGuard`.
 *
 * @example
 * ```ts
 * import type { AuthGuardOptions } from 'revocable-jwt/fastify';
 * const options: AuthGuardOptions = { verifier, scopes: ['notes:read'] };
 * ```
 */
export type AuthGuardOptions = GuardSettings & VerifierChoice;

/**
 * The guard: a `preHandler` hook (callback style: no promise on a cache hit), and its verifier.
 *
 * @example
 * ```ts
 * import { type AuthGuardHook, authGuard } from 'revocable-jwt/fastify';
 * const guard: AuthGuardHook = authGuard({ verifier });
 * guard.verifier.stats();
 * ```
 */
export interface AuthGuardHook {
  (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction): void;
  /** The verifier this guard uses (built by the guard for the `{ issuer, audience }` shorthand). */
  readonly verifier: Verifier;
}

/**
 * Builds the guard. Options are checked here, once (a `TypeError` says what to change). A refusal
 * is answered at once (401, 400, 403, 503 with `Retry-After`), with the `WWW-Authenticate`
 * challenge and `{ error, error_description }`. With `optional: true`, a request without
 * credentials goes on with `request.auth` undefined.
 *
 * @example
 * ```ts
 * import Fastify from 'fastify';
 * import { authGuard } from 'revocable-jwt/fastify';
 * const app = Fastify();
 * app.get('/notes', { preHandler: authGuard({ verifier, scopes: ['notes:read'] }) }, async (request) => ({
 *   sub: request.auth?.payload.sub,
 * }));
 * ```
 */
export function authGuard(options: AuthGuardOptions): AuthGuardHook {
  const authenticate = buildAuthenticator(options, 'authGuard', GUARD_SETTING_KEYS);
  const finish = (
    request: FastifyRequest,
    reply: FastifyReply,
    done: HookHandlerDoneFunction,
    answer: OptionalAuthentication,
  ) => {
    if (!answer.ok) {
      sendAnswer(reply, authErrorAnswer(answer.error)); // answered: `done` is not called
      return;
    }
    request.auth = answer.auth; // undefined on an optional route without credentials
    if (answer.headers !== undefined) reply.headers(answer.headers);
    done();
  };
  const fromSocket = readsPeerCertificate(authenticate);
  const guard = (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction): void => {
    const answer = authenticate({
      method: request.method,
      url: request.url,
      headers: request.headers,
      rawHeaders: request.raw.rawHeaders,
      body: request.body,
      clientCertificate: fromSocket ? peerCertificateOf(request.raw.socket) : undefined,
      identity: request.raw,
    });
    if ('ok' in answer) finish(request, reply, done, answer);
    else answer.then((settled) => finish(request, reply, done, settled));
  };
  return Object.defineProperty(guard, 'verifier', {
    value: authenticate.verifier,
    enumerable: true,
  }) as AuthGuardHook;
}
