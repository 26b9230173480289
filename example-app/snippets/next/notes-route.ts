// app/api/notes/route.ts: a Next.js route handler guarded by revocable-jwt/fetch.
import { readNotes } from './auth.js';

export async function GET(request: Request): Promise<Response> {
  const auth = await readNotes(request);
  if (auth instanceof Response) return auth; // 401 / 400 / 403 / 503: the RFC 6750 answer, ready to return
  return Response.json({ owner: auth.payload.sub, notes: [] });
}
