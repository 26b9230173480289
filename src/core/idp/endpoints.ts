/**
 * Where the IdP's endpoints are: a configured URL wins, else the member of the issuer's metadata
 * (discovery), checked against our URL policy. One resolver for all three endpoints; what differs
 * is only how a failure is told to the part that asked:
 *   - `jwks()`: a MisconfiguredError, and the unusable metadata document is forgotten (so a fixed
 *     one is picked up after the backoff); watched as the `keys` misconfiguration;
 *   - `revocation()`: a non-transient RevocationError around the MisconfiguredError (no retry fixes
 *     a configuration); not watched here: the revocation call itself can reveal a misconfiguration
 *     too (the IdP rejecting our client), so the revoker watches resolution and call together;
 *   - `introspection()`: a MisconfiguredError, not watched here either, for the same reason (401/403).
 */
import { MisconfiguredError } from '../shared/errors.js';
import type { MisconfigurationMonitor } from '../shared/misconfiguration.js';
import type { IssuerMetadata, MetadataSource } from './discovery.js';
import { RevocationError } from './revocation-client.js';
import { parseTrustedUrl } from './url-policy.js';

/** What {@link createEndpoints} resolves from. */
export interface IdpEndpointsOptions {
  /** The issuer's metadata, asked only for an endpoint that is not configured. */
  metadata: MetadataSource;
  /** `jwksUri`, if configured. */
  jwksUri: URL | undefined;
  /** `revocation.endpoint`, if configured. */
  revocationEndpoint: URL | undefined;
  /** `introspection.endpoint`, if configured. */
  introspectionEndpoint: URL | undefined;
  /** Plain http allowed on non-loopback hosts (see url-policy.ts). */
  allowHttp: boolean;
  /** Where a discovered JWKS endpoint that cannot work is reported (and cleared once one resolves). */
  misconfiguration: MisconfigurationMonitor;
}

/** The IdP's endpoints, each resolved on demand (discovery is lazy: an API may start while its IdP is down). */
export interface IdpEndpoints {
  /** The JWKS URL; rejects with a MisconfiguredError, or the metadata's own error (IdpUnavailableError). */
  jwks(): Promise<URL>;
  /** The RFC 7009 revocation endpoint; rejects with a non-transient RevocationError when misconfigured. */
  revocation(): Promise<URL>;
  /** The RFC 7662 introspection endpoint; rejects with a MisconfiguredError, or the metadata's own error. */
  introspection(): Promise<URL>;
}

/** The member of the metadata naming each endpoint. */
type EndpointMember = 'jwks_uri' | 'revocation_endpoint' | 'introspection_endpoint';

/**
 * The endpoints of one issuer.
 *
 * @example
 * const endpoints = createEndpoints({ metadata, jwksUri: undefined, revocationEndpoint: undefined,
 *   introspectionEndpoint: undefined, allowHttp: false, misconfiguration });
 * const keysAt = await endpoints.jwks(); // jwks_uri from discovery
 */
export function createEndpoints(options: IdpEndpointsOptions): IdpEndpoints {
  const { metadata, allowHttp, misconfiguration } = options;

  /** The member as a trusted URL; a TypeError (our URL policy's message) when missing or refused. */
  const parse = (document: IssuerMetadata, member: EndpointMember): URL =>
    parseTrustedUrl(document[member], `${member} (from discovery)`, allowHttp);

  async function discoveredJwks(): Promise<URL> {
    const document = await metadata.get();
    try {
      return parse(document, 'jwks_uri');
    } catch (cause) {
      // Our URL policy refuses it (or it is missing): no retry fixes that. The document is
      // forgotten all the same, so a fixed one is picked up after the backoff.
      const error = new MisconfiguredError(
        `the issuer metadata has no usable jwks_uri (${unprefixed(cause)}); ` +
          'set `jwksUri`, or `allowHttp` if its http is intended',
        { cause },
      );
      metadata.invalidate(error);
      throw error;
    }
  }

  async function discoveredRevocation(): Promise<URL> {
    // Not retried (transient: false): no retry fixes a configuration; the cause says what to fix.
    const misconfigured = (cause: MisconfiguredError) =>
      new RevocationError(cause.message, { transient: false, cause });
    let document: IssuerMetadata;
    try {
      document = await metadata.get();
    } catch (error) {
      throw error instanceof MisconfiguredError ? misconfigured(error) : error;
    }
    if (typeof document.revocation_endpoint !== 'string') {
      throw misconfigured(
        new MisconfiguredError('the issuer metadata has no revocation_endpoint; set `revocation.endpoint`'),
      );
    }
    try {
      return parse(document, 'revocation_endpoint');
    } catch (error) {
      throw misconfigured(new MisconfiguredError((error as Error).message, { cause: error }));
    }
  }

  async function discoveredIntrospection(): Promise<URL> {
    const document = await metadata.get();
    try {
      return parse(document, 'introspection_endpoint');
    } catch (cause) {
      throw new MisconfiguredError(
        `the issuer metadata has no usable introspection_endpoint (${unprefixed(cause)}); ` +
          'set `introspection.endpoint`',
        { cause },
      );
    }
  }

  return {
    jwks: () => (options.jwksUri ? Promise.resolve(options.jwksUri) : misconfiguration.watch('keys', discoveredJwks)),
    revocation: () =>
      options.revocationEndpoint ? Promise.resolve(options.revocationEndpoint) : discoveredRevocation(),
    introspection: () =>
      options.introspectionEndpoint ? Promise.resolve(options.introspectionEndpoint) : discoveredIntrospection(),
  };
}

/** A nested message without its own `revocable-jwt: ` prefix. */
function unprefixed(error: unknown): string {
  return String((error as Error)?.message ?? error).replace(/^revocable-jwt: /, '');
}
