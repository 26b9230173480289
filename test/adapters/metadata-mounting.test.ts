/**
 * Mounting the RFC 9728 metadata route the ways the docs show besides the conformance apps:
 * Fastify without a prefix (the plugin serves at its own path), and the fetch route exported as a
 * Next.js route module's GET / HEAD / OPTIONS; and which resource paths a router can mount.
 */
import { getRequestListener } from '@hono/node-server';
import { afterAll, describe, expect, it } from '@jest/globals';
import express from 'express';
import Fastify from 'fastify';
import { Hono } from 'hono';
import { createServer, type RequestListener } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import * as expressAdapter from '../../src/express/index.js';
import * as fastifyAdapter from '../../src/fastify/index.js';
import * as fetchAdapter from '../../src/fetch/index.js';
import * as honoAdapter from '../../src/hono/index.js';
import * as koaAdapter from '../../src/koa/index.js';
import { createProtectedResourceMetadataHandler } from '../../src/index.js';

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

describe('a resource path routers would read as a pattern', () => {
  const factories: Array<[string, (options: { resource: string }) => unknown]> = [
    ['core', createProtectedResourceMetadataHandler],
    ['express', expressAdapter.protectedResourceMetadata],
    ['fastify', fastifyAdapter.protectedResourceMetadata],
    ['koa', koaAdapter.protectedResourceMetadata],
    ['hono', honoAdapter.protectedResourceMetadata],
    ['fetch', fetchAdapter.protectedResourceMetadata],
  ];
  // Before: accepted. Express 5 threw at mount for `(`, `*`, `+`, `!` and read `/v1:beta` as a
  // parameter (`/v1anything` matched); Hono never matched a percent-encoded path (non-ASCII, a
  // space: it decodes the request path before matching) and answered 404.
  it.each([
    '/v1:beta',
    '/notes(v2)',
    '/files/*',
    '/a+b',
    '/caf\u00e9',
    '/a b',
    '/a%2Fb',
    '/hey!',
    "/o'brien",
    '/{id}',
    '/a,b;c=d',
    '/a@b$c&d',
  ])('refuses https://api.example.com%s at construction, in every adapter', (path) => {
    for (const [, factory] of factories) {
      expect(() => factory({ resource: `https://api.example.com${path}` })).toThrow(
        /`resource`'s path \(.+\) becomes the metadata route's path: use letters, digits, '-', '\.', '_', '~' and '\/' only/,
      );
    }
  });

  const resource = 'https://api.example.com/v1.0/my-api_x~y';
  const wellKnown = '/.well-known/oauth-protected-resource/v1.0/my-api_x~y';
  const express4 = createRequire(import.meta.url)('express4') as typeof express;
  const servers: Array<() => Promise<void>> = [];
  afterAll(async () => {
    for (const close of servers) await close();
  });
  const serve = async (listener: RequestListener) => {
    const server = createServer(listener);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    servers.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  };
  const apps: Record<string, () => Promise<string>> = {
    'Express 5': async () => {
      const metadata = expressAdapter.protectedResourceMetadata({ resource });
      return serve(express().all(metadata.path, metadata));
    },
    'Express 4': async () => {
      const metadata = expressAdapter.protectedResourceMetadata({ resource });
      return serve(express4().all(metadata.path, metadata));
    },
    Hono: async () => {
      const metadata = honoAdapter.protectedResourceMetadata({ resource });
      return serve(getRequestListener(new Hono().all(metadata.path, metadata).fetch));
    },
    Fastify: async () => {
      const app = Fastify();
      app.register(fastifyAdapter.protectedResourceMetadata({ resource }));
      await app.listen({ port: 0, host: '127.0.0.1' });
      servers.push(() => app.close());
      return `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    },
  };

  it.each(Object.keys(apps))('%s serves a path with every character allowed (- . _ ~ /)', async (name) => {
    const url = await apps[name]!();
    const found = await fetch(`${url}${wellKnown}`);
    expect(found.status).toBe(200);
    expect(await found.json()).toMatchObject({ resource });
    expect((await fetch(`${url}/.well-known/oauth-protected-resource/v1x0/my-api_x~y`)).status).toBe(404);
  });
});
