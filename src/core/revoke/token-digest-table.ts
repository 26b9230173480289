/**
 * The token half of the revocation list, sized for millions of entries: 128-bit digests of
 * denylist keys (see `core/shared/token-digest.ts`) with an expiry in whole seconds, in an
 * open-addressing table (linear probing) over one typed array. A slot is five 32-bit words side
 * by side (the digest's four, then the expiry), so a lookup reads one stretch of memory, mostly
 * one cache line; 20 bytes a slot, at most 3/4 of the slots used: 27 to 53 bytes per revocation,
 * ~42 at 10^6 (2^21 slots), and no object per entry for the garbage collector to trace. Lookups
 * allocate nothing.
 *
 * An expiry is kept rounded up to the second (a revocation is never forgotten early, at worst
 * one second late), as an unsigned 32-bit number (until 2106) in a signed word; 0 marks an empty
 * slot. Expired entries are refused as answers at once, and leave the table through `sweep` (a
 * bounded slice at a time, so a sweep never stalls the event loop) or when the table is rebuilt
 * to grow. Deletion shifts the following entries back (no tombstones), so lookups stay short
 * however many entries come and go.
 */
import { TOKEN_DIGEST_BYTES, wordAt } from '../shared/token-digest.js';

const MIN_CAPACITY = 1 << 10;
/** Most seconds a Uint32 holds (the year 2106). */
const MAX_SECONDS = 0xffff_ffff;
/** Words per slot: four of digest, one of expiry. */
const SLOT = 5;

/** Whole seconds covering `expiresAt` (epoch ms), rounded up: never earlier than asked. */
export function expirySeconds(expiresAt: number): number {
  return Math.min(MAX_SECONDS, Math.max(0, Math.ceil(expiresAt / 1000)));
}

export class TokenDigestTable {
  /** SLOT words per slot: the digest's bytes as four little-endian words, then the expiry (epoch s, unsigned). */
  private slots: Int32Array;
  private mask: number;
  private count = 0;
  private sweepAt = 0;
  /** The latest time (ms) a caller told us about: a rebuild drops what had expired by then. */
  private knownNow = 0;

  constructor(expected = 0) {
    const capacity = capacityFor(expected);
    this.slots = new Int32Array(capacity * SLOT);
    this.mask = capacity - 1;
  }

  /** Entries held, expired ones not yet swept included. */
  get size(): number {
    return this.count;
  }

  /** Bytes held by the table's array (for stats and benchmarks). */
  get bytes(): number {
    return this.slots.byteLength;
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
    const { slots, mask } = this;
    let i = d0 & mask;
    for (;;) {
      const o = i * SLOT;
      const until = slots[o + 4]! >>> 0;
      if (until === 0) {
        slots[o] = d0;
        slots[o + 1] = d1;
        slots[o + 2] = d2;
        slots[o + 3] = d3;
        slots[o + 4] = seconds;
        this.count++;
        return true;
      }
      if (slots[o] === d0 && slots[o + 1] === d1 && slots[o + 2] === d2 && slots[o + 3] === d3) {
        if (seconds <= until) return false;
        slots[o + 4] = seconds;
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
    const { slots } = this;
    for (let o = 0; o < slots.length; o += SLOT) {
      const until = slots[o + 4]! >>> 0;
      if (until !== 0 && until * 1000 > now) visit(slots[o]!, slots[o + 1]!, slots[o + 2]!, slots[o + 3]!, until);
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
      const until = this.slots[i * SLOT + 4]! >>> 0;
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

  /** The expiry held in the slot of this digest, or 0 (its probe ended at an empty slot). */
  private find(d0: number, d1: number, d2: number, d3: number): number {
    const { slots, mask } = this;
    let i = d0 & mask;
    for (;;) {
      const o = i * SLOT;
      const until = slots[o + 4]! >>> 0;
      if (until === 0) return 0;
      if (slots[o] === d0 && slots[o + 1] === d1 && slots[o + 2] === d2 && slots[o + 3] === d3) return until;
      i = (i + 1) & mask;
    }
  }

  /** Backward-shift deletion: later entries of the same run move up, so no probe ever stops early. */
  private removeAt(hole: number): void {
    const { slots, mask } = this;
    let i = hole;
    let j = hole;
    for (;;) {
      j = (j + 1) & mask;
      if (slots[j * SLOT + 4] === 0) break;
      const home = slots[j * SLOT]! & mask;
      // The entry at j may fill the hole at i unless its home lies cyclically in (i, j].
      const stays = i <= j ? home > i && home <= j : home > i || home <= j;
      if (stays) continue;
      slots.copyWithin(i * SLOT, j * SLOT, j * SLOT + SLOT);
      i = j;
    }
    slots[i * SLOT + 4] = 0;
    this.count--;
  }

  /** Re-inserts every entry in force into an array sized for `needed` entries. */
  private rebuild(needed: number): void {
    const old = this.slots;
    const now = this.knownNow;
    let live = 0;
    for (let o = 4; o < old.length; o += SLOT) if ((old[o]! >>> 0) * 1000 > now) live++;
    const capacity = capacityFor(Math.max(needed - this.count + live, 0));
    this.slots = new Int32Array(capacity * SLOT);
    this.mask = capacity - 1;
    this.count = 0;
    this.sweepAt = 0;
    for (let o = 0; o < old.length; o += SLOT) {
      const until = old[o + 4]! >>> 0;
      if (until * 1000 > now) this.add(old[o]!, old[o + 1]!, old[o + 2]!, old[o + 3]!, until);
    }
  }
}

/** The smallest power of two whose 3/4 holds `entries`. */
function capacityFor(entries: number): number {
  let capacity = MIN_CAPACITY;
  while (entries * 4 > capacity * 3) capacity *= 2;
  return capacity;
}
