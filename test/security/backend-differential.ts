/**
 * Differential testing of the two signature backends (src/core/verify/jws-backend.ts): node:crypto
 * (our parse, our key binding, one-shot `crypto.verify`) against jose's WebCrypto `compactVerify`,
 * the implementation the verifier used before and still uses off Node. Both get the same token,
 * the same keys (one jose JWKS selection, as a verifier has) and the same allowlist; they must
 * agree on accept/reject, on the reason of a refusal, and on the header and claims they accept.
 *
 * Tokens come from fast-check: headers (every algorithm, `none`, junk `alg`s, known/unknown/odd
 * `kid`s, `crit`/`b64` variants, raw bytes that are not JSON or not UTF-8, duplicate members),
 * payloads (claims, non-objects, invalid UTF-8), signatures made by the genuine key for the
 * header's `alg` or for a swapped one, by a key of another type, curve or size (RSA-1024), by an
 * attacker, PSS with the wrong salt length, and then mutated (bit flips, truncation, extension,
 * ECDSA r or s zeroed, r = n, the high-S twin, DER instead of r‖s, random bytes), and whole tokens
 * re-spelled (padding, spare bits, `+/`, whitespace, segments added or lost).
 *
 * Named attacks ({@link ACCESS_TOKEN_ATTACKS}) come first, each with the answer both must give.
 *
 * Shared by test/security/backend-differential.test.ts (bounded, CI), test/security/fuzz-long.ts
 * (`npm run fuzz`, ≥ 10⁵ cases) and test/runtimes/differential-entry.ts (the same corpus on every
 * pinned Node, Bun and Deno). Runtime-neutral: no @jest/globals, no Node-only I/O, node:crypto and
 * node:buffer imported by name.
 */
import { Buffer } from 'node:buffer';
import {
  constants,
  createHmac,
  createPublicKey,
  generateKeyPairSync,
  sign as nodeSign,
  type KeyObject,
} from 'node:crypto';
import fc from 'fast-check';
import { createLocalJWKSet, type JWK } from 'jose';
import { AuthError } from '../../src/index.js';
import { jwsBackend, type JwsBackend } from '../../src/core/verify/jws-backend.js';
import type { RegisteredClaimRules } from '../../src/core/verify/registered-claims.js';
import { SignatureCheck } from '../../src/core/verify/signature.js';
import { checkCanonicalSegments } from '../../src/core/verify/token-shape.js';
import { toAuthError } from '../../src/core/shared/rejections.js';
import { b64u } from './encoding.js';

export const ASYMMETRIC = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'Ed25519',
] as const;
export const HMAC = ['HS256', 'HS384', 'HS512'] as const;
const ALL = [...ASYMMETRIC, ...HMAC];

export const ISSUER = 'https://idp.differential.example';
export const AUDIENCE = 'https://api.differential.example';
/** The verifiers' clock: a fixed instant, so claim checks never depend on when a case runs. */
export const NOW = 1_800_000_000_000;
const RULES: RegisteredClaimRules = { issuer: ISSUER, audience: AUDIENCE, clockTolerance: 5, requiredClaims: ['exp'] };
const SECRET = new TextEncoder().encode('differential-shared-secret-of-32+-bytes');

// --- keys ----------------------------------------------------------------------------------------

export interface TestKey {
  name: string;
  privateKey: KeyObject;
  /** As published in the JWKS; undefined for keys that are not (attackers). */
  publicJwk: JWK | undefined;
}

function keyPair(
  name: string,
  type: 'rsa' | 'ec' | 'ed25519',
  options: {
    bits?: number;
    curve?: string;
    alg?: string;
    kid?: string | null;
    published?: boolean;
    /** Published with its point moved off the curve (the last bit of `y` flipped): a broken JWKS. */
    offCurve?: boolean;
  },
): TestKey {
  const { privateKey, publicKey } =
    type === 'rsa'
      ? generateKeyPairSync('rsa', { modulusLength: options.bits ?? 2048 })
      : type === 'ec'
        ? generateKeyPairSync('ec', { namedCurve: options.curve! })
        : generateKeyPairSync('ed25519');
  const jwk = publicKey.export({ format: 'jwk' }) as JWK;
  if (options.offCurve) {
    const y = Buffer.from(jwk.y!, 'base64url');
    y[y.length - 1]! ^= 1;
    jwk.y = b64u(y);
  }
  const kid = options.kid === undefined ? name : options.kid;
  const publicJwk: JWK = {
    ...jwk,
    ...(kid !== null ? { kid } : {}),
    ...(options.alg ? { alg: options.alg } : {}),
    use: 'sig',
  };
  return { name, privateKey, publicJwk: options.published === false ? undefined : publicJwk };
}

/** The keys of a differential run: an IdP's published set plus keys nobody publishes. */
export interface DifferentialKeys {
  keys: TestKey[];
  jwks: { keys: JWK[] };
}

export function differentialKeys(): DifferentialKeys {
  const keys = [
    keyPair('rsa', 'rsa', { alg: 'RS256' }),
    keyPair('rsa-any', 'rsa', {}), // no alg: any RSA algorithm, RS* and PS*
    keyPair('rsa-pss', 'rsa', { alg: 'PS384' }),
    keyPair('rsa-short', 'rsa', { bits: 1024 }), // published, but below jose's 2048-bit floor
    keyPair('rsa-3072', 'rsa', { bits: 3072, alg: 'RS512' }),
    keyPair('p256', 'ec', { curve: 'P-256', alg: 'ES256' }),
    keyPair('p384', 'ec', { curve: 'P-384' }),
    keyPair('p521', 'ec', { curve: 'P-521', alg: 'ES512' }),
    keyPair('ed', 'ed25519', {}), // EdDSA and Ed25519
    // Off its curve: Node's and Bun's WebCrypto refuse to import it, Deno's imports it (and then
    // cannot use it); either way no token verifies with it.
    keyPair('p256-off-curve', 'ec', { curve: 'P-256', alg: 'ES256', offCurve: true }),
    // Two kid-less RSA keys: a token without kid matches both (the kid-less candidate path).
    keyPair('kidless-1', 'rsa', { alg: 'RS256', kid: null }),
    keyPair('kidless-2', 'rsa', { alg: 'RS256', kid: null }),
    keyPair('attacker-rsa', 'rsa', { published: false }),
    keyPair('attacker-p256', 'ec', { curve: 'P-256', published: false }),
    keyPair('attacker-ed', 'ed25519', { published: false }),
  ];
  return { keys, jwks: { keys: keys.flatMap((k) => (k.publicJwk ? [k.publicJwk] : [])) } };
}

// --- the two checks ------------------------------------------------------------------------------

export interface DifferentialContext {
  keys: DifferentialKeys;
  /** Signature checks per allowlist, per backend: [node:crypto, webcrypto]. */
  checks(algorithms: readonly string[]): [SignatureCheck, SignatureCheck];
}

export function differentialContext(keys = differentialKeys()): DifferentialContext {
  const node = jwsBackend('node:crypto');
  const web = jwsBackend('webcrypto')!;
  if (node === undefined) throw new Error('the node:crypto backend is not available in this runtime');
  // One jose selection for both, as one verifier has one JwksSource.
  const selector = createLocalJWKSet(keys.jwks);
  const jwks = { getKey: selector };
  const made = new Map<string, [SignatureCheck, SignatureCheck]>();
  const make = (backend: JwsBackend, algorithms: readonly string[]) =>
    new SignatureCheck({
      jwks,
      algorithms: [...algorithms],
      secret: algorithms.some((a) => a.startsWith('HS')) ? SECRET : undefined,
      backend,
    });
  return {
    keys,
    checks(algorithms) {
      const id = algorithms.join(',');
      let pair = made.get(id);
      if (pair === undefined) made.set(id, (pair = [make(node, algorithms), make(web, algorithms)]));
      return pair;
    },
  };
}

/** What one backend made of a token, through both entry points; compared as JSON. */
export interface Outcome {
  /** verifyJwt(): the accepted header and claims, or the refusal's reason. */
  jwt: { header: unknown; payload: unknown } | { refused: string } | { threw: string };
  /** verifySignature(): the payload bytes (base64url) and b64 flag, or the refusal's reason. */
  signature: { payload: string; b64: boolean } | { refused: string };
}

export async function outcomeOf(check: SignatureCheck, token: string): Promise<Outcome> {
  let jwt: Outcome['jwt'];
  try {
    // The verifier's callers check the shape first (the type says so); so does this one.
    checkCanonicalSegments(token);
    const { protectedHeader, payload } = await check.verifyJwt(token, RULES, NOW);
    jwt = { header: protectedHeader, payload };
  } catch (error) {
    jwt = error instanceof AuthError ? { refused: error.reason } : { threw: describe(error) };
  }
  let signature: Outcome['signature'];
  try {
    const { payload, b64 } = await check.verifySignature(token);
    signature = { payload: b64u(payload), b64 };
  } catch (error) {
    signature = { refused: toAuthError(error).reason };
  }
  return { jwt, signature };
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.constructor.name}: ${error.message}` : String(error);
}

// --- signing ---------------------------------------------------------------------------------------

const HASH_BYTES: Record<string, number> = { '256': 32, '384': 48, '512': 64 };
export const CURVE_ORDER: Record<string, bigint> = {
  'P-256': BigInt('0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551'),
  'P-384': BigInt('0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF581A0DB248B0A77AECEC196ACCC52973'),
  'P-521': BigInt(
    `0x01FF${'FFFFFFFF'.repeat(7)}FFFFFFFA51868783BF2F966B7FCC0148F709A5D03BB5C9B8899C47AEBB6FB71E91386409`,
  ),
};

/**
 * Edits of a genuine ECDSA signature (JWS `r || s`, `size` bytes each, on `curve`) and the answer
 * each must get: every one refused as `refused` (zero `r` or `s`, `r = n`, DER, wrong lengths),
 * but the high-S twin, which is a valid signature too (JWS does not require low S): `accepted`.
 */
export function ecdsaSignatureEdits(
  curve: string,
  size: number,
  refused: string,
  accepted: string,
): Array<[string, (sig: Buffer) => Buffer, string]> {
  const n = CURVE_ORDER[curve]!;
  const int = (value: bigint) => Buffer.from(value.toString(16).padStart(2 * size, '0'), 'hex');
  const big = (bytes: Buffer) => BigInt(`0x${bytes.toString('hex')}`);
  const der = (sig: Buffer) => {
    const integer = (bytes: Buffer) => {
      let trimmed = bytes;
      while (trimmed.length > 1 && trimmed[0] === 0 && !(trimmed[1]! & 0x80)) trimmed = trimmed.subarray(1);
      if (trimmed[0]! & 0x80) trimmed = Buffer.concat([Buffer.alloc(1), trimmed]);
      return Buffer.concat([Buffer.from([2, trimmed.length]), trimmed]);
    };
    const body = Buffer.concat([integer(sig.subarray(0, size)), integer(sig.subarray(size))]);
    return Buffer.concat([Buffer.from(body.length < 128 ? [0x30, body.length] : [0x30, 0x81, body.length]), body]);
  };
  return [
    ['r = 0', (sig) => Buffer.concat([Buffer.alloc(size), sig.subarray(size)]), refused],
    ['s = 0', (sig) => Buffer.concat([sig.subarray(0, size), Buffer.alloc(size)]), refused],
    ['r = s = 0', () => Buffer.alloc(2 * size), refused],
    ['r = n', (sig) => Buffer.concat([int(n), sig.subarray(size)]), refused],
    ['r = s = n', () => Buffer.concat([int(n), int(n)]), refused],
    ['DER', der, refused],
    ['one byte short', (sig) => sig.subarray(1), refused],
    ['one byte long', (sig) => Buffer.concat([sig, Buffer.alloc(1)]), refused],
    ['empty', () => Buffer.alloc(0), refused],
    ['high S', (sig) => Buffer.concat([sig.subarray(0, size), int(n - big(sig.subarray(size)))]), accepted],
  ];
}

/** How the signature is made: `saltLength` only for PSS (undefined = the hash length, as JWS requires). */
interface SigningChoice {
  as: string;
  key: TestKey;
  saltLength: number | undefined;
}

/**
 * The signature bytes `key` makes over `input` for algorithm `as`, or undefined when that key
 * cannot make one for it (an EC key asked for RS256): the case then gets random bytes.
 */
function signWith({ as, key, saltLength }: SigningChoice, input: string): Buffer | undefined {
  const data = Buffer.from(input, 'latin1');
  const bits = as.slice(-3);
  const type = key.privateKey.asymmetricKeyType;
  try {
    if (as.startsWith('HS')) return createHmac(`sha${bits}`, SECRET).update(data).digest();
    if (as.startsWith('RS') && type === 'rsa') return nodeSign(`sha${bits}`, data, key.privateKey);
    if (as.startsWith('PS') && type === 'rsa')
      return nodeSign(`sha${bits}`, data, {
        key: key.privateKey,
        padding: constants.RSA_PKCS1_PSS_PADDING,
        saltLength: saltLength ?? HASH_BYTES[bits]!,
      });
    if (as.startsWith('ES') && type === 'ec')
      return nodeSign(`sha${bits}`, data, { key: key.privateKey, dsaEncoding: 'ieee-p1363' });
    if ((as === 'EdDSA' || as === 'Ed25519') && type === 'ed25519') return nodeSign(null, data, key.privateKey);
  } catch {
    // e.g. a PSS salt too long for the modulus
  }
  return undefined;
}

function curveOf(key: TestKey): string | undefined {
  const curve = key.privateKey.asymmetricKeyDetails?.namedCurve;
  return { prime256v1: 'P-256', secp384r1: 'P-384', secp521r1: 'P-521' }[curve ?? ''];
}

// --- known deviations ------------------------------------------------------------------------------

/**
 * A way one runtime's backends are known to answer apart, each recognised exactly (never "any
 * disagreement"): the runtime differential (test/runtimes/run.ts) tolerates, counts and requires
 * the ones it pins for a runtime, so a runtime that changes shows up. Jest pins none.
 *
 * `webcrypto-imports-off-curve-ec-keys`: the WebCrypto of Deno 2.9 imports an EC public key whose
 * point is not on its curve (Node's and Bun's WebCrypto refuse it, as the WebCrypto spec requires;
 * so does every node:crypto, Deno's included) and only fails when it verifies with it. A token
 * whose key is such a JWKS key is refused as `signature_invalid` by WebCrypto there and as
 * `malformed_token` by node:crypto (the answer due); a DPoP proof carrying such a jwk as
 * `dpop_signature_invalid` and `dpop_proof_malformed` (due). Refused either way; only the reason
 * differs.
 */
export type KnownDeviation = 'webcrypto-imports-off-curve-ec-keys';

/** The curves' field primes and `b` (y² = x³ − 3x + b), to tell a point off its curve. */
const CURVES: Record<string, { p: bigint; b: bigint; bytes: number }> = {
  'P-256': {
    p: (1n << 256n) - (1n << 224n) + (1n << 192n) + (1n << 96n) - 1n,
    b: BigInt('0x5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604b'),
    bytes: 32,
  },
  'P-384': {
    p: (1n << 384n) - (1n << 128n) - (1n << 96n) + (1n << 32n) - 1n,
    b: BigInt('0xb3312fa7e23ee7e4988e056be3f82d19181d9c6efe8141120314088f5013875ac656398d8a2ed19d2a85c8edd3ec2aef'),
    bytes: 48,
  },
  'P-521': {
    p: (1n << 521n) - 1n,
    b: BigInt(
      `0x0051953eb9618e1c9a1f929a21a0b68540eea2da725b99b315f3b8b489918ef109e156193951ec7e937b1652c0bd3bb1bf07` +
        '3573df883d2c34f1ef451fd46b503f00',
    ),
    bytes: 66,
  },
};

/** Whether `jwk` is a well-formed EC public key (canonical, full-size coordinates) whose point is off its curve. */
export function isOffCurveEcJwk(jwk: unknown): boolean {
  const { kty, crv, x, y } = (typeof jwk === 'object' && jwk !== null ? jwk : {}) as Record<string, unknown>;
  const curve = typeof crv === 'string' ? CURVES[crv] : undefined;
  if (kty !== 'EC' || curve === undefined || typeof x !== 'string' || typeof y !== 'string') return false;
  const [bx, by] = [Buffer.from(x, 'base64url'), Buffer.from(y, 'base64url')];
  if (b64u(bx) !== x || b64u(by) !== y || bx.length !== curve.bytes || by.length !== curve.bytes) return false;
  const [px, py] = [BigInt(`0x${bx.toString('hex')}`), BigInt(`0x${by.toString('hex')}`)];
  const mod = (v: bigint) => ((v % curve.p) + curve.p) % curve.p;
  return px < curve.p && py < curve.p && mod(py * py) !== mod(px * px * px - 3n * px + curve.b);
}

/**
 * Whether jose's selection may hand `token` an off-curve key of `keys`: a published key that fits
 * the header's `alg` and is the one its `kid` names (or any such key, for a token without `kid`).
 */
function mayUseOffCurveKey(keys: DifferentialKeys, token: string): boolean {
  let header: { alg?: unknown; kid?: unknown };
  try {
    header = JSON.parse(Buffer.from(token.slice(0, token.indexOf('.')), 'base64url').toString('utf8'));
  } catch {
    return false;
  }
  const { alg, kid } = header;
  if (typeof alg !== 'string') return false;
  return keys.jwks.keys.some(
    (jwk) => fitsAlg(jwk, alg) && (kid === undefined || jwk.kid === kid) && isOffCurveEcJwk(jwk),
  );
}

/** The known deviation this access-token disagreement is, if it is exactly one of `tolerated`. */
function accessTokenDeviation(
  tolerated: readonly KnownDeviation[],
  keys: DifferentialKeys,
  token: string,
  nodeCrypto: Outcome,
  webCrypto: Outcome,
): KnownDeviation | undefined {
  const refused = (outcome: Outcome, reason: string) =>
    'refused' in outcome.jwt &&
    outcome.jwt.refused === reason &&
    'refused' in outcome.signature &&
    outcome.signature.refused === reason;
  if (
    tolerated.includes('webcrypto-imports-off-curve-ec-keys') &&
    refused(nodeCrypto, 'malformed_token') &&
    refused(webCrypto, 'signature_invalid') &&
    mayUseOffCurveKey(keys, token)
  )
    return 'webcrypto-imports-off-curve-ec-keys';
  return undefined;
}

// --- named attacks ---------------------------------------------------------------------------------

const CLAIMS = { iss: ISSUER, aud: AUDIENCE, sub: 'alice', jti: 'j1', iat: NOW / 1000 - 10, exp: NOW / 1000 + 600 };

interface SignedTokenOptions {
  /** What the signature is made as (default: the header's alg). */
  as?: string;
  /** PSS only (default: the hash length). */
  saltLength?: number;
  /** Edits the signature's bytes. */
  signature?: (bytes: Buffer) => Buffer;
  /** The payload's text (default: valid claims). */
  payload?: string;
}

/** A token with this header, signed over its exact text by `signer` as `as` (default: header.alg). */
export function signedToken(
  header: Record<string, unknown>,
  signer: TestKey | 'secret' | Uint8Array,
  options: SignedTokenOptions = {},
): string {
  const input = `${b64u(JSON.stringify(header))}.${b64u(options.payload ?? JSON.stringify(CLAIMS))}`;
  const as = options.as ?? (header.alg as string);
  const bits = as.slice(-3);
  const data = Buffer.from(input);
  let signature: Buffer;
  if (signer === 'secret' || signer instanceof Uint8Array)
    signature = createHmac(`sha${bits}`, signer === 'secret' ? SECRET : signer)
      .update(data)
      .digest();
  else if (as.startsWith('RS')) signature = nodeSign(`sha${bits}`, data, signer.privateKey);
  else if (as.startsWith('PS'))
    signature = nodeSign(`sha${bits}`, data, {
      key: signer.privateKey,
      padding: constants.RSA_PKCS1_PSS_PADDING,
      saltLength: options.saltLength ?? Number(bits) / 8,
    });
  else if (as.startsWith('ES'))
    signature = nodeSign(`sha${bits}`, data, { key: signer.privateKey, dsaEncoding: 'ieee-p1363' });
  else signature = nodeSign(null, data, signer.privateKey);
  return `${input}.${b64u(options.signature?.(signature) ?? signature)}`;
}

/** One named attack: the token, the allowlist (default: the asymmetric algorithms) and the answer due. */
export interface NamedAttack {
  name: string;
  token: string;
  algorithms?: readonly string[];
  /** `accepted`, or the reason of the refusal. */
  expected: string;
}

/** Named attacks on one theme (a jest test each); `key` finds a differential key by name. */
export interface NamedAttackGroup {
  title: string;
  cases(key: (name: string) => TestKey): NamedAttack[];
}

/** `accepted`, the refusal's reason, or what was thrown (never expected). */
export function verdictOf(outcome: Outcome): string {
  return 'refused' in outcome.jwt ? outcome.jwt.refused : 'header' in outcome.jwt ? 'accepted' : outcome.jwt.threw;
}

const ecdsaGroup = (alg: string, kid: string, curve: string, size: number): NamedAttackGroup => ({
  title: `${alg}: zero r or s, r = n, DER, wrong length are refused; the high-S twin verifies in both`,
  cases: (key) =>
    ecdsaSignatureEdits(curve, size, 'signature_invalid', 'accepted').map(([name, edit, expected]) => ({
      name,
      token: signedToken({ alg, kid }, key(kid), { signature: edit }),
      expected,
    })),
});

/** Attacks with the answer both backends must give (the jest suite runs one test per group). */
export const ACCESS_TOKEN_ATTACKS: NamedAttackGroup[] = [
  {
    title: 'genuine tokens of every algorithm family are accepted',
    cases: (key) => [
      ...(
        [
          ['RS256', 'rsa'],
          ['RS512', 'rsa-3072'],
          ['PS256', 'rsa-any'],
          ['PS384', 'rsa-pss'],
          ['ES256', 'p256'],
          ['ES384', 'p384'],
          ['ES512', 'p521'],
          ['EdDSA', 'ed'],
          ['Ed25519', 'ed'],
        ] as const
      ).map(([alg, kid]) => ({
        name: `${alg} (${kid})`,
        token: signedToken({ alg, kid }, key(kid)),
        expected: 'accepted',
      })),
      { name: 'HS256', token: signedToken({ alg: 'HS256' }, 'secret'), algorithms: ['HS256'], expected: 'accepted' },
    ],
  },
  {
    title: 'alg none (any case) and algorithms outside the allowlist are refused',
    cases: (key) => [
      ...['none', 'None', 'NONE'].map((alg) => ({
        name: alg,
        token: signedToken({ alg: 'RS256', kid: 'rsa' }, key('rsa')).replace(/^[^.]+/, b64u(`{"alg":"${alg}"}`)),
        expected: 'algorithm_not_allowed',
      })),
      {
        name: 'RS256 against an ES256 allowlist',
        token: signedToken({ alg: 'RS256', kid: 'rsa' }, key('rsa')),
        algorithms: ['ES256'],
        expected: 'algorithm_not_allowed',
      },
    ],
  },
  {
    title: 'HMAC keyed with the public key: not allowed, or (HS allowed) only the configured secret verifies',
    cases: (key) => {
      const pem = createPublicKey(key('rsa').privateKey).export({ type: 'spki', format: 'pem' }) as string;
      const confused = signedToken({ alg: 'HS256', kid: 'rsa' }, new TextEncoder().encode(pem));
      return [
        { name: 'HS256 not allowed', token: confused, expected: 'algorithm_not_allowed' },
        { name: 'HS256 allowed', token: confused, algorithms: ['RS256', 'HS256'], expected: 'signature_invalid' },
      ];
    },
  },
  {
    title: 'swapped algorithms, wrong curves and wrong key types find no key',
    cases: (key) =>
      (
        [
          ['PS256 under an RS256 JWK', 'PS256', 'rsa', 'rsa'],
          ['ES384 on a P-256 kid', 'ES384', 'p256', 'p384'],
          ['ES256 on an RSA kid', 'ES256', 'rsa', 'p256'],
          ['EdDSA on a P-256 kid', 'EdDSA', 'p256', 'ed'],
          ['RS256 on an Ed25519 kid', 'RS256', 'ed', 'rsa'],
        ] as const
      ).map(([name, alg, kid, signer]) => ({
        name,
        token: signedToken({ alg, kid }, key(signer)),
        expected: 'key_not_found',
      })),
  },
  {
    title: 'an EC key the JWKS publishes off its curve verifies nothing',
    cases: (key) => [
      {
        name: 'ES256 by the key whose public point was moved',
        token: signedToken({ alg: 'ES256', kid: 'p256-off-curve' }, key('p256-off-curve')),
        expected: 'malformed_token',
      },
    ],
  },
  {
    title: 'an RSA key under 2048 bits is refused even though the JWKS publishes it',
    cases: (key) =>
      ['RS256', 'PS256'].map((alg) => ({
        name: alg,
        token: signedToken({ alg, kid: 'rsa-short' }, key('rsa-short')),
        expected: 'malformed_token',
      })),
  },
  {
    title: 'RSA-PSS: only salt length = hash length verifies',
    cases: (key) => [
      ...[0, 20, 47, 49, constants.RSA_PSS_SALTLEN_MAX_SIGN].map((saltLength) => ({
        name: `salt ${saltLength}`,
        token: signedToken({ alg: 'PS384', kid: 'rsa-pss' }, key('rsa-pss'), { saltLength }),
        expected: 'signature_invalid',
      })),
      {
        name: 'salt 48',
        token: signedToken({ alg: 'PS384', kid: 'rsa-pss' }, key('rsa-pss'), { saltLength: 48 }),
        expected: 'accepted',
      },
    ],
  },
  {
    title: 'RS signature under a PS header (and back) over the same RSA key fails',
    cases: (key) => [
      {
        name: 'RS256 signature, PS256 header',
        token: signedToken({ alg: 'PS256', kid: 'rsa-any' }, key('rsa-any'), { as: 'RS256' }),
        expected: 'signature_invalid',
      },
      {
        name: 'PS256 signature, RS256 header',
        token: signedToken({ alg: 'RS256', kid: 'rsa-any' }, key('rsa-any'), { as: 'PS256' }),
        expected: 'signature_invalid',
      },
    ],
  },
  ecdsaGroup('ES256', 'p256', 'P-256', 32),
  ecdsaGroup('ES384', 'p384', 'P-384', 48),
  ecdsaGroup('ES512', 'p521', 'P-521', 66),
  {
    title: 'Ed25519: a signature over another message, or with a bit flipped, fails',
    cases: (key) => {
      const other = signedToken({ alg: 'EdDSA', kid: 'ed' }, key('ed'), { payload: '{"sub":"mallory"}' }).split(
        '.',
      )[2]!;
      const genuine = signedToken({ alg: 'EdDSA', kid: 'ed' }, key('ed'));
      return [
        { name: 'another message', token: genuine.replace(/[^.]+$/, other), expected: 'signature_invalid' },
        {
          name: 'bit flipped',
          token: signedToken({ alg: 'EdDSA', kid: 'ed' }, key('ed'), {
            signature: (sig) => Buffer.from(sig.map((b, i) => (i === 63 ? b ^ 0x80 : b))),
          }),
          expected: 'signature_invalid',
        },
      ];
    },
  },
  {
    title: 'crit and b64: unknown extensions unsupported, malformed crit and unencoded payloads refused',
    cases: (key) =>
      (
        [
          ['unknown extension', { crit: ['urn:x'], 'urn:x': 1 }, 'unsupported_token'],
          ['b64 false', { crit: ['b64'], b64: false }, 'malformed_token'],
          ['empty crit', { crit: [] }, 'malformed_token'],
          ['b64 missing', { crit: ['b64'] }, 'malformed_token'],
          ['b64 true', { crit: ['b64'], b64: true }, 'accepted'],
          ['b64 false, not critical (ignored)', { b64: false }, 'accepted'],
        ] as const
      ).map(([name, extra, expected]) => ({
        name,
        token: signedToken({ alg: 'RS256', kid: 'rsa', ...extra }, key('rsa')),
        expected,
      })),
  },
  {
    title: 'non-canonical base64url spellings of a genuine token are refused, in every segment',
    cases: (key) => {
      const segments = signedToken({ alg: 'ES256', kid: 'p256' }, key('p256')).split('.');
      return segments.flatMap((segment, index) =>
        [`${segment}=`, `${segment}==`, ` ${segment}`, segment.replace(/-/g, '+').replace(/_/g, '/')]
          .filter((variant) => variant !== segment)
          .map((variant) => ({
            name: `segment ${index}: ${JSON.stringify(variant.slice(-3))}`,
            token: segments.map((s, i) => (i === index ? variant : s)).join('.'),
            expected: 'malformed_token',
          })),
      );
    },
  },
  {
    title: 'a token without kid is tried against the first two keys that fit its alg, in JWKS order',
    // RS256 fits rsa, rsa-any, rsa-short, kidless-1, kidless-2 (in that order): only the first two
    // are tried. ES256 fits p256 and the off-curve key after it. ES512 fits one key: no candidates
    // to try, the one key decides.
    cases: (key) =>
      (
        [
          ['RS256', 'rsa', 'accepted'],
          ['RS256', 'rsa-any', 'accepted'],
          ['RS256', 'kidless-2', 'signature_invalid'],
          ['RS256', 'attacker-rsa', 'signature_invalid'],
          ['ES256', 'p256', 'accepted'],
          ['ES512', 'p521', 'accepted'],
        ] as const
      ).map(([alg, signer, expected]) => ({
        name: `${alg} by ${signer}`,
        token: signedToken({ alg }, key(signer)),
        expected,
      })),
  },
  {
    title: 'a token signed by a key nobody publishes, under a published kid, fails its signature',
    cases: (key) =>
      (
        [
          ['RS256', 'rsa', 'attacker-rsa'],
          ['ES256', 'p256', 'attacker-p256'],
          ['EdDSA', 'ed', 'attacker-ed'],
        ] as const
      ).map(([alg, kid, signer]) => ({
        name: `${alg} by ${signer}`,
        token: signedToken({ alg, kid }, key(signer)),
        expected: 'signature_invalid',
      })),
  },
];

/** A named attack the backends disagree on, or agree on with the wrong answer. */
export interface NamedAttackFailure {
  group: string;
  name: string;
  expected: string;
  nodeCrypto: string;
  webCrypto: string;
}

/**
 * Every named attack through both backends; the failures (none when both give every answer due).
 * A disagreement that is one of the `tolerated` deviations, node:crypto giving the answer due, is
 * counted in `deviations` instead.
 */
export async function checkNamedAttacks(
  ctx: DifferentialContext,
  tolerated: readonly KnownDeviation[] = [],
): Promise<{ cases: number; failures: NamedAttackFailure[]; deviations: Map<KnownDeviation, number> }> {
  const key = (name: string) => ctx.keys.keys.find((k) => k.name === name)!;
  const failures: NamedAttackFailure[] = [];
  const deviations = new Map<KnownDeviation, number>();
  let cases = 0;
  for (const group of ACCESS_TOKEN_ATTACKS) {
    for (const attack of group.cases(key)) {
      cases += 1;
      const [node, web] = ctx.checks(attack.algorithms ?? ASYMMETRIC);
      const ours = await outcomeOf(node, attack.token);
      const theirs = await outcomeOf(web, attack.token);
      const agree = JSON.stringify(ours) === JSON.stringify(theirs);
      const deviation = agree ? undefined : accessTokenDeviation(tolerated, ctx.keys, attack.token, ours, theirs);
      if (deviation !== undefined && verdictOf(ours) === attack.expected)
        deviations.set(deviation, (deviations.get(deviation) ?? 0) + 1);
      else if (!agree || verdictOf(ours) !== attack.expected)
        failures.push({
          group: group.title,
          name: attack.name,
          expected: attack.expected,
          nodeCrypto: JSON.stringify(ours),
          webCrypto: JSON.stringify(theirs),
        });
    }
  }
  return { cases, failures, deviations };
}

// --- arbitraries ---------------------------------------------------------------------------------

const ODD_ALGS = ['none', 'NONE', 'rs256', 'RS256 ', '', 'HS1', 'ML-DSA-44', 'A256GCM', 'dir'];
const ODD_VALUES = [null, 0, 1, true, ['RS256'], { alg: 'RS256' }];

const headerAlg = fc.oneof(
  { weight: 12, arbitrary: fc.constantFrom(...ALL) },
  { weight: 2, arbitrary: fc.constantFrom<unknown>(...ODD_ALGS) },
  { weight: 1, arbitrary: fc.constantFrom<unknown>(...ODD_VALUES) },
  { weight: 1, arbitrary: fc.constant<unknown>(undefined) },
);

const CRIT_VARIANTS: Array<Record<string, unknown>> = [
  { crit: ['b64'], b64: true },
  { crit: ['b64'], b64: false },
  { crit: ['b64'] },
  { crit: ['b64'], b64: 'false' },
  { crit: ['b64', 'b64'], b64: true },
  { crit: ['urn:example:ext'], 'urn:example:ext': 1 },
  { crit: ['urn:example:absent'] },
  { crit: ['alg'] },
  { crit: [] },
  { crit: 'b64', b64: true },
  { crit: [1] },
  { crit: [''] },
  { crit: null },
  { b64: false },
  { b64: true },
];

/** Stands for "the kid of a key that fits the header's alg". */
const FITTING = Symbol('fitting kid');
const kidOf = (key: TestKey): string => (typeof key.publicJwk?.kid === 'string' ? key.publicJwk.kid : key.name);

/** Whether jose's JWKS selection would pick `jwk` for `alg` (kty, crv, the JWK's own alg). */
function fitsAlg(jwk: JWK | undefined, alg: string): boolean {
  if (jwk === undefined) return false;
  if (jwk.alg !== undefined && jwk.alg !== alg) return false;
  if (/^(RS|PS)/.test(alg)) return jwk.kty === 'RSA';
  if (alg === 'ES256') return jwk.crv === 'P-256';
  if (alg === 'ES384') return jwk.crv === 'P-384';
  if (alg === 'ES512') return jwk.crv === 'P-521';
  return (alg === 'EdDSA' || alg === 'Ed25519') && jwk.crv === 'Ed25519';
}

/** The protected header as a value, and as the text (or raw bytes) that will be encoded. */
const headerBytes = (keys: DifferentialKeys) =>
  fc
    .record({
      alg: headerAlg,
      kid: fc.oneof(
        { weight: 8, arbitrary: fc.constant<unknown>(FITTING) },
        { weight: 4, arbitrary: fc.constantFrom<unknown>(...keys.keys.map(kidOf)) },
        { weight: 2, arbitrary: fc.constant<unknown>(undefined) },
        { weight: 1, arbitrary: fc.constantFrom<unknown>('unknown', '', 123, null, ['rsa']) },
      ),
      fitting: fc.nat(),
      typ: fc.constantFrom<unknown>(undefined, 'at+jwt', 'JWT', 7),
      extra: fc.oneof(
        { weight: 10, arbitrary: fc.constant<Record<string, unknown>>({}) },
        { weight: 3, arbitrary: fc.constantFrom(...CRIT_VARIANTS) },
        { weight: 1, arbitrary: fc.dictionary(fc.string({ maxLength: 5 }), fc.jsonValue({ maxDepth: 1 })) },
      ),
      form: fc.oneof(
        { weight: 30, arbitrary: fc.constant('json' as const) },
        { weight: 1, arbitrary: fc.constant('duplicate-alg' as const) },
        { weight: 1, arbitrary: fc.constant('array' as const) },
        { weight: 1, arbitrary: fc.constant('not-json' as const) },
        { weight: 1, arbitrary: fc.constant('not-utf8' as const) },
        { weight: 1, arbitrary: fc.constant('empty' as const) },
      ),
    })
    .map(({ alg, kid, fitting, typ, extra, form }) => {
      const header: Record<string, unknown> = { ...extra };
      if (alg !== undefined) header.alg = alg;
      if (kid === FITTING) {
        // The kid of a published key jose would select for this alg (when there is one).
        const fits = typeof alg === 'string' ? keys.keys.filter((k) => fitsAlg(k.publicJwk, alg)) : [];
        const chosen = fits[fitting % Math.max(1, fits.length)];
        if (chosen?.publicJwk?.kid !== undefined) header.kid = chosen.publicJwk.kid;
      } else if (kid !== undefined) header.kid = kid;
      if (typ !== undefined) header.typ = typ;
      const text = JSON.stringify(header);
      const bytes: Buffer =
        form === 'duplicate-alg'
          ? Buffer.from(`{"alg":"none",${text.slice(1)}`)
          : form === 'array'
            ? Buffer.from(`[${text}]`)
            : form === 'not-json'
              ? Buffer.from(text.slice(0, -1))
              : form === 'not-utf8'
                ? Buffer.concat([
                    Buffer.from(text.slice(0, -1)),
                    Buffer.from([0x2c, 0x22, 0xc3, 0x28, 0x22, 0x3a, 0x31, 0x7d]),
                  ])
                : form === 'empty'
                  ? Buffer.alloc(0)
                  : Buffer.from(text);
      return { alg: typeof alg === 'string' ? alg : undefined, bytes };
    });

const claimsBytes = fc
  .record({
    form: fc.oneof(
      { weight: 12, arbitrary: fc.constant('claims' as const) },
      { weight: 1, arbitrary: fc.constant('array' as const) },
      { weight: 1, arbitrary: fc.constant('string' as const) },
      { weight: 1, arbitrary: fc.constant('not-utf8' as const) },
      { weight: 1, arbitrary: fc.constant('noise' as const) },
    ),
    exp: fc.oneof(
      { weight: 6, arbitrary: fc.constant<unknown>(NOW / 1000 + 600) },
      { weight: 1, arbitrary: fc.constantFrom<unknown>(NOW / 1000 - 600, 'soon') },
    ),
    aud: fc.oneof(
      { weight: 6, arbitrary: fc.constantFrom<unknown>(AUDIENCE, [AUDIENCE, 'x']) },
      { weight: 1, arbitrary: fc.constant<unknown>('https://other.example') },
    ),
    extra: fc.dictionary(fc.string({ maxLength: 6 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 }),
    noise: fc.uint8Array({ maxLength: 40 }),
  })
  .map(({ form, exp, aud, extra, noise }) => {
    const claims = { ...extra, iss: ISSUER, aud, sub: 'alice', iat: NOW / 1000 - 10, exp, jti: 'j' };
    if (form === 'array') return Buffer.from(JSON.stringify([claims]));
    if (form === 'string') return Buffer.from(JSON.stringify('claims'));
    if (form === 'not-utf8')
      return Buffer.concat([Buffer.from('{"sub":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]);
    if (form === 'noise') return Buffer.from(noise);
    return Buffer.from(JSON.stringify(claims));
  });

type SignatureMutation =
  | { kind: 'none' }
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'truncate'; by: number }
  | { kind: 'extend'; bytes: Uint8Array }
  | { kind: 'prepend-zero' }
  | { kind: 'zero-r' | 'zero-s' | 'zero-both' | 'r-is-n' | 'high-s' | 'der' }
  | { kind: 'random'; bytes: Uint8Array }
  | { kind: 'empty' };

const signatureMutation: fc.Arbitrary<SignatureMutation> = fc.oneof(
  { weight: 16, arbitrary: fc.constant({ kind: 'none' as const }) },
  {
    weight: 3,
    arbitrary: fc.record({ kind: fc.constant('flip' as const), at: fc.nat(600), bit: fc.integer({ min: 0, max: 7 }) }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('truncate' as const), by: fc.integer({ min: 1, max: 3 }) }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('extend' as const),
      bytes: fc.uint8Array({ minLength: 1, maxLength: 2 }),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'prepend-zero' as const }) },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      ...(['zero-r', 'zero-s', 'zero-both', 'r-is-n', 'high-s', 'der'] as const).map((kind) => ({ kind })),
    ),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('random' as const), bytes: fc.uint8Array({ maxLength: 140 }) }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'empty' as const }) },
);

function mutateSignature(signature: Buffer, mutation: SignatureMutation, curve: string | undefined): Buffer {
  const half = signature.length / 2;
  switch (mutation.kind) {
    case 'none':
      return signature;
    case 'flip': {
      if (signature.length === 0) return signature;
      const out = Buffer.from(signature);
      const at = mutation.at % out.length;
      out[at] = out[at]! ^ (1 << mutation.bit);
      return out;
    }
    case 'truncate':
      return signature.subarray(0, Math.max(0, signature.length - mutation.by));
    case 'extend':
      return Buffer.concat([signature, mutation.bytes]);
    case 'prepend-zero':
      return Buffer.concat([Buffer.alloc(1), signature]);
    case 'zero-r':
      return Buffer.concat([Buffer.alloc(half), signature.subarray(half)]);
    case 'zero-s':
      return Buffer.concat([signature.subarray(0, half), Buffer.alloc(half)]);
    case 'zero-both':
      return Buffer.alloc(signature.length);
    case 'r-is-n':
    case 'high-s': {
      const order = curve && CURVE_ORDER[curve];
      if (!order || !Number.isInteger(half) || half === 0) return signature;
      const s = BigInt(`0x${signature.subarray(half).toString('hex') || '0'}`);
      const [r2, s2] =
        mutation.kind === 'r-is-n'
          ? [order, s]
          : [BigInt(`0x${signature.subarray(0, half).toString('hex')}`), order - s];
      const bytes = (v: bigint) =>
        Buffer.from(
          v
            .toString(16)
            .padStart(half * 2, '0')
            .slice(-half * 2),
          'hex',
        );
      return Buffer.concat([bytes(r2), bytes(s2)]);
    }
    case 'der': {
      if (!Number.isInteger(half) || half === 0) return signature;
      const integer = (bytes: Buffer) => {
        let trimmed = bytes;
        while (trimmed.length > 1 && trimmed[0] === 0 && !(trimmed[1]! & 0x80)) trimmed = trimmed.subarray(1);
        if (trimmed[0]! & 0x80) trimmed = Buffer.concat([Buffer.alloc(1), trimmed]);
        return Buffer.concat([Buffer.from([2, trimmed.length]), trimmed]);
      };
      const body = Buffer.concat([integer(signature.subarray(0, half)), integer(signature.subarray(half))]);
      const head = body.length < 128 ? Buffer.from([0x30, body.length]) : Buffer.from([0x30, 0x81, body.length]);
      return Buffer.concat([head, body]);
    }
    case 'random':
      return Buffer.from(mutation.bytes);
    case 'empty':
      return Buffer.alloc(0);
  }
}

type Respelling =
  | { kind: 'none' }
  | { kind: 'pad' | 'spare-bits' | 'plus-slash' | 'space' | 'newline'; segment: 0 | 1 | 2 }
  | { kind: 'extra-segment' | 'drop-signature' | 'leading-dot' };

const respelling: fc.Arbitrary<Respelling> = fc.oneof(
  { weight: 30, arbitrary: fc.constant({ kind: 'none' as const }) },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constantFrom(
        'pad' as const,
        'spare-bits' as const,
        'plus-slash' as const,
        'space' as const,
        'newline' as const,
      ),
      segment: fc.constantFrom(0 as const, 1 as const, 2 as const),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      ...(['extra-segment', 'drop-signature', 'leading-dot'] as const).map((kind) => ({ kind })),
    ),
  },
);

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

function respell(token: string, how: Respelling): string {
  const segments = token.split('.');
  switch (how.kind) {
    case 'none':
      return token;
    case 'extra-segment':
      return `${token}.AAAA`;
    case 'drop-signature':
      return segments.slice(0, 2).join('.');
    case 'leading-dot':
      return `.${token}`;
    default: {
      const segment = segments[how.segment] ?? '';
      let changed = segment;
      if (how.kind === 'pad') changed = segment + '='.repeat((4 - (segment.length % 4)) % 4 || 1);
      else if (how.kind === 'spare-bits') {
        const spare = segment.length % 4;
        if (spare === 2 || spare === 3) {
          const last = ALPHABET.indexOf(segment.at(-1)!);
          changed = segment.slice(0, -1) + ALPHABET[last ^ 1]!;
        } else changed = `${segment}A`;
      } else if (how.kind === 'plus-slash') changed = segment.replace(/-/g, '+').replace(/_/g, '/') || '+';
      else if (how.kind === 'space') changed = `${segment.slice(0, 4)} ${segment.slice(4)}`;
      else changed = `${segment.slice(0, 4)}\n${segment.slice(4)}`;
      segments[how.segment] = changed;
      return segments.join('.');
    }
  }
}

/** An allowlist: every algorithm, the asymmetric ones, or a random non-empty subset. */
const allowlist = fc.oneof(
  { weight: 3, arbitrary: fc.constant([...ALL] as string[]) },
  { weight: 3, arbitrary: fc.constant([...ASYMMETRIC] as string[]) },
  { weight: 2, arbitrary: fc.subarray([...ALL] as string[], { minLength: 1 }) },
);

export interface DifferentialCase {
  token: string;
  algorithms: string[];
}

/** Tokens as described in the file comment, with the allowlist they are checked against. */
export function differentialCases(keys: DifferentialKeys): fc.Arbitrary<DifferentialCase> {
  return fc
    .record({
      header: headerBytes(keys),
      payload: claimsBytes,
      // Usually the key the header's kid names (a genuine signature), else any key.
      signer: fc.oneof(
        { weight: 3, arbitrary: fc.constant<TestKey | undefined>(undefined) },
        { weight: 1, arbitrary: fc.constantFrom<TestKey | undefined>(...keys.keys) },
      ),
      signAs: fc.oneof(
        { weight: 4, arbitrary: fc.constant<string | undefined>(undefined) },
        { weight: 1, arbitrary: fc.constantFrom<string | undefined>(...ALL) },
      ),
      saltLength: fc.oneof(
        { weight: 4, arbitrary: fc.constant<number | undefined>(undefined) },
        { weight: 1, arbitrary: fc.constantFrom<number | undefined>(0, 20, 31, 33, 47, 49, 63, 65, -2) },
      ),
      mutation: signatureMutation,
      respelling,
      algorithms: allowlist,
      randomSignature: fc.uint8Array({ minLength: 0, maxLength: 80 }),
    })
    .map(({ header, payload, signer, signAs, saltLength, mutation, respelling: how, algorithms, randomSignature }) => {
      const input = `${b64u(header.bytes)}.${b64u(payload)}`;
      const named = keyNamedBy(keys, header.bytes);
      const key = signer ?? named ?? keys.keys[0]!;
      const as = signAs ?? header.alg ?? 'RS256';
      const genuine = signWith({ as, key, saltLength }, input);
      const signature = mutateSignature(genuine ?? Buffer.from(randomSignature), mutation, curveOf(key));
      return { token: respell(`${input}.${b64u(signature)}`, how), algorithms };
    });
}

/** The key whose kid the header names (by text: the header may not be JSON). */
function keyNamedBy(keys: DifferentialKeys, header: Buffer): TestKey | undefined {
  const kid = /"kid":"([^"]*)"/.exec(header.toString('latin1'))?.[1];
  if (kid === undefined) return keys.keys.find((k) => k.name === 'kidless-1');
  return keys.keys.find((k) => k.publicJwk?.kid === kid || k.name === kid);
}

// --- the property ----------------------------------------------------------------------------------

export interface DifferentialTally {
  cases: number;
  /** Outcomes of the node:crypto side by first word + reason (`accepted`, `refused signature_invalid`, …). */
  outcomes: Map<string, number>;
  /** Accepted cases per header alg: proof the generator reaches every algorithm's success path. */
  acceptedByAlg: Map<string, number>;
  /** Disagreements that were one of the tolerated deviations. */
  deviations: Map<KnownDeviation, number>;
}

/**
 * Runs `numRuns` generated cases through both backends; throws (fast-check's report: seed, path,
 * shrunk counterexample) at the first disagreement that is not one of `tolerated`.
 */
export async function propertyBackendsAgree(
  ctx: DifferentialContext,
  settings: { numRuns: number; seed: number | undefined },
  tolerated: readonly KnownDeviation[] = [],
): Promise<DifferentialTally> {
  const tally: DifferentialTally = { cases: 0, outcomes: new Map(), acceptedByAlg: new Map(), deviations: new Map() };
  await fc.assert(
    fc.asyncProperty(differentialCases(ctx.keys), async ({ token, algorithms }) => {
      const [node, web] = ctx.checks(algorithms);
      const ours = await outcomeOf(node, token);
      const jose = await outcomeOf(web, token);
      const deviation =
        JSON.stringify(ours) === JSON.stringify(jose)
          ? undefined
          : accessTokenDeviation(tolerated, ctx.keys, token, ours, jose);
      if (deviation !== undefined) tally.deviations.set(deviation, (tally.deviations.get(deviation) ?? 0) + 1);
      else if (JSON.stringify(ours) !== JSON.stringify(jose))
        throw new Error(
          `backends disagree on ${token} (allowlist ${algorithms.join(',')})\n` +
            `  node:crypto ${JSON.stringify(ours)}\n  webcrypto   ${JSON.stringify(jose)}`,
        );
      tally.cases += 1;
      const summary =
        'refused' in ours.jwt ? `refused ${ours.jwt.refused}` : 'threw' in ours.jwt ? 'threw' : 'accepted';
      tally.outcomes.set(summary, (tally.outcomes.get(summary) ?? 0) + 1);
      if ('header' in ours.jwt) {
        const alg = String((ours.jwt.header as { alg: unknown }).alg);
        tally.acceptedByAlg.set(alg, (tally.acceptedByAlg.get(alg) ?? 0) + 1);
      }
    }),
    {
      numRuns: settings.numRuns,
      ...(settings.seed !== undefined ? { seed: settings.seed } : {}),
      interruptAfterTimeLimit: 15 * 60_000,
      markInterruptAsFailure: false,
    },
  );
  return tally;
}
