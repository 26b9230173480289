import type { JWK } from 'jose';
import type { RevocationStore } from '../../stores/revocation-store.js';
import type { FetchLike } from '../idp/http-client.js';
import type { VerifierEventName, VerifierListener } from '../shared/events.js';
import type { VerifierLogger } from '../shared/logger.js';
import type { JwksStats } from '../idp/jwks.js';
import type { OutboxStats } from '../revoke/outbox-worker.js';
import type { ClientAuthMethod, RevocationBodyFormat } from '../idp/revocation-client.js';
import type { StoreMirrorStats } from '../revoke/store-mirror.js';
import type { TokenCacheStats } from './token-cache.js';
import type { DpopOptions } from './dpop-options.js';
import type { StatusListStats } from './status-list-check.js';
import type { StatusListOptions } from './status-list-options.js';
import { optionKeys } from '../shared/option-keys.js';
import type { VerifiedToken } from '../shared/verified-token.js';

export type { AccessTokenClaims, VerifiedToken } from '../shared/verified-token.js';
import type { RevocationOutcome, RevokeOptions } from '../revoke/revocation-outcome.js';
export type { RevocationOutcome, RevokeOptions } from '../revoke/revocation-outcome.js';

/**
 * The verified-token cache of `createVerifier({ cache })`: an LRU of verified results, served only
 * for the identical token string. An entry lives for min(time to `exp` + tolerance, `maxTtl`);
 * revocations apply to cached tokens at once. `cache: false` verifies every request.
 *
 * @example
 * ```ts
 * import { createVerifier, type CacheOptions } from 'revocable-jwt';
 * const cache: CacheOptions = { max: 50_000, maxTtl: 300 }; // 5 minutes at most
 * const cached = createVerifier({ issuer: 'https://idp.example.com/', audience: 'api', cache });
 * ```
 */
export interface CacheOptions {
  /** Most verified tokens kept (LRU). Default 10 000. */
  max?: number;
  /** Longest a verified result is served from cache, in seconds, however far away `exp` is. Default 600. */
  maxTtl?: number;
}

/** The keys `cache` accepts (any other is refused): one line per option. */
export const CACHE_OPTION_KEYS = optionKeys<CacheOptions>({ max: true, maxTtl: true });

/**
 * Options of `createVerifier()` for one issuer. Only `issuer` and `audience` are required; every
 * duration is in seconds (fractions allowed), every instant in epoch milliseconds. Bad options,
 * unknown keys included, throw a `TypeError` at construction that says what to change;
 * construction does no I/O.
 *
 * @example
 * ```ts
 * import { createRedisStore, createVerifier, type VerifierOptions } from 'revocable-jwt';
 * const options: VerifierOptions = {
 *   issuer: 'https://idp.example.com/',
 *   audience: 'https://api.example.com',
 *   typ: 'at+jwt', // RFC 9068 access tokens only
 *   clockTolerance: 5,
 *   revocation: { clientId: 'my-api', clientSecret: process.env.CLIENT_SECRET },
 *   store: createRedisStore({ url: 'redis://127.0.0.1:6379' }),
 * };
 * const verifier = createVerifier(options);
 * ```
 */
export interface VerifierOptions {
  /** The IdP's issuer identifier; `iss` must equal it exactly. Required. */
  issuer: string;
  /**
   * Accepted audience(s); the token's `aud` must contain one (with `audienceClaim: 'client_id'`:
   * its `client_id` must be one). Required.
   */
  audience: string | string[];
  /**
   * Which claim `audience` is matched against: `'aud'` (default; RFC 9068 §2.2 requires it) or
   * `'client_id'`, for IdPs whose access tokens carry no `aud` and name their app client in
   * `client_id` instead (Amazon Cognito). With `'client_id'`, `audience` lists the app client IDs
   * whose tokens this API accepts; the token's `client_id` must be a string equal to one of them,
   * and its `aud`, if it has one, is not looked at: the configured claim alone decides. So use it
   * only with such an IdP: where access tokens do carry `aud`, a client's tokens for every API it
   * calls would pass. In either mode a token whose `token_use` claim is present and is not
   * `"access"` (a Cognito ID token) is refused (`type_mismatch`), an introspection answer that says
   * so too. Applies to JWT access tokens; introspection answers keep their own audience rule (`aud`,
   * or `introspection.allowMissingAudience`).
   */
  audienceClaim?: AudienceClaim;
  /** JWKS URL. Default: `jwks_uri` from the issuer's discovery metadata. */
  jwksUri?: string | URL;
  /** Accepted `alg` values. Default: the asymmetric JWS algorithms. `none` is never accepted. */
  algorithms?: string[];
  /**
   * Shared secret for HS256/384/512. Only used, and only required, when `algorithms` lists an HMAC
   * algorithm: that is the explicit opt-in. Keys from the JWKS are never used as HMAC secrets.
   */
  secret?: string | Uint8Array;
  /** Leeway for `exp`, `nbf` and `iat`, in seconds. Default 5; at most 300 (more would keep expired tokens alive). */
  clockTolerance?: number;
  /**
   * Claims that must be present. Default `['exp']`. A token without `exp` (if you allow one) is
   * accepted until `iat + maxTokenLifetime`, and one with neither `exp` nor `iat` is refused:
   * nothing would bound how long its revocation must last.
   */
  requiredClaims?: string[];
  /** Required `typ` header, e.g. `'at+jwt'` (RFC 9068). Default: not checked. */
  typ?: string;
  /** Verified-token cache, or `false` to verify every request. */
  cache?: CacheOptions | false;
  /** Least time between two JWKS refetches triggered by unknown `kid`s, in seconds. Default 30. */
  jwksCooldown?: number;
  /** Age after which the JWKS is refreshed in the background, in seconds. Default 600. */
  jwksMaxAge?: number;
  /**
   * Each discovery and JWKS request to the IdP, in seconds (e.g. 0.5). Default 5, at most 60: a
   * larger value most likely meant milliseconds and is refused.
   */
  timeout?: number;
  /** Allow plain-http issuer and JWKS URLs on non-loopback hosts. Default false. */
  allowHttp?: boolean;
  /** `fetch` implementation for all IdP requests. Default: the global `fetch`. */
  fetch?: FetchLike;
  /** Current time in epoch milliseconds. Default `Date.now`; inject one in tests. */
  clock?: () => number;
  /** Longest token (characters) worth looking at. Default 16 384. */
  maxTokenLength?: number;
  /**
   * Longest access-token lifetime (`exp - iat`) accepted, in seconds. Subject, session and global
   * cutoffs are kept until every token they cover has expired (this plus twice `clockTolerance`,
   * rounded up to whole seconds), so a longer-lived token could outlive the cutoff that revoked
   * it: such tokens are refused. Default 86 400 (24 h).
   */
  maxTokenLifetime?: number;
  /** How to reach the IdP's RFC 7009 revocation endpoint. Without it, `revoke()` is local only. */
  revocation?: RevocationOptions;
  /** Where revocations are shared and IdP retries wait. Default: `createMemoryStore()`. */
  store?: RevocationStore;
  /** RFC 7662 introspection, for opaque tokens (or every token with `mode: 'always'`). */
  introspection?: IntrospectionOptions;
  /** How DPoP proofs (RFC 9449) are checked: algorithms, `iatWindow`, server nonces (see {@link DpopOptions}). */
  dpop?: DpopOptions;
  /**
   * The URL clients reach this API at (`'https://api.example.com'`, or with a base path
   * `'https://example.com/api'`): a DPoP proof's `htu` must be it followed by the request's path.
   * Configured, never read from `Host` or `X-Forwarded-*`. Without it (and without a guard
   * `origin`), guards take no DPoP requests.
   */
  publicUrl?: string;
  /**
   * The issuer's public signing keys, given here instead of fetched: a JWK Set (`{ keys: [...] }`).
   * No discovery and no JWKS request for keys (construction and verification do no key I/O); an
   * unknown `kid` is refused at once. Checked at construction: public keys only (no `d`, `p`, `q`,
   * …; no symmetric `oct` keys: use `secret`), unique `kid`s, every key usable by one of
   * `algorithms` and its own `alg`, if any, among them. Not with `jwksUri`. With several issuers,
   * give each entry its own (never at the top level: one issuer's keys must not sign for another).
   */
  jwks?: StaticJwks;
  /**
   * Oldest token accepted, in seconds since its `iat` (plus `clockTolerance`): older tokens are
   * refused (401 `invalid_token`, reason `token_too_old`) even before they expire, cached ones
   * included; a token (or introspection answer) without `iat` is refused. Default: no limit.
   */
  maxTokenAge?: number;
  /**
   * IETF Token Status Lists: a JWT carrying `status.status_list` is refused unless the issuer's
   * list gives it VALID (see {@link StatusListOptions}). Default `{ mode: 'when-present' }`.
   */
  statusList?: StatusListOptions;
  /**
   * Where the verifier tells what an operator must fix: `{ warn, error, debug }`, each optional
   * (see {@link VerifierLogger}). Each distinct problem is told once (again only once it is over
   * and comes back), never with a token or a secret. Default: `warn` and `error` lines through
   * `console.warn`; `false`: nothing. With several issuers, a top-level `logger` serves every
   * issuer that does not bring its own, and one problem they share (one store) is told once.
   */
  logger?: VerifierLogger | false;
}

/**
 * Static signing keys for `createVerifier({ jwks })`: a JWK Set of public keys, used instead of the
 * issuer's `jwks_uri` (no network).
 *
 * @example
 * ```ts
 * import { createVerifier, type StaticJwks } from 'revocable-jwt';
 * declare const publicJwk: import('jose').JWK; // e.g. from your IdP's JWKS, checked in
 * const jwks: StaticJwks = { keys: [{ ...publicJwk, kid: '2024-1', alg: 'ES256', use: 'sig' }] };
 * const offline = createVerifier({ issuer: 'https://idp.example.com/', audience: 'api', jwks });
 * ```
 */
export interface StaticJwks {
  /** The public keys (JWKs), each with a unique `kid` when it has one. */
  keys: JWK[];
}

/**
 * The claim a JWT access token's audience is read from (`createVerifier({ audienceClaim })`):
 * `'aud'` (RFC 9068, the default) or `'client_id'` (Amazon Cognito access tokens, which have no
 * `aud`).
 *
 * @example
 * ```ts
 * import { createVerifier, type AudienceClaim } from 'revocable-jwt';
 * const audienceClaim: AudienceClaim = 'client_id';
 * const cognito = createVerifier({
 *   issuer: 'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123',
 *   audience: '1example23456789', // the app client ID(s) whose access tokens this API accepts
 *   audienceClaim,
 * });
 * ```
 */
export type AudienceClaim = 'aud' | 'client_id';

/** The keys `createVerifier` accepts (any other is refused): one line per option. */
export const VERIFIER_OPTION_KEYS = optionKeys<VerifierOptions>({
  issuer: true,
  audience: true,
  audienceClaim: true,
  jwksUri: true,
  algorithms: true,
  secret: true,
  clockTolerance: true,
  requiredClaims: true,
  typ: true,
  cache: true,
  jwksCooldown: true,
  jwksMaxAge: true,
  timeout: true,
  allowHttp: true,
  fetch: true,
  clock: true,
  maxTokenLength: true,
  maxTokenLifetime: true,
  revocation: true,
  store: true,
  introspection: true,
  jwks: true,
  maxTokenAge: true,
  dpop: true,
  publicUrl: true,
  statusList: true,
  logger: true,
});

/**
 * RFC 7662 token introspection, for opaque tokens (or every token with `mode: 'always'`): the
 * IdP's introspection endpoint says whether a token is active. Answers are validated like a token
 * (`active: true`, `exp`, `nbf`, our `iss` and `aud`) and cached for min(`exp`, `maxAge`); what
 * unknown tokens may cost the IdP is bounded by `newTokenBudget` per `newTokenWindow`.
 *
 * @example
 * ```ts
 * import { createVerifier, type IntrospectionOptions } from 'revocable-jwt';
 * const introspection: IntrospectionOptions = { clientId: 'my-api', clientSecret: 'secret', maxAge: 30 };
 * const opaque = createVerifier({ issuer: 'https://idp.example.com/', audience: 'api', introspection });
 * ```
 */
export interface IntrospectionOptions {
  /** Our client at the IdP (introspection always needs client authentication). */
  clientId: string;
  /** Our client secret; required for `client_secret_basic` and `client_secret_post`. */
  clientSecret?: string;
  /** Default: `client_secret_basic` with a secret, `none` without. */
  authMethod?: ClientAuthMethod;
  /** Default: `introspection_endpoint` from discovery. */
  endpoint?: string | URL;
  /** `opaque` (default): only tokens that are not JWS; `always`: every token, JWTs too. */
  mode?: 'opaque' | 'always';
  /** Longest an `active: true` answer is reused, in seconds (bounded by `exp` too). Default 60. */
  maxAge?: number;
  /** Each introspection request, in seconds. Default 5, at most 60. */
  timeout?: number;
  /** Accept answers without `aud` (some IdPs omit it). Default false: the audience must match. */
  allowMissingAudience?: boolean;
  /**
   * Most IdP calls per `newTokenWindow` for tokens the IdP has not called active before (made-up
   * tokens among them); the surplus gets a 503 with `Retry-After` and the IdP is not asked. Tokens
   * it called active before are not counted. Per verifier instance. Default 50.
   */
  newTokenBudget?: number;
  /** The window of `newTokenBudget`, in seconds. Default 1. */
  newTokenWindow?: number;
}

/** The keys `introspection` accepts (any other is refused): one line per option. */
export const INTROSPECTION_OPTION_KEYS = optionKeys<IntrospectionOptions>({
  clientId: true,
  clientSecret: true,
  authMethod: true,
  endpoint: true,
  mode: true,
  maxAge: true,
  timeout: true,
  allowMissingAudience: true,
  newTokenBudget: true,
  newTokenWindow: true,
});

/**
 * How `verifier.revoke()` and `revokeRoute` reach the IdP's RFC 7009 revocation endpoint. Without
 * them, revocation is local only (`idp: 'not_configured'`). While the IdP is unreachable,
 * revocations wait in the store's outbox and are retried with backoff.
 *
 * @example
 * ```ts
 * import { createVerifier, type RevocationOptions } from 'revocable-jwt';
 * // Auth0: /oauth/revoke takes a JSON body with client_id and client_secret.
 * const revocation: RevocationOptions = {
 *   clientId: 'my-api',
 *   clientSecret: 'secret',
 *   authMethod: 'client_secret_post',
 *   bodyFormat: 'json',
 *   endpoint: 'https://tenant.example.auth0.com/oauth/revoke',
 * };
 * const withRevocation = createVerifier({ issuer: 'https://tenant.example.auth0.com/', audience: 'api', revocation });
 * ```
 */
export interface RevocationOptions {
  /**
   * Our client at the IdP. Required unless `authMethod: 'none'` (then the token's own
   * `client_id`/`azp` may stand in).
   */
  clientId?: string;
  /** Required for `client_secret_basic` and `client_secret_post`. */
  clientSecret?: string;
  /** Default: `client_secret_basic` with a secret, `none` without. */
  authMethod?: ClientAuthMethod;
  /** Default: `revocation_endpoint` from discovery. */
  endpoint?: string | URL;
  /** `form` (RFC 7009, default) or `json` (Auth0 accepts it). */
  bodyFormat?: RevocationBodyFormat;
  /** Each revocation request, in seconds. Default 5, at most 60. */
  timeout?: number;
  /** How long to keep retrying an opaque token (whose expiry we cannot read), in seconds. Default 7 days. */
  retryFor?: number;
  /** Between outbox polls, in seconds. Default 5, at most 86 400 (a day). */
  retryInterval?: number;
  /**
   * Most queued IdP revocations. Past it, tokens not verified as ours (opaque, or anyone's
   * garbage) are no longer queued while the IdP is down, so an outage cannot grow the queue
   * without bound; our own verified tokens are always queued. Default 10 000.
   */
  maxPending?: number;
}

/** The keys `revocation` accepts (any other is refused): one line per option. */
export const REVOCATION_OPTION_KEYS = optionKeys<RevocationOptions>({
  clientId: true,
  clientSecret: true,
  authMethod: true,
  endpoint: true,
  bodyFormat: true,
  timeout: true,
  retryFor: true,
  retryInterval: true,
  maxPending: true,
});

/**
 * What `verifier.stats()` returns: a snapshot of counters and state, cheap enough to read on
 * every scrape (`createPrometheusMetrics` does). Instants are epoch milliseconds.
 *
 * @example
 * ```ts
 * import type { VerifierStats } from 'revocable-jwt';
 * const stats: VerifierStats = verifier.stats();
 * const { hits, misses } = stats.cache;
 * log.info({ hitRatio: hits / Math.max(1, hits + misses), denylisted: stats.revocation.denylisted }, 'auth');
 * if (stats.misconfigured !== undefined) log.error({}, stats.misconfigured);
 * ```
 */
export interface VerifierStats {
  /** What about the configuration fails against the IdP right now (see the `misconfigured` event), or undefined. */
  misconfigured: string | undefined;
  /** The verified-token cache: `hits`, `misses`, `size`, `max`. */
  cache: TokenCacheStats;
  /** The JWKS: `fetches`, `failures`, `keys`, `fetchedAt` (epoch ms). */
  jwks: JwksStats;
  /** Discovery documents fetched. */
  discovery: { fetches: number };
  /** Token Status Lists: `lists` held, `fetches`, `failures`. */
  statusLists: StatusListStats;
  /** This instance's mirror of the revocation store, the IdP outbox and the store's sync state. */
  revocation: {
    /** Entries in this instance's mirror of the store. */
    denylisted: number;
    subjectCutoffs: number;
    sessionCutoffs: number;
    globalCutoff: boolean;
    /** IdP revocations waiting in the outbox, and totals since start. */
    outbox: OutboxStats;
    /** Sync state of this instance's mirror with the store. */
    store: StoreMirrorStats;
  };
}

/**
 * Options of `invalidateSubject()`, `invalidateSession()` and `invalidateAll()`: which issuer's
 * tokens (for a multi-issuer verifier) and up to which instant.
 *
 * @example
 * ```ts
 * declare const passwordChangedAt: number; // epoch ms, from your user store
 * // Every token of alice issued at or before the password change, from one issuer only:
 * await verifier.invalidateSubject('alice', { issuer: 'https://login.example.com/', at: passwordChangedAt });
 * ```
 */
export interface IssuerScope {
  /** The issuer whose tokens the cutoff covers. Default: every issuer of the verifier. */
  issuer?: string;
  /**
   * The instant to cut at (epoch ms). Default: now; a later instant is taken as now (a cutoff
   * never reaches into the future). Tokens issued at or before it are refused. Cutoffs made from
   * the same instant are identical, so repeating one is harmless: back-channel logout and security
   * events cut at the notification's own `iat` (the IdP's clock, the clock its tokens' `iat` use),
   * which makes the IdP's retries safe to apply again.
   */
  at?: number;
}

/**
 * A verifier made by `createVerifier()`: verifies access tokens locally (cached), revokes them at
 * the IdP and locally, cuts off subjects, sessions or everything, and reports what it does
 * through `on()` and `stats()`. Framework-free: `authGuard` and the routes are glue around it.
 * Only objects from `createVerifier()` work with the library's routes and receivers.
 *
 * @example
 * ```ts
 * import { AuthError, createVerifier } from 'revocable-jwt';
 * const verifier = createVerifier({ issuer: 'https://idp.example.com/', audience: 'https://api.example.com' });
 * try {
 *   const { payload } = await verifier.verify(token);
 *   log.info({ sub: payload.sub }, 'accepted');
 * } catch (error) {
 *   if (error instanceof AuthError) log.info({ reason: error.reason, status: error.status }, 'refused');
 *   else throw error;
 * }
 * await verifier.close(); // on shutdown
 * ```
 */
export interface Verifier {
  /** The issuer (the first one, for a multi-issuer verifier). */
  readonly issuer: string;
  /** Every issuer this verifier trusts. */
  readonly issuers: readonly string[];
  /**
   * The audiences a token's `aud` must contain one of (with `audienceClaim: 'client_id'`: its
   * `client_id` must be one of).
   */
  readonly audience: readonly string[];
  /**
   * Verifies a JWT access token, resolving to its header and claims or rejecting with an `AuthError`
   * (after `close()`: `VerifierClosedError`, a 500).
   */
  verify(token: string): Promise<VerifiedToken>;
  /** Synchronous cache lookup: the verified result when the token is cached and still valid, else undefined. */
  peek(token: string): VerifiedToken | undefined;
  /** Counters and state: cache, JWKS, discovery, revocation mirror, outbox, store (see {@link VerifierStats}). */
  stats(): VerifierStats;
  /**
   * Revokes a token at the IdP (RFC 7009) and locally. Local invalidation comes first and does not
   * depend on the IdP: once this resolves, `verify()` refuses the token. Never rejects because the
   * IdP is down (the outcome says `queued`); rejects only for a non-string token, with a
   * `TypeError` for an `options.issuer` the verifier does not trust (several issuers), with a
   * `MisconfiguredError` when the configuration cannot work against the IdP (e.g. wrong `issuer`),
   * or with `VerifierClosedError` after `close()`.
   */
  revoke(token: string, options?: RevokeOptions): Promise<RevocationOutcome>;
  /**
   * Local only: evicts the token and denylists it until it expires. Rejects with InvalidTokenError
   * for a token that is not verifiably ours. Like every `invalidate*()`, it resolves once the shared
   * store has the revocation (so every instance refuses the token); otherwise it rejects with
   * `RevocationPendingError` (503): the revocation is in force here and the write is retried in the
   * background until it lands; calling again is safe.
   */
  invalidate(token: string): Promise<void>;
  /**
   * Refuses every token of `subject` issued at or before now (same second included). With several
   * issuers, every issuer's unless `options.issuer` names one.
   */
  invalidateSubject(subject: string, options?: IssuerScope): Promise<void>;
  /** Refuses every token carrying `sid: session` issued at or before now (back-channel logout). */
  invalidateSession(session: string, options?: IssuerScope): Promise<void>;
  /** Refuses every token issued at or before now (incident response). */
  invalidateAll(options?: IssuerScope): Promise<void>;
  /** Attempts every due IdP revocation in the outbox now (the worker also does this on a timer). */
  retryPending(): Promise<import('../revoke/outbox-worker.js').OutboxRunResult>;
  /** Subscribes to what the verifier does (see `VerifierEventMap`). */
  on<E extends VerifierEventName>(event: E, listener: VerifierListener<E>): this;
  /** Removes a listener added with `on()`. */
  off<E extends VerifierEventName>(event: E, listener: VerifierListener<E>): this;
  /**
   * Aborts in-flight IdP requests and releases timers so the process can exit. `verify()` then
   * rejects with `VerifierClosedError`.
   */
  close(): Promise<void>;
}

export type { FetchLike };
