/**
 * The notes API as the security suites attack it: `GET /notes` needs `notes:read`, `POST /notes`
 * (a form body) needs `notes:write`, and every refusal goes through `authErrorHandler`.
 */
import express, { type Express } from 'express';
import { authErrorHandler, authGuard, type Verifier } from '../../src/index.js';

export function guardedApp(verifier: Verifier): Express {
  const app = express();
  app.get('/notes', authGuard({ verifier, scopes: ['notes:read'] }), (req, res) => {
    res.json({ sub: req.auth?.payload.sub, scope: req.auth?.payload.scope });
  });
  app.post(
    '/notes',
    express.urlencoded({ extended: false }),
    authGuard({ verifier, scopes: ['notes:write'] }),
    (_req, res) => {
      res.status(201).json({ ok: true });
    },
  );
  app.use(authErrorHandler());
  return app;
}
