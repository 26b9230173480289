/**
 * The adapters attacked like a hostile client and used like a careless integrator would (issue 12):
 * each scenario expects what Express answers for the same input, or, for an app that does
 * something before the endpoint (an async step, a body parser of its own, a middleware that read
 * the body), the answer it gets without that. Requests that must reach the server in one piece
 * (headers and body in one write, a repeated header) go over a raw socket.
 */
import { getRequestListener } from '@hono/node-server';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import connectFramework from 'connect';
import express from 'express';
import Fastify from 'fastify';
import { Hono } from 'hono';
import { SignJWT } from 'jose';
import Koa from 'koa';
import { createRequire } from 'node:module';
import { connect } from 'node:net';
import { createServer, type RequestListener } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as expressAdapter from '../../src/express/index.js';
import * as fastifyAdapter from '../../src/fastify/index.js';
import * as fetchAdapter from '../../src/fetch/index.js';
import * as honoAdapter from '../../src/hono/index.js';
import * as koaAdapter from '../../src/koa/index.js';
import { createVerifier, MisconfiguredError, type VerifiedToken, type Verifier } from '../../src/index.js';
import { dpopClient } from '../support/dpop.js';
import { type EmbeddedIdp, startIdp, testClock, tokenAt } from '../support/idp.js';
import { waitFor } from '../support/wait-for.js';
import { HARNESSES, type RunningApp } from './harnesses.js';

const clock = testClock();
let idp: EmbeddedIdp;
let down: EmbeddedIdp;
let verifier: Verifier;
let outageVerifier: Verifier;
const apps = new Map<string, RunningApp>();
const closers: Array<() => Promise<void>> = [];

beforeAll(async () => {
  [idp, down] = await Promise.all([startIdp(), startIdp()]);
  await down.pause();
  verifier = createVerifier({ issuer: idp.issuer, audience: idp.audience, clock });
  outageVerifier = createVerifier({ issuer: down.issuer, audience: down.audience, clock });
  const spec = { verifier, outageVerifier, clientId: idp.client.clientId, eventAudience: 'https://api.example/events' };
  for (const harness of HARNESSES) apps.set(harness.name, await harness.start(spec));
}, 30_000);

afterAll(async () => {
  await Promise.all([...apps.values()].map((app) => app.close()));
  await Promise.all(closers.map((close) => close()));
  await Promise.all([verifier?.close(), outageVerifier?.close()]);
  await Promise.all([idp?.close(), down?.close()]);
});

interface Answer {
  status: number;
  headers: Record<string, string>;
  body: unknown;
}

const HEADERS = ['www-authenticate', 'cache-control', 'retry-after', 'allow', 'content-type'];

/**
 * Sends `head` (lines, no blank line) and `body` in one write on a fresh connection; reads to its
 * close (`Connection: close`). The client does not half-close: Node's server drops a request whose
 * client ended its side before the answer was written.
 */
function rawRequest(url: string, head: readonly string[], body = ''): Promise<Answer> {
  const { port } = new URL(url);
  const message = `${[...head, 'Host: localhost', 'Connection: close'].join('\r\n')}\r\n\r\n${body}`;
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => resolve(parseAnswer(Buffer.concat(chunks).toString('utf8'))));
    socket.write(message);
  });
}

function parseAnswer(text: string): Answer {
  const split = text.indexOf('\r\n\r\n');
  const [statusLine, ...lines] = text.slice(0, split).split('\r\n');
  const all = new Map(
    lines.map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]),
  );
  let body = text.slice(split + 4);
  if (all.get('transfer-encoding') === 'chunked') {
    let decoded = '';
    for (let at = 0; ; ) {
      const end = body.indexOf('\r\n', at);
      const size = Number.parseInt(body.slice(at, end), 16);
      if (!size) break;
      decoded += body.slice(end + 2, end + 2 + size);
      at = end + 2 + size + 2;
    }
    body = decoded;
  }
  const headers: Record<string, string> = {};
  for (const name of HEADERS) {
    const value = all.get(name);
    if (value !== undefined) headers[name] = value;
  }
  return { status: Number(statusLine!.split(' ')[1]), headers, body: body === '' ? undefined : jsonOrText(body) };
}

/** A framework's own 500 page is text. */
function jsonOrText(body: string): unknown {
  try {
    return JSON.parse(body);
  } catch {
    return body;
  }
}

/** A raw request: its head (request line and header fields) and its body. */
type RawRequest = readonly [readonly string[], string];

const post = (path: string, headers: string[], body: string): RawRequest => [
  [`POST ${path} HTTP/1.1`, ...headers, `Content-Length: ${Buffer.byteLength(body)}`],
  body,
];

/** Every adapter answers `request` as Express 5 does. */
async function likeExpress(request: (name: string) => RawRequest | Promise<RawRequest>) {
  const answers = await Promise.all(
    [...apps].map(async ([name, app]) => [name, await rawRequest(app.url, ...(await request(name)))] as const),
  );
  const express5 = answers.find(([name]) => name === 'Express 5')![1];
  expect(Object.fromEntries(answers)).toEqual(Object.fromEntries(answers.map(([name]) => [name, express5])));
  return express5;
}

describe('a hostile client, on every adapter', () => {
  it.each([
    ['a Content-Type that is no media type', 'Content-Type: foo'],
    ['an empty Content-Type', 'Content-Type: '],
  ])('logout with %s: the answer Express gives, not a framework 415', async (_name, contentType) => {
    const answer = await likeExpress(async () =>
      post('/logout', [contentType], `token=${await tokenAt(idp, clock())}`),
    );
    expect(answer.status).not.toBe(415);
  });

  it('a security event with a Content-Type that is no media type: 400 invalid_request, as Express', async () => {
    const answer = await likeExpress(() => post('/security-events', ['Content-Type: secevent+jwt'], 'a.b.c'));
    expect(answer).toMatchObject({
      status: 400,
      body: { err: 'invalid_request', description: 'Send the SET as application/secevent+jwt' },
    });
  });

  it('another scheme and a Bearer token in one Authorization field (a Headers joins repeats so): 400', async () => {
    const token = await tokenAt(idp, clock());
    for (const fields of [
      [`Authorization: Basic eHg6eXk=`, `Authorization: Bearer ${token}`],
      [`Authorization: Basic eHg6eXk=, Bearer ${token}`],
      [`Authorization: `, `Authorization: Bearer ${token}`],
    ]) {
      const answer = await likeExpress(() => [['GET /notes HTTP/1.1', ...fields], '']);
      expect(answer).toMatchObject({
        status: 400,
        body: { error: 'invalid_request', error_description: 'Send exactly one Authorization header' },
      });
    }
  });
});

/** Serves `listener` on 127.0.0.1 until the suite ends; its base URL. */
async function serve(listener: RequestListener): Promise<string> {
  const server = createServer(listener);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** A step an app takes before its routes (a session look-up, say): the body arrives meanwhile. */
const asyncStep = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Each app mounts the logout route at /logout behind something of its own. */
const integrators: Record<string, () => Promise<string>> = {
  'Express 5 with an async middleware first': async () => {
    const app = express();
    app.use((_req, _res, next) => void asyncStep().then(() => next()));
    app.post('/logout', expressAdapter.revokeRoute({ verifier }));
    return serve(app);
  },
  'node:http with an await before the route': async () => {
    const logout = expressAdapter.revokeRoute({ verifier });
    return serve((req, res) => void asyncStep().then(() => logout(req, res)));
  },
  'Fastify with an async onRequest hook': async () => {
    const app = Fastify();
    app.addHook('onRequest', asyncStep);
    app.register(fastifyAdapter.revokeRoute({ verifier }), { prefix: '/logout' });
    await app.listen({ port: 0, host: '127.0.0.1' });
    closers.push(() => app.close());
    return `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  },
  'Koa with an async middleware first': async () => {
    const app = new Koa();
    app.use(async (_ctx, next) => {
      await asyncStep();
      await next();
    });
    app.use(koaAdapter.revokeRoute({ verifier }));
    return serve(app.callback());
  },
  'Express 4 with express.json() for the whole app': async () => {
    const express4 = createRequire(import.meta.url)('express4') as typeof express;
    const app = express4();
    app.use(express4.json()); // sets req.body = {} for a form body it leaves unread
    app.post('/logout', expressAdapter.revokeRoute({ verifier }));
    return serve(app);
  },
  'Koa with a JSON-only body parser': async () => {
    const app = new Koa();
    // What koa-bodyparser does for a type it does not parse: `{}`, the stream left unread.
    app.use(async (ctx, next) => {
      if (!ctx.is('application/json')) Object.assign(ctx.request, { body: {} });
      await next();
    });
    app.use(koaAdapter.revokeRoute({ verifier }));
    return serve(app.callback());
  },
  'Hono with a middleware that read the body': async () => {
    const app = new Hono();
    app.use('/logout', async (c, next) => {
      await c.req.text(); // a request logger, a signature check…
      await next();
    });
    app.post('/logout', honoAdapter.revokeRoute({ verifier }));
    return serve(getRequestListener(app.fetch));
  },
  'Hono with a middleware that parsed the form': async () => {
    const app = new Hono();
    app.use('/logout', async (c, next) => {
      await c.req.parseBody();
      await next();
    });
    app.post('/logout', honoAdapter.revokeRoute({ verifier }));
    return serve(getRequestListener(app.fetch));
  },
};

describe('a careless integrator: the logout route still reads the form body', () => {
  it.each(Object.keys(integrators))('%s: 200, and the body token is revoked', async (name) => {
    const url = await integrators[name]!();
    const token = await tokenAt(idp, clock(), { sub: `integrator-${name.replace(/\W+/g, '-')}` });
    await expect(verifier.verify(token)).resolves.toBeDefined();
    const answer = await rawRequest(
      url,
      ...post('/logout', ['Content-Type: application/x-www-form-urlencoded'], `token=${token}`),
    );
    expect(answer).toMatchObject({ status: 200, body: { revoked: true } });
    await expect(verifier.verify(token)).rejects.toMatchObject({ status: 401 });
  });
});

describe('form fields named like Object.prototype members', () => {
  it('a `__proto__` field is an own field, never the prototype of the fields object', async () => {
    const { bodyFields } = await import('../../src/glue/body-fields.js');
    const fields = bodyFields('__proto__=a&__proto__=b&token=t', 'application/x-www-form-urlencoded');
    expect(Object.getPrototypeOf(fields)).toBeNull();
    expect(Object.hasOwn(fields, '__proto__')).toBe(true);
    expect(Reflect.get(fields, '__proto__')).toEqual(['a', 'b']);
    expect(fields.token).toBe('t');
  });
});

describe('one Authorization field carrying two Bearer tokens, on every adapter', () => {
  it.each([
    [
      'two fields (a Headers joins them)',
      (a: string, b: string) => [`Authorization: Bearer ${a}`, `Authorization: Bearer ${b}`],
    ],
    ['one field, joined by the client', (a: string, b: string) => [`Authorization: Bearer ${a}, Bearer ${b}`]],
  ])('%s: 400 "Send exactly one Authorization header", as Express', async (_name, fields) => {
    const [a, b] = [await tokenAt(idp, clock()), await tokenAt(idp, clock(), { sub: 'mallory' })];
    await verifier.verify(a); // cached: the hit path must refuse as well
    const answer = await likeExpress(() => [['GET /notes HTTP/1.1', ...fields(a, b)], '']);
    expect(answer).toMatchObject({
      status: 400,
      body: { error: 'invalid_request', error_description: 'Send exactly one Authorization header' },
    });
  });
});

/** Each app mounts the same guard (scope notes:read) twice on GET /twice; `runs` counts the handler's runs. */
function doubledApps(runs: Map<string, number>): Record<string, () => Promise<string>> {
  const guarded = { verifier, scopes: ['notes:read'] };
  const ran = (name: string) => runs.set(name, (runs.get(name) ?? 0) + 1);
  const body = (auth: VerifiedToken | undefined) => ({ sub: auth?.payload.sub });
  return {
    Express: async () => {
      const guard = expressAdapter.authGuard(guarded);
      const app = express();
      app.get('/twice', guard, guard, (req, res) => {
        ran('Express');
        res.json(body(req.auth));
      });
      app.use(expressAdapter.authErrorHandler());
      return serve(app);
    },
    'node:http': async () => {
      const guard = expressAdapter.authGuard(guarded);
      return serve((req: expressAdapter.GuardRequest, res) => {
        const fail = (error: unknown) => {
          if (!expressAdapter.writeAuthError(res, error)) res.writeHead(500).end();
        };
        guard(req, res, (error) => {
          if (error !== undefined) return fail(error);
          guard(req, res, (again) => {
            if (again !== undefined) return fail(again);
            ran('node:http');
            res.setHeader('Content-Type', 'application/json; charset=utf-8');
            res.end(JSON.stringify(body(req.auth)));
          });
        });
      });
    },
    Fastify: async () => {
      const guard = fastifyAdapter.authGuard(guarded);
      const app = Fastify();
      app.get('/twice', { preHandler: [guard, guard] }, async (request) => {
        ran('Fastify');
        return body(request.auth);
      });
      await app.listen({ port: 0, host: '127.0.0.1' });
      closers.push(() => app.close());
      return `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    },
    Koa: async () => {
      const guard = koaAdapter.authGuard(guarded);
      const app = new Koa<koaAdapter.AuthState>();
      app.use(guard);
      app.use(guard);
      app.use((ctx) => {
        ran('Koa');
        ctx.body = body(ctx.state.auth);
      });
      return serve(app.callback());
    },
    Hono: async () => {
      const guard = honoAdapter.authGuard(guarded);
      const app = new Hono<honoAdapter.AuthEnv>();
      app.get('/twice', guard, guard, (c) => {
        ran('Hono');
        return c.json(body(c.get('auth')));
      });
      return serve(getRequestListener(app.fetch));
    },
    fetch: async () => {
      const guard = fetchAdapter.authGuard(guarded);
      return serve(
        getRequestListener(async (request) => {
          const first = await guard(request);
          if (first instanceof Response) return first;
          const second = await guard(request);
          if (second instanceof Response) return second;
          ran('fetch');
          return Response.json(body(second));
        }),
      );
    },
  };
}

describe('the same guard mounted twice on one route', () => {
  it('answers as once: 200 with the auth result (the handler runs once), 401 without a token, 403 without the scope', async () => {
    const runs = new Map<string, number>();
    const urls = Object.fromEntries(
      await Promise.all(Object.entries(doubledApps(runs)).map(async ([name, start]) => [name, await start()] as const)),
    );
    const names = Object.keys(urls);
    const get = async (authorization?: string) =>
      Object.fromEntries(
        await Promise.all(
          names.map(async (name) => {
            const head = ['GET /twice HTTP/1.1', ...(authorization ? [`Authorization: ${authorization}`] : [])];
            const { status, body } = await rawRequest(urls[name]!, head);
            return [name, { status, body }] as const;
          }),
        ),
      );
    const every = (answer: unknown) => Object.fromEntries(names.map((name) => [name, answer]));
    const token = await tokenAt(idp, clock(), { sub: 'twice', scope: 'notes:read' });
    expect(await get(`Bearer ${token}`)).toEqual(every({ status: 200, body: { sub: 'twice' } })); // a miss, then a hit
    expect(await get(`Bearer ${token}`)).toEqual(every({ status: 200, body: { sub: 'twice' } })); // two hits
    expect(Object.fromEntries(runs)).toEqual(every(2));
    expect(await get()).toEqual(
      every({ status: 401, body: { error: 'unauthorized', error_description: expect.any(String) } }),
    );
    const unscoped = await tokenAt(idp, clock(), { scope: 'notes:write' });
    expect(await get(`Bearer ${unscoped}`)).toEqual(
      every({ status: 403, body: { error: 'insufficient_scope', error_description: expect.any(String) } }),
    );
    expect(Object.fromEntries(runs)).toEqual(every(2));
  });
});

const PUBLIC_URL = 'https://api.example.com';

/**
 * Each stack guards GET /admin twice, as apps do: an app-wide guard admitting DPoP, then the
 * route's own guard for the `admin` scope, both on one verifier (with a public URL, so both take
 * DPoP). Express 5 and 4, Connect, node:http, Fastify, Koa, Hono and fetch.
 */
function stackedApps(dpopVerifier: Verifier): Record<string, () => Promise<string>> {
  const outer = { verifier: dpopVerifier, dpop: 'allowed' } as const;
  const inner = { verifier: dpopVerifier, scopes: ['admin'] };
  const body = (auth: VerifiedToken | undefined) => ({ sub: auth?.payload.sub });
  const expressStack = (framework: typeof express) => async () => {
    const app = framework();
    app.use(expressAdapter.authGuard(outer));
    app.get('/admin', expressAdapter.authGuard(inner), (req, res) => {
      res.json(body(req.auth));
    });
    app.use(expressAdapter.authErrorHandler());
    return serve(app);
  };
  const writeJson = (res: import('node:http').ServerResponse, value: unknown) => {
    res.setHeader('Content-Type', 'application/json; charset=utf-8');
    res.end(JSON.stringify(value));
  };
  return {
    'Express 5': expressStack(express),
    'Express 4': expressStack(createRequire(import.meta.url)('express4') as typeof express),
    Connect: async () => {
      const connectApp = connectFramework();
      connectApp.use(expressAdapter.authGuard(outer));
      connectApp.use('/admin', expressAdapter.authGuard(inner));
      connectApp.use('/admin', (req: expressAdapter.GuardRequest, res) => writeJson(res, body(req.auth)));
      connectApp.use(expressAdapter.authErrorHandler());
      return serve(connectApp as unknown as RequestListener);
    },
    'node:http': async () => {
      const [first, second] = [expressAdapter.authGuard(outer), expressAdapter.authGuard(inner)];
      return serve((req: expressAdapter.GuardRequest, res) => {
        const fail = (error: unknown) => {
          if (!expressAdapter.writeAuthError(res, error)) res.writeHead(500).end();
        };
        first(req, res, (error) => {
          if (error !== undefined) return fail(error);
          second(req, res, (again) => (again !== undefined ? fail(again) : writeJson(res, body(req.auth))));
        });
      });
    },
    Fastify: async () => {
      const app = Fastify();
      app.addHook('preHandler', fastifyAdapter.authGuard(outer));
      app.get('/admin', { preHandler: fastifyAdapter.authGuard(inner) }, async (request) => body(request.auth));
      await app.listen({ port: 0, host: '127.0.0.1' });
      closers.push(() => app.close());
      return `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    },
    Koa: async () => {
      const app = new Koa<koaAdapter.AuthState>();
      app.use(koaAdapter.authGuard(outer));
      app.use(koaAdapter.authGuard(inner));
      app.use((ctx) => {
        ctx.body = body(ctx.state.auth);
      });
      return serve(app.callback());
    },
    Hono: async () => {
      const app = new Hono<honoAdapter.AuthEnv>();
      app.use('*', honoAdapter.authGuard(outer));
      app.get('/admin', honoAdapter.authGuard(inner), (c) => c.json(body(c.get('auth'))));
      return serve(getRequestListener(app.fetch));
    },
    fetch: async () => {
      const [first, second] = [fetchAdapter.authGuard(outer), fetchAdapter.authGuard(inner)];
      return serve(
        getRequestListener(async (request) => {
          const auth = await first(request);
          if (auth instanceof Response) return auth;
          const admin = await second(request);
          return admin instanceof Response ? admin : Response.json(body(admin));
        }),
      );
    },
  };
}

describe('an app-wide DPoP guard and a route guard on one request (DPoP proof claimed once per request)', () => {
  it('admits the DPoP request on every stack; the same proof on a new request is a replay; the route guard still checks its scope', async () => {
    const dpopVerifier = createVerifier({ issuer: idp.issuer, audience: idp.audience, clock, publicUrl: PUBLIC_URL });
    closers.push(() => dpopVerifier.close());
    const stacks = stackedApps(dpopVerifier);
    const urls = new Map(
      await Promise.all(Object.entries(stacks).map(async ([name, start]) => [name, await start()] as const)),
    );
    expect(urls.size).toBe(8);
    const key = await dpopClient();
    const sub = (name: string) => `stacked-${name.replace(/\W+/g, '-')}`;
    const tokenOf = (name: string, scope: string) =>
      tokenAt(idp, clock(), { sub: sub(name), scope, cnf: { jkt: key.jkt } });
    const send = async (name: string, token: string, proof: string) => {
      const head = ['GET /admin HTTP/1.1', `Authorization: DPoP ${token}`, `DPoP: ${proof}`];
      const { status, body } = await rawRequest(urls.get(name)!, head);
      return { status, body };
    };
    const each = async (answer: (name: string) => Promise<unknown>) =>
      Object.fromEntries(await Promise.all([...urls.keys()].map(async (name) => [name, await answer(name)] as const)));
    const every = (expected: (name: string) => unknown) =>
      Object.fromEntries([...urls.keys()].map((name) => [name, expected(name)]));
    const replayed = {
      status: 401,
      body: { error: 'invalid_dpop_proof', error_description: 'The DPoP proof has already been used' },
    };

    const proofs = new Map<string, [string, string]>();
    for (const name of urls.keys()) {
      const token = await tokenOf(name, 'admin');
      proofs.set(name, [token, await key.proof({ htu: `${PUBLIC_URL}/admin`, token, at: clock() })]);
    }
    // Before: the route guard refused the proof the app-wide guard had just claimed (a replay).
    expect(await each((name) => send(name, ...proofs.get(name)!))).toEqual(
      every((name) => ({ status: 200, body: { sub: sub(name) } })),
    ); // a miss for each token
    expect(await each((name) => send(name, ...proofs.get(name)!))).toEqual(every(() => replayed)); // a new request
    expect(
      await each(async (name) => {
        const [token] = proofs.get(name)!;
        return send(name, token, await key.proof({ htu: `${PUBLIC_URL}/admin`, token, at: clock() }));
      }),
    ).toEqual(every((name) => ({ status: 200, body: { sub: sub(name) } }))); // a fresh proof: hits
    expect(
      await each(async (name) => {
        const token = await tokenOf(name, 'notes:read');
        return send(name, token, await key.proof({ htu: `${PUBLIC_URL}/admin`, token, at: clock() }));
      }),
    ).toEqual(
      every(() => ({ status: 403, body: { error: 'insufficient_scope', error_description: expect.any(String) } })),
    );
  });
});

/**
 * A `fetch` for a verifier that, once armed, holds its JWKS requests until `release()` (or until
 * the request is aborted, as a real fetch would be): verifications wait there, in flight.
 */
function jwksGate() {
  let armed = false;
  let release = () => {};
  let held = Promise.resolve();
  return {
    arm() {
      armed = true;
      held = new Promise((resolve) => {
        release = resolve;
      });
    },
    release: () => {
      armed = false;
      release();
    },
    fetch: async (input: string | URL, init?: RequestInit): Promise<Response> => {
      if (armed && new URL(String(input)).pathname === '/jwks') {
        await new Promise<void>((resolve) => {
          void held.then(resolve);
          init?.signal?.addEventListener('abort', () => resolve(), { once: true });
        });
      }
      return fetch(input, init);
    },
  };
}

/** Every harness app on `spec`'s verifiers; closed when the suite ends. */
async function startEvery(spec: Parameters<(typeof HARNESSES)[number]['start']>[0]) {
  const started = new Map<string, RunningApp>();
  for (const harness of HARNESSES) started.set(harness.name, await harness.start(spec));
  closers.push(async () => {
    await Promise.all([...started.values()].map((app) => app.close()));
  });
  return started;
}

describe('verifier.close() while requests are in flight on every adapter', () => {
  it('each ends in a 500 (VerifierClosedError), never a hang, a 503 or an unhandled rejection', async () => {
    const gate = jwksGate();
    const closing = createVerifier({ issuer: idp.issuer, audience: idp.audience, clock, fetch: gate.fetch });
    closers.push(() => closing.close());
    const started = await startEvery({
      verifier: closing,
      outageVerifier,
      clientId: idp.client.clientId,
      eventAudience: 'https://api.example/events',
    });
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      gate.arm();
      const token = await tokenAt(idp, clock(), { sub: 'closing', scope: 'notes:read' });
      const answers = [...started].map(async ([name, app]) => {
        const { status } = await rawRequest(app.url, ['GET /notes HTTP/1.1', `Authorization: Bearer ${token}`]);
        return [name, status] as const;
      });
      // Every request has reached the verifier (one miss each) and waits for the keys.
      await waitFor(() => closing.stats().cache.misses >= started.size, 'every request in flight');
      await closing.close();
      expect(Object.fromEntries(await Promise.all(answers))).toEqual(
        Object.fromEntries([...started.keys()].map((name) => [name, 500])),
      );
      await new Promise((resolve) => setImmediate(resolve));
      expect(unhandled).toEqual([]);
    } finally {
      gate.release();
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('in-process too: the fetch guard resolves to a 500 Response, the Hono app answers 500', async () => {
    const gate = jwksGate();
    const closing = createVerifier({ issuer: idp.issuer, audience: idp.audience, clock, fetch: gate.fetch });
    const guard = fetchAdapter.authGuard({ verifier: closing });
    const app = new Hono().get('/notes', honoAdapter.authGuard({ verifier: closing }), (c) => c.text('ok'));
    gate.arm();
    try {
      const token = await tokenAt(idp, clock(), { sub: 'closing-in-process' });
      const request = () => new Request('http://api.test/notes', { headers: { Authorization: `Bearer ${token}` } });
      const fromGuard = guard(request());
      const fromHono = app.fetch(request());
      await waitFor(() => closing.stats().cache.misses >= 2, 'both requests in flight');
      await closing.close();
      const [guarded, answered] = await Promise.all([fromGuard, fromHono]);
      expect(guarded).toBeInstanceOf(Response);
      expect((guarded as Response).status).toBe(500);
      expect(answered.status).toBe(500);
    } finally {
      gate.release();
    }
  });
});

describe('a revocation confirmed on one adapter while a verification is in flight on another', () => {
  it('the in-flight request is refused (401 revoked) once the logout has answered 200; an untouched one is admitted', async () => {
    const rotating = await startIdp();
    closers.push(() => rotating.close());
    const gate = jwksGate();
    const shared = createVerifier({
      issuer: rotating.issuer,
      audience: rotating.audience,
      clock,
      fetch: gate.fetch,
      jwksCooldown: 0,
    });
    closers.push(() => shared.close());
    const started = await startEvery({
      verifier: shared,
      outageVerifier,
      clientId: rotating.client.clientId,
      eventAudience: 'https://api.example/events',
    });
    const names = [...started.keys()];
    await shared.verify(await tokenAt(rotating, clock())); // the first key is known
    // The IdP rotates: tokens signed with the new key make every verification fetch the JWKS again,
    // and the gate holds that fetch. The old key (which signs the logout tokens) stays known.
    const oldKey = rotating.keys[0]!;
    await rotating.rotateKeys();
    gate.arm();
    const subject = (name: string) => `race-${name.replace(/\W+/g, '-')}`;
    const tokens = new Map(
      await Promise.all(
        [...names, 'control'].map(
          async (name) => [name, await tokenAt(rotating, clock(), { sub: subject(name) })] as const,
        ),
      ),
    );
    const misses = shared.stats().cache.misses;
    const guarded = names.map(async (name) => {
      const head = ['GET /notes HTTP/1.1', `Authorization: Bearer ${tokens.get(name)}`];
      return [name, await rawRequest(started.get(name)!.url, head)] as const;
    });
    const control = rawRequest(started.get('fetch')!.url, [
      'GET /notes HTTP/1.1',
      `Authorization: Bearer ${tokens.get('control')}`,
    ]);
    await waitFor(() => shared.stats().cache.misses >= misses + names.length + 1, 'every request in flight');

    // Each subject is logged out through the next adapter in the list: confirmed (200) while its
    // token's verification still waits for the keys.
    const logouts = await Promise.all(
      names.map(async (name, index) => {
        const iat = Math.floor(clock() / 1000);
        const logoutToken = await new SignJWT({
          iss: rotating.issuer,
          aud: rotating.client.clientId,
          iat,
          jti: `race-${index}-${iat}`,
          sub: subject(name),
          events: { 'http://schemas.openid.net/event/backchannel-logout': {} },
        })
          .setProtectedHeader({ alg: oldKey.alg, kid: oldKey.kid, typ: 'logout+jwt' })
          .sign(oldKey.privateKey);
        const via = started.get(names[(index + 1) % names.length]!)!;
        const body = `logout_token=${logoutToken}`;
        return (
          await rawRequest(
            via.url,
            ...post('/backchannel-logout', ['Content-Type: application/x-www-form-urlencoded'], body),
          )
        ).status;
      }),
    );
    expect(logouts).toEqual(names.map(() => 200));

    gate.release();
    const answers = Object.fromEntries(
      (await Promise.all(guarded)).map(([name, answer]) => [name, { status: answer.status, body: answer.body }]),
    );
    expect(answers).toEqual(
      Object.fromEntries(
        names.map((name) => [
          name,
          { status: 401, body: { error: 'invalid_token', error_description: 'The access token has been revoked' } },
        ]),
      ),
    );
    expect(await control).toMatchObject({ status: 200, body: { sub: subject('control') } });
  });
});

/** Reads a Node request's stream to its end and drops it: a middleware that leaves no parsed body. */
async function drain(stream: AsyncIterable<unknown>): Promise<void> {
  for await (const _ of stream);
}

/** Each app mounts the logout route at /logout behind a middleware that consumed the body and kept nothing. */
const bodyEaters: Record<string, () => Promise<string>> = {
  Express: async () => {
    const app = express();
    app.use((req, _res, next) => void drain(req).then(() => next()));
    app.post('/logout', expressAdapter.revokeRoute({ verifier }));
    app.use(((_error, _req, res, _next) => res.status(500).end()) as express.ErrorRequestHandler);
    return serve(app);
  },
  'node:http (no next: the route answers 500 itself)': async () => {
    const logout = expressAdapter.revokeRoute({ verifier });
    return serve((req, res) => void drain(req).then(() => logout(req, res)));
  },
  Fastify: async () => {
    const app = Fastify();
    app.addHook('preHandler', async (request) => drain(request.raw));
    app.register(fastifyAdapter.revokeRoute({ verifier }), { prefix: '/logout' });
    app.setErrorHandler((_error, _request, reply) => reply.code(500).send());
    await app.listen({ port: 0, host: '127.0.0.1' });
    closers.push(() => app.close());
    return `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  },
  Koa: async () => {
    const app = new Koa();
    app.silent = true; // Koa logs errors it answers 500 to; this one is expected
    app.use(async (ctx, next) => {
      await drain(ctx.req);
      await next();
    });
    app.use(koaAdapter.revokeRoute({ verifier }));
    return serve(app.callback());
  },
  'Hono (the raw Request read, not through c.req)': async () => {
    const app = new Hono();
    app.use('/logout', async (c, next) => {
      await c.req.raw.text();
      await next();
    });
    app.post('/logout', honoAdapter.revokeRoute({ verifier }));
    app.onError((_error, c) => c.body(null, 500));
    return serve(getRequestListener(app.fetch));
  },
};

describe('a body the application read before the endpoint, leaving no copy: a 500, never a 400 or a silent empty body', () => {
  it.each(Object.keys(bodyEaters))('%s: 500, and the body token is not revoked', async (name) => {
    const url = await bodyEaters[name]!();
    const token = await tokenAt(idp, clock(), { sub: `eaten-${name.replace(/\W+/g, '-')}` });
    const caller = await tokenAt(idp, clock(), { sub: `eaten-caller-${name.replace(/\W+/g, '-')}` });
    const answer = await rawRequest(
      url,
      ...post(
        '/logout',
        ['Content-Type: application/x-www-form-urlencoded', `Authorization: Bearer ${caller}`],
        `token=${token}`,
      ),
    );
    // Before: the Node adapters took the body as empty and revoked only the caller's own token (200).
    expect(answer.status).toBe(500);
    await expect(verifier.verify(token)).resolves.toBeDefined();
    await expect(verifier.verify(caller)).resolves.toBeDefined();
  });

  it('fetch: revokeRoute and securityEventRoute reject with MisconfiguredError (the runtime answers 500)', async () => {
    const token = await tokenAt(idp, clock(), { sub: 'eaten-fetch' });
    const logout = fetchAdapter.revokeRoute({ verifier });
    const events = fetchAdapter.securityEventRoute({ verifier, audience: 'https://api.example/events' });
    const read = async (init: RequestInit) => {
      const request = new Request('http://api.test/endpoint', { method: 'POST', ...init });
      await request.text();
      return request;
    };
    const form = { headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: `token=${token}` };
    await expect(logout(await read(form))).rejects.toBeInstanceOf(MisconfiguredError);
    const set = { headers: { 'Content-Type': 'application/secevent+jwt' }, body: 'a.b.c' };
    await expect(events(await read(set))).rejects.toBeInstanceOf(MisconfiguredError);
    await expect(verifier.verify(token)).resolves.toBeDefined();
  });
});

/** A request body streamed in `chunks` (then closed, unless `open`); `cancelled` says whether a reader gave up on it. */
function streamed(chunks: string[], { open = false, fail = false } = {}) {
  const state = { cancelled: false, pulled: 0 };
  const encoder = new TextEncoder();
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (state.pulled < chunks.length) controller.enqueue(encoder.encode(chunks[state.pulled++]!));
      else if (fail) controller.error(new Error('connection reset'));
      else if (!open) controller.close();
      // open: never closes, as an upload still under way
    },
    cancel() {
      state.cancelled = true;
    },
  });
  return { stream, state };
}

const streamingPost = (body: ReadableStream<Uint8Array>, headers: Record<string, string>) =>
  new Request('http://api.test/notes', { method: 'POST', body, headers, duplex: 'half' } as RequestInit);

describe('a fetch Request with a streaming (duplex) body', () => {
  const FORM = { 'Content-Type': 'application/x-www-form-urlencoded' };

  it('the fetch and Hono guards answer without waiting for a stream of undeclared length, and leave it to the app', async () => {
    const token = await tokenAt(idp, clock(), { sub: 'streamer' });
    const guard = fetchAdapter.authGuard({ verifier });
    const { stream } = streamed(['note=first'], { open: true });
    const request = streamingPost(stream, { ...FORM, Authorization: `Bearer ${token}` });
    const auth = await guard(request);
    expect(auth).not.toBeInstanceOf(Response);
    const reader = request.body!.getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toBe('note=first');
    await reader.cancel();

    const app = new Hono<honoAdapter.AuthEnv>().post('/notes', honoAdapter.authGuard({ verifier }), async (c) => {
      const reader = c.req.raw.body!.getReader();
      const first = new TextDecoder().decode((await reader.read()).value);
      await reader.cancel();
      return c.json({ sub: c.get('auth').payload.sub, first });
    });
    const open = streamed(['note=first'], { open: true });
    const answer = await app.fetch(streamingPost(open.stream, { ...FORM, Authorization: `Bearer ${token}` }));
    expect(await answer.json()).toEqual({ sub: 'streamer', first: 'note=first' });
  });

  it('a declared form body is looked into through a clone: a streamed access_token is refused, the rest still readable', async () => {
    const token = await tokenAt(idp, clock(), { sub: 'streamer-2' });
    const guard = fetchAdapter.authGuard({ verifier });
    const body = `note=x&access_token=${token}`;
    const declared = { ...FORM, 'Content-Length': String(body.length) };
    const refused = await guard(streamingPost(streamed([body.slice(0, 10), body.slice(10)]).stream, declared));
    expect(refused).toBeInstanceOf(Response);
    expect(await (refused as Response).json()).toEqual({
      error: 'invalid_request',
      error_description: 'Send the access token in the Authorization header, not the body',
    });
    const plain = 'note=kept';
    const request = streamingPost(streamed([plain]).stream, {
      ...FORM,
      'Content-Length': String(plain.length),
      Authorization: `Bearer ${token}`,
    });
    expect(await guard(request)).not.toBeInstanceOf(Response);
    expect(await request.text()).toBe('note=kept');
  });

  it('revokeRoute reads a streamed form body in chunks: 200; over 16 KiB: 400 and the stream cancelled; a failing stream: 400', async () => {
    const logout = fetchAdapter.revokeRoute({ verifier });
    const token = await tokenAt(idp, clock(), { sub: 'streamed-logout' });
    const ok = await logout(streamingPost(streamed(['tok', `en=${token.slice(0, 20)}`, token.slice(20)]).stream, FORM));
    expect({ status: ok.status, body: await ok.json() }).toMatchObject({ status: 200, body: { revoked: true } });
    await expect(verifier.verify(token)).rejects.toMatchObject({ status: 401 });

    const huge = streamed(
      Array.from({ length: 40 }, () => 'a'.repeat(1024)),
      { open: true },
    );
    const tooLarge = await logout(streamingPost(huge.stream, FORM));
    expect(tooLarge.status).toBe(400);
    expect(huge.state.cancelled).toBe(true);

    const broken = await logout(streamingPost(streamed(['token=abc'], { fail: true }).stream, FORM));
    expect({ status: broken.status, body: await broken.json() }).toEqual({
      status: 400,
      body: { error: 'invalid_request', error_description: 'The request body could not be read' },
    });
  });
});

describe('Hono: a form the app already read through c.req before the guard', () => {
  it.each([
    ['c.req.parseBody()', (c: { req: { parseBody(): Promise<unknown> } }) => c.req.parseBody()],
    ['c.req.formData()', (c: { req: { formData(): Promise<unknown> } }) => c.req.formData()],
    ['c.req.text()', (c: { req: { text(): Promise<unknown> } }) => c.req.text()],
  ])('%s: the body token is still seen (Hono keeps a copy) and refused 400', async (_name, read) => {
    const token = await tokenAt(idp, clock(), { sub: 'hono-read-first' });
    const app = new Hono<honoAdapter.AuthEnv>();
    app.use('/notes', async (c, next) => {
      await read(c);
      await next();
    });
    app.post('/notes', honoAdapter.authGuard({ verifier }), (c) => c.json({ sub: c.get('auth').payload.sub }));
    const answer = await app.fetch(
      new Request('http://api.test/notes', {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded', Authorization: `Bearer ${token}` },
        body: `access_token=${token}`,
      }),
    );
    expect({ status: answer.status, body: await answer.json() }).toEqual({
      status: 400,
      body: { error: 'invalid_request', error_description: 'Send the access token by one method only' },
    });
  });
});
