/**
 * `authGuard()`: Express/Connect middleware. Glue only: hand the request to the core's
 * authenticate step (core/request/authenticator.ts), set `req.auth` on success, and hand a
 * refusal to `next(err)` as an `AuthError` whose `status` and `headers` tell the framework what to
 * answer. Uses nothing Express-specific, so it runs under Connect or a bare `node:http` server
 * with a hand-written `next`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  buildAuthenticator,
  GUARD_SETTING_KEYS,
  type GuardSettings,
  type OptionalAuthentication,
  type VerifierChoice,
} from '../core/request/authenticator.js';
import type { RequestLike } from '../core/request/request-like.js';
import type { VerifiedToken, Verifier } from '../core/verify/types.js';
import { peerCertificateOf, readsPeerCertificate } from '../glue/peer-certificate.js';

export type { GuardSettings } from '../core/request/authenticator.js';

declare global {
  namespace Express {
    interface Request {
      /** Set by `authGuard` once the bearer token is verified. */
      auth?: VerifiedToken;
    }
  }
}

/**
 * The options of {@link authGuard}: `scopes`, `realm` and `mtls` ({@link GuardSettings}), and a verifier
 * or the options to build one (not both: options beside a verifier would be ignored, so they are
 * refused). Unknown keys are refused at construction.
 *
 * @example
 * ```ts
 * import { authGuard, type AuthGuardOptions } from 'revocable-jwt';
 * const shared: AuthGuardOptions = { verifier, scopes: ['notes:read'], realm: 'notes' };
 * // Shorthand: the guard builds its own verifier (any createVerifier option), as `guard.verifier`.
 * const own: AuthGuardOptions = { issuer: 'https://idp.example.com/', audience: 'https://api.example.com' };
 * app.get('/notes', authGuard(shared), (req, res) => {
 *   res.json({ user: req.auth?.payload.sub });
 * });
 * ```
 */
export type AuthGuardOptions = GuardSettings & VerifierChoice;

/**
 * The `next` of Express and Connect middleware: called with nothing to go on, with an error to
 * hand it to the error handlers. On a bare `node:http` server, write your own.
 *
 * @example
 * ```ts
 * import { createServer } from 'node:http';
 * import { authGuard, writeAuthError, type NextFunction } from 'revocable-jwt';
 * const guard = authGuard({ verifier });
 * createServer((req, res) => {
 *   const next: NextFunction = (err) => {
 *     if (err === undefined) res.end('hello');
 *     else if (!writeAuthError(res, err)) res.writeHead(500).end();
 *   };
 *   guard(req, res, next);
 * }).listen(3000);
 * ```
 */
export type NextFunction = (err?: unknown) => void;

/**
 * The request {@link authGuard} takes: a Node `IncomingMessage` (an Express or Connect request is
 * one), with the `auth` the guard sets and the `body` a parser may have left.
 *
 * @example
 * ```ts
 * import type { GuardRequest } from 'revocable-jwt';
 * function userOf(req: GuardRequest): string | undefined {
 *   return req.auth?.payload.sub; // set by authGuard before the next handler runs
 * }
 * ```
 */
export type GuardRequest = IncomingMessage & {
  /** Set by `authGuard` once the bearer token is verified and its scopes checked. */
  auth?: VerifiedToken;
  /**
   * The body a parser left, if one ran: an `access_token` in a form body is refused (400: use
   * the header); any other body (JSON included) is the application's and is never looked at.
   */
  body?: unknown;
};

/**
 * The middleware {@link authGuard} returns: `(req, res, next)`, calling `next()` with `req.auth`
 * set, or `next(err)` with an `AuthError`. It answers a cached token synchronously, and a new one
 * whose check needs no I/O (its signing key already imported, on Node and Bun).
 *
 * @example
 * ```ts
 * import { authGuard, type AuthGuardMiddleware } from 'revocable-jwt';
 * const guard: AuthGuardMiddleware = authGuard({ issuer: 'https://idp.example.com/', audience: 'api' });
 * app.use(guard);
 * process.once('SIGTERM', () => void guard.verifier.close()); // the verifier it built
 * ```
 */
export interface AuthGuardMiddleware {
  (req: GuardRequest, res: ServerResponse, next: NextFunction): void;
  /** The verifier this guard uses (built by the guard for the `{ issuer, audience }` shorthand). */
  readonly verifier: Verifier;
}

/**
 * Express/Connect middleware for a resource server: reads the bearer token (RFC 6750: the
 * `Authorization` header only), verifies it with the verifier (locally, cached), checks `claims`,
 * step-up (`acrValues`, `maxAge`) and `scopes`, sets `req.auth = { token, header, payload, source }`
 * and calls `next()` (with `optional: true`, a request without credentials goes on with `req.auth`
 * undefined). A refusal goes to
 * `next(err)` as an `AuthError` carrying `status`, `headers` (the `WWW-Authenticate` challenge
 * under `realm`, `Retry-After`) and a JSON body from `toJSON()`: Express's default handler
 * already answers with the right status and headers; `authErrorHandler()` adds the JSON body.
 * 400 malformed request, 401 no or bad token, 403 missing scope, 503 IdP or store unreachable,
 * 500 misconfiguration. Nothing Express-specific: it also runs under Connect or `node:http`.
 *
 * Does not: read or parse a body, or look at any token but the bearer token. With the shorthand
 * (`{ issuer, audience }`), close `guard.verifier` on shutdown.
 *
 * @throws TypeError at construction: unknown keys, verifier options beside `verifier`, scopes or
 * a realm a challenge cannot carry (printable ASCII, no spaces, quotes or backslashes), bad
 * verifier options.
 *
 * @example
 * ```ts
 * import { authErrorHandler, authGuard } from 'revocable-jwt';
 * app.get('/notes', authGuard({ verifier, scopes: ['notes:read'] }), (req, res) => {
 *   res.json({ user: req.auth!.payload.sub });
 * });
 * app.use(authErrorHandler()); // optional: JSON bodies instead of Express's HTML error page
 * ```
 */
export function authGuard(options: AuthGuardOptions): AuthGuardMiddleware {
  const authenticate = buildAuthenticator(options, 'authGuard', GUARD_SETTING_KEYS);

  const finish = (req: GuardRequest, res: ServerResponse, next: NextFunction, answer: OptionalAuthentication): void => {
    if (!answer.ok) {
      next(answer.error);
      return;
    }
    // `undefined` on an optional route without credentials, whatever an earlier middleware left there.
    req.auth = answer.auth;
    if (answer.headers !== undefined) res.setHeaders(new Map(Object.entries(answer.headers)));
    next();
  };

  const fromSocket = readsPeerCertificate(authenticate);
  const guard = (req: GuardRequest, res: ServerResponse, next: NextFunction): void => {
    const answer = authenticate(requestLikeOf(req, fromSocket));
    if ('ok' in answer) finish(req, res, next, answer);
    else answer.then((settled) => finish(req, res, next, settled));
  };
  return Object.defineProperty(guard, 'verifier', {
    value: authenticate.verifier,
    enumerable: true,
  }) as AuthGuardMiddleware;
}

/**
 * What the core reads of `req`. An IncomingMessage is a RequestLike as is: nothing to copy on the
 * hit path, unless the core needs what it does not carry: the client certificate of the TLS
 * connection (`mtls`), or the request's identity, which only a DPoP proof's replay claim reads (so
 * a second guard on the request does not take its proof for a replay).
 */
export function requestLikeOf(req: GuardRequest, withCertificate: boolean): RequestLike {
  if (!withCertificate && req.headers.dpop === undefined) return req;
  const like: RequestLike = {
    method: req.method,
    url: req.url,
    // Express and Connect keep the path a mounted router stripped from `url`: a DPoP proof names it.
    originalUrl: (req as { originalUrl?: string }).originalUrl,
    headers: req.headers,
    rawHeaders: req.rawHeaders,
    body: req.body,
    identity: req,
  };
  if (withCertificate) like.clientCertificate = peerCertificateOf(req.socket);
  return like;
}
