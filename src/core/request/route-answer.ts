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
 * import type { RouteAnswer } from 'revocable-jwt';
 * // A fetch adapter:
 * const toResponse = ({ status, headers, body }: RouteAnswer) =>
 *   new Response(body === undefined ? null : JSON.stringify(body), {
 *     status,
 *     headers: body === undefined ? headers : { ...headers, 'Content-Type': 'application/json; charset=utf-8' },
 *   });
 * ```
 */
export interface RouteAnswer {
  /** The HTTP status. */
  readonly status: number;
  /** Header fields to set; `Cache-Control: no-store` always among them. */
  readonly headers: Readonly<Record<string, string>>;
  /** The body, to send as JSON (`Content-Type: application/json; charset=utf-8`); `undefined`: none. */
  readonly body?: unknown;
}

/**
 * An endpoint's JSON error shape: RFC 6749 `{ error, error_description }` (logout, back-channel
 * logout) or RFC 8935 `{ err, description }` (security events). An adapter uses its endpoint's
 * (`handler.errorBody`) for the 405 and 500 it writes itself.
 *
 * @example
 * ```ts
 * import { createRevokeHandler } from 'revocable-jwt';
 * const revoke = createRevokeHandler({ verifier });
 * const notPost = Response.json(revoke.errorBody('invalid_request', 'Use POST'), {
 *   status: 405,
 *   headers: { Allow: 'POST', 'Cache-Control': 'no-store' },
 * });
 * ```
 */
export type ErrorBody = (code: string, description: string) => unknown;

const NO_STORE = 'no-store';

/**
 * A JSON answer (or one without a body) that is never cached: `jsonAnswer(200, { revoked: true })`
 * is `{ status: 200, headers: { 'Cache-Control': 'no-store' }, body: { revoked: true } }`.
 */
export function jsonAnswer(status: number, body?: unknown, headers: Record<string, string> = {}): RouteAnswer {
  return { status, headers: { ...headers, 'Cache-Control': NO_STORE }, body };
}

/**
 * The answer an {@link AuthError} stands for: its status, its headers (the RFC 6750 challenge
 * under the error's realm, `Retry-After`) and `{ error, error_description }`. E.g. a revoked token
 * under realm `notes`: 401, `WWW-Authenticate: Bearer realm="notes", error="invalid_token", …`.
 */
export function authErrorAnswer(error: AuthError): RouteAnswer {
  return jsonAnswer(error.status, error.toJSON(), error.headers);
}

/** RFC 6749-style error body: `{ error: 'invalid_request', error_description: 'Missing logout_token' }`. */
export const oauthErrorBody: ErrorBody = (error, error_description) => ({ error, error_description });

/** 405 with `Allow: POST` for anything but a POST, before its body is read; `undefined` for a POST. */
export function postOnly(request: Pick<RequestLike, 'method'>, errorBody: ErrorBody): RouteAnswer | undefined {
  if (request.method === 'POST') return undefined;
  return jsonAnswer(405, errorBody('invalid_request', 'Use POST'), { Allow: 'POST' });
}

/**
 * The generic 500 (`{ error: 'server_error', … }` in the endpoint's shape), for an error no one
 * answered (a server without an error handler): nothing of the error reaches the client.
 */
export function serverErrorAnswer(errorBody: ErrorBody): RouteAnswer {
  return jsonAnswer(500, errorBody('server_error', 'The request could not be processed'));
}

/**
 * How an endpoint answers what its handler does not: the errors an adapter meets (reading the
 * body) and the 405 / 500 it writes itself, in the endpoint's error shape. Every handler
 * (`createRevokeHandler`, `createBackchannelLogoutHandler`, `createSecurityEventHandler`) is one.
 *
 * @example
 * ```ts
 * import { createRevokeHandler, InvalidRequestError, type RouteAnswer } from 'revocable-jwt';
 * const revoke = createRevokeHandler({ verifier });
 * const noStore = { 'Cache-Control': 'no-store' };
 * async function logout(request: Request): Promise<RouteAnswer> {
 *   if (request.method !== 'POST') {
 *     const body = revoke.errorBody('invalid_request', 'Use POST');
 *     return { status: 405, headers: { ...noStore, Allow: 'POST' }, body };
 *   }
 *   try {
 *     const form = await request.formData().catch((cause: unknown) => {
 *       throw new InvalidRequestError('malformed_request', 'Send a form body', { cause }); // answered 400
 *     });
 *     return await revoke(Object.fromEntries(form), { method: request.method, headers: request.headers });
 *   } catch (error) {
 *     const answer = revoke.answerError(error);
 *     if (answer !== undefined) return answer;
 *     log.error({ error }, 'logout failed'); // a misconfiguration or a bug: not the client's to hear
 *     return { status: 500, headers: noStore, body: revoke.errorBody('server_error', 'Try again later') };
 *   }
 * }
 * ```
 */
export interface EndpointPolicy {
  /** The endpoint's JSON error shape, for its 405 and 500 answers. */
  readonly errorBody: ErrorBody;
  /**
   * The answer to an error met around the handler (reading the body, say); `undefined` when it is
   * not the client's to hear (a misconfiguration, a bug): pass it on (`next(err)`), or log it and
   * answer a generic 500 built with {@link EndpointPolicy.errorBody}.
   */
  answerError(error: unknown): RouteAnswer | undefined;
}
