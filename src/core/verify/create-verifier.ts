/**
 * `createVerifier()`: one issuer (`{ issuer, audience }`) or several (`{ issuers: [...] }`).
 *
 * With several issuers each gets its own verifier: its own discovery, JWKS, audience, cache and
 * revocation settings. A token is routed by its (not yet verified) `iss` claim, by exact match,
 * **before** any key is chosen, and only that issuer's verifier, with that issuer's keys, ever
 * looks at it; its own `iss` check then confirms the route. A token of an unknown issuer is
 * refused without touching any key. Cache hits are found first, without decoding anything.
 */
import { decodeJwt } from 'jose';
import { createMemoryStore } from '../../stores/memory-store.js';
import type { VerifierEventName, VerifierListener } from '../shared/events.js';
import { resolveLogger } from '../shared/logger.js';
import { type MaybePromise, promiseOf } from '../shared/maybe-promise.js';
import { optionKeys, rejectUnknownKeys } from '../shared/option-keys.js';
import type { OutboxRunResult } from '../revoke/outbox-worker.js';
import { invalidToken } from '../shared/rejections.js';
import { VerifierClosedError } from '../shared/errors.js';
import {
  VERIFIER_OPTION_KEYS,
  type IssuerScope,
  type RevocationOutcome,
  type RevokeOptions,
  type VerifiedToken,
  type Verifier,
  type VerifierOptions,
  type VerifierStats,
} from './types.js';
import { createSingleIssuerVerifier } from './verifier.js';
import { portOf, registerPort, type VerifierPort } from './verifier-port.js';

/**
 * Options of `createVerifier()` for several issuers: every {@link VerifierOptions} key but
 * `issuer`, `audience`, `jwks` and `secret` at the top level, as defaults each entry of `issuers`
 * may override (keys and HMAC secrets are per entry only: shared, one issuer's could sign tokens
 * naming another).
 * The top-level `store` serves every issuer that does not bring its own (without one, a memory
 * store the verifier makes and closes).
 * `issuer`, `audience`, `jwks` or `secret` beside `issuers`, an empty list, an issuer listed twice,
 * two entries with the same `secret` or an unknown key (at either level) throw a `TypeError` at
 * construction.
 *
 * @example
 * ```ts
 * import { createRedisStore, createVerifier, type MultiIssuerOptions } from 'revocable-jwt';
 * const options: MultiIssuerOptions = {
 *   store: createRedisStore({ url: 'redis://127.0.0.1:6379' }), // defaults for every issuer
 *   clockTolerance: 10,
 *   issuers: [
 *     { issuer: 'https://login.example.com/', audience: 'api', revocation: { clientId: 'my-api' } },
 *     { issuer: 'https://partner-idp.example/', audience: 'api', algorithms: ['ES256'] },
 *   ],
 * };
 * const verifier = createVerifier(options);
 * ```
 */
export interface MultiIssuerOptions extends Partial<Omit<VerifierOptions, 'issuer' | 'audience' | 'jwks' | 'secret'>> {
  /**
   * One entry per trusted issuer: its `issuer` and `audience` (required), and any other verifier
   * option for it alone (its own discovery, JWKS, algorithms, cache, revocation). A token is
   * routed by its `iss` claim, by exact match, before any key is chosen. Non-empty.
   */
  issuers: Array<Partial<VerifierOptions> & Pick<VerifierOptions, 'issuer' | 'audience'>>;
}

/**
 * The top-level keys of `{ issuers: [...] }` (entries take VERIFIER_OPTION_KEYS): the verifier's,
 * less issuer and audience.
 */
const MULTI_ISSUER_OPTION_KEYS = optionKeys<MultiIssuerOptions>({
  issuers: true,
  ...(Object.fromEntries(
    VERIFIER_OPTION_KEYS.filter((k) => !['issuer', 'audience', 'jwks', 'secret'].includes(k)).map((k) => [k, true]),
  ) as {
    [K in keyof Required<Omit<VerifierOptions, 'issuer' | 'audience' | 'jwks' | 'secret'>>]: true;
  }),
});

/**
 * `stats()` of a multi-issuer verifier: the totals (counters summed over issuers; `jwks.fetchedAt`
 * and the revocation figures are the first issuer's, since one store feeds every mirror;
 * `misconfigured` names the first issuer that is), and each issuer's own figures.
 *
 * @example
 * ```ts
 * import { createVerifier, type MultiIssuerStats } from 'revocable-jwt';
 * const verifier = createVerifier({
 *   issuers: [
 *     { issuer: 'https://login.example.com/', audience: 'api' },
 *     { issuer: 'https://partner-idp.example/', audience: 'api' },
 *   ],
 * });
 * const stats: MultiIssuerStats = verifier.stats();
 * for (const [issuer, { jwks }] of Object.entries(stats.issuers)) log.info({ issuer, keys: jwks.keys }, 'JWKS');
 * ```
 */
export type MultiIssuerStats = VerifierStats & {
  /** Each issuer's own figures, by issuer identifier. */
  issuers: Record<string, VerifierStats>;
};
/**
 * What `createVerifier({ issuers: [...] })` returns: a {@link Verifier} whose `stats()` has
 * per-issuer figures. `issuer` is the first issuer, `issuers` all of them, `audience` the union.
 *
 * @example
 * ```ts
 * import { createVerifier, type MultiIssuerVerifierApi } from 'revocable-jwt';
 * const verifier: MultiIssuerVerifierApi = createVerifier({
 *   issuers: [
 *     { issuer: 'https://login.example.com/', audience: 'api' },
 *     { issuer: 'https://partner-idp.example/', audience: 'api' },
 *   ],
 * });
 * await verifier.invalidateSubject('alice', { issuer: 'https://partner-idp.example/' }); // that issuer's alice only
 * ```
 */
export type MultiIssuerVerifierApi = Omit<Verifier, 'stats'> & {
  /** Counters and state: the totals, and each issuer's own figures under `issuers`. */
  stats(): MultiIssuerStats;
};

/**
 * Creates a verifier for several issuers: each gets its own discovery, JWKS, audience,
 * algorithms, cache and revocation settings, and a token is routed by its `iss` claim (exact
 * match) before any key is chosen, so it is never checked with another issuer's keys; a token
 * naming none of them is refused without fetching anything. Cutoffs, denylist keys, logout
 * tokens, security events and replay records are per issuer. Construction does no I/O.
 *
 * Does not: accept opaque tokens (they name no issuer, so none is routed: use a single-issuer
 * verifier for introspection), or guess where an opaque token goes on `revoke()` (pass `{ issuer }`).
 *
 * @throws TypeError at construction: `issuer`/`audience`/`jwks`/`secret` beside `issuers`, an empty
 * `issuers`, an issuer listed twice, two entries with the same `secret`, an unknown key, or any
 * option an entry could not take on its own.
 *
 * @example
 * ```ts
 * import { createVerifier } from 'revocable-jwt';
 * const verifier = createVerifier({
 *   jwksCooldown: 60, // defaults for every issuer
 *   issuers: [
 *     { issuer: 'https://login.example.com/', audience: 'api' },
 *     { issuer: 'https://partner-idp.example/', audience: 'api', algorithms: ['ES256'] },
 *   ],
 * });
 * const { payload } = await verifier.verify(token); // checked by the issuer its `iss` names
 * ```
 */
export function createVerifier(options: MultiIssuerOptions): MultiIssuerVerifierApi;
/**
 * Creates a verifier for one issuer: verifies JWT access tokens locally against the issuer's
 * JWKS (discovered from `issuer` unless `jwksUri`; opaque tokens through RFC 7662 introspection
 * when `introspection` is set), caches verified tokens, and makes revocation work: `revoke()`,
 * `invalidate*()`, back-channel logout and security events, shared through `store` (in-memory by
 * default). Every duration option is in seconds, every instant in epoch milliseconds (see
 * {@link VerifierOptions} for each option and its default).
 *
 * Construction does no I/O: discovery and the JWKS are fetched on the first token, so an API
 * starts even while its IdP is down. Call `close()` on shutdown to abort in-flight IdP requests.
 *
 * @throws TypeError at construction, saying what to change: a missing `issuer` or `audience`, an
 * unknown key (naming the closest valid one), `none` among `algorithms`, an HMAC algorithm
 * without a `secret` (32 bytes at least), a wait given in milliseconds (`timeout: 5000`), an
 * issuer URL with userinfo, a query or a fragment, a credential option present but empty, an
 * `audienceClaim` other than `aud` or `client_id`, a `logger` whose members are not functions.
 *
 * @example
 * ```ts
 * import { AuthError, createVerifier } from 'revocable-jwt';
 * const verifier = createVerifier({
 *   issuer: 'https://idp.example.com/', // exact `iss`
 *   audience: 'https://api.example.com', // your API's identifier
 * });
 * try {
 *   const { payload } = await verifier.verify(token);
 *   log.info({ sub: payload.sub }, 'accepted');
 * } catch (error) {
 *   if (!(error instanceof AuthError)) throw error;
 *   log.info({ reason: error.reason }, 'refused'); // 401 / 503 / 500: error.status
 * }
 * ```
 */
export function createVerifier(options: VerifierOptions): Verifier;
export function createVerifier(options: VerifierOptions | MultiIssuerOptions): Verifier | MultiIssuerVerifierApi {
  return buildVerifier(options, 'createVerifier');
}

/** createVerifier, naming `factory` (e.g. authGuard's shorthand) in configuration errors. */
export function buildVerifier(
  options: VerifierOptions | MultiIssuerOptions,
  factory: string,
): Verifier | MultiIssuerVerifierApi {
  if (typeof options === 'object' && options !== null && 'issuers' in options)
    return createMultiIssuerVerifier(options, factory);
  return createSingleIssuerVerifier(options, factory);
}

function createMultiIssuerVerifier(options: MultiIssuerOptions, factory: string): MultiIssuerVerifierApi {
  for (const single of ['issuer', 'audience'] as const) {
    if (Object.hasOwn(options, single)) {
      // It would be silently dropped: every issuer entry carries its own issuer and audience.
      throw new TypeError(
        `revocable-jwt: \`${single}\` cannot be combined with \`issuers\` in ${factory}: move it into each entry, ` +
          'e.g. issuers: [{ issuer, audience }, ...]',
      );
    }
  }
  if (Object.hasOwn(options, 'jwks')) {
    // Shared keys would let one issuer's key sign tokens that name another issuer.
    throw new TypeError(
      `revocable-jwt: \`jwks\` cannot be a default for every issuer in ${factory}: give each entry its own keys, ` +
        'e.g. issuers: [{ issuer, audience, jwks: { keys: [...] } }, ...]',
    );
  }
  if (Object.hasOwn(options, 'secret')) {
    // For the same reason: one issuer's HMAC secret would sign tokens that name another issuer.
    throw new TypeError(
      `revocable-jwt: \`secret\` cannot be a default for every issuer in ${factory}: give each entry that uses HMAC ` +
        "its own secret, e.g. issuers: [{ issuer, audience, algorithms: ['HS256'], secret }, ...]",
    );
  }
  rejectUnknownKeys(options, MULTI_ISSUER_OPTION_KEYS, factory);
  const { issuers: entries, ...defaults } = options;
  if (!Array.isArray(entries) || entries.length === 0) {
    throw new TypeError('revocable-jwt: `issuers` must be a non-empty array of { issuer, audience, ... }');
  }
  const seen = new Set<string>();
  const secrets = new Map<string, number>();
  for (const [index, entry] of entries.entries()) {
    if (typeof entry !== 'object' || entry === null)
      throw new TypeError('revocable-jwt: every `issuers` entry must be an object');
    rejectUnknownKeys(entry, VERIFIER_OPTION_KEYS, factory, `issuers[${index}].`);
    if (seen.has(entry.issuer))
      throw new TypeError(`revocable-jwt: issuer ${JSON.stringify(entry.issuer)} is listed twice in \`issuers\``);
    seen.add(entry.issuer);
    const secret = secretBytes(entry.secret);
    if (secret === undefined) continue;
    const first = secrets.get(secret);
    if (first !== undefined) {
      throw new TypeError(
        `revocable-jwt: issuers[${first}] and issuers[${index}] have the same \`secret\` in ${factory}: either could ` +
          "sign tokens naming the other; give each issuer's entry its own secret",
      );
    }
    secrets.set(secret, index);
  }
  // One store for all, so replay protection and the outbox are shared; ours to close if we made it.
  const ownStore =
    defaults.store === undefined ? createMemoryStore(defaults.clock ? { clock: defaults.clock } : {}) : undefined;
  const store = defaults.store ?? ownStore!;
  // One log for every issuer without its own, so a problem they share (the store) is told once.
  const shared = { log: resolveLogger(defaults.logger, factory) };
  const verifiers = entries.map((entry, index) => {
    // An entry's `logger: undefined` (a spread config) is no logger of its own: it must neither
    // bring back the console under a top-level `logger: false` nor split the shared log.
    const ownLogger = (entry as { logger?: unknown }).logger !== undefined;
    const options = { ...defaults, store, ...entry } as VerifierOptions;
    if (!ownLogger) options.logger = defaults.logger;
    return createSingleIssuerVerifier(options, factory, `issuers[${index}].`, ownLogger ? undefined : shared);
  });
  return new MultiIssuerVerifier(verifiers, ownStore);
}

/** A `secret` option's bytes as a string, to compare entries (a string and its UTF-8 bytes are one secret). */
function secretBytes(secret: unknown): string | undefined {
  const bytes = typeof secret === 'string' ? new TextEncoder().encode(secret) : secret;
  if (!(bytes instanceof Uint8Array)) return undefined; // absent; anything else the entry's own checks refuse
  return Array.from(bytes, (byte) => String.fromCharCode(byte)).join('');
}

class MultiIssuerVerifier implements Verifier {
  readonly issuer: string;
  readonly issuers: readonly string[];
  readonly audience: readonly string[];
  private readonly byIssuer: Map<string, Verifier>;
  private closed = false;

  constructor(
    private readonly verifiers: Verifier[],
    private readonly ownStore: { close(): Promise<void> } | undefined,
  ) {
    this.byIssuer = new Map(verifiers.map((v) => [v.issuer, v]));
    this.issuer = verifiers[0]!.issuer;
    this.issuers = Object.freeze(verifiers.map((v) => v.issuer));
    this.audience = Object.freeze([...new Set(verifiers.flatMap((v) => v.audience))]);
    registerPort(this, this.port());
  }

  peek(token: string): VerifiedToken | undefined {
    for (const verifier of this.verifiers) {
      const hit = verifier.peek(token);
      if (hit !== undefined) return hit;
    }
    return undefined;
  }

  verify(token: string): Promise<VerifiedToken> {
    return promiseOf(() => this.verifyNow(token));
  }

  /** The port's `verifyNow`: routed to the token's issuer, answered as that issuer's verifier answers. */
  private verifyNow(token: string): MaybePromise<VerifiedToken> {
    // Before routing: a closed verifier refuses every token alike, routable or not.
    if (this.closed) throw new VerifierClosedError();
    const hit = this.peek(token); // nothing for a non-string: refused below as malformed
    if (hit !== undefined) return hit;
    const verifier = this.route(token);
    if (!verifier) {
      const error = invalidToken(
        typeof token === 'string' && token.split('.').length === 3 ? 'issuer_mismatch' : 'malformed_token',
      );
      portOf(this.verifiers[0]!).reportRejection(error);
      throw error;
    }
    const port = portOf(verifier);
    return port.verifyNow === undefined ? verifier.verify(token) : port.verifyNow(token);
  }

  /**
   * A JWT goes to the issuer it names; a token naming none of ours (opaque, e.g. a refresh token)
   * to `options.issuer`. Never a guess: a token sent to another IdP is a token leaked to it.
   */
  revoke(token: string, options: RevokeOptions = {}): Promise<RevocationOutcome> {
    // Its issuers' verifiers are closed with it; this also covers a token none of them would take.
    if (this.closed) return Promise.reject(new VerifierClosedError('revoke() called after close()'));
    if (options.issuer !== undefined && !this.byIssuer.has(options.issuer)) {
      return Promise.reject(
        new TypeError(
          `revocable-jwt: unknown issuer ${options.issuer}; this verifier trusts ${this.issuers.join(', ')}`,
        ),
      );
    }
    const fallback = options.issuer ?? (this.verifiers.length === 1 ? this.issuer : undefined);
    const verifier = this.route(token) ?? (fallback !== undefined ? this.byIssuer.get(fallback) : undefined);
    if (verifier) return verifier.revoke(token, options);
    return Promise.resolve({
      local: 'not_ours',
      store: 'none',
      idp: options.onlyIfOurs ? 'skipped' : 'unknown_issuer',
    });
  }

  invalidate(token: string): Promise<void> {
    if (this.closed) return Promise.reject(new VerifierClosedError('invalidate() called after close()'));
    const verifier = this.route(token);
    return verifier ? verifier.invalidate(token) : Promise.reject(invalidToken('issuer_mismatch'));
  }

  invalidateSubject(subject: string, scope?: IssuerScope): Promise<void> {
    return this.each(scope, (v) => v.invalidateSubject(subject, at(scope)));
  }

  invalidateSession(session: string, scope?: IssuerScope): Promise<void> {
    return this.each(scope, (v) => v.invalidateSession(session, at(scope)));
  }

  invalidateAll(scope?: IssuerScope): Promise<void> {
    return this.each(scope, (v) => v.invalidateAll(at(scope)));
  }

  async retryPending(): Promise<OutboxRunResult> {
    const total: OutboxRunResult = { attempted: 0, revoked: 0, rescheduled: 0, dropped: 0 };
    for (const verifier of this.verifiers) {
      const run = await verifier.retryPending();
      total.attempted += run.attempted;
      total.revoked += run.revoked;
      total.rescheduled += run.rescheduled;
      total.dropped += run.dropped;
    }
    return total;
  }

  stats(): MultiIssuerStats {
    const per = Object.fromEntries(this.verifiers.map((v) => [v.issuer, v.stats()]));
    const all = Object.values(per);
    const sum = (pick: (s: VerifierStats) => number) => all.reduce((total, s) => total + pick(s), 0);
    const first = all[0]!;
    const misconfigured = Object.entries(per).find(([, s]) => s.misconfigured !== undefined);
    return {
      misconfigured: misconfigured && `${misconfigured[0]}: ${misconfigured[1].misconfigured!}`,
      cache: {
        hits: sum((s) => s.cache.hits),
        misses: sum((s) => s.cache.misses),
        size: sum((s) => s.cache.size),
        max: sum((s) => s.cache.max),
      },
      jwks: {
        fetches: sum((s) => s.jwks.fetches),
        failures: sum((s) => s.jwks.failures),
        keys: sum((s) => s.jwks.keys),
        fetchedAt: first.jwks.fetchedAt,
      },
      discovery: { fetches: sum((s) => s.discovery.fetches) },
      statusLists: {
        lists: sum((s) => s.statusLists.lists),
        fetches: sum((s) => s.statusLists.fetches),
        failures: sum((s) => s.statusLists.failures),
      },
      // One store feeds every issuer's mirror, so the first one's revocation figures stand for all.
      revocation: {
        ...first.revocation,
        outbox: {
          ...first.revocation.outbox,
          revoked: sum((s) => s.revocation.outbox.revoked),
          dropped: sum((s) => s.revocation.outbox.dropped),
        },
      },
      issuers: per,
    };
  }

  on<E extends VerifierEventName>(event: E, listener: VerifierListener<E>): this {
    for (const verifier of this.verifiers) verifier.on(event, listener);
    return this;
  }

  off<E extends VerifierEventName>(event: E, listener: VerifierListener<E>): this {
    for (const verifier of this.verifiers) verifier.off(event, listener);
    return this;
  }

  /** The internal port: each call goes to the issuer it concerns. */
  private port(): VerifierPort {
    return {
      // Routed by `iss` to that issuer's verifier, which reports itself as the verifying issuer.
      verifyIssuerJwt: (jwt, options) => {
        const verifier = this.route(jwt);
        return verifier
          ? portOf(verifier).verifyIssuerJwt(jwt, options)
          : Promise.reject(invalidToken('issuer_mismatch'));
      },
      // In the store of the issuer the record belongs to (an issuer entry may bring its own store).
      claimOnce: (key, until, issuer) => {
        const verifier = this.byIssuer.get(issuer);
        return verifier
          ? portOf(verifier).claimOnce(key, until, issuer)
          : Promise.reject(new TypeError(`revocable-jwt: unknown issuer ${issuer}`));
      },
      reportRejection: (error) => portOf(this.verifiers[0]!).reportRejection(error),
      verifyNow: (token) => this.verifyNow(token),
      // The issuer that accepted the token knows its revocations; none of ours did: never admitted.
      revoked: (auth) => {
        const verifier = typeof auth.payload.iss === 'string' ? this.byIssuer.get(auth.payload.iss) : undefined;
        return verifier === undefined || portOf(verifier).revoked(auth);
      },
      // Each issuer's own: an entry may bring its own `clock` and `clockTolerance`.
      time: new Map(this.verifiers.flatMap((v) => [...portOf(v).time])),
      dpop: new Map(this.verifiers.flatMap((v) => [...portOf(v).dpop])),
      // The guards of a multi-issuer verifier share this one (they never see its issuers' own).
      proofsClaimed: new WeakMap(),
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.verifiers.map((v) => v.close()));
    await this.ownStore?.close();
  }

  /** The verifier for the token's claimed issuer; never a guess. */
  private route(token: string): Verifier | undefined {
    if (typeof token !== 'string' || token.length > 65_536) return undefined;
    let iss: unknown;
    try {
      iss = decodeJwt(token).iss;
    } catch {
      return undefined;
    }
    return typeof iss === 'string' ? this.byIssuer.get(iss) : undefined;
  }

  private async each(scope: IssuerScope | undefined, action: (v: Verifier) => Promise<void>): Promise<void> {
    if (scope?.issuer !== undefined) {
      const verifier = this.byIssuer.get(scope.issuer);
      if (!verifier) throw new TypeError(`revocable-jwt: unknown issuer ${scope.issuer}`);
      return action(verifier);
    }
    // Every issuer's revocation is applied even if one's store write fails; then that failure is reported.
    const failed = (await Promise.allSettled(this.verifiers.map(action))).find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
  }
}

/** The cutoff instant of a scope, passed on to each issuer's verifier. */
function at(scope: IssuerScope | undefined): IssuerScope | undefined {
  return scope?.at === undefined ? undefined : { at: scope.at };
}
