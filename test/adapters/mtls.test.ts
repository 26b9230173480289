/**
 * Certificate-bound tokens (RFC 8705 §3) over real TLS, in every adapter: Express 5, Fastify 5,
 * Koa 3, Hono 4 on @hono/node-server, and the fetch guard given the certificate explicitly. A CA
 * and client certificates are made in the test; the embedded IdP (oidc-provider, `features.mTLS`)
 * issues tokens bound to alice's certificate. Each app is served by `node:https` with
 * `requestCert` (accepting any certificate, as RFC 8705 §2.2 self-signed clients need: the
 * handshake proves the key, the binding proves it is the token's) and, for the Host-header
 * trick, by plain `node:http` too. Routes:
 *   /bound    mtls: true (the connection's certificate)
 *   /proxied  mtls: { certificateHeader: 'x-client-cert' }, reached through a TLS-terminating proxy
 *   /open     no mtls (a certificate-bound token is refused there: nothing checks its binding)
 */
import { getRequestListener } from '@hono/node-server';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import express from 'express';
import Fastify from 'fastify';
import { Hono } from 'hono';
import Koa from 'koa';
import { createServer as createHttpServer, type RequestListener, type Server } from 'node:http';
import { Agent, createServer as createHttpsServer, request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import * as fastifyAdapter from '../../src/fastify/index.js';
import * as fetchAdapter from '../../src/fetch/index.js';
import * as honoAdapter from '../../src/hono/index.js';
import {
  authErrorHandler,
  authGuard,
  createVerifier,
  type GuardSettings,
  type VerifiedToken,
  type Verifier,
} from '../../src/index.js';
import * as koaAdapter from '../../src/koa/index.js';
import { type CertificateProxy, startCertificateProxy } from '../support/certificate-proxy.js';
import {
  createTestCa,
  selfSignedClient,
  type TestCa,
  type TestCertificate,
  type TlsAnswer,
  tlsGet,
} from '../support/certificates.js';
import { type EmbeddedIdp, issuedAt, startIdp, testClock } from '../support/idp.js';

const BOUND_CLIENT = { clientId: 'payments-app', clientSecret: 'payments-app-secret-that-is-long-enough' };
const ROUTES: Record<string, GuardSettings['mtls']> = {
  '/bound': true,
  '/proxied': { certificateHeader: 'x-client-cert' },
  '/open': false,
};
const body = (auth: VerifiedToken | undefined) => ({ sub: auth?.payload.sub });

/** An adapter's app: one Node request listener serving every route. */
interface Harness {
  name: string;
  listener(verifier: Verifier): Promise<RequestListener>;
}

const HARNESSES: Harness[] = [
  {
    name: 'Express 5',
    listener: async (verifier) => {
      const app = express();
      for (const [path, mtls] of Object.entries(ROUTES))
        app.get(path, authGuard({ verifier, mtls }), (req, res) => res.json(body(req.auth)));
      app.use(authErrorHandler());
      return app;
    },
  },
  {
    name: 'Fastify 5',
    listener: async (verifier) => {
      let handler: RequestListener | undefined;
      const app = Fastify({
        serverFactory: (h) => {
          handler = h;
          return createHttpServer(h); // never listens: the test's servers call the handler
        },
      });
      for (const [path, mtls] of Object.entries(ROUTES))
        app.get(path, { preHandler: fastifyAdapter.authGuard({ verifier, mtls }) }, async (r) => body(r.auth));
      await app.ready();
      return handler!;
    },
  },
  {
    name: 'Koa 3',
    listener: async (verifier) => {
      const app = new Koa();
      const guards = new Map(Object.entries(ROUTES).map(([p, mtls]) => [p, koaAdapter.authGuard({ verifier, mtls })]));
      app.use((ctx, next) => {
        const guard = guards.get(ctx.path);
        if (!guard) return next();
        return guard(ctx as never, async () => {
          ctx.body = body(ctx.state.auth as VerifiedToken);
        });
      });
      return app.callback();
    },
  },
  {
    name: 'Hono 4 (@hono/node-server)',
    listener: async (verifier) => {
      const app = new Hono<honoAdapter.AuthEnv>();
      for (const [path, mtls] of Object.entries(ROUTES))
        app.get(path, honoAdapter.authGuard({ verifier, mtls }), (c) => c.json(body(c.get('auth'))));
      return getRequestListener(app.fetch);
    },
  },
  {
    name: 'fetch (certificate passed by the server)',
    listener: async (verifier) => {
      const guards = new Map(
        Object.entries(ROUTES).map(([p, mtls]) => [p, fetchAdapter.authGuard({ verifier, mtls })]),
      );
      return getRequestListener(async (request, env: { incoming: { socket: unknown } }) => {
        const guard = guards.get(new URL(request.url).pathname);
        if (!guard) return new Response(null, { status: 404 });
        // What a Node server knows and a Request does not carry: the connection's certificate.
        const socket = env.incoming.socket as Partial<TLSSocket>;
        const auth = await guard(request, { clientCertificate: socket.getPeerX509Certificate?.() });
        return auth instanceof Response ? auth : Response.json(body(auth));
      });
    },
  },
];

interface RunningApp {
  /** `https://127.0.0.1:<port>`: TLS, a client certificate requested, any accepted. */
  https: string;
  /** `http://127.0.0.1:<port>`: the same app without TLS. */
  http: string;
  /** The TLS-terminating proxy in front of the plain HTTP listener. */
  proxy: CertificateProxy;
  servers: Server[];
}

let ca: TestCa;
let serverCertificate: TestCertificate;
let alice: TestCertificate;
let bob: TestCertificate;
let mallory: TestCertificate; // self-signed, CN=alice: an attacker's own key under alice's name
let idp: EmbeddedIdp;
let verifier: Verifier;
let aliceToken: string;
let unboundToken: string;
const apps = new Map<string, RunningApp>();

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return String((server.address() as AddressInfo).port);
}

beforeAll(async () => {
  ca = await createTestCa();
  [serverCertificate, alice, bob, mallory] = await Promise.all([
    ca.issueServer(),
    ca.issueClient('alice'),
    ca.issueClient('bob'),
    selfSignedClient('alice'),
  ]);
  idp = await startIdp({
    mtls: true,
    clients: [
      {
        client_id: BOUND_CLIENT.clientId,
        client_secret: BOUND_CLIENT.clientSecret,
        grant_types: ['client_credentials'],
        redirect_uris: [],
        response_types: [],
        token_endpoint_auth_method: 'client_secret_basic',
        tls_client_certificate_bound_access_tokens: true,
      },
    ],
  });
  aliceToken = await idp.issueAccessToken({ ...BOUND_CLIENT, certificate: alice.pem });
  unboundToken = await idp.issueAccessToken();
  verifier = createVerifier({ issuer: idp.issuer, audience: idp.audience, clock: testClock(issuedAt(aliceToken)) });
  for (const harness of HARNESSES) {
    const listener = await harness.listener(verifier);
    const tls = createHttpsServer(
      { cert: serverCertificate.pem, key: serverCertificate.keyPem, requestCert: true, rejectUnauthorized: false },
      listener,
    );
    const plain = createHttpServer(listener);
    const [tlsPort, plainPort] = await Promise.all([listen(tls), listen(plain)]);
    const http = `http://127.0.0.1:${plainPort}`;
    const proxy = await startCertificateProxy({ server: serverCertificate, upstream: http, header: 'x-client-cert' });
    apps.set(harness.name, { https: `https://127.0.0.1:${tlsPort}`, http, proxy, servers: [tls, plain] });
  }
}, 30_000);

afterAll(async () => {
  for (const app of apps.values()) {
    await app.proxy.close();
    for (const server of app.servers) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  }
  await verifier?.close();
  await idp?.close();
});

const auth = (token: string) => ({ authorization: `Bearer ${token}` });

function expectRefused(answer: TlsAnswer, description: string): void {
  expect({ status: answer.status, body: answer.body }).toEqual({
    status: 401,
    body: { error: 'invalid_token', error_description: description },
  });
  expect(answer.headers['www-authenticate']).toBe(
    `Bearer realm="api", error="invalid_token", error_description="${description}"`,
  );
}

const MISMATCH = 'The access token is bound to another client certificate';
const REQUIRED = 'The access token is bound to a client certificate, and none was presented';

describe.each(HARNESSES.map((h) => h.name))('%s over TLS', (name) => {
  const app = () => apps.get(name)!;
  const get = (path: string, token: string, options: { certificate?: TestCertificate; headers?: object } = {}) =>
    tlsGet(`${app().https}${path}`, {
      ca: ca.pem,
      certificate: options.certificate,
      headers: { ...auth(token), ...(options.headers as Record<string, string>) },
    });

  it('admits the bound token from the client holding its certificate, again on the cache hit', async () => {
    for (let i = 0; i < 2; i++) {
      expect(await get('/bound', aliceToken, { certificate: alice })).toMatchObject({
        status: 200,
        body: { sub: BOUND_CLIENT.clientId },
      });
    }
  });

  it('refuses it with another certificate of the same CA', async () => {
    expectRefused(await get('/bound', aliceToken, { certificate: bob }), MISMATCH);
  });

  it('refuses it with a self-signed certificate under the same name (an attacker’s own key)', async () => {
    expectRefused(await get('/bound', aliceToken, { certificate: mallory }), MISMATCH);
  });

  it('refuses it over TLS without a client certificate', async () => {
    expectRefused(await get('/bound', aliceToken), REQUIRED);
  });

  it('refuses an unbound token, even from a client with a certificate', async () => {
    expectRefused(
      await get('/bound', unboundToken, { certificate: alice }),
      'The access token is not bound to a client certificate',
    );
  });

  it('ignores a certificate header the client sends itself (no proxy is trusted on /bound)', async () => {
    const forged = {
      'x-client-cert': alice.escapedPem,
      'client-cert': `:${Buffer.from(alice.der).toString('base64')}:`,
    };
    expectRefused(await get('/bound', aliceToken, { headers: forged }), REQUIRED);
    expectRefused(await get('/bound', aliceToken, { certificate: bob, headers: forged }), MISMATCH);
  });

  it('refuses the bound token sent over plain HTTP under the HTTPS Host, with forwarding headers', async () => {
    const response = await fetch(`${app().http}/bound`, {
      headers: {
        ...auth(aliceToken),
        host: 'api.example.com',
        'x-forwarded-proto': 'https',
        'x-forwarded-host': 'api.example.com',
        'x-client-cert': alice.escapedPem,
        'x-forwarded-client-cert': `Hash=${Buffer.from(alice.thumbprint, 'base64url').toString('hex')}`,
      },
    });
    expect(response.status).toBe(401);
    expect(await response.json()).toEqual({ error: 'invalid_token', error_description: REQUIRED });
  });

  it('refuses the bound token where mtls is off (/open): nothing there checks its binding', async () => {
    // Before: admitted as a bearer token, so a stolen certificate-bound token worked on every such route.
    for (const certificate of [undefined, alice]) {
      expectRefused(
        await get('/open', aliceToken, { certificate }),
        'The access token is bound to a client certificate, and this resource does not check client certificates',
      );
    }
    expect(await get('/open', unboundToken, { certificate: alice })).toMatchObject({ status: 200 });
  });

  describe('behind a TLS-terminating proxy (/proxied, certificateHeader)', () => {
    const viaProxy = (token: string, options: { certificate?: TestCertificate; headers?: object } = {}) =>
      tlsGet(`${app().proxy.url}/proxied`, {
        ca: ca.pem,
        certificate: options.certificate,
        headers: { ...auth(token), ...(options.headers as Record<string, string>) },
      });

    it('admits the bound token from the client whose certificate the proxy forwards', async () => {
      expect(await viaProxy(aliceToken, { certificate: alice })).toMatchObject({
        status: 200,
        body: { sub: BOUND_CLIENT.clientId },
      });
    });

    it('refuses another certificate, and none', async () => {
      expectRefused(await viaProxy(aliceToken, { certificate: bob }), MISMATCH);
      expectRefused(await viaProxy(aliceToken), REQUIRED);
    });

    it('gets nothing from a header the client sends: the proxy overwrites it', async () => {
      const forged = { 'x-client-cert': alice.escapedPem };
      expectRefused(await viaProxy(aliceToken, { certificate: bob, headers: forged }), MISMATCH);
      expectRefused(await viaProxy(aliceToken, { headers: forged }), REQUIRED);
    });

    it('ignores the certificate of the connection: only the proxy’s header counts', async () => {
      expectRefused(await get('/proxied', aliceToken, { certificate: alice }), REQUIRED);
    });

    it('refuses a malformed header (a misconfigured proxy) with 401, never a 500', async () => {
      const broken = { 'x-client-cert': alice.escapedPem.slice(0, 200) };
      expectRefused(await get('/proxied', aliceToken, { headers: broken }), 'The client certificate could not be read');
    });
  });
});

describe('revocation of a bound token', () => {
  it('is refused on what was a cache hit, in every adapter, with the right certificate', async () => {
    const token = await idp.issueAccessToken({ ...BOUND_CLIENT, certificate: alice.pem });
    for (const [name, app] of apps) {
      const answer = await tlsGet(`${app.https}/bound`, { ca: ca.pem, certificate: alice, headers: auth(token) });
      expect({ name, status: answer.status }).toEqual({ name, status: 200 });
    }
    expect(verifier.peek(token)).toBeDefined(); // cached: the next requests would be hits
    await verifier.invalidate(token);
    for (const [name, app] of apps) {
      const answer = await tlsGet(`${app.https}/bound`, { ca: ca.pem, certificate: alice, headers: auth(token) });
      expect({ name, status: answer.status, body: answer.body }).toEqual({
        name,
        status: 401,
        body: { error: 'invalid_token', error_description: 'The access token has been revoked' },
      });
    }
  });
});

describe('the certificate of a connection (Express)', () => {
  async function serveBound(tls: { maxVersion?: 'TLSv1.2' }) {
    const app = express();
    app.get('/bound', authGuard({ verifier, mtls: true }), (req, res) => res.json(body(req.auth)));
    app.use(authErrorHandler());
    const server = createHttpsServer(
      {
        cert: serverCertificate.pem,
        key: serverCertificate.keyPem,
        requestCert: true,
        rejectUnauthorized: false,
        ...tls,
      },
      app,
    );
    const url = `https://127.0.0.1:${await listen(server)}/bound`;
    let connections = 0;
    server.on('secureConnection', () => connections++);
    return {
      url,
      connections: () => connections,
      close: async () => {
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      },
    };
  }

  it('is read per request on TLS 1.2 (renegotiation could change it), and checked the same', async () => {
    const app = await serveBound({ maxVersion: 'TLSv1.2' });
    try {
      expect((await tlsGet(app.url, { ca: ca.pem, certificate: alice, headers: auth(aliceToken) })).status).toBe(200);
      expectRefused(await tlsGet(app.url, { ca: ca.pem, certificate: bob, headers: auth(aliceToken) }), MISMATCH);
      expectRefused(await tlsGet(app.url, { ca: ca.pem, headers: auth(aliceToken) }), REQUIRED);
    } finally {
      await app.close();
    }
  });

  it('stays with its connection: kept-alive connections of alice and bob never borrow each other’s', async () => {
    const app = await serveBound({});
    const agents = [alice, bob].map(
      (c) => new Agent({ keepAlive: true, maxSockets: 1, ca: ca.pem, cert: c.pem, key: c.keyPem }),
    );
    const call = (agent: InstanceType<typeof Agent>) =>
      new Promise<number>((resolve, reject) => {
        httpsRequest(app.url, { agent, headers: auth(aliceToken) }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        })
          .on('error', reject)
          .end();
      });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 3; i++) statuses.push(await call(agents[0]!), await call(agents[1]!));
      expect(statuses).toEqual([200, 401, 200, 401, 200, 401]);
      expect(app.connections()).toBe(2); // one per client, each reused
    } finally {
      for (const agent of agents) agent.destroy();
      await app.close();
    }
  });
});
