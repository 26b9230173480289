/**
 * RFC 9728 (OAuth 2.0 Protected Resource Metadata): the document that tells a client which
 * authorization servers issue tokens for this resource and how to present them, served at
 * `/.well-known/oauth-protected-resource` followed by the resource identifier's path (§3.1). MCP
 * servers must serve it; guards point at it with `resourceMetadata` in their challenges (§5.1).
 *
 * Framework-free: the adapters mount it at {@link ProtectedResourceMetadataHandler.path} and write
 * its answer. GET and HEAD get the document (public, cacheable, `Access-Control-Allow-Origin: *`:
 * browser-based clients read it cross-origin, and it holds nothing secret); OPTIONS gets the CORS
 * preflight answer; any other method 405.
 */
import { parseTrustedUrl } from '../idp/url-policy.js';
import { durationSeconds } from '../shared/duration-option.js';
import { optionKeys, rejectUnknownKeys } from '../shared/option-keys.js';
import { ASYMMETRIC_ALGORITHMS } from '../verify/options.js';
import type { Verifier } from '../verify/types.js';
import { portOf } from '../verify/verifier-port.js';
import { headerOf, type RequestLike } from './request-like.js';
import type { RouteAnswer } from './route-answer.js';

/**
 * The options of {@link createProtectedResourceMetadataHandler} (and of every adapter's
 * `protectedResourceMetadata`). Only `resource` is required; unknown keys are refused.
 *
 * @example
 * ```ts
 * import type { ProtectedResourceMetadataOptions } from 'revocable-jwt';
 * const options: ProtectedResourceMetadataOptions = {
 *   resource: 'https://api.example.com',
 *   verifier, // authorization_servers: its issuers
 *   scopesSupported: ['notes:read', 'notes:write'],
 *   resourceName: 'Notes API',
 * };
 * ```
 */
export interface ProtectedResourceMetadataOptions {
  /**
   * This resource's identifier, served exactly as given (RFC 9728 §3.3: a client compares it with
   * the URL it fetched the document for): an https URL (http only on loopback, for development)
   * without userinfo, query or fragment. Its path decides where the document is served, so it
   * holds only letters, digits, `-`, `.`, `_`, `~` and `/` (what every router matches literally).
   */
  resource: string;
  /** The verifier of this resource's guards: `authorization_servers` defaults to its issuers. */
  verifier?: Verifier;
  /** `authorization_servers`: issuer identifiers of the authorization servers (default: the verifier's issuers). */
  authorizationServers?: string[];
  /** `scopes_supported`: the scopes this resource understands. */
  scopesSupported?: string[];
  /** `resource_name`: a human-readable name. */
  resourceName?: string;
  /** `resource_documentation`: a URL of documentation for developers. */
  resourceDocumentation?: string;
  /** `resource_policy_uri`: a URL of the data-use policy. */
  resourcePolicyUri?: string;
  /** `resource_tos_uri`: a URL of the terms of service. */
  resourceTosUri?: string;
  /**
   * `dpop_signing_alg_values_supported` (RFC 9449): the DPoP proof algorithms accepted. Default:
   * the `verifier`'s `dpop.algorithms` when it has a `publicUrl` (what guards need to take DPoP
   * requests), else absent.
   */
  dpopSigningAlgValuesSupported?: string[];
  /**
   * `dpop_bound_access_tokens_required` (RFC 9449): whether every token must be DPoP-bound. A
   * guard's `dpop: 'required'` is a route's setting, not the verifier's: say it here. Default absent.
   */
  dpopBoundAccessTokensRequired?: boolean;
  /**
   * `tls_client_certificate_bound_access_tokens` (RFC 8705): whether certificate-bound tokens are
   * supported. Like `dpopBoundAccessTokensRequired`, a route's `mtls` setting: say it here.
   */
  tlsClientCertificateBoundAccessTokens?: boolean;
  /** How long clients and caches may keep the document, in whole seconds (`Cache-Control: max-age`). Default 3600. */
  cacheMaxAge?: number;
}

/**
 * The RFC 9728 document, as served (`bearer_methods_supported` is always `['header']`: tokens in a
 * query or a form body are refused).
 *
 * @example
 * ```ts
 * import { createProtectedResourceMetadataHandler, type ProtectedResourceMetadata } from 'revocable-jwt';
 * const handler = createProtectedResourceMetadataHandler({ resource: 'https://api.example.com', verifier });
 * const document: ProtectedResourceMetadata = handler.metadata;
 * log.info({ servers: document.authorization_servers }, 'who issues our tokens');
 * ```
 */
export interface ProtectedResourceMetadata {
  /** The resource identifier, exactly as configured. */
  readonly resource: string;
  /** Issuer identifiers of the authorization servers. */
  readonly authorization_servers?: readonly string[];
  /** The scopes this resource understands. */
  readonly scopes_supported?: readonly string[];
  /** How a token may be presented: `['header']`. */
  readonly bearer_methods_supported: readonly string[];
  /** A human-readable name. */
  readonly resource_name?: string;
  /** Documentation for developers. */
  readonly resource_documentation?: string;
  /** The data-use policy. */
  readonly resource_policy_uri?: string;
  /** The terms of service. */
  readonly resource_tos_uri?: string;
  /** DPoP proof algorithms accepted (RFC 9449). */
  readonly dpop_signing_alg_values_supported?: readonly string[];
  /** Whether every token must be DPoP-bound (RFC 9449). */
  readonly dpop_bound_access_tokens_required?: boolean;
  /** Whether certificate-bound tokens are supported (RFC 8705). */
  readonly tls_client_certificate_bound_access_tokens?: boolean;
}

/**
 * The metadata step: answers any request it is given (mount it at `path`): 200 with the document
 * for GET and HEAD, 204 for a CORS preflight (OPTIONS), 405 otherwise. Synchronous, no I/O.
 *
 * @example
 * ```ts
 * import { createProtectedResourceMetadataHandler } from 'revocable-jwt';
 * const metadata = createProtectedResourceMetadataHandler({ resource: 'https://api.example.com/notes', verifier });
 * metadata.path; // '/.well-known/oauth-protected-resource/notes'
 * metadata.url; // 'https://api.example.com/.well-known/oauth-protected-resource/notes'
 * const { status, headers, body } = metadata({ method: 'GET', headers: {} });
 * ```
 */
export interface ProtectedResourceMetadataHandler {
  (request: Pick<RequestLike, 'method' | 'headers'>): RouteAnswer;
  /** Where to mount it: `/.well-known/oauth-protected-resource` followed by the resource's path. */
  readonly path: string;
  /** Its absolute URL (the resource's origin, then `path`): what guards pass as `resourceMetadata`. */
  readonly url: string;
  /** The document served (deeply frozen). */
  readonly metadata: ProtectedResourceMetadata;
}

/** The keys the metadata step accepts (any other is refused): one line per option. */
const OPTION_KEYS = optionKeys<ProtectedResourceMetadataOptions>({
  resource: true,
  verifier: true,
  authorizationServers: true,
  scopesSupported: true,
  resourceName: true,
  resourceDocumentation: true,
  resourcePolicyUri: true,
  resourceTosUri: true,
  dpopSigningAlgValuesSupported: true,
  dpopBoundAccessTokensRequired: true,
  tlsClientCertificateBoundAccessTokens: true,
  cacheMaxAge: true,
});

const WELL_KNOWN = '/.well-known/oauth-protected-resource';
/** A URL path every router matches literally: RFC 3986 unreserved characters and `/`. */
const ROUTABLE_PATH = /^[A-Za-z0-9\-._~/]*$/;
const ALLOW = 'GET, HEAD, OPTIONS';
/** RFC 6749 §3.3 scope token. */
const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]+$/;
/** A header-name list a preflight may ask for (`Access-Control-Request-Headers`): tokens and commas. */
const HEADER_LIST = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+(?:[ \t]*,[ \t]*[!#$%&'*+\-.^_`|~0-9A-Za-z]+)*$/;

/**
 * Builds the RFC 9728 metadata step, the framework-free core of `protectedResourceMetadata`.
 * Options are checked here, once; the document is built once.
 *
 * Does not: sign the document (`signed_metadata`), or learn scopes and DPoP settings from guards
 * by itself (pass them).
 *
 * @throws TypeError at construction: no `resource`, a `resource` that is not an https URL (http on
 * loopback) or carries userinfo, a query or a fragment, or whose path has a character other than
 * letters, digits, `-`, `.`, `_`, `~` and `/` (it becomes a route path), an unknown key, a
 * malformed value.
 *
 * @example
 * ```ts
 * import { createProtectedResourceMetadataHandler } from 'revocable-jwt';
 * const metadata = createProtectedResourceMetadataHandler({ resource: 'https://api.example.com', verifier });
 * // Any framework: mount it at metadata.path.
 * export const GET = (request: Request) => {
 *   const { status, headers, body } = metadata({ method: request.method, headers: request.headers });
 *   return Response.json(body, { status, headers });
 * };
 * ```
 */
export function createProtectedResourceMetadataHandler(
  options: ProtectedResourceMetadataOptions,
  factory = 'createProtectedResourceMetadataHandler',
): ProtectedResourceMetadataHandler {
  const fail = (message: string): never => {
    throw new TypeError(`revocable-jwt: ${message} (${factory})`);
  };
  if (typeof options !== 'object' || options === null) fail("needs options: { resource: 'https://api.example.com' }");
  rejectUnknownKeys(options, OPTION_KEYS, factory);
  const { resource } = options;
  if (typeof resource !== 'string' || resource === '')
    fail("`resource` is required: this resource's identifier, e.g. 'https://api.example.com'");
  const url = parseTrustedUrl(resource, 'resource', false);
  if (url.username !== '' || url.password !== '' || resource.includes('?') || resource.includes('#'))
    fail('`resource` must be a URL without userinfo, query or fragment (RFC 9728 §1.2)');
  // The path becomes a route pattern (Express, Connect, Fastify, Hono): characters routers give a
  // meaning (`:` `*` `(` `)` `+` `?` `!` `{`…) or decode before matching (`%`, so any non-ASCII or
  // space) would throw at mount or never match. Only the unreserved characters and `/` mean
  // themselves in every router; escaping per router and version was the alternative, refused
  // because `path` is what users mount by hand.
  if (!ROUTABLE_PATH.test(url.pathname)) {
    fail(
      `\`resource\`'s path (${url.pathname}) becomes the metadata route's path: use letters, digits, ` +
        "'-', '.', '_', '~' and '/' only (routers read ':', '*', '(', ')', '+' and percent-encoded characters as " +
        "patterns), e.g. 'https://api.example.com/mcp'",
    );
  }
  // §3.1: the well-known segment goes between the host and the path; a lone `/` path is dropped.
  const path = WELL_KNOWN + (url.pathname === '/' ? '' : url.pathname);

  const stringList = (value: unknown, name: string, accept: (item: string) => boolean, example: string) => {
    if (value === undefined) return undefined;
    if (!Array.isArray(value) || value.length === 0 || !value.every((v) => typeof v === 'string' && accept(v)))
      fail(`\`${name}\` must be a non-empty array, e.g. ${example}`);
    return Object.freeze([...(value as string[])]);
  };
  const link = (value: unknown, name: string) => {
    if (value === undefined) return undefined;
    if (typeof value !== 'string' || !URL.canParse(value) || !/^https?:$/.test(new URL(value).protocol))
      fail(`\`${name}\` must be an http(s) URL`);
    return value as string;
  };
  const flag = (value: unknown, name: string) => {
    if (value !== undefined && typeof value !== 'boolean') fail(`\`${name}\` must be true or false`);
    return value as boolean | undefined;
  };
  const { verifier } = options;
  if (verifier !== undefined && (typeof verifier !== 'object' || verifier === null || !Array.isArray(verifier.issuers)))
    fail('`verifier` must be a verifier from createVerifier()');
  const authorizationServers =
    stringList(
      options.authorizationServers,
      'authorizationServers',
      (issuer) => URL.canParse(issuer) && /^https?:$/.test(new URL(issuer).protocol),
      "['https://idp.example.com/']",
    ) ?? (verifier === undefined ? undefined : Object.freeze([...verifier.issuers]));
  const cacheMaxAge = durationSeconds(options.cacheMaxAge, 'cacheMaxAge', { default: 3600, allowZero: true }, factory);
  if (!Number.isInteger(cacheMaxAge)) fail('`cacheMaxAge` must be a whole number of seconds, e.g. 3600');

  const metadata: ProtectedResourceMetadata = Object.freeze(
    withoutUndefined({
      resource,
      authorization_servers: authorizationServers,
      scopes_supported: stringList(
        options.scopesSupported,
        'scopesSupported',
        (s) => SCOPE_TOKEN.test(s),
        "['notes:read']",
      ),
      // The guards read the Authorization header only: a query or form-body token is refused (400).
      bearer_methods_supported: Object.freeze(['header']),
      resource_name: nonEmptyString(options.resourceName, 'resourceName', fail),
      resource_documentation: link(options.resourceDocumentation, 'resourceDocumentation'),
      resource_policy_uri: link(options.resourcePolicyUri, 'resourcePolicyUri'),
      resource_tos_uri: link(options.resourceTosUri, 'resourceTosUri'),
      // Sender-constrained tokens (RFC 9449 DPoP, RFC 8705 mTLS). The proof algorithms default to
      // the verifier's; whether a route requires bound tokens is the guards' setting, so it is said
      // here explicitly (a metadata route does not know which guards protect the resource).
      dpop_signing_alg_values_supported:
        stringList(
          options.dpopSigningAlgValuesSupported,
          'dpopSigningAlgValuesSupported',
          (alg) => (ASYMMETRIC_ALGORITHMS as readonly string[]).includes(alg),
          "['ES256', 'EdDSA'] (asymmetric algorithms only)",
        ) ?? (verifier === undefined ? undefined : dpopAlgorithmsOf(verifier)),
      dpop_bound_access_tokens_required: flag(options.dpopBoundAccessTokensRequired, 'dpopBoundAccessTokensRequired'),
      tls_client_certificate_bound_access_tokens: flag(
        options.tlsClientCertificateBoundAccessTokens,
        'tlsClientCertificateBoundAccessTokens',
      ),
    }),
  );

  const cors = { 'Access-Control-Allow-Origin': '*' };
  const document: RouteAnswer = Object.freeze({
    status: 200,
    headers: Object.freeze({
      ...cors,
      'Cache-Control': `public, max-age=${cacheMaxAge}`,
      'Content-Type': 'application/json; charset=utf-8',
    }),
    body: metadata,
  });
  const notAllowed: RouteAnswer = Object.freeze({
    status: 405,
    headers: Object.freeze({ ...cors, Allow: ALLOW, 'Cache-Control': 'no-store' }),
    body: Object.freeze({ error: 'invalid_request', error_description: 'Use GET' }),
  });

  const handle = (request: Pick<RequestLike, 'method' | 'headers'>): RouteAnswer => {
    const method = request.method;
    if (method === 'GET' || method === 'HEAD') return document;
    if (method === 'OPTIONS') return preflight(request);
    return notAllowed;
  };
  return Object.defineProperties(handle, {
    path: { value: path, enumerable: true },
    url: { value: url.origin + path, enumerable: true },
    metadata: { value: metadata, enumerable: true },
  }) as ProtectedResourceMetadataHandler;
}

/**
 * The CORS preflight answer: any origin may GET the document, with whatever request headers it
 * asked for (well-formed names only; the document is public and no credentials are involved).
 */
function preflight(request: Pick<RequestLike, 'headers'>): RouteAnswer {
  const asked = headerOf(request.headers, 'access-control-request-headers');
  const headers: Record<string, string> = {
    'Access-Control-Allow-Origin': '*',
    'Access-Control-Allow-Methods': ALLOW,
    'Access-Control-Max-Age': '86400',
    Allow: ALLOW,
    'Cache-Control': 'no-store',
  };
  if (typeof asked === 'string' && asked.length <= 1024 && HEADER_LIST.test(asked))
    headers['Access-Control-Allow-Headers'] = asked;
  return { status: 204, headers };
}

function nonEmptyString(value: unknown, name: string, fail: (message: string) => never): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value === '') fail(`\`${name}\` must be a non-empty string`);
  return value as string;
}

/** The document without the members nobody configured (RFC 9728 members are omitted, not null). */
function withoutUndefined<T extends object>(document: T): T {
  return Object.fromEntries(Object.entries(document).filter(([, value]) => value !== undefined)) as T;
}

/**
 * The DPoP proof algorithms a verifier accepts, over its issuers that can take DPoP requests (a
 * `publicUrl` to check `htu` against); `undefined` when none can.
 */
function dpopAlgorithmsOf(verifier: Verifier): readonly string[] | undefined {
  const algorithms = new Set<string>();
  for (const settings of portOf(verifier).dpop.values()) {
    if (settings.publicUrl !== undefined) for (const alg of settings.algorithms) algorithms.add(alg);
  }
  return algorithms.size === 0 ? undefined : Object.freeze([...algorithms]);
}
