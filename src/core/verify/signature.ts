/**
 * Key selection and signature checks: which key may have signed a token (HMAC only from the
 * configured secret, everything else only from the issuer's JWKS), and what happens when a token
 * without `kid` matches several keys. Both uses (verify() and identify()) go through here, so a
 * token is never accepted by one and refused by the other for its signature.
 */
import {
  type CompactVerifyResult,
  compactVerify,
  errors as joseErrors,
  type FlattenedJWSInput,
  type JWSHeaderParameters,
  type JWTVerifyOptions,
  type JWTVerifyResult,
  jwtVerify,
} from 'jose';
import type { JwksSource, VerificationKey } from '../idp/jwks.js';
import { toAuthError } from '../shared/rejections.js';
import type { AccessTokenClaims } from '../shared/verified-token.js';
import { HMAC_ALGORITHMS } from './options.js';

/**
 * Most keys a token without `kid` is checked against. Two covers the rotation overlap of an IdP
 * that omits `kid` (old and new key of one type); more would let a forged kid-less token cost one
 * signature check per published key (64 with 64 keys).
 */
const MAX_KIDLESS_CANDIDATES = 2;

/** A jose key resolver: the key that must have signed a token with this header. */
type KeyResolver = (header: JWSHeaderParameters, jws: FlattenedJWSInput) => Promise<VerificationKey | Uint8Array>;

/** Where a {@link SignatureCheck} finds its keys. */
export interface SignatureCheckOptions {
  /** The issuer's published keys. */
  jwks: Pick<JwksSource, 'getKey'>;
  /** The shared secret, present only when `algorithms` lists an HMAC algorithm. */
  secret: Uint8Array | undefined;
  /** The accepted `alg` values. */
  algorithms: string[];
}

/** Verifies signatures with the issuer's keys; see the file comment for which key is used. */
export class SignatureCheck {
  constructor(private readonly options: SignatureCheckOptions) {}

  /** jose's jwtVerify (signature and claims) with our keys; rejects with an AuthError. */
  async verifyJwt(token: string, options: JWTVerifyOptions): Promise<JWTVerifyResult<AccessTokenClaims>> {
    try {
      return await this.withKeys((key) => jwtVerify<AccessTokenClaims>(token, key, options));
    } catch (error) {
      throw toAuthError(error);
    }
  }

  /**
   * The signature alone (no claim is looked at), for telling whether a token is ours. Rejects with
   * jose's error for a bad token, or with IdpUnavailableError / MisconfiguredError when the keys
   * cannot be had.
   */
  verifySignature(token: string): Promise<CompactVerifyResult> {
    return this.withKeys((key) => compactVerify(token, key, { algorithms: this.options.algorithms }));
  }

  /** HMAC only from the configured secret, everything else only from the JWKS. */
  private readonly keyFor: KeyResolver = (header, jws) => {
    if ((HMAC_ALGORITHMS as readonly string[]).includes(header.alg ?? '')) {
      // Reaching here means the algorithm passed the allowlist, so the secret exists.
      return Promise.resolve(this.options.secret!);
    }
    return this.options.jwks.getKey(header, jws);
  };

  /**
   * Runs `attempt` with our key resolver; when a token without `kid` matches several keys, with
   * each candidate in turn (see {@link firstVerifying}).
   */
  private async withKeys<T>(attempt: (key: KeyResolver) => Promise<T>): Promise<T> {
    try {
      return await attempt(this.keyFor);
    } catch (error) {
      if (!(error instanceof joseErrors.JWKSMultipleMatchingKeys)) throw error;
      return firstVerifying(error, (key) => attempt(() => Promise.resolve(key)));
    }
  }
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
