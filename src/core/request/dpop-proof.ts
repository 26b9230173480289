/**
 * One DPoP proof (RFC 9449 §4.3) checked against the request, the access token and the key the
 * token is bound to. Cheap, local checks first; the one store round trip (the `jti` claimed once,
 * across every instance sharing the store) last, so a proof refused for any other reason never
 * uses up its `jti`. Every failure is an `AuthError` (401, or 503 when the store cannot answer):
 * never a 500, never a pass. The signature is checked by the access tokens' backend (node:crypto
 * on Node and Bun, WebCrypto elsewhere: verify/jws-backend.ts), with the proof's key prepared once.
 *
 * Not checked here: the access token itself (the verifier did that, or its cache vouches for it),
 * how many `DPoP` headers came (the header reader), what the route requires.
 */
import { base64url } from 'jose';
import { LRUCache } from 'lru-cache';
import { InvalidDpopProofError, InvalidTokenError, UseDpopNonceError } from '../shared/errors.js';
import type { RejectionReason } from '../shared/revocable-jwt-error.js';
import { sha256 } from '../shared/sha256.js';
import type { DpopSettings } from '../verify/dpop-options.js';
import { defaultJwsBackend, type EmbeddedKeyCheck, type JwsBackend, type PublicJwk } from '../verify/jws-backend.js';
import type { SegmentDecoder } from '../verify/compact-jws.js';
import { isCanonicalSegment } from '../verify/token-shape.js';
import { normalizedHttpUri } from './dpop-htu.js';
import type { NonceSource } from './dpop-nonce.js';

/** Longest `DPoP` header looked at (an RSA-4096 proof is about 2 KiB). */
export const MAX_PROOF_LENGTH = 8192;
/** Longest RSA `e` of a proof's jwk: 6 base64url characters are 4 bytes (32 bits). */
const MAX_RSA_EXPONENT_LENGTH = 6;
/**
 * RSA moduli a proof's jwk may have, in bits: RFC 7518 §3.3's floor, and the ceiling Go's TLS
 * stack set for the same reason (CVE-2023-29409): the client chooses the key, and verifying costs
 * about the square of its size (RSA-2048 ~18 µs, RSA-16384 ~750 µs; one filling the 8 KiB header
 * would cost milliseconds on every request it sends).
 */
const MIN_RSA_BITS = 2048;
const MAX_RSA_BITS = 8192;
/** Longest proof `jti`: it becomes part of a store key. */
const MAX_JTI_LENGTH = 256;
/** Prepared proof keys kept (see {@link ProofKeyCache}). */
const KEY_CACHE_SIZE = 1024;

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
  /** Prepared proof keys (bounded): see {@link createProofKeyCache}. */
  readonly keys: ProofKeyCache;
  /**
   * Who checks signatures: by default the access tokens' backend (node:crypto on Node and Bun,
   * WebCrypto elsewhere: verify/jws-backend.ts); the differential tests pass each.
   */
  readonly backend?: JwsBackend;
  /** Records `key` until `until` (epoch ms) in the shared store: true the first time. */
  claimOnce(key: string, until: number): Promise<boolean>;
  /** The claims already made, by request identity and proof (the verifier's, shared by its guards). */
  readonly proofsClaimed: WeakMap<object, Map<string, Promise<boolean>>>;
}

/** A proof key, prepared once: its RFC 7638 thumbprint and its signature check for one `alg`. */
export interface ProofKey {
  readonly thumbprint: string;
  readonly check: EmbeddedKeyCheck;
  /** The backend that prepared it (a test may switch backends between proofs). */
  readonly backend: JwsBackend;
}

/**
 * Prepared proof keys by `<alg> <thumbprint input>` (the key's required members as JSON), so a
 * known key costs neither its thumbprint (a SHA-256) nor its import. Only keys that passed every
 * rule below are kept: an RSA one of at most 8192 bits is the longest entry (~1.4 KB).
 */
export type ProofKeyCache = LRUCache<string, ProofKey>;

/**
 * A {@link ProofKeyCache} of 1 024 keys: the clients sending proofs at the same time, not every
 * client (a key not in it is prepared again: bench/dpop-hit.ts measures what that costs).
 */
export function createProofKeyCache(): ProofKeyCache {
  return new LRUCache<string, ProofKey>({ max: KEY_CACHE_SIZE });
}

const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'] as const;

/** The key type (and curve) each proof algorithm takes (RFC 7518 §3; RFC 8037 for EdDSA). */
const KEY_FIT: Record<string, { kty: string; crv?: string }> = {
  ES256: { kty: 'EC', crv: 'P-256' },
  ES384: { kty: 'EC', crv: 'P-384' },
  ES512: { kty: 'EC', crv: 'P-521' },
  RS256: { kty: 'RSA' },
  RS384: { kty: 'RSA' },
  RS512: { kty: 'RSA' },
  PS256: { kty: 'RSA' },
  PS384: { kty: 'RSA' },
  PS512: { kty: 'RSA' },
  EdDSA: { kty: 'OKP', crv: 'Ed25519' },
  Ed25519: { kty: 'OKP', crv: 'Ed25519' },
};
/**
 * The length in base64url characters of a coordinate (EC `x`, `y`; RFC 7518 §6.2.1.2: the full
 * size of the curve's field) or public key (OKP `x`, RFC 8037 §2) per curve: 32, 48, 66, 32 bytes.
 */
const COORDINATE_CHARS: Record<string, number> = { 'P-256': 43, 'P-384': 64, 'P-521': 88, Ed25519: 43 };

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
  const { proof } = input;
  const backend = checker.backend ?? defaultJwsBackend();
  const { header, first, second } = proofParts(proof, backend.decode);
  const { alg } = header;
  if (typeof alg !== 'string' || !settings.algorithms.includes(alg)) refuse('dpop_algorithm_not_allowed');
  if (typeof header.typ !== 'string' || header.typ.toLowerCase() !== 'dpop+jwt')
    refuse('dpop_proof_malformed', 'The DPoP proof typ must be dpop+jwt');
  const key = await proofKey(alg as string, header.jwk, input.jkt, checker.keys, backend);

  const now = settings.clock();
  await verifySignature(proof, second, key.check);
  const claims = decodeJson(proof.slice(first + 1, second), backend.decode);
  const payload = proofClaims(claims, now, settings.clockToleranceMs);
  const { jti, htm, htu, ath, iat } = payload;
  if (typeof jti !== 'string' || jti === '' || jti.length > MAX_JTI_LENGTH)
    refuse('dpop_proof_malformed', 'The DPoP proof needs a jti');
  if (typeof htm !== 'string' || htm !== input.method) refuse('dpop_method_mismatch');
  // `input.htu` is normalised: an htu spelled exactly so names it without being parsed again.
  if (typeof htu !== 'string' || (htu !== input.htu && normalizedHttpUri(htu) !== input.htu))
    refuse('dpop_url_mismatch');
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
  if (!(await claimFor(input, checker, `dpop:${key.thumbprint}:${jti}`, recordUntil))) refuse('dpop_proof_replayed');
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

/**
 * The proof's protected header (a JSON object) and where its two dots are. Three segments, header
 * and payload canonical base64url (RFC 7515 §2: one proof, one spelling, and every runtime's
 * decoder reads it alike); anything else is malformed.
 */
function proofParts(
  proof: string,
  decode: SegmentDecoder,
): { header: Record<string, unknown>; first: number; second: number } {
  const first = proof.indexOf('.');
  const second = proof.indexOf('.', first + 1);
  if (first === -1 || second === -1 || proof.indexOf('.', second + 1) !== -1) refuse('dpop_proof_malformed');
  if (!isCanonicalSegment(proof, 0, first) || !isCanonicalSegment(proof, first + 1, second))
    refuse('dpop_proof_malformed', 'The DPoP proof is not base64url');
  const header = decodeJson(proof.slice(0, first), decode);
  // No extension is understood, so none may be critical; `b64: false` would sign another input.
  if ('crit' in header || 'b64' in header) refuse('dpop_proof_malformed', 'The DPoP proof uses an unsupported header');
  return { header, first, second };
}

const decoder = new TextDecoder('utf-8', { fatal: true });

/** A canonical base64url segment holding a JSON object (not an array, not null) in strict UTF-8. */
function decodeJson(segment: string, decode: SegmentDecoder): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(decoder.decode(decode(segment)));
  } catch (cause) {
    return refuse('dpop_proof_malformed', undefined, cause);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) refuse('dpop_proof_malformed');
  return value as Record<string, unknown>;
}

/**
 * The header's `jwk`, prepared: from the cache when this key was seen with this `alg`, else
 * checked (RFC 9449 §7.1: its thumbprint must be the token's `cnf.jkt`; then the rules of
 * {@link checkKeyRules}) and imported by the backend, which binds it to `alg`. The thumbprint is
 * compared before anything is imported: a stolen token sent with another key costs no import and
 * no signature check.
 */
async function proofKey(
  alg: string,
  value: unknown,
  jkt: string,
  keys: ProofKeyCache,
  backend: JwsBackend,
): Promise<ProofKey> {
  const jwk = publicJwk(value);
  const members = JSON.stringify(jwk);
  const cacheKey = `${alg} ${members}`;
  const cached = keys.get(cacheKey);
  if (cached !== undefined && cached.backend === backend) {
    if (cached.thumbprint !== jkt) throw new InvalidTokenError('dpop_key_mismatch');
    return cached;
  }
  const thumbprint = sha256(members);
  if (thumbprint !== jkt) throw new InvalidTokenError('dpop_key_mismatch');
  checkKeyRules(alg, jwk);
  let check: EmbeddedKeyCheck;
  try {
    check = await backend.embeddedKey(alg, jwk);
  } catch (cause) {
    return refuse('dpop_proof_malformed', 'The DPoP proof jwk does not fit its alg', cause);
  }
  const key: ProofKey = { thumbprint, check, backend };
  keys.set(cacheKey, key);
  return key;
}

/**
 * The header's `jwk` as its RFC 7638 required members, in the order the thumbprint is computed
 * over (lexicographic): a public EC, RSA or OKP key. A private member anywhere is refused (the
 * client just leaked its key); extra members are dropped, so the key imported is exactly the one
 * the thumbprint names.
 */
function publicJwk(value: unknown): PublicJwk {
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

/**
 * What a proof key must be, checked once per key before it is imported, alike on every backend
 * (each then binds the key to `alg` again as it imports it): of the key type and curve `alg`
 * takes; its numbers canonical base64url of their exact size (RFC 7518 §6: coordinates of the
 * curve's full size, RSA integers without leading zero octets; runtimes differ in what else they
 * import, and a key spelled two ways would have two thumbprints); RSA with a public exponent of
 * at most 32 bits (65537 in practice; Go and BoringSSL refuse more: a huge one makes each
 * verification a full modular exponentiation, ~1.4 ms for RSA-2048 instead of ~60 µs) and a
 * modulus of 2048 to 8192 bits.
 */
function checkKeyRules(alg: string, jwk: PublicJwk): void {
  const fit = KEY_FIT[alg];
  if (fit === undefined || jwk.kty !== fit.kty || (fit.crv !== undefined && jwk.crv !== fit.crv))
    refuse('dpop_proof_malformed', 'The DPoP proof jwk does not fit its alg');
  for (const [name, member] of Object.entries(jwk)) {
    if (name !== 'kty' && name !== 'crv' && !isCanonicalSegment(member, 0, member.length))
      refuse('dpop_proof_malformed', `The DPoP proof jwk member ${name} is not base64url`);
  }
  if (jwk.kty !== 'RSA') {
    const size = COORDINATE_CHARS[jwk.crv!]!;
    if (jwk.x!.length !== size || (jwk.y !== undefined && jwk.y.length !== size))
      refuse('dpop_proof_malformed', `The DPoP proof jwk is not a ${jwk.crv} key`);
    return;
  }
  if (jwk.e!.length > MAX_RSA_EXPONENT_LENGTH)
    refuse('dpop_proof_malformed', 'The DPoP proof jwk has an RSA public exponent over 32 bits');
  const n = base64url.decode(jwk.n!);
  if (n[0] === 0 || base64url.decode(jwk.e!)[0] === 0)
    refuse('dpop_proof_malformed', 'The DPoP proof jwk has an RSA integer with leading zero octets');
  const bits = (n.length - 1) * 8 + (32 - Math.clz32(n[0]!));
  if (bits < MIN_RSA_BITS) refuse('dpop_proof_malformed', 'The DPoP proof jwk is an RSA key shorter than 2048 bits');
  if (bits > MAX_RSA_BITS) refuse('dpop_proof_malformed', 'The DPoP proof jwk is an RSA key longer than 8192 bits');
}

/**
 * The signature over `<header>.<payload>`, checked with the proof's own key by the backend that
 * prepared it. A signature segment that is not canonical base64url is no signature by that key.
 */
async function verifySignature(proof: string, second: number, check: EmbeddedKeyCheck): Promise<void> {
  if (!isCanonicalSegment(proof, second + 1, proof.length)) refuse('dpop_signature_invalid');
  let valid: boolean;
  try {
    const verdict = check(proof.slice(0, second), proof.slice(second + 1));
    // node:crypto answers at once: no promise to wait for.
    valid = typeof verdict === 'boolean' ? verdict : await verdict;
  } catch (cause) {
    return refuse('dpop_signature_invalid', undefined, cause);
  }
  if (!valid) refuse('dpop_signature_invalid');
}

/**
 * The claims, and what a proof may say about its own validity: `iat` a number
 * (required, RFC 9449 §4.2), `exp` and `nbf` numbers that do not put it outside `now`.
 */
function proofClaims(claims: Record<string, unknown>, now: number, toleranceMs: number): Record<string, unknown> {
  const { iat, exp, nbf } = claims;
  const numeric = (value: unknown) => typeof value === 'number' && Number.isFinite(value);
  if (!numeric(iat)) refuse('dpop_proof_malformed', 'The DPoP proof needs a numeric iat');
  if ((exp !== undefined && !numeric(exp)) || (nbf !== undefined && !numeric(nbf))) refuse('dpop_proof_malformed');
  if (exp !== undefined && (exp as number) * 1000 <= now - toleranceMs) refuse('dpop_proof_stale');
  if (nbf !== undefined && (nbf as number) * 1000 > now + toleranceMs) refuse('dpop_proof_stale');
  return claims;
}
