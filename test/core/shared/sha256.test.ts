/**
 * sha256 alone: on Node it is the native hash; the pure-JS fallback (workerd, browsers) gives the
 * same digest for any text, so every runtime derives the same revocation keys.
 */
import { describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { portableSha256, portableSha256OfBytes, sha256, sha256OfBytes } from '../../../src/core/shared/sha256.js';

const reference = (text: string) => createHash('sha256').update(text).digest('base64url');

describe('sha256', () => {
  it('is the RFC 6234 digest, base64url', () => {
    expect(sha256('abc')).toBe('ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0');
    expect(portableSha256('abc')).toBe('ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0');
  });

  it('gives the same digest natively and in pure JS, for any text', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 200 }), (text) => {
        expect(sha256(text)).toBe(reference(text));
        expect(portableSha256(text)).toBe(reference(text));
      }),
      { numRuns: 500 },
    );
  });
});

describe('sha256OfBytes', () => {
  const referenceOfBytes = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('base64url');

  it('gives the same digest natively and in pure JS, for any bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2000 }), (bytes) => {
        expect(sha256OfBytes(bytes)).toBe(referenceOfBytes(bytes));
        expect(portableSha256OfBytes(bytes)).toBe(referenceOfBytes(bytes));
      }),
      { numRuns: 300 },
    );
  });
});
