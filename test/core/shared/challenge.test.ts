import { describe, expect, it } from '@jest/globals';
import {
  bearerChallenge,
  type Challenge,
  challengeUsing,
  formatChallenges,
} from '../../../src/core/shared/challenge.js';
import { InsufficientScopeError, InvalidTokenError, UnauthorizedError } from '../../../src/core/shared/errors.js';

const both: Challenge = {
  realm: 'notes',
  schemes: [
    { name: 'DPoP', params: [['algs', 'ES256 EdDSA']] },
    { name: 'Bearer', params: [] },
  ],
  params: [['resource_metadata', 'https://api.example.com/.well-known/oauth-protected-resource']],
};

describe('challenges', () => {
  it('writes one challenge per scheme, the error only in the challenge of the scheme used', () => {
    const error = new InvalidTokenError('revoked').withChallenge(challengeUsing(both, 'Bearer'));
    expect(error.headers['WWW-Authenticate']).toBe(
      'DPoP realm="notes", algs="ES256 EdDSA", ' +
        'resource_metadata="https://api.example.com/.well-known/oauth-protected-resource", ' +
        'Bearer realm="notes", resource_metadata="https://api.example.com/.well-known/oauth-protected-resource", ' +
        'error="invalid_token", error_description="The access token has been revoked"',
    );
  });

  it('puts the error in the first scheme when the request used none, and no error for a bare 401', () => {
    expect(formatChallenges(both, [['error', 'invalid_request']])).toMatch(
      /^DPoP realm="notes", algs="ES256 EdDSA", resource_metadata="[^"]+", error="invalid_request", Bearer realm="notes", resource_metadata="[^"]+"$/,
    );
    expect(new UnauthorizedError().withChallenge(both).headers['WWW-Authenticate']).not.toContain('error=');
  });

  it('keeps the error parameters of each error (scope) and never mutates a shared error', () => {
    const shared = new InsufficientScopeError(['notes:write']);
    const copy = shared.withChallenge(challengeUsing(both, 'DPoP'));
    expect(copy).not.toBe(shared);
    expect(copy).toBeInstanceOf(InsufficientScopeError);
    expect(copy.headers['WWW-Authenticate']).toMatch(
      /^DPoP realm="notes", .*error="insufficient_scope", .*scope="notes:write", Bearer /,
    );
    expect(shared.headers['WWW-Authenticate']).toBe(
      'Bearer realm="api", error="insufficient_scope", error_description="The access token lacks a required scope", ' +
        'scope="notes:write"',
    );
    expect(copy.withChallenge(copy.challenge)).toBe(copy);
  });

  it('withRealm and the realm setter keep the other challenge settings', () => {
    const error = new InvalidTokenError('revoked').withChallenge(both).withRealm('other');
    expect(error.challenge.schemes).toBe(both.schemes);
    expect(error.realm).toBe('other');
    error.realm = 'third';
    expect(error.headers['WWW-Authenticate']).toMatch(/^DPoP realm="third".*Bearer realm="third"/);
    expect(bearerChallenge('x')).toEqual({ realm: 'x', schemes: [{ name: 'Bearer', params: [] }], params: [] });
  });

  it('cuts every value down to the RFC 6750 charset', () => {
    const odd: Challenge = { ...both, params: [['resource_metadata', 'https://x/"\\\u0001é']] };
    expect(formatChallenges(odd, [])).toContain(`resource_metadata="https://x/'"`);
  });
});
