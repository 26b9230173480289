/**
 * One benchmark server case per process (so each case has the process, and a pinned core, to
 * itself). CASE picks what sits in front of a trivial handler. Prints `{"port":n}` when ready.
 *
 *   express-noauth · raw-noauth                 baselines (framework cost only)
 *   express-noop                                a middleware that only calls next(): what any middleware costs in Express
 *   express-guard · raw-guard                   authGuard, memory store (default)
 *   express-guard-redis · raw-guard-redis       authGuard, Redis store (REDIS_URL)
 *   express-guard-nocache                       authGuard with cache: false (every request verifies)
 *   express-jose                                a bare jose jwtVerify-per-request middleware (JWKS_URI)
 *   express-oauth2-jwt-bearer                   peer: auth0's express-oauth2-jwt-bearer (JWKS_URI)
 *   express-jwt                                 peer: express-jwt + jwks-rsa, RS256 only (JWKS_URI)
 *   express-fast-jwt                            peer: fast-jwt verifier with its cache + get-jwks (JWKS_URI)
 *
 * Env: ISSUER, AUDIENCE (all auth cases); JWKS_URI (jose and peers; ours uses discovery from
 * ISSUER, as the README's quick start does); CACHE_MAX (our cache size: a small one forces misses);
 * JWKS_COOLDOWN (seconds, our unknown-kid refetch cooldown).
 *
 * Our cases also answer GET /admin/stats with `verifier.stats()` (ahead of the guard), so the
 * benchmark can check a "hit" case really hits and a "miss" case really misses.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import express, { type ErrorRequestHandler, type RequestHandler } from 'express';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import {
  authErrorHandler,
  authGuard,
  createRedisStore,
  createVerifier,
  writeAuthError,
  type Verifier,
  type VerifierOptions,
} from '../src/index.js';

const CASE = process.env.CASE ?? 'express-noauth';
const issuer = process.env.ISSUER!;
const audience = process.env.AUDIENCE!;
const body = JSON.stringify({ ok: true });

function verifierOptions(): VerifierOptions {
  const options: VerifierOptions = { issuer, audience };
  if (CASE.endsWith('-redis')) {
    options.store = createRedisStore({
      url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
      keyPrefix: `rjwt-bench:${process.pid}:`,
    });
  }
  if (CASE.endsWith('-nocache')) options.cache = false;
  else if (process.env.CACHE_MAX) options.cache = { max: Number(process.env.CACHE_MAX) };
  if (process.env.JWKS_COOLDOWN) options.jwksCooldown = Number(process.env.JWKS_COOLDOWN);
  return options;
}

function send(res: ServerResponse): void {
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function sendStats(res: ServerResponse, verifier: Verifier): void {
  const stats = JSON.stringify(verifier.stats());
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(stats) });
  res.end(stats);
}

/** A 401 carrying the peer's error as `cause`; Express's default handler would log every stack to stderr. */
const unauthorized = (cause: unknown) => Object.assign(new Error('invalid token', { cause }), { status: 401 });

/** The peers' and jose's errors: status only, no body, no stack logging (which would dominate a 401 flood). */
const statusOnly: ErrorRequestHandler = (err: { status?: number; statusCode?: number }, _req, res, _next) => {
  res.status(err.status ?? err.statusCode ?? 500).end();
};

function bearer(req: IncomingMessage): string {
  return (req.headers.authorization ?? '').replace(/^Bearer /i, '');
}

/** The middleware a peer case puts in front of the handler (loaded lazily: only that case pays for the import). */
async function peerMiddleware(): Promise<RequestHandler> {
  const jwksUri = process.env.JWKS_URI!;
  switch (CASE) {
    case 'express-jose': {
      const jwks = createRemoteJWKSet(new URL(jwksUri));
      return (req, _res, next) => {
        jwtVerify(bearer(req), jwks, { issuer, audience }).then(
          (result) => {
            (req as unknown as { auth: unknown }).auth = result;
            next();
          },
          (error: unknown) => next(unauthorized(error)),
        );
      };
    }
    case 'express-oauth2-jwt-bearer': {
      const { auth } = await import('express-oauth2-jwt-bearer');
      return auth({ issuer, jwksUri, audience });
    }
    case 'express-jwt': {
      const { expressjwt } = await import('express-jwt');
      const { default: jwksRsa } = await import('jwks-rsa');
      return expressjwt({
        secret: jwksRsa.expressJwtSecret({ jwksUri, cache: true }) as never,
        algorithms: ['RS256'],
        audience,
        issuer,
      });
    }
    case 'express-fast-jwt': {
      const { createVerifier: createFastVerifier } = await import('fast-jwt');
      const { default: buildGetJwks } = await import('get-jwks');
      const getJwks = buildGetJwks({ jwksPath: new URL(jwksUri).pathname });
      const verify = createFastVerifier({
        key: async ({ header }: { header: { kid?: string; alg?: string } }) =>
          getJwks.getPublicKey({ kid: header.kid, alg: header.alg, domain: issuer }),
        cache: true,
        allowedIss: issuer,
        allowedAud: audience,
      });
      return (req, _res, next) => {
        (verify(bearer(req)) as Promise<unknown>).then(
          (payload) => {
            (req as unknown as { auth: unknown }).auth = payload;
            next();
          },
          (error: unknown) => next(unauthorized(error)),
        );
      };
    }
    default:
      throw new Error(`unknown CASE ${CASE}`);
  }
}

let handler: (req: IncomingMessage, res: ServerResponse) => void;
if (CASE.startsWith('raw-')) {
  const verifier = CASE === 'raw-noauth' ? undefined : createVerifier(verifierOptions());
  const guard = verifier ? authGuard({ verifier }) : undefined;
  handler =
    verifier && guard
      ? (req, res) => {
          if (req.url === '/admin/stats') return sendStats(res, verifier);
          guard(req, res, (err) => {
            if (err) writeAuthError(res, err);
            else send(res);
          });
        }
      : (_req, res) => send(res);
} else {
  const app = express();
  let verifier: ReturnType<typeof createVerifier> | undefined;
  if (CASE.startsWith('express-guard')) {
    verifier = createVerifier(verifierOptions());
    app.use(authGuard({ verifier }));
  } else if (CASE === 'express-noop') {
    app.use((_req, _res, next) => next());
  } else if (CASE !== 'express-noauth') {
    app.use(await peerMiddleware());
  }
  app.get('/', (_req, res) => {
    res.json({ ok: true });
  });
  app.use(authErrorHandler(), statusOnly);
  // /admin/stats is answered in front of Express, for every Express case alike: as an Express
  // route it would add a layer (and its path matching) that the baselines do not have.
  const expressApp = app as unknown as typeof handler;
  handler = (req, res) => {
    if (req.url === '/admin/stats') return verifier ? sendStats(res, verifier) : void res.writeHead(404).end();
    expressApp(req, res);
  };
}

const server = createServer(handler);
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  process.stdout.write(`${JSON.stringify({ port: typeof address === 'object' && address ? address.port : 0 })}\n`);
});
process.on('SIGTERM', () => process.exit(0));
