/**
 * `revokeRoute()`: a logout / revoke endpoint. Revokes the body's `token` (RFC 7009 style, e.g. a
 * refresh token) and/or the request's own bearer token, at the IdP and locally, then answers:
 *   200 done · 400 invalid_request (also: several issuers and a body token naming none of them,
 *   without the `issuer` option) · 401 forged bearer-only logout · 405 not POST ·
 *   502 IdP refused our client (token already dead locally) · 503 IdP unreachable (dead locally,
 *   queued for retry, `Retry-After`) · 503 revocation store has not confirmed the local revocation
 *   (dead on this instance, written in the background, `Retry-After`; repeating is safe).
 */
import type { ServerResponse } from 'node:http';
import { extractBearerToken, type RequestLike } from '../core/request/bearer.js';
import {
  AuthError,
  InvalidRequestError,
  InvalidTokenError,
  MisconfiguredError,
  UnauthorizedError,
} from '../core/shared/errors.js';
import { findMisconfiguration } from '../core/shared/misconfiguration.js';
import { optionKeys, rejectUnknownKeys } from '../core/shared/option-keys.js';
import type { RevocationOutcome, Verifier } from '../core/verify/types.js';
import { writeAuthError } from './error-handler.js';
import { oauthErrorBody, postRoute, type RouteRequest } from './post-route.js';
import { readRequestBody } from './request-body.js';
import { sendJson } from './send-json.js';

export interface RevokeRouteOptions {
  verifier: Verifier;
  /**
   * Several issuers: the IdP that gets a body `token` naming none of them (an opaque or refresh
   * token); a JWT goes to the issuer it names. Without it such a token is answered 400
   * `invalid_request` and sent nowhere. Never read from the request: a client choosing the IdP
   * could hand one IdP's tokens to another. Mount one route per IdP if several issue them.
   */
  issuer?: string;
  /** Realm for `WWW-Authenticate` on 400/401 answers. Default `'api'`. */
  realm?: string;
}

/** The keys revokeRoute accepts (any other is refused): one line per option. */
const REVOKE_ROUTE_OPTION_KEYS = optionKeys<RevokeRouteOptions>({ verifier: true, issuer: true, realm: true });

const HINT = /^[A-Za-z0-9_.:-]{1,64}$/;

export function revokeRoute(options: RevokeRouteOptions) {
  if (typeof options !== 'object' || options === null || typeof options.verifier?.revoke !== 'function') {
    throw new TypeError('revocable-jwt: revokeRoute needs { verifier } from createVerifier()');
  }
  rejectUnknownKeys(options, REVOKE_ROUTE_OPTION_KEYS, 'revokeRoute');
  const { verifier, issuer, realm = 'api' } = options;
  if (issuer !== undefined && !verifier.issuers.includes(issuer)) {
    throw new TypeError(
      `revocable-jwt: revokeRoute \`issuer\` must be one of the verifier's issuers (${verifier.issuers.join(', ')})`,
    );
  }

  return postRoute({
    errorBody: oauthErrorBody,
    renderError(res, error) {
      // A misconfiguration is the app's to log: `next(err)`, or a generic 500 without one.
      if (!(error instanceof AuthError) || error instanceof MisconfiguredError) return false;
      return writeAuthError(res, error.withRealm(realm));
    },
    handle,
  });

  async function handle(req: RouteRequest, res: ServerResponse): Promise<void> {
    const body = await readRequestBody(req);
    const bodyToken = optionalString(body.token, 'token', 16_384);
    const hint = optionalString(body.token_type_hint, 'token_type_hint', 64);
    if (hint !== undefined && !HINT.test(hint))
      throw new InvalidRequestError('malformed_request', 'Invalid token_type_hint');

    let bearer: string | undefined;
    if (req.headers.authorization !== undefined) {
      try {
        bearer = extractBearerToken({ headers: req.headers, rawHeaders: req.rawHeaders } as RequestLike);
      } catch (error) {
        // Another scheme (e.g. client authentication) is fine when the body names the token.
        if (!(error instanceof UnauthorizedError && bodyToken)) throw error;
      }
    }
    if (bodyToken === undefined && bearer === undefined) {
      throw new InvalidRequestError('missing_token', 'No token to revoke: send `token` in the body or a Bearer token');
    }

    const jobs: Array<Promise<RevocationOutcome>> = [];
    if (bodyToken !== undefined)
      jobs.push(
        verifier.revoke(bodyToken, { ...(hint ? { tokenTypeHint: hint } : {}), ...(issuer ? { issuer } : {}) }),
      );
    // A bearer header only ever holds our access token (a JWT, or an opaque token the IdP's
    // introspection vouches for): anything else is not forwarded.
    if (bearer !== undefined && bearer !== bodyToken)
      jobs.push(verifier.revoke(bearer, { tokenTypeHint: 'access_token', onlyIfOurs: true }));
    const outcomes = await Promise.all(jobs);
    if (bodyToken !== undefined && outcomes[0]!.idp === 'unknown_issuer') {
      // Several issuers and nothing says which one this token belongs to: it went nowhere.
      throw new InvalidRequestError(
        'unsupported_token',
        'The token does not name its issuer, and this endpoint serves several: it was not revoked',
      );
    }

    // A bearer-only logout with a token that is not ours (forged, foreign) is an unauthenticated
    // request: nothing changed locally, and the client deserves to know its token is bad.
    if (bodyToken === undefined && outcomes[0]!.local === 'not_ours') {
      throw new InvalidTokenError('signature_invalid', 'The access token is invalid');
    }
    // Not the IdP refusing us: we could not even ask it (no usable revocation endpoint).
    const misconfigured = outcomes.map((o) => findMisconfiguration(o.error)).find((m) => m !== undefined);
    if (misconfigured) throw misconfigured;
    const answer = unconfirmed(outcomes);
    if (answer !== undefined) {
      if (answer.retryAfter !== undefined) res.setHeader('Retry-After', String(answer.retryAfter));
      sendJson(res, answer.status, { error: answer.error, error_description: answer.description });
      return;
    }
    sendJson(res, 200, { revoked: true });
  }
}

/**
 * Why the outcomes are not (yet) a success, first reason first; undefined when they are. A 200
 * means every instance will refuse the token: never claimed for something we did not do.
 */
function unconfirmed(
  outcomes: RevocationOutcome[],
): { status: 502 | 503; error: string; description: string; retryAfter?: number } | undefined {
  const unavailable = (retryAfter: number, description: string) => ({
    status: 503 as const,
    error: 'temporarily_unavailable',
    description,
    retryAfter,
  });
  // A JWT whose keys (or an opaque token whose introspection endpoint) cannot be reached right
  // now: nothing was revoked locally, and the IdP cannot revoke most JWTs.
  if (outcomes.some((o) => o.local === 'unverifiable')) {
    return unavailable(
      5,
      'The token cannot be checked right now (the identity provider is unreachable); it was not revoked here, try again',
    );
  }
  // The store must have it, or other instances do not know.
  if (outcomes.some((o) => o.store === 'pending')) {
    return unavailable(
      1,
      'The token is revoked on this instance; the shared revocation store has not confirmed it yet (retrying)',
    );
  }
  if (outcomes.some((o) => o.idp === 'rejected' && o.error?.transient)) {
    return unavailable(30, 'The identity provider is unreachable; try again later');
  }
  if (outcomes.some((o) => o.idp === 'rejected')) {
    return {
      status: 502,
      error: 'idp_error',
      description: 'The identity provider refused the revocation request; the token is revoked locally',
    };
  }
  const queued = outcomes.filter((o) => o.idp === 'queued');
  if (queued.length > 0) {
    const retryAfter = Math.max(1, Math.min(...queued.map((o) => o.retryAfter ?? 1)));
    return unavailable(
      retryAfter,
      'The token is revoked locally; the identity provider will be told once it is reachable',
    );
  }
  return undefined;
}

function optionalString(value: unknown, name: string, maxLength: number): string | undefined {
  if (value === undefined || value === '') return undefined;
  if (typeof value !== 'string')
    throw new InvalidRequestError('malformed_request', `\`${name}\` must be a single string`);
  if (value.length > maxLength) throw new InvalidRequestError('malformed_request', `\`${name}\` is too long`);
  return value;
}
