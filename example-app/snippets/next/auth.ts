// lib/auth.ts: one guard (and its verifier) per server process, shared by the route handlers.
import { authGuard } from 'revocable-jwt/fetch';

export const readNotes = authGuard({
  issuer: process.env.ISSUER ?? 'https://idp.example.com/',
  audience: process.env.AUDIENCE ?? 'https://api.example.com',
  scopes: ['notes:read'],
});
