/**
 * The answer to a request, as the core decides it and any adapter writes it: a status, headers,
 * and a JSON body or none. Every answer says `Cache-Control: no-store` (an authorization decision
 * must not be cached); the adapter adds `Content-Type: application/json; charset=utf-8` when there
 * is a body.
 */
import type { AuthError } from '../shared/errors.js';
import type { RequestLike } from './request-like.js';

/**
 * What to answer: `status`, `headers` to set, and `body` to send as JSON (`undefined`: no body).
 *
 * @example
 * ```ts
 * // A fetch adapter:
 * const toResponse = ({ status, headers, body }: RouteAnswer) =>
 *   new Response(body === undefined ? null : JSON.stringify(body), {
 *     status,
 *     headers: body === undefined ? headers : { ...headers, 'Content-Type': 'application/json; charset=utf-8' },
 *   });
 * ```
 */
export interface RouteAnswer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: unknown;
}

/** An endpoint's JSON error shape: RFC 6749 `{ error, error_description }` or RFC 8935 `{ err, description }`. */
export type ErrorBody = (code: string, description: string) => unknown;

const NO_STORE = 'no-store';

/**
 * A JSON answer (or one without a body) that is never cached.
 *
 * @example
 * ```ts
 * jsonAnswer(200, { revoked: true }); // { status: 200, headers: { 'Cache-Control': 'no-store' }, body: … }
 * jsonAnswer(503, body, { 'Retry-After': '30' });
 * ```
 */
export function jsonAnswer(status: number, body?: unknown, headers: Record<string, string> = {}): RouteAnswer {
  return { status, headers: { ...headers, 'Cache-Control': NO_STORE }, body };
}

/**
 * The answer an {@link AuthError} stands for: its status, its headers (the RFC 6750 challenge
 * under the error's realm, `Retry-After`) and `{ error, error_description }`.
 *
 * @example
 * ```ts
 * authErrorAnswer(new InvalidTokenError('revoked', 'The access token has been revoked').withRealm('notes'));
 * // { status: 401, headers: { 'WWW-Authenticate': 'Bearer realm="notes", error="invalid_token", …' }, body: … }
 * ```
 */
export function authErrorAnswer(error: AuthError): RouteAnswer {
  return jsonAnswer(error.status, error.toJSON(), error.headers);
}

/**
 * RFC 6749-style error body.
 *
 * @example
 * ```ts
 * oauthErrorBody('invalid_request', 'Missing logout_token'); // { error: 'invalid_request', error_description: '…' }
 * ```
 */
export const oauthErrorBody: ErrorBody = (error, error_description) => ({ error, error_description });

/**
 * 405 with `Allow: POST` for anything but a POST, before its body is read; `undefined` for a POST.
 *
 * @example
 * ```ts
 * const refused = postOnly(request, oauthErrorBody);
 * if (refused) return refused;
 * ```
 */
export function postOnly(request: Pick<RequestLike, 'method'>, errorBody: ErrorBody): RouteAnswer | undefined {
  if (request.method === 'POST') return undefined;
  return jsonAnswer(405, errorBody('invalid_request', 'Use POST'), { Allow: 'POST' });
}

/**
 * The generic 500, for an error no one answered (a server without an error handler): nothing
 * of the error reaches the client.
 *
 * @example
 * ```ts
 * serverErrorAnswer(oauthErrorBody); // 500 { error: 'server_error', error_description: '…' }
 * ```
 */
export function serverErrorAnswer(errorBody: ErrorBody): RouteAnswer {
  return jsonAnswer(500, errorBody('server_error', 'The request could not be processed'));
}

/**
 * How an endpoint answers what its handler does not: the errors an adapter meets (reading the
 * body) and the 405 / 500 it writes itself, in the endpoint's error shape.
 *
 * @example
 * ```ts
 * const answer = postOnly(request, handler.errorBody) ?? (await readBody().then(
 *   (body) => handler(body, request),
 *   (error) => handler.answerError(error) ?? serverErrorAnswer(handler.errorBody),
 * ));
 * ```
 */
export interface EndpointPolicy {
  /** The endpoint's JSON error shape, for its 405 and 500 answers. */
  readonly errorBody: ErrorBody;
  /**
   * The answer to an error met around the handler (reading the body, say); `undefined` when it is
   * not the client's to hear (a misconfiguration, a bug): pass it on (`next(err)`), or answer
   * {@link serverErrorAnswer}.
   */
  answerError(error: unknown): RouteAnswer | undefined;
}
