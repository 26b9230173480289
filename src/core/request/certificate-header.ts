/**
 * The client certificate a trusted TLS-terminating proxy forwards in a header field of its own
 * (`mtls.certificateHeader`). Read only when configured: anyone can send any header, so the
 * field means something only when the proxy overwrites it on every request.
 *
 * Three shapes, told apart by their first character and each parsed strictly:
 * - URL-encoded PEM (`-----BEGIN%20CERTIFICATE-----…`): nginx `$ssl_client_escaped_cert`, Envoy
 *   `%DOWNSTREAM_PEER_CERT%`, AWS ALB `X-Amzn-Mtls-Clientcert-Leaf` (verify mode) and
 *   `X-Amzn-Mtls-Clientcert` (passthrough mode: the chain, the client's certificate first);
 * - RFC 9440 `Client-Cert`: the DER as a structured-field byte sequence (`:MIIB…:`);
 * - bare base64 of the DER: HAProxy `%[ssl_c_der,base64]`, Caddy
 *   `{http.request.tls.client.certificate_der_base64}`.
 * A repeated field, a chain in the base64 shapes, or anything else is malformed.
 */
import { derOfBase64, derOfPem } from './client-certificate.js';
import type { HeaderValue } from './request-like.js';

/** RFC 8941 §3.3.5 byte sequence: base64 between colons. */
const BYTE_SEQUENCE = /^:([A-Za-z0-9+/=]*):$/;

/**
 * The DER bytes of the certificate in header field `value`: `undefined` when the field is absent
 * or empty (the proxy saw no certificate: nginx sends an empty value), `null` when it holds
 * anything but one certificate in one of the shapes above.
 */
export function forwardedCertificate(value: HeaderValue): Uint8Array | undefined | null {
  if (value === undefined) return undefined;
  if (typeof value !== 'string') return null; // sent twice: which one did the proxy write?
  const field = value.trim();
  if (field === '') return undefined;
  if (field.startsWith('-----BEGIN')) {
    let pem: string;
    try {
      pem = decodeURIComponent(field);
    } catch {
      return null; // a stray `%`
    }
    return derOfPem(pem);
  }
  const sequence = BYTE_SEQUENCE.exec(field);
  return derOfBase64(sequence === null ? field : sequence[1]!);
}
