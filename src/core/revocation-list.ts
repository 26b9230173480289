/**
 * The in-process mirror of the revocation store that every verification consults. Synchronous
 * and allocation-free on the check: the request path never waits on the store.
 */
import { mergeRevocation, type Revocation } from '../stores/revocation-store.js';
import type { AccessTokenClaims } from './types.js';

export class RevocationList {
  private readonly tokens = new Map<string, number>();
  private readonly subjects = new Map<string, { cutoff: number; expiresAt: number }>();
  private all: { cutoff: number; expiresAt: number } | undefined;

  apply(revocation: Revocation): void {
    switch (revocation.type) {
      case 'token':
        this.tokens.set(revocation.key, Math.max(this.tokens.get(revocation.key) ?? 0, revocation.expiresAt));
        break;
      case 'subject': {
        const existing = this.subjects.get(revocation.subject);
        const merged = mergeRevocation(existing && { type: 'subject', subject: revocation.subject, ...existing }, revocation) as typeof revocation;
        this.subjects.set(revocation.subject, { cutoff: merged.cutoff, expiresAt: merged.expiresAt });
        break;
      }
      case 'all': {
        const merged = mergeRevocation(this.all && { type: 'all', ...this.all }, revocation) as typeof revocation;
        this.all = { cutoff: merged.cutoff, expiresAt: merged.expiresAt };
        break;
      }
    }
  }

  /** Everything in force at `now`, as revocations (to compare with, or heal, a store). */
  entries(now: number): Revocation[] {
    const out: Revocation[] = [];
    for (const [key, expiresAt] of this.tokens) if (expiresAt > now) out.push({ type: 'token', key, expiresAt });
    for (const [subject, c] of this.subjects) if (c.expiresAt > now) out.push({ type: 'subject', subject, ...c });
    if (this.all && this.all.expiresAt > now) out.push({ type: 'all', ...this.all });
    return out;
  }

  /**
   * Whether a verified token is revoked at `now`. Cutoffs compare `iat` in whole seconds, and a
   * token issued in the cutoff's own second counts as before it; a token without `iat` cannot
   * prove it is newer, so any cutoff that could apply to it does.
   */
  isRevoked(denylistKey: string, payload: AccessTokenClaims, now: number): boolean {
    if (this.all !== undefined && this.all.expiresAt > now && !(typeof payload.iat === 'number' && payload.iat > this.all.cutoff)) return true;
    if (this.subjects.size !== 0 && payload.sub !== undefined) {
      const cutoff = this.subjects.get(payload.sub);
      if (cutoff !== undefined && cutoff.expiresAt > now && !(typeof payload.iat === 'number' && payload.iat > cutoff.cutoff)) return true;
    }
    if (this.tokens.size !== 0) {
      const until = this.tokens.get(denylistKey);
      if (until !== undefined && until > now) return true;
    }
    return false;
  }

  /** Drops expired entries; returns how many went. */
  sweep(now: number): number {
    let dropped = 0;
    for (const [key, until] of this.tokens) if (until <= now && this.tokens.delete(key)) dropped++;
    for (const [subject, cutoff] of this.subjects) if (cutoff.expiresAt <= now && this.subjects.delete(subject)) dropped++;
    if (this.all !== undefined && this.all.expiresAt <= now) {
      this.all = undefined;
      dropped++;
    }
    return dropped;
  }

  get size(): { tokens: number; subjects: number; all: boolean } {
    return { tokens: this.tokens.size, subjects: this.subjects.size, all: this.all !== undefined };
  }
}
