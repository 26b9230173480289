/**
 * One API instance as its own process, for the many-instances tests: the notes API's guard and
 * logout route over a verifier backed by the Redis store, or by the PostgreSQL store when
 * DATABASE_URL is set. Run with `node --import tsx`.
 *
 * Env: ISSUER, AUDIENCE, REDIS_URL and KEY_PREFIX (or DATABASE_URL and PG_SCHEMA), REVOCATION_ENDPOINT,
 * CLIENT_ID, CLIENT_SECRET, MAX_STALENESS (s), ON_STORE_UNAVAILABLE. Prints `{"port":n}` once listening.
 *
 * Test-only admin routes: /admin/invalidate-subject, /admin/retry, /admin/stats (the verifier's,
 * with the store's own under `storeStats` when it has them), and
 * /admin/clock to move this process's clock forward (so retries and staleness need no sleeps).
 */
import express from 'express';
import {
  authErrorHandler,
  authGuard,
  backchannelLogoutRoute,
  createRedisStore,
  createVerifier,
  revokeRoute,
} from '../../src/index.js';
import { createPostgresStore } from '../../src/stores/postgres-store.js';

const env = (name: string) => {
  const value = process.env[name];
  if (!value) throw new Error(`api-instance: ${name} is required`);
  return value;
};

let offset = 0;
const clock = () => Date.now() + offset;
const policy = {
  clock,
  maxStaleness: Number(process.env.MAX_STALENESS ?? 10),
  onStoreUnavailable: (process.env.ON_STORE_UNAVAILABLE as 'fail-closed' | 'fail-open' | undefined) ?? 'fail-closed',
};
const postgres = process.env.DATABASE_URL
  ? createPostgresStore({ connectionString: env('DATABASE_URL'), schema: env('PG_SCHEMA'), ...policy })
  : undefined;
const store = postgres ?? createRedisStore({ url: env('REDIS_URL'), keyPrefix: env('KEY_PREFIX'), ...policy });
const verifier = createVerifier({
  issuer: env('ISSUER'),
  audience: env('AUDIENCE'),
  store,
  clock,
  revocation: {
    clientId: env('CLIENT_ID'),
    clientSecret: env('CLIENT_SECRET'),
    ...(process.env.REVOCATION_ENDPOINT ? { endpoint: process.env.REVOCATION_ENDPOINT } : {}),
    retryInterval: 3600, // the tests drive retries through /admin/retry
  },
});

const app = express();
app.use(express.json());
app.get('/notes', authGuard({ verifier }), (req, res) => {
  res.json({ sub: req.auth!.payload.sub });
});
app.post('/logout', revokeRoute({ verifier }));
app.post(
  '/backchannel-logout',
  express.urlencoded({ extended: false }),
  backchannelLogoutRoute({ verifier, clientId: env('CLIENT_ID') }),
);
app.post('/admin/invalidate-subject', async (req, res) => {
  await verifier.invalidateSubject(String((req.body as { sub: string }).sub));
  res.json({ ok: true });
});
app.post('/admin/retry', async (_req, res) => {
  res.json(await verifier.retryPending());
});
app.get('/admin/stats', (_req, res) => {
  res.json({ ...verifier.stats(), ...(postgres ? { storeStats: postgres.stats() } : {}) });
});
app.post('/admin/clock', (req, res) => {
  offset += Number((req.body as { advance: number }).advance);
  res.json({ now: clock() });
});
app.use(authErrorHandler());

const server = app.listen(0, '127.0.0.1', () => {
  const address = server.address();
  process.stdout.write(`${JSON.stringify({ port: typeof address === 'object' && address ? address.port : 0 })}\n`);
});

const shutdown = async () => {
  server.close();
  await verifier.close();
  await store.close();
  process.exit(0);
};
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
