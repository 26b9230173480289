/**
 * RFC 7662 for one issuer's verifier: which tokens the IdP's word (not a signature) decides, and
 * that word, asked through the introspection gate (what an unknown token may cost the IdP) and
 * validated like a token's claims. The verifier owns one when `introspection` is configured and
 * admits what it answers like any other verified token (claims, lifetime, revocation, cache).
 */
import type { IdpEndpoints } from '../idp/endpoints.js';
import type { FetchLike } from '../idp/http-client.js';
import { introspectToken, type ResolvedIntrospectionOptions, validateIntrospection } from '../idp/introspection.js';
import type { RevocationList } from '../revoke/revocation-list.js';
import { denylistKeyFor } from '../revoke/revocation-identity.js';
import { InvalidTokenError } from '../shared/errors.js';
import type { MisconfigurationMonitor } from '../shared/misconfiguration.js';
import { invalidToken } from '../shared/rejections.js';
import type { AccessTokenClaims, VerifiedToken } from '../shared/verified-token.js';
import { IntrospectionGate } from './introspection-gate.js';
import { checkOpaqueShape, looksLikeJws } from './token-shape.js';

/** What an {@link IntrospectionVerifier} needs from its verifier. */
export interface IntrospectionVerifierOptions {
  settings: ResolvedIntrospectionOptions;
  issuer: string;
  audience: readonly string[];
  clock: () => number;
  /** Seconds of leeway on `exp` and `nbf`. */
  clockTolerance: number;
  maxTokenLength: number;
  endpoints: Pick<IdpEndpoints, 'introspection'>;
  /** Where a misconfigured introspection (no endpoint, our client refused) is reported. */
  misconfiguration: MisconfigurationMonitor;
  /** This instance's revocations: a token revoked here or elsewhere costs the IdP nothing. */
  revocations: Pick<RevocationList, 'isDenylisted'>;
  fetch: FetchLike;
  signal: AbortSignal;
}

/** One verifier's use of RFC 7662 (see the file comment); made only when `introspection` is configured. */
export class IntrospectionVerifier {
  private readonly gate: IntrospectionGate;

  constructor(private readonly options: IntrospectionVerifierOptions) {
    this.gate = new IntrospectionGate({
      now: options.clock,
      newTokenBudget: options.settings.newTokenBudget,
      newTokenWindowMs: options.settings.newTokenWindowMs,
    });
  }

  /** Longest an `active: true` answer is reused (ms), besides `exp`. */
  get maxAgeMs(): number {
    return this.options.settings.maxAgeMs;
  }

  /** Whether the IdP's word, not a signature, decides if this token is accepted. */
  decides(token: string): boolean {
    return this.options.settings.mode === 'always' || !looksLikeJws(token);
  }

  /**
   * For verify(): the claims of a token the IdP calls active, with the instant they were checked
   * at; rejects with an AuthError otherwise (malformed, revoked here, inactive, the IdP unavailable).
   */
  async verify(token: string): Promise<{ result: VerifiedToken; now: number }> {
    checkOpaqueShape(token, this.options.maxTokenLength);
    // A token revoked here or on another instance costs the IdP nothing: its key needs only the string.
    if (this.options.revocations.isDenylisted(denylistKeyFor(token, this.options.issuer), this.options.clock()))
      throw invalidToken('revoked');
    const { payload, now } = await this.introspect(token);
    return { result: { token, header: {}, payload, source: 'introspection' }, now };
  }

  /**
   * For identify(): the token as the IdP vouches for it, or undefined when it does not (inactive,
   * foreign, a refresh token, malformed). An unreachable or misconfigured IdP is not an answer: it rejects.
   */
  async identify(token: string): Promise<Pick<VerifiedToken, 'token' | 'payload' | 'source'> | undefined> {
    try {
      checkOpaqueShape(token, this.options.maxTokenLength);
      const { payload } = await this.introspect(token);
      return { token, payload, source: 'introspection' };
    } catch (error) {
      if (error instanceof InvalidTokenError) return undefined;
      throw error;
    }
  }

  /**
   * The validated claims of a token the IdP calls active, asked through the introspection gate
   * (which also coalesces verify() and identify() of one token: both want exactly these claims);
   * rejects with an AuthError otherwise.
   */
  private introspect(token: string): Promise<{ payload: AccessTokenClaims; now: number }> {
    const { settings, issuer, audience, clock, clockTolerance } = this.options;
    // Resolution and call are watched together: any answer from the endpoint clears an earlier
    // misconfiguration of introspection, and a refusal of our client (401/403) is one.
    const ask = () =>
      this.options.misconfiguration.watch('introspection', async () =>
        introspectToken(await this.options.endpoints.introspection(), settings, token, {
          fetch: this.options.fetch,
          signal: this.options.signal,
        }),
      );
    return this.gate.check(token, ask, (answer) => {
      const now = clock();
      const payload = validateIntrospection(answer, {
        issuer,
        audience,
        now,
        clockTolerance,
        allowMissingAudience: settings.allowMissingAudience,
      });
      return { payload, now };
    });
  }
}
