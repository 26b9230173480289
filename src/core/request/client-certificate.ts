/**
 * A client certificate as RFC 8705 §3.1 compares it: the SHA-256 of its DER bytes, base64url
 * (`x5t#S256`). The certificate comes as DER bytes (Node's TLS socket), PEM text, an object with
 * its DER as `raw`, or a header field a trusted proxy wrote (certificate-header.ts). Only its
 * outer shape is checked (one DER SEQUENCE, exactly as long as its bytes): the thumbprint is over
 * the bytes, and the TLS handshake, not this parse, is what proved the client holds its key.
 * Web-standard only (`atob`), like the rest of the core.
 */
import { sha256OfBytes } from '../shared/sha256.js';
import type { ClientCertificate } from './request-like.js';

/**
 * PEM certificate blocks, one or more, whitespace allowed between and inside their base64 bodies
 * (RFC 7468 §2), nothing else.
 */
const PEM_CHAIN = /^(?:\s*-----BEGIN CERTIFICATE-----[A-Za-z0-9+/=\s]+-----END CERTIFICATE-----)+\s*$/;
const PEM_BLOCK = /-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]+)-----END CERTIFICATE-----/g;
/** Standard base64 (RFC 4648 §4) characters, padded or not; `atob` refuses a wrong length. */
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

// Thumbprints of certificate objects already seen: Node hands the same DER bytes for every
// request on a connection (glue/peer-certificate.ts keeps them), so a connection hashes once.
// `null`: not a certificate.
const thumbprints = new WeakMap<object, string | null>();

/**
 * The RFC 8705 `x5t#S256` thumbprint of a client certificate: base64url of the SHA-256 of its DER
 * bytes, the value an authorization server puts in a bound token's `cnf` claim.
 *
 * Does not: validate the certificate (chain, validity dates, key usage): binding needs only the
 * bytes the client presented, and your TLS server decides which certificates it accepts.
 *
 * @throws TypeError when `certificate` is not a DER certificate or PEM `CERTIFICATE` blocks (a chain:
 * the first is the one hashed).
 *
 * @example
 * ```ts
 * import { X509Certificate } from 'node:crypto';
 * import { readFileSync } from 'node:fs';
 * import { certificateThumbprint } from 'revocable-jwt';
 * const pem = readFileSync('client.crt', 'utf8');
 * certificateThumbprint(pem) === certificateThumbprint(new X509Certificate(pem)); // true: the same DER
 * ```
 */
export function certificateThumbprint(certificate: ClientCertificate): string {
  const thumbprint = thumbprintOf(certificate);
  if (thumbprint === null) {
    throw new TypeError(
      'revocable-jwt: certificateThumbprint() needs a certificate: its DER bytes, PEM CERTIFICATE block(s), ' +
        'or an object with its DER as `raw` (an X509Certificate)',
    );
  }
  return thumbprint;
}

/** {@link certificateThumbprint}, or `null` when `certificate` is not one (never throws). */
export function thumbprintOf(certificate: ClientCertificate): string | null {
  if (typeof certificate === 'string') {
    const der = derOfPem(certificate);
    return der === null ? null : sha256OfBytes(der);
  }
  if (typeof certificate !== 'object' || certificate === null) return null;
  let thumbprint = thumbprints.get(certificate);
  if (thumbprint === undefined) {
    const der = certificate instanceof Uint8Array ? certificate : (certificate as { raw?: unknown }).raw;
    thumbprint = der instanceof Uint8Array && isDerSequence(der) ? sha256OfBytes(der) : null;
    thumbprints.set(certificate, thumbprint);
  }
  return thumbprint;
}

/**
 * The DER bytes of the first certificate of PEM text holding only `CERTIFICATE` blocks (a chain
 * starts with the client's own, as TLS sends it, RFC 8446 §4.4.2), or `null` when the text holds
 * anything else or any block is not a DER certificate.
 */
export function derOfPem(text: string): Uint8Array | null {
  if (!PEM_CHAIN.test(text)) return null;
  let first: Uint8Array | null = null;
  for (const [, body] of text.matchAll(PEM_BLOCK)) {
    const der = derOfBase64(body!.replace(/\s+/g, ''));
    if (der === null) return null;
    first ??= der;
  }
  return first;
}

/** The DER bytes that standard base64 `encoded` holds, if they are one DER SEQUENCE; else `null`. */
export function derOfBase64(encoded: string): Uint8Array | null {
  if (!BASE64.test(encoded) || (encoded.endsWith('=') && encoded.length % 4 !== 0)) return null;
  let binary: string;
  try {
    binary = atob(encoded);
  } catch {
    return null; // one character too many or too few (length % 4 === 1)
  }
  const der = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) der[i] = binary.charCodeAt(i); // Uint8Array.from(…, fn) is ~20x slower
  return isDerSequence(der) ? der : null;
}

/**
 * Whether `bytes` are exactly one DER SEQUENCE (an X.509 certificate's outer shape): tag 0x30,
 * a definite minimal length, and no byte before or after.
 */
export function isDerSequence(bytes: Uint8Array): boolean {
  if (bytes.length < 2 || bytes[0] !== 0x30) return false;
  const first = bytes[1]!;
  if (first < 0x80) return 2 + first === bytes.length;
  const octets = first & 0x7f;
  if (octets === 0 || octets > 4 || bytes.length < 2 + octets || bytes[2] === 0) return false;
  let length = 0;
  for (let i = 0; i < octets; i++) length = length * 256 + bytes[2 + i]!;
  return length >= 0x80 && 2 + octets + length === bytes.length;
}
