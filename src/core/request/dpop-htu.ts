/**
 * The `htu` of a DPoP proof (RFC 9449 §4.3) against the request it came with: both are the HTTP
 * URI without query and fragment, compared after RFC 3986 §6.2.2 normalisation, so that
 * `HTTPS://API.example.com:443/a/%7euser` and `https://api.example.com/a/~user` are one URI. The
 * request's URI is the configured public URL followed by the request's path, never the `Host` or
 * `X-Forwarded-*` headers, which a client or proxy chooses.
 */
import type { RequestLike } from './request-like.js';

/**
 * `value` as an http(s) URI without query and fragment, normalised: scheme and host lower-case,
 * default port left out, dot segments removed, an empty path as `/` (the WHATWG URL parser does
 * these), percent-encodings of unreserved characters decoded and the others upper-cased (RFC 3986
 * §6.2.2.2). `undefined` for anything else: not absolute, another scheme, or with userinfo (which
 * the origin would silently drop).
 */
export function normalizedHttpUri(value: string): string | undefined {
  if (!URL.canParse(value)) return undefined;
  const url = new URL(value);
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return undefined;
  if (url.username !== '' || url.password !== '') return undefined;
  return url.origin + normalizePercentEncoding(url.pathname);
}

/**
 * The URI a proof must name for `request` under `base` (`https://api.example.com` or with a base
 * path): the base, then the request's path (Express's `originalUrl` when a router stripped a mount
 * path from `url`), without the query; normalised. `undefined` when the request has no usable path.
 */
export function expectedHtu(base: string, request: Pick<RequestLike, 'url' | 'originalUrl'>): string | undefined {
  const target = request.originalUrl ?? request.url;
  if (typeof target !== 'string' || target === '') return undefined;
  let path: string;
  if (target.charCodeAt(0) === 0x2f /* '/' */) {
    // `//evil.example/x` is a path here, not an authority: the base keeps the host.
    const end = target.search(/[?#]/);
    path = end === -1 ? target : target.slice(0, end);
  } else {
    // An absolute-form target (`GET http://host/path`, as sent to proxies): its path only.
    if (!URL.canParse(target)) return undefined;
    const absolute = new URL(target);
    if (absolute.protocol !== 'http:' && absolute.protocol !== 'https:') return undefined;
    path = absolute.pathname;
  }
  return normalizedHttpUri(base + path);
}

const PERCENT_ENCODED = /%([0-9A-Fa-f]{2})/g;
/** RFC 3986 §2.3 unreserved: ALPHA / DIGIT / "-" / "." / "_" / "~". */
const UNRESERVED = /^[A-Za-z0-9\-._~]$/;

function normalizePercentEncoding(path: string): string {
  if (path.indexOf('%') === -1) return path;
  return path.replace(PERCENT_ENCODED, (encoded, hex: string) => {
    const char = String.fromCharCode(Number.parseInt(hex, 16));
    return UNRESERVED.test(char) ? char : encoded.toUpperCase();
  });
}
