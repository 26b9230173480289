/**
 * Scope checks. Scopes come from `scope` and `scp`, each either a space-delimited string
 * (RFC 8693/9068) or an array of strings (as Okta, Azure AD and some IdPs send them). Anything
 * else grants nothing: a number, an object, a non-string array element, an element with a space.
 * Parsed once per verified token, not once per request.
 */
import { InsufficientScopeError } from '../shared/errors.js';
import type { VerifiedToken } from '../shared/verified-token.js';

const parsed = new WeakMap<object, ReadonlySet<string>>();

/** The scopes a verified token grants (from `scope` and `scp`, both shapes). */
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

/** Throws {@link InsufficientScopeError} unless the token grants every scope in `required`. */
export function requireScopes(result: VerifiedToken, required: readonly string[]): void {
  if (required.length === 0) return;
  const granted = grantedScopes(result);
  for (const scope of required) if (!granted.has(scope)) throw new InsufficientScopeError(required);
}
