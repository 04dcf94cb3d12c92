/**
 * How often each key was seen lately, approximately, in fixed memory: a count-min sketch with
 * 4-bit-range counters and periodic halving (TinyLFU, Einziger, Friedman and Manes, "TinyLFU:
 * A Highly Efficient Cache Admission Policy", 2017; Caffeine's FrequencySketch). The
 * verification cache asks it, when full, whether a token it is about to admit has been seen
 * more often than the entry it would evict (src/auth/token-verifier.ts).
 *
 * Keys are signature segments of tokens that passed verification: base64url of an HMAC or a
 * signature, whose leading characters are uniformly distributed and chosen by no client (a
 * forged signature never reaches the sketch). The row indexes are therefore read off the key's
 * characters, not computed by a hash of the whole string: a few character reads per use.
 */

/** What the verification cache needs of the sketch. */
export interface FrequencySketch {
  /** Counts one use of `key`. */
  record(key: string): void;
  /** How often `key` was used lately (0..15; an over-estimate when keys collide, never under). */
  estimate(key: string): number;
}

/** The counter cap: a key seen 15 times lately is as hot as it gets. */
const MAX_COUNT = 15;
/** Rows (independent indexes per key): each estimate is the least of 4 counters. */
const ROWS = 4;

/**
 * A 30-bit number from 5 characters of `key` starting at `from` (wrapping): base64url
 * carries 6 bits per character. Characters outside base64url only make the index less
 * uniform, never out of range (the caller masks it).
 */
function bits(key: string, from: number): number {
  const n = key.length;
  let h = 0;
  for (let i = 0; i < 5; i++) h = (h << 6) ^ key.charCodeAt((from + i) % n);
  return h >>> 0;
}

/**
 * A sketch sized for a cache of `capacity` entries: 4 × (the power of two ≥ 4 × capacity, at least 1,024)
 * one-byte counters (256 KB for 10,000), halved every 10 × capacity uses (at least 10,240) so
 * that what was popular long ago fades.
 */
export function createFrequencySketch(capacity: number): FrequencySketch {
  if (!Number.isInteger(capacity) || capacity < 1) throw new Error(`createFrequencySketch: capacity must be a positive integer, got ${capacity}`);
  let width = 1024;
  while (width < 4 * capacity && width < 1 << 24) width *= 2;
  const mask = width - 1;
  const counters = new Uint8Array(ROWS * width);
  // A tiny cache still counts over a thousand-odd uses, or its counts would halve away before they tell anything.
  const resetAfter = 10 * Math.max(capacity, 1024);
  let uses = 0;

  /** The counter positions of the key last located, one per row. */
  const slots = new Int32Array(ROWS);
  /** Puts `key`'s counter positions in `slots`; returns the least of those counters (its estimate). */
  function locate(key: string): number {
    // Two 30-bit numbers from different characters; row r uses h1 + r * h2 (double hashing).
    const h1 = bits(key, 0);
    const h2 = bits(key, 5) | 1;
    let least = MAX_COUNT;
    for (let r = 0; r < ROWS; r++) {
      const slot = r * width + ((h1 + Math.imul(r, h2)) & mask);
      slots[r] = slot;
      least = Math.min(least, counters[slot] as number);
    }
    return least;
  }

  function estimate(key: string): number {
    return key.length === 0 ? 0 : locate(key);
  }

  function record(key: string): void {
    if (key.length === 0) return;
    // Conservative update: only the counters at the current least grow, so a key's estimate
    // is pushed up by its own uses, and by another key's only where both share every least.
    const least = locate(key);
    if (least < MAX_COUNT) {
      for (let r = 0; r < ROWS; r++) {
        const slot = slots[r] as number;
        if (counters[slot] === least) counters[slot] = least + 1;
      }
    }
    uses += 1;
    if (uses >= resetAfter) {
      // Aging: every count halved, so the sketch tells recent popularity, not all-time.
      for (let i = 0; i < counters.length; i++) counters[i] = (counters[i] as number) >>> 1;
      uses = 0;
    }
  }

  return { record, estimate };
}
