/**
 * The Web-standard base64 of the IdP clients (credentials and their echoes), alone: it spells
 * every text exactly as Node's Buffer did before it (the reference here), for any Unicode text.
 */
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { base64, base64url, textOfBase64, utf8Bytes } from '../../../src/core/idp/base64.js';

describe('base64 of UTF-8 text', () => {
  it('matches Buffer for standard and URL-safe base64, and decodes back, for any text', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 64 }), (text) => {
        const reference = Buffer.from(text, 'utf8');
        expect(base64(utf8Bytes(text))).toBe(reference.toString('base64'));
        expect(base64url(utf8Bytes(text))).toBe(reference.toString('base64url'));
        expect(textOfBase64(base64(utf8Bytes(text)))).toBe(text);
      }),
      { numRuns: 500 },
    );
  });

  it('spells the usual cases', () => {
    expect(base64(utf8Bytes('notes-api:s3cret'))).toBe('bm90ZXMtYXBpOnMzY3JldA==');
    expect(base64url(utf8Bytes('ÿ?>'))).toBe('w78_Pg');
    expect(base64(new Uint8Array())).toBe('');
  });
});
