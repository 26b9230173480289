/**
 * The conformance scenarios of the fetch and Hono adapters, runtime-neutral: this file (bundled
 * with the built package and jose by run.ts) runs inside Node 22/24, Bun, Deno and workerd. It
 * builds a verifier for the IdP the Node driver serves on 127.0.0.1 (discovery, JWKS and RFC 7009
 * revocation are real HTTP calls from the runtime) and one for an issuer on a closed port, puts the
 * guards, the logout, back-channel logout and security event routes behind a `(Request) => Response`
 * app per adapter, sends each scenario's request in-process and returns what came back. The driver compares that with what Node 20 answers (the expected answers live there).
 */
import { createVerifier } from 'revocable-jwt';
import * as fetchAdapter from 'revocable-jwt/fetch';
import * as honoAdapter from 'revocable-jwt/hono';
import { type Context, Hono } from 'hono';
// Internal (not exported by the package): the same built module the package's entry points use.
import { defaultJwsBackend } from '../../dist/core/verify/jws-backend.js';

/** What the driver sends: where the IdP is, and the tokens it minted for the scenarios. */
export interface ConformanceInput {
  issuer: string;
  audience: string;
  client: { clientId: string; clientSecret: string };
  /** An issuer on a closed 127.0.0.1 port: its keys cannot be fetched (the guard answers 503). */
  downIssuer: string;
  /** The audience security events are addressed to (the receiver). */
  eventAudience: string;
  tokens: {
    valid: string;
    readOnly: string;
    expired: string;
    forged: string;
    /** One per app: each is revoked through that app's logout route. */
    revocable: Record<AppName, string>;
    /** A token naming the down issuer (kid unknown there). */
    outage: string;
    /** One per app: a token of a subject, and the IdP's logout token for that subject. */
    loggedOut: Record<AppName, { token: string; logoutToken: string }>;
    /** One per app: a SET (credential change) for the event audience, signed by the IdP. */
    securityEvent: Record<AppName, string>;
    /** One per app: a DPoP-bound token, a proof for GET /dpop and one for GET /dpop-nonce (no nonce). */
    dpop: Record<AppName, { token: string; proof: string; nonceProof: string }>;
    /**
     * Tokens with an entry in the IdP's Token Status List, which the runtime fetches, verifies and
     * inflates (`DecompressionStream`): VALID, and INVALID (revoked by the IdP).
     */
    statusList: { valid: string; revoked: string };
  };
}

/** What a client acts on in an answer. */
export interface Observed {
  status: number;
  headers: Record<string, string>;
  body: unknown;
}

export type AppName = 'fetch' | 'hono';
export const APP_NAMES: readonly AppName[] = ['fetch', 'hono'];
type App = (request: Request) => Promise<Response>;

const HEADERS = ['www-authenticate', 'cache-control', 'retry-after', 'allow', 'content-type', 'dpop-nonce'];
/** Also the public URL of the DPoP verifiers: what the proofs' `htu` name. */
export const ORIGIN = 'http://api.test';

/** Runs every scenario on every app; the answers by `<app> <scenario>`. */
export async function runConformance(input: ConformanceInput): Promise<Record<string, Observed>> {
  // Built here, not at module load: workerd allows timers and I/O only while a request is handled.
  const verifier = createVerifier({ issuer: input.issuer, audience: input.audience, revocation: input.client });
  // One per app: the first request to a down IdP fails on discovery, later ones on the keys.
  const outage = () => createVerifier({ issuer: input.downIssuer, audience: input.audience });
  const outageVerifiers = [outage(), outage()] as const;
  const dpopOptions = { issuer: input.issuer, audience: input.audience, publicUrl: ORIGIN };
  const dpopVerifier = createVerifier(dpopOptions);
  const nonceVerifier = createVerifier({
    ...dpopOptions,
    dpop: { nonce: { secret: 'a runtime test nonce secret, 32 bytes+' } },
  });
  const spec = {
    verifier,
    dpopVerifier,
    nonceVerifier,
    clientId: input.client.clientId,
    eventAudience: input.eventAudience,
  };
  const apps: Record<AppName, App> = {
    fetch: fetchApp({ ...spec, outageVerifier: outageVerifiers[0] }),
    hono: honoApp({ ...spec, outageVerifier: outageVerifiers[1] }),
  };
  // Which backend checks signatures here: node:crypto only where jws-backend.ts trusts it.
  const out: Record<string, Observed> = {
    'signature backend': { status: 200, headers: {}, body: defaultJwsBackend().name },
  };
  try {
    for (const name of APP_NAMES) {
      const app = apps[name];
      const call = async (path: string, init: RequestInit = {}) => observe(await app(new Request(ORIGIN + path, init)));
      const bearer = (token: string, init: RequestInit = {}): RequestInit => ({
        ...init,
        headers: { Authorization: `Bearer ${token}` },
      });
      const { tokens } = input;
      out[`${name} valid token`] = await call('/notes', bearer(tokens.valid));
      out[`${name} no token`] = await call('/notes');
      out[`${name} malformed header`] = await call('/notes', { headers: { Authorization: 'Bearer a,b' } });
      out[`${name} expired token`] = await call('/notes', bearer(tokens.expired));
      out[`${name} forged token`] = await call('/notes', bearer(tokens.forged));
      out[`${name} insufficient scope`] = await call('/admin', bearer(tokens.readOnly));
      // A form body the guard peeks at through a clone (a declared length of at most 16 KiB).
      const form = (body: string): RequestInit => ({
        method: 'POST',
        headers: {
          Authorization: `Bearer ${tokens.valid}`,
          'Content-Type': 'application/x-www-form-urlencoded',
          'Content-Length': String(new TextEncoder().encode(body).byteLength),
        },
        body,
      });
      out[`${name} form body token beside the header`] = await call('/notes', form(`access_token=${tokens.valid}`));
      out[`${name} form body read by the app after the guard`] = await call('/notes', form('note=kept'));
      out[`${name} logout by GET`] = await call('/logout');
      out[`${name} logout body over 16 KiB`] = await call('/logout', {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: `token=${'a'.repeat(20_000)}`,
      });
      const revocable = tokens.revocable[name];
      out[`${name} before logout`] = await call('/notes', bearer(revocable));
      out[`${name} logout`] = await call('/logout', bearer(revocable, { method: 'POST' }));
      out[`${name} after logout`] = await call('/notes', bearer(revocable));
      out[`${name} IdP down`] = await call('/outage', bearer(tokens.outage));
      const { token, logoutToken } = tokens.loggedOut[name];
      out[`${name} before back-channel logout`] = await call('/notes', bearer(token));
      out[`${name} back-channel logout`] = await call('/backchannel-logout', {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ logout_token: logoutToken }).toString(),
      });
      // The cutoff is the verifier's, so both apps refuse the subject's token.
      for (const other of APP_NAMES) {
        out[`${name} back-channel logout, then ${other}`] = await observe(
          await apps[other](authorized('/notes', token)),
        );
      }
      out[`${name} security event`] = await call('/security-events', {
        method: 'POST',
        headers: { 'Content-Type': 'application/secevent+jwt' },
        body: tokens.securityEvent[name],
      });
      out[`${name} security event of another type`] = await call('/security-events', {
        method: 'POST',
        headers: { 'Content-Type': 'application/jwt' },
        body: 'a.b.c',
      });
      // DPoP proofs verified in the runtime (WebCrypto, SHA-256, HMAC nonces): admitted, replayed, asked for a nonce.
      const dpop = input.tokens.dpop[name];
      const withProof = (proof: string): RequestInit => ({
        headers: { Authorization: `DPoP ${dpop.token}`, DPoP: proof },
      });
      out[`${name} DPoP proof`] = await call('/dpop', withProof(dpop.proof));
      out[`${name} DPoP replay`] = await call('/dpop', withProof(dpop.proof));
      out[`${name} DPoP without a nonce`] = await call('/dpop-nonce', withProof(dpop.nonceProof));
      out[`${name} status list: valid`] = await call('/notes', bearer(tokens.statusList.valid));
      out[`${name} status list: revoked by the IdP`] = await call('/notes', bearer(tokens.statusList.revoked));
    }
    // Both apps share the verifier: a token revoked through one is refused by the other.
    out['hono refuses what fetch revoked'] = await observe(
      await apps.hono(authorized('/notes', input.tokens.revocable.fetch)),
    );
  } finally {
    await Promise.all([verifier, dpopVerifier, nonceVerifier, ...outageVerifiers].map((v) => v.close()));
  }
  return out;
}

function authorized(path: string, token: string): Request {
  return new Request(ORIGIN + path, { headers: { Authorization: `Bearer ${token}` } });
}

type VerifierLike = ReturnType<typeof createVerifier>;

/** What an app is built from: the verifier, one whose IdP is down, and the routes' settings. */
interface AppSpec {
  verifier: VerifierLike;
  outageVerifier: VerifierLike;
  /** With a public URL: DPoP allowed on /dpop. */
  dpopVerifier: VerifierLike;
  /** With a public URL and server nonces: DPoP required on /dpop-nonce. */
  nonceVerifier: VerifierLike;
  clientId: string;
  eventAudience: string;
}

function fetchApp({ verifier, outageVerifier, dpopVerifier, nonceVerifier, clientId, eventAudience }: AppSpec): App {
  const guards: Record<string, fetchAdapter.FetchAuthGuard> = {
    '/notes': fetchAdapter.authGuard({ verifier, scopes: ['notes:read'] }),
    '/admin': fetchAdapter.authGuard({ verifier, scopes: ['notes:admin'] }),
    '/outage': fetchAdapter.authGuard({ verifier: outageVerifier }),
    '/dpop': fetchAdapter.authGuard({ verifier: dpopVerifier, dpop: 'allowed' }),
    '/dpop-nonce': fetchAdapter.authGuard({ verifier: nonceVerifier, dpop: 'required' }),
  };
  const routes: Record<string, fetchAdapter.FetchRoute> = {
    '/logout': fetchAdapter.revokeRoute({ verifier }),
    '/backchannel-logout': fetchAdapter.backchannelLogoutRoute({ verifier, clientId }),
    '/security-events': fetchAdapter.securityEventRoute({ verifier, audience: eventAudience }),
  };
  return async (request) => {
    const path = new URL(request.url).pathname;
    const route = routes[path];
    if (route) return route(request);
    const guard = guards[path];
    if (!guard) return new Response(null, { status: 404 });
    const auth = await guard(request);
    if (auth instanceof Response) return auth;
    const note = request.method === 'POST' ? (await request.formData()).get('note') : undefined;
    return Response.json({ sub: auth.payload.sub, scope: auth.payload.scope, note });
  };
}

function honoApp({ verifier, outageVerifier, dpopVerifier, nonceVerifier, clientId, eventAudience }: AppSpec): App {
  const app = new Hono<honoAdapter.AuthEnv>();
  const answer = (c: Context<honoAdapter.AuthEnv>) =>
    c.json({ sub: c.get('auth').payload.sub, scope: c.get('auth').payload.scope });
  const notes = honoAdapter.authGuard({ verifier, scopes: ['notes:read'] });
  app.get('/notes', notes, answer);
  app.post('/notes', notes, async (c) => {
    const { note } = await c.req.parseBody();
    return c.json({ sub: c.get('auth').payload.sub, scope: c.get('auth').payload.scope, note });
  });
  app.get('/admin', honoAdapter.authGuard({ verifier, scopes: ['notes:admin'] }), answer);
  app.get('/outage', honoAdapter.authGuard({ verifier: outageVerifier }), answer);
  app.get('/dpop', honoAdapter.authGuard({ verifier: dpopVerifier, dpop: 'allowed' }), answer);
  app.get('/dpop-nonce', honoAdapter.authGuard({ verifier: nonceVerifier, dpop: 'required' }), answer);
  app.all('/logout', honoAdapter.revokeRoute({ verifier }));
  app.all('/backchannel-logout', honoAdapter.backchannelLogoutRoute({ verifier, clientId }));
  app.all('/security-events', honoAdapter.securityEventRoute({ verifier, audience: eventAudience }));
  return async (request) => app.fetch(request);
}

async function observe(response: Response): Promise<Observed> {
  const headers: Record<string, string> = {};
  for (const header of HEADERS) {
    // The app's own 200 (`Response.json`, Hono's `c.json`) names its type its own way (Bun adds a
    // charset); the library's answers all carry Cache-Control: no-store.
    if (header === 'content-type' && response.status === 200 && !response.headers.has('cache-control')) continue;
    const value = response.headers.get(header);
    if (value === null) continue;
    if (header === 'retry-after' && /^\d+$/.test(value)) headers[header] = '<seconds>';
    else if (header === 'dpop-nonce' && /^[A-Za-z0-9_-]{43}$/.test(value)) headers[header] = '<nonce>';
    else headers[header] = value;
  }
  const text = await response.text();
  return { status: response.status, headers, body: text === '' ? undefined : JSON.parse(text) };
}
