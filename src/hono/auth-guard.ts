/**
 * `authGuard()`: Hono middleware. Glue only: it reads `c.req.raw` (a WHATWG `Request`), asks the
 * core's authenticate step (core/request/authenticator.ts), sets `c.get('auth')` on success, and
 * returns the RFC 6750 answer otherwise. Web-standard APIs only: it runs wherever Hono runs
 * (Node, Bun, Deno, Cloudflare Workers).
 */
import type { MiddlewareHandler } from 'hono';
import {
  buildAuthenticator,
  GUARD_SETTING_KEYS,
  type GuardSettings,
  type VerifierChoice,
} from '../core/request/authenticator.js';
import { authErrorAnswer } from '../core/request/route-answer.js';
import type { VerifiedToken, Verifier } from '../core/verify/types.js';
import { peerCertificateOf, readsPeerCertificate } from '../glue/peer-certificate.js';
import { toResponse, webRequestLike } from '../glue/web-request.js';
import { honoFormBodyToInspect } from './request-body.js';

/**
 * What a route requires (`scopes`, `realm`), and a verifier or the options to build one: the
 * options of the Express `authGuard`.
 *
 * @example
 * ```ts
 * import type { AuthGuardOptions } from 'revocable-jwt/hono';
 * const options: AuthGuardOptions = { verifier, scopes: ['notes:read'] };
 * ```
 */
export type AuthGuardOptions = GuardSettings & VerifierChoice;

/**
 * The Hono environment the guard provides: `c.get('auth')` is the verified token.
 *
 * @example
 * ```ts
 * import { Hono } from 'hono';
 * import type { AuthEnv } from 'revocable-jwt/hono';
 * const app = new Hono<AuthEnv>();
 * app.get('/notes', (c) => c.json({ sub: c.get('auth').payload.sub }));
 * ```
 */
export interface AuthEnv {
  /** Set by the guard before the next handler runs. */
  Variables: { auth: VerifiedToken };
}

/**
 * The Hono environment an `optional: true` guard provides: `c.get('auth')` is the verified token,
 * or `undefined` for a request without credentials.
 *
 * @example
 * ```ts
 * import { Hono } from 'hono';
 * import { authGuard, type OptionalAuthEnv } from 'revocable-jwt/hono';
 * const app = new Hono<OptionalAuthEnv>();
 * app.get('/notes', authGuard({ verifier, optional: true }), (c) => c.json({ user: c.get('auth')?.payload.sub }));
 * ```
 */
export interface OptionalAuthEnv {
  /** Set by the guard before the next handler runs; `auth` is `undefined` without credentials. */
  Variables: { auth: VerifiedToken | undefined };
}

/**
 * The guard: a Hono middleware, and the verifier it uses.
 *
 * @example
 * ```ts
 * import { type AuthGuardMiddleware, authGuard } from 'revocable-jwt/hono';
 * const guard: AuthGuardMiddleware = authGuard({ verifier });
 * guard.verifier.stats();
 * ```
 */
export type AuthGuardMiddleware<Env extends OptionalAuthEnv = AuthEnv> = MiddlewareHandler<Env> & {
  /** The verifier this guard uses (built by the guard for the `{ issuer, audience }` shorthand). */
  readonly verifier: Verifier;
};

/**
 * Builds the guard. Options are checked here, once (a `TypeError` says what to change). A refusal
 * is answered at once (401, 400, 403, 503 with `Retry-After`), with the `WWW-Authenticate`
 * challenge and `{ error, error_description }`; later handlers do not run. With `optional: true`,
 * a request without credentials goes on with `c.get('auth')` undefined ({@link OptionalAuthEnv}).
 *
 * A form body's `access_token` (RFC 6750 §2.2) is refused as on the Node adapters (400), read from
 * a clone of `c.req.raw` (or Hono's copy, when the app already read it through `c.req`) and only for
 * an `application/x-www-form-urlencoded` body with a declared `Content-Length` of at most 16 KiB.
 *
 * Does not: look into any other body, or wait on a stream of undeclared length.
 *
 * @example
 * ```ts
 * import { Hono } from 'hono';
 * import { type AuthEnv, authGuard } from 'revocable-jwt/hono';
 * const app = new Hono<AuthEnv>();
 * app.use('/notes/*', authGuard({ verifier, scopes: ['notes:read'] }));
 * app.get('/notes/mine', (c) => c.json({ sub: c.get('auth').payload.sub }));
 * ```
 */
export function authGuard(options: AuthGuardOptions & { optional: true }): AuthGuardMiddleware<OptionalAuthEnv>;
export function authGuard(options: AuthGuardOptions & { optional?: false }): AuthGuardMiddleware;
export function authGuard(options: AuthGuardOptions): AuthGuardMiddleware<OptionalAuthEnv>;
export function authGuard(options: AuthGuardOptions): AuthGuardMiddleware<OptionalAuthEnv> | AuthGuardMiddleware {
  const authenticate = buildAuthenticator(options, 'authGuard', GUARD_SETTING_KEYS);
  const fromSocket = readsPeerCertificate(authenticate);
  const guard: MiddlewareHandler<OptionalAuthEnv> = async (c, next) => {
    const form = honoFormBodyToInspect(c.req);
    const request = webRequestLike(c.req.raw, form && (await form));
    // @hono/node-server hands the Node request as `c.env.incoming`; other runtimes have no socket.
    if (fromSocket) request.clientCertificate = peerCertificateOf(nodeIncomingOf(c.env)?.socket);
    const pending = authenticate(request);
    const answer = 'ok' in pending ? pending : await pending;
    if (!answer.ok) return toResponse(authErrorAnswer(answer.error));
    c.set('auth', answer.auth);
    if (answer.headers !== undefined) for (const [name, value] of Object.entries(answer.headers)) c.header(name, value);
    await next();
  };
  return Object.defineProperty(guard, 'verifier', {
    value: authenticate.verifier,
    enumerable: true,
  }) as AuthGuardMiddleware<OptionalAuthEnv>;
}

/** `c.env.incoming` on @hono/node-server (the Node `IncomingMessage`); `undefined` elsewhere. */
function nodeIncomingOf(env: unknown): { socket?: unknown } | undefined {
  if (typeof env !== 'object' || env === null) return undefined;
  const incoming = (env as { incoming?: unknown }).incoming;
  return typeof incoming === 'object' && incoming !== null ? incoming : undefined;
}
