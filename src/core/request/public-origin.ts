/**
 * The public origin of this server: the scheme, host and port clients reach it at, configured
 * rather than read from the request. Behind a proxy or load balancer the request's own `Host`
 * is whatever the proxy sent, and a client can put anything there; where the absolute request URL
 * matters (DPoP `htu`, RFC 9449 §4.3), it is this origin followed by the request's path and query.
 */
import type { RequestLike } from './request-like.js';

/**
 * A validated public origin, and the absolute URL of a request under it.
 *
 * @example
 * ```ts
 * import { publicOrigin, type PublicOrigin } from 'revocable-jwt';
 * const site: PublicOrigin = publicOrigin('https://API.example.com:443/');
 * site.origin; // 'https://api.example.com'
 * site.urlOf({ url: '/notes?page=2' }); // 'https://api.example.com/notes?page=2', whatever `Host` said
 * ```
 */
export interface PublicOrigin {
  /** The origin, serialized: lower-case scheme and host, default port left out (`https://api.example.com`). */
  readonly origin: string;
  /**
   * The absolute URL of `request` under this origin: the origin, then the request's path and
   * query. An absolute-form target (`GET http://host/path`, as sent to proxies) keeps its path and
   * query, never its host. `undefined` when the request has no path (`*`, an absent or garbled `url`).
   */
  urlOf(request: Pick<RequestLike, 'url'>): string | undefined;
}

/**
 * Checks `origin` (scheme `http` or `https`, a host, an optional port; no path, query, fragment or
 * credentials) and returns it with {@link PublicOrigin.urlOf}. `factory` names the caller in the
 * error message. Does not: check that the host resolves, or that it is this server.
 *
 * @throws TypeError saying what to change, for anything but a bare origin.
 *
 * @example
 * ```ts
 * import { publicOrigin } from 'revocable-jwt';
 * const site = publicOrigin('https://api.example.com');
 * site.urlOf({ url: '/notes?page=2' }); // 'https://api.example.com/notes?page=2'
 * publicOrigin('https://api.example.com/v1'); // TypeError: … drop the path `/v1` …
 * ```
 */
export function publicOrigin(origin: string, factory = 'publicOrigin'): PublicOrigin {
  const serialized = parseOrigin(origin, factory);
  return Object.freeze({
    origin: serialized,
    urlOf(request: Pick<RequestLike, 'url'>): string | undefined {
      const target = request.url;
      if (typeof target !== 'string' || target === '') return undefined;
      if (target.charCodeAt(0) === 0x2f /* '/' */) return serialized + target;
      if (!URL.canParse(target)) return undefined;
      const absolute = new URL(target);
      return absolute.protocol === 'http:' || absolute.protocol === 'https:'
        ? serialized + absolute.pathname + absolute.search
        : undefined;
    },
  });
}

const EXAMPLE = "e.g. 'https://api.example.com'";

function parseOrigin(origin: unknown, factory: string): string {
  const wrong = (why: string): TypeError =>
    new TypeError(
      `revocable-jwt: \`origin\` in ${factory} must be the public origin clients reach this server at, ` +
        `scheme and host (and port) only, ${EXAMPLE}: ${why}`,
    );
  if (typeof origin !== 'string' || origin === '')
    throw wrong(`got ${origin === '' ? 'an empty string' : typeof origin}`);
  if (!URL.canParse(origin)) throw wrong(`'${origin}' is not an absolute URL (is the scheme missing?)`);
  const url = new URL(origin);
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw wrong(`the scheme must be https (or http), not ${url.protocol.slice(0, -1)}`);
  }
  if (url.username !== '' || url.password !== '') throw wrong('remove the user name and password');
  if (url.pathname !== '/') throw wrong(`drop the path \`${url.pathname}\` (the request's own path is added to it)`);
  if (url.search !== '' || url.hash !== '' || /[?#]/.test(origin)) throw wrong('drop the query and fragment');
  return url.origin;
}
