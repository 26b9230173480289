/**
 * Which URLs we are willing to fetch keys and metadata from. Plain http lets anyone on the path
 * swap the keys we trust, so it is allowed only for loopback hosts (tests, local IdPs) or when the
 * user opts in explicitly.
 */

const LOOPBACK_HOSTS = new Set(['localhost', '[::1]', '::1']);

export function isLoopbackHost(hostname: string): boolean {
  return LOOPBACK_HOSTS.has(hostname) || /^127(?:\.\d{1,3}){3}$/.test(hostname);
}

/**
 * Parses `value` as an absolute http(s) URL that the policy allows, or throws a TypeError whose
 * message names the option and says how to fix it.
 */
export function parseTrustedUrl(value: unknown, option: string, allowHttp: boolean): URL {
  if (typeof value !== 'string' && !(value instanceof URL)) {
    throw new TypeError(`revocable-jwt: \`${option}\` must be a URL string, e.g. 'https://idp.example.com/'`);
  }
  let url: URL;
  try {
    url = new URL(String(value));
  } catch {
    throw new TypeError(`revocable-jwt: \`${option}\` is not a valid absolute URL: ${JSON.stringify(String(value))}`);
  }
  if (url.protocol === 'https:') return url;
  if (url.protocol === 'http:') {
    if (allowHttp || isLoopbackHost(url.hostname)) return url;
    throw new TypeError(
      `revocable-jwt: \`${option}\` uses http on a non-loopback host (${url.host}); use https, ` +
        'or pass `allowHttp: true` if you really trust the network path',
    );
  }
  throw new TypeError(`revocable-jwt: \`${option}\` must use https (got ${url.protocol})`);
}

/**
 * An issuer identifier (RFC 8414 §2): a trusted URL with no userinfo, query or fragment. Such a
 * URL can never equal the `issuer` of any IdP's metadata, so it would only fail later, on every
 * request; refuse it now. The offending part is never echoed (userinfo or a query may hold a secret).
 */
export function parseIssuerUrl(value: unknown, option: string, allowHttp: boolean): URL {
  const url = parseTrustedUrl(value, option, allowHttp);
  const raw = String(value);
  const part =
    url.username !== '' || url.password !== '' || /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*@/i.test(raw)
      ? 'userinfo (user:password@)'
      : raw.includes('?')
        ? 'a query (?...)'
        : raw.includes('#')
          ? 'a fragment (#...)'
          : undefined;
  if (part !== undefined) {
    throw new TypeError(
      `revocable-jwt: \`${option}\` must not contain ${part}: an issuer identifier is an https URL without userinfo, ` +
        "query or fragment (RFC 8414 §2); copy the exact `issuer` value from the IdP's metadata",
    );
  }
  return url;
}
