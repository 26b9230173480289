/**
 * sha256 alone: on Node it is the native hash; the pure-JS fallback (workerd, browsers) gives the
 * same digest for any text, so every runtime derives the same revocation keys.
 */
import { describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { tokenDigestOf, tokenDigestWords, wordAt } from '../../../src/core/shared/token-digest.js';
import {
  portableSha256,
  portableSha256Binary,
  portableSha256Bytes,
  portableSha256OfBytes,
  sha256,
  sha256Binary,
  sha256Bytes,
  sha256OfBytes,
} from '../../../src/core/shared/sha256.js';

const reference = (text: string) => createHash('sha256').update(text).digest('base64url');
/** Any UTF-16 code unit, lone surrogates included (a `sub` or `jti` may carry one: JSON's \ud800). */
const codeUnits = fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((unit) => String.fromCharCode(unit)) });

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

  // Revocation keys are these digests: stored in Redis and PostgreSQL, compared across instances
  // and versions. Whatever computes them (the one-shot crypto.hash, a Hash object, the pure-JS
  // fallback) must give the digests of the UTF-8 bytes, a lone surrogate as U+FFFD, as before.
  it('the same digests, text and raw bytes, for any UTF-16 string, lone surrogates included', () => {
    fc.assert(
      fc.property(codeUnits, (text) => {
        const bytes = createHash('sha256').update(text).digest();
        expect(sha256(text)).toBe(bytes.toString('base64url'));
        expect(portableSha256(text)).toBe(bytes.toString('base64url'));
        expect(Buffer.from(sha256Bytes(text)).equals(bytes)).toBe(true);
        expect(Buffer.from(portableSha256Bytes(text)).equals(bytes)).toBe(true);
        expect(sha256Binary(text)).toBe(bytes.toString('latin1'));
        expect(portableSha256Binary(text)).toBe(bytes.toString('latin1'));
      }),
      { numRuns: 1000 },
    );
    // Pinned: the digests every released version stored (a lone surrogate hashes as U+FFFD).
    const pinned: Array<[string, string]> = [
      ['\ud800', 'g9VEzMIjwFfSv4DT8qMpgsMsPA244mdIINpQZHg_sJc'],
      ['a\udc00b', 'BQh4Ezku_Bb-j_RIkgxjKOU6-GXfOUGUNmWdn_2pD3s'],
      ['jws:\udfff\ud800', 'OF-MuyOibtQVbjaeGvLm3Et8t8Xz1K6n5VQ6GKZ5MpQ'],
      ['\ud83d\ude00', '8EQ6NCxe9UeDoRG1G6Vsk45HTDIyTZDDpgycjjo34tk'],
      ['é', 'SplVfkAzw1Od4utlRyAXytX5VX96BiWgnxw_biumnEw'],
    ];
    for (const [text, digest] of pinned) {
      expect(sha256(text)).toBe(digest);
      expect(Buffer.from(sha256Bytes(text)).toString('base64url')).toBe(digest);
    }
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

describe('token digests', () => {
  // What the compact mirror compares: the words a miss computes straight from the digest's
  // characters must be the words of the stored 16-byte digest, for any key.
  it('the words of a key are the little-endian words of its 16-byte digest', () => {
    fc.assert(
      fc.property(codeUnits, (key) => {
        const bytes = createHash('sha256').update(key).digest().subarray(0, 16);
        expect(Buffer.from(tokenDigestOf(key)).equals(bytes)).toBe(true);
        expect([...tokenDigestWords(key)]).toEqual([0, 4, 8, 12].map((at) => wordAt(bytes, at)));
      }),
      { numRuns: 1000 },
    );
    const named = `digest:${'00ff7f80'.repeat(4)}`;
    expect([...tokenDigestWords(named)]).toEqual([0x807fff00 | 0, 0x807fff00 | 0, 0x807fff00 | 0, 0x807fff00 | 0]);
  });
});
