/**
 * Is this token ours? What the revoker asks before it denylists anything. Proven the way verify()
 * would accept the token, expiry aside (an expired token is still ours to evict): a cached
 * acceptance; else the IdP's introspection answer for tokens verify() introspects (opaque ones, or
 * all with `mode: 'always'`); else the signature against the issuer's keys with our `iss` and `aud`.
 * Undefined for anything else, so forged, foreign, inactive or garbage tokens never produce a
 * denylist entry (an opaque string's key could only ever hit that string, but entries anyone could
 * create for free would grow every mirror).
 */
import { revocationKeysFor } from '../revoke/revocation-identity.js';
import type { IdentifiedToken, TokenIdentifier } from '../revoke/revoker.js';
import { IdpUnavailableError, MisconfiguredError } from '../shared/errors.js';
import type { AccessTokenClaims, VerifiedToken } from '../shared/verified-token.js';
import type { IntrospectionVerifier } from './introspection-verifier.js';
import type { ResolvedOptions } from './options.js';
import { hasAudience } from './registered-claims.js';
import type { SignatureCheck } from './signature.js';
import { expiresAt, type LifetimeLimits } from './token-claims.js';
import type { TokenCache } from './token-cache.js';

/** What an {@link OwnershipCheck} needs from its verifier: the same proofs verify() uses. */
export interface OwnershipCheckOptions extends LifetimeLimits {
  issuer: string;
  audience: readonly string[];
  /** The claim `audience` is matched against, as verify() matches it. */
  audienceClaim: ResolvedOptions['audienceClaim'];
  clock: () => number;
  maxTokenLength: number;
  /** Tokens verify() accepted: ours without asking anyone. */
  cache: Pick<TokenCache, 'inspect'>;
  signature: Pick<SignatureCheck, 'verifySignature'>;
  /** Present when `introspection` is configured. */
  introspection: Pick<IntrospectionVerifier, 'decides' | 'identify'> | undefined;
}

/** What proved a token ours: enough to name its revocation keys. */
type Proven = Pick<VerifiedToken, 'token' | 'payload' | 'source'>;

/** The verifier's answer to the revoker's question (see the file comment). */
export class OwnershipCheck implements TokenIdentifier {
  constructor(private readonly options: OwnershipCheckOptions) {}

  /** Rejects with IdpUnavailableError when the keys or the IdP cannot be asked right now. */
  async identify(token: string): Promise<IdentifiedToken | undefined> {
    const cached = this.options.cache.inspect(token);
    if (cached) {
      return { payload: cached.result.payload, keys: cached.keys, expiresAt: this.revocableUntil(cached.expiresAt) };
    }
    if (typeof token !== 'string' || token.length > this.options.maxTokenLength) return undefined;
    const { introspection } = this.options;
    const accepted =
      introspection?.decides(token) === true ? await introspection.identify(token) : await this.bySignature(token);
    if (accepted === undefined) return undefined;
    return {
      payload: accepted.payload,
      keys: revocationKeysFor(accepted),
      expiresAt: this.revocableUntil(expiresAt(accepted.payload, this.options)),
    };
  }

  /**
   * Until when a revocation must last: the token's own deadline, after which nothing accepts it
   * anyway (every accepted token has one: see checkLifetime). A token without one is never
   * accepted; its entry still lasts as long as any token may live.
   */
  private revocableUntil(deadline: number | undefined): number {
    return deadline ?? this.options.clock() + this.options.maxTokenLifetimeMs;
  }

  /**
   * Signed by the issuer's keys, with our `iss` and one of our audiences (in the configured claim),
   * and not an ID token; expiry aside.
   */
  private async bySignature(token: string): Promise<Proven | undefined> {
    if (token.split('.').length !== 3) return undefined;
    let payload: AccessTokenClaims;
    try {
      const verified = await this.options.signature.verifySignature(token);
      payload = JSON.parse(new TextDecoder().decode(verified.payload)) as AccessTokenClaims;
    } catch (error) {
      if (error instanceof IdpUnavailableError || error instanceof MisconfiguredError) throw error;
      return undefined;
    }
    if (typeof payload !== 'object' || payload === null || payload.iss !== this.options.issuer) return undefined;
    if (this.options.audienceClaim === 'client_id') {
      if (typeof payload.client_id !== 'string' || !hasAudience(payload.client_id, this.options.audience))
        return undefined;
    } else if (!hasAudience(payload.aud, this.options.audience)) return undefined;
    if (payload.token_use !== undefined && payload.token_use !== 'access') return undefined;
    if (payload.jti !== undefined && typeof payload.jti !== 'string') return undefined;
    return { token, payload, source: 'jwt' };
  }
}
