/**
 * The checks a request passes after its token is verified, on every request, cache hits included:
 * scopes, and whatever else a route requires of the token or of how it was presented. A check
 * refuses by throwing an `AuthError`; it may answer later (a promise), e.g. when it asks a store.
 */
import type { VerifiedToken } from '../shared/verified-token.js';
import type { RequestLike } from './request-like.js';

/**
 * How the token came: the request, the authentication scheme it used and the token itself.
 * `scheme` is `'Bearer'` for RFC 6750 credentials (header or form body).
 */
export interface Presentation {
  /** The request being authenticated. */
  readonly request: RequestLike;
  /** The `Authorization` scheme the token came under. */
  readonly scheme: 'Bearer' | 'DPoP';
  /** The access token, as presented. */
  readonly token: string;
  /** The `DPoP` header (RFC 9449 proof) that came with a `DPoP`-scheme token: exactly one, size-capped. */
  readonly proof?: string;
}

/**
 * Headers a check wants on the answer to an admitted request (e.g. a fresh `DPoP-Nonce`). Set
 * through {@link ResponseHeaders.set}; read by the authenticator into `Admitted.headers`.
 */
export interface ResponseHeaders {
  set(name: string, value: string): void;
}

/**
 * A check of a verified token against one request. Throws (or rejects with) an `AuthError` to
 * refuse; returns nothing (or a promise of nothing) to let the request through.
 */
export type RequestCheck = (
  auth: VerifiedToken,
  presented: Presentation,
  headers: ResponseHeaders,
) => void | Promise<void>;

/** Runs `checks` in order: synchronously while they answer synchronously, then chained on the first promise. */
export function runChecks(
  checks: readonly RequestCheck[],
  auth: VerifiedToken,
  presented: Presentation,
  headers: ResponseHeaders,
): undefined | Promise<void> {
  for (let i = 0; i < checks.length; i++) {
    const pending = checks[i]!(auth, presented, headers);
    if (pending instanceof Promise) {
      return i + 1 === checks.length
        ? pending
        : pending.then(() => runChecks(checks.slice(i + 1), auth, presented, headers));
    }
  }
  return undefined;
}
