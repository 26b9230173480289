/**
 * WHATWG `Request` / `Response` glue (the fetch and Hono adapters): a `RequestLike` of a
 * `Request`, its body within {@link MAX_BODY_BYTES}, and a `Response` of the core's answer.
 * Web-standard only (no `node:*` module, no Node byte buffers): it runs on workers, Deno and Bun as on Node.
 */
import { mediaTypeOf, type RequestLike } from '../core/request/request-like.js';
import type { RouteAnswer } from '../core/request/route-answer.js';
import { bodyAlreadyRead, bodyFields, bodyTooLarge, bodyUnreadable, MAX_BODY_BYTES } from './body-fields.js';

/** The shape of a WHATWG `Request` this glue reads (a Hono `c.req.raw` is one). */
export type WebRequest = Pick<Request, 'method' | 'url' | 'headers' | 'body' | 'bodyUsed'>;

/**
 * What the core reads of `request`: method, headers, and the request target (path and query) of
 * its absolute URL, taken by string (a `new URL()` per request is not needed to find the path).
 */
export function webRequestLike(request: Pick<Request, 'method' | 'url' | 'headers'>): RequestLike {
  return { method: request.method, url: requestTarget(request.url), headers: request.headers };
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
