/**
 * Test helpers around the embedded oidc-provider (the same IdP the example app embeds) and for
 * hand-crafting tokens: signed with the IdP's genuine key, with an attacker's key, or not at all.
 */
import { base64url, exportJWK, generateKeyPair, SignJWT, type JWTHeaderParameters, type JWTPayload } from 'jose';
import {
  startEmbeddedIdp,
  type EmbeddedIdp,
  type EmbeddedIdpOptions,
  type SigningKey,
} from '../../example-app/embedded-idp.js';

export { startEmbeddedIdp, type EmbeddedIdp, type SigningKey };

export async function startIdp(options: EmbeddedIdpOptions = {}): Promise<EmbeddedIdp> {
  return startEmbeddedIdp(options);
}

/** Claims like the IdP's own tokens, overridable. */
export function standardClaims(idp: EmbeddedIdp, overrides: JWTPayload = {}, now = Date.now()): JWTPayload {
  const iat = Math.floor(now / 1000);
  return {
    jti: `jti-${Math.random().toString(36).slice(2)}`,
    sub: 'alice',
    client_id: idp.client.clientId,
    scope: 'notes:read notes:write',
    iss: idp.issuer,
    aud: idp.audience,
    iat,
    exp: iat + 600,
    ...overrides,
  };
}

/** Signs `payload` with a key (default: the IdP's active signing key) and a header of our choice. */
export async function signToken(
  payload: JWTPayload,
  key: SigningKey,
  header: Partial<JWTHeaderParameters> = {},
): Promise<string> {
  return new SignJWT(payload)
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'at+jwt', ...header })
    .sign(key.privateKey);
}

/** An attacker's own key pair, with a public JWK to embed in headers. */
export async function attackerKey(alg: SigningKey['alg'] = 'RS256') {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const publicJwk = await exportJWK(publicKey);
  return {
    alg,
    kid: 'attacker-key',
    privateKey,
    publicJwk,
    privateJwk: await exportJWK(privateKey),
  } satisfies SigningKey & {
    publicJwk: unknown;
  };
}

/** Builds a compact JWS from raw parts, no library checks: for tokens no library would sign. */
export function rawToken(header: object, payload: object | string, signature = ''): string {
  const encode = (v: object | string) => base64url.encode(typeof v === 'string' ? v : JSON.stringify(v));
  return `${encode(header)}.${encode(payload)}.${signature}`;
}

/**
 * A controllable clock in epoch ms. It starts far from the real time (2001-09-09) on purpose: a
 * test that builds a token from the real clock (`Date.now()`, an IdP-issued token) and verifies it
 * on this one fails every run, not only when a second boundary falls in between. Anchor it on a
 * token the IdP issued with `testClock(issuedAt(token))`.
 */
export function testClock(start = 1_000_000_000_000) {
  let now = start;
  const clock = () => now;
  clock.advance = (ms: number) => {
    now += ms;
  };
  clock.set = (ms: number) => {
    now = ms;
  };
  return clock;
}

/** A token like the IdP's own, signed with its active key, issued at `now` (epoch ms) of the test's clock. */
export function tokenAt(idp: EmbeddedIdp, now: number, overrides: JWTPayload = {}): Promise<string> {
  return signToken(standardClaims(idp, overrides, now), idp.keys[0]!);
}

/** The `iat` of a token (epoch ms), to start a test clock on a token the IdP issued with its own clock. */
export function issuedAt(token: string): number {
  const { iat } = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as { iat: number };
  return iat * 1000;
}
