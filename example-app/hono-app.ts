/**
 * The notes API of app.ts on Hono 4, through 'revocable-jwt/hono': same routes, same answers.
 * The guard is middleware that sets `c.get('auth')`; the endpoints are handlers. Everything here but
 * `/metrics` (prom-client) is Web-standard: the same app runs on Bun, Deno or a worker.
 */
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { createPrometheusMetrics, type Verifier } from 'revocable-jwt';
import { type AuthEnv, authGuard, backchannelLogoutRoute, revokeRoute } from 'revocable-jwt/hono';
import type { Note } from './app.js';

export function createHonoNotesApp({ verifier, clientId }: { verifier: Verifier; clientId?: string }): Hono<AuthEnv> {
  const notes: Note[] = [];
  const app = new Hono<AuthEnv>();
  const metrics = createPrometheusMetrics({ verifier });

  app.get('/health', (c) => c.json({ ok: true }));

  app.get('/metrics', async (c) => c.body(await metrics.metrics(), 200, { 'content-type': metrics.contentType }));

  app.get('/notes', authGuard({ verifier, scopes: ['notes:read'] }), (c) => {
    const owner = c.get('auth').payload.sub;
    return c.json(notes.filter((n) => n.owner === owner));
  });

  app.post('/notes', bodyLimit({ maxSize: 10 * 1024 }), authGuard({ verifier, scopes: ['notes:write'] }), async (c) => {
    const body = (await c.req.json().catch(() => undefined)) as { text?: unknown } | undefined;
    const text = typeof body?.text === 'string' ? body.text.slice(0, 1000) : '';
    if (!text) return c.json({ error: 'invalid_request', error_description: 'body needs { "text": "..." }' }, 400);
    const note = { id: notes.length + 1, owner: c.get('auth').payload.sub ?? 'unknown', text };
    notes.push(note);
    return c.json(note, 201);
  });

  // Logout: from the moment it answers, this API refuses the token (see app.ts). `all` gives the 405.
  app.all('/logout', revokeRoute({ verifier }));

  // IdP-initiated logout (OpenID Connect Back-Channel Logout): our client id is the audience.
  if (clientId) app.all('/backchannel-logout', backchannelLogoutRoute({ verifier, clientId }));

  // The guard answers refusals itself (RFC 6750 JSON with WWW-Authenticate): no onError needed.
  return app;
}
