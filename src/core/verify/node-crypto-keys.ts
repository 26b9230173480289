/**
 * Verification keys for node:crypto's one-shot `verify`, prepared once per key and algorithm:
 * the WebCrypto `CryptoKey` jose's JWKS selection imported (so key selection and import stay
 * jose's), checked the way jose checks it before every WebCrypto verify (public, algorithm name,
 * hash, curve, `verify` usage, RSA ≥ 2048 bits), then turned into a `KeyObject` with the exact
 * signature parameters bound to the JWS algorithm:
 *   RS*: PKCS#1 v1.5; PS*: PSS, MGF1 with the same hash, salt length = hash length;
 *   ES*: IEEE P1363 r‖s of exactly twice the curve's size, r and s non-zero, curve bound to alg;
 *   EdDSA / Ed25519: Ed25519; HS*: HMAC over the configured secret, compared in constant time.
 * Prepared keys are cached per `CryptoKey` object: a JWKS refresh brings new `CryptoKey`s, so a
 * rotated-out key's entry is garbage with it.
 *
 * A key a JWS carries itself (a DPoP proof's `jwk`) becomes a `KeyObject` straight from its JWK
 * (no WebCrypto import first: ~45 µs for a P-256 key instead of ~80), gets the same second look
 * and the same signature parameters, and is not cached here (its caller keeps it per key, in a
 * bounded LRU).
 */
import type { CryptoKey } from 'jose';

/** The part of node:crypto used here (reached through `process.getBuiltinModule`, never imported). */
export interface NodeCrypto {
  KeyObject: { from(key: CryptoKey): NodeKeyObject };
  createPublicKey(key: { key: Readonly<Record<string, string>>; format: 'jwk' }): NodeKeyObject;
  createSecretKey(key: Uint8Array): NodeKeyObject;
  createHmac(hash: string, key: NodeKeyObject): { update(data: Uint8Array): { digest(): Uint8Array } };
  timingSafeEqual(a: Uint8Array, b: Uint8Array): boolean;
  verify(hash: string | null, data: Uint8Array, key: NodeKeyObject | object, signature: Uint8Array): boolean;
  constants: { RSA_PKCS1_PADDING: number; RSA_PKCS1_PSS_PADDING: number };
}

/** The part of a node:crypto `KeyObject` read here. */
export interface NodeKeyObject {
  type: string;
  asymmetricKeyType?: string;
  asymmetricKeyDetails?: { modulusLength?: number; namedCurve?: string };
}

/** Checks a signature over the signing input's bytes; false for any failure, never a throw. */
export type SignatureVerifier = (data: Uint8Array, signature: Uint8Array) => boolean;

interface Prepared {
  alg: string;
  verify: SignatureVerifier;
}

type Family = 'RSASSA-PKCS1-v1_5' | 'RSA-PSS' | 'ECDSA' | 'Ed25519';

/** What each asymmetric JWS algorithm binds: WebCrypto name, hash, curve and its sizes. */
const ASYMMETRIC: Record<string, { family: Family; hash?: string; curve?: string; size?: number }> = {
  RS256: { family: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
  RS384: { family: 'RSASSA-PKCS1-v1_5', hash: 'SHA-384' },
  RS512: { family: 'RSASSA-PKCS1-v1_5', hash: 'SHA-512' },
  PS256: { family: 'RSA-PSS', hash: 'SHA-256', size: 32 },
  PS384: { family: 'RSA-PSS', hash: 'SHA-384', size: 48 },
  PS512: { family: 'RSA-PSS', hash: 'SHA-512', size: 64 },
  ES256: { family: 'ECDSA', hash: 'SHA-256', curve: 'P-256', size: 32 },
  ES384: { family: 'ECDSA', hash: 'SHA-384', curve: 'P-384', size: 48 },
  ES512: { family: 'ECDSA', hash: 'SHA-512', curve: 'P-521', size: 66 },
  EdDSA: { family: 'Ed25519' },
  Ed25519: { family: 'Ed25519' },
};
const HMAC: Record<string, string> = { HS256: 'sha256', HS384: 'sha384', HS512: 'sha512' };
/** OpenSSL's names of the JOSE curves, as a KeyObject reports them. */
const OPENSSL_CURVE: Record<string, string> = { 'P-256': 'prime256v1', 'P-384': 'secp384r1', 'P-521': 'secp521r1' };
const MIN_RSA_BITS = 2048;

/** Prepares and caches {@link SignatureVerifier}s for one node:crypto module. */
export class NodeCryptoKeys {
  private readonly prepared = new WeakMap<object, Prepared>();

  constructor(private readonly crypto: NodeCrypto) {}

  /**
   * The verifier for `alg` with `key` (a public `CryptoKey`, or the HMAC secret's bytes for HS*).
   * Throws a TypeError, as jose does, for a key that does not fit the algorithm.
   */
  verifierFor(alg: string, key: CryptoKey | Uint8Array): SignatureVerifier {
    const cached = this.prepared.get(key);
    if (cached !== undefined && cached.alg === alg) return cached.verify;
    const verify = HMAC[alg] !== undefined ? this.hmac(alg, key) : this.asymmetric(alg, key);
    this.prepared.set(key, { alg, verify });
    return verify;
  }

  /**
   * The verifier for the asymmetric `alg` with a public JWK (a key the JWS carried itself). Throws
   * a TypeError for a JWK node:crypto cannot import, or a key that does not fit `alg` (family,
   * curve, RSA under 2048 bits).
   */
  verifierForJwk(alg: string, jwk: Readonly<Record<string, string>>): SignatureVerifier {
    const spec = ASYMMETRIC[alg];
    if (spec === undefined) throw new TypeError(`alg ${alg} is not supported for an embedded key`);
    let keyObject: NodeKeyObject;
    try {
      keyObject = this.crypto.createPublicKey({ key: jwk, format: 'jwk' });
    } catch (cause) {
      throw new TypeError('the JWK is not a key node:crypto can import', { cause });
    }
    checkKeyObject(alg, spec, keyObject);
    return this.verifier(spec, keyObject);
  }

  private hmac(alg: string, key: CryptoKey | Uint8Array): SignatureVerifier {
    if (!(key instanceof Uint8Array)) throw new TypeError(`Key for the ${alg} algorithm must be a Uint8Array`);
    const { crypto } = this;
    const secret = crypto.createSecretKey(key);
    const hash = HMAC[alg]!;
    return (data, signature) => {
      const expected = crypto.createHmac(hash, secret).update(data).digest();
      return expected.length === signature.length && crypto.timingSafeEqual(expected, signature);
    };
  }

  private asymmetric(alg: string, key: CryptoKey | Uint8Array): SignatureVerifier {
    const spec = ASYMMETRIC[alg];
    if (spec === undefined) throw new TypeError(`alg ${alg} is not supported`);
    if (key instanceof Uint8Array || key.type !== 'public')
      throw new TypeError(`Key for the ${alg} algorithm must be a public CryptoKey`);
    // jose's checkCryptoKey: the key was imported for exactly this algorithm, to verify.
    const algorithm = key.algorithm as { name: string; hash?: { name: string }; namedCurve?: string };
    if (algorithm.name !== spec.family) throw unusable(`algorithm.name must be ${spec.family}`);
    if (spec.family.startsWith('RSA') && algorithm.hash?.name !== spec.hash)
      throw unusable(`algorithm.hash must be ${spec.hash}`);
    if (spec.curve !== undefined && algorithm.namedCurve !== spec.curve)
      throw unusable(`algorithm.namedCurve must be ${spec.curve}`);
    if (!key.usages.includes('verify')) throw unusable('usages must include verify');
    const modulusLength = (algorithm as { modulusLength?: unknown }).modulusLength;
    if (spec.family.startsWith('RSA') && (typeof modulusLength !== 'number' || modulusLength < MIN_RSA_BITS))
      throw new TypeError(`${alg} requires key modulusLength to be ${MIN_RSA_BITS} bits or larger`);

    const keyObject = this.crypto.KeyObject.from(key);
    checkKeyObject(alg, spec, keyObject);
    return this.verifier(spec, keyObject);
  }

  private verifier(spec: (typeof ASYMMETRIC)[string], key: NodeKeyObject): SignatureVerifier {
    const { crypto } = this;
    const hash = spec.hash?.replace('SHA-', 'sha') ?? null;
    switch (spec.family) {
      case 'RSASSA-PKCS1-v1_5':
        // PKCS#1 v1.5 is what node uses for an 'rsa' key unless told otherwise, and the bare key
        // spares node reading an options object on every call (~2 % of the verify call); only an
        // 'rsa-pss' key needs the padding spelled out.
        return guarded(
          crypto,
          hash,
          key.asymmetricKeyType === 'rsa' ? key : { key, padding: crypto.constants.RSA_PKCS1_PADDING },
        );
      case 'RSA-PSS':
        return guarded(crypto, hash, {
          key,
          padding: crypto.constants.RSA_PKCS1_PSS_PADDING,
          saltLength: spec.size,
        });
      case 'ECDSA': {
        const check = guarded(crypto, hash, { key, dsaEncoding: 'ieee-p1363' });
        const size = spec.size!;
        // WebCrypto refuses anything but exactly r‖s; OpenSSL refuses r or s = 0, checked here too.
        return (data, signature) =>
          signature.length === 2 * size && !isZero(signature, 0, size) && !isZero(signature, size, 2 * size)
            ? check(data, signature)
            : false;
      }
      case 'Ed25519':
        return guarded(crypto, null, key);
    }
  }
}

/** The KeyObject must be what the CryptoKey said it was (a second look, once per key). */
function checkKeyObject(alg: string, spec: (typeof ASYMMETRIC)[string], key: NodeKeyObject): void {
  const details = key.asymmetricKeyDetails ?? {};
  const fits =
    key.type === 'public' &&
    (spec.family === 'ECDSA'
      ? key.asymmetricKeyType === 'ec' && details.namedCurve === OPENSSL_CURVE[spec.curve!]
      : spec.family === 'Ed25519'
        ? key.asymmetricKeyType === 'ed25519'
        : (key.asymmetricKeyType === 'rsa' || key.asymmetricKeyType === 'rsa-pss') &&
          (details.modulusLength ?? 0) >= MIN_RSA_BITS);
  if (!fits) throw new TypeError(`the key does not fit ${alg}`);
}

/** crypto.verify with fixed arguments; a throw (malformed input OpenSSL refuses) is a failed check. */
function guarded(crypto: NodeCrypto, hash: string | null, key: NodeKeyObject | object): SignatureVerifier {
  return (data, signature) => {
    try {
      return crypto.verify(hash, data, key, signature);
    } catch {
      return false;
    }
  };
}

function isZero(bytes: Uint8Array, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (bytes[i] !== 0) return false;
  return true;
}

const unusable = (what: string) => new TypeError(`CryptoKey does not support this operation, its ${what}`);
