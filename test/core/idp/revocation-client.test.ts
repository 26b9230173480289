/**
 * The RFC 7009 revocation client on its own: the exact requests it sends for each client
 * authentication method and body format (RFC 7009 form, Auth0 JSON, Authing/GenAuth), and how it
 * reads every kind of answer an IdP can give. Requests go to a tiny local server that records
 * them; nothing here needs a real IdP.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  basicCredentials,
  buildRevocationRequest,
  processRevocationResponse,
  revokeAtIdp,
  RevocationError,
  type RevocationClientConfig,
  type RevocationRequestInput,
} from '../../../src/core/idp/revocation-client.js';
import { createVerifier } from '../../../src/index.js';
import { sendJson, startStubServer, type StubServer } from '../../support/http.js';
import { b64, basicEnc, receivedCredentials, spellings } from '../../support/spellings.js';

/** Looks like a JWT, so a leak into a message would be easy to spot. */
const TOKEN =
  'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSIsImp0aSI6InNlY3JldC10b2tlbiJ9.c2lnbmF0dXJlLXRoYXQtbXVzdC1ub3QtbGVhaw';

const stubs: StubServer[] = [];
afterEach(async () => {
  await Promise.all(stubs.splice(0).map((s) => s.close()));
});

type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void | Promise<void>;

async function stub(handler: Handler = (_req, res) => void res.end()): Promise<StubServer> {
  const server = await startStubServer(handler);
  stubs.push(server);
  return server;
}

function config(overrides: Partial<RevocationClientConfig> = {}): RevocationClientConfig {
  return {
    clientId: 'resource-server',
    clientSecret: 'resource-server-secret',
    authMethod: 'client_secret_basic',
    bodyFormat: 'form',
    timeoutMs: 2_000,
    ...overrides,
  };
}

function revoke(
  server: StubServer | string,
  overrides: Partial<RevocationClientConfig> = {},
  input: Partial<RevocationRequestInput> = {},
  path = '/revoke',
) {
  const base = typeof server === 'string' ? server : server.url;
  return revokeAtIdp(
    new URL(`${base}${path}`),
    config(overrides),
    { token: TOKEN, ...input },
    { fetch: globalThis.fetch },
  );
}

/** Awaits a rejection and checks it is a RevocationError that does not carry the token. */
async function revocationError(promise: Promise<unknown>): Promise<RevocationError> {
  const error = await promise.then(
    (value) => {
      throw new Error(`expected a RevocationError, got ${JSON.stringify(value)}`);
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(RevocationError);
  expectNoToken(error as RevocationError);
  return error as RevocationError;
}

function expectNoToken(error: RevocationError): void {
  expect(error.message).not.toContain(TOKEN);
  expect(String(error)).not.toContain(TOKEN);
  expect(error.errorDescription ?? '').not.toContain(TOKEN);
}

const form = (body: string) => Object.fromEntries(new URLSearchParams(body));
const decodeBasic = (header: string | undefined) => {
  expect(header).toMatch(/^Basic [A-Za-z0-9+/]+=*$/);
  const [id, secret] = Buffer.from(header!.slice('Basic '.length), 'base64').toString('utf8').split(':');
  return {
    raw: `${id}:${secret}`,
    id: decodeURIComponent(id!.replace(/\+/g, ' ')),
    secret: decodeURIComponent(secret!.replace(/\+/g, ' ')),
  };
};

/** A stub answer. */
const answer =
  (status: number, body = '', headers: Record<string, string | number> = {}): Handler =>
  (_req, res) => {
    res.writeHead(status, headers);
    res.end(body);
  };
const oauthError =
  (status: number, error: string, description?: string, headers: Record<string, string> = {}): Handler =>
  (_req, res) =>
    sendJson(res, status, { error, ...(description ? { error_description: description } : {}) }, headers);

// ---------------------------------------------------------------------------------------------

describe('request shapes', () => {
  it('client_secret_basic: id and secret form-urlencoded before base64, token and hint in a form body', async () => {
    const server = await stub();
    const result = await revoke(
      server,
      { clientId: 'my client:1', clientSecret: 's3cr&t+/=', authMethod: 'client_secret_basic' },
      { tokenTypeHint: 'refresh_token' },
    );
    expect(result).toBe('revoked');
    expect(server.requests).toHaveLength(1);
    const [request] = server.requests;
    expect(request).toMatchObject({ method: 'POST', url: '/revoke' });
    expect(request!.headers['content-type']).toBe('application/x-www-form-urlencoded');
    // RFC 6749 §2.3.1 / Appendix B: space becomes '+', every reserved character is percent-encoded.
    const basic = decodeBasic(request!.headers.authorization);
    expect(basic.raw).toBe('my+client%3A1:s3cr%26t%2B%2F%3D');
    expect(basic).toMatchObject({ id: 'my client:1', secret: 's3cr&t+/=' });
    expect(request!.headers.authorization).toBe(
      `Basic ${Buffer.from('my+client%3A1:s3cr%26t%2B%2F%3D').toString('base64')}`,
    );
    expect(form(request!.body)).toEqual({ token: TOKEN, token_type_hint: 'refresh_token' });
    expect(request!.body).not.toMatch(/client_id|client_secret/);
  });

  it('basicCredentials encodes exactly as RFC 6749 Appendix B asks', () => {
    expect(basicCredentials('my client:1', 's3cr&t+/=')).toBe(
      `Basic ${Buffer.from('my+client%3A1:s3cr%26t%2B%2F%3D').toString('base64')}`,
    );
    expect(basicCredentials('plain', 'secret')).toBe(`Basic ${Buffer.from('plain:secret').toString('base64')}`);
  });

  it('omits token_type_hint when none is given', async () => {
    const server = await stub();
    await revoke(server);
    expect(form(server.requests[0]!.body)).toEqual({ token: TOKEN });
  });

  it('client_secret_post: client_id and client_secret in the form body, no Authorization header', async () => {
    const server = await stub();
    await expect(
      revoke(
        server,
        { clientId: 'my client:1', clientSecret: 's3cr&t+/=', authMethod: 'client_secret_post' },
        { tokenTypeHint: 'access_token' },
      ),
    ).resolves.toBe('revoked');
    const [request] = server.requests;
    expect(request!.headers.authorization).toBeUndefined();
    expect(request!.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(form(request!.body)).toEqual({
      token: TOKEN,
      token_type_hint: 'access_token',
      client_id: 'my client:1',
      client_secret: 's3cr&t+/=',
    });
  });

  it('none: client_id only, no secret and no Authorization header', async () => {
    const server = await stub();
    await revoke(server, { clientId: 'spa', clientSecret: undefined, authMethod: 'none' });
    const [request] = server.requests;
    expect(request!.headers.authorization).toBeUndefined();
    expect(form(request!.body)).toEqual({ token: TOKEN, client_id: 'spa' });
  });

  it("none without a configured clientId uses the token's own client (fallbackClientId)", async () => {
    const server = await stub();
    await revoke(
      server,
      { clientId: undefined, clientSecret: undefined, authMethod: 'none' },
      { fallbackClientId: 'token-client' },
    );
    expect(form(server.requests[0]!.body)).toEqual({ token: TOKEN, client_id: 'token-client' });
    expect(server.requests[0]!.headers.authorization).toBeUndefined();
  });

  it('a configured clientId wins over the fallback', async () => {
    const server = await stub();
    await revoke(
      server,
      { clientId: 'configured', clientSecret: undefined, authMethod: 'none' },
      { fallbackClientId: 'token-client' },
    );
    expect(form(server.requests[0]!.body).client_id).toBe('configured');
  });

  it('none with neither clientId nor fallback: a permanent RevocationError, and no request is sent', async () => {
    const server = await stub();
    const cfg = config({ clientId: undefined, clientSecret: undefined, authMethod: 'none' });
    expect(() => buildRevocationRequest(cfg, { token: TOKEN })).toThrow(RevocationError);
    const error = await revocationError(
      revoke(server, { clientId: undefined, clientSecret: undefined, authMethod: 'none' }),
    );
    expect(error.transient).toBe(false);
    expect(error.message).toMatch(/client_id/);
    expect(server.requests).toHaveLength(0);
  });

  it('Auth0 /oauth/revoke: JSON body {token, client_id, client_secret} with client_secret_post', async () => {
    const server = await stub(answer(200)); // Auth0: "HTTP/1.1 200 OK (empty-response-body)"
    await expect(
      revoke(
        server,
        {
          clientId: 'auth0-client-id',
          clientSecret: 'YOUR_CLIENT_SECRET',
          authMethod: 'client_secret_post',
          bodyFormat: 'json',
        },
        {},
        '/oauth/revoke',
      ),
    ).resolves.toBe('revoked');
    const [request] = server.requests;
    expect(request).toMatchObject({ method: 'POST', url: '/oauth/revoke' });
    expect(request!.headers['content-type']).toBe('application/json');
    expect(request!.headers.authorization).toBeUndefined();
    expect(JSON.parse(request!.body)).toEqual({
      token: TOKEN,
      client_id: 'auth0-client-id',
      client_secret: 'YOUR_CLIENT_SECRET',
    });
  });

  it('JSON body with client_secret_basic keeps the credentials in the header', async () => {
    const server = await stub();
    await revoke(server, { bodyFormat: 'json' }, { tokenTypeHint: 'refresh_token' });
    const [request] = server.requests;
    expect(request!.headers['content-type']).toBe('application/json');
    expect(decodeBasic(request!.headers.authorization)).toMatchObject({
      id: 'resource-server',
      secret: 'resource-server-secret',
    });
    expect(JSON.parse(request!.body)).toEqual({ token: TOKEN, token_type_hint: 'refresh_token' });
  });

  it('Authing/GenAuth: POST {appHost}/oidc/token/revocation, form token + client_id + client_secret; 200 empty body is revoked', async () => {
    const server = await stub(answer(200));
    await expect(
      revoke(
        server,
        { clientId: 'AUTHING_APP_ID', clientSecret: 'AUTHING_APP_SECRET', authMethod: 'client_secret_post' },
        {},
        '/oidc/token/revocation',
      ),
    ).resolves.toBe('revoked');
    const [request] = server.requests;
    expect(request).toMatchObject({ method: 'POST', url: '/oidc/token/revocation' });
    expect(request!.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(request!.headers.authorization).toBeUndefined();
    expect(form(request!.body)).toEqual({
      token: TOKEN,
      client_id: 'AUTHING_APP_ID',
      client_secret: 'AUTHING_APP_SECRET',
    });
  });

  it('asks for JSON answers', () => {
    const init = buildRevocationRequest(config(), { token: TOKEN });
    expect(init.method).toBe('POST');
    expect((init.headers as Record<string, string>).accept).toBe('application/json');
  });
});

// ---------------------------------------------------------------------------------------------

describe('processRevocationResponse', () => {
  const result = (status: number, text = '', headers: Record<string, string> = {}) => ({
    status,
    headers: new Headers(headers),
    text,
  });
  const thrown = (fn: () => unknown): RevocationError => {
    try {
      fn();
    } catch (error) {
      expect(error).toBeInstanceOf(RevocationError);
      expectNoToken(error as RevocationError);
      return error as RevocationError;
    }
    throw new Error('expected a RevocationError');
  };

  it.each([
    ['an empty 200', result(200)],
    ['a 200 with JSON', result(200, '{"ok":true}', { 'content-type': 'application/json' })],
    ['a 200 with `true` (Authing SDK shape)', result(200, 'true')],
    ['a 200 with HTML', result(200, '<html>ok</html>', { 'content-type': 'text/html' })],
    ['a 200 with garbage', result(200, '\u0000\u0001not json{')],
    ['a 204', result(204)],
  ])('%s is revoked', (_name, answer) => {
    expect(processRevocationResponse(answer)).toBe('revoked');
  });

  it('400 unsupported_token_type is not_revocable (RFC 7009 §2.2.1)', () => {
    expect(processRevocationResponse(result(400, '{"error":"unsupported_token_type"}'))).toBe('not_revocable');
  });

  it('400 invalid_request is permanent and keeps error and description', () => {
    const error = thrown(() =>
      processRevocationResponse(result(400, '{"error":"invalid_request","error_description":"missing token"}')),
    );
    expect(error).toMatchObject({
      transient: false,
      status: 400,
      error: 'invalid_request',
      errorDescription: 'missing token',
    });
    expect(error.message).toContain('invalid_request');
  });

  it('401 invalid_client is permanent and points at the client credentials', () => {
    const error = thrown(() => processRevocationResponse(result(401, '{"error":"invalid_client"}')));
    expect(error).toMatchObject({ transient: false, status: 401, error: 'invalid_client' });
    expect(error.message).toMatch(/client credentials/);
  });

  it('503 with Retry-After is transient and carries retryAfter', () => {
    const error = thrown(() => processRevocationResponse(result(503, '', { 'retry-after': '7' })));
    expect(error).toMatchObject({ transient: true, status: 503, retryAfter: 7 });
  });

  it('429 is transient', () => {
    expect(thrown(() => processRevocationResponse(result(429, '{"error":"slow_down"}')))).toMatchObject({
      transient: true,
      status: 429,
    });
  });

  it('clips absurdly long error fields', () => {
    const error = thrown(() =>
      processRevocationResponse(
        result(400, JSON.stringify({ error: 'e'.repeat(5000), error_description: 'd'.repeat(5000) })),
      ),
    );
    expect(error.error!.length).toBeLessThanOrEqual(100);
    expect(error.errorDescription!.length).toBeLessThanOrEqual(300);
  });
});

// ---------------------------------------------------------------------------------------------

describe('answers over HTTP (revokeAtIdp)', () => {
  it.each<[string, Handler]>([
    ['200 with an empty body', answer(200)],
    ['200 with a JSON body', answer(200, '{"revoked":true}', { 'content-type': 'application/json' })],
    ['200 with a non-JSON body', answer(200, 'OK, done!', { 'content-type': 'text/plain' })],
    ['200 with an HTML body', answer(200, '<!doctype html><p>bye</p>', { 'content-type': 'text/html' })],
  ])('%s → revoked', async (_name, handler) => {
    await expect(revoke(await stub(handler))).resolves.toBe('revoked');
  });

  it('400 unsupported_token_type → not_revocable', async () => {
    await expect(revoke(await stub(oauthError(400, 'unsupported_token_type')))).resolves.toBe('not_revocable');
  });

  it('400 invalid_request → permanent RevocationError with the error field', async () => {
    const error = await revocationError(revoke(await stub(oauthError(400, 'invalid_request', 'token is required'))));
    expect(error).toMatchObject({
      transient: false,
      status: 400,
      error: 'invalid_request',
      errorDescription: 'token is required',
    });
  });

  it('401 invalid_client → permanent, the message mentions client credentials', async () => {
    const error = await revocationError(
      revoke(
        await stub(
          oauthError(401, 'invalid_client', 'client authentication failed', {
            'www-authenticate': 'Basic realm="idp"',
          }),
        ),
      ),
    );
    expect(error).toMatchObject({ transient: false, status: 401, error: 'invalid_client' });
    expect(error.message).toMatch(/client credentials/);
    expect(error.message).toMatch(/clientId|clientSecret|authMethod/);
  });

  it('401 without a body is still about client credentials', async () => {
    const error = await revocationError(revoke(await stub(answer(401))));
    expect(error).toMatchObject({ transient: false, status: 401 });
    expect(error.message).toMatch(/client credentials/);
  });

  it('503 with Retry-After: 7 → transient, retryAfter 7', async () => {
    const error = await revocationError(revoke(await stub(answer(503, '', { 'retry-after': '7' }))));
    expect(error).toMatchObject({ transient: true, status: 503, retryAfter: 7 });
  });

  it('500 with an HTML body → transient', async () => {
    const error = await revocationError(
      revoke(
        await stub(
          answer(500, '<html><body><h1>Internal Server Error</h1></body></html>', { 'content-type': 'text/html' }),
        ),
      ),
    );
    expect(error).toMatchObject({ transient: true, status: 500, error: undefined });
  });

  it('429 → transient', async () => {
    const error = await revocationError(
      revoke(await stub(oauthError(429, 'too_many_requests', undefined, { 'retry-after': '2' }))),
    );
    expect(error).toMatchObject({ transient: true, status: 429, retryAfter: 2 });
  });

  it('a timeout (the IdP never answers) → transient, within the configured 200 ms', async () => {
    const server = await stub(() => undefined);
    const started = Date.now();
    const error = await revocationError(revoke(server, { timeoutMs: 200 }));
    expect(error.transient).toBe(true);
    expect(error.message).toMatch(/did not answer within 200 ms/);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(server.requests).toHaveLength(1);
  });

  it('connection refused (a closed port) → transient', async () => {
    const server = await startStubServer(() => undefined);
    await server.close();
    const error = await revocationError(revoke(server.url));
    expect(error.transient).toBe(true);
    expect(error.message).toMatch(/could not reach/);
  });

  it('a 302 redirect → permanent, and the redirect target is never asked', async () => {
    const server = await stub((req, res) => {
      if (req.url === '/revoke') {
        res.writeHead(302, { location: '/elsewhere' });
        res.end();
      } else res.end();
    });
    const error = await revocationError(revoke(server));
    expect(error.transient).toBe(false);
    expect(error.message).toMatch(/redirect \(302\)/);
    expect(server.requests.map((r) => r.url)).toEqual(['/revoke']);
  });

  it.each<[string, Handler]>([
    ['a 500 with Content-Length over 64 KiB', answer(500, 'x'.repeat(100 * 1024), { 'content-length': 100 * 1024 })],
    [
      'a chunked 500 over 64 KiB',
      (_req, res) => {
        res.writeHead(500, { 'content-type': 'text/html' });
        for (let i = 0; i < 10; i++) res.write('<p>'.padEnd(16 * 1024, 'x'));
        res.end();
      },
    ],
    [
      'a 400 JSON error over 64 KiB',
      (_req, res) => sendJson(res, 400, { error: 'invalid_request', error_description: 'd'.repeat(100 * 1024) }),
    ],
  ])('%s → a clean RevocationError, no crash', async (_name, handler) => {
    const error = await revocationError(revoke(await stub(handler)));
    expect(error.message).toMatch(/HTTP \d{3}/); // judged by its status, the oversized body ignored
    expect(error.message.length).toBeLessThan(500);
  });

  // Regression test for a fixed bug (src/core/revocation-client.ts, revokeAtIdp catch block, ~lines 118-124): an oversized
  // body makes sendRequest throw HttpRequestError('too_large', { status }) and revokeAtIdp turns
  // every such failure into a *transient* error without a status. RFC 7009 §2.2 says the body of
  // a 200 is ignored, so a 200 with a big body is a confirmed revocation; today it is queued and
  // re-sent until the token expires (7 days for opaque tokens). Should classify by the status.
  it('a 200 with a body over 64 KiB is still revoked (RFC 7009: the body is ignored)', async () => {
    await expect(revoke(await stub(answer(200, 'x'.repeat(100 * 1024))))).resolves.toBe('revoked');
  });

  // Same spot: a 401 invalid_client with a huge body becomes transient (status undefined), so the
  // outbox retries a request the IdP refused for good. Should stay permanent with status 401.
  it('a 401 with a body over 64 KiB is still a permanent error with its status', async () => {
    const error = await revocationError(
      revoke(
        await stub((_req, res) =>
          sendJson(res, 401, { error: 'invalid_client', error_description: 'd'.repeat(100 * 1024) }),
        ),
      ),
    );
    expect(error).toMatchObject({ transient: false, status: 401 });
  });

  // The IdP is not ours: some echo the submitted parameters back in error_description. That text
  // ends up in RevocationError.message / errorDescription, which the outbox keeps as `lastError`
  // and exposes through verifier.stats().revocation.outbox.lastError (and callers log it).
  // Regression test for a fixed bug (src/core/revocation-client.ts, processRevocationResponse, the `what` string and
  // `errorDescription`, ~lines 89-103): the IdP's description is copied verbatim, so the token
  // lands in the message. It should be redacted (e.g. replace occurrences of the token) or left out.
  it('never puts the token into the message, even when the IdP echoes it in error_description', async () => {
    const server = await stub((_req, res, body) =>
      sendJson(res, 400, {
        error: 'invalid_request',
        error_description: `bad token ${form(body).token ?? ''}`.slice(0, 250),
      }),
    );
    await revocationError(revoke(server));
  });

  it('keeps the token out of every error message (all failure kinds above)', async () => {
    const handlers: Handler[] = [
      oauthError(400, 'invalid_request'),
      oauthError(401, 'invalid_client'),
      answer(503, '', { 'retry-after': '7' }),
      answer(500, '<html>err</html>'),
      answer(429),
      (_req, res) => {
        res.writeHead(302, { location: `/x?token=${TOKEN}` });
        res.end();
      },
    ];
    for (const handler of handlers) {
      const error = await revocationError(revoke(await stub(handler)));
      expect(JSON.stringify({ ...error, message: error.message })).not.toContain(TOKEN);
    }
    await revocationError(revoke(await stub(() => undefined), { timeoutMs: 100 }));
  });
});

// An IdP that echoes what it received, in the spellings real ones use: the raw body, form- and
// percent-encoded copies, base64/base64url of the token, the body or the Authorization header.
describe('IdP echoes: no encoding of the token or of our credentials survives (revocation)', () => {
  /** An opaque token and a secret whose encodings all differ from the raw string. */
  const OPAQUE = 'Op4que+Tok/en~with=chars.and-more_0123456789+/abcdefghijKLMNOP';
  const SECRET = 's3cr&t +/=~ü-resource-server';
  type Echo = (req: IncomingMessage, body: string) => string;
  const echoes: Array<[string, Echo]> = [
    ['the raw form body', (_req, body) => body],
    ['the token, decoded', (_req, body) => form(body).token ?? ''],
    ['the token, encodeURIComponent', (_req, body) => encodeURIComponent(form(body).token ?? '')],
    ['the token, base64', (_req, body) => b64(form(body).token ?? '')],
    ['the token, base64url', (_req, body) => b64(form(body).token ?? '', true)],
    ['the body, base64', (_req, body) => b64(body)],
    ['the body, lower-case percent escapes', (_req, body) => body.replace(/%[0-9A-F]{2}/g, (h) => h.toLowerCase())],
    ['the client_secret, decoded', (_req, body) => form(body).client_secret ?? 'none'],
    ['the Authorization header', (req) => req.headers.authorization ?? 'none'],
    [
      'the Authorization header, decoded',
      (req) => Buffer.from((req.headers.authorization ?? '').slice(6), 'base64').toString('utf8'),
    ],
    ['every header, as JSON', (req) => JSON.stringify(req.headers)],
  ];

  it.each(
    echoes.flatMap(([name, echo]) =>
      (['client_secret_basic', 'client_secret_post'] as const).map((method) => [name, method, echo] as const),
    ),
  )(
    'echo of %s (%s) in error_description: scrubbed from message and errorDescription',
    async (_name, authMethod, echo) => {
      for (const status of [400, 503]) {
        const server = await stub((req, res, body) =>
          sendJson(res, status, { error: 'invalid_request', error_description: `got ${echo(req, body)}` }),
        );
        const error = await revocationError(revoke(server, { authMethod, clientSecret: SECRET }, { token: OPAQUE }));
        const text = JSON.stringify({
          message: error.message,
          errorDescription: error.errorDescription,
          error: error.error,
          string: String(error),
        });
        expect(text).toContain('got ');
        for (const forbidden of [
          ...spellings(OPAQUE),
          ...spellings(SECRET),
          ...spellings(`${basicEnc('resource-server')}:${basicEnc(SECRET)}`),
        ]) {
          expect(text).not.toContain(forbidden);
        }
      }
    },
  );
  // The spellings above come from our own encoder; these come from the wire, so a sender that
  // encoded the credentials differently (oauth4webapi's ClientSecretBasic also escapes - . ~ and
  // others) could not leak them past the scrubber unnoticed.
  it.each([
    ['client_secret_basic', 'form'],
    ['client_secret_post', 'form'],
    ['client_secret_basic', 'json'],
    ['client_secret_post', 'json'],
  ] as const)(
    '%s, %s body: the credentials as the IdP received them are scrubbed, whatever their encoding',
    async (authMethod, bodyFormat) => {
      const server = await stub((req, res, body) => {
        const header = req.headers.authorization ?? '';
        const decoded = Buffer.from(header.slice('Basic '.length), 'base64').toString('utf8');
        sendJson(res, 400, { error: 'invalid_request', error_description: `got ${header} ${decoded} ${body}` });
      });
      const error = await revocationError(
        revoke(server, { clientId: 'rs-client.1', clientSecret: SECRET, authMethod, bodyFormat }, { token: OPAQUE }),
      );
      const text = JSON.stringify({ message: error.message, errorDescription: error.errorDescription });
      expect(text).toContain('got ');
      const received = receivedCredentials(server.requests[0]!);
      expect(received.length).toBeGreaterThan(0);
      for (const forbidden of received) expect(text).not.toContain(forbidden);
    },
  );

  it('verifier.revoke(): neither the outcome error nor the outbox lastError keeps a spelling', async () => {
    const server = await stub((req, res, body) =>
      sendJson(res, 503, {
        error: 'temporarily_unavailable',
        error_description: `got ${b64(body)} ${req.headers.authorization ?? ''}`,
      }),
    );
    const verifier = createVerifier({
      issuer: 'https://idp.example',
      audience: 'https://api.example',
      revocation: {
        clientId: 'resource-server',
        clientSecret: SECRET,
        authMethod: 'client_secret_post',
        endpoint: `${server.url}/revoke`,
      },
    });
    try {
      const outcome = await verifier.revoke(OPAQUE);
      expect(outcome).toMatchObject({ idp: 'queued' });
      const text = JSON.stringify({
        error: outcome.error?.message,
        lastError: verifier.stats().revocation.outbox.lastError,
      });
      expect(text).toContain('got ');
      for (const forbidden of [...spellings(OPAQUE), ...spellings(SECRET)]) expect(text).not.toContain(forbidden);
    } finally {
      await verifier.close();
    }
  });
});
