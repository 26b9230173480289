/**
 * The options every shared store (Redis, PostgreSQL) takes for outages, read one way: what
 * happens when the store is unreachable (`onStoreUnavailable`, `maxStaleness`, `syncTimeout`) and
 * how long one command may take (`commandTimeout`). Durations in seconds, as everywhere.
 */
import { durationMs, MAX_WAIT_SECONDS } from '../core/shared/duration-option.js';
import type { AvailabilityPolicy } from './revocation-store.js';

/** The outage options a shared store accepts (each store documents them on its own options type). */
export interface SharedStorePolicyOptions {
  onStoreUnavailable?: 'fail-closed' | 'fail-open';
  maxStaleness?: number;
  commandTimeout?: number;
  syncTimeout?: number;
}

/**
 * The store's {@link AvailabilityPolicy} and its command timeout, in milliseconds, from `options`.
 * Throws a TypeError naming `factory` for a bad value.
 */
export function sharedStorePolicy(
  options: SharedStorePolicyOptions,
  factory: string,
): { availability: AvailabilityPolicy; commandTimeoutMs: number } {
  const onUnavailable = options.onStoreUnavailable ?? 'fail-closed';
  if (onUnavailable !== 'fail-closed' && onUnavailable !== 'fail-open')
    throw new TypeError(`revocable-jwt: ${factory}: \`onStoreUnavailable\` must be 'fail-closed' or 'fail-open'`);
  const wait = { max: MAX_WAIT_SECONDS };
  return {
    availability: {
      onUnavailable,
      maxStalenessMs: durationMs(options.maxStaleness, 'maxStaleness', { default: 10, allowZero: true }, factory),
      syncTimeoutMs: durationMs(options.syncTimeout, 'syncTimeout', { ...wait, default: 5 }, factory),
    },
    commandTimeoutMs: durationMs(options.commandTimeout, 'commandTimeout', { ...wait, default: 2 }, factory),
  };
}
