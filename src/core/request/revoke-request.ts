/**
 * The logout / revoke step, framework-free: check the inputs (`token`, `token_type_hint`, the
 * bearer header), revoke the body's token (RFC 7009 style, e.g. a refresh token) and/or the
 * request's own bearer token, at the IdP and locally, and answer (see revocation-answer.ts).
 * The adapter reads the body (form or JSON) and writes the answer.
 */
import { AuthError, InvalidRequestError, MisconfiguredError, UnauthorizedError } from '../shared/errors.js';
import { optionKeys, rejectUnknownKeys } from '../shared/option-keys.js';
import type { Verifier } from '../verify/types.js';
import { extractBearerToken } from './bearer.js';
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
 * ours), 502 `idp_error`, 503 with `Retry-After`; JSON, `Cache-Control: no-store`.
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
 * e.g. a refresh token) and/or the request's own bearer token are revoked at the IdP and locally,
 * and the answer says whether every instance will refuse them (see {@link RevokeHandler}).
 * Options are checked here, once; construction does no I/O.
 *
 * Does not: read the body (the adapter parses it, up to its own size limit), check the method
 * (answer anything but a POST with 405 and `Allow: POST`), or authenticate a client for a
 * body-only revocation: anyone may revoke a token they hold, as RFC 7009 §2.1 allows a public
 * client to.
 *
 * @throws TypeError at construction: no verifier, an unknown key, an `issuer` the verifier does
 * not trust.
 *
 * @example
 * ```ts
 * import { createRevokeHandler } from 'revocable-jwt';
 * const revoke = createRevokeHandler({ verifier });
 * declare const request: Request; // a fetch Request: POST /logout, a form body
 * const body = Object.fromEntries(await request.formData());
 * const answer = await revoke(body, { method: request.method, headers: request.headers });
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
      const bearer = bearerOf(request, bodyToken !== undefined);
      if (bodyToken === undefined && bearer === undefined) {
        throw new InvalidRequestError(
          'missing_token',
          'No token to revoke: send `token` in the body or a Bearer token',
        );
      }
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
 * The request's bearer token, if it sends one. Only the header counts: the body's `token` is the
 * token to revoke, not a credential. Another scheme (e.g. client authentication) is fine when
 * the body names the token.
 */
function bearerOf(request: RequestLike, hasBodyToken: boolean): string | undefined {
  if (headerOf(request.headers, 'authorization') === undefined) return undefined;
  try {
    return extractBearerToken({ headers: request.headers, rawHeaders: request.rawHeaders });
  } catch (error) {
    if (error instanceof UnauthorizedError && hasBodyToken) return undefined;
    throw error;
  }
}

function optionalString(value: unknown, name: string, maxLength: number): string | undefined {
  if (value === undefined || value === '') return undefined;
  if (typeof value !== 'string')
    throw new InvalidRequestError('malformed_request', `\`${name}\` must be a single string`);
  if (value.length > maxLength) throw new InvalidRequestError('malformed_request', `\`${name}\` is too long`);
  return value;
}
