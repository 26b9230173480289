/**
 * The body of a Hono request, within 16 KiB: the raw stream, or, when the app already read it
 * through `c.req` (a validator, a logging middleware), the copy Hono cached then, since the
 * `Request` itself can no longer be read. Web-standard APIs only.
 */
import type { HonoRequest } from 'hono';
import { mediaTypeOf } from '../core/request/request-like.js';
import { bodyFields, bodyTooLarge, bodyUnreadable, MAX_BODY_BYTES } from '../glue/body-fields.js';
import { readWebRawBody } from '../glue/web-request.js';

/** The body's fields, form or JSON. */
export async function readHonoBodyFields(req: HonoRequest): Promise<Record<string, unknown>> {
  return bodyFields(await readHonoRawBody(req), mediaTypeOf(req.raw));
}

/** The body as text. */
export async function readHonoRawBody(req: HonoRequest): Promise<string> {
  if (!req.raw.bodyUsed || Object.keys(req.bodyCache).length === 0) return readWebRawBody(req.raw);
  let text: string;
  try {
    text = await req.text();
  } catch {
    throw bodyUnreadable();
  }
  if (new TextEncoder().encode(text).byteLength > MAX_BODY_BYTES) throw bodyTooLarge();
  return text;
}
