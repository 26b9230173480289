/**
 * A controllable stand-in IdP for `npm run chaos`, served from the harness on 127.0.0.1: OpenID
 * discovery, a JWKS and an RFC 7009 revocation endpoint (client_secret_basic). It counts every
 * revocation delivery per token `jti`, and can be switched to answer 500 on the JWKS or 503 (with
 * `Retry-After`) on revocation. A second signing key can be published mid-run (key rotation).
 *
 * Tokens are minted with bench/lib/tokens.ts (ES256, shaped like oidc-provider's access tokens).
 */
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { generateKey, mint, accessClaims, type BenchKey } from '../lib/tokens.js';

export const AUDIENCE = 'https://api.chaos.example';
export const CLIENT_ID = 'notes-api';
export const CLIENT_SECRET = 'chaos-secret';

export interface ChaosIdp {
  issuer: string;
  /** Answer 500 on the JWKS. */
  jwksFails: boolean;
  /** Answer 503 + Retry-After: 1 on revocation. */
  revocationFails: boolean;
  /** Publish the second key and sign this fraction of new tokens with it. */
  rotate(fraction: number): void;
  /** A fresh access token (jti, exp = now + lifetime) and its jti and kid. */
  issue(): { token: string; jti: string; kid: string };
  /** The `kid` of the key `rotate()` brings in. */
  readonly rotatedKid: string;
  /** Successful (200) revocation deliveries per jti. */
  readonly deliveries: ReadonlyMap<string, number>;
  readonly counters: {
    jwks: number;
    jwks500: number;
    revocationRequests: number;
    revocation503: number;
    revocationUnauthorized: number;
  };
  close(): Promise<void>;
}

export async function startIdp(tokenLifetimeSeconds: number): Promise<ChaosIdp> {
  // ES256: minting 50+ tokens a second must not cost the harness the CPU its probes need (RS256 signing ~1–2 ms each).
  const keys: BenchKey[] = [await generateKey('ES256'), await generateKey('ES256')];
  let published = 1;
  let rotation = 0;
  const deliveries = new Map<string, number>();
  const counters = { jwks: 0, jwks500: 0, revocationRequests: 0, revocation503: 0, revocationUnauthorized: 0 };
  const basic = `Basic ${Buffer.from(`${encodeURIComponent(CLIENT_ID)}:${encodeURIComponent(CLIENT_SECRET)}`).toString('base64')}`;
  let discovery = '';

  const idp = {
    issuer: '',
    jwksFails: false,
    revocationFails: false,
    rotate(fraction: number) {
      published = 2;
      rotation = fraction;
    },
    issue() {
      const key = published > 1 && Math.random() < rotation ? keys[1]! : keys[0]!;
      const claims = accessClaims({ issuer: idp.issuer, audience: AUDIENCE }, tokenLifetimeSeconds);
      return { token: mint(key, claims), jti: claims.jti as string, kid: key.kid };
    },
    rotatedKid: keys[1]!.kid,
    deliveries,
    counters,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };

  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const json = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      const text = JSON.stringify(body);
      res
        .writeHead(status, {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(text),
          ...headers,
        })
        .end(text);
    };
    if (req.method === 'GET' && path === '/.well-known/openid-configuration') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(discovery);
    } else if (req.method === 'GET' && path === '/jwks') {
      counters.jwks++;
      if (idp.jwksFails) {
        counters.jwks500++;
        json(500, { error: 'server_error' });
      } else {
        json(200, { keys: keys.slice(0, published).map((k) => k.publicJwk) });
      }
    } else if (req.method === 'POST' && path === '/revoke') {
      void readBody(req).then((raw) => {
        counters.revocationRequests++;
        if (req.headers.authorization !== basic) {
          counters.revocationUnauthorized++;
          json(401, { error: 'invalid_client' });
        } else if (idp.revocationFails) {
          counters.revocation503++;
          json(503, { error: 'temporarily_unavailable' }, { 'retry-after': '1' });
        } else {
          const jti = jtiOf(new URLSearchParams(raw).get('token') ?? '');
          if (jti !== undefined) deliveries.set(jti, (deliveries.get(jti) ?? 0) + 1);
          res.writeHead(200).end();
        }
      });
    } else {
      json(404, { error: 'not_found' });
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  idp.issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  discovery = JSON.stringify({
    issuer: idp.issuer,
    jwks_uri: `${idp.issuer}/jwks`,
    revocation_endpoint: `${idp.issuer}/revoke`,
  });
  return idp;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    let raw = '';
    req.on('data', (chunk) => (raw += String(chunk)));
    req.on('end', () => resolve(raw));
    req.on('error', () => resolve(raw));
  });
}

function jtiOf(token: string): string | undefined {
  try {
    const payload = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as {
      jti?: unknown;
    };
    return typeof payload.jti === 'string' ? payload.jti : undefined;
  } catch {
    return undefined;
  }
}
