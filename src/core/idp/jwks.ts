/**
 * The issuer's signing keys. Key selection and import are jose's, remembered per set
 * (key-selection.ts); this file decides *when* to fetch:
 *   - lazily, on the first token that needs a key;
 *   - again when a token names a `kid` we do not have, at most once per cooldown window, with
 *     concurrent callers sharing one request;
 *   - in the background once the set is older than `maxAge` (callers keep using the old keys);
 *   - never in a loop while the endpoint fails: known keys keep working (stale-if-error) and a
 *     token that needs an unknown key gets a 503, not a 401.
 */
import { errors as joseErrors, type FlattenedJWSInput, type JWK, type JWSHeaderParameters } from 'jose';
import { FailureBackoff } from '../shared/backoff.js';
import { IdpUnavailableError, MisconfiguredError } from '../shared/errors.js';
import type { VerifierEvents } from '../shared/events.js';
import type { MaybePromise } from '../shared/maybe-promise.js';
import type { IdpEndpoints } from './endpoints.js';
import { KeySelection, type VerificationKey } from './key-selection.js';
import { fetchJson, HttpRequestError, type FetchLike } from './http-client.js';

export interface JwksSourceOptions {
  /** Where the set is: `jwksUri`, or discovery's `jwks_uri` (asked before every fetch). */
  endpoints: Pick<IdpEndpoints, 'jwks'>;
  fetch: FetchLike;
  /** Each request, in ms. */
  timeoutMs: number;
  /** Minimum time between two fetches triggered by unknown `kid`s (ms). */
  cooldownMs: number;
  /** Age after which the set is refreshed in the background (ms). */
  maxAgeMs: number;
  maxBytes: number;
  now: () => number;
  signal: AbortSignal;
  /**
   * Told when a fetched set drops or changes keys that the previous set had: results verified
   * with them must not be served any more.
   */
  onKeysRemoved: (change: KeyRemoval) => void;
  /** Where `jwks-refreshed` is reported after every successful fetch. */
  events: VerifierEvents;
  /** The verifier's allowed algorithms: `jwks-refreshed` counts the keys usable with them. */
  algorithms: readonly string[];
}

/** Keys that left the set: by `kid`, and whether any key without a `kid` left. */
export interface KeyRemoval {
  kids: ReadonlySet<string>;
  kidless: boolean;
}

/**
 * The issuer's JWKS figures, as `verifier.stats().jwks` reports them (counters since the verifier
 * was created).
 *
 * @example
 * ```ts
 * import type { JwksStats } from 'revocable-jwt';
 * const jwks: JwksStats = verifier.stats().jwks;
 * if (jwks.fetchedAt === undefined) log.warn({ failures: jwks.failures }, 'no signing keys fetched yet');
 * ```
 */
export interface JwksStats {
  /** JWKS requests sent (first load, refreshes, unknown `kid`s). */
  fetches: number;
  /** JWKS loads that failed: endpoint unknown, network, status, size or a body without `keys`. */
  failures: number;
  /** Keys in the current set (symmetric `oct` keys, which are dropped, not counted). */
  keys: number;
  /** Epoch ms of the last successful fetch, if any. */
  fetchedAt: number | undefined;
}

export type { VerificationKey };

export class JwksSource {
  /** The current set's selection; replaced with the set. */
  private keys: KeySelection | undefined;
  private fingerprints = new Map<string, string>();
  private kidlessFingerprints = new Set<string>();
  private keyCount = 0;
  private fetchedAt: number | undefined;
  private lastAttemptAt = -Infinity;
  private pending: Promise<void> | undefined;
  private lastError: unknown;
  private fetches = 0;
  private failures = 0;
  private readonly backoff: FailureBackoff;

  constructor(private readonly options: JwksSourceOptions) {
    this.backoff = new FailureBackoff(1_000, Math.max(options.cooldownMs, 1_000), options.now);
  }

  /**
   * A jose key resolver: the key that must have signed a token with this header. A selection
   * remembered for the current set is handed over at once (no promise: the miss path stays
   * synchronous); anything else (first load, a kid not seen yet, a selection to make) is a promise.
   */
  readonly getKey = (header: JWSHeaderParameters, token: FlattenedJWSInput): MaybePromise<VerificationKey> => {
    const known = this.keys?.known(header, token);
    if (known === undefined) return this.fetchOrSelect(header, token);
    if (this.options.now() - (this.fetchedAt ?? 0) >= this.options.maxAgeMs) this.refreshInBackground();
    return known;
  };

  private readonly fetchOrSelect = async (
    header: JWSHeaderParameters,
    token: FlattenedJWSInput,
  ): Promise<VerificationKey> => {
    if (!this.keys) await this.load();
    else if (this.options.now() - (this.fetchedAt ?? 0) >= this.options.maxAgeMs) this.refreshInBackground();

    try {
      return await this.select(header, token);
    } catch (error) {
      if (!(error instanceof joseErrors.JWKSNoMatchingKey)) throw error;
      // Unknown kid: maybe the IdP rotated. Refetch, but only once per cooldown window,
      // so a flood of made-up kids cannot turn us into a load generator against the IdP.
      if (this.pending) await this.pending.catch(() => undefined);
      else if (this.options.now() - this.lastAttemptAt >= this.options.cooldownMs)
        await this.refresh().catch(() => undefined);
      try {
        return await this.select(header, token);
      } catch (retryError) {
        if (retryError instanceof joseErrors.JWKSNoMatchingKey && this.backoff.failing) {
          throw this.unavailable('The signing keys of the identity provider cannot be fetched');
        }
        throw retryError;
      }
    }
  };

  /** Fetches the set now (coalesced with any fetch already in flight). */
  refresh(): Promise<void> {
    if (this.pending) return this.pending;
    this.lastAttemptAt = this.options.now();
    this.pending = this.fetchSet().finally(() => {
      this.pending = undefined;
    });
    return this.pending;
  }

  stats(): JwksStats {
    return { fetches: this.fetches, failures: this.failures, keys: this.keyCount, fetchedAt: this.fetchedAt };
  }

  private select(header: JWSHeaderParameters, token: FlattenedJWSInput): Promise<VerificationKey> {
    return this.keys!.select(header, token);
  }

  /** First load: wait for it, but respect the failure backoff instead of hammering the IdP. */
  private async load(): Promise<void> {
    if (!this.pending) {
      const wait = this.backoff.waitMs;
      if (wait > 0) throw this.unavailable('The signing keys of the identity provider cannot be fetched', wait);
    }
    try {
      await this.refresh();
    } catch (error) {
      if (error instanceof IdpUnavailableError || error instanceof MisconfiguredError) throw error;
      throw this.unavailable('The signing keys of the identity provider cannot be fetched');
    }
    if (!this.keys) throw this.unavailable('The signing keys of the identity provider cannot be fetched');
  }

  private refreshInBackground(): void {
    if (this.pending || this.backoff.waitMs > 0) return;
    this.refresh().catch(() => undefined);
  }

  private async fetchSet(): Promise<void> {
    try {
      const uri = await this.options.endpoints.jwks();
      this.fetches += 1;
      const body = await fetchJson(uri, {
        fetch: this.options.fetch,
        timeoutMs: this.options.timeoutMs,
        maxBytes: this.options.maxBytes,
        signal: this.options.signal,
      });
      this.install(body);
      this.backoff.recordSuccess();
      this.lastError = undefined;
    } catch (error) {
      this.failures += 1;
      this.lastError = error;
      this.backoff.recordFailure(error instanceof HttpRequestError ? error.retryAfter : undefined);
      throw error;
    }
  }

  private install(body: Record<string, unknown>): void {
    if (!Array.isArray(body.keys)) throw new HttpRequestError('invalid_body', 'the JWKS document has no "keys" array');
    // Symmetric keys have no business in a public key set: never let one be selected.
    const keys = body.keys
      .filter(
        (key): key is JWK =>
          typeof key === 'object' && key !== null && !Array.isArray(key) && (key as JWK).kty !== 'oct',
      )
      .map(flatJwk);
    const selection = new KeySelection(keys);

    const fingerprints = new Map<string, string>();
    const kidless = new Set<string>();
    for (const key of keys) {
      const print = fingerprint(key);
      if (typeof key.kid === 'string') fingerprints.set(key.kid, (fingerprints.get(key.kid) ?? '') + print);
      else kidless.add(print);
    }
    const removedKids = new Set<string>();
    for (const [kid, print] of this.fingerprints) if (fingerprints.get(kid) !== print) removedKids.add(kid);
    let kidlessRemoved = false;
    for (const print of this.kidlessFingerprints) if (!kidless.has(print)) kidlessRemoved = true;

    this.keys = selection;
    this.fingerprints = fingerprints;
    this.kidlessFingerprints = kidless;
    this.keyCount = keys.length;
    this.fetchedAt = this.options.now();
    if (removedKids.size > 0 || kidlessRemoved)
      this.options.onKeysRemoved({ kids: removedKids, kidless: kidlessRemoved });
    this.options.events.emit('jwks-refreshed', {
      keys: keys.length,
      usable: usableKeyCount(keys, this.options.algorithms),
      removedKids: [...removedKids],
    });
  }

  /** The error for a key we cannot have: a misconfiguration stays one while we back off. */
  private unavailable(description: string, waitMs = this.backoff.waitMs): IdpUnavailableError | MisconfiguredError {
    if (this.lastError instanceof MisconfiguredError) return this.lastError;
    return new IdpUnavailableError(description, Math.max(1, waitMs / 1000), { cause: this.lastError });
  }
}

/** Whether a token signed with `alg` could be verified by `key` (key type and curve). */
export function algorithmFits(alg: string, key: Pick<JWK, 'kty' | 'crv'>): boolean {
  if (/^(RS|PS)(256|384|512)$/.test(alg)) return key.kty === 'RSA';
  if (alg === 'ES256') return key.kty === 'EC' && key.crv === 'P-256';
  if (alg === 'ES384') return key.kty === 'EC' && key.crv === 'P-384';
  if (alg === 'ES512') return key.kty === 'EC' && key.crv === 'P-521';
  if (alg === 'EdDSA') return key.kty === 'OKP' && (key.crv === 'Ed25519' || key.crv === 'Ed448');
  if (alg === 'Ed25519') return key.kty === 'OKP' && key.crv === 'Ed25519';
  return false; // HMAC: only the configured `secret`, never a key from a set
}

/**
 * Keys of `keys` that a token signed with one of `algorithms` could be verified by: a signing key
 * (`use` absent or `sig`, `key_ops` absent or with `verify`) whose `alg`, if any, is allowed, or
 * that fits an allowed algorithm by key type and curve.
 */
export function usableKeyCount(keys: readonly JWK[], algorithms: readonly string[]): number {
  let usable = 0;
  for (const key of keys) {
    if (key.use !== undefined && key.use !== 'sig') continue;
    if (Array.isArray(key.key_ops) && !key.key_ops.includes('verify')) continue;
    const fits = typeof key.alg === 'string' ? [key.alg].filter((alg) => algorithms.includes(alg)) : algorithms;
    if (fits.some((alg) => algorithmFits(alg, key))) usable++;
  }
  return usable;
}

/**
 * A JWK's members are strings, booleans or arrays of strings; anything else (a deeply nested
 * object, say) is dropped here, so one odd member can neither blow the stack of jose's copy nor
 * invalidate the rest of the set.
 */
export function flatJwk(key: JWK): JWK {
  const flat: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(key)) {
    if (typeof value === 'string' || typeof value === 'boolean') flat[name] = value;
    else if (Array.isArray(value) && value.length <= 64 && value.every((v) => typeof v === 'string'))
      flat[name] = [...value];
  }
  return flat as JWK;
}

/** What identifies a key's material; a kid whose material changes counts as removed. */
function fingerprint(key: JWK): string {
  return JSON.stringify([key.kty, key.crv, key.n, key.e, key.x, key.y, key.alg, key.use]);
}
