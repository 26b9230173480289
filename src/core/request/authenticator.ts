/**
 * The request step, framework-free: read the bearer token (RFC 6750), ask the verifier, check
 * what the route requires (claims, step-up, scopes), and answer. A token already verified is
 * answered synchronously (no promise, no microtask), so an adapter's hit path costs a cache
 * look-up; so is a new token whose check needs no I/O (its key imported before, on node:crypto,
 * without introspection or a status list to ask); anything else is answered by a promise. A
 * refusal carries the status, the `WWW-Authenticate` challenge under this authenticator's realm,
 * the JSON body, and the `AuthError` itself (a copy when its realm differs: one rejection may be
 * shared by concurrent requests, so it is never mutated).
 *
 * Adapters (authGuard, and those for other frameworks) read their request into a
 * {@link RequestLike}, call the authenticator, and write its answer.
 */
import { parseTrustedUrl } from '../idp/url-policy.js';
import { bearerChallenge, type Challenge, challengeUsing } from '../shared/challenge.js';
import { type AuthError, fitsChallenge } from '../shared/errors.js';
import { isPromise, type MaybePromise } from '../shared/maybe-promise.js';
import { optionKeys, rejectUnknownKeys } from '../shared/option-keys.js';
import { invalidToken, toAuthError } from '../shared/rejections.js';
import { buildVerifier } from '../verify/create-verifier.js';
import { VERIFIER_OPTION_KEYS, type VerifiedToken, type Verifier, type VerifierOptions } from '../verify/types.js';
import { portOf } from '../verify/verifier-port.js';
import { assertB64Token, type DpopToken, presentsNoCredentials, readCredentials, readDpopProof } from './bearer.js';
import { certificateBinding, type MtlsOptions, type MtlsSettings, mtlsSettings } from './certificate-binding.js';
import { type ClaimRules, claimChecks } from './claim-checks.js';
import { type DpopMode, dpopPolicy } from './dpop-check.js';
import { publicOrigin } from './public-origin.js';
import type { RequestLike } from './request-like.js';
import { type Presentation, type RequestCheck, type ResponseHeaders, runChecks } from './request-check.js';
import { authErrorAnswer } from './route-answer.js';
import { type ScopeRequirement, scopeCheck, scopeRequirement } from './scopes.js';
import { stepUpCheck, stepUpRequirements } from './step-up.js';

/**
 * What a route requires of a token, and how its refusals are worded. Checked on every request,
 * cache hits included, in this order: `claims` (401 `invalid_token`), `acrValues` / `maxAge` (401
 * `insufficient_user_authentication`), `scopes` (403 `insufficient_scope`): authentication before
 * authorization, so a client is not sent for scopes with a token it would have to replace anyway.
 *
 * @example
 * ```ts
 * import type { GuardSettings } from 'revocable-jwt';
 * const settings: GuardSettings = {
 *   scopes: { anyOf: ['notes:write', 'notes:admin'] },
 *   claims: { equals: { tenant: 't1' } },
 *   acrValues: ['urn:example:mfa'],
 *   maxAge: 300,
 *   resourceMetadata: 'https://api.example.com/.well-known/oauth-protected-resource',
 *   realm: 'notes',
 * };
 * ```
 */
export interface GuardSettings {
  /**
   * Scopes the route needs: all of a list, or any one of `{ anyOf: [...] }`. The 403 challenge's
   * `scope` names the list (for `anyOf`, every alternative: any one of them will do).
   */
  scopes?: string[] | { anyOf: string[] };
  /** Claims the token must carry (`equals`, `includes`, `check`); a token that fails gets 401 `invalid_token`. */
  claims?: ClaimRules;
  /**
   * RFC 9470 step-up: the `acr` values accepted. A token whose `acr` is none of them (or absent)
   * gets 401 `insufficient_user_authentication` with `acr_values` in the challenge.
   */
  acrValues?: string[];
  /**
   * RFC 9470 step-up: the longest time since the user authenticated (`auth_time`), in whole
   * seconds, on the verifier's clock and leeway. Older (or absent) gets 401
   * `insufficient_user_authentication` with `max_age` in the challenge.
   */
  maxAge?: number;
  /**
   * A request without any credentials (no `Authorization` header) is let through unauthenticated
   * (`auth` undefined) instead of 401. A token that is presented is checked as always: a bad,
   * expired or revoked one, or another scheme (`Basic …`), is still refused. Default false.
   */
  optional?: boolean;
  /**
   * RFC 9728: the URL of this resource's protected resource metadata, sent as `resource_metadata`
   * in every challenge (e.g. `protectedResourceMetadata(...).url`). An https URL (http only on
   * loopback) without fragment.
   */
  resourceMetadata?: string;
  /** Realm in `WWW-Authenticate` challenges. Default `'api'`. */
  realm?: string;
  /**
   * Certificate-bound tokens (RFC 8705): `true` admits a token only if its `cnf['x5t#S256']` is
   * the thumbprint of the client certificate of the TLS connection (unbound tokens refused);
   * {@link MtlsOptions} reads the certificate from a trusted proxy's header or admits unbound
   * tokens too. Default `false`: no certificate is read, and a certificate-bound token is refused
   * (401 `invalid_token`, `certificate_binding_unchecked`) unless it is also DPoP-bound and comes
   * with its DPoP proof: a route that cannot check a token's binding does not take it.
   */
  mtls?: boolean | MtlsOptions;
  /**
   * DPoP-bound tokens (RFC 9449): `'off'`, `'allowed'` (Bearer or DPoP) or `'required'`. Default:
   * `'allowed'` when the verifier has a `publicUrl` (or the authenticator an `origin`) to check a
   * proof's `htu` against, else `'off'`; set explicitly without one, it throws. In every mode a
   * DPoP-bound token sent as Bearer is refused.
   */
  dpop?: DpopMode;
}

/**
 * A verifier, or the options to build one (not both: options beside a verifier would be ignored,
 * so they are refused at construction). The shorthand builds a verifier of its own, single- or
 * multi-issuer (`issuers`); the factory exposes it as `.verifier`, for `close()` on shutdown.
 * `dpop` is always the guard's mode: in the shorthand, the verifier's DPoP proof settings keep
 * their defaults (build the verifier with `createVerifier({ dpop })` to change them).
 *
 * @example
 * ```ts
 * import type { VerifierChoice } from 'revocable-jwt';
 * const shared: VerifierChoice = { verifier };
 * const shorthand: VerifierChoice = { issuer: 'https://idp.example.com', audience: 'https://api.example.com' };
 * ```
 */
export type VerifierChoice =
  | ({ verifier: Verifier } & { [K in Exclude<keyof VerifierOptions, 'dpop'>]?: never })
  | (Omit<VerifierOptions, 'dpop'> & { verifier?: never });

/**
 * {@link GuardSettings}, and where this server is reached.
 *
 * @example
 * ```ts
 * import type { AuthenticatorSettings } from 'revocable-jwt';
 * const settings: AuthenticatorSettings = { scopes: ['notes:read'], origin: 'https://api.example.com' };
 * ```
 */
export interface AuthenticatorSettings extends GuardSettings {
  /**
   * The public origin clients reach this server at (`'https://api.example.com'`: scheme, host,
   * port; no path), for steps that need the absolute request URL ({@link Authenticator.requestUrl}).
   * Configured, never read from the request's `Host`, which a client or proxy chooses.
   */
  origin?: string;
}

/**
 * The options of {@link createAuthenticator}: settings, and a verifier or the options to build one.
 *
 * @example
 * ```ts
 * import { createAuthenticator, type AuthenticatorOptions } from 'revocable-jwt';
 * const options: AuthenticatorOptions = {
 *   issuer: 'https://idp.example.com/',
 *   audience: 'https://api.example.com',
 *   scopes: ['notes:read'],
 *   realm: 'notes',
 * };
 * const authenticate = createAuthenticator(options); // builds its own verifier: authenticate.verifier
 * ```
 */
export type AuthenticatorOptions = AuthenticatorSettings & VerifierChoice;

/**
 * The token is accepted: `auth` is what the verifier vouches for.
 *
 * @example
 * ```ts
 * import type { Authentication } from 'revocable-jwt';
 * declare const answer: Authentication;
 * if (answer.ok) log.info({ sub: answer.auth.payload.sub, scope: answer.auth.payload.scope }, 'admitted');
 * ```
 */
export interface Admitted {
  /** Always `true`: tells an {@link Admitted} from a {@link Refused}. */
  readonly ok: true;
  /**
   * The verified token, its scopes checked: what an adapter puts on the request (`req.auth`).
   * Deeply frozen and shared by every request presenting the same token.
   */
  readonly auth: VerifiedToken;
  /**
   * Headers to add to the response (e.g. a fresh `DPoP-Nonce`); absent when there are none, which
   * is the common case.
   */
  readonly headers?: Readonly<Record<string, string>>;
}

/**
 * The request is refused: what to answer, and why.
 *
 * @example
 * ```ts
 * import type { Authentication } from 'revocable-jwt';
 * declare const answer: Authentication;
 * const response = answer.ok
 *   ? Response.json({ user: answer.auth.payload.sub })
 *   : Response.json(answer.body, { status: answer.status, headers: answer.headers });
 * ```
 */
export interface Refused {
  /** Always `false`: tells a {@link Refused} from an {@link Admitted}. */
  readonly ok: false;
  /**
   * The status to answer: 400 (malformed request), 401 (no or bad token), 403 (missing scope),
   * 503 (IdP or revocation store unreachable) or 500 (misconfiguration, closed verifier).
   */
  readonly status: number;
  /** The RFC 6750 challenge (`WWW-Authenticate`), `Retry-After` where it applies, `Cache-Control: no-store`. */
  readonly headers: Readonly<Record<string, string>>;
  /** `{ error, error_description }`. */
  readonly body: unknown;
  /** The refusal as an `AuthError` under this authenticator's realm (for `next(err)`, logs, metrics). */
  readonly error: AuthError;
}

/**
 * A request without credentials, let through by a guard with `optional: true`: nobody is
 * authenticated, so `auth` is `undefined`.
 *
 * @example
 * ```ts
 * import { createAuthenticator } from 'revocable-jwt';
 * const authenticate = createAuthenticator({ verifier, optional: true });
 * const answer = await authenticate({ headers: {} }); // no Authorization header
 * if (answer.ok && answer.auth === undefined) log.info({}, 'anonymous request');
 * ```
 */
export interface Anonymous {
  /** Always `true`: the request may go on. */
  readonly ok: true;
  /** Always `undefined`: no token was presented. */
  readonly auth: undefined;
  /** Never set: nothing was checked, so there is nothing to add to the response. */
  readonly headers?: undefined;
}

/**
 * What {@link Authenticator} answers for one request.
 *
 * @example
 * ```ts
 * import { createAuthenticator, type Authentication } from 'revocable-jwt';
 * declare const request: Request; // a fetch Request
 * const authenticate = createAuthenticator({ verifier });
 * const { pathname, search } = new URL(request.url);
 * const answer = authenticate({ method: request.method, url: pathname + search, headers: request.headers });
 * const done: Authentication = 'ok' in answer ? answer : await answer; // a promise only when it must wait
 * ```
 */
export type Authentication = Admitted | Refused;

/**
 * What an authenticator built with `optional: true` answers: {@link Authentication}, or
 * {@link Anonymous} for a request without credentials.
 *
 * @example
 * ```ts
 * import { createAuthenticator, type OptionalAuthentication } from 'revocable-jwt';
 * const authenticate = createAuthenticator({ verifier, optional: true });
 * const answer: OptionalAuthentication = await authenticate({ headers: {} });
 * const user = answer.ok ? (answer.auth?.payload.sub ?? 'anonymous') : undefined;
 * ```
 */
export type OptionalAuthentication = Authentication | Anonymous;

/**
 * The authenticate step: answers synchronously on a cache hit and on a miss that needs no I/O,
 * with a promise otherwise (keys to fetch, the IdP or a status list to ask, a DPoP replay check). Never
 * throws, and its promise never rejects: every failure is a {@link Refused}.
 *
 * @example
 * ```ts
 * import { createAuthenticator, type Authenticator } from 'revocable-jwt';
 * const authenticate: Authenticator = createAuthenticator({ verifier, origin: 'https://api.example.com' });
 * authenticate.requestUrl({ url: '/notes' }); // 'https://api.example.com/notes'
 * ```
 */
export interface Authenticator<A extends OptionalAuthentication = Authentication> {
  (request: RequestLike): A | Promise<A>;
  /** The verifier it asks (the one given, or the one it built from verifier options). */
  readonly verifier: Verifier;
  /** The realm of its `WWW-Authenticate` challenges (`realm`; default `'api'`). */
  readonly realm: string;
  /** The scopes every token must grant (a frozen copy of `scopes`; an empty list: none required). */
  readonly scopes: ScopeRequirement;
  /** Whether a request without credentials is let through ({@link Anonymous}). */
  readonly optional: boolean;
  /** The configured public origin (serialized), if any. */
  readonly origin: string | undefined;
  /** The effective DPoP mode (`dpop`, or what its default resolved to: `'allowed'` or `'off'`). */
  readonly dpop: DpopMode;
  /**
   * How certificate-bound tokens are checked (`mtls`); `undefined` when they are not. An adapter
   * reads the connection's certificate only when this is set without a `certificateHeader`.
   */
  readonly mtls: MtlsSettings | undefined;
  /**
   * The absolute URL of `request`: the configured origin, then the request's path and query;
   * `undefined` when the request has no path. A TypeError when no `origin` is configured.
   */
  requestUrl(request: Pick<RequestLike, 'url'>): string | undefined;
}

/** Settings every adapter of the request step accepts: one line per option. */
export const GUARD_SETTING_KEYS = optionKeys<GuardSettings>({
  scopes: true,
  claims: true,
  acrValues: true,
  maxAge: true,
  optional: true,
  resourceMetadata: true,
  mtls: true,
  dpop: true,
  realm: true,
});
const AUTHENTICATOR_SETTING_KEYS = Object.freeze([
  ...GUARD_SETTING_KEYS,
  ...optionKeys<Omit<AuthenticatorSettings, keyof GuardSettings>>({ origin: true }),
]);

/** The answer to a request without credentials on an `optional` route: shared, nothing to copy. */
const ANONYMOUS: Anonymous = Object.freeze({ ok: true, auth: undefined });

/**
 * Builds the authenticate step, the framework-free core of `authGuard`: same options (plus
 * `origin`), same rules, same answers. Construction does no I/O.
 *
 * Does not: read a body (a form body's `access_token` is seen only in a `body` the adapter
 * parsed), decide the framework's answer format, or look at the request's `Host`.
 *
 * @throws TypeError at construction: a misspelt key, verifier options beside `verifier`, a scope or
 * realm a challenge cannot carry, an `origin` with a path, an `mtls` that is not `true`, `false` or
 * {@link MtlsOptions}, bad verifier options (shorthand).
 *
 * @example
 * ```ts
 * import { createAuthenticator } from 'revocable-jwt';
 * const authenticate = createAuthenticator({ verifier, scopes: ['notes:read'], realm: 'notes' });
 * // Hono / Bun / Deno / workers: a fetch Request's Headers work as they are.
 * async function handle(request: Request): Promise<Response> {
 *   const { pathname, search } = new URL(request.url);
 *   const answer = authenticate({ method: request.method, url: pathname + search, headers: request.headers });
 *   const done = 'ok' in answer ? answer : await answer; // synchronous unless it must wait
 *   if (!done.ok) return Response.json(done.body, { status: done.status, headers: done.headers });
 *   return Response.json({ user: done.auth.payload.sub });
 * }
 * ```
 */
export function createAuthenticator(
  options: AuthenticatorOptions & { optional: true },
): Authenticator<OptionalAuthentication>;
export function createAuthenticator(options: AuthenticatorOptions & { optional?: false }): Authenticator;
export function createAuthenticator(options: AuthenticatorOptions): Authenticator<OptionalAuthentication>;
export function createAuthenticator(options: AuthenticatorOptions): Authenticator<OptionalAuthentication> {
  return buildAuthenticator(options, 'createAuthenticator', AUTHENTICATOR_SETTING_KEYS);
}

/**
 * {@link createAuthenticator} for an adapter: `factory` names it in configuration errors, and
 * `settingKeys` lists the settings it accepts besides `verifier` or the verifier options.
 */
export function buildAuthenticator(
  options: AuthenticatorOptions,
  factory: string,
  settingKeys: readonly string[] = AUTHENTICATOR_SETTING_KEYS,
): Authenticator<OptionalAuthentication> {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError(`revocable-jwt: ${factory} needs options: { verifier } or { issuer, audience }`);
  }
  const withVerifier = 'verifier' in options;
  if (withVerifier && (typeof options.verifier !== 'object' || options.verifier === null)) {
    throw new TypeError(
      `revocable-jwt: \`verifier\` is ${String(options.verifier)} in ${factory}: ` +
        'pass the verifier createVerifier() returned',
    );
  }
  // With a verifier, verifier options would be ignored: refuse them like any unknown key. The
  // shorthand builds a verifier: its options, single- or multi-issuer (`issuers`), are welcome too.
  rejectUnknownKeys(
    options,
    withVerifier ? [...settingKeys, 'verifier'] : [...settingKeys, ...VERIFIER_OPTION_KEYS, 'issuers'],
    factory,
  );
  const { realm = 'api', origin, optional = false } = options;
  const scopes = scopeRequirement(options.scopes);
  const stepUp = stepUpRequirements(options.acrValues, options.maxAge);
  if (typeof optional !== 'boolean') throw new TypeError('revocable-jwt: `optional` must be true or false');
  if (typeof realm !== 'string' || !fitsChallenge(realm)) {
    throw new TypeError(
      'revocable-jwt: `realm` must be a non-empty string of printable ASCII without double quotes or backslashes, ' +
        "e.g. 'api'",
    );
  }
  const site = origin === undefined ? undefined : publicOrigin(origin, factory);
  const mtls = mtlsSettings(options.mtls, factory);
  const metadataUrl = resourceMetadataUrl(options.resourceMetadata);
  // Built before the verifier, so a bad rule throws before the shorthand starts anything.
  const claimCheck = claimChecks(options.claims, factory);
  let verifier: Verifier;
  if (withVerifier)
    verifier = options.verifier as Verifier; // checked above: an object
  else {
    const verifierOptions = Object.fromEntries(Object.entries(options).filter(([key]) => !settingKeys.includes(key)));
    verifier = buildVerifier(verifierOptions as VerifierOptions, factory);
  }
  const port = portOf(verifier);
  // The guard's `origin` is this server's public origin: it overrides the verifier's `publicUrl`.
  const dpop = dpopPolicy(options.dpop, port, site?.origin, factory);
  const bearer = bearerChallenge(realm, metadataUrl === undefined ? undefined : [['resource_metadata', metadataUrl]]);
  // Bearer first: clients that read only the first challenge keep finding theirs.
  const challenge: Challenge =
    dpop.scheme === undefined
      ? bearer
      : Object.freeze({
          ...bearer,
          schemes: Object.freeze(dpop.mode === 'required' ? [dpop.scheme] : [...bearer.schemes, dpop.scheme]),
        });

  // Token rejections are reported by the verifier itself; request-level ones (no token, bad
  // header, missing scope) only this step sees.
  const report = port.reportRejection;
  const refuse = (error: unknown, reportIt: boolean, scheme?: Presentation['scheme']): Refused => {
    const authError = toAuthError(error).withChallenge(challengeUsing(challenge, scheme));
    if (reportIt) report(authError);
    return new Refusal(authError);
  };

  // What a verified token must also pass for this route, on every request (cache hits included),
  // in order (see GuardSettings): how the token is bound to its sender first (DPoP proof,
  // client certificate: whose token is it?), then what the token must say. A check throws an
  // AuthError to refuse. Both binding checks always run: in every mode a DPoP-bound token sent as
  // Bearer is refused, and without `mtls` so is a certificate-bound one (nothing checks its binding).
  const checks: RequestCheck[] = [
    dpop.check,
    certificateBinding(mtls),
    claimCheck,
    stepUpCheck(stepUp, port.time),
    scopeCheck(scopes),
  ].filter((check) => check !== undefined);

  const admit = (auth: VerifiedToken, presented: Presentation): Authentication | Promise<Authentication> => {
    if (checks.length === 0) return { ok: true, auth };
    let added: Record<string, string> | undefined;
    const headers: ResponseHeaders = {
      set(name, value) {
        added ??= {};
        added[name] = value;
      },
    };
    const done = (): Authentication => (added === undefined ? { ok: true, auth } : { ok: true, auth, headers: added });
    let pending: Promise<void> | undefined;
    try {
      pending = runChecks(checks, auth, presented, headers);
    } catch (error) {
      return refuse(error, true, presented.scheme);
    }
    if (pending === undefined) return done();
    // A check waited (a DPoP proof's claim: a store round trip), and a revocation may have been
    // confirmed meanwhile: the token was found unrevoked before the wait, so look again (a
    // synchronous look-up in this instance's list) before admitting it.
    const settled = (): Authentication =>
      port.revoked(auth) ? refuse(invalidToken('revoked'), true, presented.scheme) : done();
    return pending.then(settled, (error: unknown) => refuse(error, true, presented.scheme));
  };

  const authenticate = (request: RequestLike): OptionalAuthentication | Promise<OptionalAuthentication> => {
    // No credentials at all: an optional route goes on without them. Anything presented (another
    // scheme included: an attempt to authenticate that we cannot check) is judged as always.
    if (optional && presentsNoCredentials(request)) return ANONYMOUS;
    let credentials: string | DpopToken;
    try {
      credentials = readCredentials(request, dpop.mode);
    } catch (error) {
      return refuse(error, true);
    }
    let presented: Presentation;
    if (typeof credentials === 'string')
      presented = { request, scheme: 'Bearer', token: credentials, proof: undefined };
    else {
      try {
        presented = { request, scheme: 'DPoP', token: credentials.dpop, proof: readDpopProof(request) };
      } catch (error) {
        return refuse(error, true, 'DPoP');
      }
    }
    const token = presented.token;
    // Cache hit: answer synchronously (a DPoP proof is checked on every request, hit or not). A
    // token identical to one already verified is well-formed by construction, so its characters
    // are only scanned on a miss.
    const cached = verifier.peek(token);
    if (cached !== undefined) return admit(cached, presented);
    try {
      assertB64Token(token, presented.scheme);
    } catch (error) {
      return refuse(error, true, presented.scheme);
    }
    // A miss that needs no I/O is answered synchronously too (see VerifierPort.verifyNow).
    let verified: MaybePromise<VerifiedToken>;
    try {
      verified = port.verifyNow === undefined ? verifier.verify(token) : port.verifyNow(token);
    } catch (error) {
      return refuse(error, false, presented.scheme); // the verifier reported it
    }
    if (!isPromise(verified)) return admit(verified, presented);
    return verified.then(
      (auth) => admit(auth, presented),
      (error: unknown) => refuse(error, false, presented.scheme),
    );
  };

  const requestUrl = (request: Pick<RequestLike, 'url'>): string | undefined => {
    if (site === undefined) {
      throw new TypeError(
        'revocable-jwt: requestUrl() needs the public origin: ' +
          `pass \`origin\` (e.g. 'https://api.example.com') to ${factory}`,
      );
    }
    return site.urlOf(request);
  };
  return Object.defineProperties(authenticate, {
    verifier: { value: verifier, enumerable: true },
    realm: { value: realm, enumerable: true },
    scopes: { value: scopes, enumerable: true },
    optional: { value: optional, enumerable: true },
    origin: { value: site?.origin, enumerable: true },
    mtls: { value: mtls, enumerable: true },
    dpop: { value: dpop.mode, enumerable: true },
    requestUrl: { value: requestUrl, enumerable: true },
  }) as Authenticator<OptionalAuthentication>;
}

/** `resourceMetadata` checked: an absolute https URL (http on loopback) without userinfo or fragment. */
function resourceMetadataUrl(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  const url = parseTrustedUrl(value, 'resourceMetadata', false);
  if (url.username !== '' || url.password !== '' || url.hash !== '' || String(value).includes('#'))
    throw new TypeError('revocable-jwt: `resourceMetadata` must be a URL without userinfo or fragment');
  if (!fitsChallenge(String(value)))
    throw new TypeError('revocable-jwt: `resourceMetadata` must be a URL a challenge can carry (no quotes or spaces)');
  return String(value);
}

/** A refusal: status, headers and body are derived from the error when an adapter asks for them. */
class Refusal implements Refused {
  readonly ok = false;
  constructor(readonly error: AuthError) {}
  get status(): number {
    return this.error.status;
  }
  get headers(): Readonly<Record<string, string>> {
    return authErrorAnswer(this.error).headers;
  }
  get body(): unknown {
    return this.error.toJSON();
  }
}
