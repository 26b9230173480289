/**
 * The verifier's log hook (`createVerifier({ logger })`): what an operator must see without wiring
 * events — a configuration that cannot work, an IdP or a revocation store that cannot be reached,
 * keys that fit none of the allowed algorithms — told once per distinct problem, with what to fix.
 *
 * It listens to the verifier's own events (`misconfigured`, `store-unavailable`, `store-resynced`,
 * `jwks-refreshed`) and to the 5xx answers the verifier reports; it adds nothing to the hot path of
 * a token that is accepted, and one comparison to that of a 401.
 *
 * "Once": every problem has a key (its kind, the issuer, and what it is about: the store, the
 * endpoint and how it failed, the message; not the IdP's own words, which may change with every
 * answer). Its first occurrence is logged; later ones are not, until it is over. It is over when
 * the verifier sees it end (the store syncs again, a JWKS with usable keys is fetched, a
 * misconfiguration heals: the verifier then reports it again only if it comes back), or after
 * {@link QUIET_MS} without an occurrence, for problems whose end cannot be seen (an introspection
 * endpoint that failed, a 500). Then it is logged again when it comes back.
 *
 * Lines never carry a token or a secret: they are built from our own text, from
 * `MisconfiguredError` messages, and from HTTP failures that name an endpoint's origin and path
 * only (and from IdP answers scrubbed of the token and our secret).
 */
import type { AuthError } from './errors.js';
import type { MisconfigurationSource, VerifierEventMap, VerifierEvents } from './events.js';
import { optionKeys, rejectUnknownKeys } from './option-keys.js';
import { RevocableJwtError } from './revocable-jwt-error.js';

/**
 * Where a verifier's log lines go (`createVerifier({ logger })`): any object with `warn`, `error`
 * and `debug` methods, each optional (a missing one drops that level). Each is called with a
 * self-contained line (`revocable-jwt: ...`, saying what to fix) and its {@link VerifierLogDetails}.
 * `error`: the configuration cannot work against the IdP (requests get 500); `warn`: something the
 * verifier needs cannot be reached or used (an IdP, the revocation store, keys); `debug`: what the
 * verifier did (keys fetched, the store synced). Default: `warn` and `error` lines through
 * `console.warn`, nothing else; `logger: false` logs nothing.
 *
 * A plain object literal is checked key by key (a misspelt `warning` throws at construction); a
 * logger object of your logging library (console, winston) is used for its `warn`, `error` and
 * `debug` methods, called as methods. A throwing logger, or an async one whose promise rejects,
 * never affects a request.
 *
 * @example
 * ```ts
 * import { createVerifier, type VerifierLogger } from 'revocable-jwt';
 * // pino-style loggers take the fields first:
 * const logger: VerifierLogger = {
 *   warn: (message, details) => log.warn(details, message),
 *   error: (message, details) => log.error(details, message),
 * };
 * const verifier = createVerifier({ issuer: 'https://idp.example.com/', audience: 'api', logger });
 * ```
 */
export interface VerifierLogger {
  /** Something the verifier needs cannot be reached or used: an IdP, the revocation store, keys. */
  warn?(message: string, details: VerifierLogDetails): void;
  /** The configuration cannot work against the IdP: requests get 500 until it is fixed. */
  error?(message: string, details: VerifierLogDetails): void;
  /** What the verifier did: keys fetched, the store synced (and the problems that ended with it). */
  debug?(message: string, details: VerifierLogDetails): void;
}

/** The keys a `logger` object literal may have (any other is refused): one line per member. */
export const LOGGER_OPTION_KEYS = optionKeys<VerifierLogger>({ warn: true, error: true, debug: true });

/**
 * What a log line is about: `misconfigured` (error: the `misconfigured` event), `server_error`
 * (error: a request answered 500 for a cause no `misconfigured` line told), `idp_unavailable`
 * (warn: requests answered 503, the IdP's keys or introspection out of reach), `jwks_unusable`
 * (warn: a JWKS without a key usable with `algorithms`), `store_unavailable` (warn: the revocation
 * store not connected at start, or lost), `jwks_refreshed` and `store_resynced` (debug).
 *
 * @example
 * ```ts
 * import type { VerifierLogKind } from 'revocable-jwt';
 * const paging: VerifierLogKind[] = ['misconfigured', 'server_error', 'store_unavailable'];
 * ```
 */
export type VerifierLogKind =
  | 'misconfigured'
  | 'server_error'
  | 'idp_unavailable'
  | 'jwks_unusable'
  | 'store_unavailable'
  | 'jwks_refreshed'
  | 'store_resynced';

/**
 * The fields of a log line, for structured logs: its `kind`, the (configured) `issuer` it concerns
 * and, for a `misconfigured` line, the `source` (which use of the IdP broke).
 *
 * @example
 * ```ts
 * import type { VerifierLogDetails } from 'revocable-jwt';
 * const toFields = ({ kind, issuer, source }: VerifierLogDetails) => ({ kind, issuer, source });
 * ```
 */
export interface VerifierLogDetails {
  /** What the line is about. */
  kind: VerifierLogKind;
  /** The issuer concerned, as configured. */
  issuer: string;
  /** For `misconfigured`: `keys`, `introspection`, `revocation` or `status-list`. */
  source?: MisconfigurationSource;
}

/** A problem whose end the verifier cannot see is logged again after this long without it. */
export const QUIET_MS = 10 * 60_000;
/** Problems remembered at most (oldest forgotten first): bounded whatever an IdP answers. */
const MAX_PROBLEMS = 1_000;

/** What one issuer's verifier tells its log about itself. */
export interface LogContext {
  issuer: string;
  /** Its revocation store (a `RevocationStore`): an identity, and the outage policy the lines describe. */
  store: { readonly availability?: { onUnavailable: 'fail-closed' | 'fail-open'; maxStalenessMs: number } };
  /** The allowed algorithms, named when a JWKS has no key for them. */
  algorithms: readonly string[];
  clock: () => number;
}

type Level = 'warn' | 'error' | 'debug';

/** The default: warn and error lines through `console.warn`, looked up at each call (so a spy sees them). */
const CONSOLE_WARNINGS: VerifierLogger = {
  warn: (message) => console.warn(message),
  error: (message) => console.warn(message),
};

const fail = (message: string): never => {
  throw new TypeError(`revocable-jwt: ${message}`);
};

/**
 * The `logger` option as a log, or undefined for `logger: false`; a TypeError for anything else
 * than an object with function members.
 */
export function resolveLogger(value: unknown, factory: string, path = ''): VerifierLog | undefined {
  if (value === false) return undefined;
  if (value === undefined) return new VerifierLog(CONSOLE_WARNINGS);
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    fail(`\`${path}logger\` must be { warn, error, debug } (each optional, functions), or false to log nothing`);
  const logger = value as Record<string, unknown>;
  const prototype = Object.getPrototypeOf(logger);
  // An object literal is ours to check for typos; a library's logger has many other members.
  if (prototype === Object.prototype || prototype === null)
    rejectUnknownKeys(logger, LOGGER_OPTION_KEYS, factory, `${path}logger.`);
  let found = false;
  for (const level of LOGGER_OPTION_KEYS) {
    const member = logger[level];
    if (member === undefined) continue;
    if (typeof member !== 'function')
      fail(`\`${path}logger.${level}\` must be a function (message, details) => void, or left out`);
    found = true;
  }
  if (!found && prototype !== Object.prototype && prototype !== null)
    fail(`\`${path}logger\` has none of warn, error, debug: pass an object with at least one, or false`);
  return new VerifierLog(logger as VerifierLogger);
}

/** One log, shared by the issuers of a verifier, so one problem (one store) is told once. */
export class VerifierLog {
  /** Problems told and not over yet, by key: when last seen (epoch ms, the issuer's clock). */
  private readonly told = new Map<string, number>();
  /** A number per store, for keys: several issuers may share one store. */
  private readonly stores = new WeakMap<object, number>();
  private storeCount = 0;
  /** Stores that synced at least once (a lost one is told apart from one that never came). */
  private readonly synced = new WeakSet<object>();
  /** `misconfigured` messages told: a 500 they explain is not told again. */
  private readonly explained = new Set<string>();

  constructor(private readonly logger: VerifierLogger) {}

  /** Subscribes to one issuer's verifier events. */
  attach(events: VerifierEvents, context: LogContext): void {
    events.on('misconfigured', (event) => this.misconfigured(event));
    events.on('store-unavailable', (event) => this.storeUnavailable(event, context));
    events.on('store-resynced', (event) => this.storeResynced(event, context));
    events.on('jwks-refreshed', (event) => this.jwksRefreshed(event, context));
  }

  /** A refusal the verifier reported: 5xx ones may be a problem to tell; 4xx ones are the client's. */
  rejected(error: AuthError, context: LogContext): void {
    if (error.status < 500) return;
    if (error.reason === 'idp_unavailable') {
      const http = httpCause(error);
      const key = `idp_unavailable|${context.issuer}|${error.description}|${withoutIdpWords(http ?? '')}`;
      this.problem(key, context, 'warn', {
        kind: 'idp_unavailable',
        message: unavailableLine(error.description, http, context.issuer),
      });
    } else if (error.status === 500 && error.reason !== 'verifier_closed' && !this.explained.has(error.message)) {
      this.problem(`server_error|${context.issuer}|${error.reason}|${error.message}`, context, 'error', {
        kind: 'server_error',
        message: `${withIssuer(error.message, context.issuer)}: a request was answered 500 (reason ${error.reason})`,
      });
    }
  }

  private misconfigured(event: VerifierEventMap['misconfigured']): void {
    // The verifier reports each cause once, and again only after it changed or healed: told as is.
    this.explained.add(event.message);
    if (this.explained.size > MAX_PROBLEMS) this.explained.delete(this.explained.values().next().value!);
    this.write('error', `${withIssuer(event.message, event.issuer)}; ${IMPACT[event.source]}`, {
      kind: 'misconfigured',
      issuer: event.issuer,
      source: event.source,
    });
  }

  private storeUnavailable(event: VerifierEventMap['store-unavailable'], context: LogContext): void {
    const { store } = context;
    const policy = store.availability;
    const since = new Date(event.since).toISOString();
    const what = this.synced.has(store)
      ? `lost the revocation store at ${since}: ` +
        (policy === undefined || policy.onUnavailable === 'fail-open'
          ? 'tokens are still accepted, without news of revocations made by other instances'
          : `tokens are refused with 503 once it has been gone ${policy.maxStalenessMs / 1000} s (maxStaleness)`)
      : `the revocation store has not connected since ${since}: verifications wait for it ` +
        `(syncTimeout) and then answer 503, since no token can be shown not to be revoked`;
    this.problem(`store_unavailable|${this.storeKey(store)}`, context, 'warn', {
      kind: 'store_unavailable',
      message:
        `revocable-jwt: ${what}; check that the store (Redis, PostgreSQL) runs and is reachable from this host, ` +
        `and its URL or client (issuer ${context.issuer})`,
    });
  }

  private storeResynced(event: VerifierEventMap['store-resynced'], context: LogContext): void {
    this.synced.add(context.store);
    const ended = this.told.delete(`store_unavailable|${this.storeKey(context.store)}`);
    this.write(
      'debug',
      `revocable-jwt: the revocation store ${ended ? 'is reachable again and ' : ''}synced: ${event.entries} ` +
        `entries read, ${event.healed} written back (issuer ${context.issuer})`,
      { kind: 'store_resynced', issuer: context.issuer },
    );
  }

  private jwksRefreshed(event: VerifierEventMap['jwks-refreshed'], context: LogContext): void {
    const { issuer } = context;
    let ended = this.forget(`idp_unavailable|${issuer}|`);
    const key = `jwks_unusable|${issuer}`;
    if (event.usable === 0) {
      this.problem(key, context, 'warn', {
        kind: 'jwks_unusable',
        message:
          `revocable-jwt: the JWKS of issuer ${issuer} has ${event.keys === 0 ? 'no keys' : `${event.keys} key(s)`}` +
          `${event.keys === 0 ? '' : `, none usable with \`algorithms\` (${context.algorithms.join(', ')})`}: ` +
          'every token is refused; check `algorithms` against the keys the IdP publishes (their alg, kty and crv), ' +
          'and `jwksUri`',
      });
    } else ended = this.told.delete(key) || ended;
    this.write(
      'debug',
      `revocable-jwt: fetched the JWKS of issuer ${issuer}: ${event.keys} key(s), ${event.usable} usable` +
        (event.removedKids.length > 0 ? `, kid(s) ${event.removedKids.join(', ')} gone` : '') +
        (ended ? '; the keys are available again' : ''),
      { kind: 'jwks_refreshed', issuer },
    );
  }

  /** Tells a problem the first time, and again only once it was over (see the file comment). */
  private problem(
    key: string,
    context: LogContext,
    level: Level,
    line: { kind: VerifierLogKind; message: string },
  ): void {
    const now = context.clock();
    const seen = this.told.get(key);
    this.told.delete(key); // re-inserted last: the oldest is forgotten first
    this.told.set(key, now);
    if (this.told.size > MAX_PROBLEMS) this.told.delete(this.told.keys().next().value!);
    if (seen !== undefined && now - seen < QUIET_MS) return;
    this.write(level, line.message, { kind: line.kind, issuer: context.issuer });
  }

  /** Ends every problem whose key starts with `prefix`; true if one was told. */
  private forget(prefix: string): boolean {
    let ended = false;
    for (const key of this.told.keys()) {
      if (!key.startsWith(prefix)) continue;
      this.told.delete(key);
      ended = true;
    }
    return ended;
  }

  private storeKey(store: object): number {
    const known = this.stores.get(store);
    if (known !== undefined) return known;
    this.stores.set(store, ++this.storeCount);
    return this.storeCount;
  }

  private write(level: Level, message: string, details: VerifierLogDetails): void {
    try {
      // Called as a method: a library's logger may need its `this`.
      const written: unknown = this.logger[level]?.(message, details);
      // An async logger whose sink fails must not leave an unhandled rejection (it ends the process).
      if (typeof (written as PromiseLike<unknown> | undefined)?.then === 'function')
        Promise.resolve(written).catch(() => undefined);
    } catch {
      // A broken logger must never turn into a refused request or a crash.
    }
  }
}

/** What the misconfiguration of each source does to requests (appended to its line). */
const IMPACT: Record<MisconfigurationSource, string> = {
  keys: 'tokens are refused with 500 until this is fixed',
  introspection: 'tokens that need introspection are refused with 500 until this is fixed',
  revocation: 'the IdP is not told of revocations until this is fixed (the local revocation still applies)',
  'status-list': 'tokens naming such a status list are refused with 500',
};

/** `message`, naming the issuer when it does not already. */
function withIssuer(message: string, issuer: string): string {
  return message.includes(issuer) ? message : `${message} (issuer ${issuer})`;
}

/** The message of the HTTP failure behind `error` (names an endpoint's origin and path, never a query), if any. */
function httpCause(error: unknown): string | undefined {
  for (let current = error, depth = 0; current instanceof Error && depth < 4; current = current.cause, depth += 1) {
    if (current instanceof RevocableJwtError && current.reason.startsWith('http_')) return current.message;
  }
  return undefined;
}

/**
 * An HTTP failure's message without the IdP's own words, which follow the endpoint in parentheses
 * (introspection's `error` and `error_description`): they may differ on every answer (a trace id,
 * an echo of the request), so they are shown but are no part of which problem it is.
 */
function withoutIdpWords(message: string): string {
  const words = message.indexOf(' (');
  return words === -1 ? message : message.slice(0, words);
}

/** The line for requests answered 503 because something of the IdP's could not be had. */
function unavailableLine(description: string, http: string | undefined, issuer: string): string {
  // The introspection gate's own load shedding: no IdP is down, unknown tokens come faster than the budget.
  if (description.startsWith('Too many unknown tokens'))
    return (
      'revocable-jwt: more unknown tokens to introspect than `introspection.newTokenBudget` allows ' +
      `(issuer ${issuer}): the surplus is answered 503; if they come from real clients, raise the budget`
    );
  const what = description.charAt(0).toLowerCase() + description.slice(1);
  return (
    `revocable-jwt: ${what} (issuer ${issuer}${http === undefined ? '' : `: ${http}`}): tokens that need it are ` +
    'answered 503 until it answers; check that this host reaches the IdP, and the URL configured or discovered ' +
    'for it (`issuer`, `jwksUri`, `introspection.endpoint`)'
  );
}
