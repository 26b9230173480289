/**
 * What a verified access token looks like to the app: its claims and the frozen result every
 * request presenting it shares. Kept apart from the option types so that the cache and the
 * revocation identity can name it without importing the whole API surface.
 */
import type { JWTHeaderParameters, JWTPayload } from 'jose';

/** Claims of an OAuth 2.0 access token (RFC 9068) beyond the registered JWT claims. */
export interface AccessTokenClaims extends JWTPayload {
  /** Space-delimited (RFC 9068), or an array of strings as some IdPs send it. */
  scope?: string | string[];
  scp?: string[] | string;
  client_id?: string;
  azp?: string;
}

/**
 * What `verify()` resolves to and what `authGuard` puts on `req.auth`. Deeply frozen: the same
 * object is served to every request that presents the token, so no handler can alter it for others.
 */
export interface VerifiedToken {
  readonly token: string;
  /** The JWS protected header; empty for a token accepted through introspection. */
  readonly header: Readonly<Partial<JWTHeaderParameters>>;
  /** The JWT claims, or the introspection answer's claims (without `active`). */
  readonly payload: Readonly<AccessTokenClaims>;
  /** How the token was checked: a local signature (`jwt`) or the IdP's word (`introspection`). */
  readonly source: 'jwt' | 'introspection';
}
