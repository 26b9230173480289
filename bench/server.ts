/**
 * One benchmark server case per process (so each case has the process, and a pinned core, to
 * itself). CASE picks what sits in front of a trivial handler. Prints `{"port":n}` when ready.
 *
 *   express-noauth · raw-noauth                 baselines (framework cost only)
 *   express-guard · raw-guard                   authGuard, memory store (default)
 *   express-guard-redis · raw-guard-redis       authGuard, Redis store (REDIS_URL)
 *   express-guard-nocache                       authGuard with cache: false (every request verifies)
 *   express-jose                                a bare jose jwtVerify-per-request middleware
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import express from 'express';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { authGuard, createRedisStore, createVerifier, writeAuthError, type VerifierOptions } from '../src/index.js';

const CASE = process.env.CASE ?? 'express-noauth';
const issuer = process.env.ISSUER!;
const audience = process.env.AUDIENCE!;
const body = JSON.stringify({ ok: true });

function verifierOptions(): VerifierOptions {
  const options: VerifierOptions = { issuer, audience };
  if (CASE.endsWith('-redis')) {
    options.store = createRedisStore({ url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', keyPrefix: `rjwt-bench:${process.pid}:` });
  }
  if (CASE.endsWith('-nocache')) options.cache = false;
  return options;
}

function send(res: ServerResponse): void {
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

let handler: (req: IncomingMessage, res: ServerResponse) => void;
if (CASE.startsWith('raw-')) {
  const guard = CASE === 'raw-noauth' ? undefined : authGuard({ verifier: createVerifier(verifierOptions()) });
  handler = guard
    ? (req, res) =>
        guard(req, res, (err) => {
          if (err) writeAuthError(res, err);
          else send(res);
        })
    : (_req, res) => send(res);
} else {
  const app = express();
  if (CASE === 'express-jose') {
    const jwks = createRemoteJWKSet(new URL(process.env.JWKS_URI!));
    app.use((req, _res, next) => {
      const token = (req.headers.authorization ?? '').replace(/^Bearer /i, '');
      jwtVerify(token, jwks, { issuer, audience }).then(
        (result) => {
          (req as unknown as { auth: unknown }).auth = result;
          next();
        },
        next,
      );
    });
  } else if (CASE !== 'express-noauth') {
    app.use(authGuard({ verifier: createVerifier(verifierOptions()) }));
  }
  app.get('/', (_req, res) => {
    res.json({ ok: true });
  });
  handler = app as unknown as typeof handler;
}

const server = createServer(handler);
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  process.stdout.write(`${JSON.stringify({ port: typeof address === 'object' && address ? address.port : 0 })}\n`);
});
process.on('SIGTERM', () => process.exit(0));
