/**
 * The in-process mirror of the revocation store that every verification consults. Synchronous
 * and allocation-free on the check: the lookup keys of a token are computed once, when it is
 * verified, and kept with its cache entry.
 */
import { mergeRevocation, type CutoffRevocation, type Revocation } from '../../stores/revocation-store.js';
import { cutoffKeyOf as keyOf, type RevocationKeys } from './revocation-identity.js';

export class RevocationList {
  private readonly tokens = new Map<string, number>();
  private readonly cutoffs = new Map<string, CutoffRevocation>();

  apply(revocation: Revocation): void {
    if (revocation.type === 'token') {
      this.tokens.set(revocation.key, Math.max(this.tokens.get(revocation.key) ?? 0, revocation.expiresAt));
      return;
    }
    const key = keyOf(revocation);
    this.cutoffs.set(key, mergeRevocation(this.cutoffs.get(key), revocation) as CutoffRevocation);
  }

  /** Everything in force at `now`, as revocations (to compare with, or heal, a store). */
  entries(now: number): Revocation[] {
    const out: Revocation[] = [];
    for (const [key, expiresAt] of this.tokens) if (expiresAt > now) out.push({ type: 'token', key, expiresAt });
    for (const cutoff of this.cutoffs.values()) if (cutoff.expiresAt > now) out.push(cutoff);
    return out;
  }

  /**
   * Whether a verified token is revoked at `now`. A cutoff is a whole second `C` that covers its
   * entire second: it revokes every token with `iat < C + 1`, whatever the `iat` precision, so a
   * token issued at or before the cutoff instant (even 0.5 s before, with a fractional `iat`) is
   * always cut; a token issued later in that same second is cut too (re-issue it a second later).
   * A token without `iat` cannot prove it is newer, so any cutoff that could apply to it does.
   */
  isRevoked(keys: RevocationKeys, iat: unknown, now: number): boolean {
    if (this.cutoffs.size !== 0) {
      if (this.cutoffApplies(keys.all, iat, now)) return true;
      if (keys.subject !== undefined && this.cutoffApplies(keys.subject, iat, now)) return true;
      if (keys.session !== undefined && this.cutoffApplies(keys.session, iat, now)) return true;
    }
    return this.isDenylisted(keys.denylist, now);
  }

  /** Whether the token with this denylist key is revoked at `now` (cutoffs aside). */
  isDenylisted(denylistKey: string, now: number): boolean {
    if (this.tokens.size === 0) return false;
    const until = this.tokens.get(denylistKey);
    return until !== undefined && until > now;
  }

  /** Drops expired entries; returns how many went. */
  sweep(now: number): number {
    let dropped = 0;
    for (const [key, until] of this.tokens) if (until <= now && this.tokens.delete(key)) dropped++;
    for (const [key, cutoff] of this.cutoffs) if (cutoff.expiresAt <= now && this.cutoffs.delete(key)) dropped++;
    return dropped;
  }

  get size(): { tokens: number; subjects: number; sessions: number; all: number } {
    let subjects = 0;
    let sessions = 0;
    let all = 0;
    for (const c of this.cutoffs.values()) {
      if (c.type === 'subject') subjects++;
      else if (c.type === 'session') sessions++;
      else all++;
    }
    return { tokens: this.tokens.size, subjects, sessions, all };
  }

  private cutoffApplies(key: string, iat: unknown, now: number): boolean {
    const cutoff = this.cutoffs.get(key);
    return cutoff !== undefined && cutoff.expiresAt > now && !(typeof iat === 'number' && iat >= cutoff.cutoff + 1);
  }
}
