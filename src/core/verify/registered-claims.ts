/**
 * The JWT claims set (RFC 7519 §7.2 step 10) and its registered claims: the checks jose's
 * `jwtVerify` made after the signature, made here once on our own parse so a miss does not pay a
 * second pass. Same rules, same order and the same jose error classes as jose 6, so every refusal
 * keeps its reason (rejections.ts maps them); test/core/verify/registered-claims.test.ts holds
 * them equal to jose's on generated claims sets. Our own rules on top (claim types, lifetime)
 * stay in token-claims.ts.
 */
import { errors as jose } from 'jose';
import type { AccessTokenClaims } from '../shared/verified-token.js';

/** What a claims set is held to (seconds, like jose's options; `now` is epoch ms). */
export interface RegisteredClaimRules {
  issuer: string;
  audience: string | readonly string[];
  /**
   * The claim `audience` is matched against: `aud` (default; a member of the string or array) or
   * `client_id` (a string equal to one of them; `aud` is then not looked at). Ours, not jose's.
   */
  audienceClaim?: 'aud' | 'client_id';
  /**
   * When set, a present `token_use` claim must equal it (Amazon Cognito marks ID tokens `id`,
   * access tokens `access`); a token without one passes. Ours, not jose's.
   */
  tokenUse?: string;
  /** Seconds of leeway on `exp`, `nbf` and `iat`. */
  clockTolerance: number;
  /** Claims that must be present (any value). */
  requiredClaims?: readonly string[];
  /** The `typ` header the token must carry (media type, `application/` optional, any case). */
  typ?: string;
  /** Seconds an `iat` may lie in the past; requires `iat`. */
  maxTokenAge?: number;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** The payload bytes as a claims set: strict UTF-8, a top-level JSON object, else JWTInvalid. */
export function decodeClaimsSet(payload: Uint8Array): AccessTokenClaims {
  let claims: unknown;
  try {
    claims = JSON.parse(strictUtf8.decode(payload));
  } catch (cause) {
    throw new jose.JWTInvalid('JWT Claims Set must be a top-level JSON object', { cause });
  }
  if (!isPlainObject(claims)) throw new jose.JWTInvalid('JWT Claims Set must be a top-level JSON object');
  return claims as AccessTokenClaims;
}

/** Throws jose's JWTClaimValidationFailed / JWTExpired for the first rule `claims` breaks. */
export function checkRegisteredClaims(
  header: { typ?: unknown },
  claims: AccessTokenClaims,
  rules: RegisteredClaimRules,
  now: number,
): void {
  if (rules.typ !== undefined && (typeof header.typ !== 'string' || mediaType(header.typ) !== mediaType(rules.typ)))
    fail('unexpected "typ" JWT header value', claims, 'typ', 'check_failed');
  if (rules.tokenUse !== undefined && claims.token_use !== undefined) {
    if (typeof claims.token_use !== 'string')
      fail('"token_use" claim must be a string', claims, 'token_use', 'invalid');
    if (claims.token_use !== rules.tokenUse)
      fail('unexpected "token_use" claim value', claims, 'token_use', 'check_failed');
  }
  const audienceClaim = rules.audienceClaim ?? 'aud';
  // jose checks presence in this order: iss, aud, iat (maxTokenAge), then requiredClaims last to first.
  const required = [...(rules.requiredClaims ?? [])];
  if (rules.maxTokenAge !== undefined) required.push('iat');
  required.push(audienceClaim, 'iss');
  for (const claim of new Set(required.reverse()))
    if (!Object.hasOwn(claims, claim)) fail(`missing required "${claim}" claim`, claims, claim, 'missing');
  if (claims.iss !== rules.issuer) fail('unexpected "iss" claim value', claims, 'iss', 'check_failed');
  if (audienceClaim === 'client_id') {
    // A string (RFC 9068 §2.2), one of ours; an array or any other type is refused, never searched.
    if (typeof claims.client_id !== 'string')
      fail('"client_id" claim must be a string', claims, 'client_id', 'invalid');
    if (!hasAudience(claims.client_id, rules.audience))
      fail('unexpected "client_id" claim value', claims, 'client_id', 'check_failed');
  } else if (!hasAudience(claims.aud, rules.audience))
    fail('unexpected "aud" claim value', claims, 'aud', 'check_failed');

  const tolerance = rules.clockTolerance;
  const seconds = Math.floor(now / 1000);
  const iat = numericDate(claims, 'iat', rules.maxTokenAge !== undefined);
  const nbf = numericDate(claims, 'nbf', false);
  if (nbf !== undefined && nbf > seconds + tolerance)
    fail('"nbf" claim timestamp check failed', claims, 'nbf', 'check_failed');
  const exp = numericDate(claims, 'exp', false);
  if (exp !== undefined && exp <= seconds - tolerance)
    throw new jose.JWTExpired('"exp" claim timestamp check failed', claims, 'exp', 'check_failed');
  if (rules.maxTokenAge !== undefined) {
    const age = seconds - iat!;
    if (age - tolerance > rules.maxTokenAge)
      throw new jose.JWTExpired(
        '"iat" claim timestamp check failed (too far in the past)',
        claims,
        'iat',
        'check_failed',
      );
    if (age < -tolerance)
      fail('"iat" claim timestamp check failed (it should be in the past)', claims, 'iat', 'check_failed');
  }
}

function fail(message: string, claims: AccessTokenClaims, claim: string, reason: string): never {
  throw new jose.JWTClaimValidationFailed(message, claims, claim, reason);
}

/** A present NumericDate must be a number (any number: jose leaves ranges to the comparisons). */
function numericDate(claims: AccessTokenClaims, claim: 'iat' | 'nbf' | 'exp', required: boolean): number | undefined {
  const value = claims[claim];
  if (value === undefined && !required) return undefined;
  if (typeof value !== 'number') fail(`"${claim}" claim must be a number`, claims, claim, 'invalid');
  return value;
}

/** One of our audiences, as the `aud` string or a member of the `aud` array. */
export function hasAudience(aud: unknown, ours: string | readonly string[]): boolean {
  const accepted = typeof ours === 'string' ? [ours] : ours;
  if (typeof aud === 'string') return accepted.includes(aud);
  return Array.isArray(aud) && accepted.some((a) => aud.includes(a));
}

/** jose's comparison of `typ` values: case-insensitive, `application/` implied without a slash. */
function mediaType(value: string): string {
  const lower = value.toLowerCase();
  return value.includes('/') ? lower : `application/${lower}`;
}

/** A JSON object (not an array, not null) as JSON.parse makes it. */
function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
