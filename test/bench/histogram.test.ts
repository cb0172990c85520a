/** The load generator's log-bucketed histogram: exact small values, bounded relative error, percentiles, merge. */
import { describe, expect, it } from 'vitest';
import { Histogram } from '../../bench/load/histogram.ts';
import { seededRandom } from '../../bench/load/key-distribution.ts';

describe('Histogram', () => {
  it('keeps values below 2^subBucketBits exactly', () => {
    const h = new Histogram({ subBucketBits: 7 });
    for (let v = 0; v < 128; v++) h.record(v);
    expect(h.count).toBe(128);
    expect(h.min).toBe(0);
    expect(h.max).toBe(127);
    expect(h.mean).toBe(63.5);
    expect(h.percentile(50)).toBe(63);
    expect(h.percentile(100)).toBe(127);
    expect(h.percentile(0)).toBe(0);
  });

  it('maps every value into a bucket whose bounds contain it, within 1/2^subBucketBits', () => {
    const h = new Histogram();
    const random = seededRandom(42);
    for (let i = 0; i < 20_000; i++) {
      const v = Math.floor(Math.pow(2, random() * 43));
      const index = h.indexOf(v);
      const low = h.lowestEquivalent(index);
      const high = h.highestEquivalent(index);
      expect(low).toBeLessThanOrEqual(v);
      expect(high).toBeGreaterThanOrEqual(v);
      expect(high - low).toBeLessThanOrEqual(Math.max(0, v / 128));
    }
    // Bucket boundaries are contiguous: the next bucket starts right after this one ends.
    for (let index = 0; index < 3000; index++) expect(h.lowestEquivalent(index + 1)).toBe(h.highestEquivalent(index) + 1);
  });

  it('reports percentiles of a known distribution within the relative error, never above the max', () => {
    const h = new Histogram();
    for (let v = 1; v <= 100_000; v++) h.record(v * 1000); // 1 µs .. 100 ms in ns
    const near = (actual: number, expected: number) => expect(Math.abs(actual - expected) / expected).toBeLessThan(0.01);
    near(h.percentile(50), 50_000_000);
    near(h.percentile(99), 99_000_000);
    near(h.percentile(99.9), 99_900_000);
    expect(h.percentile(100)).toBe(100_000_000);
    const s = h.summary(1000);
    expect(s.count).toBe(100_000);
    near(s.p50, 50_000);
    expect(s.max).toBe(100_000);
    expect(s.min).toBe(1);
  });

  it('records repeated values, rounds fractions, clamps above valueMax and counts the clamped ones', () => {
    const h = new Histogram({ valueMax: 1 << 20 });
    h.record(10.4, 5);
    h.record(-3);
    h.record(2 ** 30);
    expect(h.count).toBe(7);
    expect(h.percentile(50)).toBe(10);
    expect(h.min).toBe(0);
    expect(h.max).toBe(1 << 20);
    expect(h.clampedCount).toBe(1);
  });

  it('adds histograms and resets', () => {
    const a = new Histogram();
    const b = new Histogram();
    for (let v = 0; v < 1000; v++) (v % 2 === 0 ? a : b).record(v * 997);
    const whole = new Histogram();
    for (let v = 0; v < 1000; v++) whole.record(v * 997);
    a.add(b);
    expect(a.count).toBe(1000);
    for (const p of [1, 25, 50, 90, 99, 99.9, 100]) expect(a.percentile(p)).toBe(whole.percentile(p));
    expect(a.mean).toBe(whole.mean);
    a.reset();
    expect(a.count).toBe(0);
    expect(a.percentile(99)).toBe(0);
    expect(a.summary().max).toBe(0);
    expect(() => a.add(new Histogram({ subBucketBits: 5 }))).toThrow(/layouts differ/);
  });
});
