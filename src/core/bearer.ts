/**
 * RFC 6750 token extraction from a request-like object (anything with Node-style `headers`),
 * so the same rules serve Express, Connect, plain `node:http` and other adapters.
 */
import { InvalidRequestError, UnauthorizedError } from './errors.js';

export interface RequestLike {
  headers: Record<string, string | string[] | undefined>;
  /** Node's raw header list; lets us see duplicate `Authorization` headers that Node folds away. */
  rawHeaders?: string[];
  url?: string;
  body?: unknown;
}

/** b64token (RFC 6750 §2.1): the only characters a bearer token may contain. */
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;
const CREDENTIALS = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+)(?: +(.*))?$/s;

/**
 * Returns the bearer token of `req`, or throws:
 *  - {@link UnauthorizedError} (401, no error code) when the request has no bearer credentials;
 *  - {@link InvalidRequestError} (400) when it is malformed or uses more than one method.
 */
export function extractBearerToken(req: RequestLike): string {
  const header = req.headers.authorization;
  if (Array.isArray(header) || countAuthorizationHeaders(req.rawHeaders) > 1) {
    throw new InvalidRequestError('multiple_tokens', 'Send exactly one Authorization header');
  }
  const inQuery = hasQueryToken(req.url);
  const inBody = typeof req.body === 'object' && req.body !== null && 'access_token' in req.body;
  if (header === undefined || header === '') {
    // RFC 6750 §2.3 lets URI query tokens leak into logs and Referer headers; we don't take them.
    if (inQuery) throw new InvalidRequestError('query_token_not_allowed', 'Send the access token in the Authorization header, not the URL');
    if (inBody) throw new InvalidRequestError('query_token_not_allowed', 'Send the access token in the Authorization header, not the body');
    throw new UnauthorizedError();
  }
  const match = CREDENTIALS.exec(header);
  if (!match) throw new InvalidRequestError('malformed_request', 'Malformed Authorization header');
  if (match[1]!.toLowerCase() !== 'bearer') throw new UnauthorizedError('Bearer token required');
  if (inQuery || inBody) throw new InvalidRequestError('multiple_tokens', 'Send the access token by one method only');
  const token = match[2]?.replace(/^ +/, '');
  if (!token) throw new InvalidRequestError('malformed_request', 'The Bearer scheme needs a token');
  if (!B64TOKEN.test(token)) throw new InvalidRequestError('malformed_request', 'Malformed Bearer token');
  return token;
}

function countAuthorizationHeaders(rawHeaders: string[] | undefined): number {
  if (!rawHeaders) return 0;
  let count = 0;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    if (name.length === 13 && name.toLowerCase() === 'authorization') count++;
  }
  return count;
}

function hasQueryToken(url: string | undefined): boolean {
  if (!url) return false;
  const q = url.indexOf('?');
  return q !== -1 && new URLSearchParams(url.slice(q + 1)).has('access_token');
}
