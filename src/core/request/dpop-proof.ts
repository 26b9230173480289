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
import { type CryptoKey, decodeProtectedHeader, errors as jose, importJWK, type JWTPayload, jwtVerify } from 'jose';
import type { LRUCache } from 'lru-cache';
import { InvalidDpopProofError, InvalidTokenError, UseDpopNonceError } from '../shared/errors.js';
import type { RejectionReason } from '../shared/revocable-jwt-error.js';
import { sha256 } from '../shared/sha256.js';
import type { DpopSettings } from '../verify/dpop-options.js';
import { normalizedHttpUri } from './dpop-htu.js';
import type { NonceSource } from './dpop-nonce.js';

/** Longest `DPoP` header looked at (an RSA-4096 proof is about 2 KiB). */
export const MAX_PROOF_LENGTH = 8192;
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
}

/** How proofs are checked: the verifier's settings, its nonces, a key cache and the replay record. */
export interface ProofChecker {
  readonly settings: DpopSettings;
  readonly nonces: NonceSource | undefined;
  /** Imported public keys by `<alg> <thumbprint>` (bounded). */
  readonly keys: LRUCache<string, CryptoKey>;
  /** Records `key` until `until` (epoch ms) in the shared store: true the first time. */
  claimOnce(key: string, until: number): Promise<boolean>;
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
  const header = proofHeader(input.proof);
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
  const payload = await verifiedPayload(input.proof, alg as string, jwk, thumbprint, checker, now);
  const { jti, htm, htu, ath, iat } = payload;
  if (typeof jti !== 'string' || jti === '' || jti.length > MAX_JTI_LENGTH)
    refuse('dpop_proof_malformed', 'The DPoP proof needs a jti');
  if (typeof htm !== 'string' || htm !== input.method) refuse('dpop_method_mismatch');
  if (typeof htu !== 'string' || normalizedHttpUri(htu) !== input.htu) refuse('dpop_url_mismatch');
  if (typeof ath !== 'string' || ath !== sha256(input.token)) refuse('dpop_ath_mismatch');

  // Fresh by a server nonce when nonces are in use, else by `iat`. The replay record lasts as
  // long as the proof would be accepted.
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
    const issuedAt = (iat as number) * 1000; // a number: jwtVerify required it
    if (issuedAt < now - settings.iatWindowMs - settings.clockToleranceMs || issuedAt > now + settings.clockToleranceMs)
      refuse('dpop_proof_stale');
    acceptedUntil = issuedAt + settings.iatWindowMs + settings.clockToleranceMs;
  }
  if (!(await checker.claimOnce(`dpop:${thumbprint}:${jti}`, acceptedUntil + 1000))) refuse('dpop_proof_replayed');
  return rotate;
}

/** The protected header, decoded; anything that is not a compact JWS with a JSON header is malformed. */
function proofHeader(proof: string): Record<string, unknown> {
  if (proof.split('.').length !== 3) refuse('dpop_proof_malformed');
  try {
    return decodeProtectedHeader(proof) as Record<string, unknown>;
  } catch (cause) {
    return refuse('dpop_proof_malformed', undefined, cause);
  }
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

/** The signature checked with the proof's own key (imported once per key and algorithm), then the claims' types. */
async function verifiedPayload(
  proof: string,
  alg: string,
  jwk: Record<string, string>,
  thumbprint: string,
  checker: ProofChecker,
  now: number,
): Promise<JWTPayload> {
  const cacheKey = `${alg} ${thumbprint}`;
  let key = checker.keys.get(cacheKey);
  if (key === undefined) {
    try {
      key = (await importJWK(jwk, alg)) as CryptoKey;
    } catch (cause) {
      // A key that does not fit the algorithm (a P-384 key for ES256, a short RSA key, X25519).
      return refuse('dpop_proof_malformed', 'The DPoP proof jwk does not fit its alg', cause);
    }
    checker.keys.set(cacheKey, key);
  }
  try {
    const { payload } = await jwtVerify(proof, key, {
      typ: 'dpop+jwt',
      algorithms: [alg],
      requiredClaims: ['jti', 'htm', 'htu', 'iat'],
      currentDate: new Date(now),
      clockTolerance: checker.settings.clockToleranceMs / 1000,
    });
    return payload;
  } catch (cause) {
    if (cause instanceof jose.JWSSignatureVerificationFailed) return refuse('dpop_signature_invalid', undefined, cause);
    // An `exp` or `nbf` a proof may carry, and it says the proof is not valid now.
    if (cause instanceof jose.JWTExpired) return refuse('dpop_proof_stale', undefined, cause);
    if (cause instanceof jose.JWTClaimValidationFailed && cause.claim === 'nbf')
      return refuse('dpop_proof_stale', undefined, cause);
    return refuse('dpop_proof_malformed', undefined, cause);
  }
}
