/**
 * The in-process mirror of the revocation store that every verification consults. Synchronous
 * and allocation-free on the check: the lookup keys of a token (its cutoff keys, and the digest
 * of its denylist key) are computed once, when it is verified, and kept with its cache entry.
 *
 * Token revocations, the many, live in a compact table of 128-bit digests (`TokenDigestTable`,
 * ~42 bytes each at 10^6); subject, session and issuer-wide cutoffs, the few, in a Map.
 */
import { mergeRevocation, type CutoffRevocation, type Revocation } from '../../stores/revocation-store.js';
import { digestKey, tokenDigestOf, wordAt } from '../shared/token-digest.js';
import { cutoffKeyOf as keyOf, type RevocationKeys } from './revocation-identity.js';
import { expirySeconds, TokenDigestTable } from './token-digest-table.js';

export class RevocationList {
  private readonly tokens: TokenDigestTable;
  private readonly cutoffs = new Map<string, CutoffRevocation>();

  /** `expectedTokens`: how many token revocations to size the table for at once. */
  constructor(expectedTokens = 0) {
    this.tokens = new TokenDigestTable(expectedTokens);
  }

  /** Applies one revocation (merged: the later cutoff and expiry win); true if anything changed. */
  apply(revocation: Revocation): boolean {
    if (revocation.type === 'token') {
      const d = tokenDigestOf(revocation.key);
      const seconds = expirySeconds(revocation.expiresAt);
      return this.tokens.add(wordAt(d, 0), wordAt(d, 4), wordAt(d, 8), wordAt(d, 12), seconds);
    }
    const key = keyOf(revocation);
    const before = this.cutoffs.get(key);
    const merged = mergeRevocation(before, revocation) as CutoffRevocation;
    this.cutoffs.set(key, merged);
    return before === undefined || before.expiresAt !== merged.expiresAt || before.cutoff !== merged.cutoff;
  }

  /** Applies `count` token revocations given as packed 16-byte digests and expiries (epoch seconds). */
  applyTokens(digests: Uint8Array, seconds: Uint32Array, count: number): void {
    this.tokens.addAll(digests, seconds, count);
  }

  /**
   * Everything in force at `now`, as revocations (to compare with, or heal, a store). Tokens are
   * named by their digest (`digest:<hex>` keys): the list keeps nothing else of them.
   */
  entries(now: number): Revocation[] {
    const out: Revocation[] = [];
    const bytes = new Uint8Array(16);
    const view = new DataView(bytes.buffer);
    this.tokens.forEach(now, (d0, d1, d2, d3, seconds) => {
      view.setInt32(0, d0, true);
      view.setInt32(4, d1, true);
      view.setInt32(8, d2, true);
      view.setInt32(12, d3, true);
      out.push({ type: 'token', key: digestKey(bytes), expiresAt: seconds * 1000 });
    });
    for (const cutoff of this.cutoffs.values()) if (cutoff.expiresAt > now) out.push(cutoff);
    return out;
  }

  /**
   * What this list holds at `now` that `other` lacks or holds in an older form (an earlier cutoff,
   * an earlier expiry): what a mirror writes back to heal a store whose snapshot is `other`.
   */
  notCoveredBy(other: RevocationList, now: number): Revocation[] {
    const out: Revocation[] = [];
    let bytes: Uint8Array | undefined;
    this.tokens.forEach(now, (d0, d1, d2, d3, seconds) => {
      if (other.tokens.expiryOf(d0, d1, d2, d3) >= seconds) return;
      bytes ??= new Uint8Array(16);
      const view = new DataView(bytes.buffer);
      view.setInt32(0, d0, true);
      view.setInt32(4, d1, true);
      view.setInt32(8, d2, true);
      view.setInt32(12, d3, true);
      out.push({ type: 'token', key: digestKey(bytes), expiresAt: seconds * 1000 });
    });
    for (const [key, cutoff] of this.cutoffs) {
      if (cutoff.expiresAt <= now) continue;
      const theirs = other.cutoffs.get(key);
      if (theirs === undefined || theirs.cutoff < cutoff.cutoff || theirs.expiresAt < cutoff.expiresAt)
        out.push(cutoff);
    }
    return out;
  }

  /** Merges everything `other` holds into this list; `onCutoff` hears each cutoff that changed here. */
  merge(other: RevocationList, onCutoff?: (cutoff: CutoffRevocation) => void): void {
    other.tokens.forEach(0, (d0, d1, d2, d3, seconds) => this.tokens.add(d0, d1, d2, d3, seconds));
    for (const cutoff of other.cutoffs.values()) if (this.apply(cutoff)) onCutoff?.(cutoff);
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
    // Read only when there is something to find: a token's digest is taken on first read.
    return this.tokens.size !== 0 && this.tokens.has(keys.digest, now);
  }

  /** Whether the token with this denylist key is revoked at `now` (cutoffs aside). Hashes the key. */
  isDenylisted(denylistKey: string, now: number): boolean {
    if (this.tokens.size === 0) return false;
    const d = tokenDigestOf(denylistKey);
    const until = this.tokens.expiryOf(wordAt(d, 0), wordAt(d, 4), wordAt(d, 8), wordAt(d, 12));
    return until * 1000 > now;
  }

  /**
   * Drops expired entries; returns how many went. `budget`: at most this many token slots are
   * looked at (the sweep goes on from there next time), so a large list is purged in slices.
   */
  sweep(now: number, budget?: number): number {
    let dropped = this.tokens.sweep(now, budget);
    for (const [key, cutoff] of this.cutoffs) if (cutoff.expiresAt <= now && this.cutoffs.delete(key)) dropped++;
    return dropped;
  }

  /** Whether the list holds nothing at all (expired entries not yet swept count as something). */
  get isEmpty(): boolean {
    return this.tokens.size === 0 && this.cutoffs.size === 0;
  }

  /** Bytes held by the token table's arrays. */
  get tokenBytes(): number {
    return this.tokens.bytes;
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
