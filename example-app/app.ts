/**
 * The example API: a tiny notes service protected by authGuard. Everything auth-related is the
 * two lines that mount the guard and the error handler; the rest is an ordinary Express app.
 */
import express, { type Express } from 'express';
import {
  authErrorHandler,
  authGuard,
  backchannelLogoutRoute,
  createPrometheusMetrics,
  revokeRoute,
  type Verifier,
} from 'revocable-jwt';

export interface Note {
  id: number;
  owner: string;
  text: string;
}

export function createNotesApp({ verifier, clientId }: { verifier: Verifier; clientId?: string }): Express {
  const notes: Note[] = [];
  const app = express();
  const metrics = createPrometheusMetrics({ verifier });
  app.use(express.json({ limit: '10kb' }));
  app.use(express.urlencoded({ extended: false, limit: '10kb' }));

  app.get('/health', (_req, res) => {
    res.json({ ok: true });
  });

  app.get('/metrics', async (_req, res) => {
    res.type(metrics.contentType).send(await metrics.metrics());
  });

  app.get('/notes', authGuard({ verifier, scopes: ['notes:read'] }), (req, res) => {
    const owner = req.auth!.payload.sub;
    res.json(notes.filter((n) => n.owner === owner));
  });

  app.post('/notes', authGuard({ verifier, scopes: ['notes:write'] }), (req, res) => {
    const body = req.body as { text?: unknown } | undefined;
    const text = typeof body?.text === 'string' ? body.text.slice(0, 1000) : '';
    if (!text) {
      res.status(400).json({ error: 'invalid_request', error_description: 'body needs { "text": "..." }' });
      return;
    }
    const note = { id: notes.length + 1, owner: req.auth!.payload.sub ?? 'unknown', text };
    notes.push(note);
    res.status(201).json(note);
  });

  // Logout: revokes the bearer token (and a refresh token in the body, if sent) at the IdP and
  // locally; from the moment it answers, this API refuses the token.
  app.post('/logout', revokeRoute({ verifier }));

  // IdP-initiated logout (OpenID Connect Back-Channel Logout): our client id is the audience.
  if (clientId) app.post('/backchannel-logout', backchannelLogoutRoute({ verifier, clientId }));

  // Auth failures become RFC 6750 JSON answers with WWW-Authenticate / Retry-After headers.
  app.use(authErrorHandler());
  return app;
}
