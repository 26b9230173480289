/**
 * One DPoP proof (RFC 9449 §4.3) checked against the request, the access token and the key the
 * token is bound to. Cheap, local checks first; the one store round trip (the `jti` claimed once,
 * across every instance sharing the store) last, so a proof refused for any other reason never
 * uses up its `jti`. Every failure is an `AuthError` (401, or 503 when the store cannot answer):
 * never a 500, never a pass.
 *
 * Not checked here: the access token itself (the verifier did that, or its cache vouches for it),
 * how many `DPoP` headers came (the header reader), what the route requires.
 */
import { base64url, type CryptoKey, importJWK } from 'jose';
import type { LRUCache } from 'lru-cache';
import { InvalidDpopProofError, InvalidTokenError, UseDpopNonceError } from '../shared/errors.js';
import type { RejectionReason } from '../shared/revocable-jwt-error.js';
import { sha256 } from '../shared/sha256.js';
import type { DpopSettings } from '../verify/dpop-options.js';
import { normalizedHttpUri } from './dpop-htu.js';
import type { NonceSource } from './dpop-nonce.js';

/** Longest `DPoP` header looked at (an RSA-4096 proof is about 2 KiB). */
export const MAX_PROOF_LENGTH = 8192;
/** Longest RSA `e` of a proof's jwk: 6 base64url characters are 4 bytes (32 bits). */
const MAX_RSA_EXPONENT_LENGTH = 6;
/** Longest proof `jti`: it becomes part of a store key. */
const MAX_JTI_LENGTH = 256;

/** What one proof is checked against. */
export interface ProofInput {
  /** The `DPoP` header's value (one, within {@link MAX_PROOF_LENGTH}). */
  readonly proof: string;
  /** The access token presented with it. */
  readonly token: string;
  /** The token's `cnf.jkt`: the thumbprint of the key it is bound to. */
  readonly jkt: string;
  /** The request method. */
  readonly method: string | undefined;
  /** The normalised URI the proof's `htu` must name. */
  readonly htu: string;
  /** The request's own object (`RequestLike.identity`), if the adapter gave one. */
  readonly identity?: object | undefined;
}

/** How proofs are checked: the verifier's settings, its nonces, a key cache and the replay record. */
export interface ProofChecker {
  readonly settings: DpopSettings;
  readonly nonces: NonceSource | undefined;
  /** Imported public keys by `<alg> <thumbprint>` (bounded). */
  readonly keys: LRUCache<string, CryptoKey>;
  /** Records `key` until `until` (epoch ms) in the shared store: true the first time. */
  claimOnce(key: string, until: number): Promise<boolean>;
  /** The claims already made, by request identity and proof (the verifier's, shared by its guards). */
  readonly proofsClaimed: WeakMap<object, Map<string, Promise<boolean>>>;
}

const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'] as const;

const refuse = (reason: RejectionReason, description?: string, cause?: unknown): never => {
  throw new InvalidDpopProofError(reason, description, cause === undefined ? undefined : { cause });
};

/**
 * Checks `input.proof`; resolves to a nonce to send as `DPoP-Nonce` when the client's is about to
 * expire (else undefined). Rejects with `InvalidDpopProofError`, `UseDpopNonceError`,
 * `InvalidTokenError` (`dpop_key_mismatch`) or `StoreUnavailableError`.
 */
export async function checkProof(input: ProofInput, checker: ProofChecker): Promise<string | undefined> {
  const { settings } = checker;
  const { header, payload: encodedPayload, signature } = proofParts(input.proof);
  const { alg } = header;
  if (typeof alg !== 'string' || !settings.algorithms.includes(alg)) refuse('dpop_algorithm_not_allowed');
  if (typeof header.typ !== 'string' || header.typ.toLowerCase() !== 'dpop+jwt')
    refuse('dpop_proof_malformed', 'The DPoP proof typ must be dpop+jwt');
  const jwk = publicJwk(header.jwk);
  const thumbprint = sha256(JSON.stringify(jwk));
  // RFC 9449 §7.1: the token is bound to one key (RFC 7638 thumbprint); a proof by any other is
  // someone else's. Checked before the signature: a stolen token costs no signature check.
  if (thumbprint !== input.jkt) throw new InvalidTokenError('dpop_key_mismatch');

  const now = settings.clock();
  await verifySignature(input.proof, signature, alg as string, jwk, thumbprint, checker);
  const payload = proofClaims(encodedPayload, now, settings.clockToleranceMs);
  const { jti, htm, htu, ath, iat } = payload;
  if (typeof jti !== 'string' || jti === '' || jti.length > MAX_JTI_LENGTH)
    refuse('dpop_proof_malformed', 'The DPoP proof needs a jti');
  if (typeof htm !== 'string' || htm !== input.method) refuse('dpop_method_mismatch');
  if (typeof htu !== 'string' || normalizedHttpUri(htu) !== input.htu) refuse('dpop_url_mismatch');
  if (typeof ath !== 'string' || ath !== sha256(input.token)) refuse('dpop_ath_mismatch');

  // Fresh by a server nonce when nonces are in use, else by `iat`. The replay record lasts as
  // long as the proof would be accepted, by any instance whose clock is within `clockTolerance`
  // of ours (one running behind accepts it that much longer), and a second more.
  let acceptedUntil: number;
  let rotate: string | undefined;
  const { nonces } = checker;
  if (nonces !== undefined) {
    const { nonce } = payload;
    const { period, current } =
      typeof nonce === 'string' ? await nonces.check(nonce, now) : { period: undefined, current: 0 };
    if (period === undefined) throw new UseDpopNonceError(await nonces.issue(now));
    acceptedUntil = (period + 2) * nonces.periodMs;
    if (period < current) rotate = await nonces.issue(now);
  } else {
    const issuedAt = (iat as number) * 1000; // a number: proofClaims checked it
    if (issuedAt < now - settings.iatWindowMs - settings.clockToleranceMs || issuedAt > now + settings.clockToleranceMs)
      refuse('dpop_proof_stale');
    acceptedUntil = issuedAt + settings.iatWindowMs + settings.clockToleranceMs;
  }
  const recordUntil = acceptedUntil + settings.clockToleranceMs + 1000;
  if (!(await claimFor(input, checker, `dpop:${thumbprint}:${jti}`, recordUntil))) refuse('dpop_proof_replayed');
  return rotate;
}

/**
 * The store's claim of `key`, made once per request: a proof presented again on the same request
 * (`identity`: a second guard on the route) shares the first claim's answer, in flight or settled,
 * so it is not its own replay. The same proof on another request, or another proof on this one,
 * makes its own claim. Without an identity, every call claims.
 */
function claimFor(input: ProofInput, checker: ProofChecker, key: string, until: number): Promise<boolean> {
  const { identity, proof } = input;
  if (identity === undefined) return checker.claimOnce(key, until);
  const claims = checker.proofsClaimed.get(identity) ?? new Map<string, Promise<boolean>>();
  const known = claims.get(proof);
  if (known !== undefined) return known;
  const claim = checker.claimOnce(key, until);
  claims.set(proof, claim);
  checker.proofsClaimed.set(identity, claims);
  return claim;
}

/** The proof's three segments, its protected header decoded (a JSON object); anything else is malformed. */
function proofParts(proof: string): { header: Record<string, unknown>; payload: string; signature: string } {
  const first = proof.indexOf('.');
  const second = proof.indexOf('.', first + 1);
  if (first === -1 || second === -1 || proof.indexOf('.', second + 1) !== -1) refuse('dpop_proof_malformed');
  const header = decodeJson(proof.slice(0, first));
  // No extension is understood, so none may be critical; `b64: false` would sign another input.
  if ('crit' in header || 'b64' in header) refuse('dpop_proof_malformed', 'The DPoP proof uses an unsupported header');
  return { header, payload: proof.slice(first + 1, second), signature: proof.slice(second + 1) };
}

const decoder = new TextDecoder('utf-8', { fatal: true });
const encoder = new TextEncoder();

/** A base64url segment holding a JSON object (not an array, not null). */
function decodeJson(segment: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(decoder.decode(base64url.decode(segment)));
  } catch (cause) {
    return refuse('dpop_proof_malformed', undefined, cause);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) refuse('dpop_proof_malformed');
  return value as Record<string, unknown>;
}

/**
 * The header's `jwk` as its RFC 7638 required members, in the order the thumbprint is computed
 * over (lexicographic): a public EC, RSA or OKP key. A private member anywhere is refused (the
 * client just leaked its key); extra members are dropped, so the key imported is exactly the one
 * the thumbprint names.
 */
function publicJwk(value: unknown): Record<string, string> {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    refuse('dpop_proof_malformed', 'The DPoP proof needs a jwk header');
  const jwk = value as Record<string, unknown>;
  if (PRIVATE_MEMBERS.some((member) => member in jwk))
    refuse('dpop_proof_malformed', 'The DPoP proof jwk must be a public key');
  const members = (names: string[]): Record<string, string> => {
    const picked: Record<string, string> = {};
    for (const name of names) {
      const member = jwk[name];
      if (typeof member !== 'string' || member === '')
        refuse('dpop_proof_malformed', 'The DPoP proof jwk is incomplete');
      picked[name] = member as string;
    }
    return picked;
  };
  switch (jwk.kty) {
    case 'EC':
      return members(['crv', 'kty', 'x', 'y']);
    case 'RSA':
      return members(['e', 'kty', 'n']);
    case 'OKP':
      return members(['crv', 'kty', 'x']);
    default:
      return refuse('dpop_proof_malformed', 'The DPoP proof jwk must be an EC, RSA or OKP public key');
  }
}

/** WebCrypto's verify parameters per JWS algorithm (RFC 7518 §3; RFC 8037 for EdDSA). */
const SIGNING: Record<string, Parameters<typeof crypto.subtle.verify>[0]> = {
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

/**
 * The signature over `<header>.<payload>`, checked with the proof's own key through WebCrypto
 * (every runtime has it). The key is imported by jose, which ties it to the algorithm (an EC key
 * of another curve, an RSA key for EdDSA, X25519 are refused), once per key and algorithm.
 */
async function verifySignature(
  proof: string,
  signature: string,
  alg: string,
  jwk: Record<string, string>,
  thumbprint: string,
  checker: ProofChecker,
): Promise<void> {
  const cacheKey = `${alg} ${thumbprint}`;
  let key = checker.keys.get(cacheKey);
  if (key === undefined) {
    // A public exponent of at most 32 bits (65537 in practice; Go and BoringSSL refuse more): the
    // client chose this key, and a huge exponent makes each verification a full modular
    // exponentiation (~1.4 ms for RSA-2048 instead of ~60 µs), on every request it sends.
    if (jwk.e !== undefined && jwk.e.length > MAX_RSA_EXPONENT_LENGTH)
      refuse('dpop_proof_malformed', 'The DPoP proof jwk has an RSA public exponent over 32 bits');
    try {
      key = (await importJWK(jwk, alg)) as CryptoKey;
    } catch (cause) {
      return refuse('dpop_proof_malformed', 'The DPoP proof jwk does not fit its alg', cause);
    }
    // RFC 7518 §3.3: RSA keys of 2048 bits or more.
    const { modulusLength } = key.algorithm as { modulusLength?: number };
    if (modulusLength !== undefined && modulusLength < 2048)
      refuse('dpop_proof_malformed', 'The DPoP proof jwk is an RSA key shorter than 2048 bits');
    checker.keys.set(cacheKey, key);
  }
  let valid = false;
  try {
    const input = encoder.encode(proof.slice(0, proof.length - signature.length - 1));
    valid = await crypto.subtle.verify(
      SIGNING[alg]!,
      key,
      base64url.decode(signature) as Uint8Array<ArrayBuffer>,
      input,
    );
  } catch (cause) {
    // Not base64url, or a signature WebCrypto cannot even read: not a signature by this key.
    return refuse('dpop_signature_invalid', undefined, cause);
  }
  if (!valid) refuse('dpop_signature_invalid');
}

/**
 * The claims, a JSON object, and what a proof may say about its own validity: `iat` a number
 * (required, RFC 9449 §4.2), `exp` and `nbf` numbers that do not put it outside `now`.
 */
function proofClaims(segment: string, now: number, toleranceMs: number): Record<string, unknown> {
  const claims = decodeJson(segment);
  const { iat, exp, nbf } = claims;
  const numeric = (value: unknown) => typeof value === 'number' && Number.isFinite(value);
  if (!numeric(iat)) refuse('dpop_proof_malformed', 'The DPoP proof needs a numeric iat');
  if ((exp !== undefined && !numeric(exp)) || (nbf !== undefined && !numeric(nbf))) refuse('dpop_proof_malformed');
  if (exp !== undefined && (exp as number) * 1000 <= now - toleranceMs) refuse('dpop_proof_stale');
  if (nbf !== undefined && (nbf as number) * 1000 > now + toleranceMs) refuse('dpop_proof_stale');
  return claims;
}
