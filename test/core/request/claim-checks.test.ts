/**
 * Claim rules of a route (`authGuard({ claims })`): which payloads pass `equals`, `includes` and
 * `check`, written the way an attacker probes a claim matcher (inherited names, arrays against
 * strings, look-alike values), what a refusal answers (401 invalid_token, as
 * express-oauth2-jwt-bearer), and that a check's bug is a refusal with its cause, never a 500 or a
 * pass. Then the same through the authenticator with tokens signed by the real IdP's key:
 * on cache hits, and after revocation.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  type AccessTokenClaims,
  type Authentication,
  type ClaimRules,
  createAuthenticator,
  createVerifier,
  InsufficientScopeError,
  InvalidTokenError,
  type VerifiedToken,
  type Verifier,
} from '../../../src/index.js';
import { claimChecks } from '../../../src/core/request/claim-checks.js';
import { type EmbeddedIdp, startIdp, testClock, tokenAt } from '../../support/idp.js';

const verified = (payload: object): VerifiedToken =>
  Object.freeze({ token: 'h.p.s', header: {}, payload: Object.freeze(payload) as AccessTokenClaims, source: 'jwt' });

/** What a rule answers for a payload: 'pass', or the refusal's reason and description. */
function outcome(rules: ClaimRules, payload: object): string {
  const check = claimChecks(rules, 'authGuard')!;
  try {
    check(verified(payload), undefined as never, undefined as never);
    return 'pass';
  } catch (error) {
    if (!(error instanceof InvalidTokenError)) throw error;
    expect(error).toMatchObject({ status: 401, code: 'invalid_token' });
    return `${error.reason}: ${error.description}`;
  }
}

const UNEXPECTED = (name: string) => `claim_mismatch: Unexpected '${name}' value`;
const MISSING = (name: string) => `claim_mismatch: Missing '${name}' claim`;

describe('claims.equals', () => {
  const rules = { equals: { tenant: 't1' } };
  it.each<[string, object, string]>([
    ['the value', { tenant: 't1' }, 'pass'],
    ['another value', { tenant: 't2' }, UNEXPECTED('tenant')],
    ['no such claim', {}, MISSING('tenant')],
    ['the value in an array', { tenant: ['t1'] }, UNEXPECTED('tenant')],
    ['the value with different case', { tenant: 'T1' }, UNEXPECTED('tenant')],
    ['the value with a trailing space', { tenant: 't1 ' }, UNEXPECTED('tenant')],
    ['an object with a toString', { tenant: { toString: 't1' } }, UNEXPECTED('tenant')],
    ['null', { tenant: null }, UNEXPECTED('tenant')],
    // JSON.parse makes `__proto__` an own claim; it must not stand in for `tenant`.
    ['the claim only inside a __proto__ claim', JSON.parse('{"__proto__":{"tenant":"t1"}}'), MISSING('tenant')],
  ])('%s → %s', (_name, payload, expected) => {
    expect(outcome(rules, payload)).toBe(expected);
  });

  it.each<[string, Record<string, unknown>, object, string]>([
    ['a number is not its string', { level: 3 }, { level: '3' }, UNEXPECTED('level')],
    ['true is not 1', { admin: true }, { admin: 1 }, UNEXPECTED('admin')],
    ['null equals null, and only a present null', { deleted_at: null }, { deleted_at: null }, 'pass'],
    ['an absent claim is not null', { deleted_at: null }, {}, MISSING('deleted_at')],
    ['false equals false', { suspended: false }, { suspended: false }, 'pass'],
  ])('%s', (_name, equals, payload, expected) => {
    expect(outcome({ equals: equals as ClaimRules['equals'] }, payload)).toBe(expected);
  });

  it.each(['constructor', 'toString', 'hasOwnProperty', '__proto__'])(
    'never finds an inherited %s: only the token’s own claims count',
    (name) => {
      const rules: ClaimRules = { equals: Object.fromEntries([[name, 'x']]) };
      expect(outcome(rules, {})).toBe(MISSING(name));
      expect(outcome(rules, JSON.parse(`{${JSON.stringify(name)}:"x"}`))).toBe('pass');
    },
  );
});

describe('claims.includes', () => {
  const rules = { includes: { roles: ['admin'] } };
  it.each<[string, object, string]>([
    ['an array with the value', { roles: ['user', 'admin'] }, 'pass'],
    ['a single value, as ADFS sends one role', { roles: 'admin' }, 'pass'],
    ['an array without it', { roles: ['user'] }, UNEXPECTED('roles')],
    ['an empty array', { roles: [] }, UNEXPECTED('roles')],
    ['no such claim', {}, MISSING('roles')],
    // Never split on spaces: free text must not grant a role.
    ['a space-delimited string holding it', { roles: 'user admin' }, UNEXPECTED('roles')],
    ['one array element holding it with a space', { roles: ['user admin'] }, UNEXPECTED('roles')],
    ['it nested one array deeper', { roles: [['admin']] }, UNEXPECTED('roles')],
    ['it as an object key', { roles: { admin: true } }, UNEXPECTED('roles')],
    ['a look-alike (Cyrillic а)', { roles: ['\u0430dmin'] }, UNEXPECTED('roles')],
    ['a prefix', { roles: ['admi'] }, UNEXPECTED('roles')],
    ['an inherited includes method', { roles: { includes: () => true } }, UNEXPECTED('roles')],
  ])('%s → %s', (_name, payload, expected) => {
    expect(outcome(rules, payload)).toBe(expected);
  });

  it('requires every listed value', () => {
    const both = { includes: { roles: ['admin', 'auditor'] } };
    expect(outcome(both, { roles: ['admin', 'auditor', 'user'] })).toBe('pass');
    expect(outcome(both, { roles: ['admin'] })).toBe(UNEXPECTED('roles'));
    expect(outcome(both, { roles: 'admin' })).toBe(UNEXPECTED('roles'));
  });

  it('compares elements strictly: 1 is not "1"', () => {
    expect(outcome({ includes: { groups: [1] } }, { groups: ['1'] })).toBe(UNEXPECTED('groups'));
    expect(outcome({ includes: { groups: [1] } }, { groups: [1, 2] })).toBe('pass');
  });
});

describe('claims.check', () => {
  it('admits on true and refuses on false (claim_mismatch)', () => {
    expect(outcome({ check: (p) => p.sub === 'alice' }, { sub: 'alice' })).toBe('pass');
    expect(outcome({ check: (p) => p.sub === 'alice' }, { sub: 'bob' })).toBe(
      'claim_mismatch: The access token does not meet the claim requirements of this resource',
    );
  });

  it('refuses when the check throws, keeping the error as cause: never a 500, never a pass', () => {
    const bug = new TypeError("Cannot read properties of undefined (reading 'id')");
    const check = claimChecks(
      {
        check: () => {
          throw bug;
        },
      },
      'authGuard',
    )!;
    let thrown: unknown;
    try {
      check(verified({}), undefined as never, undefined as never);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(InvalidTokenError);
    expect(thrown).toMatchObject({ status: 401, reason: 'claim_check_error', cause: bug });
    // The client learns nothing of the bug.
    expect((thrown as InvalidTokenError).description).not.toContain('undefined');
  });

  it.each<[string, () => unknown]>([
    ['a promise (an async check)', () => Promise.resolve(true)],
    ['a rejected promise (its rejection is handled, not left unhandled)', () => Promise.reject(new Error('db down'))],
    ['a truthy string', () => 'yes'],
    ['1', () => 1],
    ['undefined (a forgotten return)', () => undefined],
    ['an object', () => ({})],
  ])('refuses a check that returns %s (claim_check_error), never taking it as a pass', (_name, verdict) => {
    expect(outcome({ check: verdict as () => boolean }, {})).toMatch(/^claim_check_error: /);
  });

  it('answers an AuthError the check throws as it is (e.g. a 403)', () => {
    const check = claimChecks(
      {
        check: () => {
          throw new InsufficientScopeError(['notes:admin']);
        },
      },
      'authGuard',
    )!;
    expect(() => check(verified({}), undefined as never, undefined as never)).toThrow(InsufficientScopeError);
  });

  it('sees the frozen payload: it cannot change what other requests see', () => {
    let frozen = false;
    outcome(
      {
        check: (payload) => {
          frozen = Object.isFrozen(payload);
          return true;
        },
      },
      { sub: 'alice' },
    );
    expect(frozen).toBe(true);
  });

  it('runs after equals and includes, which must pass first', () => {
    let ran = false;
    const rules: ClaimRules = {
      equals: { tenant: 't1' },
      check: () => {
        ran = true;
        return true;
      },
    };
    expect(outcome(rules, { tenant: 't2' })).toBe(UNEXPECTED('tenant'));
    expect(ran).toBe(false);
  });
});

describe('claims: options are checked at construction', () => {
  it.each<[string, unknown, RegExp]>([
    ['not an object', 'tenant', /`claims` must be an object/],
    ['no rule at all', {}, /`claims` names no rule/],
    ['a misspelt rule', { equal: { a: 1 } }, /unknown option `claims.equal`.*did you mean `claims.equals`/],
    ['an empty equals', { equals: {} }, /`claims.equals` names no claim/],
    ['an equals value that is an array', { equals: { roles: ['admin'] } }, /use `includes` for a list/],
    ['an equals value that is an object', { equals: { org: { id: 1 } } }, /`check` for anything else/],
    ['an equals value that is NaN', { equals: { level: Number.NaN } }, /finite number/],
    ['an equals value that is undefined', { equals: { tenant: undefined } }, /`claims.equals.tenant`/],
    ['an includes value that is a string', { includes: { roles: 'admin' } }, /non-empty array/],
    ['an empty includes list', { includes: { roles: [] } }, /non-empty array/],
    ['an includes list with an object', { includes: { roles: [{}] } }, /non-empty array/],
    ['a check that is not a function', { check: true }, /`claims.check` must be a function/],
  ])('%s', (_name, claims, message) => {
    expect(() => claimChecks(claims as ClaimRules, 'authGuard')).toThrow(TypeError);
    expect(() => claimChecks(claims as ClaimRules, 'authGuard')).toThrow(message);
  });

  it('copies the rules: changing the object afterwards changes nothing', () => {
    const equals: Record<string, string> = { tenant: 't1' };
    const check = claimChecks({ equals }, 'authGuard')!;
    equals.tenant = 't2';
    equals.other = 'x';
    expect(() => check(verified({ tenant: 't1' }), undefined as never, undefined as never)).not.toThrow();
  });
});

describe('claims through the authenticator, with tokens signed by the IdP', () => {
  const clock = testClock();
  let idp: EmbeddedIdp;
  let verifier: Verifier;
  beforeAll(async () => {
    idp = await startIdp();
    verifier = createVerifier({ issuer: idp.issuer, audience: idp.audience, clock });
  });
  afterAll(async () => {
    await verifier.close();
    await idp.close();
  });
  const request = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });
  const settle = async (answer: Authentication | Promise<Authentication>) => answer;

  it('checks the claims on a cache hit too, per route: one token, two routes, two answers', async () => {
    const tenantOne = createAuthenticator({ verifier, claims: { equals: { tenant: 't1' } } });
    const tenantTwo = createAuthenticator({ verifier, claims: { equals: { tenant: 't2' } } });
    const token = await tokenAt(idp, clock(), { tenant: 't1' });
    expect(await settle(tenantOne(request(token)))).toMatchObject({ ok: true });
    const hit = tenantTwo(request(token)); // cached now: answered synchronously, and refused
    expect(hit).not.toBeInstanceOf(Promise);
    expect(hit).toMatchObject({ ok: false, status: 401, body: { error: 'invalid_token' } });
    expect((hit as { headers: Record<string, string> }).headers['WWW-Authenticate']).toBe(
      'Bearer realm="api", error="invalid_token", error_description="Unexpected \'tenant\' value"',
    );
  });

  it('refuses a revoked token that has every right claim (401 revoked)', async () => {
    const authenticate = createAuthenticator({
      verifier,
      claims: { equals: { tenant: 't1' }, includes: { roles: ['admin'] }, check: () => true },
    });
    const token = await tokenAt(idp, clock(), { tenant: 't1', roles: ['admin'] });
    expect(await settle(authenticate(request(token)))).toMatchObject({ ok: true });
    await verifier.invalidate(token);
    const answer = await settle(authenticate(request(token)));
    expect(answer).toMatchObject({ ok: false, status: 401, error: { reason: 'revoked' } });
  });

  it('reports claim refusals to the verifier’s listeners with their reason', async () => {
    const reasons: string[] = [];
    const listener = ({ reason }: { reason: string }) => reasons.push(reason);
    verifier.on('rejected', listener);
    const authenticate = createAuthenticator({
      verifier,
      claims: {
        check: () => {
          throw new Error('bug');
        },
      },
    });
    await settle(authenticate(request(await tokenAt(idp, clock()))));
    verifier.off('rejected', listener);
    expect(reasons).toEqual(['claim_check_error']);
  });
});
