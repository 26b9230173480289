/**
 * Token Status Lists (draft-ietf-oauth-status-list) as a revocation source: an access token that
 * carries `status: { status_list: { idx, uri } }` is accepted only while entry `idx` of the
 * issuer's Status List Token at `uri` is VALID (0x00). How an IdP revokes a million tokens without
 * calling anyone: it flips bits in a list every resource server fetches.
 *
 * One {@link StatusListHolder} per list URI keeps the decoded array and decides when to fetch:
 *   - on the first token that names it (concurrent tokens share one fetch), only from an allowed
 *     origin: the issuer's, the JWKS's, or `allowedOrigins` (a token names a URL, and a fetch to
 *     anywhere else is refused as a misconfiguration before any request is made);
 *   - again in the background `refreshAhead` before it is due (its `ttl`, clamped to
 *     `minTtl`..`maxTtl`, never past its `exp`), so cached tokens never wait for it;
 *   - past due, a read cannot decide until a fresh list arrives; if fetching fails, the held
 *     list keeps answering for `staleIfError` (never past its `exp`), then tokens that reference it
 *     get a 503 with `Retry-After` (fail-closed). Failures back off (1 s doubling to 30 s).
 *
 * The verified-token cache keeps a {@link StatusReference} with each entry, so every cache hit
 * re-reads the current bit (a comparison and a shift): a status change is seen as soon as the
 * list that carries it is fetched, by cached tokens too.
 */
import { LRUCache } from 'lru-cache';
import type { IdpEndpoints } from '../idp/endpoints.js';
import type { FetchLike } from '../idp/http-client.js';
import { HttpRequestError } from '../idp/http-client.js';
import { fetchStatusListToken } from '../idp/status-list-client.js';
import { parseTrustedUrl } from '../idp/url-policy.js';
import { OUT_OF_RANGE, type StatusArray, statusAt, TOKEN_STATUS } from '../revoke/status-list.js';
import { FailureBackoff } from '../shared/backoff.js';
import { IdpUnavailableError, MisconfiguredError, type RejectionReason } from '../shared/errors.js';
import type { MaybePromise } from '../shared/maybe-promise.js';
import type { MisconfigurationMonitor } from '../shared/misconfiguration.js';
import { invalidToken } from '../shared/rejections.js';
import type { AccessTokenClaims } from '../shared/verified-token.js';
import type { StatusListSettings } from './status-list-options.js';
import { type StatusListTokenRules, type VerifiedStatusList, verifyStatusListToken } from './status-list-token.js';

/** What {@link StatusListHolder.read} answers when the list held cannot decide now (none yet, or due). */
export const UNDECIDED = -2;

/** Where a cached token's status is read: its list, and its entry in it. */
export interface StatusReference {
  readonly list: StatusListHolder;
  readonly index: number;
}

/**
 * The Token Status List figures, as `verifier.stats().statusLists` reports them (counters since
 * the verifier was created).
 *
 * @example
 * ```ts
 * import type { StatusListStats } from 'revocable-jwt';
 * const { lists, fetches, failures }: StatusListStats = verifier.stats().statusLists;
 * if (failures > 0) log.warn({ lists, fetches, failures }, 'status lists could not always be fetched');
 * ```
 */
export interface StatusListStats {
  /** Status lists held now. */
  lists: number;
  /** Status List Token requests sent. */
  fetches: number;
  /** Fetches that gave no list we accept: no answer, an error status, or a list refused (signature, `sub`, size…). */
  failures: number;
}

/** What a {@link StatusListCheck} needs from its verifier. */
export interface StatusListCheckOptions extends Omit<StatusListTokenRules, 'maxListBytes'> {
  settings: StatusListSettings;
  fetch: FetchLike;
  timeoutMs: number;
  signal: AbortSignal;
  allowHttp: boolean;
  /** Where the JWKS is (its origin may serve status lists); not asked when the keys are given (`jwks`). */
  endpoints: Pick<IdpEndpoints, 'jwks'>;
  staticKeys: boolean;
  misconfiguration: MisconfigurationMonitor;
}

/** The reason a token is refused for the status its list gives it (anything but VALID). */
export function statusRefusal(status: number): RejectionReason {
  if (status === TOKEN_STATUS.invalid) return 'token_status_invalid';
  if (status === TOKEN_STATUS.suspended) return 'token_status_suspended';
  if (status === OUT_OF_RANGE) return 'token_status_out_of_range';
  return 'token_status_unknown';
}

/** One verifier's status lists (see the file comment). */
export class StatusListCheck {
  private readonly lists: LRUCache<string, StatusListHolder>;
  /** Lists being opened (their URL checked): concurrent first tokens share one holder. */
  private readonly opening = new Map<string, Promise<StatusListHolder>>();
  private readonly issuerOrigin: string;
  /** Shared by every holder. */
  readonly counters = { fetches: 0, failures: 0 };

  constructor(readonly options: StatusListCheckOptions) {
    // A list dropped from the LRU also lets go of its array, so `maxLists` bounds the memory even
    // while cached tokens still point at it (their next hit finds it undecided and reopens it).
    this.lists = new LRUCache({ max: options.settings.maxLists, dispose: (holder) => holder.release() });
    this.issuerOrigin = new URL(options.issuer).origin;
  }

  /**
   * The status check of a token just verified (signature and claims): undefined when it carries no
   * status list reference (refused first with `mode: 'required'`), else its reference, once its
   * list says VALID. Rejects with InvalidTokenError (a status other than VALID, an index past the
   * end, a malformed `status` claim), IdpUnavailableError (no list to be had) or MisconfiguredError
   * (a list URL outside the allowed origins). A token without a reference is answered at once
   * (undefined, or the throw of `mode: 'required'`): only a list is worth a promise.
   */
  admit(payload: AccessTokenClaims): MaybePromise<StatusReference | undefined> {
    const claim = statusClaim(payload);
    if (claim === undefined) {
      if (this.options.settings.required) throw invalidToken('claim_missing');
      return undefined;
    }
    return this.admitListed(claim);
  }

  private async admitListed(claim: { uri: string; index: number }): Promise<StatusReference> {
    const list = await this.holderFor(claim.uri);
    await list.settle();
    const status = list.read(claim.index, this.options.clock());
    if (status === UNDECIDED) throw list.unavailable();
    if (status !== TOKEN_STATUS.valid) throw invalidToken(statusRefusal(status));
    return { list, index: claim.index };
  }

  stats(): StatusListStats {
    return { lists: this.lists.size, ...this.counters };
  }

  private holderFor(uri: string): Promise<StatusListHolder> {
    const held = this.lists.get(uri);
    if (held !== undefined) return Promise.resolve(held);
    let opening = this.opening.get(uri);
    if (opening === undefined) {
      opening = this.options.misconfiguration
        .watch('status-list', () => this.open(uri))
        .finally(() => this.opening.delete(uri));
      this.opening.set(uri, opening);
    }
    return opening;
  }

  private async open(uri: string): Promise<StatusListHolder> {
    const url = await this.allowedUrl(uri);
    const holder = new StatusListHolder(uri, url, this);
    this.lists.set(uri, holder);
    return holder;
  }

  /** `uri` as a URL we may fetch, or a MisconfiguredError that says what to configure. */
  private async allowedUrl(uri: string): Promise<URL> {
    const { settings, allowHttp, staticKeys, endpoints } = this.options;
    let url: URL;
    try {
      url = parseTrustedUrl(uri, 'status_list.uri (in a token)', allowHttp);
    } catch (cause) {
      throw new MisconfiguredError(`${(cause as Error).message.replace(/^revocable-jwt: /, '')}`, { cause });
    }
    if (url.username !== '' || url.password !== '')
      throw new MisconfiguredError('a token names a status list URL with userinfo (user:password@); it is not fetched');
    if (url.origin === this.issuerOrigin || settings.allowedOrigins.has(url.origin)) return url;
    if (!staticKeys && (await endpoints.jwks()).origin === url.origin) return url;
    throw new MisconfiguredError(
      `a token names a status list at ${url.origin}, which is neither the issuer's nor the JWKS's origin; ` +
        `if the IdP publishes its status lists there, add it to \`statusList.allowedOrigins\``,
    );
  }
}

/**
 * The Status List Token at one URI: the array held, when it is due, and the one fetch in flight.
 * Instants are epoch ms on the verifier's clock.
 */
export class StatusListHolder {
  private statuses: StatusArray | undefined;
  /** `iat` of the list held: an older one fetched later is a replay and refused. */
  private issuedAt = -Infinity;
  /** Due: a read past it waits for a fresh list (or answers stale while fetching fails). */
  private freshUntil = 0;
  /** From when a read starts a background fetch. */
  private refreshAt = 0;
  /** End of stale-if-error (and never past `exp`). */
  private usableUntil = 0;
  private pending: Promise<void> | undefined;
  private lastError: unknown;
  /** Dropped from its verifier's lists: holds nothing, fetches nothing. */
  private released = false;
  private readonly backoff: FailureBackoff;

  constructor(
    readonly uri: string,
    private readonly url: URL,
    private readonly check: StatusListCheck,
  ) {
    this.backoff = new FailureBackoff(1_000, 30_000, check.options.clock);
  }

  /**
   * The status of entry `index` at `now` (OUT_OF_RANGE past the end), or UNDECIDED when the list
   * held cannot say (none yet, or due). Synchronous and allocation-free: it runs on cache hits.
   * Starts a background fetch once the list is nearly due.
   */
  read(index: number, now: number): number {
    const statuses = this.statuses;
    if (statuses === undefined) return UNDECIDED;
    if (now >= this.refreshAt) this.refreshInBackground();
    if (now >= this.freshUntil && !(now < this.usableUntil && this.backoff.failing)) return UNDECIDED;
    return statusAt(statuses, index);
  }

  /**
   * Resolves once `read()` can decide: at once when the list held is fresh (or stale within
   * `staleIfError` while fetching fails), else after a fetch (shared with any in flight). Rejects
   * with IdpUnavailableError (or the MisconfiguredError that stopped the fetch) otherwise.
   */
  async settle(): Promise<void> {
    if (this.decides()) return;
    if (this.pending === undefined) {
      if (this.backoff.waitMs > 0) throw this.unavailable();
      this.refresh();
    }
    await this.pending;
    if (!this.decides()) throw this.unavailable();
  }

  /** Forgets the array (see the LRU's `dispose`); reads are UNDECIDED from now on. */
  release(): void {
    this.released = true;
    this.statuses = undefined;
  }

  /** The error for a list we cannot have: a misconfiguration stays one; anything else is a 503. */
  unavailable(): IdpUnavailableError | MisconfiguredError {
    if (this.lastError instanceof MisconfiguredError) return this.lastError;
    return new IdpUnavailableError(
      'The token status list of the identity provider cannot be fetched',
      Math.max(1, this.backoff.waitMs / 1000),
      { cause: this.lastError },
    );
  }

  private decides(): boolean {
    const now = this.check.options.clock();
    return this.statuses !== undefined && (now < this.freshUntil || (now < this.usableUntil && this.backoff.failing));
  }

  private refreshInBackground(): void {
    if (this.pending === undefined && !this.released && this.backoff.waitMs === 0) this.refresh();
  }

  /** Starts the one fetch; `pending` never rejects (the failure is recorded for `unavailable()`). */
  private refresh(): void {
    this.pending = this.fetchList().finally(() => {
      this.pending = undefined;
    });
  }

  private async fetchList(): Promise<void> {
    const { options, counters } = this.check;
    try {
      counters.fetches += 1;
      const jwt = await fetchStatusListToken(this.url, {
        fetch: options.fetch,
        timeoutMs: options.timeoutMs,
        maxBytes: options.settings.maxTokenBytes,
        signal: options.signal,
      });
      this.install(
        await verifyStatusListToken(jwt, this.uri, { ...options, maxListBytes: options.settings.maxListBytes }),
      );
    } catch (error) {
      counters.failures += 1;
      this.lastError = error;
      this.backoff.recordFailure(error instanceof HttpRequestError ? error.retryAfter : undefined);
    }
  }

  private install(list: VerifiedStatusList): void {
    if (list.issuedAt < this.issuedAt) {
      // Someone between us and the IdP (a cache, a CDN) serving an old list would un-revoke tokens.
      throw new HttpRequestError(
        'invalid_body',
        `the status list at ${this.url.origin}${this.url.pathname} is refused: ` +
          `it was issued before the one held (iat ${list.issuedAt} < ${this.issuedAt})`,
      );
    }
    if (this.released) return;
    const { settings, clock } = this.check.options;
    const now = clock();
    const ttlMs = Math.min(settings.maxTtlMs, Math.max(settings.minTtlMs, list.ttlMs ?? settings.maxTtlMs));
    const expiresAt = list.expiresAt ?? Infinity;
    this.statuses = list.statuses;
    this.issuedAt = list.issuedAt;
    this.freshUntil = Math.min(now + ttlMs, expiresAt);
    this.refreshAt = this.freshUntil - Math.min(settings.refreshAheadMs, (this.freshUntil - now) / 2);
    this.usableUntil = Math.min(this.freshUntil + settings.staleIfErrorMs, expiresAt);
    this.backoff.recordSuccess();
    this.lastError = undefined;
  }
}

/**
 * The token's `status.status_list` as `{ uri, index }`; undefined when it has none (no `status`,
 * or a `status` naming other mechanisms only). A malformed one is `claim_invalid`: the IdP signed
 * it, but no list can be read from it.
 */
function statusClaim(payload: AccessTokenClaims): { uri: string; index: number } | undefined {
  const status = (payload as { status?: unknown }).status;
  if (status === undefined) return undefined;
  if (typeof status !== 'object' || status === null || Array.isArray(status)) throw invalidToken('claim_invalid');
  const reference = (status as { status_list?: unknown }).status_list;
  if (reference === undefined) return undefined;
  if (typeof reference !== 'object' || reference === null || Array.isArray(reference))
    throw invalidToken('claim_invalid');
  const { idx, uri } = reference as { idx?: unknown; uri?: unknown };
  if (typeof idx !== 'number' || !Number.isSafeInteger(idx) || idx < 0 || typeof uri !== 'string' || uri === '')
    throw invalidToken('claim_invalid');
  return { uri, index: idx };
}
