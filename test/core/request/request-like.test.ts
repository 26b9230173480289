/**
 * RequestLike: one header look-up for Node's record, a WHATWG Headers and a record of any casing,
 * and a repeated Authorization header seen (or, where a source folds it, refused) in each.
 */
import { describe, expect, it } from '@jest/globals';
import { extractBearerToken } from '../../../src/core/request/bearer.js';
import { headerOf, mediaTypeOf, type RequestLike } from '../../../src/core/request/request-like.js';
import { AuthError } from '../../../src/core/shared/errors.js';

function refusal(request: RequestLike): AuthError {
  try {
    extractBearerToken(request);
  } catch (error) {
    if (error instanceof AuthError) return error;
    throw error;
  }
  throw new Error('expected a refusal');
}

describe('headerOf: case-insensitive in every source', () => {
  it.each<[string, RequestLike['headers']]>([
    ["Node's lower-case record", { authorization: 'Bearer abc', 'content-type': 'text/plain' }],
    ['a record of another casing', { Authorization: 'Bearer abc', 'CONTENT-TYPE': 'text/plain' }],
    ['a WHATWG Headers', new Headers({ AUTHORIZATION: 'Bearer abc', 'Content-Type': 'text/plain' })],
  ])('%s', (_name, headers) => {
    expect(headerOf(headers, 'authorization')).toBe('Bearer abc');
    expect(headerOf(headers, 'content-type')).toBe('text/plain');
    expect(headerOf(headers, 'accept')).toBeUndefined();
    expect(extractBearerToken({ headers })).toBe('abc');
  });

  it('a header field named "get" in a record is a field, not a Headers object', () => {
    expect(headerOf({ get: 'x', authorization: 'Bearer abc' }, 'authorization')).toBe('Bearer abc');
  });

  it('mediaTypeOf: the media type without parameters, lower-case; empty when absent', () => {
    expect(mediaTypeOf({ headers: { 'Content-Type': 'Application/SECEVENT+jwt; charset=utf-8' } })).toBe(
      'application/secevent+jwt',
    );
    expect(mediaTypeOf({ headers: new Headers() })).toBe('');
  });
});

describe('a repeated Authorization header', () => {
  it("Node: seen in rawHeaders though Node's record keeps only the first", () => {
    const request = {
      headers: { authorization: 'Bearer abc' },
      rawHeaders: ['Authorization', 'Bearer abc', 'AUTHORIZATION', 'Bearer def'],
    };
    expect(refusal(request)).toMatchObject({ status: 400, reason: 'multiple_tokens' });
  });

  it('a record: an array value', () => {
    expect(refusal({ headers: { Authorization: ['Bearer abc', 'Bearer def'] } })).toMatchObject({
      status: 400,
      reason: 'multiple_tokens',
    });
  });

  it('a WHATWG Headers folds repeats into one value: refused as a repeat, never accepted', () => {
    const headers = new Headers();
    headers.append('Authorization', 'Bearer abc');
    headers.append('Authorization', 'Bearer def');
    expect(refusal({ headers })).toMatchObject({ status: 400, reason: 'multiple_tokens' });
  });
});
