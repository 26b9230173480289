/**
 * The 128-bit digest under which a token revocation is kept where millions of them must fit: the
 * verifier's compact mirror (see `TokenDigestTable`) and a store's compact snapshot. It is the
 * first 16 bytes of a SHA-256 of the denylist key (UTF-8), so every process derives the same
 * digest from the same key, and a revocation can travel as its digest alone: a token revocation
 * whose key is `digest:<32 lowercase hex digits>` names the token whose key has that digest (what a
 * mirror that keeps digests only writes back when it heals a store). Keys made by
 * `revocation-identity.ts` start with `jti:`, `jws:` or `opaque:`, never `digest:`.
 *
 * Odds: two different keys share a digest with probability 2^-128 per pair. With n revocations
 * in force, a given unrevoked token is refused by mistake with probability n·2^-128 (10^6
 * revocations: ~3·10^-33 per token); SHA-256's second-preimage resistance keeps it there for
 * anyone who would craft such a key. There are no false negatives: a revoked key always has its
 * digest in the table.
 */
import { bytesOfBinary, sha256Binary } from './sha256.js';

/** Bytes in a token digest. */
export const TOKEN_DIGEST_BYTES = 16;
const PREFIX = 'digest:';
const DIGEST_KEY = /^digest:[0-9a-f]{32}$/;

/** Whether `key` names a token by its digest (`digest:` and 32 lowercase hex digits). */
export function isDigestKey(key: string): boolean {
  return key.length === PREFIX.length + 2 * TOKEN_DIGEST_BYTES && DIGEST_KEY.test(key);
}

/** The 16-byte digest of a denylist key (a `digest:` key gives the digest it names). */
export function tokenDigestOf(key: string): Uint8Array {
  if (isDigestKey(key)) {
    const bytes = new Uint8Array(TOKEN_DIGEST_BYTES);
    for (let i = 0; i < TOKEN_DIGEST_BYTES; i++) bytes[i] = Number.parseInt(key.slice(7 + 2 * i, 9 + 2 * i), 16);
    return bytes;
  }
  return bytesOfBinary(sha256Binary(key), TOKEN_DIGEST_BYTES);
}

/** The `digest:` key naming the 16 bytes of `digests` at `offset`. */
export function digestKey(digests: Uint8Array, offset = 0): string {
  let hex = PREFIX;
  for (let i = offset; i < offset + TOKEN_DIGEST_BYTES; i++) hex += HEX[digests[i]!]!;
  return hex;
}
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/**
 * The digest of `key` as four 32-bit words (little-endian), the form the compact mirror compares:
 * computed once per token, when it is verified, and kept with its cache entry.
 */
export function tokenDigestWords(key: string): Int32Array {
  const words = new Int32Array(4);
  if (isDigestKey(key)) {
    const bytes = tokenDigestOf(key);
    for (let i = 0; i < 4; i++) words[i] = wordAt(bytes, 4 * i);
    return words;
  }
  // Straight from the digest's characters: no byte array in between (a miss computes this).
  const digest = sha256Binary(key);
  for (let i = 0; i < 4; i++) {
    const at = 4 * i;
    words[i] =
      digest.charCodeAt(at) |
      (digest.charCodeAt(at + 1) << 8) |
      (digest.charCodeAt(at + 2) << 16) |
      (digest.charCodeAt(at + 3) << 24);
  }
  return words;
}

/** The little-endian 32-bit word of `bytes` at `offset` (a signed int32). */
export function wordAt(bytes: Uint8Array, offset: number): number {
  return bytes[offset]! | (bytes[offset + 1]! << 8) | (bytes[offset + 2]! << 16) | (bytes[offset + 3]! << 24);
}
