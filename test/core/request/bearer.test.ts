import { describe, expect, it } from '@jest/globals';
import { extractBearerToken } from '../../../src/core/request/bearer.js';
import type { RequestLike } from '../../../src/core/request/request-like.js';
import {
  AuthError,
  formatChallenge,
  IdpUnavailableError,
  InsufficientScopeError,
  InvalidRequestError,
  InvalidTokenError,
  UnauthorizedError,
} from '../../../src/core/shared/errors.js';

/** A request-like object as any adapter would pass it: Node-style lower-cased `headers`. */
function req(authorization?: string | string[], extra: Partial<RequestLike> = {}): RequestLike {
  const headers: RequestLike['headers'] = authorization === undefined ? {} : { authorization };
  const rawHeaders =
    authorization === undefined
      ? []
      : (Array.isArray(authorization) ? authorization : [authorization]).flatMap((v) => ['Authorization', v]);
  return { headers, rawHeaders, url: '/notes', body: undefined, ...extra };
}

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
/** The same request with a form content type (Authorization header kept). */
function withForm(request: RequestLike, contentType = FORM['content-type']): RequestLike {
  return { ...request, headers: { ...request.headers, 'content-type': contentType } };
}

function thrownBy(request: RequestLike): AuthError {
  try {
    const token = extractBearerToken(request);
    throw new Error(`expected extractBearerToken to throw, got token ${JSON.stringify(token)}`);
  } catch (error) {
    if (!(error instanceof AuthError)) throw error;
    return error;
  }
}

describe('extractBearerToken: requests without bearer credentials are a plain 401', () => {
  it.each<[string, RequestLike]>([
    ['no Authorization header', req()],
    ['an empty Authorization header', req('')],
    ['no headers at all but a url and body', { headers: {}, url: '/notes?page=2', body: { title: 'x' } }],
    ['a body that is a string mentioning access_token (not parsed)', req(undefined, { body: 'access_token=abc' })],
    ['a path segment called access_token', req(undefined, { url: '/access_token/list?x=1' })],
    ['access_token only inside another query value', req(undefined, { url: '/notes?q=access_token%3Dabc' })],
  ])('%s', (_name, request) => {
    const error = thrownBy(request);
    expect(error).toBeInstanceOf(UnauthorizedError);
    expect(error).toMatchObject({ status: 401, code: undefined, reason: 'missing_token' });
    expect(error.headers).toEqual({ 'WWW-Authenticate': 'Bearer realm="api"' });
    expect(error.toJSON()).toEqual({ error: 'unauthorized', error_description: error.description });
  });

  it.each(['Basic xyz', 'Basic dXNlcjpwYXNz', 'Digest username="a"', 'DPoP abc', 'Bearerabc', 'Token abc'])(
    'a non-Bearer scheme %j is a 401 with no error code',
    (header) => {
      const error = thrownBy(req(header));
      expect(error).toBeInstanceOf(UnauthorizedError);
      expect(error).toMatchObject({ status: 401, code: undefined });
      expect(error.headers['WWW-Authenticate']).toBe('Bearer realm="api"');
    },
  );
});

describe('extractBearerToken: well-formed bearer tokens', () => {
  it.each<[string, string]>([
    ['Bearer abc', 'abc'],
    ['bearer abc', 'abc'],
    ['BEARER abc', 'abc'],
    ['bEaReR abc', 'abc'],
    ['Bearer   abc', 'abc'],
    ['Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln', 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln'],
    ['Bearer a-b_c.d~e+f/g==', 'a-b_c.d~e+f/g=='],
  ])('%j yields %j', (header, token) => {
    expect(extractBearerToken(req(header))).toBe(token);
  });

  it('ignores unrelated query parameters and bodies without access_token', () => {
    expect(extractBearerToken(req('Bearer abc', { url: '/notes?page=2&token=x', body: { title: 'hi' } }))).toBe('abc');
  });

  it('works without rawHeaders (non-Node adapters)', () => {
    expect(extractBearerToken({ headers: { authorization: 'Bearer abc' } })).toBe('abc');
  });
});

describe('extractBearerToken: malformed requests are a 400 invalid_request', () => {
  it.each<[string, RequestLike, string]>([
    ['"Bearer" with no token', req('Bearer'), 'malformed_request'],
    ['"Bearer " with an empty token', req('Bearer '), 'malformed_request'],
    ['"Bearer    " with only spaces', req('Bearer    '), 'malformed_request'],
    ['two space-separated tokens', req('Bearer a b'), 'malformed_request'],
    ['a comma-joined second credential', req('Bearer a,Bearer b'), 'malformed_request'],
    ['comma-joined credentials with a space (two fields, joined)', req('Bearer a, Bearer b'), 'multiple_tokens'],
    ['a non-ASCII token', req('Bearer abcé'), 'malformed_request'],
    ['a token with an emoji', req('Bearer ab\u{1F600}'), 'malformed_request'],
    ['a token with a NUL byte', req('Bearer ab\u0000c'), 'malformed_request'],
    ['a token with a trailing CRLF', req('Bearer abc\r\n'), 'malformed_request'],
    ['a token with a quote', req('Bearer "abc"'), 'malformed_request'],
    ['padding in the middle of a token', req('Bearer ab=c'), 'malformed_request'],
    ['a tab instead of a space after the scheme', req('Bearer\tabc'), 'malformed_request'],
    ['a leading space before the scheme', req(' Bearer abc'), 'malformed_request'],
    ['a scheme with a non-token character', req('Bear(er abc'), 'malformed_request'],
    [
      'two Authorization entries in rawHeaders',
      {
        headers: { authorization: 'Bearer a' },
        rawHeaders: ['Authorization', 'Bearer a', 'authorization', 'Bearer b'],
      },
      'multiple_tokens',
    ],
    [
      'two identical Authorization entries in rawHeaders',
      {
        headers: { authorization: 'Bearer a' },
        rawHeaders: ['AUTHORIZATION', 'Bearer a', 'Authorization', 'Bearer a'],
      },
      'multiple_tokens',
    ],
    ['an Authorization header given as an array', req(['Bearer a', 'Bearer b']), 'multiple_tokens'],
    ['a query token and no header', req(undefined, { url: '/notes?access_token=abc' }), 'query_token_not_allowed'],
    [
      'a percent-encoded query token name and no header',
      req(undefined, { url: '/notes?access%5Ftoken=abc' }),
      'query_token_not_allowed',
    ],
    [
      'an empty query token and no header',
      req(undefined, { url: '/notes?page=1&access_token=' }),
      'query_token_not_allowed',
    ],
    [
      'a form body token and no header',
      req(undefined, { headers: FORM, body: { access_token: 'abc' } }),
      'query_token_not_allowed',
    ],
    ['a header plus a query token', req('Bearer abc', { url: '/notes?access_token=abc' }), 'multiple_tokens'],
    [
      'a header plus a different query token',
      req('Bearer abc', { url: '/notes?x=1&access_token=def' }),
      'multiple_tokens',
    ],
    [
      'a header plus a form body token',
      withForm(req('Bearer abc', { body: { access_token: 'abc' } })),
      'multiple_tokens',
    ],
    [
      'a header plus an undefined form body token member',
      withForm(req('Bearer abc', { body: { access_token: undefined } })),
      'multiple_tokens',
    ],
    [
      'a header plus a form body token, content type with charset and odd case',
      withForm(req('Bearer abc', { body: { access_token: 'x' } }), 'Application/X-WWW-Form-URLencoded; charset=UTF-8'),
      'multiple_tokens',
    ],
    [
      'a header plus an unparsed form body string with a token',
      withForm(req('Bearer abc', { body: 'a=1&access_token=x' })),
      'multiple_tokens',
    ],
    [
      'a header plus an unparsed form body Buffer with a token',
      withForm(req('Bearer abc', { body: Buffer.from('access_token=x') })),
      'multiple_tokens',
    ],
  ])('%s', (_name, request, reason) => {
    const error = thrownBy(request);
    expect(error).toBeInstanceOf(InvalidRequestError);
    expect(error).toMatchObject({ status: 400, code: 'invalid_request', reason });
    const challenge = error.headers['WWW-Authenticate']!;
    expect(challenge).toMatch(/^Bearer realm="api", error="invalid_request", error_description="[^"]+"$/);
    expect(error.toJSON()).toEqual({ error: 'invalid_request', error_description: error.description });
  });

  it('never echoes the token (or anything from the header) in the error', () => {
    const error = thrownBy(req('Bearer secret-token-value other'));
    expect(error.message).not.toContain('secret-token-value');
    expect(JSON.stringify(error.headers)).not.toContain('secret-token-value');
    expect(JSON.stringify(error.toJSON())).not.toContain('secret-token-value');
  });

  // RFC 6750 §2.2: only an application/x-www-form-urlencoded body can carry a token. A JSON API's
  // own `access_token` field (or any other body) is data: neither used as a token nor a second one.
  it.each<[string, RequestLike]>([
    [
      'a JSON body',
      req('Bearer abc', {
        headers: { authorization: 'Bearer abc', 'content-type': 'application/json' },
        body: { access_token: 'x' },
      }),
    ],
    [
      'a JSON body with charset',
      req('Bearer abc', {
        headers: { authorization: 'Bearer abc', 'content-type': 'application/json; charset=utf-8' },
        body: { access_token: 'x' },
      }),
    ],
    [
      'a +json body',
      req('Bearer abc', {
        headers: { authorization: 'Bearer abc', 'content-type': 'application/merge-patch+json' },
        body: { access_token: 'x' },
      }),
    ],
    ['a parsed body with no content type', req('Bearer abc', { body: { access_token: 'x' } })],
    [
      'a multipart body',
      req('Bearer abc', {
        headers: { authorization: 'Bearer abc', 'content-type': 'multipart/form-data; boundary=x' },
        body: { access_token: 'x' },
      }),
    ],
    [
      'a text body',
      req('Bearer abc', {
        headers: { authorization: 'Bearer abc', 'content-type': 'text/plain' },
        body: 'access_token=x',
      }),
    ],
    [
      'a form content type given twice (array)',
      req('Bearer abc', {
        headers: { authorization: 'Bearer abc', 'content-type': ['application/x-www-form-urlencoded'] as never },
        body: { access_token: 'x' },
      }),
    ],
    [
      'a form body without access_token',
      withForm(req('Bearer abc', { body: { access_token_hint: 'x', note: 'access_token' } })),
    ],
  ])('ignores access_token in %s: the header token is used', (_name, request) => {
    expect(extractBearerToken(request)).toBe('abc');
  });

  it('a JSON access_token is not a token either: with no header it is a plain 401', () => {
    const error = thrownBy({ headers: { 'content-type': 'application/json' }, body: { access_token: 'abc' } });
    expect(error).toBeInstanceOf(UnauthorizedError);
    expect(error.headers['WWW-Authenticate']).toBe('Bearer realm="api"');
  });

  it('tells the client how to send the token instead of a URL query', () => {
    expect(thrownBy(req(undefined, { url: '/notes?access_token=abc' })).description).toMatch(
      /Authorization header, not the URL/,
    );
    expect(thrownBy(req(undefined, { headers: FORM, body: { access_token: 'abc' } })).description).toMatch(
      /Authorization header, not the body/,
    );
  });
});

describe('formatChallenge', () => {
  it('formats realm and parameters as quoted strings', () => {
    expect(formatChallenge('api', [])).toBe('Bearer realm="api"');
    expect(
      formatChallenge('api', [
        ['error', 'invalid_token'],
        ['error_description', 'The access token expired'],
      ]),
    ).toBe('Bearer realm="api", error="invalid_token", error_description="The access token expired"');
  });

  // RFC 6750 §3: error_description is %x20-21 / %x23-5B / %x5D-7E: no `"` or `\` even escaped.
  it.each<[string, string]>([
    ['say "hi"', "say 'hi'"],
    ['back\\slash', 'backslash'],
    ['\\"', "'"],
    ['\\", error="invalid_request', "', error='invalid_request"],
    ['a\r\nSet-Cookie: x=1', 'aSet-Cookie: x=1'],
    ['tab\there', 'tabhere'],
    ['nul\u0000del\u007f', 'nuldel'],
    ['café ünïcode', 'caf ncode'],
    ['emoji \u{1F600} gone', 'emoji  gone'],
    ["printable ~!#$%&'()*+,-./:;<=>?@[]^_`{|}", "printable ~!#$%&'()*+,-./:;<=>?@[]^_`{|}"],
  ])('strips %j down to the RFC 6750 charset', (value, quoted) => {
    expect(formatChallenge('api', [['error_description', value]])).toBe(
      `Bearer realm="api", error_description="${quoted}"`,
    );
  });

  it('cleans the realm and every other parameter too', () => {
    expect(formatChallenge('my "realm"\\\n', [])).toBe('Bearer realm="my \'realm\'"');
    expect(formatChallenge('api', [['scope', 'a"b c\\d']])).toBe('Bearer realm="api", scope="a\'b cd"');
  });

  it('produces a header value with no control characters whatever the input', () => {
    let all = '';
    for (let c = 0; c < 0x300; c++) all += String.fromCharCode(c);
    const header = formatChallenge(all, [['error_description', all]]);
    expect(header).toMatch(/^[\x20-\x7e]*$/);
    // Exactly four `"` (two quoted values), no backslash: nothing to unescape, nothing to confuse a parser.
    expect(header.match(/"/g)).toHaveLength(4);
    expect(header).not.toContain('\\');
  });

  it('uses the realm an error carries', () => {
    const error = new InvalidTokenError('token_expired', 'The access token expired');
    error.realm = 'notes "v2"';
    expect(error.headers['WWW-Authenticate']).toBe(
      'Bearer realm="notes \'v2\'", error="invalid_token", error_description="The access token expired"',
    );
  });

  it('cleans descriptions and scopes an application supplies, in the challenge and the JSON body alike', () => {
    class PaymentRequired extends InvalidRequestError {}
    const error = new PaymentRequired('malformed_request', 'Field "amount" must match \\d+\u00e9\r\n');
    expect(error.headers['WWW-Authenticate']).toBe(
      'Bearer realm="api", error="invalid_request", error_description="Field \'amount\' must match d+"',
    );
    expect(error.toJSON()).toEqual({ error: 'invalid_request', error_description: "Field 'amount' must match d+" });
    const scoped = new InsufficientScopeError(['notes"read', 'back\\slash']);
    expect(scoped.headers['WWW-Authenticate']).toContain(`scope="notes'read backslash"`);
  });
});

describe('error challenges', () => {
  it('InsufficientScopeError is a 403 naming the required scopes', () => {
    const error = new InsufficientScopeError(['a', 'b']);
    expect(error).toMatchObject({
      status: 403,
      statusCode: 403,
      code: 'insufficient_scope',
      reason: 'insufficient_scope',
      scopes: ['a', 'b'],
    });
    expect(error.headers['WWW-Authenticate']).toContain('scope="a b"');
    expect(error.headers['WWW-Authenticate']).toBe(
      'Bearer realm="api", error="insufficient_scope", error_description="The access token lacks a required scope", scope="a b"',
    );
  });

  it('InvalidTokenError is a 401 invalid_token challenge', () => {
    const error = new InvalidTokenError('revoked', 'The access token has been revoked');
    expect(error).toMatchObject({
      status: 401,
      code: 'invalid_token',
      reason: 'revoked',
      expose: true,
      name: 'InvalidTokenError',
    });
    expect(error.headers).toEqual({
      'WWW-Authenticate':
        'Bearer realm="api", error="invalid_token", error_description="The access token has been revoked"',
    });
  });

  it('IdpUnavailableError is a 503 with Retry-After in whole seconds (at least 1)', () => {
    expect(new IdpUnavailableError('down', 2.2).headers).toEqual({ 'Retry-After': '3' });
    expect(new IdpUnavailableError('down', 0).headers).toEqual({ 'Retry-After': '1' });
    expect(new IdpUnavailableError('down', 30)).toMatchObject({
      status: 503,
      code: 'temporarily_unavailable',
      retryAfter: 30,
    });
  });
});
