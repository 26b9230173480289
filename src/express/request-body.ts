/**
 * Reads a POST body for the routes: the one a body parser already produced (`req.body`), or the
 * raw stream when no parser ran. Form (RFC 7009) and JSON (Auth0-style) only, size-limited, and
 * every malformed input becomes a 400, never a crash (see glue/body-fields.ts).
 */
import type { IncomingMessage } from 'node:http';
import { readNodeBodyFields, readNodeRawBody } from '../glue/node-body.js';

export function readRequestBody(req: IncomingMessage & { body?: unknown }): Promise<Record<string, unknown>> {
  return readNodeBodyFields(req, req.body);
}

/** The body as text: what a parser left as a string/Buffer, or the stream itself (size-limited). */
export function readRawBody(req: IncomingMessage & { body?: unknown }): Promise<string> {
  return readNodeRawBody(req, req.body);
}
