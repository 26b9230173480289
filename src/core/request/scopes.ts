/**
 * Scope checks. Scopes come from `scope` and `scp`, each either a space-delimited string
 * (RFC 8693/9068) or an array of strings (as Okta, Azure AD and some IdPs send them). Anything
 * else grants nothing: a number, an object, a non-string array element; an array element with a
 * space is kept whole and so matches no scope a route can require.
 * Parsed once per verified token, not once per request.
 */
import { InsufficientScopeError } from '../shared/errors.js';
import type { VerifiedToken } from '../shared/verified-token.js';
import type { RequestCheck } from './request-check.js';

/**
 * The scopes a route requires: all of a list (`['notes:read', 'notes:write']`), or any one of
 * several (`{ anyOf: ['notes:read', 'notes:admin'] }`).
 *
 * @example
 * ```ts
 * import type { ScopeRequirement } from 'revocable-jwt';
 * const both: ScopeRequirement = ['notes:read', 'notes:write'];
 * const either: ScopeRequirement = { anyOf: ['notes:read', 'notes:admin'] };
 * ```
 */
export type ScopeRequirement = readonly string[] | { readonly anyOf: readonly string[] };

/** A scope token (RFC 6749 §3.3 NQCHAR): what a 403 challenge can name without mangling it. */
const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]+$/;
const SCOPE_NAMES = 'scope names (printable ASCII, no spaces, double quotes or backslashes)';

/** `scopes` as a guard got it, validated and frozen (a later change to the caller's array changes nothing). */
export function scopeRequirement(scopes: unknown): ScopeRequirement {
  const isScopeList = (list: unknown): list is string[] =>
    Array.isArray(list) && list.every((s) => typeof s === 'string' && SCOPE_TOKEN.test(s));
  if (scopes === undefined) return Object.freeze([]);
  if (isScopeList(scopes)) return Object.freeze([...scopes]);
  if (typeof scopes === 'object' && scopes !== null && !Array.isArray(scopes)) {
    const keys = Object.keys(scopes);
    const { anyOf } = scopes as { anyOf?: unknown };
    if (keys.length === 1 && keys[0] === 'anyOf' && isScopeList(anyOf) && anyOf.length > 0)
      return Object.freeze({ anyOf: Object.freeze([...anyOf]) });
    throw new TypeError(
      `revocable-jwt: \`scopes\` as an object must be { anyOf: [...] }, a non-empty array of ${SCOPE_NAMES}, ` +
        "e.g. { anyOf: ['notes:read', 'notes:admin'] }",
    );
  }
  throw new TypeError(
    `revocable-jwt: \`scopes\` must be an array of ${SCOPE_NAMES}, e.g. ['notes:read'], ` +
      "or { anyOf: ['notes:read', 'notes:admin'] }",
  );
}

/** The request check for `requirement`, or `undefined` when it requires nothing. */
export function scopeCheck(requirement: ScopeRequirement): RequestCheck | undefined {
  if ('anyOf' in requirement) {
    const { anyOf } = requirement;
    return (auth) => requireAnyScope(auth, anyOf);
  }
  const all = requirement as readonly string[];
  return all.length === 0 ? undefined : (auth) => requireScopes(auth, all);
}

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

/**
 * Checks that the token grants at least one scope of `alternatives` (see {@link grantedScopes}:
 * `scope` and `scp` alike, each a space-delimited string or an array of strings). An array element
 * holding a space (`['notes:read notes:admin']`) is one malformed scope, never two.
 * `authGuard({ scopes: { anyOf } })` does this for a whole route.
 *
 * @throws {@link InsufficientScopeError} (403 `insufficient_scope`, `match: 'any'`, the challenge
 * naming every alternative) unless one is granted; always for an empty list.
 *
 * @example
 * ```ts
 * import { requireAnyScope } from 'revocable-jwt';
 * const auth = await verifier.verify(token);
 * requireAnyScope(auth, ['notes:read', 'notes:admin']); // either will do
 * ```
 */
export function requireAnyScope(result: VerifiedToken, alternatives: readonly string[]): void {
  const granted = grantedScopes(result);
  for (const scope of alternatives) if (granted.has(scope)) return;
  throw new InsufficientScopeError(alternatives, 'any');
}
