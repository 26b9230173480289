/**
 * Scope checks on a verified token, alone: which claim shapes grant which scopes, and what a
 * missing scope throws. No IdP needed: a verified token is just its frozen claims here.
 */
import { describe, expect, it } from '@jest/globals';
import {
  grantedScopes,
  InsufficientScopeError,
  requireAnyScope,
  requireScopes,
  type AccessTokenClaims,
  type VerifiedToken,
} from '../../../src/index.js';

const verified = (payload: Record<string, unknown>): VerifiedToken =>
  Object.freeze({
    token: 'h.p.s',
    header: {},
    payload: Object.freeze(payload) as AccessTokenClaims,
    source: 'jwt' as const,
  });

const granted = (payload: Record<string, unknown>) => [...grantedScopes(verified(payload))].sort();

describe('grantedScopes()', () => {
  it.each<[string, Record<string, unknown>, string[]]>([
    ['a space-delimited scope string', { scope: 'notes:read notes:write' }, ['notes:read', 'notes:write']],
    [
      'a scope string with repeated and edge spaces',
      { scope: ' notes:read  notes:write ' },
      ['notes:read', 'notes:write'],
    ],
    ['a scope array (Okta, Azure AD)', { scope: ['notes:read', 'notes:write'] }, ['notes:read', 'notes:write']],
    ['an scp array', { scp: ['notes:read'] }, ['notes:read']],
    ['an scp string', { scp: 'notes:read notes:write' }, ['notes:read', 'notes:write']],
    ['scope and scp together (their union)', { scope: 'a b', scp: ['b', 'c'] }, ['a', 'b', 'c']],
    ['an empty scope string', { scope: '' }, []],
    ['no scope claim at all', {}, []],
  ])('reads %s', (_name, payload, expected) => {
    expect(granted(payload)).toEqual(expected);
  });

  it.each<[string, unknown]>([
    ['a number', 42],
    ['an object', { 'notes:read': true }],
    ['null', null],
    ['a boolean', true],
  ])('grants nothing for a scope claim that is %s', (_name, scope) => {
    expect(granted({ scope, scp: scope })).toEqual([]);
  });

  it('keeps only the string elements of an array, and drops empty ones', () => {
    expect(granted({ scp: ['notes:read', 7, null, { s: 1 }, ['notes:write'], ''] })).toEqual(['notes:read']);
  });

  it('keeps an array element with a space as one token, which no required scope can match', () => {
    const token = verified({ scope: ['notes:read notes:write'] });
    expect([...grantedScopes(token)]).toEqual(['notes:read notes:write']);
    expect(() => requireScopes(token, ['notes:read'])).toThrow(InsufficientScopeError);
  });

  it('parses a token once: the same set is returned for the same verified token', () => {
    const token = verified({ scope: 'notes:read' });
    expect(grantedScopes(token)).toBe(grantedScopes(token));
  });
});

describe('requireScopes()', () => {
  it('passes when every required scope is granted, from either claim', () => {
    expect(() => requireScopes(verified({ scope: 'a', scp: ['b'] }), ['a', 'b'])).not.toThrow();
  });

  it('passes when nothing is required, even for a token without scopes', () => {
    expect(() => requireScopes(verified({}), [])).not.toThrow();
  });

  it('throws a 403 insufficient_scope naming every required scope when one is missing', () => {
    let error: unknown;
    try {
      requireScopes(verified({ scope: 'notes:read' }), ['notes:read', 'notes:write']);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InsufficientScopeError);
    expect(error).toMatchObject({
      status: 403,
      code: 'insufficient_scope',
      reason: 'insufficient_scope',
      scopes: ['notes:read', 'notes:write'],
      message: 'The access token lacks a required scope',
    });
    expect((error as InsufficientScopeError).headers['WWW-Authenticate']).toBe(
      'Bearer realm="api", error="insufficient_scope", ' +
        'error_description="The access token lacks a required scope", scope="notes:read notes:write"',
    );
  });

  it('matches scopes exactly: case and prefixes count', () => {
    const token = verified({ scope: 'Notes:Read notes' });
    expect(() => requireScopes(token, ['notes:read'])).toThrow(InsufficientScopeError);
    expect(() => requireScopes(token, ['notes:'])).toThrow(InsufficientScopeError);
    expect(() => requireScopes(token, ['Notes:Read'])).not.toThrow();
  });
});

describe('requireAnyScope(): one of several scopes', () => {
  const alternatives = ['notes:read', 'notes:admin'];
  const passes = (payload: Record<string, unknown>) => {
    try {
      requireAnyScope(verified(payload), alternatives);
      return true;
    } catch (error) {
      expect(error).toBeInstanceOf(InsufficientScopeError);
      return false;
    }
  };

  it.each<[string, Record<string, unknown>, boolean]>([
    ['the first alternative in scope', { scope: 'notes:read' }, true],
    ['the second alternative in scp (array)', { scp: ['notes:admin'] }, true],
    ['the second alternative in an scp string', { scp: 'other notes:admin' }, true],
    ['both', { scope: 'notes:read notes:admin' }, true],
    ['neither', { scope: 'notes:write' }, false],
    ['no scope claim', {}, false],
    // The attacker's view: shapes that might look like a grant to a looser parser.
    ['both alternatives as one array element (a malformed scope)', { scp: ['notes:read notes:admin'] }, false],
    ['an alternative as an object key', { scope: { 'notes:admin': true } }, false],
    ['an alternative nested in an array', { scp: [['notes:admin']] }, false],
    ['an alternative with different case', { scope: 'NOTES:ADMIN' }, false],
    ['a prefix of an alternative', { scope: 'notes:' }, false],
    ['an alternative followed by a tab', { scope: 'notes:admin\tx' }, false],
    ['an alternative in another claim', { scopes: 'notes:admin', roles: ['notes:admin'] }, false],
    ['an alternative in scp while scope is a number', { scope: 7, scp: 'notes:read' }, true],
  ])('%s: %s', (_name, payload, expected) => {
    expect(passes(payload)).toBe(expected);
  });

  it('throws a 403 naming every alternative, with match: any', () => {
    let error: unknown;
    try {
      requireAnyScope(verified({ scope: 'notes:write' }), alternatives);
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({ status: 403, code: 'insufficient_scope', scopes: alternatives, match: 'any' });
    expect((error as InsufficientScopeError).headers['WWW-Authenticate']).toBe(
      'Bearer realm="api", error="insufficient_scope", ' +
        'error_description="The access token lacks a required scope", scope="notes:read notes:admin"',
    );
  });

  it('refuses every token for an empty list (nothing can be one of nothing)', () => {
    expect(() => requireAnyScope(verified({ scope: 'a' }), [])).toThrow(InsufficientScopeError);
  });
});
