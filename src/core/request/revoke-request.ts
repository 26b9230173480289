/**
 * The logout / revoke step, framework-free: check the inputs (`token`, `token_type_hint`, the
 * caller's `Authorization`), revoke the body's token (RFC 7009 style, e.g. a refresh token) and/or
 * the request's own access token, at the IdP and locally, and answer (see revocation-answer.ts).
 * The caller's token comes as Bearer, or as DPoP with its proof, checked by the guard's own
 * authenticator (the verifier's DPoP settings decide whether DPoP is taken, as for a guard).
 * The adapter reads the body (form or JSON) and writes the answer.
 */
import { AuthError, InvalidRequestError, MisconfiguredError, UnauthorizedError } from '../shared/errors.js';
import { optionKeys, rejectUnknownKeys } from '../shared/option-keys.js';
import type { Verifier } from '../verify/types.js';
import { buildAuthenticator } from './authenticator.js';
import { assertB64Token, type DpopToken, readCredentials } from './bearer.js';
import type { DpopMode } from './dpop-check.js';
import { headerOf, type RequestLike } from './request-like.js';
import { revocationAnswer } from './revocation-answer.js';
import { authErrorAnswer, type EndpointPolicy, oauthErrorBody, type RouteAnswer } from './route-answer.js';

/**
 * The options of {@link createRevokeHandler} (and of `revokeRoute`, which takes the same). Unknown
 * keys are refused at construction.
 *
 * @example
 * ```ts
 * import { createRevokeHandler, type RevokeRequestOptions } from 'revocable-jwt';
 * const options: RevokeRequestOptions = { verifier, realm: 'notes' };
 * const revoke = createRevokeHandler(options);
 * ```
 */
export interface RevokeRequestOptions {
  /**
   * The verifier from `createVerifier()` that revokes (locally, in the shared store, at the IdP
   * through its `revocation` options). Required.
   */
  verifier: Verifier;
  /**
   * Several issuers: the IdP that gets a body `token` naming none of them (an opaque or refresh
   * token); a JWT goes to the issuer it names. Without it such a token is answered 400
   * `invalid_request` and sent nowhere. Never read from the request: a client choosing the IdP
   * could hand one IdP's tokens to another. Mount one endpoint per IdP if several issue them.
   */
  issuer?: string;
  /** Realm for `WWW-Authenticate` on 400/401 answers. Default `'api'`. */
  realm?: string;
}

/**
 * The revoke step: answers a POST whose body is parsed (form or JSON): 200 `{ revoked: true }`,
 * 400 `invalid_request`, 401 `invalid_token` (a bearer-only logout with a token that is not
 * ours) or `invalid_dpop_proof` (a DPoP caller the guard would refuse), 502 `idp_error`, 503 with
 * `Retry-After`; JSON, `Cache-Control: no-store`.
 *
 * @example
 * ```ts
 * import { createRevokeHandler } from 'revocable-jwt';
 * const revoke = createRevokeHandler({ verifier });
 * // A refresh token in the body, the access token in the header: both are revoked.
 * const answer = await revoke({ token: 'refresh-token', token_type_hint: 'refresh_token' }, {
 *   method: 'POST',
 *   headers: { authorization: `Bearer ${token}` },
 * });
 * log.info({ status: answer.status }, 'logout');
 * ```
 */
export interface RevokeHandler extends EndpointPolicy {
  /**
   * Revokes what the request names and answers. Rejects only with what is not the client's to
   * hear (a `MisconfiguredError`, an unexpected error): the application's to log.
   */
  (body: Readonly<Record<string, unknown>>, request: RequestLike): Promise<RouteAnswer>;
}

/** The keys the revoke step accepts (any other is refused): one line per option. */
const REVOKE_REQUEST_OPTION_KEYS = optionKeys<RevokeRequestOptions>({ verifier: true, issuer: true, realm: true });

const HINT = /^[A-Za-z0-9_.:-]{1,64}$/;

/**
 * Builds the revoke step, the framework-free core of `revokeRoute`: the body's `token` (RFC 7009,
 * e.g. a refresh token) and/or the request's own access token are revoked at the IdP and locally,
 * and the answer says whether every instance will refuse them (see {@link RevokeHandler}). The
 * caller's token comes as Bearer, or, when the verifier has a `publicUrl`, as DPoP with its proof
 * (checked as a guard checks it: the request needs its `method` and `url` for the proof's `htm`
 * and `htu`). Options are checked here, once; construction does no I/O.
 *
 * Does not: read the body (the adapter parses it, up to its own size limit), check the method
 * (answer anything but a POST with 405 and `Allow: POST`), or authenticate a client for a
 * body-only revocation: anyone may revoke a token they hold, as RFC 7009 §2.1 allows a public
 * client to.
 *
 * @throws TypeError at construction: no verifier (or one `createVerifier()` did not make), an
 * unknown key, an `issuer` the verifier does not trust, a `realm` a challenge cannot carry.
 *
 * @example
 * ```ts
 * import { createRevokeHandler } from 'revocable-jwt';
 * const revoke = createRevokeHandler({ verifier });
 * declare const request: Request; // a fetch Request: POST /logout, a form body
 * const body = Object.fromEntries(await request.formData());
 * const { pathname, search } = new URL(request.url);
 * const answer = await revoke(body, { method: request.method, url: pathname + search, headers: request.headers });
 * // 200 { revoked: true } · 400 · 401 · 502 · 503 + Retry-After
 * ```
 */
export function createRevokeHandler(options: RevokeRequestOptions): RevokeHandler {
  return buildRevokeHandler(options, 'createRevokeHandler');
}

/** {@link createRevokeHandler}, naming `factory` (e.g. revokeRoute) in configuration errors. */
export function buildRevokeHandler(options: RevokeRequestOptions, factory: string): RevokeHandler {
  if (typeof options !== 'object' || options === null || typeof options.verifier?.revoke !== 'function') {
    throw new TypeError(`revocable-jwt: ${factory} needs { verifier } from createVerifier()`);
  }
  rejectUnknownKeys(options, REVOKE_REQUEST_OPTION_KEYS, factory);
  const { verifier, issuer, realm = 'api' } = options;
  if (issuer !== undefined && !verifier.issuers.includes(issuer)) {
    throw new TypeError(
      `revocable-jwt: ${factory} \`issuer\` must be one of the verifier's issuers (${verifier.issuers.join(', ')})`,
    );
  }

  // The guard's request step, for a caller presenting its token with DPoP: the same credential
  // reading and checks (DPoP taken when the verifier has a public URL, as a guard's default).
  const authenticateCaller = buildAuthenticator({ verifier, realm }, factory);

  const answerError = (error: unknown): RouteAnswer | undefined =>
    // A misconfiguration is the app's to log: `next(err)`, or a generic 500 without one.
    error instanceof AuthError && !(error instanceof MisconfiguredError)
      ? authErrorAnswer(error.withRealm(realm))
      : undefined;

  const revoke = async (body: Readonly<Record<string, unknown>>, request: RequestLike): Promise<RouteAnswer> => {
    try {
      // `?.`: a fetch adapter's `await request.json()` is whatever the client sent, `null` too.
      const bodyToken = optionalString(body?.token, 'token', 16_384);
      const hint = optionalString(body?.token_type_hint, 'token_type_hint', 64);
      if (hint !== undefined && !HINT.test(hint))
        throw new InvalidRequestError('malformed_request', 'Invalid token_type_hint');
      const credential = credentialOf(request, bodyToken !== undefined, authenticateCaller.dpop);
      if (bodyToken === undefined && credential === undefined) {
        throw new InvalidRequestError(
          'missing_token',
          'No token to revoke: send `token` in the body or a Bearer token',
        );
      }
      // A DPoP caller is authenticated as a guard would (token, proof, replay), before anything is
      // revoked: its proof is what makes the token its own. A Bearer token is revoked if ours.
      let bearer: string | undefined;
      if (typeof credential === 'object') {
        const answer = await authenticateCaller(callerOf(request));
        if (!answer.ok) throw answer.error;
        bearer = credential.dpop;
      } else bearer = credential;
      const [token, ownBearer] = await Promise.all([
        bodyToken === undefined
          ? undefined
          : verifier.revoke(bodyToken, { ...(hint ? { tokenTypeHint: hint } : {}), ...(issuer ? { issuer } : {}) }),
        // A bearer header only ever holds our access token (a JWT, or an opaque token the IdP's
        // introspection vouches for): anything else is not forwarded.
        bearer === undefined || bearer === bodyToken
          ? undefined
          : verifier.revoke(bearer, { tokenTypeHint: 'access_token', onlyIfOurs: true }),
      ]);
      return revocationAnswer({ token, bearer: ownBearer }, realm);
    } catch (error) {
      const answer = answerError(error);
      if (answer === undefined) throw error;
      return answer;
    }
  };
  return Object.defineProperties(revoke, {
    errorBody: { value: oauthErrorBody, enumerable: true },
    answerError: { value: answerError, enumerable: true },
  }) as RevokeHandler;
}

/**
 * The caller's own access token, if it sends one, read by the guard's rules: a Bearer token (a
 * string), or a DPoP one when `dpop` takes it. Only the header counts: the body's `token` is the
 * token to revoke, not a credential. Another scheme (e.g. client authentication) is fine when the
 * body names the token.
 */
function credentialOf(request: RequestLike, hasBodyToken: boolean, dpop: DpopMode): string | DpopToken | undefined {
  if (headerOf(request.headers, 'authorization') === undefined) return undefined;
  try {
    const credential = readCredentials({ headers: request.headers, rawHeaders: request.rawHeaders }, dpop);
    if (typeof credential === 'string') assertB64Token(credential);
    return credential;
  } catch (error) {
    if (error instanceof UnauthorizedError && hasBodyToken) return undefined;
    throw error;
  }
}

/** What the caller's DPoP check reads: the request without its body (the logout's own fields). */
function callerOf(request: RequestLike): RequestLike {
  const { method, url, originalUrl, headers, rawHeaders, identity } = request;
  return { method, url, originalUrl, headers, rawHeaders, identity };
}

function optionalString(value: unknown, name: string, maxLength: number): string | undefined {
  if (value === undefined || value === '') return undefined;
  if (typeof value !== 'string')
    throw new InvalidRequestError('malformed_request', `\`${name}\` must be a single string`);
  if (value.length > maxLength) throw new InvalidRequestError('malformed_request', `\`${name}\` is too long`);
  return value;
}
