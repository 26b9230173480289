/**
 * Request-level attacks on `authGuard` over real HTTP (a raw socket client, so requests that
 * ordinary clients refuse to send get sent): duplicate Authorization headers, tokens in the query
 * or a form body, oversized, non-ASCII and control-character headers, odd whitespace around
 * `Bearer`. Each gets a clear 4xx, never a 500, and the server keeps serving.
 * Split from attack-corpus.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import type { Verifier } from '../../src/index.js';
import { startIdp, type EmbeddedIdp } from '../support/idp.js';
import { closeVerifiers, verifierFor } from '../support/verifier-for.js';
import { guardedApp } from './guarded-app.js';
import { listen, rawRequest } from './helpers.js';

let idp: EmbeddedIdp;
const closers: Array<() => Promise<void>> = [];

beforeAll(async () => {
  idp = await startIdp();
});
afterAll(async () => {
  await closeVerifiers();
  await Promise.all(closers.map((close) => close()));
  await idp.close();
});

describe('request level (authGuard over real HTTP)', () => {
  let verifier: Verifier;
  let port: number;
  let token: string;

  beforeAll(async () => {
    verifier = verifierFor(idp);
    const listener = await listen(guardedApp(verifier));
    closers.push(listener.close);
    port = listener.port;
    token = await idp.issueAccessToken({ scope: 'notes:read' });
  });

  const get = (lines: Array<string | Buffer>, path = '/notes') => rawRequest(port, lines, path);

  it('answers 400 to two Authorization headers, however they are spelt or filled', async () => {
    for (const lines of [
      [`Authorization: Bearer ${token}`, `Authorization: Bearer ${token}`],
      [`Authorization: Bearer ${token}`, `authorization: Bearer ${token}`],
      [`Authorization: Bearer ${token}`, 'Authorization: '],
      ['Authorization: Basic dXNlcjpwYXNz', `Authorization: Bearer ${token}`],
    ]) {
      const res = await get(lines);
      expect(res.status).toBe(400);
      expect(res.headers['www-authenticate']).toContain('error="invalid_request"');
    }
  });

  it('answers 400 to a token in the query string, alone or next to a header, and in a form body', async () => {
    expect((await get([], `/notes?access_token=${token}`)).status).toBe(400);
    expect((await get([], '/notes?access_token=')).status).toBe(400);
    expect((await get([`Authorization: Bearer ${token}`], `/notes?x=1&access_token=${token}`)).status).toBe(400);
    const app = guardedApp(verifier);
    const res = await request(app).post('/notes').type('form').send({ access_token: token });
    expect(res.status).toBe(400);
  });

  it('answers 401 token_too_long to a 20 KB token when the server allows such headers', async () => {
    const big = await listen(guardedApp(verifier), { maxHeaderSize: 64 * 1024 });
    closers.push(big.close);
    const res = await rawRequest(
      big.port,
      [`Authorization: Bearer ${'a'.repeat(10_000)}.${'b'.repeat(10_000)}.c`],
      '/notes',
    );
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toContain('The access token is too long');
  });

  it("answers 431 (Node's header limit), not 500, to a 20 KB or 100 KB Authorization header, and keeps serving", async () => {
    for (const size of [20 * 1024, 100 * 1024]) {
      const res = await get([`Authorization: Bearer ${'a'.repeat(size)}`]);
      expect(res.status).toBe(431);
    }
    expect((await get([`Authorization: Bearer ${token}`])).status).toBe(200);
  });

  it('answers 400, not 500, to non-ASCII and control characters in the header, and keeps serving', async () => {
    const lines: Array<string | Buffer> = [
      Buffer.from(`Authorization: Bearer tökén.${token}`, 'utf8'),
      Buffer.from(`Authorization: Bearer ${token}\u00e9`, 'latin1'),
      Buffer.from(`Authorization: Bearer 🔑${token}`, 'utf8'),
      Buffer.from(`Authorization: Bearer ${token}\u0001`, 'latin1'),
      Buffer.from(`Authorization: Bearer ${token.slice(0, 20)}\u0000${token.slice(20)}`, 'latin1'),
      Buffer.from(`Authorization: Bearer ${token}\u007f`, 'latin1'),
    ];
    for (const line of lines) {
      const res = await get([line]);
      expect(res.status).toBe(400);
    }
    expect((await get([`Authorization: Bearer ${token}`])).status).toBe(200);
  });

  it('answers 400 to an empty Bearer, with or without trailing space', async () => {
    for (const line of [
      'Authorization: Bearer',
      'Authorization: Bearer ',
      'Authorization: Bearer     ',
      'Authorization: bearer',
    ]) {
      const res = await get([line]);
      expect(res.status).toBe(400);
      expect(res.headers['www-authenticate']).toContain('error="invalid_request"');
    }
  });

  it('answers 400 to a tab (or other whitespace) instead of the space after Bearer', async () => {
    for (const sep of ['\t', '\u000b', '\u000c', '\u00a0']) {
      expect((await get([Buffer.from(`Authorization: Bearer${sep}${token}`, 'latin1')])).status).toBe(400);
    }
  });

  it('answers 401 with a bare challenge to no credentials and to another scheme, 200 to the token', async () => {
    expect((await get([])).headers['www-authenticate']).toBe('Bearer realm="api"');
    expect((await get([`Authorization: Token ${token}`])).headers['www-authenticate']).toBe('Bearer realm="api"');
    expect((await get([`Authorization: Bearer ${token}`])).status).toBe(200);
  });
});
