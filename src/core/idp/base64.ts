/**
 * Base64 (RFC 4648 §4 and §5) of text's UTF-8 bytes, and back, with Web-standard APIs only
 * (`btoa`/`atob`, `TextEncoder`/`TextDecoder`): the core runs on workerd, Deno and Bun too. Used
 * for client credentials and the echoes of them an IdP may send back, never on a request's hot path.
 */
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The UTF-8 bytes of `text`. */
export function utf8Bytes(text: string): Uint8Array {
  return encoder.encode(text);
}

/** Standard base64 of `bytes`, padded. */
export function base64(bytes: Uint8Array): string {
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}

/** URL-safe base64 of `bytes`, unpadded. */
export function base64url(bytes: Uint8Array): string {
  return base64(bytes).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** The text whose UTF-8 bytes standard base64 `encoded` holds. */
export function textOfBase64(encoded: string): string {
  return decoder.decode(Uint8Array.from(atob(encoded), (char) => char.charCodeAt(0)));
}
