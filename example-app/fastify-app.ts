/**
 * The notes API of app.ts on Fastify 5, through 'revocable-jwt/fastify': same routes, same answers.
 * The guard is a `preHandler` hook that sets `request.auth`; each endpoint is a plugin registered
 * with its path as `prefix` (it reads its own body, so no @fastify/formbody).
 */
import Fastify, { type FastifyInstance } from 'fastify';
import { createPrometheusMetrics, type Verifier } from 'revocable-jwt';
import { authGuard, backchannelLogoutRoute, revokeRoute } from 'revocable-jwt/fastify';
import type { Note } from './app.js';

export function createFastifyNotesApp({
  verifier,
  clientId,
}: {
  verifier: Verifier;
  clientId?: string;
}): FastifyInstance {
  const notes: Note[] = [];
  const app = Fastify({ bodyLimit: 10 * 1024 });
  const metrics = createPrometheusMetrics({ verifier });

  app.get('/health', async () => ({ ok: true }));

  app.get('/metrics', async (_request, reply) => reply.type(metrics.contentType).send(await metrics.metrics()));

  app.get('/notes', { preHandler: authGuard({ verifier, scopes: ['notes:read'] }) }, async (request) => {
    const owner = request.auth!.payload.sub;
    return notes.filter((n) => n.owner === owner);
  });

  app.post('/notes', { preHandler: authGuard({ verifier, scopes: ['notes:write'] }) }, async (request, reply) => {
    const body = request.body as { text?: unknown } | undefined;
    const text = typeof body?.text === 'string' ? body.text.slice(0, 1000) : '';
    if (!text)
      return reply.status(400).send({ error: 'invalid_request', error_description: 'body needs { "text": "..." }' });
    const note = { id: notes.length + 1, owner: request.auth!.payload.sub ?? 'unknown', text };
    notes.push(note);
    return reply.status(201).send(note);
  });

  // Logout: from the moment it answers, this API refuses the token (see app.ts).
  app.register(revokeRoute({ verifier }), { prefix: '/logout' });

  // IdP-initiated logout (OpenID Connect Back-Channel Logout): our client id is the audience.
  if (clientId) app.register(backchannelLogoutRoute({ verifier, clientId }), { prefix: '/backchannel-logout' });

  // The guard answers refusals itself (RFC 6750 JSON with WWW-Authenticate): no error handler to add.
  return app;
}
