/**
 * `authGuard()`: Koa middleware. Glue only: it reads the request (and the body a body parser left
 * in `ctx.request.body`, if one ran), asks the core's authenticate step
 * (core/request/authenticator.ts), sets `ctx.state.auth` on success, and answers the refusal
 * itself otherwise (later middleware does not run).
 */
import type { Middleware, ParameterizedContext } from 'koa';
import {
  buildAuthenticator,
  GUARD_SETTING_KEYS,
  type GuardSettings,
  type VerifierChoice,
} from '../core/request/authenticator.js';
import type { RequestLike } from '../core/request/request-like.js';
import { authErrorAnswer } from '../core/request/route-answer.js';
import type { VerifiedToken, Verifier } from '../core/verify/types.js';
import { peerCertificateOf, readsPeerCertificate } from '../glue/peer-certificate.js';
import { writeKoaAnswer } from './write-answer.js';

/**
 * What a route requires (`scopes`, `realm`), and a verifier or the options to build one: the
 * options of the Express `authGuard`.
 *
 * @example
 * ```ts
 * import type { AuthGuardOptions } from 'revocable-jwt/koa';
 * const options: AuthGuardOptions = { verifier, scopes: ['notes:read'] };
 * ```
 */
export type AuthGuardOptions = GuardSettings & VerifierChoice;

/**
 * The Koa state the guard provides: `ctx.state.auth` is the verified token.
 *
 * @example
 * ```ts
 * import Koa from 'koa';
 * import { type AuthState, authGuard } from 'revocable-jwt/koa';
 * const app = new Koa<AuthState>();
 * app.use(authGuard({ verifier })).use((ctx) => {
 *   ctx.body = { sub: ctx.state.auth.payload.sub };
 * });
 * ```
 */
export interface AuthState {
  /** Set by the guard before the next middleware runs. */
  auth: VerifiedToken;
}

/**
 * The Koa state an `optional: true` guard provides: `ctx.state.auth` is the verified token, or
 * `undefined` for a request without credentials.
 *
 * @example
 * ```ts
 * import Koa from 'koa';
 * import { type OptionalAuthState, authGuard } from 'revocable-jwt/koa';
 * const app = new Koa<OptionalAuthState>();
 * app.use(authGuard({ verifier, optional: true })).use((ctx) => {
 *   ctx.body = { user: ctx.state.auth?.payload.sub ?? 'anonymous' };
 * });
 * ```
 */
export interface OptionalAuthState {
  /** Set by the guard before the next middleware runs; `undefined` without credentials. */
  auth: VerifiedToken | undefined;
}

/**
 * The guard: a Koa middleware, and the verifier it uses.
 *
 * @example
 * ```ts
 * import { type AuthGuardMiddleware, authGuard } from 'revocable-jwt/koa';
 * const guard: AuthGuardMiddleware = authGuard({ verifier });
 * guard.verifier.stats();
 * ```
 */
export type AuthGuardMiddleware<State extends OptionalAuthState = AuthState> = Middleware<State> & {
  /** The verifier this guard uses (built by the guard for the `{ issuer, audience }` shorthand). */
  readonly verifier: Verifier;
};

/**
 * Builds the guard. Options are checked here, once (a `TypeError` says what to change). A refusal
 * is answered at once (401, 400, 403, 503 with `Retry-After`), with the `WWW-Authenticate`
 * challenge and `{ error, error_description }`. With `optional: true`, a request without
 * credentials goes on with `ctx.state.auth` undefined (typed by {@link OptionalAuthState}).
 *
 * @example
 * ```ts
 * import Koa from 'koa';
 * import { authGuard } from 'revocable-jwt/koa';
 * const app = new Koa();
 * app.use(authGuard({ verifier, scopes: ['notes:read'] }));
 * app.use((ctx) => {
 *   ctx.body = { sub: ctx.state.auth.payload.sub };
 * });
 * ```
 */
export function authGuard(options: AuthGuardOptions & { optional: true }): AuthGuardMiddleware<OptionalAuthState>;
export function authGuard(options: AuthGuardOptions & { optional?: false }): AuthGuardMiddleware;
export function authGuard(options: AuthGuardOptions): AuthGuardMiddleware<OptionalAuthState>;
export function authGuard(options: AuthGuardOptions): AuthGuardMiddleware<OptionalAuthState> {
  const authenticate = buildAuthenticator(options, 'authGuard', GUARD_SETTING_KEYS);
  const fromSocket = readsPeerCertificate(authenticate);
  const guard: Middleware<OptionalAuthState> = async (ctx, next) => {
    const request = koaRequestLike(ctx);
    if (fromSocket) request.clientCertificate = peerCertificateOf(ctx.req.socket);
    const pending = authenticate(request);
    const answer = 'ok' in pending ? pending : await pending;
    if (!answer.ok) {
      writeKoaAnswer(ctx, authErrorAnswer(answer.error));
      return;
    }
    ctx.state.auth = answer.auth;
    if (answer.headers !== undefined) ctx.set(answer.headers);
    await next();
  };
  return Object.defineProperty(guard, 'verifier', {
    value: authenticate.verifier,
    enumerable: true,
  }) as AuthGuardMiddleware<OptionalAuthState>;
}

/**
 * The request as the core reads it; `body` is what a body parser (koa-bodyparser, koa-body) left,
 * the identity Node's request (Koa makes a new `ctx` per request around it).
 */
export function koaRequestLike(ctx: ParameterizedContext): RequestLike {
  return {
    method: ctx.method,
    url: ctx.url,
    originalUrl: ctx.originalUrl,
    headers: ctx.headers,
    rawHeaders: ctx.req.rawHeaders,
    body: parsedBodyOf(ctx),
    identity: ctx.req,
  };
}

/** `ctx.request.body`, which Koa itself never sets (a body parser middleware does). */
export function parsedBodyOf(ctx: ParameterizedContext): unknown {
  return 'body' in ctx.request ? ctx.request.body : undefined;
}
