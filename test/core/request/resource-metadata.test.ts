/**
 * The RFC 9728 metadata step alone: where the document lives for a resource identifier (§3.1),
 * what it says (the configured `resource`, exactly; the verifier's issuers), how each method is
 * answered (GET/HEAD cacheable and CORS-open, the preflight, 405), and the options it refuses.
 * Every adapter serving it over HTTP is in test/adapters/conformance.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createProtectedResourceMetadataHandler, createVerifier, type Verifier } from '../../../src/index.js';

let verifier: Verifier;
let multi: Verifier;
const noFetch = () => Promise.reject(new Error('no I/O expected'));
beforeAll(() => {
  verifier = createVerifier({ issuer: 'https://idp.example.com/', audience: 'api', fetch: noFetch });
  multi = createVerifier({
    fetch: noFetch,
    issuers: [
      { issuer: 'https://login.example.com/', audience: 'api' },
      { issuer: 'https://partner.example/', audience: 'api' },
    ],
  });
});
afterAll(async () => {
  await Promise.all([verifier.close(), multi.close()]);
});

describe('where the document lives (RFC 9728 §3.1)', () => {
  it.each<[string, string, string]>([
    ['https://api.example.com', '/.well-known/oauth-protected-resource', 'https://api.example.com'],
    ['https://api.example.com/', '/.well-known/oauth-protected-resource', 'https://api.example.com'],
    ['https://api.example.com/v1', '/.well-known/oauth-protected-resource/v1', 'https://api.example.com'],
    ['https://api.example.com/v1/', '/.well-known/oauth-protected-resource/v1/', 'https://api.example.com'],
    ['https://api.example.com:8443/mcp', '/.well-known/oauth-protected-resource/mcp', 'https://api.example.com:8443'],
    ['http://127.0.0.1:3000/api', '/.well-known/oauth-protected-resource/api', 'http://127.0.0.1:3000'],
  ])('%s → %s', (resource, path, origin) => {
    const handler = createProtectedResourceMetadataHandler({ resource });
    expect(handler.path).toBe(path);
    expect(handler.url).toBe(origin + path);
  });

  it('serves `resource` exactly as configured, even where a URL parser would rewrite it', () => {
    const resource = 'https://API.Example.com:443/Notes';
    const handler = createProtectedResourceMetadataHandler({ resource });
    expect(handler.metadata.resource).toBe(resource);
    expect(handler.url).toBe('https://api.example.com/.well-known/oauth-protected-resource/Notes');
  });
});

describe('the document', () => {
  it('has the verifier’s issuers as authorization_servers, and bearer_methods_supported header only', () => {
    const handler = createProtectedResourceMetadataHandler({ resource: 'https://api.example.com', verifier });
    expect(handler.metadata).toEqual({
      resource: 'https://api.example.com',
      authorization_servers: ['https://idp.example.com/'],
      bearer_methods_supported: ['header'],
    });
    expect(Object.isFrozen(handler.metadata)).toBe(true);
  });

  it('says the DPoP proof algorithms of a verifier that can take DPoP requests (it has a publicUrl); explicit wins', async () => {
    const dpopVerifier = createVerifier({
      issuer: 'https://idp.example.com/',
      audience: 'api',
      fetch: noFetch,
      publicUrl: 'https://api.example.com',
      dpop: { algorithms: ['ES256', 'EdDSA'] },
    });
    try {
      const resource = 'https://api.example.com';
      const handler = createProtectedResourceMetadataHandler({ resource, verifier: dpopVerifier });
      expect(handler.metadata.dpop_signing_alg_values_supported).toEqual(['ES256', 'EdDSA']);
      const explicit = createProtectedResourceMetadataHandler({
        resource,
        verifier: dpopVerifier,
        dpopSigningAlgValuesSupported: ['ES256'],
        dpopBoundAccessTokensRequired: true,
      });
      expect(explicit.metadata).toMatchObject({
        dpop_signing_alg_values_supported: ['ES256'],
        dpop_bound_access_tokens_required: true,
      });
      // Without a publicUrl its guards take no DPoP requests: nothing to advertise.
      const plain = createProtectedResourceMetadataHandler({ resource, verifier });
      expect(plain.metadata).not.toHaveProperty('dpop_signing_alg_values_supported');
    } finally {
      await dpopVerifier.close();
    }
  });

  it('lists every issuer of a multi-issuer verifier; explicit authorizationServers win', () => {
    expect(
      createProtectedResourceMetadataHandler({ resource: 'https://api.example.com', verifier: multi }).metadata
        .authorization_servers,
    ).toEqual(['https://login.example.com/', 'https://partner.example/']);
    expect(
      createProtectedResourceMetadataHandler({
        resource: 'https://api.example.com',
        verifier: multi,
        authorizationServers: ['https://login.example.com/'],
      }).metadata.authorization_servers,
    ).toEqual(['https://login.example.com/']);
  });

  it('maps every option to its RFC 9728 member, and omits what is not configured', () => {
    const handler = createProtectedResourceMetadataHandler({
      resource: 'https://api.example.com',
      authorizationServers: ['https://idp.example.com/'],
      scopesSupported: ['notes:read', 'notes:write'],
      resourceName: 'Notes API',
      resourceDocumentation: 'https://api.example.com/docs',
      resourcePolicyUri: 'https://api.example.com/policy',
      resourceTosUri: 'https://api.example.com/tos',
      dpopSigningAlgValuesSupported: ['ES256', 'EdDSA'],
      dpopBoundAccessTokensRequired: true,
      tlsClientCertificateBoundAccessTokens: false,
    });
    expect(handler.metadata).toEqual({
      resource: 'https://api.example.com',
      authorization_servers: ['https://idp.example.com/'],
      scopes_supported: ['notes:read', 'notes:write'],
      bearer_methods_supported: ['header'],
      resource_name: 'Notes API',
      resource_documentation: 'https://api.example.com/docs',
      resource_policy_uri: 'https://api.example.com/policy',
      resource_tos_uri: 'https://api.example.com/tos',
      dpop_signing_alg_values_supported: ['ES256', 'EdDSA'],
      dpop_bound_access_tokens_required: true,
      tls_client_certificate_bound_access_tokens: false,
    });
    expect(createProtectedResourceMetadataHandler({ resource: 'https://api.example.com' }).metadata).toEqual({
      resource: 'https://api.example.com',
      bearer_methods_supported: ['header'],
    });
  });

  it('copies the lists it is given: changing them later changes nothing served', () => {
    const scopes = ['notes:read'];
    const handler = createProtectedResourceMetadataHandler({
      resource: 'https://api.example.com',
      scopesSupported: scopes,
    });
    scopes.push('notes:admin');
    expect(handler.metadata.scopes_supported).toEqual(['notes:read']);
  });
});

describe('the answers', () => {
  const handler = createProtectedResourceMetadataHandler({ resource: 'https://api.example.com', cacheMaxAge: 600 });

  it.each(['GET', 'HEAD'])('%s: 200, public and cacheable, CORS-open, the document', (method) => {
    expect(handler({ method, headers: {} })).toEqual({
      status: 200,
      headers: {
        'Access-Control-Allow-Origin': '*',
        'Cache-Control': 'public, max-age=600',
        'Content-Type': 'application/json; charset=utf-8',
      },
      body: handler.metadata,
    });
  });

  it('OPTIONS: the CORS preflight, echoing well-formed request header names only', () => {
    const asked = handler({
      method: 'OPTIONS',
      headers: { 'access-control-request-headers': 'mcp-protocol-version, authorization' },
    });
    expect(asked).toEqual({
      status: 204,
      headers: {
        'Access-Control-Allow-Origin': '*',
        'Access-Control-Allow-Methods': 'GET, HEAD, OPTIONS',
        'Access-Control-Allow-Headers': 'mcp-protocol-version, authorization',
        'Access-Control-Max-Age': '86400',
        Allow: 'GET, HEAD, OPTIONS',
        'Cache-Control': 'no-store',
      },
    });
    for (const hostile of ['x\r\nSet-Cookie: a=b', 'a, "b"', 'a'.repeat(2000), '']) {
      const answer = handler({ method: 'OPTIONS', headers: { 'access-control-request-headers': hostile } });
      expect(answer.headers['Access-Control-Allow-Headers']).toBeUndefined();
    }
  });

  it.each(['POST', 'PUT', 'DELETE', 'PATCH', 'get', undefined])('%s: 405 with Allow', (method) => {
    expect(handler({ method, headers: {} })).toEqual({
      status: 405,
      headers: { 'Access-Control-Allow-Origin': '*', Allow: 'GET, HEAD, OPTIONS', 'Cache-Control': 'no-store' },
      body: { error: 'invalid_request', error_description: 'Use GET' },
    });
  });

  it('defaults to an hour of caching', () => {
    const answer = createProtectedResourceMetadataHandler({ resource: 'https://api.example.com' })({
      method: 'GET',
      headers: {},
    });
    expect(answer.headers['Cache-Control']).toBe('public, max-age=3600');
  });
});

describe('options are checked at construction', () => {
  it.each<[string, Record<string, unknown>, RegExp]>([
    ['no resource', {}, /`resource` is required/],
    ['an empty resource', { resource: '' }, /`resource` is required/],
    ['a relative resource', { resource: '/api' }, /not a valid absolute URL/],
    ['plain http on a public host', { resource: 'http://api.example.com' }, /uses http on a non-loopback host/],
    ['another scheme', { resource: 'urn:example:api' }, /must use https/],
    ['a fragment', { resource: 'https://api.example.com/#x' }, /without userinfo, query or fragment/],
    ['an empty fragment', { resource: 'https://api.example.com/#' }, /without userinfo, query or fragment/],
    ['a query', { resource: 'https://api.example.com/?v=1' }, /without userinfo, query or fragment/],
    ['userinfo', { resource: 'https://user:pw@api.example.com' }, /without userinfo, query or fragment/],
    ['a misspelt key', { resource: 'https://a.example', scopeSupported: [] }, /did you mean `scopesSupported`/],
    ['a scope with a space', { resource: 'https://a.example', scopesSupported: ['a b'] }, /`scopesSupported`/],
    ['no scopes', { resource: 'https://a.example', scopesSupported: [] }, /`scopesSupported` must be a non-empty/],
    [
      'an authorization server that is no URL',
      { resource: 'https://a.example', authorizationServers: ['idp'] },
      /`authorizationServers`/,
    ],
    [
      'a DPoP algorithm that is symmetric',
      { resource: 'https://a.example', dpopSigningAlgValuesSupported: ['HS256'] },
      /asymmetric/,
    ],
    ['a DPoP algorithm none', { resource: 'https://a.example', dpopSigningAlgValuesSupported: ['none'] }, /asymmetric/],
    [
      'a flag that is a string',
      { resource: 'https://a.example', dpopBoundAccessTokensRequired: 'true' },
      /true or false/,
    ],
    [
      'a documentation link that is javascript:',
      { resource: 'https://a.example', resourceDocumentation: 'javascript:alert(1)' },
      /http\(s\) URL/,
    ],
    ['an empty name', { resource: 'https://a.example', resourceName: '' }, /`resourceName`/],
    ['a negative cacheMaxAge', { resource: 'https://a.example', cacheMaxAge: -1 }, /`cacheMaxAge`/],
    ['a fractional cacheMaxAge', { resource: 'https://a.example', cacheMaxAge: 1.5 }, /whole number/],
    ['a verifier that is not one', { resource: 'https://a.example', verifier: {} }, /`verifier`/],
  ])('%s', (_name, options, message) => {
    expect(() => createProtectedResourceMetadataHandler(options as never)).toThrow(TypeError);
    expect(() => createProtectedResourceMetadataHandler(options as never)).toThrow(message);
  });
});
