/**
 * WHATWG `Request` / `Response` glue (the fetch and Hono adapters): a `RequestLike` of a
 * `Request`, its body within {@link MAX_BODY_BYTES}, and a `Response` of the core's answer.
 * Web-standard only (no `node:*` module, no Node byte buffers): it runs on workers, Deno and Bun as on Node.
 */
import { mediaTypeOf, type RequestLike } from '../core/request/request-like.js';
import type { RouteAnswer } from '../core/request/route-answer.js';
import { bodyAlreadyRead, bodyFields, bodyTooLarge, bodyUnreadable, MAX_BODY_BYTES } from './body-fields.js';

/**
 * The part of a WHATWG `Request` the fetch adapter's routes read: a whole `Request` is one (so is
 * a Hono `c.req.raw`); a test or a framework bridge may pass just these members.
 *
 * @example
 * ```ts
 * import { revokeRoute, type WebRequest } from 'revocable-jwt/fetch';
 * const logout = revokeRoute({ verifier });
 * const request: WebRequest = new Request('https://api.example.com/logout', { method: 'POST' });
 * const response = await logout(request);
 * ```
 */
export type WebRequest = Pick<Request, 'method' | 'url' | 'headers' | 'body' | 'bodyUsed'>;

/** What a guard reads of a `Request`: a whole one, or just its method, URL and headers. */
export type GuardedWebRequest = Pick<Request, 'method' | 'url' | 'headers'> &
  Partial<Pick<Request, 'body' | 'bodyUsed' | 'clone'>>;

/**
 * What the core reads of `request`: method, headers, and the request target (path and query) of
 * its absolute URL, taken by string (a `new URL()` per request is not needed to find the path);
 * `body`, a form body's text a guard read (see {@link formBodyToInspect}); and the `Request`
 * itself as its identity (one object per HTTP request).
 */
export function webRequestLike(
  request: Pick<Request, 'method' | 'url' | 'headers'>,
  body?: string | Record<string, unknown>,
): RequestLike {
  const like: RequestLike = {
    method: request.method,
    url: requestTarget(request.url),
    headers: request.headers,
    identity: request,
  };
  if (body !== undefined) like.body = body;
  return like;
}

/**
 * The text of a form body a guard looks into for an `access_token` (RFC 6750 §2.2: refused, with
 * the same 400 as on the Node adapters), read from a clone so the application still has the body.
 * Only when that is cheap and bounded: an `application/x-www-form-urlencoded` body whose declared
 * `Content-Length` is at most {@link MAX_BODY_BYTES} and that nobody has read. `undefined` (nothing
 * looked at, at no cost but a header look-up) for everything else: GET and HEAD, other types, a
 * streamed body of undeclared length (the guard never waits on a stream the application may be
 * meant to consume piece by piece), a larger or already-read body, or a clone that fails to read.
 */
export function formBodyToInspect(
  request: GuardedWebRequest,
  method = request.method,
): Promise<string | undefined> | undefined {
  if (method === 'GET' || method === 'HEAD' || request.clone === undefined) return undefined;
  if (mediaTypeOf(request) !== 'application/x-www-form-urlencoded') return undefined;
  const declared = Number(request.headers.get('content-length') ?? Number.NaN);
  if (!(declared > 0 && declared <= MAX_BODY_BYTES) || request.body == null || request.bodyUsed) return undefined;
  return readWebRawBody(request.clone() as WebRequest).catch(() => undefined);
}

function requestTarget(url: string): string {
  const scheme = url.indexOf('://');
  const path = scheme === -1 ? 0 : url.indexOf('/', scheme + 3);
  if (path === -1) {
    const query = url.indexOf('?', scheme + 3);
    return query === -1 ? '/' : `/${url.slice(query)}`;
  }
  return url.slice(path);
}

/** The body's fields, form or JSON. */
export async function readWebBodyFields(request: WebRequest): Promise<Record<string, unknown>> {
  return bodyFields(await readWebRawBody(request), mediaTypeOf(request));
}

/** The body as text, read chunk by chunk so an oversized body is refused without being buffered. */
export async function readWebRawBody(request: WebRequest): Promise<string> {
  const declared = Number(request.headers.get('content-length') ?? undefined);
  if (Number.isFinite(declared) && declared > MAX_BODY_BYTES) throw bodyTooLarge();
  if (request.body === null) return '';
  if (request.bodyUsed) throw bodyAlreadyRead(); // the application read it first
  const reader = request.body.getReader();
  const decoder = new TextDecoder();
  let text = '';
  let size = 0;
  let tooLarge = false;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      const chunk: Uint8Array = value;
      size += chunk.byteLength;
      if (size > MAX_BODY_BYTES) {
        tooLarge = true;
        break;
      }
      text += decoder.decode(chunk, { stream: true });
    }
  } catch {
    throw bodyUnreadable();
  }
  if (tooLarge) {
    reader.cancel().catch(() => {}); // stop the upload; nothing more is read
    throw bodyTooLarge();
  }
  return text + decoder.decode();
}

/** The core's answer as a `Response`: status, headers, and a JSON body or none. */
export function toResponse(answer: RouteAnswer): Response {
  if (answer.body === undefined) return new Response(null, { status: answer.status, headers: answer.headers });
  return new Response(JSON.stringify(answer.body), {
    status: answer.status,
    headers: { ...answer.headers, 'Content-Type': 'application/json; charset=utf-8' },
  });
}
