/**
 * Mounting the RFC 9728 metadata route the ways the docs show besides the conformance apps:
 * Fastify without a prefix (the plugin serves at its own path), and the fetch route exported as a
 * Next.js route module's GET / HEAD / OPTIONS.
 */
import { afterAll, describe, expect, it } from '@jest/globals';
import Fastify from 'fastify';
import type { AddressInfo } from 'node:net';
import * as fastifyAdapter from '../../src/fastify/index.js';
import * as fetchAdapter from '../../src/fetch/index.js';

const resource = 'https://api.example.com/mcp';
const path = '/.well-known/oauth-protected-resource/mcp';

describe('Fastify without a prefix', () => {
  const app = Fastify();
  afterAll(() => app.close());

  it('serves at the path the resource decides, and nowhere else', async () => {
    const metadata = fastifyAdapter.protectedResourceMetadata({ resource });
    expect(metadata.path).toBe(path);
    app.register(metadata);
    await app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = app.server.address() as AddressInfo;
    const found = await fetch(`http://127.0.0.1:${port}${path}`);
    expect(found.status).toBe(200);
    expect(await found.json()).toEqual({ resource, bearer_methods_supported: ['header'] });
    expect((await fetch(`http://127.0.0.1:${port}/`)).status).toBe(404);
  });
});

describe('fetch, as a Next.js route module', () => {
  const route = fetchAdapter.protectedResourceMetadata({ resource, resourceName: 'MCP server' });
  const request = (method: string) => new Request(`https://api.example.com${route.path}`, { method });

  it('GET answers the document; HEAD its headers and no body; OPTIONS the preflight', async () => {
    const get = await route(request('GET'));
    expect(get.status).toBe(200);
    expect(await get.json()).toMatchObject({ resource, resource_name: 'MCP server' });
    const head = await route(request('HEAD'));
    expect(head.status).toBe(200);
    expect(head.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(head.body).toBeNull();
    const options = await route(request('OPTIONS'));
    expect(options.status).toBe(204);
    expect(options.headers.get('access-control-allow-methods')).toBe('GET, HEAD, OPTIONS');
  });
});
