/** What an IdP that echoes our request could send back: every spelling of a token or secret. */

export const b64 = (text: string, url = false) => Buffer.from(text, 'utf8').toString(url ? 'base64url' : 'base64');
/** application/x-www-form-urlencoded, as URLSearchParams writes it. */
export const formEnc = (text: string) => new URLSearchParams({ v: text }).toString().slice(2);
/** RFC 6749 §2.3.1's encoding for Basic credentials: encodeURIComponent, then space as '+'. */
export const basicEnc = (text: string) => encodeURIComponent(text).replace(/%20/g, '+');

/**
 * Every spelling of `value` that must not be left: raw, percent/form-encoded (either case of hex),
 * and base64/base64url of each of those, whole or 3-byte-aligned inside a longer base64 text.
 */
export function spellings(value: string): string[] {
  const lower = (text: string) => text.replace(/%[0-9A-F]{2}/g, (h) => h.toLowerCase());
  const texts = [value, encodeURIComponent(value), formEnc(value), basicEnc(value)];
  const out = [...texts, ...texts.map(lower)];
  for (const text of texts) {
    const bytes = Buffer.from(text, 'utf8');
    out.push(b64(text), b64(text, true));
    for (let shift = 0; shift < 3; shift++) {
      const whole = bytes.subarray(shift, shift + Math.floor((bytes.length - shift) / 3) * 3);
      out.push(whole.toString('base64'), whole.toString('base64url'));
    }
  }
  return out;
}

/**
 * Our credentials exactly as the IdP received them, whatever encoding the sender chose: the Basic
 * payload, its decoding and its secret half, and `client_secret` as it appeared in the body. The
 * scrubber must cut these too, so a change on the sending side cannot silently outrun it.
 */
export function receivedCredentials(request: { headers: { authorization?: string | undefined }; body: string }) {
  const found: string[] = [];
  const basic = /^Basic (.+)$/.exec(request.headers.authorization ?? '')?.[1];
  if (basic) {
    const decoded = Buffer.from(basic, 'base64').toString('utf8');
    found.push(basic, decoded, decoded.slice(decoded.indexOf(':') + 1));
  }
  const formSecret = /(?:^|&)client_secret=([^&]+)/.exec(request.body)?.[1];
  if (formSecret) found.push(formSecret);
  const jsonSecret = /"client_secret":"((?:[^"\\]|\\.)*)"/.exec(request.body)?.[1];
  if (jsonSecret) found.push(jsonSecret);
  return found;
}
