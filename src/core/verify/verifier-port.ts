/**
 * The one internal interface between a verifier and the library's own collaborators (adapters,
 * the notification receivers, the multi-issuer front): what they need beyond the public
 * `Verifier` API. Both verifier kinds register theirs at construction; `portOf()` finds it, or
 * throws a TypeError for an object that did not come from `createVerifier()`. Nothing of it is
 * visible on the verifier object itself.
 */
import type { JWSHeaderParameters } from 'jose';
import type { AuthError } from '../shared/errors.js';
import type { MaybePromise } from '../shared/maybe-promise.js';
import type { DpopSettings } from './dpop-options.js';
import type { AccessTokenClaims, VerifiedToken, Verifier } from './types.js';

/** How to verify an IdP-signed JWT that is not an access token (a logout token, a security event). */
export interface IssuerJwtOptions {
  audience: string | string[];
  types: ReadonlyArray<string | undefined>;
  requiredClaims: string[];
  maxTokenAge: number;
}

/** What {@link VerifierPort.verifyIssuerJwt} resolves to. */
export interface VerifiedIssuerJwt {
  header: JWSHeaderParameters;
  payload: AccessTokenClaims;
  /** The issuer whose keys verified it (always the JWT's own `iss`). */
  issuer: string;
  /** Epoch ms from which the verifier would refuse this JWT (too old or expired), tolerance included. */
  acceptedUntil: number;
}

/** One issuer's notion of now: its verifier's clock (epoch ms) and leeway (seconds). */
export interface IssuerTime {
  readonly clock: () => number;
  readonly clockTolerance: number;
}

export interface VerifierPort {
  /**
   * Verifies another kind of JWT signed by one of the verifier's issuers (same keys, algorithms
   * and `iss`; its own audience, type and claims) and reports which issuer verified it.
   */
  verifyIssuerJwt(jwt: string, options: IssuerJwtOptions): Promise<VerifiedIssuerJwt>;
  /** Records `key` in `issuer`'s store until `until` (epoch ms); true the first time (replay protection). */
  claimOnce(key: string, until: number, issuer: string): Promise<boolean>;
  /** Request-level rejections (no token, malformed header, missing scope) reach the verifier's listeners. */
  reportRejection(error: AuthError): void;
  /**
   * `verify()` without a promise where none is needed: a cache hit, or a miss that needs no I/O
   * (its key imported before, the node:crypto backend, no introspection or status list to ask),
   * is answered at once, a refusal thrown (and reported to the listeners as `verify()` reports
   * it); anything else as a promise, as `verify()` would answer it. Optional: a port registered by
   * an older copy of the library has none (use `verify()`).
   */
  verifyNow?(token: string): MaybePromise<VerifiedToken>;
  /**
   * Whether a token this verifier accepted is revoked now, in this instance's revocation list: a
   * synchronous look-up (no I/O), for a request whose checks waited (a DPoP proof's store claim)
   * after the token was found unrevoked. A token of no issuer of the verifier counts as revoked.
   */
  revoked(auth: VerifiedToken): boolean;
  /**
   * Each issuer's clock (epoch ms) and leeway (seconds), by issuer (one entry for a single-issuer
   * verifier), for request checks that compare a token's instants with now (RFC 9470
   * `auth_time`): a token is judged on the same time as the issuer's verifier judged it.
   */
  readonly time: ReadonlyMap<string, IssuerTime>;
  /** How each issuer checks DPoP proofs, by issuer (one entry for a single-issuer verifier). */
  readonly dpop: ReadonlyMap<string, DpopSettings>;
  /**
   * The DPoP proofs this verifier's guards claimed, by the request that presented them (its
   * `RequestLike.identity`: the framework's own request object, never reused), so a second guard
   * on the same request (an app-wide guard, then a route's) finds its proof claimed by the first
   * instead of refusing it as a replay. Entries go with their request.
   */
  readonly proofsClaimed: WeakMap<object, Map<string, Promise<boolean>>>;
}

// One registry per process, shared by every copy of the library that may be loaded (as the
// global symbols it replaces were), so a verifier from one copy works with another's adapters.
const REGISTRY = Symbol.for('revocable-jwt.verifierPorts');
const registry = globalThis as Record<symbol, WeakMap<object, VerifierPort> | undefined>;
registry[REGISTRY] ??= new WeakMap<object, VerifierPort>();
const ports: WeakMap<object, VerifierPort> = registry[REGISTRY];

/** Called by each verifier kind's constructor. */
export function registerPort(verifier: Verifier, port: VerifierPort): void {
  ports.set(verifier, port);
}

/** The internal interface of a verifier made by `createVerifier()`; a TypeError for anything else. */
export function portOf(verifier: Verifier): VerifierPort {
  const port = typeof verifier === 'object' && verifier !== null ? ports.get(verifier) : undefined;
  if (port === undefined) {
    throw new TypeError(
      'revocable-jwt: `verifier` must come from createVerifier() ' +
        '(a wrapper or a plain object has no access to its internals)',
    );
  }
  return port;
}
