/**
 * One small app per adapter, all alike, for the conformance suite: the same routes, the same
 * options, served on 127.0.0.1. Each is what a user would write with that framework.
 *   GET /notes   guard, scope notes:read → 200 { sub, scope }
 *   POST /notes  the same, after the framework's form body parser (where it has none, what a user
 *                would write) → 200 { sub, scope, note } with the form's `note`, read after the guard
 *   GET /admin   guard, scope notes:admin
 *   GET /outage  guard on a verifier whose IdP is down
 *   /logout, /backchannel-logout, /security-events: the library's endpoints (every method)
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
import type { VerifiedToken, Verifier } from '../../src/index.js';

export interface AppSpec {
  verifier: Verifier;
  /** A verifier whose IdP is unreachable. */
  outageVerifier: Verifier;
  clientId: string;
  /** The audience of security events. */
  eventAudience: string;
}

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

const GUARDED = { '/notes': ['notes:read'], '/admin': ['notes:admin'] } as const;

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
      for (const [path, scopes] of Object.entries(GUARDED)) {
        const guard = authGuard({ verifier: spec.verifier, scopes: [...scopes] });
        app.get(path, guard, (req, res) => {
          res.json(authBody(req.auth));
        });
        app.post(path, framework.urlencoded({ extended: false }), guard, (req, res) => {
          res.json(authBody(req.auth, (req.body as { note?: string } | undefined)?.note));
        });
      }
      app.get('/outage', authGuard({ verifier: spec.outageVerifier }), (_req, res) => res.json({}));
      app.all('/logout', revokeRoute({ verifier: spec.verifier }));
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
    for (const [path, scopes] of Object.entries(GUARDED)) {
      app.use(path, express.urlencoded({ extended: false })); // body-parser, as Connect apps use it
      app.use(path, authGuard({ verifier: spec.verifier, scopes: [...scopes] }));
      app.use(path, json);
    }
    app.use('/outage', authGuard({ verifier: spec.outageVerifier }));
    app.use('/outage', json);
    app.use('/logout', revokeRoute({ verifier: spec.verifier }));
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
    const guards = new Map<string, expressAdapter.AuthGuardMiddleware>([
      ...Object.entries(GUARDED).map(
        ([path, scopes]) => [path, authGuard({ verifier: spec.verifier, scopes: [...scopes] })] as const,
      ),
      ['/outage', authGuard({ verifier: spec.outageVerifier })],
    ]);
    const routes = new Map<string, RequestListener>([
      ['/logout', revokeRoute({ verifier: spec.verifier })],
      ['/backchannel-logout', backchannelLogoutRoute({ verifier: spec.verifier, clientId: spec.clientId })],
      ['/security-events', securityEventRoute({ verifier: spec.verifier, audience: spec.eventAudience })],
    ]);
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
    for (const [path, scopes] of Object.entries(GUARDED)) {
      const guard = authGuard({ verifier: spec.verifier, scopes: [...scopes] });
      app.get(path, { preHandler: guard }, async (request) => authBody(request.auth));
      app.post(path, { preHandler: guard }, async (request) =>
        authBody(request.auth, (request.body as { note?: string } | undefined)?.note),
      );
    }
    app.get('/outage', { preHandler: authGuard({ verifier: spec.outageVerifier }) }, async () => ({}));
    app.register(revokeRoute({ verifier: spec.verifier }), { prefix: '/logout' });
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
    const guarded = (guard: koaAdapter.AuthGuardMiddleware): Koa.Middleware<koaAdapter.AuthState> => {
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
    for (const [path, scopes] of Object.entries(GUARDED))
      routes.set(path, guarded(authGuard({ verifier: spec.verifier, scopes: [...scopes] })));
    routes.set('/outage', guarded(authGuard({ verifier: spec.outageVerifier })));
    routes.set('/logout', revokeRoute({ verifier: spec.verifier }));
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
    const app = new Hono<honoAdapter.AuthEnv>();
    for (const [path, scopes] of Object.entries(GUARDED)) {
      const guard = authGuard({ verifier: spec.verifier, scopes: [...scopes] });
      app.get(path, guard, (c) => c.json(authBody(c.get('auth'))));
      app.post(path, guard, async (c) => {
        const note = isForm(c.req.header('content-type')) ? (await c.req.parseBody()).note : undefined;
        return c.json(authBody(c.get('auth'), note));
      });
    }
    app.get('/outage', authGuard({ verifier: spec.outageVerifier }), (c) => c.json({}));
    app.all('/logout', revokeRoute({ verifier: spec.verifier }));
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
    const guards = new Map<string, fetchAdapter.FetchAuthGuard>([
      ...Object.entries(GUARDED).map(
        ([path, scopes]) => [path, authGuard({ verifier: spec.verifier, scopes: [...scopes] })] as const,
      ),
      ['/outage', authGuard({ verifier: spec.outageVerifier })],
    ]);
    const routes = new Map<string, fetchAdapter.FetchRoute>([
      ['/logout', revokeRoute({ verifier: spec.verifier })],
      ['/backchannel-logout', backchannelLogoutRoute({ verifier: spec.verifier, clientId: spec.clientId })],
      ['/security-events', securityEventRoute({ verifier: spec.verifier, audience: spec.eventAudience })],
    ]);
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
