/**
 * Which URLs we fetch keys and metadata from, alone: https anywhere, http only on loopback or
 * with an explicit opt-in, and issuer identifiers without userinfo, query or fragment. Every
 * refusal is a TypeError naming the option and saying how to fix it, and never echoes a secret.
 */
import { describe, expect, it } from '@jest/globals';
import { isLoopbackHost, parseIssuerUrl, parseTrustedUrl } from '../../../src/core/idp/url-policy.js';

describe('isLoopbackHost()', () => {
  it.each(['localhost', '127.0.0.1', '127.1.2.3', '127.255.255.255', '[::1]', '::1'])('%s is loopback', (host) => {
    expect(isLoopbackHost(host)).toBe(true);
  });

  it.each([
    'example.com',
    'localhost.example.com',
    '127.0.0.1.evil.example',
    '128.0.0.1',
    '10.0.0.1',
    '0.0.0.0',
    '[::2]',
    '127.0.0',
    '1270.0.0.1',
    '',
  ])('%s is not loopback', (host) => {
    expect(isLoopbackHost(host)).toBe(false);
  });
});

describe('parseTrustedUrl()', () => {
  it('accepts https anywhere, as a string or a URL, and returns a URL', () => {
    const url = parseTrustedUrl('https://idp.example.com/keys', 'jwksUri', false);
    expect(url).toBeInstanceOf(URL);
    expect(url.href).toBe('https://idp.example.com/keys');
    expect(parseTrustedUrl(new URL('https://idp.example.com/'), 'jwksUri', false).href).toBe(
      'https://idp.example.com/',
    );
  });

  it.each(['http://localhost:8080/keys', 'http://127.0.0.1:1/keys', 'http://[::1]:9/keys'])(
    'accepts plain http on a loopback host: %s',
    (value) => {
      expect(parseTrustedUrl(value, 'jwksUri', false).href).toBe(value);
    },
  );

  it('refuses plain http on another host, naming the option, the host and both ways out', () => {
    expect(() => parseTrustedUrl('http://idp.example.com:8443/keys', 'jwksUri', false)).toThrow(
      new TypeError(
        'revocable-jwt: `jwksUri` uses http on a non-loopback host (idp.example.com:8443); use https, ' +
          'or pass `allowHttp: true` if you really trust the network path',
      ),
    );
  });

  it('accepts plain http on another host with allowHttp', () => {
    expect(parseTrustedUrl('http://idp.internal/keys', 'jwksUri', true).href).toBe('http://idp.internal/keys');
  });

  it.each(['ftp://idp.example.com/keys', 'file:///etc/passwd', 'javascript:alert(1)', 'data:,{}', 'ws://idp/'])(
    'refuses another scheme even with allowHttp: %s',
    (value) => {
      const protocol = new URL(value).protocol;
      expect(() => parseTrustedUrl(value, 'issuer', true)).toThrow(
        new TypeError(`revocable-jwt: \`issuer\` must use https (got ${protocol})`),
      );
    },
  );

  it.each(['/keys', 'idp.example.com/keys', '', 'https://'])(
    'refuses a string that is no absolute URL: %j',
    (value) => {
      expect(() => parseTrustedUrl(value, 'jwksUri', false)).toThrow(
        new TypeError(`revocable-jwt: \`jwksUri\` is not a valid absolute URL: ${JSON.stringify(value)}`),
      );
    },
  );

  it.each<[string, unknown]>([
    ['undefined', undefined],
    ['a number', 443],
    ['an object', { href: 'https://idp.example.com/' }],
    ['null', null],
  ])('refuses %s, with an example of what it wants', (_name, value) => {
    expect(() => parseTrustedUrl(value, 'issuer', false)).toThrow(
      new TypeError("revocable-jwt: `issuer` must be a URL string, e.g. 'https://idp.example.com/'"),
    );
  });
});

describe('parseIssuerUrl()', () => {
  it('accepts an https issuer with or without a path', () => {
    expect(parseIssuerUrl('https://idp.example.com', 'issuer', false).href).toBe('https://idp.example.com/');
    expect(parseIssuerUrl('https://idp.example.com/realms/acme', 'issuer', false).href).toBe(
      'https://idp.example.com/realms/acme',
    );
  });

  const advice =
    'an issuer identifier is an https URL without userinfo, query or fragment (RFC 8414 §2); ' +
    "copy the exact `issuer` value from the IdP's metadata";

  it.each<[string, string, string]>([
    ['userinfo with a password', 'https://user:s3cret@idp.example.com/', 'userinfo (user:password@)'],
    ['userinfo without a password', 'https://user@idp.example.com/', 'userinfo (user:password@)'],
    ['an empty userinfo', 'https://@idp.example.com/', 'userinfo (user:password@)'],
    ['a query', 'https://idp.example.com/?tenant=s3cret', 'a query (?...)'],
    ['an empty query', 'https://idp.example.com/?', 'a query (?...)'],
    ['a fragment', 'https://idp.example.com/#s3cret', 'a fragment (#...)'],
    ['an empty fragment', 'https://idp.example.com/#', 'a fragment (#...)'],
  ])('refuses %s, naming the part but never its value', (_name, value, part) => {
    let error: unknown;
    try {
      parseIssuerUrl(value, 'issuers[1].issuer', false);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(TypeError);
    expect((error as Error).message).toBe(`revocable-jwt: \`issuers[1].issuer\` must not contain ${part}: ${advice}`);
    expect((error as Error).message).not.toContain('s3cret');
  });

  it('applies the transport policy first (plain http elsewhere is refused as such)', () => {
    expect(() => parseIssuerUrl('http://idp.example.com/?x', 'issuer', false)).toThrow(/uses http on a non-loopback/);
  });
});
