/**
 * A stand-in IdP that only publishes keys: OpenID discovery and the JWKS, on 127.0.0.1, counting
 * every JWKS request so the benchmark can check how often a verifier refetches.
 *
 * Served from the bench process. Servers fetch the keys once at start-up, so it costs nothing
 * during a measurement, except in the JWKS-attack section, where the fetches are the point.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { JWK } from 'jose';

export interface JwksStub {
  issuer: string;
  jwksUri: string;
  /** JWKS documents served so far (`/jwks` and `/.well-known/jwks.json`, the path get-jwks uses by default). */
  readonly jwksRequests: number;
  readonly discoveryRequests: number;
  close(): Promise<void>;
}

export async function startJwksStub(keys: JWK[]): Promise<JwksStub> {
  let jwksRequests = 0;
  let discoveryRequests = 0;
  const jwks = JSON.stringify({ keys });
  let discovery = '';
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    let body: string | undefined;
    if (path === '/jwks' || path === '/.well-known/jwks.json') {
      jwksRequests++;
      body = jwks;
    } else if (path === '/.well-known/openid-configuration') {
      discoveryRequests++;
      body = discovery;
    }
    if (body === undefined) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const jwksUri = `${issuer}/jwks`;
  discovery = JSON.stringify({ issuer, jwks_uri: jwksUri });
  return {
    issuer,
    jwksUri,
    get jwksRequests() {
      return jwksRequests;
    },
    get discoveryRequests() {
      return discoveryRequests;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
