/**
 * The one HTTP client we talk to IdPs with, alone, against a tiny local server (or an injected
 * fetch where a server cannot misbehave the right way): a hard timeout, a body size cap, no
 * redirects followed, Retry-After parsed, and every failure classified by `kind` with a message
 * that names the URL without its query.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  fetchJson,
  HttpRequestError,
  parseRetryAfter,
  sendRequest,
  type FetchLike,
  type HttpRequestOptions,
} from '../../../src/core/idp/http-client.js';
import { sendJson, startStubServer, type StubServer } from '../../support/http.js';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

let server: StubServer;
const routes = new Map<string, Handler>();

beforeAll(async () => {
  server = await startStubServer((req, res) => {
    const route = routes.get(new URL(req.url ?? '/', 'http://x').pathname);
    if (route) route(req, res);
    else sendJson(res, 404, { error: 'not_found' });
  });
});
afterAll(async () => {
  await server.close();
});

let counter = 0;
/** Serves `handler` at a fresh path and returns its URL. */
function serve(handler: Handler): string {
  const path = `/r${++counter}`;
  routes.set(path, handler);
  return `${server.url}${path}`;
}
const hits = (url: string) => server.requests.filter((r) => `${server.url}${r.url}`.startsWith(url)).length;

const options = (overrides: Partial<HttpRequestOptions> = {}): HttpRequestOptions => ({
  fetch: (input, init) => fetch(input, init),
  timeoutMs: 2_000,
  maxBytes: 1_024,
  ...overrides,
});

/** The HttpRequestError a request ends in; fails the test if it resolved or threw anything else. */
async function failure(promise: Promise<unknown>): Promise<HttpRequestError> {
  const error = await promise.then(
    () => new Error('expected an HttpRequestError, got an answer'),
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(HttpRequestError);
  return error as HttpRequestError;
}

describe('sendRequest()', () => {
  it('returns any status with its headers and whole body, without throwing', async () => {
    const url = serve((_req, res) => sendJson(res, 400, { error: 'invalid_request' }, { 'x-trace': 'abc' }));
    const result = await sendRequest(url, options());
    expect(result.status).toBe(400);
    expect(result.headers.get('x-trace')).toBe('abc');
    expect(JSON.parse(result.text)).toEqual({ error: 'invalid_request' });
  });

  it('sends the caller init, always with redirect: manual and an abort signal', async () => {
    const seen: RequestInit[] = [];
    const recording: FetchLike = (input, init) => {
      seen.push(init ?? {});
      return fetch(input, init);
    };
    const url = serve((_req, res) => res.end('ok'));
    const init: RequestInit = { method: 'POST', body: 'a=1', redirect: 'follow' };
    expect((await sendRequest(url, options({ fetch: recording, init }))).text).toBe('ok');
    expect(seen[0]).toMatchObject({ method: 'POST', body: 'a=1', redirect: 'manual' });
    expect(seen[0]!.signal).toBeInstanceOf(AbortSignal);
    expect(server.requests.at(-1)).toMatchObject({ method: 'POST', body: 'a=1' });
  });

  it.each([301, 302, 303, 307, 308])('never follows a %i: kind redirect, the target is never asked', async (status) => {
    const target = serve((_req, res) => res.end('followed'));
    const url = serve((_req, res) => {
      res.writeHead(status, { location: target });
      res.end();
    });
    const error = await failure(sendRequest(url, options()));
    expect(error).toMatchObject({ kind: 'redirect', status, transient: true });
    expect(error.message).toBe(`${url} answered with a redirect (${status}); configure the final URL instead`);
    expect(hits(target)).toBe(0);
  });

  it('times out a server that never answers: kind timeout, within the timeout', async () => {
    const url = serve(() => undefined);
    const started = performance.now();
    const error = await failure(sendRequest(url, options({ timeoutMs: 150 })));
    expect(performance.now() - started).toBeLessThan(1_500);
    expect(error).toMatchObject({ kind: 'timeout', status: undefined, transient: true });
    expect(error.message).toBe(`${url} did not answer within 150 ms`);
  });

  it('times out a body that never ends (the timeout covers the whole exchange, not the headers)', async () => {
    const url = serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"keys":[');
    });
    const error = await failure(sendRequest(url, options({ timeoutMs: 150 })));
    expect(error.kind).toBe('timeout');
  });

  it('reports a cancelled request as aborted, not as a timeout', async () => {
    const url = serve(() => undefined);
    const controller = new AbortController();
    const pending = failure(sendRequest(url, options({ signal: controller.signal })));
    while (hits(url) === 0) await new Promise((resolve) => setImmediate(resolve));
    controller.abort();
    const error = await pending;
    expect(error).toMatchObject({ kind: 'aborted' });
    expect(error.message).toBe(`request to ${url} was cancelled`);
  });

  it('reports an unreachable server as network, naming origin and path but never the query', async () => {
    // Port 9 (discard): nothing listens there on a test machine, as in the other suites.
    const error = await failure(sendRequest('http://127.0.0.1:9/keys?client_secret=s3cret', options()));
    expect(error).toMatchObject({ kind: 'network', transient: true });
    expect(error.message).toBe('could not reach http://127.0.0.1:9/keys');
    expect(error.cause).toBeDefined();
  });

  it('turns a fetch that throws synchronously into a network failure', async () => {
    const throwing: FetchLike = () => {
      throw new Error('boom');
    };
    const error = await failure(sendRequest('https://idp.example/keys', options({ fetch: throwing })));
    expect(error).toMatchObject({ kind: 'network', cause: new Error('boom') });
  });

  it('says "the IdP" for a URL it cannot parse, instead of echoing it', async () => {
    const throwing: FetchLike = () => Promise.reject(new TypeError('Invalid URL'));
    const error = await failure(sendRequest('not a url?secret=1', options({ fetch: throwing })));
    expect(error.message).toBe('could not reach the IdP');
  });

  describe('the body size cap', () => {
    it('reads a body of exactly maxBytes', async () => {
      const url = serve((_req, res) => res.end('x'.repeat(1_024)));
      expect((await sendRequest(url, options())).text).toHaveLength(1_024);
    });

    it('refuses a declared Content-Length over the cap before reading it', async () => {
      const url = serve((_req, res) => {
        res.writeHead(200, { 'content-length': 1_025 });
        res.end('x'.repeat(1_025));
      });
      const error = await failure(sendRequest(url, options()));
      expect(error).toMatchObject({ kind: 'too_large', status: 200 });
      expect(error.message).toBe(`${url} sent 1025 bytes, more than the 1024-byte limit`);
    });

    it('stops reading a chunked body once it passes the cap', async () => {
      const url = serve((_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        for (let i = 0; i < 8; i++) res.write('x'.repeat(512));
        res.end();
      });
      const error = await failure(sendRequest(url, options()));
      expect(error).toMatchObject({ kind: 'too_large', status: 200 });
      expect(error.message).toBe(`${url} sent more than the 1024-byte limit`);
    });

    it('counts bytes, not characters (multi-byte UTF-8)', async () => {
      const url = serve((_req, res) => {
        res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
        res.end('é'.repeat(513)); // 1026 bytes
      });
      expect((await failure(sendRequest(url, options()))).kind).toBe('too_large');
    });

    it('applies to error answers too', async () => {
      const url = serve((_req, res) => {
        res.writeHead(503);
        res.end('x'.repeat(4_096));
      });
      expect(await failure(sendRequest(url, options()))).toMatchObject({ kind: 'too_large', status: 503 });
    });
  });
});

describe('fetchJson()', () => {
  it('GETs with Accept: application/json and returns the object', async () => {
    const url = serve((_req, res) => sendJson(res, 200, { issuer: 'https://idp.example' }));
    expect(await fetchJson(url, options())).toEqual({ issuer: 'https://idp.example' });
    expect(server.requests.at(-1)).toMatchObject({ method: 'GET', headers: { accept: 'application/json' } });
  });

  it.each<[number, boolean]>([
    [500, true],
    [503, true],
    [429, true],
    [404, false],
    [400, false],
    [401, false],
  ])('turns a %i into kind status (transient: %s)', async (status, transient) => {
    const url = serve((_req, res) => sendJson(res, status, { error: 'x' }));
    const error = await failure(fetchJson(url, options()));
    expect(error).toMatchObject({ kind: 'status', status, transient, retryAfter: undefined });
    expect(error.message).toBe(`${url} answered ${status}`);
  });

  it('sends a GET once more when its connection was closed under it (a kept-alive connection the IdP timed out)', async () => {
    let calls = 0;
    const url = serve((req, res) => {
      calls++;
      // The first request's connection is closed without an answer, as an IdP closing an idle
      // kept-alive connection does just as the request arrives: undici says "other side closed".
      if (calls === 1) req.socket.destroy();
      else sendJson(res, 200, { keys: [] });
    });
    await expect(fetchJson(url, options())).resolves.toEqual({ keys: [] });
    expect(calls).toBe(2);
  });

  it('retries only once, and not an IdP that cannot be reached at all', async () => {
    let calls = 0;
    const url = serve((req) => {
      calls++;
      req.socket.destroy();
    });
    expect((await failure(fetchJson(url, options()))).kind).toBe('network');
    expect(calls).toBe(2);
    let refused = 0;
    const counting: FetchLike = (input, init) => {
      refused++;
      return fetch(input, init);
    };
    // A port nothing listens on: ECONNREFUSED says the host is down, not that a connection closed.
    const down = await failure(fetchJson('http://127.0.0.1:1/jwks', options({ fetch: counting })));
    expect(down.kind).toBe('network');
    expect(refused).toBe(1);
  });

  it('carries the Retry-After of an error answer, in seconds', async () => {
    const url = serve((_req, res) => sendJson(res, 429, { error: 'slow_down' }, { 'retry-after': '20' }));
    expect(await failure(fetchJson(url, options()))).toMatchObject({ kind: 'status', status: 429, retryAfter: 20 });
  });

  it.each<[string, string, string]>([
    ['invalid JSON', '{"keys":', 'did not answer with JSON'],
    ['an empty body', '', 'did not answer with JSON'],
    ['a JSON array', '[]', 'did not answer with a JSON object'],
    ['JSON null', 'null', 'did not answer with a JSON object'],
    ['a JSON string', '"ok"', 'did not answer with a JSON object'],
  ])('refuses %s as invalid_body', async (_name, body, message) => {
    const url = serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(body);
    });
    const error = await failure(fetchJson(url, options()));
    expect(error).toMatchObject({ kind: 'invalid_body', status: 200, transient: true });
    expect(error.message).toBe(`${url} ${message}`);
  });
});

describe('parseRetryAfter()', () => {
  const now = Date.parse('2026-01-01T00:00:00Z');

  it.each<[string, number]>([
    ['0', 0],
    ['7', 7],
    [' 120 ', 120],
  ])('reads delta-seconds %j', (value, seconds) => {
    expect(parseRetryAfter(value, now)).toBe(seconds);
  });

  it('reads an HTTP-date as the seconds from now, rounded up', () => {
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:30 GMT', now)).toBe(30);
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:30 GMT', now + 500)).toBe(30);
  });

  it('reads an HTTP-date in the past as 0', () => {
    expect(parseRetryAfter('Wed, 31 Dec 2025 23:00:00 GMT', now)).toBe(0);
  });

  it.each<[string, string | null]>([
    ['absent', null],
    ['empty', ''],
    ['words', 'soon'],
    ['a unit', '12 seconds'],
    ['hex', '0x10'],
    ['an exponent', '1e3'],
  ])('is undefined when %s', (_name, value) => {
    expect(parseRetryAfter(value, now)).toBeUndefined();
  });
});

describe('HttpRequestError', () => {
  it('is transient unless the IdP answered a 4xx other than 429', () => {
    const transient = (kind: HttpRequestError['kind'], status?: number) =>
      new HttpRequestError(kind, 'm', status === undefined ? {} : { status }).transient;
    expect(transient('network')).toBe(true);
    expect(transient('timeout')).toBe(true);
    expect(transient('status', 502)).toBe(true);
    expect(transient('status', 429)).toBe(true);
    expect(transient('status', 403)).toBe(false);
    expect(transient('status')).toBe(true);
  });

  it('keeps its details and cause, and names itself', () => {
    const cause = new Error('socket hang up');
    const error = new HttpRequestError('status', 'x answered 503', { status: 503, retryAfter: 5, body: 'b', cause });
    expect(error).toMatchObject({ name: 'HttpRequestError', kind: 'status', status: 503, retryAfter: 5, body: 'b' });
    expect(error.cause).toBe(cause);
    expect(error).toBeInstanceOf(Error);
  });
});
