/**
 * Scope checks. Scopes come from `scope` and `scp`, each either a space-delimited string
 * (RFC 8693/9068) or an array of strings (as Okta, Azure AD and some IdPs send them). Anything
 * else grants nothing: a number, an object, a non-string array element; an array element with a
 * space is kept whole and so matches no scope a route can require.
 * Parsed once per verified token, not once per request.
 */
import { InsufficientScopeError } from '../shared/errors.js';
import type { VerifiedToken } from '../shared/verified-token.js';

const parsed = new WeakMap<object, ReadonlySet<string>>();

/**
 * The scopes a verified token grants: the union of `scope` and `scp`, each a space-delimited
 * string or an array of strings (other shapes grant nothing). Parsed once per token; the set is
 * shared by every request presenting it: read it, never change it.
 *
 * @example
 * ```ts
 * import { grantedScopes } from 'revocable-jwt';
 * const auth = await verifier.verify(token); // e.g. scope: 'notes:read notes:write'
 * const canWrite = grantedScopes(auth).has('notes:write');
 * ```
 */
export function grantedScopes(result: VerifiedToken): ReadonlySet<string> {
  let scopes = parsed.get(result.payload);
  if (scopes === undefined) {
    const { scope, scp } = result.payload as { scope?: unknown; scp?: unknown };
    scopes = new Set([...scopeTokens(scope), ...scopeTokens(scp)]);
    parsed.set(result.payload, scopes);
  }
  return scopes;
}

/** One claim's scope tokens: the words of a string, or the string elements of an array. */
function scopeTokens(claim: unknown): string[] {
  // An array element is one scope token; one with a space in it is not a valid token (RFC 6749
  // §3.3) and matches no required scope, since those never contain spaces.
  const list = typeof claim === 'string' ? claim.split(' ') : Array.isArray(claim) ? claim : [];
  return list.filter((s): s is string => typeof s === 'string' && s !== '');
}

/**
 * Checks that the token grants every scope in `required` (see {@link grantedScopes}); an empty
 * list always passes. `authGuard({ scopes })` does this for a whole route.
 *
 * @throws {@link InsufficientScopeError} (403 `insufficient_scope`, the challenge naming every
 * required scope) unless all are granted.
 *
 * @example
 * ```ts
 * import { requireScopes } from 'revocable-jwt';
 * const auth = await verifier.verify(token);
 * requireScopes(auth, ['notes:write']); // throws InsufficientScopeError (403) without it
 * ```
 */
export function requireScopes(result: VerifiedToken, required: readonly string[]): void {
  if (required.length === 0) return;
  const granted = grantedScopes(result);
  for (const scope of required) if (!granted.has(scope)) throw new InsufficientScopeError(required);
}
