/**
 * The request step, framework-free: read the bearer token (RFC 6750), ask the verifier, check
 * scopes, and answer. A token already verified is answered synchronously (no promise, no
 * microtask), so an adapter's hit path costs a cache look-up; anything else is answered by a
 * promise. A refusal carries the status, the `WWW-Authenticate` challenge under this
 * authenticator's realm, the JSON body, and the `AuthError` itself (a copy when its realm differs:
 * one rejection may be shared by concurrent requests, so it is never mutated).
 *
 * Adapters (authGuard, and those for other frameworks) read their request into a
 * {@link RequestLike}, call the authenticator, and write its answer.
 */
import { bearerChallenge, type Challenge, challengeUsing } from '../shared/challenge.js';
import { type AuthError, fitsChallenge } from '../shared/errors.js';
import { optionKeys, rejectUnknownKeys } from '../shared/option-keys.js';
import { toAuthError } from '../shared/rejections.js';
import { buildVerifier } from '../verify/create-verifier.js';
import { VERIFIER_OPTION_KEYS, type VerifiedToken, type Verifier, type VerifierOptions } from '../verify/types.js';
import { portOf } from '../verify/verifier-port.js';
import { assertB64Token, type DpopToken, readCredentials, readDpopProof } from './bearer.js';
import { type DpopMode, dpopPolicy } from './dpop-check.js';
import { publicOrigin } from './public-origin.js';
import type { RequestLike } from './request-like.js';
import { type Presentation, type RequestCheck, type ResponseHeaders, runChecks } from './request-check.js';
import { authErrorAnswer } from './route-answer.js';
import { requireScopes } from './scopes.js';

/**
 * What a route requires of a token, and how its refusals are worded.
 *
 * @example
 * ```ts
 * import type { GuardSettings } from 'revocable-jwt';
 * const settings: GuardSettings = { scopes: ['notes:write'], realm: 'notes' };
 * ```
 */
export interface GuardSettings {
  /** Scopes the route needs; all must be granted. */
  scopes?: string[];
  /** Realm in `WWW-Authenticate` challenges. Default `'api'`. */
  realm?: string;
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
 * What {@link Authenticator} answers for one request.
 *
 * @example
 * ```ts
 * import { createAuthenticator, type Authentication } from 'revocable-jwt';
 * declare const request: Request; // a fetch Request
 * const authenticate = createAuthenticator({ verifier });
 * const { pathname, search } = new URL(request.url);
 * const answer = authenticate({ method: request.method, url: pathname + search, headers: request.headers });
 * const done: Authentication = 'ok' in answer ? answer : await answer; // a promise only on a cache miss
 * ```
 */
export type Authentication = Admitted | Refused;

/**
 * The authenticate step: answers synchronously on a cache hit, with a promise otherwise. Never
 * throws, and its promise never rejects: every failure is a {@link Refused}.
 *
 * @example
 * ```ts
 * import { createAuthenticator, type Authenticator } from 'revocable-jwt';
 * const authenticate: Authenticator = createAuthenticator({ verifier, origin: 'https://api.example.com' });
 * authenticate.requestUrl({ url: '/notes' }); // 'https://api.example.com/notes'
 * ```
 */
export interface Authenticator {
  (request: RequestLike): Authentication | Promise<Authentication>;
  /** The verifier it asks (the one given, or the one it built from verifier options). */
  readonly verifier: Verifier;
  /** The realm of its `WWW-Authenticate` challenges (`realm`; default `'api'`). */
  readonly realm: string;
  /** The scopes every token must grant (a frozen copy of `scopes`; empty: none required). */
  readonly scopes: readonly string[];
  /** The configured public origin (serialized), if any. */
  readonly origin: string | undefined;
  /** The effective DPoP mode (`dpop`, or what its default resolved to: `'allowed'` or `'off'`). */
  readonly dpop: DpopMode;
  /**
   * The absolute URL of `request`: the configured origin, then the request's path and query;
   * `undefined` when the request has no path. A TypeError when no `origin` is configured.
   */
  requestUrl(request: Pick<RequestLike, 'url'>): string | undefined;
}

/** A scope token (RFC 6749 §3.3 NQCHAR): what a 403 challenge can name without mangling it. */
const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]+$/;

/** Settings every adapter of the request step accepts: one line per option. */
export const GUARD_SETTING_KEYS = optionKeys<GuardSettings>({ scopes: true, realm: true, dpop: true });
const AUTHENTICATOR_SETTING_KEYS = optionKeys<AuthenticatorSettings>({
  scopes: true,
  realm: true,
  origin: true,
  dpop: true,
});

/**
 * Builds the authenticate step, the framework-free core of `authGuard`: same options (plus
 * `origin`), same rules, same answers. Construction does no I/O.
 *
 * Does not: read a body (a form body's `access_token` is seen only in a `body` the adapter
 * parsed), decide the framework's answer format, or look at the request's `Host`.
 *
 * @throws TypeError at construction: a misspelt key, verifier options beside `verifier`, a scope or
 * realm a challenge cannot carry, an `origin` with a path, bad verifier options (shorthand).
 *
 * @example
 * ```ts
 * import { createAuthenticator } from 'revocable-jwt';
 * const authenticate = createAuthenticator({ verifier, scopes: ['notes:read'], realm: 'notes' });
 * // Hono / Bun / Deno / workers: a fetch Request's Headers work as they are.
 * async function handle(request: Request): Promise<Response> {
 *   const { pathname, search } = new URL(request.url);
 *   const answer = authenticate({ method: request.method, url: pathname + search, headers: request.headers });
 *   const done = 'ok' in answer ? answer : await answer; // synchronous on a cache hit
 *   if (!done.ok) return Response.json(done.body, { status: done.status, headers: done.headers });
 *   return Response.json({ user: done.auth.payload.sub });
 * }
 * ```
 */
export function createAuthenticator(options: AuthenticatorOptions): Authenticator {
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
): Authenticator {
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
  const { scopes = [], realm = 'api', origin } = options;
  if (!Array.isArray(scopes) || scopes.some((s) => typeof s !== 'string' || !SCOPE_TOKEN.test(s))) {
    throw new TypeError(
      'revocable-jwt: `scopes` must be an array of scope names (printable ASCII, no spaces, double quotes or ' +
        "backslashes), e.g. ['notes:read']",
    );
  }
  if (typeof realm !== 'string' || !fitsChallenge(realm)) {
    throw new TypeError(
      'revocable-jwt: `realm` must be a non-empty string of printable ASCII without double quotes or backslashes, ' +
        "e.g. 'api'",
    );
  }
  const site = origin === undefined ? undefined : publicOrigin(origin, factory);
  let verifier: Verifier;
  if (withVerifier)
    verifier = options.verifier as Verifier; // checked above: an object
  else {
    const { scopes: _scopes, realm: _realm, origin: _origin, dpop: _dpop, ...verifierOptions } = options;
    verifier = buildVerifier(verifierOptions, factory);
  }
  const required = Object.freeze([...scopes]);
  const port = portOf(verifier);
  // The guard's `origin` is this server's public origin: it overrides the verifier's `publicUrl`.
  const dpop = dpopPolicy(options.dpop, port, site?.origin, factory);
  const bearer = bearerChallenge(realm);
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
  // in order. A check throws an AuthError to refuse.
  // The DPoP check always runs: in every mode a DPoP-bound token sent as Bearer is refused.
  const checks: RequestCheck[] = [dpop.check];
  if (required.length > 0) checks.push((auth) => requireScopes(auth, required));

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
    return pending.then(done, (error: unknown) => refuse(error, true, presented.scheme));
  };

  const authenticate = (request: RequestLike): Authentication | Promise<Authentication> => {
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
    return verifier.verify(token).then(
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
    scopes: { value: required, enumerable: true },
    origin: { value: site?.origin, enumerable: true },
    dpop: { value: dpop.mode, enumerable: true },
    requestUrl: { value: requestUrl, enumerable: true },
  }) as Authenticator;
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
