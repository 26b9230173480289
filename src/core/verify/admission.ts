/**
 * How a token the cache does not have gets in: proven by the IdP's word (introspection) or by its
 * signature, then held to the checks every accepted token passes, however it was proven (claim
 * types, lifetime, its issuer's status list for a JWT, revocation), frozen, and cached. The
 * verifier's hit path reads what this writes.
 */
import type { RevocationList } from '../revoke/revocation-list.js';
import { revocationKeysFor } from '../revoke/revocation-identity.js';
import { deepFreeze } from '../shared/deep-freeze.js';
import { isPromise, type MaybePromise, thenMaybe } from '../shared/maybe-promise.js';
import { invalidToken } from '../shared/rejections.js';
import { maxAgeAcceptedUntil } from '../shared/token-lifetime.js';
import type { VerifiedToken } from '../shared/verified-token.js';
import type { IntrospectionVerifier } from './introspection-verifier.js';
import type { ResolvedOptions } from './options.js';
import type { RegisteredClaimRules } from './registered-claims.js';
import type { SignatureCheck } from './signature.js';
import type { StatusListCheck, StatusReference } from './status-list-check.js';
import { checkClaimTypes, checkLifetime, expiresAt } from './token-claims.js';
import type { TokenCache } from './token-cache.js';
import { checkShape, mediaType } from './token-shape.js';

/** The verifier's rules for access tokens, and the collaborators admission uses. */
export interface AdmissionOptions
  extends Pick<
    ResolvedOptions,
    | 'issuer'
    | 'audience'
    | 'audienceClaim'
    | 'requiredClaims'
    | 'typ'
    | 'clock'
    | 'clockTolerance'
    | 'maxTokenLength'
    | 'maxTokenLifetimeMs'
    | 'maxTokenAgeMs'
  > {
  cache: Pick<TokenCache, 'set'>;
  /** This instance's revocations. */
  revocations: Pick<RevocationList, 'isRevoked'>;
  signature: Pick<SignatureCheck, 'verifyJwt'>;
  /** Present when `introspection` is configured. */
  introspection: Pick<IntrospectionVerifier, 'decides' | 'verify' | 'maxAgeMs'> | undefined;
  /** Absent with `statusList: { mode: 'off' }`. */
  statusLists: Pick<StatusListCheck, 'admit'> | undefined;
}

/** The verifier's miss path (see the file comment). */
export class Admission {
  /** The registered claims' rules for an access token, built once. */
  private readonly jwtRules: RegisteredClaimRules;
  /** The app enforces RFC 9068 access tokens (`typ: 'at+jwt'`), which must carry `client_id`. */
  private readonly requireClientId: boolean;

  constructor(private readonly options: AdmissionOptions) {
    this.jwtRules = {
      issuer: options.issuer,
      audience: options.audience,
      audienceClaim: options.audienceClaim,
      // An ID token (Cognito marks it `token_use: "id"`) is never an access token, in either audience mode.
      tokenUse: 'access',
      clockTolerance: options.clockTolerance,
      requiredClaims: options.requiredClaims,
      ...(options.typ !== undefined ? { typ: options.typ } : {}),
    };
    this.requireClientId = mediaType(options.typ) === 'at+jwt';
  }

  /**
   * Verifies and caches a token the cache does not have; throws or rejects with an AuthError.
   * Synchronous when nothing needs I/O: a JWT whose key is at hand on the node:crypto backend,
   * without a status list reference to fetch (see maybe-promise.ts).
   */
  verify(token: string): MaybePromise<VerifiedToken> {
    const { introspection } = this.options;
    if (introspection?.decides(token) === true) {
      return introspection.verify(token).then(({ result, now }) => this.admit(result, now, introspection.maxAgeMs));
    }
    checkShape(token, this.options.maxTokenLength);
    const now = this.options.clock();
    return thenMaybe(this.options.signature.verifyJwt(token, this.jwtRules, now), (verified) =>
      this.admit({ token, header: verified.protectedHeader, payload: verified.payload, source: 'jwt' }, now),
    );
  }

  /**
   * The checks every freshly verified token passes, then into the cache; the result is frozen
   * because every request presenting the token will share it.
   */
  private admit(result: VerifiedToken, now: number, maxAgeMs?: number): MaybePromise<VerifiedToken> {
    const { payload } = result;
    checkClaimTypes(payload, now, this.options.clockTolerance, result.source === 'jwt' && this.requireClientId);
    checkLifetime(payload, now, result.source, this.options);
    const tooOldAt = this.tooOldAt(payload, now);
    // The token is valid in itself first (draft-ietf-oauth-status-list §8.3); an introspection
    // answer is the IdP's current word already, so only JWTs consult a status list.
    const { statusLists } = this.options;
    const status = statusLists !== undefined && result.source === 'jwt' ? statusLists.admit(payload) : undefined;
    if (!isPromise(status)) return this.accept(result, now, now, tooOldAt, maxAgeMs, status);
    // After waiting for a list, a revocation may have arrived meanwhile: check at the current time.
    return status.then((listed) => this.accept(result, now, this.options.clock(), tooOldAt, maxAgeMs, listed));
  }

  /** Not revoked at `checkedAt`: frozen and cached (admit's last step). */
  private accept(
    result: VerifiedToken,
    now: number,
    checkedAt: number,
    tooOldAt: number | undefined,
    maxAgeMs: number | undefined,
    status: StatusReference | undefined,
  ): VerifiedToken {
    const { payload } = result;
    const keys = revocationKeysFor(result);
    if (this.options.revocations.isRevoked(keys, payload.iat, checkedAt)) throw invalidToken('revoked');
    deepFreeze(result);
    // A cached entry stops being served when the token becomes too old, as it does at `exp`.
    const servedFor = tooOldAt === undefined ? maxAgeMs : Math.min(maxAgeMs ?? Infinity, tooOldAt - now);
    this.options.cache.set(result, now, expiresAt(payload, this.options), keys, servedFor, status);
    return result;
  }

  /**
   * `maxTokenAge`: epoch ms from which the token is too old (jose's whole-second rule, tolerance
   * included), or undefined without the option. Refuses one already too old, or without `iat`.
   */
  private tooOldAt(payload: VerifiedToken['payload'], now: number): number | undefined {
    const { maxTokenAgeMs, clockTolerance } = this.options;
    if (maxTokenAgeMs === undefined) return undefined;
    if (typeof payload.iat !== 'number') throw invalidToken('claim_missing');
    const until = maxAgeAcceptedUntil(payload.iat, maxTokenAgeMs / 1000, clockTolerance);
    if (now >= until) throw invalidToken('token_too_old');
    return until;
  }
}
