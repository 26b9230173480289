/**
 * Issuer metadata discovery: OpenID Connect Discovery first, then RFC 8414. Lazy (an API must be
 * able to start while its IdP is down), single-flight, cached once it succeeds, and backed off
 * while it fails.
 *
 * Not oauth4webapi's processDiscoveryResponse (evaluated for issue 11): it compares issuers as parsed
 * URLs, so metadata for `issuer/`, `ISSUER` or `host/x/../path` passes as ours; RFC 8414 §3.3 wants them identical.
 */
import { FailureBackoff } from '../shared/backoff.js';
import { IdpUnavailableError, MisconfiguredError } from '../shared/errors.js';
import { fetchJson, HttpRequestError, type FetchLike } from './http-client.js';

export interface IssuerMetadata {
  issuer: string;
  jwks_uri?: string;
  revocation_endpoint?: string;
  introspection_endpoint?: string;
  [member: string]: unknown;
}

export interface MetadataSourceOptions {
  issuer: string;
  fetch: FetchLike;
  /** Each request, in ms. */
  timeoutMs: number;
  now: () => number;
  signal: AbortSignal;
}

export interface MetadataSource {
  /**
   * Resolves the metadata, or rejects with {@link IdpUnavailableError} (cause says why) while the
   * IdP cannot be reached, or with {@link MisconfiguredError} when it answers and the answer shows
   * our configuration cannot work (metadata of another issuer, no metadata at all).
   */
  get(): Promise<IssuerMetadata>;
  /**
   * Forgets the cached document (it proved unusable); the next `get()` discovers again, backed
   * off. A MisconfiguredError `reason` is what `get()` rejects with meanwhile.
   */
  invalidate(reason?: unknown): void;
  readonly fetches: number;
}

const MAX_METADATA_BYTES = 256 * 1024;

/** The two well-known locations for `issuer`, in the order we try them. */
export function metadataUrls(issuer: string): string[] {
  const url = new URL(issuer);
  const path = url.pathname.replace(/\/+$/, '');
  return [
    `${url.origin}${path}/.well-known/openid-configuration`,
    // RFC 8414 §3.1 inserts the well-known segment between host and path.
    `${url.origin}/.well-known/oauth-authorization-server${path}`,
  ];
}

export function createMetadataSource(options: MetadataSourceOptions): MetadataSource {
  const backoff = new FailureBackoff(1_000, 30_000, options.now);
  let cached: IssuerMetadata | undefined;
  let pending: Promise<IssuerMetadata> | undefined;
  let lastError: unknown;
  let fetches = 0;

  async function discover(): Promise<IssuerMetadata> {
    let notFound: unknown;
    for (const url of metadataUrls(options.issuer)) {
      let body: Record<string, unknown>;
      try {
        fetches += 1;
        body = await fetchJson(url, {
          fetch: options.fetch,
          timeoutMs: options.timeoutMs,
          maxBytes: MAX_METADATA_BYTES,
          signal: options.signal,
        });
      } catch (error) {
        // A 4xx means "not here": try the next well-known location. Anything else means the
        // IdP is unreachable, and trying more URLs would only double the wait.
        if (error instanceof HttpRequestError && !error.transient) {
          notFound = error;
          continue;
        }
        throw error;
      }
      if (body.issuer !== options.issuer) {
        // Mix-up defence (RFC 8414 §3.3): metadata must be about exactly our issuer.
        // The IdP answered, and it is not the issuer we were told to trust: a configuration error.
        throw new MisconfiguredError(
          `metadata at ${url} is for issuer ${JSON.stringify(body.issuer)}, ` +
            `not the configured ${JSON.stringify(options.issuer)}; ` +
            'fix `issuer` (it must match exactly, trailing slash included)',
        );
      }
      return body as IssuerMetadata;
    }
    // The IdP's host answered 4xx (not 429) at both well-known locations: the issuer is wrong, or it
    // publishes no metadata. Retrying will not fix either.
    throw new MisconfiguredError(
      `no discovery document found for ${options.issuer} (${(notFound as Error).message}); ` +
        'check `issuer`, or pass `jwksUri` explicitly',
      { cause: notFound },
    );
  }

  return {
    get fetches() {
      return fetches;
    },
    invalidate(reason?: unknown): void {
      if (!cached) return;
      cached = undefined;
      if (reason !== undefined) lastError = reason;
      backoff.recordFailure();
    },
    get(): Promise<IssuerMetadata> {
      if (cached) return Promise.resolve(cached);
      if (pending) return pending;
      const wait = backoff.waitMs;
      if (wait > 0) {
        if (lastError instanceof MisconfiguredError) return Promise.reject(lastError);
        return Promise.reject(
          new IdpUnavailableError('The identity provider metadata is unavailable', wait / 1000, { cause: lastError }),
        );
      }
      pending = discover().then(
        (metadata) => {
          cached = metadata;
          backoff.recordSuccess();
          pending = undefined;
          return metadata;
        },
        (error: unknown) => {
          lastError = error;
          backoff.recordFailure(error instanceof HttpRequestError ? error.retryAfter : undefined);
          pending = undefined;
          if (error instanceof MisconfiguredError) throw error;
          throw new IdpUnavailableError(
            'The identity provider metadata is unavailable',
            Math.max(1, backoff.waitMs / 1000),
            { cause: error },
          );
        },
      );
      return pending;
    },
  };
}
