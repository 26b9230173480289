/**
 * Signing keys we control, and access tokens shaped like the ones oidc-provider issues (RFC 9068:
 * header `{ alg, typ: 'at+jwt', kid }`, claims `jti sub iat exp scope client_id iss aud`), so token
 * length and claim count match what a real IdP sends.
 *
 * Minted with node:crypto's synchronous `sign`: thousands per second, where jose's WebCrypto path
 * would cost a promise and a thread-pool hop per token. The servers verify them against a JWKS they
 * fetch (bench/lib/jwks-server.ts), exactly as they would a real IdP's.
 */
import { generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { calculateJwkThumbprint, type JWK } from 'jose';

export type Alg = 'RS256' | 'ES256';
/** Every algorithm a bench key can sign with (the miss benchmark adds EdDSA). */
export type SigningAlg = Alg | 'EdDSA';

export interface BenchKey {
  alg: SigningAlg;
  kid: string;
  privateKey: KeyObject;
  /** Public JWK with `kid`, `alg`, `use`, as a JWKS publishes it. */
  publicJwk: JWK;
}

export interface TokenSite {
  issuer: string;
  audience: string;
}

export async function generateKey(alg: SigningAlg): Promise<BenchKey> {
  const { privateKey, publicKey } =
    alg === 'RS256'
      ? generateKeyPairSync('rsa', { modulusLength: 2048 })
      : alg === 'ES256'
        ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
        : generateKeyPairSync('ed25519');
  const jwk = publicKey.export({ format: 'jwk' }) as JWK;
  // A 43-character thumbprint, like oidc-provider's and many IdPs' kids.
  const kid = await calculateJwkThumbprint(jwk);
  return { alg, kid, privateKey, publicJwk: { ...jwk, kid, alg, use: 'sig' } };
}

const b64 = (value: string | Buffer): string => Buffer.from(value).toString('base64url');

function signInput(key: BenchKey, input: string): string {
  // JWS wants ECDSA signatures as r||s (IEEE P1363), not node's default DER.
  const signature = sign(
    key.alg === 'EdDSA' ? null : 'sha256',
    Buffer.from(input),
    key.alg === 'ES256' ? { key: key.privateKey, dsaEncoding: 'ieee-p1363' } : key.privateKey,
  );
  return signature.toString('base64url');
}

/** Claims in oidc-provider's order; a fresh 43-char `jti` makes every token distinct. */
export function accessClaims(site: TokenSite, lifetimeSeconds = 3600): Record<string, unknown> {
  const iat = Math.floor(Date.now() / 1000);
  return {
    jti: randomBytes(32).toString('base64url'),
    sub: 'notes-api',
    iat,
    exp: iat + lifetimeSeconds,
    scope: 'notes:read notes:write',
    client_id: 'notes-api',
    iss: site.issuer,
    aud: site.audience,
  };
}

/** A compact JWS over `claims`; `header` members override the defaults (e.g. another `kid`). */
export function mint(key: BenchKey, claims: Record<string, unknown>, header: Record<string, unknown> = {}): string {
  const input = `${b64(JSON.stringify({ alg: key.alg, typ: 'at+jwt', kid: key.kid, ...header }))}.${b64(JSON.stringify(claims))}`;
  return `${input}.${signInput(key, input)}`;
}

export function mintMany(key: BenchKey, site: TokenSite, count: number): string[] {
  return Array.from({ length: count }, () => mint(key, accessClaims(site)));
}

/**
 * Tokens every middleware must refuse, to prove a benchmarked middleware really checks:
 *  - `forged`: same header (genuine `kid`) and claims, signed by an attacker's key;
 *  - `tampered`: a genuine token whose payload was altered after signing.
 */
export async function badTokens(key: BenchKey, site: TokenSite): Promise<{ forged: string; tampered: string }> {
  const attacker = await generateKey(key.alg);
  const forged = mint({ ...attacker, kid: key.kid }, accessClaims(site));
  const [header, , signature] = mint(key, accessClaims(site)).split('.');
  const tampered = `${header}.${b64(JSON.stringify({ ...accessClaims(site), sub: 'admin' }))}.${signature}`;
  return { forged, tampered };
}

/** A genuine token's payload and signature under a header naming a random `kid` nobody publishes. */
export function withUnknownKid(token: string, alg: SigningAlg): string {
  const [, payload, signature] = token.split('.');
  return `${b64(JSON.stringify({ alg, typ: 'at+jwt', kid: randomBytes(16).toString('base64url') }))}.${payload}.${signature}`;
}
