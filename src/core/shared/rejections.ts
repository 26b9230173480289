/**
 * Turns whatever verification threw into the error the client sees. jose's messages are precise
 * but written for developers; clients get a fixed description per reason, and the original error
 * stays available as `cause` for logs.
 */
import { errors as jose } from 'jose';
import { AuthError, InvalidTokenError, type RejectionReason } from './errors.js';

const DESCRIPTIONS: Partial<Record<RejectionReason, string>> = {
  malformed_token: 'The access token is malformed',
  token_too_long: 'The access token is too long',
  encrypted_token: 'Encrypted (JWE) tokens are not accepted',
  algorithm_not_allowed: 'The access token is signed with an algorithm that is not accepted',
  unsupported_token: 'The access token uses an unsupported feature',
  key_not_found: 'The access token is signed with an unknown key',
  signature_invalid: 'The access token signature is invalid',
  issuer_mismatch: 'The access token was issued by an untrusted issuer',
  audience_mismatch: 'The access token is not intended for this resource',
  type_mismatch: 'The access token has the wrong type',
  token_expired: 'The access token expired',
  token_not_yet_valid: 'The access token is not valid yet',
  issued_in_future: 'The access token is issued in the future',
  claim_missing: 'The access token lacks a required claim',
  claim_invalid: 'The access token has an invalid claim',
  lifetime_too_long: 'The access token lifetime exceeds what this resource accepts',
  revoked: 'The access token has been revoked',
  token_inactive: 'The access token is not active',
};

export function invalidToken(reason: RejectionReason, cause?: unknown): InvalidTokenError {
  return new InvalidTokenError(reason, DESCRIPTIONS[reason] ?? 'The access token is invalid', { cause });
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
        return 'audience_mismatch';
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
