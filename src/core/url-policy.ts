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
