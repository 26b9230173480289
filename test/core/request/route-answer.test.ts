/** The answers every endpoint shares: never cached, 405 before the body, a 500 that says nothing. */
import { describe, expect, it } from '@jest/globals';
import {
  authErrorAnswer,
  jsonAnswer,
  oauthErrorBody,
  postOnly,
  serverErrorAnswer,
} from '../../../src/core/request/route-answer.js';
import { IdpUnavailableError, InsufficientScopeError, MisconfiguredError } from '../../../src/index.js';

describe('route answers', () => {
  it('every answer says no-store; headers given are kept', () => {
    expect(jsonAnswer(202)).toEqual({ status: 202, headers: { 'Cache-Control': 'no-store' }, body: undefined });
    expect(jsonAnswer(503, { a: 1 }, { 'Retry-After': '3' })).toEqual({
      status: 503,
      headers: { 'Retry-After': '3', 'Cache-Control': 'no-store' },
      body: { a: 1 },
    });
  });

  it('postOnly: 405 with Allow: POST for anything but a POST', () => {
    expect(postOnly({ method: 'POST' }, oauthErrorBody)).toBeUndefined();
    for (const method of ['GET', 'post', undefined]) {
      expect(postOnly({ method }, oauthErrorBody)).toEqual({
        status: 405,
        headers: { Allow: 'POST', 'Cache-Control': 'no-store' },
        body: { error: 'invalid_request', error_description: 'Use POST' },
      });
    }
  });

  it('serverErrorAnswer: a generic 500 in the endpoint’s shape', () => {
    expect(serverErrorAnswer((err, description) => ({ err, description }))).toEqual({
      status: 500,
      headers: { 'Cache-Control': 'no-store' },
      body: { err: 'server_error', description: 'The request could not be processed' },
    });
  });

  it.each([
    [
      new InsufficientScopeError(['notes:write']).withRealm('notes'),
      403,
      {
        'WWW-Authenticate':
          'Bearer realm="notes", error="insufficient_scope", ' +
          'error_description="The access token lacks a required scope", scope="notes:write"',
      },
    ],
    [new IdpUnavailableError('The identity provider is unreachable', 5), 503, { 'Retry-After': '5' }],
    [new MisconfiguredError('issuer mismatch'), 500, {}],
  ])('authErrorAnswer(%p): status, the error’s own headers, its JSON', (error, status, headers) => {
    expect(authErrorAnswer(error)).toEqual({
      status,
      headers: { ...headers, 'Cache-Control': 'no-store' },
      body: error.toJSON(),
    });
  });
});
