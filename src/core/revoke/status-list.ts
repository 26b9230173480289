/**
 * The status array of an IETF Token Status List (draft-ietf-oauth-status-list §4): `bits` (1, 2, 4
 * or 8) per token, packed from the least significant bit of byte 0 upwards, ZLIB-compressed
 * (RFC 1950) and base64url-encoded as `lst`. Decoding is where an IdP's list could hurt us (a few
 * kilobytes that inflate to gigabytes), so it reads the inflated output as a stream and stops as
 * soon as it passes the cap, before holding more than the cap in memory. Web-standard only
 * (`atob`, `DecompressionStream`), so it runs on workerd, Deno and Bun too.
 */
import { HttpRequestError } from '../idp/http-client.js';

/** The status values draft-ietf-oauth-status-list §7.1 registers (0x03 and 0x0C–0x0F are application-specific). */
export const TOKEN_STATUS = { valid: 0x00, invalid: 0x01, suspended: 0x02 } as const;

/** What {@link statusAt} answers for an index past the end of the list. */
export const OUT_OF_RANGE = -1;

/** A decoded status array: `statusAt(list, idx)` reads it. */
export interface StatusArray {
  readonly bits: 1 | 2 | 4 | 8;
  readonly bytes: Uint8Array;
  /** Entries the array holds: `bytes.length * 8 / bits`. */
  readonly size: number;
}

/** Bits per entry the draft allows. */
export function isStatusBits(value: unknown): value is StatusArray['bits'] {
  return value === 1 || value === 2 || value === 4 || value === 8;
}

/**
 * The status of entry `index` (a non-negative integer), or {@link OUT_OF_RANGE}. No allocation: it
 * runs on every cache hit of a token that carries a status reference.
 */
export function statusAt(list: StatusArray, index: number): number {
  if (index >= list.size) return OUT_OF_RANGE;
  const bit = index * list.bits; // < 2^36 for any list within the caps: exact in a double
  const byte = list.bytes[Math.floor(bit / 8)]!;
  return (byte >>> (bit % 8)) & ((1 << list.bits) - 1);
}

/**
 * Decodes `lst`: base64url (no padding, no other character), then ZLIB, refusing more than
 * `maxBytes` of output. Rejects with an {@link HttpRequestError}: `invalid_body` for anything that
 * is not base64url of ZLIB data, `too_large` past the cap.
 */
export async function decodeStatusList(lst: string, bits: StatusArray['bits'], maxBytes: number): Promise<StatusArray> {
  const bytes = await inflate(base64urlBytes(lst), maxBytes);
  return { bits, bytes, size: (bytes.length * 8) / bits };
}

function base64urlBytes(text: string): Uint8Array {
  // Strict: one list, one spelling (no padding, whitespace or the standard alphabet's + and /).
  if (!/^[A-Za-z0-9_-]*$/.test(text) || text.length % 4 === 1)
    throw new HttpRequestError('invalid_body', 'the status list `lst` is not base64url');
  const binary = atob(text.replace(/-/g, '+').replace(/_/g, '/'));
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/**
 * ZLIB-inflates `compressed`, reading the output chunk by chunk (the stream's backpressure keeps
 * the decompressor from running ahead of us) and cancelling it once `maxBytes` is passed.
 */
async function inflate(compressed: Uint8Array, maxBytes: number): Promise<Uint8Array> {
  const input = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(compressed);
      controller.close();
    },
  });
  // 'deflate' is the ZLIB format (RFC 1950) in the Compression Streams standard; 'deflate-raw' is bare RFC 1951.
  const reader = input.pipeThrough(new DecompressionStream('deflate')).getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > maxBytes) {
        await reader.cancel().catch(() => undefined);
        throw new HttpRequestError('too_large', `the status list inflates to more than the ${maxBytes}-byte limit`);
      }
      chunks.push(value);
    }
  } catch (cause) {
    if (cause instanceof HttpRequestError) throw cause;
    throw new HttpRequestError('invalid_body', 'the status list `lst` is not ZLIB-compressed data', { cause });
  }
  if (chunks.length === 1) return chunks[0]!;
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}
