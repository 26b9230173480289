/**
 * Text an IdP sends back (`error`, `error_description`) ends up in error messages, the outbox's
 * `lastError`, events and logs. IdPs echo what we sent, and not only verbatim: form-encoded,
 * percent-encoded, JSON-escaped, or base64 (an echoed `Authorization` header, a dumped body).
 * Every such copy of the token and of every credential we sent is cut out here, in one place,
 * for revocation and introspection alike.
 */
import { base64, base64url, textOfBase64, utf8Bytes } from './base64.js';
import { basicCredentials, type ClientAuthConfig } from './client-auth.js';

const REDACTED = '[redacted]';
/** Shorter fragments are not cut: they would mangle ordinary words and carry too little to matter. */
const MIN_FRAGMENT = 6;

/**
 * The secrets of one request: the token, the client credentials the request carried, and what the
 * endpoint's URL may hold (a query's API key, userinfo), which an IdP echoing the request line
 * would otherwise bring back into messages that name the endpoint by origin and path only.
 */
export function sentSecrets(token: string | undefined, client: ClientAuthConfig | undefined, endpoint?: URL): string[] {
  const secrets: string[] = [];
  if (endpoint !== undefined) {
    secrets.push(endpoint.username, endpoint.password, endpoint.search.slice(1));
    for (const [name, value] of endpoint.searchParams) secrets.push(value, `${name}=${value}`);
  }
  if (token) secrets.push(token, ...token.split('.').filter((part) => part.length >= 16));
  if (client?.clientSecret) {
    secrets.push(client.clientSecret);
    if (client.authMethod === 'client_secret_basic' && client.clientId) {
      // The header's base64 payload is `id:secret`, both form-encoded first (RFC 6749 §2.3.1).
      const header = basicCredentials(client.clientId, client.clientSecret);
      secrets.push(header.slice('Basic '.length), textOfBase64(header.slice('Basic '.length)));
    }
  }
  return secrets;
}

/** A function that replaces every encoding of every secret in `text` with `[redacted]`. */
export function scrubber(secrets: readonly string[]): (text: string) => string {
  const variants = new Set<string>();
  for (const secret of secrets)
    for (const variant of encodings(secret)) if (variant.length >= MIN_FRAGMENT) variants.add(variant);
  // Longest first, so a whole copy goes before a fragment of it could split it.
  const ordered = [...variants].sort((a, b) => b.length - a.length);
  return (text) => {
    let out = text;
    for (const variant of ordered) if (out.includes(variant)) out = out.split(variant).join(REDACTED);
    return out;
  };
}

/** `error` and `error_description` of an OAuth error body, scrubbed and bounded; {} for anything else. */
export function readOAuthError(
  text: string,
  secrets: readonly string[],
): { error?: string; error_description?: string } {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return {};
  }
  if (typeof body !== 'object' || body === null) return {};
  const { error, error_description } = body as Record<string, unknown>;
  const scrub = scrubber(secrets);
  // Scrub before cutting: a cut could leave a copy too short to recognise.
  return {
    ...(typeof error === 'string' ? { error: scrub(error).slice(0, 100) } : {}),
    ...(typeof error_description === 'string' ? { error_description: scrub(error_description).slice(0, 300) } : {}),
  };
}

/** The spellings of `value` an echo can carry. */
function encodings(value: string): string[] {
  const lowerHex = (text: string) => text.replace(/%[0-9A-F]{2}/g, (hex) => hex.toLowerCase());
  const json = JSON.stringify(value).slice(1, -1);
  // As sent (form body, JSON body, Basic credentials) and as an IdP may re-encode it.
  const texts = new Set([
    value,
    encodeURIComponent(value),
    encodeURIComponent(value).replace(/%20/g, '+'),
    new URLSearchParams({ v: value }).toString().slice(2),
    json,
    json.replace(/\//g, '\\/'),
  ]);
  const out = new Set<string>();
  for (const text of texts) {
    out.add(text).add(lowerHex(text));
    const bytes = utf8Bytes(text);
    out.add(base64(bytes)).add(base64url(bytes));
    // Inside a longer base64 text (a dumped body or header) the value starts at one of three byte
    // alignments; for each, the groups that hold only its bytes are spelled the same everywhere.
    for (let shift = 0; shift < 3; shift++) {
      const whole = bytes.subarray(shift, shift + Math.floor((bytes.length - shift) / 3) * 3);
      out.add(base64(whole)).add(base64url(whole));
    }
  }
  return [...out];
}
