/**
 * The `WWW-Authenticate` answer of a protected resource: which schemes it accepts (`Bearer`, and
 * `DPoP` for sender-constrained tokens, RFC 9449 §7.1), under which realm, and the parameters every
 * challenge carries (`resource_metadata`, RFC 9728 §5.1). An error adds its own parameters
 * (`error`, `error_description`, `scope`, …) to the challenge of the scheme the client used.
 */

/**
 * One scheme a resource accepts, with the parameters only its challenge carries (DPoP: `algs`).
 *
 * @example
 * ```ts
 * import type { ChallengeScheme } from 'revocable-jwt';
 * const dpop: ChallengeScheme = { name: 'DPoP', params: [['algs', 'ES256 EdDSA']] };
 * ```
 */
export interface ChallengeScheme {
  /** The authentication scheme, as written in the challenge. */
  readonly name: 'Bearer' | 'DPoP';
  /** Parameters of this scheme's challenge alone, e.g. `[['algs', 'ES256 EdDSA']]` for DPoP. */
  readonly params: ReadonlyArray<readonly [string, string]>;
}

/**
 * How a resource words its challenges. Frozen and shared: an error carries one (its copy per
 * request differs only in `used`).
 *
 * @example
 * ```ts
 * import { type Challenge, InvalidTokenError } from 'revocable-jwt';
 * const challenge: Challenge = { realm: 'notes', schemes: [{ name: 'Bearer', params: [] }], params: [] };
 * new InvalidTokenError('token_expired').withChallenge(challenge).headers['WWW-Authenticate'];
 * // 'Bearer realm="notes", error="invalid_token", error_description="The access token expired"'
 * ```
 */
export interface Challenge {
  /** The `realm` of every challenge. */
  readonly realm: string;
  /** The schemes accepted, in the order their challenges are written (at least one). */
  readonly schemes: readonly ChallengeScheme[];
  /** Parameters of every challenge, e.g. `[['resource_metadata', 'https://api.example.com/.well-known/…']]`. */
  readonly params: ReadonlyArray<readonly [string, string]>;
  /** The scheme the request used: its challenge carries the error. Absent: the first scheme's does. */
  readonly used?: ChallengeScheme['name'];
}

const BEARER: ChallengeScheme = Object.freeze({ name: 'Bearer', params: Object.freeze([]) });
const NO_PARAMS: Challenge['params'] = Object.freeze([]);

/** A Bearer-only challenge under `realm`, without other parameters: the default of every error. */
export function bearerChallenge(realm: string): Challenge {
  return Object.freeze({ realm, schemes: Object.freeze([BEARER]), params: NO_PARAMS });
}

/** The same challenge, naming `used` as the scheme the request used (the same object when it already does). */
export function challengeUsing(challenge: Challenge, used: ChallengeScheme['name'] | undefined): Challenge {
  if (challenge.used === used) return challenge;
  return Object.freeze({ ...challenge, used });
}

/**
 * The `WWW-Authenticate` value: one challenge per scheme (RFC 9110 §11.6.1 lets one field carry
 * several), each with the realm, its own and the common parameters; `errorParams` go into the
 * challenge of the scheme used. Every value is cut down to the RFC 6750 §3 charset.
 */
export function formatChallenges(challenge: Challenge, errorParams: ReadonlyArray<readonly [string, string]>): string {
  const carrier = challenge.schemes.find((s) => s.name === challenge.used) ?? challenge.schemes[0];
  return challenge.schemes
    .map((scheme) => {
      const params = [
        ['realm', challenge.realm] as const,
        ...scheme.params,
        ...challenge.params,
        ...(scheme === carrier ? errorParams : []),
      ];
      return `${scheme.name} ${params.map(([k, v]) => `${k}="${challengeValue(v)}"`).join(', ')}`;
    })
    .join(', ');
}

/**
 * RFC 6750 §3 allows only %x20-21 / %x23-5B / %x5D-7E in error_description (and scope tokens,
 * RFC 6749 §3.3, are the same set without the space): no `"`, no `\`, no control or non-ASCII
 * character. So nothing needs quoted-pair escaping, which many clients parse wrongly anyway:
 * `"` becomes `'` (descriptions stay readable), everything else outside the set is dropped.
 */
export function challengeValue(value: string): string {
  return value.replace(/"/g, "'").replace(NOT_IN_CHALLENGE, '');
}

/** Outside the RFC 6750 §3 charset (%x20-21 / %x23-5B / %x5D-7E): no quote, backslash, control or non-ASCII. */
const NOT_IN_CHALLENGE = /[^\x20\x21\x23-\x5b\x5d-\x7e]/g;
