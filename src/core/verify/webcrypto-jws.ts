/**
 * The WebCrypto signature backend: jose's `compactVerify`, as the verifier used everywhere before
 * node:crypto was added, and still wherever jws-backend.ts does not choose node:crypto (Deno,
 * workerd, browsers).
 * A key the JWS carries itself (a DPoP proof's `jwk`) is imported by jose's `importJWK`, which
 * binds it to the algorithm, and checked with `crypto.subtle.verify`.
 */
import { base64url, type CryptoKey, compactVerify, importJWK } from 'jose';
import type { JwsBackend } from './jws-backend.js';

/** WebCrypto's verify parameters per asymmetric JWS algorithm (RFC 7518 §3; RFC 8037 for EdDSA). */
const SIGNING: Record<string, Parameters<typeof crypto.subtle.verify>[0] & { name: string }> = {
  ES256: { name: 'ECDSA', hash: 'SHA-256' },
  ES384: { name: 'ECDSA', hash: 'SHA-384' },
  ES512: { name: 'ECDSA', hash: 'SHA-512' },
  RS256: { name: 'RSASSA-PKCS1-v1_5' },
  RS384: { name: 'RSASSA-PKCS1-v1_5' },
  RS512: { name: 'RSASSA-PKCS1-v1_5' },
  PS256: { name: 'RSA-PSS', saltLength: 32 },
  PS384: { name: 'RSA-PSS', saltLength: 48 },
  PS512: { name: 'RSA-PSS', saltLength: 64 },
  EdDSA: { name: 'Ed25519' },
  Ed25519: { name: 'Ed25519' },
};
/** The curve each ECDSA algorithm binds (RFC 7518 §3.4). */
const CURVE: Record<string, string> = { ES256: 'P-256', ES384: 'P-384', ES512: 'P-521' };
const MIN_RSA_BITS = 2048;
const encoder = new TextEncoder();

export const webCryptoJws: JwsBackend = {
  name: 'webcrypto',
  decode: base64url.decode,
  async verify(token, key, algorithms) {
    const { payload, protectedHeader } = await compactVerify(token, key, { algorithms: [...algorithms] });
    // jose has checked `crit`: when it names b64, `b64` is a boolean.
    const b64 = !(Array.isArray(protectedHeader.crit) && protectedHeader.crit.includes('b64')) || protectedHeader.b64;
    return { protectedHeader, payload, b64: b64 !== false };
  },
  async embeddedKey(alg, jwk) {
    const params = SIGNING[alg];
    if (params === undefined) throw new TypeError(`alg ${alg} is not supported for an embedded key`);
    const key = (await importJWK(jwk, alg)) as CryptoKey;
    // jose imported it for `alg`; what jose checks before each of its own verifies, checked once.
    const algorithm = key.algorithm as { name: string; namedCurve?: string; modulusLength?: number };
    if (key.type !== 'public' || algorithm.name !== params.name) throw new TypeError(`the key does not fit ${alg}`);
    if (CURVE[alg] !== undefined && algorithm.namedCurve !== CURVE[alg])
      throw new TypeError(`the key does not fit ${alg}`);
    if (algorithm.name.startsWith('RSA') && !((algorithm.modulusLength ?? 0) >= MIN_RSA_BITS))
      throw new TypeError(`${alg} requires key modulusLength to be ${MIN_RSA_BITS} bits or larger`);
    return (signingInput, signature) =>
      crypto.subtle
        .verify(params, key, base64url.decode(signature) as Uint8Array<ArrayBuffer>, encoder.encode(signingInput))
        .catch(() => false);
  },
};
