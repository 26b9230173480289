/**
 * A compact JWS (RFC 7515 §7.1) taken apart once, with the header rules jose 6 applies before it
 * looks for a key (its `verifyCompact`, in the same order and with the same error classes, so
 * rejections.ts gives every refusal the reason it had): three segments; a protected header that
 * is strict UTF-8 JSON of a plain object; `crit` a non-empty list of non-empty strings naming
 * only `b64`, each present; `b64` a boolean when critical; `alg` a non-empty string in the
 * allowlist. The node:crypto signature path reads tokens through here; the WebCrypto path lets
 * jose do the same, and test/security/backend-differential.test.ts holds the two equal.
 *
 * Takes only a {@link CanonicalJws} (every segment canonical base64url, token-shape.ts), so
 * `decode` may be any exact decoder.
 */
import { errors as jose, type JWSHeaderParameters } from 'jose';
import { deepFreeze } from '../shared/deep-freeze.js';
import type { CanonicalJws } from './token-shape.js';

/** A base64url segment's bytes (the segment is canonical: see the file comment). */
export type SegmentDecoder = (segment: string) => Uint8Array;

/** A compact JWS whose header passed the rules above; nothing is verified yet. */
export interface ParsedJws {
  header: JWSHeaderParameters;
  /** The header's `alg`: a string from the allowlist. */
  alg: string;
  /** `header.payload` as sent: the signing input (ASCII, as the segments are base64url). */
  signingInput: string;
  /** The three segments as sent (the payload is decoded only once the signature holds). */
  segments: { protected: string; payload: string; signature: string };
  signature: Uint8Array;
  /** False for an RFC 7797 unencoded payload (`b64: false` under `crit`): never a JWT. */
  b64: boolean;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** Splits and checks `token`; throws jose's JWSInvalid, JOSENotSupported or JOSEAlgNotAllowed. */
export function parseCompactJws(
  token: CanonicalJws,
  algorithms: ReadonlySet<string>,
  decode: SegmentDecoder,
): ParsedJws {
  const first = token.indexOf('.');
  const second = first === -1 ? -1 : token.indexOf('.', first + 1);
  if (second === -1 || token.indexOf('.', second + 1) !== -1) throw new jose.JWSInvalid('Invalid Compact JWS');
  const segments = {
    protected: token.slice(0, first),
    payload: token.slice(first + 1, second),
    signature: token.slice(second + 1),
  };
  const { header, b64 } = headerOf(segments.protected, decode);
  const { alg } = header;
  if (typeof alg !== 'string' || alg === '')
    throw new jose.JWSInvalid('JWS "alg" (Algorithm) Header Parameter missing or invalid');
  if (!algorithms.has(alg)) throw new jose.JOSEAlgNotAllowed('"alg" (Algorithm) Header Parameter value not allowed');
  return {
    header,
    alg,
    signingInput: token.slice(0, second),
    segments,
    signature: decode(segments.signature),
    b64,
  };
}

/**
 * Headers parsed before, by their segment. An IdP signs its tokens with a few headers (one per
 * `alg`, `kid` and `typ`), so a miss decodes and parses its header once per header, not once per
 * token. Parsing is a pure function of the segment and only headers that passed are kept, so a
 * remembered one gets the answer a fresh parse would; each is frozen, as every token that carries
 * it shares it. Bounded: past the bound the memo starts over (a flood of made-up headers costs
 * speed, never an answer).
 */
const rememberedHeaders = new Map<string, { header: JWSHeaderParameters; b64: boolean }>();
const MAX_REMEMBERED_HEADERS = 32;

function headerOf(segment: string, decode: SegmentDecoder): { header: JWSHeaderParameters; b64: boolean } {
  const known = rememberedHeaders.get(segment);
  if (known !== undefined) return known;
  const header = parseHeader(decode(segment));
  const parsed = { header: deepFreeze(header), b64: criticalB64(header) };
  if (rememberedHeaders.size >= MAX_REMEMBERED_HEADERS) rememberedHeaders.clear();
  rememberedHeaders.set(segment, parsed);
  return parsed;
}

function parseHeader(bytes: Uint8Array): JWSHeaderParameters {
  let header: unknown;
  try {
    header = JSON.parse(strictUtf8.decode(bytes));
  } catch (cause) {
    throw new jose.JWSInvalid('JWS Protected Header is invalid', { cause });
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header))
    throw new jose.JWSInvalid('JWS Protected Header is invalid');
  return header as JWSHeaderParameters;
}

/**
 * RFC 7515 §4.1.11: every extension listed in `crit` must be understood; the only one we (and
 * jose without options) understand is RFC 7797's `b64`. Returns the payload's `b64` flag.
 */
function criticalB64(header: JWSHeaderParameters): boolean {
  const { crit } = header;
  if (crit === undefined) return true;
  if (!Array.isArray(crit) || crit.length === 0 || crit.some((name) => typeof name !== 'string' || name === ''))
    throw new jose.JWSInvalid('"crit" (Critical) Header Parameter MUST be an array of non-empty strings when present');
  for (const name of crit as string[]) {
    if (name !== 'b64') throw new jose.JOSENotSupported(`Extension Header Parameter "${name}" is not recognized`);
    if (!Object.hasOwn(header, name) || header[name] === undefined)
      throw new jose.JWSInvalid(`Extension Header Parameter "${name}" is missing`);
  }
  if (typeof header.b64 !== 'boolean')
    throw new jose.JWSInvalid('The "b64" (base64url-encode payload) Header Parameter must be a boolean');
  return header.b64;
}
