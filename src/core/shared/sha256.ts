/**
 * SHA-256, base64url: of a text's UTF-8 bytes for the keys of revocation identities, the IdP
 * outbox and the introspection gate; of bytes for a client certificate's RFC 8705 thumbprint.
 * Synchronous, because its callers are (WebCrypto's `digest` is async). Node, Bun and Deno hand
 * over their native hash through `process.getBuiltinModule` (no `node:*` import, so edge bundles
 * stay Web-standard); elsewhere (workerd, browsers) the audited pure-JS `@noble/hashes` computes
 * the same digest, about 5 times slower. A token's keys are computed once, when it is first
 * verified; a certificate's thumbprint once per certificate object.
 */
import { sha256 as pureSha256 } from '@noble/hashes/sha2.js';
import { base64url } from 'jose';

interface NativeHash {
  digest(encoding: 'base64url' | 'latin1'): string;
}
interface NativeCrypto {
  createHash(algorithm: 'sha256'): { update(data: string | Uint8Array): NativeHash };
  /** One-shot digest (Node ≥ 20.12): no Hash object per call, about twice as fast for short input. */
  hash?: (algorithm: 'sha256', data: string | Uint8Array, encoding: 'base64url' | 'latin1') => string;
}
interface MaybeNodeProcess {
  process?: { getBuiltinModule?: (id: string) => unknown };
}

const native = (globalThis as MaybeNodeProcess).process?.getBuiltinModule?.('node:crypto') as NativeCrypto | undefined;
const encoder = new TextEncoder();
const oneShot = native?.hash;

/** The pure-JS digest, exported for the test that checks it against the native one. */
export function portableSha256(text: string): string {
  return base64url.encode(pureSha256(encoder.encode(text)));
}

/** SHA-256 of `text` (UTF-8), base64url without padding. */
export const sha256: (text: string) => string =
  native === undefined
    ? portableSha256
    : oneShot !== undefined
      ? (text) => oneShot('sha256', text, 'base64url')
      : (text) => native.createHash('sha256').update(text).digest('base64url');

/** The pure-JS digest of bytes, exported for the test that checks it against the native one. */
export function portableSha256OfBytes(bytes: Uint8Array): string {
  return base64url.encode(pureSha256(bytes));
}

/** SHA-256 of `bytes`, base64url without padding. */
export const sha256OfBytes: (bytes: Uint8Array) => string =
  native === undefined
    ? portableSha256OfBytes
    : (bytes) => native.createHash('sha256').update(bytes).digest('base64url');

/** The pure-JS raw digest of a text, exported for the test that checks it against the native one. */
export function portableSha256Bytes(text: string): Uint8Array {
  return pureSha256(encoder.encode(text));
}

/** The pure-JS binary digest of a text, exported for the test that checks it against the native one. */
export function portableSha256Binary(text: string): string {
  return String.fromCharCode(...portableSha256Bytes(text));
}

/**
 * SHA-256 of `text` (UTF-8), the 32 raw bytes as a binary string (one character per byte, read
 * with `charCodeAt`). Natively this is a string, not a Buffer: a Buffer's own backing store costs
 * Node about twice the hash itself (allocation, then the garbage collector's bookkeeping), while
 * a short string or a small typed array lives in V8's heap. Computed once per verified token.
 */
export const sha256Binary: (text: string) => string =
  native === undefined
    ? portableSha256Binary
    : oneShot !== undefined
      ? (text) => oneShot('sha256', text, 'latin1')
      : (text) => native.createHash('sha256').update(text).digest('latin1');

/** SHA-256 of `text` (UTF-8), the 32 raw bytes. */
export function sha256Bytes(text: string): Uint8Array {
  return bytesOfBinary(sha256Binary(text), 32);
}

/** The first `length` bytes of a binary string (see {@link sha256Binary}). */
export function bytesOfBinary(binary: string, length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}
