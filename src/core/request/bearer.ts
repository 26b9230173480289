/**
 * RFC 6750 token extraction from a {@link RequestLike}, so the same rules serve Express, Connect,
 * plain `node:http` and other adapters.
 *
 * Split in two so the hot path stays cheap: `readBearerToken` does the structural work (one
 * header, the Bearer scheme, no second method) without scanning the token; `assertB64Token`
 * scans its characters, and adapters may skip it for a token that equals one already verified.
 */
import { InvalidDpopProofError, InvalidRequestError, UnauthorizedError } from '../shared/errors.js';
import type { DpopMode } from './dpop-check.js';
import { MAX_PROOF_LENGTH } from './dpop-proof.js';
import { hasJwsAlphabet } from '../verify/token-shape.js';
import { headerOf, type HeaderValue, isHeadersLike, type RequestLike } from './request-like.js';

/** b64token (RFC 6750 §2.1): the only characters a bearer token may contain. */
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;
const SCHEME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * Returns the bearer token of `req` (RFC 6750): from the `Authorization` header only, scheme
 * matched case-insensitively. A token in the query string or in a form body
 * (`application/x-www-form-urlencoded` with `access_token`) is refused, not taken; a JSON body is
 * never looked at. A repeated `Authorization` is seen in an array value or Node's `rawHeaders`.
 *
 * Does not verify the token (pass it to `verifier.verify()`): it only checks that it is a
 * b64token (RFC 6750 §2.1). The query and body are checked only when `req` carries `url` / `body`.
 *
 * @throws {@link UnauthorizedError} (401, no error code) when the request has no bearer
 * credentials: no `Authorization` header, or another scheme (`Basic …`).
 * @throws {@link InvalidRequestError} (400 `invalid_request`) when the header is malformed, it is
 * sent twice, or the token also (or only) comes in the query or a form body.
 *
 * @example
 * ```ts
 * import { extractBearerToken } from 'revocable-jwt';
 * extractBearerToken({ headers: { authorization: 'Bearer abc.def.ghi' } }); // 'abc.def.ghi'
 * extractBearerToken({ headers: new Headers({ Authorization: 'bearer abc' }) }); // 'abc'
 * extractBearerToken({ headers: {} }); // throws UnauthorizedError: 401, `WWW-Authenticate: Bearer realm="api"`
 * extractBearerToken({ headers: {}, url: '/notes?access_token=abc' }); // throws InvalidRequestError: 400
 * ```
 */
export function extractBearerToken(req: RequestLike): string {
  const token = readBearerToken(req);
  assertB64Token(token);
  return token;
}

/** The structural part of {@link extractBearerToken}; the token's characters are not checked. */
export function readBearerToken(req: RequestLike): string {
  return readCredentials(req, 'off') as string;
}

/** A token that came under the DPoP scheme (RFC 9449 §7.1); its proof is read by {@link readDpopProof}. */
export interface DpopToken {
  readonly dpop: string;
}

/**
 * The access token of `req`: a string for the Bearer scheme (no allocation: the hot path), a
 * {@link DpopToken} for the DPoP scheme when `dpop` is not `'off'` (otherwise DPoP is a scheme
 * this resource does not take: 401). Under `'required'`, a Bearer token is refused (401, reason
 * `dpop_required`) before anything verifies it.
 */
export function readCredentials(req: RequestLike, dpop: DpopMode): string | DpopToken {
  const header = headerOf(req.headers, 'authorization');
  if (typeof header === 'object' || sentTwice(req, 'authorization')) {
    throw new InvalidRequestError('multiple_tokens', 'Send exactly one Authorization header');
  }
  const inQuery = req.url !== undefined && req.url.indexOf('?') !== -1 && hasQueryToken(req.url);
  const inBody =
    req.body !== undefined && req.body !== null && hasFormBodyToken(req.body, headerOf(req.headers, 'content-type'));
  if (header === undefined || header === '') {
    // RFC 6750 §2.3 lets URI query tokens leak into logs and Referer headers; we don't take them.
    if (inQuery)
      throw new InvalidRequestError(
        'query_token_not_allowed',
        'Send the access token in the Authorization header, not the URL',
      );
    if (inBody)
      throw new InvalidRequestError(
        'query_token_not_allowed',
        'Send the access token in the Authorization header, not the body',
      );
    throw new UnauthorizedError(TOKEN_REQUIRED[dpop]);
  }
  const space = header.indexOf(' ');
  const scheme = space === -1 ? header : header.slice(0, space);
  if (!isBearer(scheme)) {
    if (dpop !== 'off' && isDpop(scheme)) {
      if (inQuery || inBody)
        throw new InvalidRequestError('multiple_tokens', 'Send the access token by one method only');
      return { dpop: tokenAfter(header, space, 'DPoP') };
    }
    // `Basic x, Bearer y`: two fields joined into one (a `Headers` does it), not other credentials.
    if (joinedRepeat(header)) throw new InvalidRequestError('multiple_tokens', 'Send exactly one Authorization header');
    if (!SCHEME.test(scheme)) throw new InvalidRequestError('malformed_request', 'Malformed Authorization header');
    throw new UnauthorizedError(TOKEN_REQUIRED[dpop]);
  }
  if (dpop === 'required') throw new UnauthorizedError(TOKEN_REQUIRED.required, 'dpop_required');
  if (inQuery || inBody) throw new InvalidRequestError('multiple_tokens', 'Send the access token by one method only');
  return tokenAfter(header, space, 'Bearer');
}

/** What a 401 without credentials says, by the schemes accepted. */
const TOKEN_REQUIRED: Record<DpopMode, string> = {
  off: 'Bearer token required',
  allowed: 'Bearer or DPoP token required',
  required: 'DPoP token required',
};

/** The token after `scheme` and its spaces (`space`: where the first one is, or -1). */
function tokenAfter(header: string, space: number, scheme: 'Bearer' | 'DPoP'): string {
  let start = space + 1;
  while (space !== -1 && start < header.length && header.charCodeAt(start) === 32) start++;
  if (space === -1 || start >= header.length)
    throw new InvalidRequestError('malformed_request', `The ${scheme} scheme needs a token`);
  return header.slice(start);
}

/**
 * Whether `req` presents no credentials at all: no `Authorization` header (or an empty one), and
 * no token in the query or a form body. Never throws: the cheap test an `optional` route makes
 * before {@link readBearerToken}, whose refusal would cost an error (and its stack) per request.
 */
export function presentsNoCredentials(req: RequestLike): boolean {
  const header = headerOf(req.headers, 'authorization');
  if (header !== undefined && header !== '') return false;
  if (req.url !== undefined && req.url.indexOf('?') !== -1 && hasQueryToken(req.url)) return false;
  if (req.body !== undefined && req.body !== null && hasFormBodyToken(req.body, headerOf(req.headers, 'content-type')))
    return false;
  return !sentTwice(req, 'authorization');
}

/**
 * The one `DPoP` header (RFC 9449 §4.3 check 1) of a DPoP-scheme request, within
 * {@link MAX_PROOF_LENGTH}. Two of them (an array, Node's `rawHeaders`, two casings, or a value a
 * `Headers` joined with `, `: a proof never contains a comma) are a 400; none is a 401
 * `invalid_dpop_proof`.
 */
export function readDpopProof(req: RequestLike): string {
  const proof = headerOf(req.headers, 'dpop');
  if (typeof proof === 'object' || sentTwice(req, 'dpop') || (proof !== undefined && proof.indexOf(',') !== -1))
    throw new InvalidRequestError('multiple_tokens', 'Send exactly one DPoP header');
  if (proof === undefined || proof === '') throw new InvalidDpopProofError('dpop_proof_missing');
  if (proof.length > MAX_PROOF_LENGTH)
    throw new InvalidDpopProofError('dpop_proof_malformed', 'The DPoP proof is too long');
  return proof;
}

/**
 * Throws InvalidRequestError unless `token` is a b64token (RFC 6750 §2.1; RFC 9449 §7.1 takes the
 * same token68). `a, Bearer b` is two fields joined into one (a `Headers` joins repeats so; Node's
 * `rawHeaders` shows them apart): worded as the repeat it is, so every adapter answers it alike.
 */
export function assertB64Token(token: string, scheme: 'Bearer' | 'DPoP' = 'Bearer'): void {
  // A JWS's alphabet is a subset of b64token's; checked first, the verifier's shape check
  // finds the answer remembered (token-shape.ts) instead of scanning the token a second time.
  if (hasJwsAlphabet(token) || B64TOKEN.test(token)) return;
  if (joinedRepeat(token)) throw new InvalidRequestError('multiple_tokens', 'Send exactly one Authorization header');
  throw new InvalidRequestError('malformed_request', `Malformed ${scheme} token`);
}

/** "DPoP", case-insensitively (RFC 9110 §11.1), without allocating. */
function isDpop(scheme: string): boolean {
  if (scheme.length !== 4) return false;
  const expected = 'dpop';
  for (let i = 0; i < 4; i++) if ((scheme.charCodeAt(i) | 0x20) !== expected.charCodeAt(i)) return false;
  return true;
}

/** "Bearer", case-insensitively, without allocating a lower-cased copy. */
function isBearer(scheme: string): boolean {
  if (scheme.length !== 6) return false;
  const expected = 'bearer';
  for (let i = 0; i < 6; i++) if ((scheme.charCodeAt(i) | 0x20) !== expected.charCodeAt(i)) return false;
  return true;
}

/**
 * Whether the field `name` (`Authorization`, `DPoP`) came more than once where the value read
 * cannot show it: in Node's `rawHeaders` (its record keeps only the first), or under two casings of
 * a plain record (`authorization` and `Authorization`). A `Headers` joins repeats into one value,
 * which no bearer token or proof matches.
 */
function sentTwice(req: RequestLike, name: 'authorization' | 'dpop'): boolean {
  if (req.rawHeaders !== undefined) return countNamed(req.rawHeaders, 2, name) > 1;
  return !isHeadersLike(req.headers) && countNamed(Object.keys(req.headers), 1, name) > 1;
}

/** A scheme, then a space or nothing: how a field's credentials begin (`Basic …`, `Bearer …`). */
const CREDENTIALS_START = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+(?: |$)/;

/**
 * Whether `value` is several fields joined with `, ` (RFC 9110 §5.3; a `Headers` joins repeats so):
 * a part after such a separator is empty or begins like credentials. The auth-params of one field
 * (`Digest realm="a", nonce="b"`) never look like that.
 */
function joinedRepeat(value: string): boolean {
  if (value.indexOf(', ') === -1) return false;
  const parts = value.split(', ');
  for (let i = 1; i < parts.length; i++) {
    const part = parts[i]!;
    if (part === '' || CREDENTIALS_START.test(part)) return true;
  }
  return false;
}

/** How many of `names` (every `step`-th) are `wanted` (lower-case), in any casing. */
function countNamed(names: readonly string[], step: number, wanted: string): number {
  let count = 0;
  for (let i = 0; i < names.length; i += step) {
    const name = names[i]!;
    if (name.length === wanted.length && name.toLowerCase() === wanted) count++;
  }
  return count;
}

/**
 * RFC 6750 §2.2: a body token is an `access_token` field of an `application/x-www-form-urlencoded`
 * body. A JSON (or any other) body that happens to have such a member is not a token, so it can
 * neither be used nor clash with the Authorization header.
 */
function hasFormBodyToken(body: unknown, contentType: HeaderValue): boolean {
  if (typeof contentType !== 'string' || !isFormContentType(contentType)) return false;
  if (typeof body === 'string') return new URLSearchParams(body).has('access_token');
  // A Buffer is a Uint8Array too.
  if (body instanceof Uint8Array) return new URLSearchParams(new TextDecoder().decode(body)).has('access_token');
  return typeof body === 'object' && body !== null && 'access_token' in body;
}

/** `application/x-www-form-urlencoded`, with or without parameters, case-insensitively. */
function isFormContentType(contentType: string): boolean {
  const end = contentType.indexOf(';');
  return (
    (end === -1 ? contentType : contentType.slice(0, end)).trim().toLowerCase() === 'application/x-www-form-urlencoded'
  );
}

function hasQueryToken(url: string): boolean {
  return new URLSearchParams(url.slice(url.indexOf('?') + 1)).has('access_token');
}
