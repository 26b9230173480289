/**
 * The body of a Hono request, within 16 KiB: the raw stream, or, when the app already read it
 * through `c.req` (a validator, a logging middleware), the copy Hono cached then, since the
 * `Request` itself can no longer be read. Web-standard APIs only.
 */
import type { HonoRequest } from 'hono';
import { mediaTypeOf } from '../core/request/request-like.js';
import { bodyFields, bodyTooLarge, bodyUnreadable, MAX_BODY_BYTES } from '../glue/body-fields.js';
import { formBodyToInspect, readWebRawBody } from '../glue/web-request.js';

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

/** A form's fields, as parsed. */
type FormFields = Record<string, unknown>;

/**
 * The guard's look at a form body (see `formBodyToInspect`): a clone of the raw request, or Hono's
 * copy when the app already read the body through `c.req` (the raw `Request` is spent then).
 */
export function honoFormBodyToInspect(req: HonoRequest): Promise<string | FormFields | undefined> | undefined {
  const { raw } = req;
  if (!raw.bodyUsed || Object.keys(req.bodyCache).length === 0) return formBodyToInspect(raw);
  if (mediaTypeOf(raw) !== 'application/x-www-form-urlencoded') return undefined;
  // Hono's text of a cached FormData would be multipart: take the fields themselves.
  const { formData } = req.bodyCache;
  if (formData !== undefined) {
    // Typed as a FormData, held as its promise: resolve either.
    return Promise.resolve(formData).then(
      (fields): FormFields => Object.fromEntries(fields),
      () => undefined,
    );
  }
  return req.text().then(
    (text) => (text.length <= MAX_BODY_BYTES ? text : undefined),
    () => undefined,
  );
}
