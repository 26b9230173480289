/**
 * One API instance for `npm run chaos`, as its own process: the notes API's guard and logout route
 * over a verifier backed by the Redis store, configured the way a production instance would be
 * (real retry timers, real clock; unlike test/support/api-instance.ts, whose retries are driven by
 * the tests). Run with `node --import tsx`; prints `{"port":n}` once listening.
 *
 * Env: ISSUER, AUDIENCE, REDIS_URL, KEY_PREFIX, CLIENT_ID, CLIENT_SECRET, MAX_STALENESS (s),
 * JWKS_COOLDOWN (s). The revocation endpoint comes from the IdP's discovery document.
 * GET /admin/stats returns `verifier.stats()` for the report.
 */
import express from 'express';
import { authErrorHandler, authGuard, createRedisStore, createVerifier, revokeRoute } from '../../src/index.js';

const env = (name: string) => {
  const value = process.env[name];
  if (!value) throw new Error(`chaos instance: ${name} is required`);
  return value;
};

const store = createRedisStore({
  url: env('REDIS_URL'),
  keyPrefix: env('KEY_PREFIX'),
  maxStaleness: Number(env('MAX_STALENESS')),
  onStoreUnavailable: 'fail-closed',
});
const verifier = createVerifier({
  issuer: env('ISSUER'),
  audience: env('AUDIENCE'),
  store,
  jwksCooldown: Number(env('JWKS_COOLDOWN')),
  revocation: { clientId: env('CLIENT_ID'), clientSecret: env('CLIENT_SECRET') },
});

const app = express();
app.get('/notes', authGuard({ verifier }), (req, res) => {
  res.json({ sub: req.auth!.payload.sub });
});
app.post('/logout', revokeRoute({ verifier }));
app.get('/admin/stats', (_req, res) => {
  res.json(verifier.stats());
});
app.use(authErrorHandler());

const server = app.listen(0, '127.0.0.1', () => {
  const address = server.address();
  process.stdout.write(`${JSON.stringify({ port: typeof address === 'object' && address ? address.port : 0 })}\n`);
});
// The load generator keeps connections open for the whole run.
server.keepAliveTimeout = 60_000;

const shutdown = async () => {
  server.close();
  server.closeAllConnections();
  await verifier.close();
  await store.close();
  process.exit(0);
};
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
