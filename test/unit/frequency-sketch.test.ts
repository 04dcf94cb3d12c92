import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createFrequencySketch } from '../../src/auth/frequency-sketch.js';

/** What the verification cache gives the sketch: an HS256 signature segment (43 base64url characters). */
const signature = () => randomBytes(32).toString('base64url');

describe('the frequency sketch (TinyLFU admission of the verification cache)', () => {
  it('counts uses, never below the true count, capped at 15', () => {
    // 28,500 uses in all: fewer than the 30,000 after which counts are halved.
    const sketch = createFrequencySketch(3000);
    const keys = Array.from({ length: 3000 }, signature);
    const truth = new Map<string, number>();
    keys.forEach((key, i) => {
      const uses = i % 20;
      for (let u = 0; u < uses; u += 1) sketch.record(key);
      truth.set(key, uses);
    });
    let exact = 0;
    for (const [key, uses] of truth) {
      const estimate = sketch.estimate(key);
      expect(estimate).toBeGreaterThanOrEqual(Math.min(uses, 15));
      expect(estimate).toBeLessThanOrEqual(15);
      if (estimate === Math.min(uses, 15)) exact += 1;
    }
    // 3,000 keys in 4 rows of 16,384 counters: collisions are rare, most estimates exact.
    expect(exact / truth.size).toBeGreaterThan(0.9);
    expect(sketch.estimate(signature())).toBeLessThanOrEqual(1);
  });

  it('halves every count after 10 × capacity uses (at least 10,240), so old popularity fades', () => {
    const sketch = createFrequencySketch(2000);
    const hot = signature();
    for (let i = 0; i < 12; i += 1) sketch.record(hot);
    expect(sketch.estimate(hot)).toBe(12);
    // The rest of the 20,000 uses on other keys: the 20,000th halves the counters.
    for (let i = 12; i < 19_999; i += 1) sketch.record(signature());
    expect(sketch.estimate(hot)).toBe(12);
    sketch.record(signature());
    expect(sketch.estimate(hot)).toBe(6);
  });

  it('takes any string, and refuses a capacity that is not a positive integer', () => {
    const sketch = createFrequencySketch(1);
    for (const key of ['', 'a', '{}', 'é'.repeat(3), 'x'.repeat(500)]) {
      sketch.record(key);
      expect(sketch.estimate(key)).toBeLessThanOrEqual(15);
      // Counted, except the empty string (no characters to index by).
      expect(sketch.estimate(key)).toBeGreaterThanOrEqual(key === '' ? 0 : 1);
    }
    expect(sketch.estimate('')).toBe(0);
    for (const bad of [0, -1, 1.5, Number.NaN]) expect(() => createFrequencySketch(bad)).toThrow(/capacity/);
  });
});
