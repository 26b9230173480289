/**
 * The README's Next.js route handler and Cloudflare Worker snippets (example-app/snippets/), run on
 * Node against the embedded IdP: a token is accepted, a missing one gets the bare challenge, and
 * after logout through the snippet's own route the same token is refused.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { type EmbeddedIdp, startIdp } from '../support/idp.js';

let idp: EmbeddedIdp;
beforeAll(async () => {
  idp = await startIdp();
});
afterAll(async () => {
  await idp.close();
});

const get = (token?: string) =>
  new Request('https://api.example.com/api/notes', token ? { headers: { authorization: `Bearer ${token}` } } : {});
const logout = (token: string) =>
  new Request('https://api.example.com/logout', { method: 'POST', headers: { authorization: `Bearer ${token}` } });

describe('example-app snippets', () => {
  it('Next.js route handlers: GET guarded, POST logout revokes for the shared guard', async () => {
    process.env.ISSUER = idp.issuer;
    process.env.AUDIENCE = idp.audience;
    const { readNotes } = await import('../../example-app/snippets/next/auth.js');
    const { GET } = await import('../../example-app/snippets/next/notes-route.js');
    const { POST } = await import('../../example-app/snippets/next/logout-route.js');
    try {
      const token = await idp.issueAccessToken({ scope: 'notes:read' });
      const accepted = await GET(get(token));
      expect(accepted.status).toBe(200);
      expect(await accepted.json()).toEqual({ owner: 'notes-api', notes: [] });
      const missing = await GET(get());
      expect(missing.status).toBe(401);
      expect(missing.headers.get('www-authenticate')).toBe('Bearer realm="api"');
      expect((await POST(logout(token))).status).toBe(200);
      const revoked = await GET(get(token));
      expect(revoked.status).toBe(401);
      expect(revoked.headers.get('www-authenticate')).toContain('error="invalid_token"');
    } finally {
      await readNotes.verifier.close();
    }
  });

  it('Cloudflare Worker: fetch(request, env) guards, and /logout revokes', async () => {
    const { default: worker } = await import('../../example-app/snippets/cloudflare-worker.js');
    const env = { ISSUER: idp.issuer, AUDIENCE: idp.audience };
    const token = await idp.issueAccessToken({ scope: 'notes:read' });
    expect((await worker.fetch(get(token), env)).status).toBe(200);
    const narrow = await idp.issueAccessToken({ scope: 'openid' });
    const denied = await worker.fetch(get(narrow), env);
    expect(denied.status).toBe(403);
    expect(denied.headers.get('www-authenticate')).toContain('scope="notes:read"');
    expect((await worker.fetch(logout(token), env)).status).toBe(200);
    expect((await worker.fetch(get(token), env)).status).toBe(401);
  });
});
