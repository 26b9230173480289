// src/index.ts of a Cloudflare Worker (wrangler): ISSUER and AUDIENCE are vars in wrangler.toml.
import { authGuard, type FetchAuthGuard, type FetchRoute, revokeRoute } from 'revocable-jwt/fetch';

interface Env {
  ISSUER: string;
  AUDIENCE: string;
}

// Built on the first request (env arrives with it), then reused by the isolate: keys and verified
// tokens stay cached between requests. A revocation is known to this isolate only (no shared store).
let routes: { guard: FetchAuthGuard; logout: FetchRoute } | undefined;

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    if (!routes) {
      const guard = authGuard({ issuer: env.ISSUER, audience: env.AUDIENCE, scopes: ['notes:read'] });
      routes = { guard, logout: revokeRoute({ verifier: guard.verifier }) };
    }
    if (new URL(request.url).pathname === '/logout') return routes.logout(request);
    const auth = await routes.guard(request);
    if (auth instanceof Response) return auth;
    return Response.json({ owner: auth.payload.sub, notes: [] });
  },
};
