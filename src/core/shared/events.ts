/**
 * What a verifier reports to `verifier.on(...)`: for logs, metrics and alerts. Listeners run
 * synchronously; keep them cheap. `verified` fires on every accepted request (cache hits too),
 * so the verifier only builds that event while someone listens.
 */
import type { RejectionReason } from './errors.js';

/**
 * Which use of the IdP the configuration broke: `keys` (discovery or JWKS: e.g. the metadata's
 * `issuer` differs from ours), `introspection` (e.g. the endpoint refuses our client) or
 * `revocation` (no usable revocation endpoint, or the endpoint rejects our client) or `status-list`
 * (a token names a status list outside the allowed origins). The `source` of the `misconfigured` event.
 *
 * @example
 * ```ts
 * import type { MisconfigurationSource } from 'revocable-jwt';
 * const owners: Record<MisconfigurationSource, string> = {
 *   keys: 'platform',
 *   introspection: 'api',
 *   revocation: 'api',
 *   'status-list': 'platform',
 * };
 * verifier.on('misconfigured', ({ source, message, issuer }) => log.error({ team: owners[source], issuer }, message));
 * ```
 */
export type MisconfigurationSource = 'keys' | 'introspection' | 'revocation' | 'status-list';

/**
 * Every event a verifier emits, by name, with its payload: what `verifier.on(name, listener)`
 * passes to the listener. A throwing listener never affects a request. Instants are epoch
 * milliseconds; `lagMs` is a duration in milliseconds.
 *
 * @example
 * ```ts
 * import type { VerifierEventMap } from 'revocable-jwt';
 * const onRevoked = ({ type, source, lagMs }: VerifierEventMap['revoked']) =>
 *   log.info({ type, source, lagMs }, 'revocation in force');
 * verifier.on('revoked', onRevoked);
 * verifier.on('store-unavailable', ({ since }) => log.error({ since: new Date(since) }, 'revocation store lost'));
 * ```
 */
export interface VerifierEventMap {
  /** A token was accepted; `cached` tells whether the signature check was skipped. */
  verified: { cached: boolean; subject: string | undefined; clientId: string | undefined };
  /** A request or token was refused. */
  rejected: { reason: RejectionReason; code: string | undefined; status: number };
  /**
   * A revocation took effect on this instance: `local` when made here, `store` when it arrived
   * from another instance (`lagMs`: from its publication to now, when the store reports it).
   */
  revoked: { type: 'token' | 'subject' | 'session' | 'all'; source: 'local' | 'store'; lagMs: number | undefined };
  /**
   * A JWKS fetch succeeded: `keys` in the set, how many of them are `usable` with the verifier's
   * `algorithms` (0: every token will be refused), and the `kid`s that left the set.
   */
  'jwks-refreshed': { keys: number; usable: number; removedKids: string[] };
  /** The shared store became unreachable (the staleness clock starts). */
  'store-unavailable': { since: number };
  /** The mirror resynced with the store (on start and after every reconnect). */
  'store-resynced': { entries: number; healed: number };
  /**
   * The IdP's answers show this verifier's configuration cannot work (e.g. `issuer` differs from
   * the metadata's, trailing slash included): affected requests get 500; with source `revocation`,
   * `revoke()` and the logout route fail with 500, or, when the IdP rejects our client (401 /
   * `invalid_client`), revocations are not delivered to it (`idp: 'rejected'`). Once per distinct
   * cause, and again only if it changes, or comes back after being fixed; `message` says how to fix
   * it; `issuer` is the (configured) issuer concerned. Log it (the `logger` option does); do not
   * show it to clients.
   */
  misconfigured: { source: MisconfigurationSource; message: string; issuer: string };
}

/**
 * The name of a verifier event: `verified`, `rejected`, `revoked`, `jwks-refreshed`,
 * `store-unavailable`, `store-resynced` or `misconfigured`.
 *
 * @example
 * ```ts
 * import type { VerifierEventName } from 'revocable-jwt';
 * const logged: VerifierEventName[] = ['jwks-refreshed', 'store-unavailable', 'store-resynced', 'misconfigured'];
 * for (const name of logged) verifier.on(name, (event) => log.info({ ...event }, name));
 * ```
 */
export type VerifierEventName = keyof VerifierEventMap;

/**
 * A listener for the verifier event `E`; it gets that event's payload. Listeners run
 * synchronously on the request path (`verified` and `rejected` on every request): keep them cheap.
 *
 * @example
 * ```ts
 * import type { VerifierListener } from 'revocable-jwt';
 * const onRejected: VerifierListener<'rejected'> = ({ reason, status }) => log.warn({ reason, status }, 'refused');
 * verifier.on('rejected', onRejected);
 * // later: verifier.off('rejected', onRejected);
 * ```
 */
export type VerifierListener<E extends VerifierEventName> = (event: VerifierEventMap[E]) => void;

export class VerifierEvents {
  /**
   * Per event, its listeners in registration order (a listener added twice is called twice).
   * Stored as taking `never`: `on()` is what ties each listener to its event's payload type.
   */
  private readonly listeners = new Map<VerifierEventName, ReadonlyArray<(payload: never) => void>>();
  /** Checked on the hot path instead of looking the listeners up. */
  listeningForVerified = false;

  on<E extends VerifierEventName>(event: E, listener: VerifierListener<E>): void {
    this.listeners.set(event, [...(this.listeners.get(event) ?? []), listener]);
    this.listeningForVerified = this.listeners.has('verified');
  }

  off<E extends VerifierEventName>(event: E, listener: VerifierListener<E>): void {
    const current = this.listeners.get(event) ?? [];
    const at = current.lastIndexOf(listener);
    if (at === -1) return;
    const rest = current.filter((_, index) => index !== at);
    if (rest.length === 0) this.listeners.delete(event);
    else this.listeners.set(event, rest);
    this.listeningForVerified = this.listeners.has('verified');
  }

  emit<E extends VerifierEventName>(event: E, payload: VerifierEventMap[E]): void {
    const current = this.listeners.get(event);
    if (current === undefined) return;
    // Arrays are replaced, never changed in place: a listener that calls on()/off() does not
    // change who hears this event.
    for (const listener of current) {
      try {
        listener(payload as never); // registered by on() for this event, so it takes this payload
      } catch {
        // A throwing listener (a broken logger) must never turn into a rejected request or a
        // crash, nor keep the listeners after it (the metrics) from the event.
      }
    }
  }

  removeAll(): void {
    this.listeners.clear();
    this.listeningForVerified = false;
  }
}
