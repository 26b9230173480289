/** A proof's `htu` and the request's URI, normalised alike (RFC 3986 §6.2.2) and never from `Host`. */
import { describe, expect, it } from '@jest/globals';
import { expectedHtu, normalizedHttpUri } from '../../../src/core/request/dpop-htu.js';

describe('normalizedHttpUri', () => {
  it.each([
    ['https://api.example.com', 'https://api.example.com/'],
    ['HTTPS://API.Example.COM:443/notes', 'https://api.example.com/notes'],
    ['http://api.example.com:80/notes', 'http://api.example.com/notes'],
    ['https://api.example.com:8443/notes', 'https://api.example.com:8443/notes'],
    ['https://api.example.com/notes?page=2#top', 'https://api.example.com/notes'],
    ['https://api.example.com/a/./b/../notes', 'https://api.example.com/a/notes'],
    ['https://api.example.com/a/%2e%2E/notes', 'https://api.example.com/notes'],
    ['https://api.example.com/%7euser/%41%62', 'https://api.example.com/~user/Ab'],
    ['https://api.example.com/caf%c3%a9', 'https://api.example.com/caf%C3%A9'],
    ['https://api.example.com/café', 'https://api.example.com/caf%C3%A9'],
    ['https://api.example.com/a%2fb', 'https://api.example.com/a%2Fb'],
    ['https://xn--caf-dma.example/', 'https://xn--caf-dma.example/'],
    ['https://café.example/', 'https://xn--caf-dma.example/'],
  ])('%s → %s', (input, normal) => {
    expect(normalizedHttpUri(input)).toBe(normal);
  });

  it.each(['/notes', 'api.example.com/notes', 'ftp://api.example.com/', 'https://u:p@api.example.com/', 'https://'])(
    'refuses %s',
    (input) => {
      expect(normalizedHttpUri(input)).toBeUndefined();
    },
  );
});

describe('expectedHtu', () => {
  const base = 'https://api.example.com';
  it.each<[{ url?: string; originalUrl?: string }, string | undefined]>([
    [{ url: '/notes?page=2' }, 'https://api.example.com/notes'],
    [{ url: '/notes#x' }, 'https://api.example.com/notes'],
    [{ url: '/', originalUrl: '/v1/notes?x' }, 'https://api.example.com/v1/notes'],
    [{ url: 'http://evil.example/notes?x' }, 'https://api.example.com/notes'],
    [{ url: '//evil.example/notes' }, 'https://api.example.com//evil.example/notes'],
    [{ url: '/%7Enotes' }, 'https://api.example.com/~notes'],
    [{ url: '*' }, undefined],
    [{ url: '' }, undefined],
    [{}, undefined],
    [{ url: 'javascript:alert(1)' }, undefined],
  ])('%j → %s', (request, htu) => {
    expect(expectedHtu(base, request)).toBe(htu);
  });

  it('joins a base path and the request path', () => {
    expect(expectedHtu('https://example.com/api', { url: '/notes' })).toBe('https://example.com/api/notes');
  });
});
