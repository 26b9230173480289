/**
 * `authGuard()` for Web-standard `Request`/`Response` (Next.js route handlers, Cloudflare Workers,
 * Deno, Bun): glue only. It reads the request's method, target and headers, asks the core's
 * authenticate step (core/request/authenticator.ts), and hands back the verified token, or the
 * RFC 6750 answer as a `Response` ready to return. Web-standard APIs only.
 */
import {
  buildAuthenticator,
  GUARD_SETTING_KEYS,
  type GuardSettings,
  type OptionalAuthentication,
  type VerifierChoice,
} from '../core/request/authenticator.js';
import type { ClientCertificate, RequestLike } from '../core/request/request-like.js';
import { authErrorAnswer } from '../core/request/route-answer.js';
import type { VerifiedToken, Verifier } from '../core/verify/types.js';
import { formBodyToInspect, type GuardedWebRequest, toResponse, webRequestLike } from '../glue/web-request.js';

/**
 * What a route requires (`scopes`, `realm`), and a verifier or the options to build one: the
 * options of the Express `authGuard`.
 *
 * @example
 * ```ts
 * import type { AuthGuardOptions } from 'revocable-jwt/fetch';
 * const options: AuthGuardOptions = { verifier, scopes: ['notes:read'], realm: 'notes' };
 * ```
 */
export type AuthGuardOptions = GuardSettings & VerifierChoice;

/**
 * What the server knows of a request's connection that a WHATWG `Request` does not carry: the
 * client's TLS certificate, for a guard with `mtls` on. No runtime puts it on the `Request`; pass
 * it from wherever yours exposes it (a Node server's socket), or let a trusted proxy forward it
 * in a header (`mtls.certificateHeader`), which needs nothing here.
 *
 * @example
 * ```ts
 * import { authGuard, type Connection } from 'revocable-jwt/fetch';
 * declare const request: Request;
 * const guard = authGuard({ verifier, mtls: true });
 * // The Node TLSSocket the request came on (node:https with `requestCert: true`):
 * declare const socket: { getPeerX509Certificate(): { raw: Uint8Array } | undefined };
 * const connection: Connection = { clientCertificate: socket.getPeerX509Certificate() };
 * const auth = await guard(request, connection);
 * ```
 */
export interface Connection {
  /** The client certificate of the TLS connection: DER bytes, PEM, or an object with its DER as `raw`. */
  clientCertificate?: ClientCertificate | undefined;
}

/**
 * A guard for `Request`s: resolves to the verified token, or to the `Response` to answer with.
 *
 * @example
 * ```ts
 * import type { FetchAuthGuard } from 'revocable-jwt/fetch';
 * declare const guard: FetchAuthGuard;
 * const handle = async (request: Request) => {
 *   const auth = await guard(request);
 *   return auth instanceof Response ? auth : Response.json({ sub: auth.payload.sub });
 * };
 * ```
 */
export interface FetchAuthGuard {
  /**
   * Authenticates `request`; `connection` gives what the `Request` does not carry (the client
   * certificate, for `mtls`).
   */
  (
    request: Pick<Request, 'method' | 'url' | 'headers'> & Partial<Pick<Request, 'body' | 'bodyUsed' | 'clone'>>,
    connection?: Connection,
  ): Promise<VerifiedToken | Response>;
  /** The verifier this guard uses (built by the guard for the `{ issuer, audience }` shorthand). */
  readonly verifier: Verifier;
}

/**
 * A guard built with `optional: true`: like {@link FetchAuthGuard}, and resolves to `undefined`
 * for a request without credentials (no `Authorization` header), which may go on anonymously.
 *
 * @example
 * ```ts
 * import { authGuard, type OptionalFetchAuthGuard } from 'revocable-jwt/fetch';
 * const guard: OptionalFetchAuthGuard = authGuard({ verifier, optional: true });
 * const handle = async (request: Request) => {
 *   const auth = await guard(request);
 *   if (auth instanceof Response) return auth; // a token was presented and refused
 *   return Response.json({ user: auth?.payload.sub ?? 'anonymous' });
 * };
 * ```
 */
export interface OptionalFetchAuthGuard {
  (
    request: Pick<Request, 'method' | 'url' | 'headers'> & Partial<Pick<Request, 'body' | 'bodyUsed' | 'clone'>>,
    connection?: Connection,
  ): Promise<VerifiedToken | Response | undefined>;
  /** The verifier this guard uses (built by the guard for the `{ issuer, audience }` shorthand). */
  readonly verifier: Verifier;
}

/**
 * Builds a guard for Web-standard requests. Options are checked here, once (a `TypeError` says
 * what to change). The guard never rejects: every refusal is a `Response` (401, 400, 403, 503 with
 * `Retry-After`) carrying the `WWW-Authenticate` challenge and `{ error, error_description }`.
 * With `optional: true` it resolves to `undefined` for a request without credentials
 * ({@link OptionalFetchAuthGuard}); a token that is presented is checked as always.
 *
 * A form body's `access_token` (RFC 6750 §2.2) is refused as on the Node adapters (400: beside the
 * header, or instead of it), read from a clone so the application keeps the body, and only when
 * the body is `application/x-www-form-urlencoded` with a declared `Content-Length` of at most 16 KiB.
 *
 * Does not: look into any other body (JSON, a larger one, a stream of undeclared length, one
 * already read), or wait on a stream the application may be meant to consume piece by piece.
 *
 * @example
 * ```ts
 * import { authGuard } from 'revocable-jwt/fetch';
 * const guard = authGuard({ verifier, scopes: ['notes:read'] });
 * export async function GET(request: Request): Promise<Response> {
 *   const auth = await guard(request);
 *   if (auth instanceof Response) return auth; // the RFC 6750 answer, ready to return
 *   return Response.json({ sub: auth.payload.sub });
 * }
 * ```
 */
export function authGuard(options: AuthGuardOptions & { optional: true }): OptionalFetchAuthGuard;
export function authGuard(options: AuthGuardOptions & { optional?: false }): FetchAuthGuard;
export function authGuard(options: AuthGuardOptions): OptionalFetchAuthGuard;
export function authGuard(options: AuthGuardOptions): OptionalFetchAuthGuard {
  const authenticate = buildAuthenticator(options, 'authGuard', GUARD_SETTING_KEYS);
  const settle = (answer: OptionalAuthentication): VerifiedToken | Response | undefined =>
    answer.ok ? answer.auth : toResponse(authErrorAnswer(answer.error));
  const answer = (request: RequestLike): Promise<VerifiedToken | Response | undefined> => {
    const pending = authenticate(request);
    return 'ok' in pending ? Promise.resolve(settle(pending)) : pending.then(settle);
  };
  // Not an async function: a cache hit costs one resolved promise, and the method is read once.
  const guard = (
    request: GuardedWebRequest,
    connection?: Connection,
  ): Promise<VerifiedToken | Response | undefined> => {
    let like: RequestLike;
    let form: Promise<string | undefined> | undefined;
    try {
      like = webRequestLike(request);
      form = formBodyToInspect(request, like.method);
    } catch (error) {
      return Promise.reject(error); // what an async function would do: never a synchronous throw
    }
    // Only the connection's certificate: with `mtls.certificateHeader` the core reads the header alone.
    if (connection?.clientCertificate !== undefined) like.clientCertificate = connection.clientCertificate;
    if (form === undefined) return answer(like);
    return form.then((body) => answer(body === undefined ? like : { ...like, body }));
  };
  return Object.defineProperty(guard, 'verifier', {
    value: authenticate.verifier,
    enumerable: true,
  }) as OptionalFetchAuthGuard;
}
