/**
 * What a token must look like before anything parses it or spends crypto on it: a compact JWS
 * with canonical base64url segments, or an opaque bearer string; and the `typ` header read as a
 * media type. Cheap, synchronous, and the first thing every token meets.
 */
import { invalidToken } from '../shared/rejections.js';

/** Three dot-separated segments: a JWS (verified locally), as opposed to an opaque token. */
export function looksLikeJws(token: string): boolean {
  const first = token.indexOf('.');
  return first > 0 && token.indexOf('.', first + 1) > first && token.split('.').length === 3;
}

/** Opaque tokens: bounded, and only characters a bearer token may have (RFC 6750 b64token). */
export function checkOpaqueShape(token: string, maxLength: number): void {
  if (token.length === 0 || !/^[A-Za-z0-9\-._~+/]+=*$/.test(token)) throw invalidToken('malformed_token');
  if (token.length > maxLength) throw invalidToken('token_too_long');
}

declare const canonical: unique symbol;
/**
 * A token that passed {@link checkShape} or {@link checkCanonicalSegments}: three segments of
 * canonical base64url. The signature backends take only these (their decoders rely on it), and
 * the compiler sees that every caller checked.
 */
export type CanonicalJws = string & { readonly [canonical]: true };

/**
 * Cheap structural checks before any parsing or crypto. Each segment must be canonical base64url
 * (RFC 7515 §2: no padding, no whitespace, unused bits zero): jose decodes leniently, and without
 * this several strings would verify as one token, e.g. "<sig>==" or a last character with spare
 * bits set. One token, one spelling.
 */
export function checkShape(token: string, maxLength: number): asserts token is CanonicalJws {
  if (token.length === 0) throw invalidToken('malformed_token');
  if (token.length > maxLength) throw invalidToken('token_too_long');
  const first = token.indexOf('.');
  const second = first === -1 ? -1 : token.indexOf('.', first + 1);
  if (second === -1) throw invalidToken('malformed_token');
  if (token.indexOf('.', second + 1) !== -1) {
    // Five segments is JWE: refuse before anything tries to decrypt it.
    throw invalidToken(token.split('.').length === 5 ? 'encrypted_token' : 'malformed_token');
  }
  if (!hasCanonicalSegments(token, first, second)) throw invalidToken('malformed_token');
}

/**
 * The segment rule of {@link checkShape} alone, for a token known to have three segments: what
 * the signature check holds every token to before decoding it (see signature.ts).
 */
export function checkCanonicalSegments(token: string): asserts token is CanonicalJws {
  const first = token.indexOf('.');
  const second = first === -1 ? -1 : token.indexOf('.', first + 1);
  if (second === -1 || !hasCanonicalSegments(token, first, second)) throw invalidToken('malformed_token');
}

function hasCanonicalSegments(token: string, first: number, second: number): boolean {
  return (
    hasJwsAlphabet(token) &&
    hasCanonicalEnd(token, 0, first) &&
    hasCanonicalEnd(token, first + 1, second) &&
    hasCanonicalEnd(token, second + 1, token.length)
  );
}

const JWS_COMPACT = /^[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*$/;

/**
 * Whether `token` is three dot-separated runs of the base64url alphabet. A regex scans it several
 * times faster than a charCodeAt loop; the last token that passed is remembered because a request
 * has it scanned twice (the bearer's b64token rule, bearer.ts, then {@link checkShape}), and the
 * answer is a pure function of the string, so an equal string gets it without a second scan.
 */
export function hasJwsAlphabet(token: string): boolean {
  if (token === lastJwsAlphabet) return true;
  if (!JWS_COMPACT.test(token)) return false;
  lastJwsAlphabet = token;
  return true;
}
let lastJwsAlphabet: string | undefined;
const BASE64URL_RUN = /[A-Za-z0-9_-]*/y;

/**
 * Whether `text` from `from` to `to` is one canonical base64url segment (the rule of
 * {@link checkShape}), read in place: for a DPoP proof, whose refusals name the segment at fault.
 */
export function isCanonicalSegment(text: string, from: number, to: number): boolean {
  BASE64URL_RUN.lastIndex = from;
  return BASE64URL_RUN.test(text) && BASE64URL_RUN.lastIndex === to && hasCanonicalEnd(text, from, to);
}

const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** Length and unused bits of one base64url segment (its alphabet is checked by the caller). */
function hasCanonicalEnd(text: string, from: number, to: number): boolean {
  const length = to - from;
  if (length % 4 === 1) return false;
  if (length === 0 || length % 4 === 0) return true;
  const value = BASE64URL.indexOf(text[to - 1]!);
  // 2 trailing chars encode 1 byte (4 spare bits), 3 encode 2 bytes (2 spare bits).
  return length % 4 === 2 ? (value & 0x0f) === 0 : (value & 0x03) === 0;
}

/** A `typ` as a bare media type (RFC 7515 §4.1.9: `application/` may be left out; any case). */
export function mediaType(typ: unknown): string | undefined {
  return typeof typ === 'string' ? typ.toLowerCase().replace(/^application\//, '') : undefined;
}
