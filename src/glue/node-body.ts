/**
 * Reading a body from a `node:http` request (Express, Connect, Fastify, Koa): what a body parser
 * already produced, or the raw stream when none ran, within {@link MAX_BODY_BYTES}.
 */
import type { IncomingMessage } from 'node:http';
import { mediaTypeOf } from '../core/request/request-like.js';
import {
  bodyAlreadyRead,
  bodyFields,
  bodyTooLarge,
  bodyUnreadable,
  MAX_BODY_BYTES,
  parsedFields,
} from './body-fields.js';

/**
 * The body's fields: `parsed` when a parser made an object of it, else the stream's text parsed as
 * form or JSON. An empty object beside a stream nobody has read is not the body: a parser for
 * other types left it (Express 4's `express.json()` and koa-bodyparser set `{}` for a form body).
 */
export async function readNodeBodyFields(req: IncomingMessage, parsed: unknown): Promise<Record<string, unknown>> {
  const fields = parsedFields(parsed);
  if (fields !== undefined && !(isEmpty(fields) && unread(req))) return fields;
  return bodyFields(await readNodeRawBody(req, parsed), mediaTypeOf(req));
}

/** The body as text: what a parser left as a string or bytes, or the stream itself. */
export async function readNodeRawBody(req: IncomingMessage, parsed: unknown): Promise<string> {
  if (typeof parsed === 'string') return parsed;
  if (parsed instanceof Uint8Array) return new TextDecoder().decode(parsed);
  return readStream(req);
}

function isEmpty(fields: Record<string, unknown>): boolean {
  for (const _ in fields) return false;
  return true;
}

function unread(req: IncomingMessage): boolean {
  return !req.readableDidRead && !req.readableEnded;
}

/** Whether the request came with a body (RFC 9112 §6.3: a Transfer-Encoding, or a Content-Length above 0). */
function hasBody(req: IncomingMessage): boolean {
  if (req.headers['transfer-encoding'] !== undefined) return true;
  const length = Number(req.headers['content-length']);
  return Number.isFinite(length) && length > 0;
}

function readStream(req: IncomingMessage): Promise<string> {
  // Read by someone else, who left no parsed copy: an empty body is no loss; a body is gone, and
  // so is what it asked for. (`req.complete` is no sign of a read: it only says the whole body
  // has arrived, and after an async step it waits, unread, in the stream's buffer.)
  if (req.readableEnded || req.readableDidRead) {
    return hasBody(req) ? Promise.reject(bodyAlreadyRead()) : Promise.resolve('');
  }
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > MAX_BODY_BYTES) return Promise.reject(bodyTooLarge());
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
      if (size > MAX_BODY_BYTES) fail(bodyTooLarge());
      else chunks.push(chunk);
    };
    req.on('data', onData);
    req.once('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.once('error', () => fail(bodyUnreadable()));
    req.resume(); // `on('data')` does not restart a stream someone paused
  });
}
