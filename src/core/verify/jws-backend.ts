/**
 * Who checks a JWS signature: node:crypto's one-shot `verify` on the runtimes whose node:crypto
 * the differential tests hold equal to jose's and is the faster there ({@link NODE_CRYPTO_RUNTIMES}:
 * Node and Bun), jose's WebCrypto path everywhere else (Deno, workerd, browsers, any runtime not
 * measured). Both take the same token, the
 * same key resolver (the issuer's JWKS through jose's key selection, or the configured HMAC
 * secret) and the same allowlist, and answer alike: the protected header and the payload bytes,
 * or a jose error whose class says why (rejections.ts turns it into the client's reason).
 * test/security/backend-differential.test.ts (named attacks and generated tokens, 10⁵ of them in
 * `npm run fuzz`) and the attack corpus run under each (test/security/webcrypto/) hold them equal.
 *
 * The same choice checks the signatures of JWSs that carry their own key (a DPoP proof's `jwk`,
 * RFC 9449): {@link JwsBackend.embeddedKey}, held equal by
 * test/security/dpop-backend-differential.test.ts.
 */
import type { FlattenedJWSInput, JWSHeaderParameters } from 'jose';
import type { VerificationKey } from '../idp/jwks.js';
import type { MaybePromise } from '../shared/maybe-promise.js';
import type { SegmentDecoder } from './compact-jws.js';
import type { CanonicalJws } from './token-shape.js';
import { type JsRuntime, jsRuntime } from './js-runtime.js';
import { nodeCryptoJws } from './node-crypto-jws.js';
import { webCryptoJws } from './webcrypto-jws.js';

/**
 * A jose key resolver: the key that must have signed a token with this header; the key itself
 * when it is at hand (imported before, or the HMAC secret), a promise when it must be fetched or
 * imported first.
 */
export type KeyResolver = (
  header: JWSHeaderParameters,
  jws: FlattenedJWSInput,
) => MaybePromise<VerificationKey | Uint8Array>;

/** A JWS whose signature holds. */
export interface VerifiedJws {
  protectedHeader: JWSHeaderParameters;
  /** The payload's bytes (decoded from base64url unless `b64` is false). */
  payload: Uint8Array;
  /** False for an RFC 7797 unencoded payload (`b64: false` under `crit`), which no JWT may use. */
  b64: boolean;
}

/** A public JWK reduced to the members of its RFC 7638 thumbprint (EC, RSA or OKP; no private member). */
export type PublicJwk = Readonly<Record<string, string>>;

/**
 * Checks a signature by one embedded key: `signingInput` is `<header>.<payload>` as sent (ASCII),
 * `signature` its third segment, canonical base64url (the caller checked). False, never a throw,
 * for a signature that does not hold; a promise where the runtime's crypto is asynchronous.
 */
export type EmbeddedKeyCheck = (signingInput: string, signature: string) => boolean | Promise<boolean>;

/** One way of checking a compact JWS (see the file comment). */
export interface JwsBackend {
  readonly name: JwsBackendName;
  /**
   * The token's header and payload once its signature holds; `algorithms` is the allowlist. A
   * refusal is thrown (a jose error, or what the key resolver threw) or rejects. node:crypto
   * answers synchronously when the resolver hands the key over at once; WebCrypto always with a
   * promise.
   */
  verify(token: CanonicalJws, key: KeyResolver, algorithms: ReadonlySet<string>): MaybePromise<VerifiedJws>;
  /** The bytes of a canonical base64url segment (the caller checked it is one), the runtime's fastest way. */
  readonly decode: SegmentDecoder;
  /**
   * The signature check of `jwk`, a key the JWS carries itself, for the asymmetric `alg`: the key
   * imported once, bound to `alg` (its family and curve; RSA of 2048 bits or more). Rejects with
   * a TypeError for a key that does not fit `alg`, or a key the runtime cannot import. The caller
   * keeps the check (an LRU per key); what the key may be beyond that is the caller's policy.
   */
  embeddedKey(alg: string, jwk: PublicJwk): Promise<EmbeddedKeyCheck>;
}

export type JwsBackendName = 'node:crypto' | 'webcrypto';

/**
 * The runtimes that check signatures with their node:crypto: those on which the whole
 * differential corpus (named attacks and generated tokens, access tokens and DPoP proofs) gets
 * the answers due from node:crypto, the same as from WebCrypto, and where node:crypto is the
 * faster (bench/runtime-miss.ts). jest runs the corpus on Node (test/security/backend-differential*,
 * dpop-backend-differential); `npm run test:runtimes` on every pinned Node, Bun and Deno
 * (test/runtimes/differential-entry.ts). Deno is not here: its node:crypto gives the answers due
 * but verifies ES256 about twice as slowly as its WebCrypto, and RS256 no faster.
 */
export const NODE_CRYPTO_RUNTIMES: ReadonlySet<JsRuntime> = new Set<JsRuntime>(['node', 'bun']);

const chosen = NODE_CRYPTO_RUNTIMES.has(jsRuntime()) ? nodeCryptoJws : undefined;
let forced: JwsBackend | undefined;

/** The backend a new verifier uses: node:crypto on the runtimes above, else WebCrypto (or what a test forced). */
export function defaultJwsBackend(): JwsBackend {
  return forced ?? chosen ?? webCryptoJws;
}

/** The backend by name, for tests that compare them; undefined where the runtime has no node:crypto. */
export function jwsBackend(name: JwsBackendName): JwsBackend | undefined {
  return name === 'webcrypto' ? webCryptoJws : nodeCryptoJws;
}

/**
 * Test hook, not public API (not exported from the package): verifiers created from now on in
 * this module instance use `backend` (undefined restores the default). The attack corpus and
 * its neighbours run once more under WebCrypto through it (test/support/webcrypto-backend.ts).
 */
export function forceJwsBackendForTests(backend: JwsBackend | undefined): void {
  forced = backend;
}
