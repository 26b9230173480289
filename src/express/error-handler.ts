/**
 * Optional renderer for `AuthError`s: the right status, `WWW-Authenticate` / `Retry-After`, and a
 * small JSON body, instead of the framework's default HTML page. Other errors pass through.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { authErrorAnswer } from '../core/request/route-answer.js';
import { AuthError } from '../core/shared/errors.js';
import type { NextFunction } from './auth-guard.js';
import { writeAnswer } from '../glue/node-answer.js';

/** Writes `error` to `res` if it is an AuthError; returns false (and writes nothing) otherwise. */
export function writeAuthError(res: ServerResponse, error: unknown): boolean {
  if (!(error instanceof AuthError) || res.headersSent) return false;
  writeAnswer(res, authErrorAnswer(error));
  return true;
}

/** Express/Connect error middleware: `app.use(authErrorHandler())` after your routes. */
export function authErrorHandler() {
  return (error: unknown, _req: IncomingMessage, res: ServerResponse, next: NextFunction): void => {
    if (!writeAuthError(res, error)) next(error);
  };
}
