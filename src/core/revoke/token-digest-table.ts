/**
 * The token half of the revocation list, sized for millions of entries: 128-bit digests of
 * denylist keys (see `core/shared/token-digest.ts`) with an expiry in whole seconds, in an
 * open-addressing table (linear probing) over two typed arrays. 20 bytes a slot, at most 3/4 of
 * the slots used: 27 to 53 bytes per revocation, ~42 at 10^6 (2^21 slots), and no object per
 * entry for the garbage collector to trace. Lookups read a few adjacent words and allocate
 * nothing.
 *
 * An expiry is kept rounded up to the second (a revocation is never forgotten early, at worst
 * one second late); 0 marks an empty slot. Expired entries are refused as answers at once, and
 * leave the table through `sweep` (a bounded slice at a time, so a sweep never stalls the event
 * loop) or when the table is rebuilt to grow. Deletion shifts the following entries back (no
 * tombstones), so lookups stay short however many entries come and go.
 */
import { TOKEN_DIGEST_BYTES, wordAt } from '../shared/token-digest.js';

const MIN_CAPACITY = 1 << 10;
/** Most seconds a Uint32 holds (the year 2106). */
const MAX_SECONDS = 0xffff_ffff;

/** Whole seconds covering `expiresAt` (epoch ms), rounded up: never earlier than asked. */
export function expirySeconds(expiresAt: number): number {
  return Math.min(MAX_SECONDS, Math.max(0, Math.ceil(expiresAt / 1000)));
}

export class TokenDigestTable {
  /** Four int32 words per slot: the digest's bytes, little-endian. */
  private words: Int32Array;
  /** Expiry of each slot in epoch seconds; 0: the slot is empty. */
  private expiry: Uint32Array;
  private mask: number;
  private count = 0;
  private sweepAt = 0;
  /** The latest time (ms) a caller told us about: a rebuild drops what had expired by then. */
  private knownNow = 0;

  constructor(expected = 0) {
    const capacity = capacityFor(expected);
    this.words = new Int32Array(capacity * 4);
    this.expiry = new Uint32Array(capacity);
    this.mask = capacity - 1;
  }

  /** Entries held, expired ones not yet swept included. */
  get size(): number {
    return this.count;
  }

  /** Bytes held by the table's arrays (for stats and benchmarks). */
  get bytes(): number {
    return this.words.byteLength + this.expiry.byteLength;
  }

  /** Whether the digest `d` (four words) is revoked at `now` (epoch ms). The hit path: no allocation. */
  has(d: Int32Array, now: number): boolean {
    if (this.count === 0) return false;
    const until = this.find(d[0]!, d[1]!, d[2]!, d[3]!);
    return until !== 0 && until * 1000 > now;
  }

  /** The expiry (epoch seconds) held for a digest, or 0. */
  expiryOf(d0: number, d1: number, d2: number, d3: number): number {
    return this.count === 0 ? 0 : this.find(d0, d1, d2, d3);
  }

  /** Records a digest until `seconds` (epoch s), keeping the later expiry; true if anything changed. */
  add(d0: number, d1: number, d2: number, d3: number, seconds: number): boolean {
    if (seconds === 0) return false;
    if ((this.count + 1) * 4 > (this.mask + 1) * 3) this.rebuild(this.count + 1);
    const { words, expiry, mask } = this;
    let i = d0 & mask;
    for (;;) {
      const until = expiry[i]!;
      if (until === 0) {
        const o = i << 2;
        words[o] = d0;
        words[o + 1] = d1;
        words[o + 2] = d2;
        words[o + 3] = d3;
        expiry[i] = seconds;
        this.count++;
        return true;
      }
      if (this.matches(i, d0, d1, d2, d3)) {
        if (seconds <= until) return false;
        expiry[i] = seconds;
        return true;
      }
      i = (i + 1) & mask;
    }
  }

  /** Adds `count` digests packed in `digests` (16 bytes each) with their expiries, growing once. */
  addAll(digests: Uint8Array, seconds: Uint32Array, count: number): void {
    if ((this.count + count) * 4 > (this.mask + 1) * 3) this.rebuild(this.count + count);
    for (let n = 0; n < count; n++) {
      const o = n * TOKEN_DIGEST_BYTES;
      this.add(
        wordAt(digests, o),
        wordAt(digests, o + 4),
        wordAt(digests, o + 8),
        wordAt(digests, o + 12),
        seconds[n]!,
      );
    }
  }

  /** Calls `visit` with every entry still in force at `now` (epoch ms). */
  forEach(now: number, visit: (d0: number, d1: number, d2: number, d3: number, seconds: number) => void): void {
    const { words, expiry } = this;
    for (let i = 0; i < expiry.length; i++) {
      const until = expiry[i]!;
      if (until !== 0 && until * 1000 > now) {
        const o = i << 2;
        visit(words[o]!, words[o + 1]!, words[o + 2]!, words[o + 3]!, until);
      }
    }
  }

  /**
   * Removes expired entries from the next `budget` slots (round-robin over the table); returns how
   * many went. Bounded work per call, so a large table is purged in slices.
   */
  sweep(now: number, budget = this.mask + 1): number {
    if (now > this.knownNow) this.knownNow = now;
    if (this.count === 0) return 0;
    const slots = Math.min(budget, this.mask + 1);
    let removed = 0;
    let i = this.sweepAt;
    for (let seen = 0; seen < slots; ) {
      const until = this.expiry[i]!;
      if (until !== 0 && until * 1000 <= now) {
        // The removal shifts a later entry into slot i: look at slot i again.
        this.removeAt(i);
        removed++;
      } else {
        i = (i + 1) & this.mask;
        seen++;
      }
    }
    this.sweepAt = i;
    return removed;
  }

  /** Tells the table the time, so the next rebuild leaves out what has expired. */
  observe(now: number): void {
    if (now > this.knownNow) this.knownNow = now;
  }

  private find(d0: number, d1: number, d2: number, d3: number): number {
    const { expiry, mask } = this;
    let i = d0 & mask;
    for (;;) {
      const until = expiry[i]!;
      if (until === 0 || this.matches(i, d0, d1, d2, d3)) return until;
      i = (i + 1) & mask;
    }
  }

  private matches(i: number, d0: number, d1: number, d2: number, d3: number): boolean {
    const { words } = this;
    const o = i << 2;
    return words[o] === d0 && words[o + 1] === d1 && words[o + 2] === d2 && words[o + 3] === d3;
  }

  /** Backward-shift deletion: later entries of the same run move up, so no probe ever stops early. */
  private removeAt(hole: number): void {
    const { words, expiry, mask } = this;
    let i = hole;
    let j = hole;
    for (;;) {
      j = (j + 1) & mask;
      if (expiry[j] === 0) break;
      const home = words[j << 2]! & mask;
      // The entry at j may fill the hole at i unless its home lies cyclically in (i, j].
      const stays = i <= j ? home > i && home <= j : home > i || home <= j;
      if (stays) continue;
      words.copyWithin(i << 2, j << 2, (j << 2) + 4);
      expiry[i] = expiry[j]!;
      i = j;
    }
    expiry[i] = 0;
    this.count--;
  }

  /** Re-inserts every entry in force into arrays sized for `needed` entries. */
  private rebuild(needed: number): void {
    const { words, expiry } = this;
    const now = this.knownNow;
    let live = 0;
    for (let i = 0; i < expiry.length; i++) if (expiry[i]! * 1000 > now) live++;
    const capacity = capacityFor(Math.max(needed - this.count + live, 0));
    this.words = new Int32Array(capacity * 4);
    this.expiry = new Uint32Array(capacity);
    this.mask = capacity - 1;
    this.count = 0;
    this.sweepAt = 0;
    for (let i = 0; i < expiry.length; i++) {
      const until = expiry[i]!;
      if (until * 1000 > now) {
        const o = i << 2;
        this.add(words[o]!, words[o + 1]!, words[o + 2]!, words[o + 3]!, until);
      }
    }
  }
}

/** The smallest power of two whose 3/4 holds `entries`. */
function capacityFor(entries: number): number {
  let capacity = MIN_CAPACITY;
  while (entries * 4 > capacity * 3) capacity *= 2;
  return capacity;
}
