/**
 * Key selection and signature checks: which key may have signed a token (HMAC only from the
 * configured secret, everything else only from the issuer's JWKS), what happens when a token
 * without `kid` matches several keys, and who checks the signature (jws-backend.ts: node:crypto
 * on Node and Bun, jose's WebCrypto elsewhere). Both uses (verify() and identify()) go through here, so a
 * token is never accepted by one and refused by the other for its signature.
 */
import { errors as joseErrors, type JWTHeaderParameters } from 'jose';
import type { JwksSource, VerificationKey } from '../idp/jwks.js';
import { isPromise, type MaybePromise, thenMaybe } from '../shared/maybe-promise.js';
import { toAuthError } from '../shared/rejections.js';
import type { AccessTokenClaims } from '../shared/verified-token.js';
import { defaultJwsBackend, type JwsBackend, type KeyResolver, type VerifiedJws } from './jws-backend.js';
import { HMAC_ALGORITHMS } from './options.js';
import { checkRegisteredClaims, decodeClaimsSet, type RegisteredClaimRules } from './registered-claims.js';
import { type CanonicalJws, checkCanonicalSegments } from './token-shape.js';

/**
 * Most keys a token without `kid` is checked against. Two covers the rotation overlap of an IdP
 * that omits `kid` (old and new key of one type); more would let a forged kid-less token cost one
 * signature check per published key (64 with 64 keys).
 */
const MAX_KIDLESS_CANDIDATES = 2;

/** Where a {@link SignatureCheck} finds its keys. */
export interface SignatureCheckOptions {
  /** The issuer's published keys. */
  jwks: Pick<JwksSource, 'getKey'>;
  /** The shared secret, present only when `algorithms` lists an HMAC algorithm. */
  secret: Uint8Array | undefined;
  /** The accepted `alg` values. */
  algorithms: string[];
  /** Who checks signatures (jws-backend.ts); node:crypto where Node runs, else WebCrypto. */
  backend?: JwsBackend;
}

/** A JWT whose signature and registered claims hold. */
export interface VerifiedJwt {
  protectedHeader: JWTHeaderParameters;
  payload: AccessTokenClaims;
}

/** Verifies signatures with the issuer's keys; see the file comment for which key is used. */
export class SignatureCheck {
  readonly backend: JwsBackend;
  private readonly algorithms: ReadonlySet<string>;

  constructor(private readonly options: SignatureCheckOptions) {
    this.backend = options.backend ?? defaultJwsBackend();
    this.algorithms = new Set(options.algorithms);
  }

  /**
   * The signature, then the claims set held to `rules` at `now` (epoch ms): what jose's jwtVerify
   * checked, on one parse (registered-claims.ts). `token` passed checkShape. Throws or rejects with
   * an AuthError; answers at once when the key is at hand and the backend is node:crypto.
   */
  verifyJwt(token: CanonicalJws, rules: RegisteredClaimRules, now: number): MaybePromise<VerifiedJwt> {
    const claims = (jws: VerifiedJws): VerifiedJwt => {
      if (!jws.b64) throw new joseErrors.JWTInvalid('JWTs MUST NOT use unencoded payload');
      const payload = decodeClaimsSet(jws.payload);
      checkRegisteredClaims(jws.protectedHeader, payload, rules, now);
      return { protectedHeader: jws.protectedHeader as JWTHeaderParameters, payload };
    };
    try {
      const verified = thenMaybe(this.verified(token), claims);
      return isPromise(verified) ? verified.catch(rethrowAsAuthError) : verified;
    } catch (error) {
      return rethrowAsAuthError(error);
    }
  }

  /**
   * The signature alone (no claim is looked at), for telling whether a token is ours. Rejects with
   * an AuthError for a non-canonical token, jose's error for a bad one, or with
   * IdpUnavailableError / MisconfiguredError when the keys cannot be had.
   */
  async verifySignature(token: string): Promise<VerifiedJws> {
    // Both backends decode only canonical base64url: one token, one spelling, one answer.
    checkCanonicalSegments(token);
    return this.verified(token);
  }

  private verified(token: CanonicalJws): MaybePromise<VerifiedJws> {
    return this.withKeys((key) => this.backend.verify(token, key, this.algorithms));
  }

  /** HMAC only from the configured secret, everything else only from the JWKS. */
  private readonly keyFor: KeyResolver = (header, jws) => {
    if ((HMAC_ALGORITHMS as readonly string[]).includes(header.alg ?? '')) {
      // Reaching here means the algorithm passed the allowlist, so the secret exists.
      return this.options.secret!;
    }
    return this.options.jwks.getKey(header, jws);
  };

  /**
   * Runs `attempt` with our key resolver; when a token without `kid` matches several keys, with
   * each candidate in turn (see {@link firstVerifying}). Synchronous as far as `attempt` is.
   */
  private withKeys<T>(attempt: (key: KeyResolver) => MaybePromise<T>): MaybePromise<T> {
    const candidates = (error: unknown): Promise<T> => {
      if (!(error instanceof joseErrors.JWKSMultipleMatchingKeys)) throw error;
      return firstVerifying(error, async (key) => attempt(() => key));
    };
    try {
      const outcome = attempt(this.keyFor);
      return isPromise(outcome) ? outcome.catch(candidates) : outcome;
    } catch (error) {
      return candidates(error);
    }
  }
}

function rethrowAsAuthError(error: unknown): never {
  throw toAuthError(error);
}

/**
 * A token without `kid` can match several keys of one type (rotation at IdPs that omit `kid`):
 * jose hands back the candidates and leaves trying them to us. The rule: the first
 * {@link MAX_KIDLESS_CANDIDATES} keys that match the token's `alg` (key type, curve, `alg`, `use`),
 * in the order the JWKS lists them; a token signed by any later key of that type is refused
 * (`signature_invalid`). IdPs that publish more keys of one type must put `kid` in their tokens.
 */
async function firstVerifying<T>(
  candidates: joseErrors.JWKSMultipleMatchingKeys,
  attempt: (key: VerificationKey) => Promise<T>,
): Promise<T> {
  let tried = 0;
  for await (const key of candidates) {
    if (tried++ === MAX_KIDLESS_CANDIDATES) break;
    try {
      return await attempt(key);
    } catch (error) {
      if (error instanceof joseErrors.JWSSignatureVerificationFailed) continue;
      throw error;
    }
  }
  throw new joseErrors.JWSSignatureVerificationFailed();
}
