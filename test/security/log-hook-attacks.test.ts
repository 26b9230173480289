/**
 * Attacks on the `logger` option: what a client can make the verifier write, how often, and what a
 * hostile or broken logger can do to requests. The IdP is the embedded oidc-provider for signed
 * tokens, and tiny local servers for the introspection endpoint an attacker's tokens reach.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import {
  createVerifier,
  type MultiIssuerOptions,
  type VerifierLogDetails,
  type VerifierLogger,
  type VerifierOptions,
} from '../../src/index.js';
import { sendJson, type StubServer, startStubServer } from '../support/http.js';
import { type EmbeddedIdp, startIdp, testClock } from '../support/idp.js';
import { closedLater, closeVerifiers } from '../support/verifier-for.js';

interface Line {
  level: string;
  message: string;
  details: VerifierLogDetails;
}
const recorder = () => {
  const lines: Line[] = [];
  const logger: VerifierLogger = {
    warn: (message, details) => lines.push({ level: 'warn', message, details }),
    error: (message, details) => lines.push({ level: 'error', message, details }),
    debug: (message, details) => lines.push({ level: 'debug', message, details }),
  };
  return { lines, logger };
};
const make = (options: VerifierOptions | MultiIssuerOptions) => closedLater(createVerifier(options as VerifierOptions));
const outcome = (promise: Promise<unknown>) =>
  promise.then(
    () => 'accepted',
    (error: { reason?: string; status?: number }) => `${error.status} ${error.reason}`,
  );

let idp: EmbeddedIdp;
const servers: StubServer[] = [];
beforeAll(async () => {
  idp = await startIdp();
}, 30_000);
afterEach(async () => {
  await closeVerifiers();
  for (const server of servers.splice(0)) await server.close();
});
afterAll(() => idp.close());

const CLIENT_SECRET = 'introspection-secret-of-the-api-0123';

/**
 * An introspection endpoint that refuses each request with a 400 whose description differs every
 * time (a per-request trace id, as Azure AD's AADSTS messages carry) and echoes what it was sent:
 * the token raw, form-encoded, and the whole request body and Authorization header in base64.
 */
async function echoingIntrospection(): Promise<StubServer> {
  let trace = 0;
  const server = await startStubServer((req, res, body) => {
    const token = new URLSearchParams(body).get('token') ?? '';
    trace += 1;
    sendJson(res, 400, {
      error: 'invalid_request',
      error_description:
        `Trace ID: ${trace.toString(16).padStart(8, '0')}-${Date.now()}; token ${token} ` +
        `(${encodeURIComponent(token)}); body ${Buffer.from(body).toString('base64')}; ` +
        `auth ${req.headers.authorization ?? ''}`,
    });
  });
  servers.push(server);
  return server;
}

describe('an IdP answer that differs per request', () => {
  // The log tells each problem once; the IdP's own words are shown, but must not make every
  // request a new problem: a client sending made-up opaque tokens would get one line each.
  it('introspection answering 400 with a per-request trace id: one line for a flood, no token, no secret', async () => {
    const endpoint = await echoingIntrospection();
    const { lines, logger } = recorder();
    const verifier = make({
      issuer: idp.issuer,
      audience: idp.audience,
      introspection: { clientId: 'api', clientSecret: CLIENT_SECRET, endpoint: `${endpoint.url}/introspect` },
      logger,
    });
    const tokens = Array.from({ length: 20 }, (_, i) => `attacker-opaque-${i}-${'x'.repeat(24)}`);
    for (const token of tokens) expect(await outcome(verifier.verify(token))).toBe('503 idp_unavailable');
    expect(endpoint.requests).toHaveLength(20); // a 4xx is about one request: no backoff, each one asked
    const told = lines.filter((line) => line.level !== 'debug');
    expect(told.map((line) => [line.level, line.details.kind])).toEqual([['warn', 'idp_unavailable']]);
    // The IdP's words of the first answer are shown (they help), scrubbed of what we sent.
    expect(told[0]!.message).toContain('introspection endpoint answered 400 (invalid_request: Trace ID: 00000001-');
    for (const line of lines) {
      expect(line.message).not.toContain(CLIENT_SECRET);
      expect(line.message).not.toContain(Buffer.from(`api:${CLIENT_SECRET}`).toString('base64'));
      for (const token of tokens) expect(line.message).not.toContain(token);
    }
  });
});

describe('secrets in URLs and in IdP answers', () => {
  // Operators put API keys in URLs (userinfo, a query), and IdPs echo requests in any answer: a
  // line names an endpoint by origin and path only, and tells an answer's content never.
  it('credentials and a query in the URLs we call, an IdP echoing our request: in no line', async () => {
    const clock = testClock(Date.now());
    const QUERY_SECRET = 'query-api-key-0123456789';
    const PASSWORD = 'url-password-0123456789';
    let introspectionAnswer: 'status' | 'echo' = 'status';
    const idpStub = await startStubServer((req, res, body) => {
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      if (path === '/.well-known/openid-configuration')
        return sendJson(res, 200, { issuer: idpStub.url, jwks_uri: `${idpStub.url}/keys?key=${QUERY_SECRET}` });
      if (path === '/introspect' && introspectionAnswer === 'echo') {
        res.writeHead(200, { 'content-type': 'application/json' });
        return void res.end(`not json: ${body}`); // the request, token and all
      }
      sendJson(res, 503, { error: 'temporarily_unavailable', error_description: `you sent ${req.url}` });
    });
    servers.push(idpStub);
    const { lines, logger } = recorder();
    const withCredentials = idpStub.url.replace('://', `://operator:${PASSWORD}@`);
    const verifiers = [
      make({
        issuer: idp.issuer,
        audience: idp.audience,
        jwksUri: `${withCredentials}/keys?key=${QUERY_SECRET}`,
        logger,
      }),
      make({ issuer: idpStub.url, audience: 'api', logger }),
      make({
        issuer: idp.issuer,
        audience: idp.audience,
        clock,
        introspection: {
          clientId: 'api',
          clientSecret: CLIENT_SECRET,
          endpoint: `${idpStub.url}/introspect?key=${QUERY_SECRET}`,
        },
        logger,
      }),
    ];
    const jwt = await idp.issueAccessToken({ scope: 'notes:read' });
    const [configured, discovered, introspecting] = verifiers;
    expect(await outcome(configured!.verify(jwt))).toBe('503 idp_unavailable');
    expect(await outcome(discovered!.verify(jwt))).toBe('503 idp_unavailable');
    const opaque = `opaque-secret-token-${'z'.repeat(30)}`;
    expect(await outcome(introspecting!.verify(opaque))).toBe('503 idp_unavailable');
    introspectionAnswer = 'echo';
    clock.advance(60_000); // past the backoff: the endpoint answers 200 with an echo that is no JSON
    expect(await outcome(introspecting!.verify(`${opaque}-2`))).toBe('503 idp_unavailable');
    const told = lines.filter((line) => line.level !== 'debug');
    expect(told).toHaveLength(4);
    for (const line of told) {
      for (const secret of [QUERY_SECRET, PASSWORD, CLIENT_SECRET, opaque, jwt, 'key=', 'operator'])
        expect(line.message).not.toContain(secret);
    }
  });
});

describe('what a client chooses in a token', () => {
  // kid, iss and alg are the attacker's to choose: none of them may make a new problem (a line, an
  // entry in the log's memory). Two issuers whose JWKS cannot be had, one shared logger.
  it('random kids, random issuers, several issuers with unreachable keys: one line per issuer', async () => {
    const down = await startStubServer((_req, res) => sendJson(res, 503, { error: 'temporarily_unavailable' }));
    servers.push(down);
    const { lines, logger } = recorder();
    const issuers = ['https://a.example/', 'https://b.example/'];
    const verifier = make({
      issuers: issuers.map((issuer, i) => ({ issuer, audience: 'api', jwksUri: `${down.url}/keys-${i}` })),
      logger,
    });
    const unsigned = (header: object, payload: object) =>
      `${Buffer.from(JSON.stringify(header)).toString('base64url')}.` +
      `${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${'A'.repeat(342)}`;
    for (let i = 0; i < 40; i++) {
      const kid = i % 3 === 0 ? { kid: `kid-${i}-${Math.random()}` } : i % 3 === 1 ? { kid: i } : {};
      const iss = i % 4 === 3 ? `https://random-${i}.example/` : issuers[i % 2]!;
      await outcome(verifier.verify(unsigned({ alg: 'RS256', ...kid }, { iss, aud: 'api', sub: 'x' })));
    }
    const told = lines.filter((line) => line.level !== 'debug');
    expect(told.map((line) => [line.details.kind, line.details.issuer]).sort()).toEqual([
      ['idp_unavailable', issuers[0]],
      ['idp_unavailable', issuers[1]],
    ]);
    for (const line of told) expect(line.message).not.toMatch(/kid-|random-/);
  });
});

describe('a hostile or broken logger', () => {
  // Each of these is a logger an application might pass: none may change an answer, and none may
  // crash the process (an unhandled rejection ends a Node process by default).
  it('async and rejecting, throwing, throwing from a getter: answers as without a logger, no unhandled rejection', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const endpoint = await echoingIntrospection();
      const sink = { writes: 0, reads: 0 };
      const loggers: Array<VerifierLogger | false> = [
        false,
        {
          warn: async () => {
            sink.writes += 1;
            throw new Error('log sink down');
          },
          error: () => Promise.reject(new Error('log sink down')),
        },
        {
          warn: () => {
            throw new Error('sync throw');
          },
        },
        new (class {
          get warn(): () => void {
            sink.reads += 1;
            if (sink.reads > 1) throw new Error('getter throws after construction');
            return () => undefined;
          }
        })(),
      ];
      const answers: string[][] = [];
      for (const logger of loggers) {
        const verifier = make({
          issuer: idp.issuer,
          audience: idp.audience,
          introspection: { clientId: 'api', clientSecret: CLIENT_SECRET, endpoint: `${endpoint.url}/introspect` },
          logger,
        });
        const got: string[] = [];
        for (let i = 0; i < 3; i++) got.push(await outcome(verifier.verify(`opaque-${i}-${'y'.repeat(20)}`)));
        got.push(await outcome(verifier.verify(await idp.issueAccessToken({ scope: 'notes:read' }))));
        answers.push(got);
      }
      // Unhandled rejections are reported on a later turn of the event loop.
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect([sink.writes, sink.reads]).toEqual([1, 2]); // each told once (the getter read once more, at construction)
      for (const got of answers) expect(got).toEqual(answers[0]);
      expect(answers[0]).toEqual(['503 idp_unavailable', '503 idp_unavailable', '503 idp_unavailable', 'accepted']);
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});
