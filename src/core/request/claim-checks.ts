/**
 * What a route requires of a token's claims beyond its scopes: exact values (`equals`), values a
 * claim must contain (`includes`), and the application's own predicate (`check`). Run on every
 * request, cache hits included.
 *
 * A refusal is 401 `invalid_token`, as express-oauth2-jwt-bearer's `claimEquals` /
 * `claimIncludes` / `claimCheck` answer ("Unexpected 'tenant' value", "Missing 'tenant' claim"):
 * the token is valid but not one this resource takes, so the client needs another token, not more
 * scopes (a 403 `insufficient_scope` would send it to ask for scopes that change nothing).
 *
 * Claims are looked up as the token's own members only: `constructor`, `__proto__` or `toString`
 * never resolve to something the object inherits. A claim is compared with `===`, so `1` is not
 * `'1'`; `includes` treats an array claim as its elements and a single value (a role sent as a
 * string, as ADFS does for one role) as a list of one, and never splits a string on spaces
 * (`'admin user'` does not include `'admin'`; scopes have their own option).
 */
import { AuthError, InvalidTokenError } from '../shared/errors.js';
import { optionKeys, rejectUnknownKeys } from '../shared/option-keys.js';
import type { AccessTokenClaims, VerifiedToken } from '../shared/verified-token.js';
import type { RequestCheck } from './request-check.js';

/**
 * A JSON value a claim rule can name: string, number, boolean or `null` (objects and arrays are
 * for `check`).
 *
 * @example
 * ```ts
 * import type { ClaimValue } from 'revocable-jwt';
 * const tenant: ClaimValue = 't1';
 * ```
 */
export type ClaimValue = string | number | boolean | null;

/**
 * The claim rules of a route (`authGuard({ claims })`); every rule given must hold. Checked in
 * order: `equals`, `includes`, then `check`.
 *
 * - `equals`: each named claim is present and `===` the value.
 * - `includes`: each named claim contains every listed value: an array claim among its elements, a
 *   single-valued claim by being it (never split on spaces).
 * - `check`: `(payload) => boolean`, run synchronously; `true` admits. `false` refuses (401
 *   `invalid_token`, reason `claim_mismatch`). A check that throws, or returns anything but a
 *   boolean (a promise included), refuses too (reason `claim_check_error`, the thrown error as
 *   `cause`), never a 500 and never a pass: a request cannot turn a check's bug into an outage or
 *   a way in. An `AuthError` it throws is answered as it is (e.g. an `InsufficientScopeError`, 403).
 *
 * @example
 * ```ts
 * import { authGuard, type ClaimRules } from 'revocable-jwt';
 * const claims: ClaimRules = {
 *   equals: { tenant: 't1' },
 *   includes: { roles: ['admin'] },
 *   check: (payload) => typeof payload.sub === 'string' && !payload.sub.startsWith('svc-'),
 * };
 * app.delete('/notes/:id', authGuard({ verifier, claims }), (req, res) => res.sendStatus(204));
 * ```
 */
export interface ClaimRules {
  /** Claims that must be present with exactly this value. */
  equals?: Readonly<Record<string, ClaimValue>>;
  /** Claims that must contain every listed value (an array claim, or a single value). */
  includes?: Readonly<Record<string, readonly ClaimValue[]>>;
  /** The application's own rule: `true` admits; `false`, a throw or a non-boolean refuses. */
  check?: (payload: Readonly<AccessTokenClaims>) => boolean;
}

const CLAIM_RULE_KEYS = optionKeys<ClaimRules>({ equals: true, includes: true, check: true });

const fail = (message: string): never => {
  throw new TypeError(`revocable-jwt: ${message}`);
};

/**
 * The request check for `rules` (validated and copied now: changing the object later changes
 * nothing), or `undefined` without rules.
 *
 * @throws TypeError at construction: an unknown key, an empty `claims`, a value that is not a JSON
 * primitive, an empty `includes` list, a `check` that is not a function.
 */
export function claimChecks(rules: ClaimRules | undefined, factory: string): RequestCheck | undefined {
  if (rules === undefined) return undefined;
  if (typeof rules !== 'object' || rules === null || Array.isArray(rules))
    fail("`claims` must be an object: { equals?, includes?, check? }, e.g. { equals: { tenant: 't1' } }");
  rejectUnknownKeys(rules, CLAIM_RULE_KEYS, factory, 'claims.');
  const equals = ruleEntries(rules.equals, 'equals', (value, name) => {
    if (!isClaimValue(value))
      fail(
        `\`claims.equals.${name}\` must be a string, a finite number, a boolean or null ` +
          '(use `includes` for a list, `check` for anything else)',
      );
    return value as ClaimValue;
  });
  const includes = ruleEntries(rules.includes, 'includes', (values, name) => {
    if (!Array.isArray(values) || values.length === 0 || !values.every(isClaimValue))
      fail(`\`claims.includes.${name}\` must be a non-empty array of strings, finite numbers, booleans or null`);
    return Object.freeze([...(values as ClaimValue[])]);
  });
  const { check } = rules;
  if (check !== undefined && typeof check !== 'function')
    fail('`claims.check` must be a function (payload) => boolean');
  if (equals.length === 0 && includes.length === 0 && check === undefined)
    fail('`claims` names no rule: give `equals`, `includes` or `check`, or leave `claims` out');

  return (auth: VerifiedToken) => {
    const payload = auth.payload as Readonly<Record<string, unknown>>;
    for (const [name, expected] of equals) {
      if (!Object.hasOwn(payload, name)) throw missing(name);
      if (payload[name] !== expected) throw unexpected(name);
    }
    for (const [name, wanted] of includes) {
      if (!Object.hasOwn(payload, name)) throw missing(name);
      const actual = payload[name];
      const values: readonly unknown[] | undefined = Array.isArray(actual)
        ? actual
        : isClaimValue(actual)
          ? [actual]
          : undefined;
      if (values === undefined || !wanted.every((value) => values.includes(value))) throw unexpected(name);
    }
    if (check !== undefined) runCheck(check, auth.payload);
  };
}

/** The app's predicate: `true` passes; anything else refuses (see {@link ClaimRules.check}). */
function runCheck(check: NonNullable<ClaimRules['check']>, payload: Readonly<AccessTokenClaims>): void {
  let verdict: unknown;
  try {
    verdict = check(payload);
  } catch (error) {
    if (error instanceof AuthError) throw error;
    throw new InvalidTokenError('claim_check_error', undefined, { cause: error });
  }
  if (verdict === true) return;
  if (verdict === false) throw new InvalidTokenError('claim_mismatch');
  // An async check's promise would be truthy: never a pass. Its rejection, if any, is ours to swallow.
  if (typeof (verdict as { then?: unknown } | null)?.then === 'function')
    (verdict as PromiseLike<unknown>).then(undefined, () => {});
  throw new InvalidTokenError('claim_check_error', undefined, {
    cause: new TypeError(
      `revocable-jwt: \`claims.check\` must return true or false synchronously; it returned ${describe(verdict)}`,
    ),
  });
}

/** `equals` or `includes` as [name, value] pairs, each value checked by `accept`. */
function ruleEntries<T>(
  rule: unknown,
  kind: 'equals' | 'includes',
  accept: (value: unknown, name: string) => T,
): ReadonlyArray<readonly [string, T]> {
  if (rule === undefined) return [];
  if (typeof rule !== 'object' || rule === null || Array.isArray(rule))
    fail(`\`claims.${kind}\` must be an object of claim names, e.g. { tenant: 't1' }`);
  // Own enumerable keys only: a name inherited through a prototype is no rule anyone wrote.
  const entries = Object.entries(rule as object).map(([name, value]) => [name, accept(value, name)] as const);
  if (entries.length === 0) fail(`\`claims.${kind}\` names no claim`);
  return Object.freeze(entries);
}

function isClaimValue(value: unknown): value is ClaimValue {
  return (
    value === null ||
    typeof value === 'string' ||
    typeof value === 'boolean' ||
    (typeof value === 'number' && Number.isFinite(value))
  );
}

function missing(name: string): InvalidTokenError {
  return new InvalidTokenError('claim_mismatch', `Missing '${name}' claim`);
}

function unexpected(name: string): InvalidTokenError {
  return new InvalidTokenError('claim_mismatch', `Unexpected '${name}' value`);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'object' && typeof (value as { then?: unknown }).then === 'function') return 'a promise';
  return typeof value === 'object' ? 'an object' : `${typeof value} ${String(value)}`;
}
