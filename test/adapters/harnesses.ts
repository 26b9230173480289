/**
 * One small app per adapter, all alike, for the conformance suite: the same routes, the same
 * options, served on 127.0.0.1. Each is what a user would write with that framework.
 *   GET /notes   guard, scope notes:read → 200 { sub, scope }
 *   POST /notes  the same, after the framework's form body parser (where it has none, what a user
 *                would write) → 200 { sub, scope, note } with the form's `note`, read after the guard
 *   GET /admin   guard, scope notes:admin
 *   GET /optional  guard, optional: a request without credentials → 200 {}
 *   GET /step-up   guard, claims + acrValues/maxAge + any-of scopes, resource_metadata in challenges
 *   GET /outage  guard on a verifier whose IdP is down
 *   GET /dpop    guard, scope notes:read, DPoP allowed (verifier with publicUrl), when the spec has one
 *   GET /dpop-nonce  guard, DPoP required, server nonces, when the spec has that verifier
 *   /logout, /backchannel-logout, /security-events: the library's endpoints (every method)
 *   /dpop-logout  the logout endpoint on the DPoP verifier (DPoP callers), when the spec has one
 *   /.well-known/oauth-protected-resource: RFC 9728 metadata (every method)
 */
import { getRequestListener } from '@hono/node-server';
import connect from 'connect';
import express from 'express';
import Fastify from 'fastify';
import { Hono } from 'hono';
import Koa from 'koa';
import { createServer, type IncomingMessage, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import * as fastifyAdapter from '../../src/fastify/index.js';
import * as fetchAdapter from '../../src/fetch/index.js';
import * as honoAdapter from '../../src/hono/index.js';
import * as koaAdapter from '../../src/koa/index.js';
import * as expressAdapter from '../../src/express/index.js';
import type { GuardSettings, ProtectedResourceMetadataOptions, VerifiedToken, Verifier } from '../../src/index.js';

export interface AppSpec {
  verifier: Verifier;
  /** A verifier whose IdP is unreachable. */
  outageVerifier: Verifier;
  clientId: string;
  /** The audience of security events. */
  eventAudience: string;
  /** The RFC 9728 metadata route's options (without the verifier); default {@link METADATA}. */
  metadata?: Omit<ProtectedResourceMetadataOptions, 'verifier'>;
  /** A verifier with a `publicUrl` (DPoP allowed on /dpop). */
  dpopVerifier?: Verifier;
  /** A verifier with a `publicUrl` and server nonces (DPoP required on /dpop-nonce). */
  nonceVerifier?: Verifier;
}

/** The metadata every app serves unless its spec says otherwise. */
export const METADATA: Omit<ProtectedResourceMetadataOptions, 'verifier'> = {
  resource: 'https://api.example.com',
  scopesSupported: ['notes:read', 'notes:write', 'notes:admin'],
};

export interface RunningApp {
  url: string;
  close(): Promise<void>;
}

export interface Harness {
  name: string;
  start(spec: AppSpec): Promise<RunningApp>;
}

/** What every app answers a guarded request with: the auth result, and a form body's `note` (POST). */
export const authBody = (auth: VerifiedToken | undefined, note?: unknown) => ({
  sub: auth?.payload.sub,
  scope: auth?.payload.scope,
  note,
});

const FORM = 'application/x-www-form-urlencoded';
const isForm = (type: string | null | undefined) => (type ?? '').split(';')[0]!.trim().toLowerCase() === FORM;

/** A form body's fields, read from a node:http request (what a body parser does). */
async function formFields(req: IncomingMessage): Promise<Record<string, string> | undefined> {
  if (!isForm(req.headers['content-type'])) return undefined;
  let text = '';
  for await (const chunk of req) text += chunk;
  return Object.fromEntries(new URLSearchParams(text));
}

/** The guarded routes and what each requires. */
export const GUARDED: Readonly<Record<string, GuardSettings>> = {
  '/notes': { scopes: ['notes:read'] },
  '/admin': { scopes: ['notes:admin'] },
  '/optional': { optional: true, scopes: ['notes:read'] },
  '/step-up': {
    claims: { equals: { tenant: 't1' } },
    acrValues: ['urn:example:mfa'],
    maxAge: 300,
    scopes: { anyOf: ['notes:read', 'notes:admin'] },
    resourceMetadata: 'https://api.example.com/.well-known/oauth-protected-resource',
  },
};

/** Every guarded route and its guard's options (the same in every adapter). */
function guardedRoutes(spec: AppSpec): Array<[string, expressAdapter.AuthGuardOptions]> {
  return [
    ...Object.entries(GUARDED).map(([path, settings]) => [path, { verifier: spec.verifier, ...settings }] as const),
    ['/outage', { verifier: spec.outageVerifier }],
    ...(spec.dpopVerifier
      ? [['/dpop', { verifier: spec.dpopVerifier, scopes: ['notes:read'], dpop: 'allowed' }] as const]
      : []),
    ...(spec.nonceVerifier ? [['/dpop-nonce', { verifier: spec.nonceVerifier, dpop: 'required' }] as const] : []),
  ] as Array<[string, expressAdapter.AuthGuardOptions]>;
}

async function listen(server: Server): Promise<RunningApp> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const pathOf = (url = '/') => url.split('?')[0]!;

/** Express 5 and 4: the same code (Express 4 installed under an alias, devDependency "express4"). */
function expressHarness(name: string, framework: typeof express): Harness {
  return {
    name,
    start: async (spec) => {
      const { authGuard, authErrorHandler, revokeRoute, backchannelLogoutRoute, securityEventRoute } = expressAdapter;
      const app = framework();
      for (const [path, options] of guardedRoutes(spec)) {
        const guard = authGuard(options);
        app.get(path, guard, (req, res) => {
          res.json(authBody(req.auth));
        });
        app.post(path, framework.urlencoded({ extended: false }), guard, (req, res) => {
          res.json(authBody(req.auth, (req.body as { note?: string } | undefined)?.note));
        });
      }
      const metadata = expressAdapter.protectedResourceMetadata({
        ...(spec.metadata ?? METADATA),
        verifier: spec.verifier,
      });
      app.all(metadata.path, metadata);
      app.all('/logout', revokeRoute({ verifier: spec.verifier }));
      if (spec.dpopVerifier) app.all('/dpop-logout', revokeRoute({ verifier: spec.dpopVerifier }));
      app.all('/backchannel-logout', backchannelLogoutRoute({ verifier: spec.verifier, clientId: spec.clientId }));
      app.all('/security-events', securityEventRoute({ verifier: spec.verifier, audience: spec.eventAudience }));
      app.use(authErrorHandler());
      return listen(createServer(app));
    },
  };
}

const connectHarness: Harness = {
  name: 'Connect',
  start: async (spec) => {
    const { authGuard, authErrorHandler, revokeRoute, backchannelLogoutRoute, securityEventRoute } = expressAdapter;
    const app = connect();
    const json: connect.NextHandleFunction = (req, res) => {
      const { auth, body } = req as expressAdapter.GuardRequest & { body?: { note?: string } };
      res.setHeader('Content-Type', 'application/json; charset=utf-8');
      res.end(JSON.stringify(authBody(auth, body?.note)));
    };
    // Connect mounts by path prefix: `/notes` also matches `/notes/…`, which no scenario sends.
    for (const [path, options] of guardedRoutes(spec)) {
      app.use(path, express.urlencoded({ extended: false })); // body-parser, as Connect apps use it
      app.use(path, authGuard(options));
      app.use(path, json);
    }
    const metadata = expressAdapter.protectedResourceMetadata({
      ...(spec.metadata ?? METADATA),
      verifier: spec.verifier,
    });
    app.use(metadata.path, metadata);
    app.use('/logout', revokeRoute({ verifier: spec.verifier }));
    if (spec.dpopVerifier) app.use('/dpop-logout', revokeRoute({ verifier: spec.dpopVerifier }));
    app.use('/backchannel-logout', backchannelLogoutRoute({ verifier: spec.verifier, clientId: spec.clientId }));
    app.use('/security-events', securityEventRoute({ verifier: spec.verifier, audience: spec.eventAudience }));
    app.use(authErrorHandler());
    return listen(createServer(app));
  },
};

const nodeHttpHarness: Harness = {
  name: 'node:http',
  start: async (spec) => {
    const { authGuard, writeAuthError, revokeRoute, backchannelLogoutRoute, securityEventRoute } = expressAdapter;
    const guards = new Map<string, expressAdapter.AuthGuardMiddleware>(
      guardedRoutes(spec).map(([path, options]) => [path, authGuard(options)] as const),
    );
    const metadata = expressAdapter.protectedResourceMetadata({
      ...(spec.metadata ?? METADATA),
      verifier: spec.verifier,
    });
    const routes = new Map<string, RequestListener>([
      [metadata.path, metadata],
      ['/logout', revokeRoute({ verifier: spec.verifier })],
      ['/backchannel-logout', backchannelLogoutRoute({ verifier: spec.verifier, clientId: spec.clientId })],
      ['/security-events', securityEventRoute({ verifier: spec.verifier, audience: spec.eventAudience })],
    ]);
    if (spec.dpopVerifier) routes.set('/dpop-logout', revokeRoute({ verifier: spec.dpopVerifier }));
    return listen(
      createServer((req: expressAdapter.GuardRequest, res) => {
        const path = pathOf(req.url);
        const guard = guards.get(path);
        if (guard) {
          void formFields(req).then((fields) => {
            req.body = fields;
            guard(req, res, (error) => {
              if (error !== undefined) {
                if (!writeAuthError(res, error)) res.writeHead(500).end();
                return;
              }
              res.setHeader('Content-Type', 'application/json; charset=utf-8');
              res.end(JSON.stringify(authBody(req.auth, fields?.note)));
            });
          });
          return;
        }
        const route = routes.get(path);
        if (route) route(req, res);
        else res.writeHead(404).end();
      }),
    );
  },
};

const fastifyHarness: Harness = {
  name: 'Fastify 5',
  start: async (spec) => {
    const { authGuard, revokeRoute, backchannelLogoutRoute, securityEventRoute } = fastifyAdapter;
    const app = Fastify();
    // What @fastify/formbody does.
    app.addContentTypeParser(FORM, { parseAs: 'string' }, (_request, body, done) =>
      done(null, Object.fromEntries(new URLSearchParams(body as string))),
    );
    for (const [path, options] of guardedRoutes(spec)) {
      const guard = authGuard(options);
      app.get(path, { preHandler: guard }, async (request) => authBody(request.auth));
      app.post(path, { preHandler: guard }, async (request) =>
        authBody(request.auth, (request.body as { note?: string } | undefined)?.note),
      );
    }
    const metadata = fastifyAdapter.protectedResourceMetadata({
      ...(spec.metadata ?? METADATA),
      verifier: spec.verifier,
    });
    app.register(metadata, { prefix: metadata.path });
    app.register(revokeRoute({ verifier: spec.verifier }), { prefix: '/logout' });
    if (spec.dpopVerifier) app.register(revokeRoute({ verifier: spec.dpopVerifier }), { prefix: '/dpop-logout' });
    app.register(backchannelLogoutRoute({ verifier: spec.verifier, clientId: spec.clientId }), {
      prefix: '/backchannel-logout',
    });
    app.register(securityEventRoute({ verifier: spec.verifier, audience: spec.eventAudience }), {
      prefix: '/security-events',
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = app.server.address() as AddressInfo;
    return { url: `http://127.0.0.1:${port}`, close: () => app.close() };
  },
};

const koaHarness: Harness = {
  name: 'Koa 3',
  start: async (spec) => {
    const { authGuard, revokeRoute, backchannelLogoutRoute, securityEventRoute } = koaAdapter;
    const app = new Koa();
    const routes = new Map<string, Koa.Middleware>();
    const guarded = <S extends koaAdapter.OptionalAuthState>(
      guard: koaAdapter.AuthGuardMiddleware<S>,
    ): Koa.Middleware<S> => {
      return (ctx) =>
        guard(ctx, async () => {
          ctx.body = authBody(ctx.state.auth, (ctx.request as { body?: { note?: string } }).body?.note);
        });
    };
    // What koa-bodyparser does, for the guarded routes.
    app.use(async (ctx, next) => {
      if (ctx.path in GUARDED) {
        const fields = await formFields(ctx.req);
        if (fields !== undefined) Object.assign(ctx.request, { body: fields });
      }
      await next();
    });
    for (const [path, options] of guardedRoutes(spec)) routes.set(path, guarded(authGuard(options)));
    const metadata = koaAdapter.protectedResourceMetadata({ ...(spec.metadata ?? METADATA), verifier: spec.verifier });
    routes.set(metadata.path, metadata);
    routes.set('/logout', revokeRoute({ verifier: spec.verifier }));
    if (spec.dpopVerifier) routes.set('/dpop-logout', revokeRoute({ verifier: spec.dpopVerifier }));
    routes.set('/backchannel-logout', backchannelLogoutRoute({ verifier: spec.verifier, clientId: spec.clientId }));
    routes.set('/security-events', securityEventRoute({ verifier: spec.verifier, audience: spec.eventAudience }));
    app.use((ctx, next) => routes.get(ctx.path)?.(ctx, next) ?? next());
    return listen(createServer(app.callback()));
  },
};

const honoHarness: Harness = {
  name: 'Hono 4',
  start: async (spec) => {
    const { authGuard, revokeRoute, backchannelLogoutRoute, securityEventRoute } = honoAdapter;
    const app = new Hono<honoAdapter.OptionalAuthEnv>();
    for (const [path, options] of guardedRoutes(spec)) {
      const guard = authGuard(options);
      app.get(path, guard, (c) => c.json(authBody(c.get('auth'))));
      app.post(path, guard, async (c) => {
        const note = isForm(c.req.header('content-type')) ? (await c.req.parseBody()).note : undefined;
        return c.json(authBody(c.get('auth'), note));
      });
    }
    const metadata = honoAdapter.protectedResourceMetadata({ ...(spec.metadata ?? METADATA), verifier: spec.verifier });
    app.all(metadata.path, metadata);
    app.all('/logout', revokeRoute({ verifier: spec.verifier }));
    if (spec.dpopVerifier) app.all('/dpop-logout', revokeRoute({ verifier: spec.dpopVerifier }));
    app.all('/backchannel-logout', backchannelLogoutRoute({ verifier: spec.verifier, clientId: spec.clientId }));
    app.all('/security-events', securityEventRoute({ verifier: spec.verifier, audience: spec.eventAudience }));
    return listen(createServer(getRequestListener(app.fetch)));
  },
};

/** The fetch adapter behind a plain `(request) => Response` handler, bridged to node:http. */
const fetchHarness: Harness = {
  name: 'fetch',
  start: async (spec) => {
    const { authGuard, revokeRoute, backchannelLogoutRoute, securityEventRoute } = fetchAdapter;
    const guards = new Map<string, fetchAdapter.OptionalFetchAuthGuard>(
      guardedRoutes(spec).map(([path, options]) => [path, authGuard(options)] as const),
    );
    const metadata = fetchAdapter.protectedResourceMetadata({
      ...(spec.metadata ?? METADATA),
      verifier: spec.verifier,
    });
    const routes = new Map<string, fetchAdapter.FetchRoute>([
      [metadata.path, metadata],
      ['/logout', revokeRoute({ verifier: spec.verifier })],
      ['/backchannel-logout', backchannelLogoutRoute({ verifier: spec.verifier, clientId: spec.clientId })],
      ['/security-events', securityEventRoute({ verifier: spec.verifier, audience: spec.eventAudience })],
    ]);
    if (spec.dpopVerifier) routes.set('/dpop-logout', revokeRoute({ verifier: spec.dpopVerifier }));
    const handle = async (request: Request): Promise<Response> => {
      const path = new URL(request.url).pathname;
      const guard = guards.get(path);
      if (guard) {
        const auth = await guard(request);
        if (auth instanceof Response) return auth;
        const form = request.method === 'POST' && isForm(request.headers.get('content-type'));
        return Response.json(authBody(auth, form ? (await request.formData()).get('note') : undefined));
      }
      return routes.get(path)?.(request) ?? new Response(null, { status: 404 });
    };
    return listen(createServer(getRequestListener(handle)));
  },
};

const express4 = createRequire(import.meta.url)('express4') as typeof express;

export const HARNESSES: readonly Harness[] = [
  expressHarness('Express 5', express),
  expressHarness('Express 4', express4),
  connectHarness,
  nodeHttpHarness,
  fastifyHarness,
  koaHarness,
  honoHarness,
  fetchHarness,
];
