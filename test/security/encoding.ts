/**
 * base64url as the security suites write it: the canonical spelling (b64u) and the other
 * spellings of a segment a strict decoder must refuse. Runtime-neutral (node:buffer, no Node-only
 * I/O), so the differential corpus imports it on Bun and Deno too (test/runtimes/differential-entry.ts).
 */
import { Buffer } from 'node:buffer';

export const b64u = (input: string | Uint8Array): string => Buffer.from(input).toString('base64url');

/**
 * The non-canonical base64url spellings of a canonical `segment` that lenient decoders accept:
 * a non-canonical last character (its unused low bits set) and `=` padding. Empty when the
 * segment has no spare bits and needs no padding.
 */
export function nonCanonicalSpellings(segment: string): string[] {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  const out: string[] = [];
  const remainder = segment.length % 4;
  if (remainder === 2 || remainder === 3) {
    out.push(segment + '='.repeat(4 - remainder));
    // The lowest bit of the last character is always one of its unused (spare) bits here.
    const last = alphabet.indexOf(segment.at(-1)!);
    out.push(segment.slice(0, -1) + alphabet[last ^ 1]!);
  }
  return out;
}
