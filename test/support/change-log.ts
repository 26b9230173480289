/**
 * Reading what a store's change log (`store.changeLog.read`) hands over, for the Redis and
 * PostgreSQL change-log tests alike: bulk tokens arrive as packed 16-byte digests with their
 * expiry in whole seconds, everything else as revocations.
 */
import type { Revocation, RevocationChanges } from '../../src/index.js';
import { digestKey, tokenDigestOf } from '../../src/core/shared/token-digest.js';

export const token = (key: string, expiresAt: number): Revocation => ({ type: 'token', key, expiresAt });

/** The `digest:` key a token revocation of `key` is handed over as. */
export const byDigest = (key: string): string => digestKey(tokenDigestOf(key));

/** What a read found, as revocations (its bulk tokens by their digest, expiry in whole seconds). */
export function listed(changes: RevocationChanges): Revocation[] {
  const tokens: Revocation[] = [];
  for (let i = 0; i < (changes.tokens?.count ?? 0); i++)
    tokens.push(token(digestKey(changes.tokens!.digests, i * 16), changes.tokens!.expiresAt[i]! * 1000));
  return [...changes.revocations, ...tokens];
}
