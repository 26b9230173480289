/**
 * Optional renderer for `AuthError`s: the right status, `WWW-Authenticate` / `Retry-After`, and a
 * small JSON body, instead of the framework's default HTML page. Other errors pass through.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { authErrorAnswer } from '../core/request/route-answer.js';
import { AuthError } from '../core/shared/errors.js';
import type { NextFunction } from './auth-guard.js';
import { writeAnswer } from '../glue/node-answer.js';

/**
 * Writes `error` to `res` if it is an `AuthError`: its status, its headers (the challenge and
 * `Retry-After` where they apply, `Cache-Control: no-store`) and the JSON body
 * `{ error, error_description }` (a `MisconfiguredError` as a generic 500, no challenge). Returns
 * false, and writes nothing, for any other error or when the headers are already sent. For
 * servers without error middleware (`node:http`).
 *
 * @example
 * ```ts
 * import { createServer } from 'node:http';
 * import { authGuard, writeAuthError, type GuardRequest } from 'revocable-jwt';
 * const guard = authGuard({ verifier });
 * createServer((req: GuardRequest, res) => {
 *   guard(req, res, (err) => {
 *     if (err === undefined) res.end(`hello ${req.auth?.payload.sub}`);
 *     else if (!writeAuthError(res, err)) res.writeHead(500).end();
 *   });
 * }).listen(3000);
 * ```
 */
export function writeAuthError(res: ServerResponse, error: unknown): boolean {
  if (!(error instanceof AuthError) || res.headersSent) return false;
  writeAnswer(res, authErrorAnswer(error));
  return true;
}

/**
 * Express/Connect error middleware: answers an `AuthError` with its status, headers and a JSON
 * body `{ error, error_description }` (see {@link writeAuthError}) instead of the framework's
 * HTML error page, and passes every other error on with `next(err)`. Optional: without it,
 * Express's default handler already sends the right status and headers.
 *
 * @example
 * ```ts
 * import { authErrorHandler, authGuard } from 'revocable-jwt';
 * app.get('/notes', authGuard({ verifier }), (req, res) => {
 *   res.json({ user: req.auth?.payload.sub });
 * });
 * app.use(authErrorHandler()); // after your routes
 * ```
 */
export function authErrorHandler() {
  return (error: unknown, _req: IncomingMessage, res: ServerResponse, next: NextFunction): void => {
    if (!writeAuthError(res, error)) next(error);
  };
}
