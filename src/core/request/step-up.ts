/**
 * RFC 9470 (OAuth 2.0 Step-Up Authentication): a route that requires the user to have
 * authenticated in a given way (`acrValues`: the token's `acr` is one of them) or recently
 * (`maxAge`: its `auth_time` is at most that many seconds ago, on the verifier's clock and with its
 * leeway). Run on every request, cache hits included, so a cached token ages out of `maxAge` like
 * any other.
 *
 * A token that does not meet them gets 401 `insufficient_user_authentication` with `acr_values`
 * and/or `max_age` in the challenge (every requirement of the route, so the new token the client
 * asks for meets them all at once). That includes a token without `acr` or `auth_time`: the
 * authorization server adds them when the client asks with `acr_values` / `max_age`. A claim of
 * the wrong shape (`acr` not a string, e.g. an array; `auth_time` not a number, or in the future)
 * is 401 `invalid_token` (`claim_invalid`) instead: asking for another token of the same kind
 * would not help, and a future `auth_time` would otherwise stay "recent" for ever.
 */
import { InsufficientUserAuthenticationError } from '../shared/errors.js';
import { invalidToken } from '../shared/rejections.js';
import type { VerifiedToken } from '../shared/verified-token.js';
import type { RequestCheck } from './request-check.js';

/** A route's RFC 9470 requirements, resolved (`acrValues` non-empty when given). */
export interface StepUpRequirements {
  acrValues: readonly string[] | undefined;
  /** Whole seconds. */
  maxAge: number | undefined;
}

/** An issuer's notion of now: epoch ms and a leeway in seconds. */
export interface StepUpTime {
  readonly clock: () => number;
  readonly clockTolerance: number;
}

/** An `acr` value (RFC 6749 §3.3 NQCHAR, as in scopes): what `acr_values="…"` can carry unmangled. */
const ACR_VALUE = /^[\x21\x23-\x5b\x5d-\x7e]+$/;

const fail = (message: string): never => {
  throw new TypeError(`revocable-jwt: ${message}`);
};

/** Validates `acrValues` and `maxAge` as a guard got them. */
export function stepUpRequirements(acrValues: unknown, maxAge: unknown): StepUpRequirements {
  if (
    acrValues !== undefined &&
    (!Array.isArray(acrValues) ||
      acrValues.length === 0 ||
      acrValues.some((v) => typeof v !== 'string' || !ACR_VALUE.test(v)))
  ) {
    fail(
      '`acrValues` must be a non-empty array of acr values (printable ASCII, no spaces, double quotes or ' +
        "backslashes), e.g. ['urn:example:mfa']",
    );
  }
  if (maxAge !== undefined && (typeof maxAge !== 'number' || !Number.isInteger(maxAge) || maxAge < 0))
    fail('`maxAge` must be a whole number of seconds >= 0 (RFC 9470 `max_age`), e.g. 300');
  return {
    acrValues: acrValues === undefined ? undefined : Object.freeze([...(acrValues as string[])]),
    maxAge: maxAge as number | undefined,
  };
}

/**
 * The request check for `requirements`, or `undefined` when the route has none. `times` is each
 * issuer's clock and leeway (the verifier's port): a token's `auth_time` is judged on its own
 * issuer's, never on another issuer's more lenient one.
 */
export function stepUpCheck(
  requirements: StepUpRequirements,
  times: ReadonlyMap<string, StepUpTime>,
): RequestCheck | undefined {
  const { acrValues, maxAge } = requirements;
  if (acrValues === undefined && maxAge === undefined) return undefined;
  const accepted = new Set(acrValues);
  const challenge = { acrValues, maxAge };
  const single = times.size === 1 ? [...times.values()][0] : undefined;
  return (auth: VerifiedToken) => {
    const payload = auth.payload as Readonly<Record<string, unknown>>;
    if (acrValues !== undefined) {
      if (!Object.hasOwn(payload, 'acr')) throw new InsufficientUserAuthenticationError(challenge);
      const acr = payload.acr;
      if (typeof acr !== 'string') throw invalidToken('claim_invalid');
      if (!accepted.has(acr)) throw new InsufficientUserAuthenticationError(challenge);
    }
    if (maxAge !== undefined) {
      const recent = 'More recent authentication is required';
      if (!Object.hasOwn(payload, 'auth_time')) throw new InsufficientUserAuthenticationError(challenge, recent);
      const authTime = payload.auth_time;
      if (typeof authTime !== 'number' || !Number.isFinite(authTime)) throw invalidToken('claim_invalid');
      const { iss } = payload;
      // A verified token names one of the verifier's issuers; anything else is refused, not guessed.
      const time = single ?? (typeof iss === 'string' ? times.get(iss) : undefined);
      if (time === undefined) throw invalidToken('issuer_mismatch');
      // Whole seconds, as jose compares `exp` and `iat`.
      const now = Math.floor(time.clock() / 1000);
      if (authTime > now + time.clockTolerance) throw invalidToken('claim_invalid');
      if (now - authTime > maxAge + time.clockTolerance)
        throw new InsufficientUserAuthenticationError(challenge, recent);
    }
  };
}
