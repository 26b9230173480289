/**
 * The PostgreSQL store's in-process copy of the `revocations` table: what `snapshot()` answers
 * from, so that a mirror's resync after a reconnect costs the database only the rows written since
 * (see postgres-sync.ts), not the whole table.
 *
 * Kept lean: token entries (nearly all of them) are a key and an expiry, and the key is the very
 * string delivered to subscribers, so a verifier's mirror that keeps it shares it.
 */
import { mergeRevocation, revocationTarget, type CutoffRevocation, type Revocation } from './revocation-store.js';

export class PostgresReplica {
  private readonly tokens = new Map<string, number>();
  private readonly cutoffs = new Map<string, CutoffRevocation>();

  apply(revocation: Revocation): void {
    if (revocation.type === 'token') {
      const known = this.tokens.get(revocation.key);
      if (known === undefined || known < revocation.expiresAt) this.tokens.set(revocation.key, revocation.expiresAt);
      return;
    }
    const target = revocationTarget(revocation);
    this.cutoffs.set(target, mergeRevocation(this.cutoffs.get(target), revocation) as CutoffRevocation);
  }

  /** Everything in force at `now` (callers' clocks may differ: expired entries go in `sweep`). */
  entries(now: number): Revocation[] {
    const out: Revocation[] = [];
    for (const [key, expiresAt] of this.tokens) if (expiresAt > now) out.push({ type: 'token', key, expiresAt });
    for (const cutoff of this.cutoffs.values()) if (cutoff.expiresAt > now) out.push(cutoff);
    return out;
  }

  /** Drops expired entries (memory stays bounded by live tokens); returns how many went. */
  sweep(now: number): number {
    let dropped = 0;
    for (const [key, expiresAt] of this.tokens) if (expiresAt <= now && this.tokens.delete(key)) dropped++;
    for (const [target, cutoff] of this.cutoffs) if (cutoff.expiresAt <= now && this.cutoffs.delete(target)) dropped++;
    return dropped;
  }

  clear(): void {
    this.tokens.clear();
    this.cutoffs.clear();
  }

  get size(): number {
    return this.tokens.size + this.cutoffs.size;
  }
}
