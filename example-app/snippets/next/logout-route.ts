// app/api/logout/route.ts: logout revokes the token at the IdP and in the shared verifier at once.
import { revokeRoute } from 'revocable-jwt/fetch';
import { readNotes } from './auth.js';

export const POST = revokeRoute({ verifier: readNotes.verifier });
