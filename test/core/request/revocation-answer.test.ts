/** The answer table of a logout / revoke endpoint, outcome by outcome, first reason first. */
import { describe, expect, it } from '@jest/globals';
import { type RevokedTokens, revocationAnswer } from '../../../src/core/request/revocation-answer.js';
import { MisconfiguredError } from '../../../src/core/shared/errors.js';
import { RevocationError, type RevocationOutcome } from '../../../src/index.js';

const done: RevocationOutcome = { local: 'denylisted', store: 'published', idp: 'revoked' };
const outcome = (changes: Partial<RevocationOutcome>): RevocationOutcome => ({ ...done, ...changes });
const unreachable = new RevocationError('the IdP is unreachable', { transient: true });
const NO_STORE = { 'Cache-Control': 'no-store' };
const unavailable = (retryAfter: string, description: RegExp) => ({
  status: 503,
  headers: { 'Retry-After': retryAfter, ...NO_STORE },
  body: { error: 'temporarily_unavailable', error_description: expect.stringMatching(description) },
});

describe('revocationAnswer', () => {
  it.each<[string, RevokedTokens, object]>([
    ['revoked everywhere', { token: done }, { status: 200, headers: NO_STORE, body: { revoked: true } }],
    [
      'the IdP cannot revoke this type (the denylist is the revocation)',
      { bearer: outcome({ idp: 'not_revocable' }) },
      { status: 200, body: { revoked: true } },
    ],
    [
      'a forged body token (RFC 7009: as for unknown tokens)',
      { token: outcome({ local: 'not_ours' }) },
      { status: 200 },
    ],
    ['no revocation endpoint configured', { token: outcome({ idp: 'not_configured' }) }, { status: 200 }],
    [
      'the token cannot be checked right now',
      { token: outcome({ local: 'unverifiable', store: 'none' }) },
      unavailable('5', /it was not revoked here/),
    ],
    [
      'the shared store has not confirmed it',
      { token: outcome({ store: 'pending' }) },
      unavailable('1', /has not confirmed it yet/),
    ],
    [
      'IdP unreachable and the outbox is full',
      { token: outcome({ local: 'not_ours', store: 'none', idp: 'queue_full', error: unreachable }) },
      unavailable('30', /identity provider is unreachable; try again later/),
    ],
    [
      'IdP unreachable and the store cannot queue the retry',
      { token: outcome({ idp: 'queue_unavailable', error: unreachable }) },
      unavailable('30', /try again later/),
    ],
    [
      'the IdP refused our client',
      { token: outcome({ idp: 'rejected', error: new RevocationError('invalid_client', { transient: false }) }) },
      {
        status: 502,
        headers: NO_STORE,
        body: { error: 'idp_error', error_description: expect.stringMatching(/revoked locally/) },
      },
    ],
    [
      'IdP unreachable, queued: the soonest retry',
      { token: outcome({ idp: 'queued', retryAfter: 7 }), bearer: outcome({ idp: 'queued', retryAfter: 3 }) },
      unavailable('3', /will be told once it is reachable/),
    ],
    [
      'several issuers, a body token naming none: sent nowhere',
      { token: outcome({ local: 'not_ours', store: 'none', idp: 'unknown_issuer' }) },
      {
        status: 400,
        headers: {
          'WWW-Authenticate': expect.stringMatching(/^Bearer realm="notes", error="invalid_request", /),
          ...NO_STORE,
        },
        body: { error: 'invalid_request', error_description: expect.stringMatching(/does not name its issuer/) },
      },
    ],
    [
      'a bearer-only logout with a token that is not ours',
      { bearer: outcome({ local: 'not_ours', store: 'none', idp: 'skipped' }) },
      {
        status: 401,
        headers: {
          'WWW-Authenticate':
            'Bearer realm="notes", error="invalid_token", error_description="The access token is invalid"',
          ...NO_STORE,
        },
      },
    ],
  ])('%s', (_name, revoked, expected) => {
    expect(revocationAnswer(revoked, 'notes')).toMatchObject(expected);
  });

  it('earlier rows win: unverifiable before pending before queue_full before rejected before queued', () => {
    const rows: RevocationOutcome[] = [
      outcome({ idp: 'queued', retryAfter: 2 }),
      outcome({ idp: 'rejected' }),
      outcome({ idp: 'queue_full' }),
      outcome({ store: 'pending' }),
      outcome({ local: 'unverifiable' }),
    ];
    const statuses = rows.map((_, i) => {
      const [token, bearer] = [rows[i], rows[i + 1]];
      return revocationAnswer({ token, bearer }, 'api').headers['Retry-After'] ?? '502';
    });
    expect(statuses).toEqual(['502', '30', '1', '5', '5']);
  });

  it('a misconfiguration is thrown: not the client’s to hear, the application’s to log', () => {
    const misconfigured = new MisconfiguredError('the IdP announces no revocation_endpoint');
    const error = new RevocationError('cannot revoke', { transient: false, cause: misconfigured });
    expect(() => revocationAnswer({ token: outcome({ idp: 'rejected', error }) }, 'api')).toThrow(misconfigured);
  });

  it('a body token is not a bearer-only logout: its not_ours is RFC 7009’s 200', () => {
    const foreign = outcome({ local: 'not_ours', store: 'none', idp: 'skipped' });
    expect(revocationAnswer({ token: foreign, bearer: foreign }, 'api').status).toBe(200);
  });
});
