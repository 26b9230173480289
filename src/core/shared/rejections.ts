/**
 * Turns whatever verification threw into the error the client sees. jose's messages are precise
 * but written for developers; clients get a fixed description per reason, and the original error
 * stays available as `cause` for logs.
 */
import { errors as jose } from 'jose';
import { AuthError, InvalidTokenError, type RejectionReason } from './errors.js';

export function invalidToken(reason: RejectionReason, cause?: unknown): InvalidTokenError {
  return new InvalidTokenError(reason, undefined, { cause });
}

export function toAuthError(error: unknown): AuthError {
  if (error instanceof AuthError) return error;
  return invalidToken(reasonFor(error), error);
}

function reasonFor(error: unknown): RejectionReason {
  if (error instanceof jose.JWTExpired) return 'token_expired';
  if (error instanceof jose.JWTClaimValidationFailed) {
    if (error.reason === 'missing') return 'claim_missing';
    if (error.reason === 'invalid') return 'claim_invalid'; // wrong type, e.g. a string nbf
    switch (error.claim) {
      case 'iss':
        return 'issuer_mismatch';
      case 'aud':
      case 'client_id': // the audience, with `audienceClaim: 'client_id'`
        return 'audience_mismatch';
      case 'token_use': // a Cognito ID token where an access token belongs
        return 'type_mismatch';
      case 'nbf':
        return 'token_not_yet_valid';
      case 'typ':
        return 'type_mismatch';
      default:
        return 'claim_invalid';
    }
  }
  if (error instanceof jose.JOSEAlgNotAllowed) return 'algorithm_not_allowed';
  if (error instanceof jose.JWSSignatureVerificationFailed) return 'signature_invalid';
  if (error instanceof jose.JWKSNoMatchingKey || error instanceof jose.JWKSMultipleMatchingKeys) return 'key_not_found';
  if (error instanceof jose.JOSENotSupported) return 'unsupported_token';
  // JWSInvalid, JWTInvalid, a key that fails to import, anything unexpected: refuse.
  return 'malformed_token';
}
