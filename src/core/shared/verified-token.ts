/**
 * What a verified access token looks like to the app: its claims and the frozen result every
 * request presenting it shares. Kept apart from the option types so that the cache and the
 * revocation identity can name it without importing the whole API surface.
 */
import type { JWTHeaderParameters, JWTPayload } from 'jose';

/**
 * Claims of an OAuth 2.0 access token (RFC 9068) beyond the registered JWT claims (`iss`, `sub`,
 * `aud`, `exp`, `iat`, `jti`, …, from jose's `JWTPayload`), and any other claim the IdP adds.
 * Only what the verifier checks is guaranteed: `iss`, `aud`, `exp`, `nbf`, `iat`, and that `sub`,
 * `jti`, `client_id`, `azp` are strings when present. The scope claims' shape is not checked
 * (read them with `grantedScopes()`).
 *
 * @example
 * ```ts
 * import { grantedScopes, type AccessTokenClaims } from 'revocable-jwt';
 * const auth = await verifier.verify(token);
 * const claims: Readonly<AccessTokenClaims> = auth.payload;
 * log.info({ sub: claims.sub, client: claims.client_id ?? claims.azp, scopes: [...grantedScopes(auth)] }, 'call');
 * ```
 */
export interface AccessTokenClaims extends JWTPayload {
  /** Space-delimited (RFC 9068), or an array of strings as some IdPs send it. */
  scope?: string | string[];
  /** Scopes as Okta and Azure AD name them: an array of strings, or a space-delimited string. */
  scp?: string[] | string;
  /** The OAuth client the token was issued to (RFC 9068 §2.2; required when `typ: 'at+jwt'` is enforced). */
  client_id?: string;
  /** The authorized party (OpenID Connect): the client, for IdPs that send it instead of `client_id`. */
  azp?: string;
}

/**
 * What `verify()` resolves to and what `authGuard` puts on `req.auth`. Deeply frozen: the same
 * object is served to every request that presents the token, so no handler can alter it for others.
 *
 * @example
 * ```ts
 * import type { VerifiedToken } from 'revocable-jwt';
 * const auth: VerifiedToken = await verifier.verify(token);
 * if (auth.source === 'jwt') log.info({ kid: auth.header.kid, sub: auth.payload.sub }, 'signed by the IdP');
 * else log.info({ sub: auth.payload.sub }, 'opaque token, active per introspection');
 * ```
 */
export interface VerifiedToken {
  /** The token string itself, as presented (a secret: do not log it). */
  readonly token: string;
  /** The JWS protected header; empty for a token accepted through introspection. */
  readonly header: Readonly<Partial<JWTHeaderParameters>>;
  /** The JWT claims, or the introspection answer's claims (without `active`). */
  readonly payload: Readonly<AccessTokenClaims>;
  /** How the token was checked: a local signature (`jwt`) or the IdP's word (`introspection`). */
  readonly source: 'jwt' | 'introspection';
}
