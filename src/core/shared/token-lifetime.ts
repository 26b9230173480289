/**
 * When a token stops being accepted, and so how long a revocation of it must last. Every
 * revocation (denylist entry, cutoff, replay record) is derived from the same acceptance rules
 * the verifier applies, so none can lapse while a token it covers is still accepted, tolerances
 * and rounding included.
 *
 * The acceptance rules (jose compares whole seconds: `now` is `floor(epoch ms / 1000)`):
 * - `exp` is accepted while `exp > floor(now) − tolerance`, i.e. until `ceil(exp + tolerance)` s.
 * - `iat` with `maxTokenAge` is accepted while `floor(now) − iat − tolerance ≤ maxTokenAge`,
 *   i.e. until `floor(iat + maxTokenAge + tolerance) + 1` s.
 * - access tokens may live `exp − iat ≤ maxTokenLifetime + tolerance`; one without `exp` is
 *   treated as expiring at `iat + maxTokenLifetime`; one with neither `exp` nor `iat` is refused,
 *   since nothing bounds how long its revocation would have to last.
 * - a cutoff at second `C` covers every token with `iat < C + 1` (see RevocationList).
 */

/** Epoch ms from which a token with this `exp` is refused as expired (exclusive end of acceptance). */
export function expAcceptedUntil(exp: number, toleranceSeconds: number): number {
  return Math.ceil(exp + toleranceSeconds) * 1000;
}

/** Epoch ms from which a JWT with this `iat` is refused as too old under `maxTokenAge`. */
export function maxAgeAcceptedUntil(iat: number, maxAgeSeconds: number, toleranceSeconds: number): number {
  return (Math.floor(iat + maxAgeSeconds + toleranceSeconds) + 1) * 1000;
}

/**
 * An access token's own deadline (epoch ms, exclusive): from `exp`, else from `iat` plus the
 * longest lifetime we accept. Undefined when it has neither (such tokens are refused).
 */
export function accessTokenDeadline(
  payload: { exp?: unknown; iat?: unknown },
  maxTokenLifetimeMs: number,
  toleranceSeconds: number,
): number | undefined {
  if (typeof payload.exp === 'number') return expAcceptedUntil(payload.exp, toleranceSeconds);
  if (typeof payload.iat === 'number')
    return expAcceptedUntil(payload.iat + maxTokenLifetimeMs / 1000, toleranceSeconds);
  return undefined;
}

/**
 * A cutoff made at `now` (epoch ms): whole second `C = floor(now / 1000)`, covering every token
 * with `iat < C + 1`, kept until the last of them can no longer be accepted. Such a token has
 * `exp ≤ iat + maxTokenLifetime + tolerance < C + 1 + maxTokenLifetime + tolerance`, accepted
 * until `exp + tolerance`: so the cutoff lasts until `ceil(C + 1 + maxTokenLifetime + 2 × tolerance)` s.
 * `cutoff` stays a whole number (stores keep it as an integer).
 */
export function cutoffAt(
  now: number,
  maxTokenLifetimeMs: number,
  toleranceSeconds: number,
): { cutoff: number; expiresAt: number } {
  const cutoff = Math.floor(now / 1000);
  return {
    cutoff,
    expiresAt: expAcceptedUntil(cutoff + 1 + maxTokenLifetimeMs / 1000 + toleranceSeconds, toleranceSeconds),
  };
}
