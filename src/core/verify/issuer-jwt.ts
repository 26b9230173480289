/**
 * Other JWTs our issuer signs (a back-channel logout token, a security event): verified with the
 * same keys, algorithms and `iss` as access tokens, and their own audience, type and claims.
 */
import { invalidToken } from '../shared/rejections.js';
import { expAcceptedUntil, maxAgeAcceptedUntil } from '../shared/token-lifetime.js';
import type { SignatureCheck } from './signature.js';
import { checkClaimTypes } from './token-claims.js';
import { checkShape, mediaType } from './token-shape.js';
import type { IssuerJwtOptions, VerifiedIssuerJwt } from './verifier-port.js';

/** What an issuer-JWT check needs from its verifier. */
export interface IssuerJwtContext {
  issuer: string;
  /** Seconds of leeway on `exp`, `nbf` and `iat`. */
  clockTolerance: number;
  clock: () => number;
  maxTokenLength: number;
  signature: Pick<SignatureCheck, 'verifyJwt'>;
}

/**
 * The verifier port's `verifyIssuerJwt` for one issuer: rejects with an AuthError; reports the
 * issuer, and until when this JWT would be accepted (for its replay record).
 */
export function issuerJwtVerifier(
  context: IssuerJwtContext,
): (jwt: string, options: IssuerJwtOptions) => Promise<VerifiedIssuerJwt> {
  const { issuer, clockTolerance: tolerance, clock, maxTokenLength, signature } = context;
  return async (jwt, options) => {
    checkShape(jwt, maxTokenLength);
    const rules = {
      issuer,
      audience: options.audience,
      clockTolerance: tolerance,
      requiredClaims: options.requiredClaims,
      maxTokenAge: options.maxTokenAge,
    };
    const verified = await signature.verifyJwt(jwt, rules, clock());
    if (!options.types.includes(mediaType(verified.protectedHeader.typ))) throw invalidToken('type_mismatch');
    const { payload } = verified;
    checkClaimTypes(payload, clock(), tolerance);
    // jose required a numeric iat (maxTokenAge); exp, when present, may end acceptance sooner.
    const tooOld = maxAgeAcceptedUntil(payload.iat!, options.maxTokenAge, tolerance);
    const acceptedUntil =
      typeof payload.exp === 'number' ? Math.min(tooOld, expAcceptedUntil(payload.exp, tolerance)) : tooOld;
    return { header: verified.protectedHeader, payload, issuer, acceptedUntil };
  };
}
