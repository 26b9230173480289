/**
 * The fields of a POST body (`token`, `logout_token`, …) from its text: form (RFC 7009) or JSON
 * (Auth0-style) only, within {@link MAX_BODY_BYTES}; every malformed input is an
 * `InvalidRequestError` (a 400), never a crash. Web-standard only: the Hono and fetch adapters run
 * on workers, Deno and Bun too.
 */
import { InvalidRequestError, MisconfiguredError } from '../core/shared/errors.js';

/** The largest body an endpoint of this library reads. */
export const MAX_BODY_BYTES = 16 * 1024;

/** The error for a body over {@link MAX_BODY_BYTES}. */
export function bodyTooLarge(): InvalidRequestError {
  return new InvalidRequestError('malformed_request', `The request body exceeds ${MAX_BODY_BYTES} bytes`);
}

/** The error for a body the connection failed to deliver. */
export function bodyUnreadable(): InvalidRequestError {
  return new InvalidRequestError('malformed_request', 'The request body could not be read');
}

/**
 * The error for a body the application read before the endpoint could, leaving no parsed copy: a
 * 500 thrown to the framework (a misconfiguration), never a 400 (the client sent a good request)
 * and never an empty body (that would drop the `token` it asked to revoke and still answer 200).
 */
export function bodyAlreadyRead(): MisconfiguredError {
  return new MisconfiguredError(
    'the request body was read before the endpoint could read it, and no parsed copy was left: mount the ' +
      'endpoint before the middleware that reads the body, or use a body parser that leaves its result on the request',
  );
}

/** What a framework's body parser left: its fields when it parsed one (an object), else `undefined`. */
export function parsedFields(body: unknown): Record<string, unknown> | undefined {
  if (body === undefined || body === null || typeof body !== 'object' || body instanceof Uint8Array) return undefined;
  return body as Record<string, unknown>;
}

/** The fields of a body of media type `mediaType` (lower-case, no parameters; `''` when none is named). */
export function bodyFields(raw: string, mediaType: string): Record<string, unknown> {
  if (raw.trim() === '') return {};
  if (mediaType === 'application/json') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      throw new InvalidRequestError('malformed_request', 'The request body is not valid JSON');
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new InvalidRequestError('malformed_request', 'The JSON body must be an object');
    }
    return parsed as Record<string, unknown>;
  }
  if (mediaType === 'application/x-www-form-urlencoded' || mediaType === '') {
    const params = new URLSearchParams(raw);
    // No prototype: a field named `__proto__` is a field like any other, never the object's prototype.
    const fields: Record<string, unknown> = Object.create(null);
    for (const key of new Set(params.keys())) {
      const values = params.getAll(key);
      fields[key] = values.length === 1 ? values[0] : values;
    }
    return fields;
  }
  throw new InvalidRequestError(
    'malformed_request',
    'Send the body as application/x-www-form-urlencoded or application/json',
  );
}
