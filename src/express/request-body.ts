/**
 * Reads `token` / `token_type_hint` from a request body: the one a body parser already produced
 * (`req.body`), or the raw stream when no parser ran. Form (RFC 7009) and JSON (Auth0-style) only,
 * size-limited, and every malformed input becomes a 400, never a crash.
 */
import type { IncomingMessage } from 'node:http';
import { InvalidRequestError } from '../core/shared/errors.js';

const MAX_BODY_BYTES = 16 * 1024;

export async function readRequestBody(req: IncomingMessage & { body?: unknown }): Promise<Record<string, unknown>> {
  if (req.body !== undefined && req.body !== null && typeof req.body === 'object' && !Buffer.isBuffer(req.body)) {
    return req.body as Record<string, unknown>;
  }
  const raw = await readRawBody(req);
  if (raw.trim() === '') return {};
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type === 'application/json') {
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
  if (type === 'application/x-www-form-urlencoded' || type === '') {
    const params = new URLSearchParams(raw);
    const fields: Record<string, unknown> = {};
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

/** The body as text: what a parser left as a string/Buffer, or the stream itself (size-limited). */
export async function readRawBody(req: IncomingMessage & { body?: unknown }): Promise<string> {
  if (typeof req.body === 'string') return req.body;
  if (Buffer.isBuffer(req.body)) return req.body.toString('utf8');
  return readStream(req);
}

function readStream(req: IncomingMessage): Promise<string> {
  if (req.readableEnded || req.complete) return Promise.resolve('');
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > MAX_BODY_BYTES) {
    return Promise.reject(
      new InvalidRequestError('malformed_request', `The request body exceeds ${MAX_BODY_BYTES} bytes`),
    );
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const fail = (error: Error) => {
      req.off('data', onData);
      req.resume(); // drain the rest so the connection can answer
      reject(error);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES)
        fail(new InvalidRequestError('malformed_request', `The request body exceeds ${MAX_BODY_BYTES} bytes`));
      else chunks.push(chunk);
    };
    req.on('data', onData);
    req.once('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.once('error', () => fail(new InvalidRequestError('malformed_request', 'The request body could not be read')));
  });
}
