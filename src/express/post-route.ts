/**
 * What the library's POST endpoints (logout, back-channel logout, security events) share: 405 for
 * other methods, and every failure turned into an answer, never an unhandled rejection. Errors the
 * route knows are rendered by it; others go to `next` (Express, Connect) or become a plain 500.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { NextFunction } from './auth-guard.js';
import { sendJson } from './send-json.js';

export type RouteRequest = IncomingMessage & { body?: unknown };

export interface PostRouteOptions {
  handle(req: RouteRequest, res: ServerResponse): Promise<void>;
  /** Writes the answer for an error the route knows; false passes it on. */
  renderError(res: ServerResponse, error: unknown): boolean;
  /** The route's JSON error shape (RFC 6749 `{ error, error_description }`, RFC 8935 `{ err, description }`). */
  errorBody(code: string, description: string): unknown;
}

export function postRoute(options: PostRouteOptions) {
  return (req: RouteRequest, res: ServerResponse, next?: NextFunction): void => {
    if (req.method !== 'POST') {
      res.setHeader('Allow', 'POST');
      sendJson(res, 405, options.errorBody('invalid_request', 'Use POST'));
      return;
    }
    options.handle(req, res).catch((error: unknown) => {
      if (options.renderError(res, error)) return;
      if (next) next(error);
      else if (!res.headersSent)
        sendJson(res, 500, options.errorBody('server_error', 'The request could not be processed'));
    });
  };
}

/** RFC 6749-style error body. */
export const oauthErrorBody = (error: string, error_description: string) => ({ error, error_description });
