/**
 * Client authentication for our calls to the IdP (RFC 6749 §2.3.1), alone: what each method puts
 * in the headers and the body, in form and JSON bodies, and the Basic credentials' encoding.
 */
import { describe, expect, it } from '@jest/globals';
import {
  basicCredentials,
  clientAuthenticatedRequest,
  type ClientAuthConfig,
} from '../../../src/core/idp/client-auth.js';

const config = (overrides: Partial<ClientAuthConfig> = {}): ClientAuthConfig => ({
  clientId: 'notes-api',
  clientSecret: 'sec ret',
  authMethod: 'client_secret_basic',
  bodyFormat: 'form',
  timeoutMs: 5_000,
  ...overrides,
});

const form = (init: RequestInit) => Object.fromEntries(new URLSearchParams(String(init.body)));
const headersOf = (init: RequestInit) => init.headers as Record<string, string>;

describe('basicCredentials()', () => {
  it('base64-encodes id:secret', () => {
    expect(basicCredentials('notes-api', 'secret')).toBe(`Basic ${btoa('notes-api:secret')}`);
  });

  // RFC 6749 §2.3.1: each is application/x-www-form-urlencoded first, so ':' in the id cannot
  // split it, and a space is '+'.
  it('form-urlencodes id and secret before base64 (":" → %3A, space → +, non-ASCII as UTF-8)', () => {
    const decoded = atob(basicCredentials('client:one', 'pä ss/+=').slice('Basic '.length));
    expect(decoded).toBe('client%3Aone:p%C3%A4+ss%2F%2B%3D');
  });

  it('keeps an empty secret as an empty field', () => {
    expect(atob(basicCredentials('public', '').slice(6))).toBe('public:');
  });
});

describe('clientAuthenticatedRequest()', () => {
  it('client_secret_basic: credentials in Authorization only, never in the body', () => {
    const init = clientAuthenticatedRequest(config(), { token: 't', token_type_hint: 'access_token' });
    expect(init.method).toBe('POST');
    expect(headersOf(init)).toEqual({
      accept: 'application/json',
      authorization: basicCredentials('notes-api', 'sec ret'),
      'content-type': 'application/x-www-form-urlencoded',
    });
    expect(form(init)).toEqual({ token: 't', token_type_hint: 'access_token' });
  });

  it('client_secret_post: id and secret in the body, no Authorization header', () => {
    const init = clientAuthenticatedRequest(config({ authMethod: 'client_secret_post' }), { token: 't' });
    expect(headersOf(init).authorization).toBeUndefined();
    expect(form(init)).toEqual({ token: 't', client_id: 'notes-api', client_secret: 'sec ret' });
    expect(String(init.body)).toBe('token=t&client_id=notes-api&client_secret=sec+ret');
  });

  it('none: the client id only, no secret anywhere', () => {
    const init = clientAuthenticatedRequest(config({ authMethod: 'none', clientSecret: undefined }), { token: 't' });
    expect(headersOf(init).authorization).toBeUndefined();
    expect(form(init)).toEqual({ token: 't', client_id: 'notes-api' });
  });

  it('JSON bodies (Auth0): the same members as JSON, with a JSON content type', () => {
    const init = clientAuthenticatedRequest(config({ authMethod: 'client_secret_post', bodyFormat: 'json' }), {
      token: 't',
    });
    expect(headersOf(init)['content-type']).toBe('application/json');
    expect(JSON.parse(String(init.body))).toEqual({ token: 't', client_id: 'notes-api', client_secret: 'sec ret' });
  });

  it("uses the fallback client id (a public token's own client_id) only when none is configured", () => {
    const publicClient = config({ clientId: undefined, clientSecret: undefined, authMethod: 'none' });
    expect(form(clientAuthenticatedRequest(publicClient, { token: 't' }, 'spa-client')).client_id).toBe('spa-client');
    expect(
      form(clientAuthenticatedRequest(config({ authMethod: 'none' }), { token: 't' }, 'spa-client')).client_id,
    ).toBe('notes-api');
  });

  it('throws, saying what to set, when there is no client id at all', () => {
    expect(() => clientAuthenticatedRequest(config({ clientId: undefined }), { token: 't' })).toThrow(
      new Error('no client_id to authenticate the request with; set `clientId`'),
    );
  });

  it('does not let a param override the client authentication', () => {
    const init = clientAuthenticatedRequest(config({ authMethod: 'client_secret_post' }), {
      token: 't',
      client_id: 'someone-else',
      client_secret: 'guess',
    });
    expect(form(init)).toMatchObject({ client_id: 'notes-api', client_secret: 'sec ret' });
  });

  it('does not mutate the params it is given', () => {
    const params = { token: 't' };
    clientAuthenticatedRequest(config({ authMethod: 'client_secret_post' }), params);
    expect(params).toEqual({ token: 't' });
  });
});
