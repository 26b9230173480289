/**
 * Scope checks. Scopes come from `scope` (space-delimited, RFC 8693/9068) or `scp` (array or
 * string, as Okta and Azure AD send them). Parsed once per verified token, not once per request.
 */
import { InsufficientScopeError } from './errors.js';
import type { VerifiedToken } from './types.js';

const parsed = new WeakMap<object, ReadonlySet<string>>();

export function grantedScopes(result: VerifiedToken): ReadonlySet<string> {
  let scopes = parsed.get(result.payload);
  if (scopes === undefined) {
    const { scope, scp } = result.payload;
    const list: unknown[] = [];
    if (typeof scope === 'string') list.push(...scope.split(' '));
    if (typeof scp === 'string') list.push(...scp.split(' '));
    else if (Array.isArray(scp)) list.push(...scp);
    scopes = new Set(list.filter((s): s is string => typeof s === 'string' && s !== ''));
    parsed.set(result.payload, scopes);
  }
  return scopes;
}

/** Throws {@link InsufficientScopeError} unless the token grants every scope in `required`. */
export function requireScopes(result: VerifiedToken, required: readonly string[]): void {
  if (required.length === 0) return;
  const granted = grantedScopes(result);
  for (const scope of required) if (!granted.has(scope)) throw new InsufficientScopeError(required);
}
