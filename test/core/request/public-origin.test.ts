/** The configured public origin: checked at construction, and the only origin a request URL gets. */
import { describe, expect, it } from '@jest/globals';
import { publicOrigin } from '../../../src/index.js';

describe('publicOrigin: what counts as an origin', () => {
  it.each([
    ['https://api.example.com', 'https://api.example.com'],
    ['https://api.example.com/', 'https://api.example.com'],
    ['HTTPS://API.Example.COM:443', 'https://api.example.com'],
    ['https://api.example.com:8443', 'https://api.example.com:8443'],
    ['http://127.0.0.1:3000', 'http://127.0.0.1:3000'],
    ['https://[::1]:8443', 'https://[::1]:8443'],
  ])('%s → %s', (input, origin) => {
    expect(publicOrigin(input).origin).toBe(origin);
  });

  it.each<[unknown, RegExp]>([
    [undefined, /got undefined/],
    ['', /got an empty string/],
    ['api.example.com', /is not an absolute URL \(is the scheme missing\?\)/],
    ['ftp://api.example.com', /the scheme must be https \(or http\), not ftp/],
    ['https://user:pw@api.example.com', /remove the user name and password/],
    ['https://api.example.com/v1', /drop the path `\/v1`/],
    ['https://api.example.com?x=1', /drop the query and fragment/],
    ['https://api.example.com/#top', /drop the query and fragment/],
    ['https://api.example.com/?', /drop the query and fragment/],
  ])('%s is refused with a TypeError saying what to change', (input, why) => {
    expect(() => publicOrigin(input as string, 'createAuthenticator')).toThrow(TypeError);
    expect(() => publicOrigin(input as string, 'createAuthenticator')).toThrow(
      new RegExp(
        '^revocable-jwt: `origin` in createAuthenticator must be the public origin clients reach this server at, ' +
          "scheme and host \\(and port\\) only, e\\.g\\. 'https://api\\.example\\.com': ",
      ),
    );
    expect(() => publicOrigin(input as string)).toThrow(why);
  });
});

describe('publicOrigin: the absolute URL of a request', () => {
  const site = publicOrigin('https://api.example.com');

  it.each<[string | undefined, string | undefined]>([
    ['/notes', 'https://api.example.com/notes'],
    ['/notes?page=2&q=a%20b', 'https://api.example.com/notes?page=2&q=a%20b'],
    ['//evil.example/x', 'https://api.example.com//evil.example/x'], // a path, not a host
    ['http://evil.example:8080/notes?x=1', 'https://api.example.com/notes?x=1'], // absolute-form: path and query only
    ['*', undefined],
    ['', undefined],
    [undefined, undefined],
    ['javascript:alert(1)', undefined],
  ])('%s → %s', (url, expected) => {
    expect(site.urlOf({ url })).toBe(expected);
  });

  it('the URL it gives names the configured host whatever the request', () => {
    expect(new URL(site.urlOf({ url: '//evil.example/x' })!).host).toBe('api.example.com');
  });
});
