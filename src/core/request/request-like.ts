/**
 * The request as the core sees it: the few things the request step reads, in a shape each
 * framework already has or can build for free. A Node `IncomingMessage` (Express, Connect,
 * `node:http`) *is* one, as is; a fetch `Request` (Hono, Deno, Bun, workers) passes its `Headers`
 * object; anything else passes a plain record of header fields.
 *
 * Not validated here: that `url` is a well-formed request target, or that `method` is a known
 * method. Each step reads only what it needs and refuses what it cannot use.
 */
/**
 * Header fields as a plain record: Node's `req.headers` (lower-cased names), or any casing.
 *
 * @example
 * ```ts
 * import type { HeaderRecord } from 'revocable-jwt';
 * const headers: HeaderRecord = { Authorization: 'Bearer abc', accept: ['text/html', 'application/json'] };
 * ```
 */
export type HeaderRecord = Readonly<Record<string, string | readonly string[] | undefined>>;

/**
 * A WHATWG `Headers` object, or anything whose `get()` is case-insensitive the same way.
 *
 * @example
 * ```ts
 * import type { HeadersLike } from 'revocable-jwt';
 * const headers: HeadersLike = new Headers({ Authorization: 'Bearer abc' }); // a fetch Request's `headers`
 * ```
 */
export interface HeadersLike {
  /** The field's value, whatever the casing of `name` (repeats joined with `, `), or `null` when absent. */
  get(name: string): string | null;
}

/**
 * One header field: a string, several (a record listing a repeated field), or absent.
 *
 * @example
 * ```ts
 * import type { HeaderRecord, HeaderValue } from 'revocable-jwt';
 * const authorization: HeaderValue = ['Bearer abc', 'Bearer def']; // sent twice: a 400, never a guess
 * const headers: HeaderRecord = { authorization, accept: 'application/json', cookie: undefined };
 * ```
 */
export type HeaderValue = string | readonly string[] | undefined;

/**
 * The client's TLS certificate (RFC 8705 mutual TLS), as the server or the proxy in front of it
 * hands it over: its DER bytes, its PEM text, or an object carrying its DER as `raw` (Node's
 * `X509Certificate`, `getPeerCertificate()`). Read only by a guard with `mtls` on, and only for a
 * certificate-bound token.
 *
 * @example
 * ```ts
 * import type { TLSSocket } from 'node:tls';
 * import type { ClientCertificate } from 'revocable-jwt';
 * declare const socket: TLSSocket; // node:https with `requestCert: true`
 * const clientCertificate: ClientCertificate | undefined = socket.getPeerX509Certificate(); // or its `.raw` DER
 * ```
 */
export type ClientCertificate = Uint8Array | string | { readonly raw: Uint8Array };

/**
 * What the request step reads from a request. A Node `IncomingMessage` (Express, Connect,
 * `node:http`) is one as it is: pass the request itself. Only `headers` is required.
 *
 * @example
 * ```ts
 * import { createAuthenticator, type RequestLike } from 'revocable-jwt';
 * const authenticate = createAuthenticator({ verifier });
 * // A fetch Request (Hono, Bun, Deno, workers): its Headers as they are, its path and query.
 * declare const request: Request;
 * const { pathname, search } = new URL(request.url);
 * const like: RequestLike = { method: request.method, url: pathname + search, headers: request.headers };
 * const answer = authenticate(like);
 * ```
 */
export interface RequestLike {
  /** The request method, upper-case as sent (`'GET'`). */
  method?: string;
  /** The request target as Node gives it: path and query (`/notes?page=2`), not an absolute URL. */
  url?: string;
  /**
   * The request target before a router stripped its mount path from `url` (Express and Connect
   * set it; Koa has `ctx.originalUrl`): the path a DPoP proof's `htu` names. Default: `url`.
   */
  originalUrl?: string;
  /**
   * The header fields: Node's lower-cased record, a WHATWG `Headers`, or a record of any casing
   * (looked up case-insensitively). A field sent twice must stay visible as twice: an array value
   * or two casings (`authorization`, `Authorization`) in a record, or `rawHeaders` beside Node's
   * record (Node keeps only the first `Authorization`).
   * A WHATWG `Headers` joins repeats into one value with `, `; for `Authorization` that value is
   * no bearer token, so it is refused as malformed (400), never accepted.
   */
  headers: HeaderRecord | HeadersLike;
  /** Node's raw header list (name, value, name, value, …): shows duplicates Node folds away. */
  rawHeaders?: readonly string[];
  /**
   * The body as a parser left it (object, string or bytes), if one ran. Only a
   * `application/x-www-form-urlencoded` body can carry `access_token` (RFC 6750 §2.2); any other
   * body (JSON included) is the application's data and is never looked at.
   */
  body?: unknown;
  /**
   * The client's TLS certificate, when the connection presented one: what a guard with `mtls` on
   * checks a certificate-bound token against (unless it takes the certificate from a trusted
   * proxy's header, `mtls.certificateHeader`, and then only from there).
   */
  clientCertificate?: ClientCertificate;
  /**
   * The framework's own object for this HTTP request, one that is never reused for another
   * (Node's `IncomingMessage`, a fetch `Request`): what tells two guards on one request from two
   * requests. A DPoP proof claimed for it by one guard is admitted by the next guard on the same
   * request (every other proof check still runs), instead of being refused as a replay; without
   * it, each call claims its proof. The adapters set it; never pass an object you reuse.
   */
  identity?: object;
}

/**
 * The value of header field `name` (give it lower-case), case-insensitively: a direct look-up in a
 * record first (Node's names are lower-case already: the hot path), then `Headers.get()` (a
 * `Headers` has no own fields), and only then a scan of a record for another casing.
 * E.g. `headerOf({ 'Content-Type': 'application/json' }, 'content-type')` is `'application/json'`,
 * and `headerOf(new Headers({ authorization: 'Bearer abc' }), 'authorization')` is `'Bearer abc'`.
 */
export function headerOf(headers: HeaderRecord | HeadersLike, name: string): HeaderValue {
  const value = (headers as HeaderRecord)[name];
  if (value !== undefined && typeof value !== 'function') return value;
  if (isHeadersLike(headers)) return headers.get(name) ?? undefined;
  for (const key in headers) {
    if (key.length === name.length && key.toLowerCase() === name) return headers[key];
  }
  return undefined;
}

/**
 * The media type of the request body (`application/json`), lower-case, without parameters; `''`
 * when the request names none. E.g. `Application/JSON; charset=utf-8` is `application/json`.
 */
export function mediaTypeOf(request: Pick<RequestLike, 'headers'>): string {
  const value = headerOf(request.headers, 'content-type');
  return typeof value === 'string' ? value.split(';')[0]!.trim().toLowerCase() : '';
}

/** A `Headers` has a `get` method; in a record, `get` could only be a header field's string value. */
export function isHeadersLike(headers: HeaderRecord | HeadersLike): headers is HeadersLike {
  return typeof headers.get === 'function';
}
