/**
 * A log-bucketed latency histogram in the manner of HdrHistogram: constant memory, constant-time recording, and
 * a relative error bounded by the number of sub-buckets per power of two, whatever the range of values.
 *
 * Layout of the counts (subBucketBits = b, so S = 2^b sub-buckets):
 *
 *   index 0 .. S-1                values 0 .. S-1, one value each (exact)
 *   index S + (k-b)*S + j         values in [2^k, 2^(k+1)) for k >= b, sub-bucket j of width 2^(k-b):
 *                                 [2^k + j*2^(k-b), 2^k + (j+1)*2^(k-b))
 *
 * With b = 7 a recorded value is known to within 1/128 (< 0.8%) of itself. Values are non-negative integers in
 * whatever unit the caller picks (the load generator records nanoseconds); values above `valueMax` are clamped
 * to it and counted in `clampedCount`. Percentiles report the highest value equivalent to the bucket they fall
 * in (as HdrHistogram does), never more than the true maximum.
 */
import assert from 'node:assert/strict';

export const histogramDefaults = {
  /** 128 sub-buckets per power of two: < 0.8% relative error. */
  subBucketBits: 7,
  /** 2^43 ns is about 2.4 hours. */
  valueMax: 2 ** 43,
} as const;

export type HistogramOptions = { subBucketBits?: number; valueMax?: number };

export type HistogramSummary = {
  count: number;
  min: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
};

const two32 = 2 ** 32;

/** floor(log2(v)) for a positive safe integer. */
function msb(v: number): number {
  return v >= two32 ? 32 + (31 - Math.clz32(Math.floor(v / two32))) : 31 - Math.clz32(v);
}

export class Histogram {
  readonly subBucketBits: number;
  readonly valueMax: number;
  readonly #subBuckets: number;
  readonly #counts: Float64Array;
  #count = 0;
  #sum = 0;
  #min = Infinity;
  #max = 0;
  #clampedCount = 0;

  constructor(options: HistogramOptions = {}) {
    this.subBucketBits = options.subBucketBits ?? histogramDefaults.subBucketBits;
    this.valueMax = options.valueMax ?? histogramDefaults.valueMax;
    assert(Number.isInteger(this.subBucketBits) && this.subBucketBits >= 1 && this.subBucketBits <= 16, 'subBucketBits in 1..16');
    assert(Number.isSafeInteger(this.valueMax) && this.valueMax >= 2 ** this.subBucketBits, 'valueMax >= 2^subBucketBits');
    this.#subBuckets = 2 ** this.subBucketBits;
    this.#counts = new Float64Array(this.indexOf(this.valueMax) + 1);
  }

  get count(): number {
    return this.#count;
  }
  get min(): number {
    return this.#count === 0 ? 0 : this.#min;
  }
  get max(): number {
    return this.#max;
  }
  get mean(): number {
    return this.#count === 0 ? 0 : this.#sum / this.#count;
  }
  /** How many recorded values were above `valueMax` (recorded as `valueMax`). */
  get clampedCount(): number {
    return this.#clampedCount;
  }

  /** The bucket index of a value in 0..valueMax. */
  indexOf(value: number): number {
    const s = this.#subBuckets;
    if (value < s) return value;
    const k = msb(value);
    const shift = k - this.subBucketBits;
    return s + shift * s + Math.floor((value - 2 ** k) / 2 ** shift);
  }

  /** The lowest value that lands in bucket `index`. */
  lowestEquivalent(index: number): number {
    const s = this.#subBuckets;
    if (index < s) return index;
    const shift = Math.floor((index - s) / s);
    const j = (index - s) % s;
    return 2 ** (shift + this.subBucketBits) + j * 2 ** shift;
  }

  /** The highest value that lands in bucket `index`. */
  highestEquivalent(index: number): number {
    const s = this.#subBuckets;
    if (index < s) return index;
    const shift = Math.floor((index - s) / s);
    return this.lowestEquivalent(index) + 2 ** shift - 1;
  }

  /** Records `times` occurrences of `value` (rounded to an integer; negative values count as 0). */
  record(value: number, times = 1): void {
    let v = value > 0 ? Math.round(value) : 0;
    if (v > this.valueMax) {
      v = this.valueMax;
      this.#clampedCount += times;
    }
    this.#counts[this.indexOf(v)] += times;
    this.#count += times;
    this.#sum += v * times;
    if (v < this.#min) this.#min = v;
    if (v > this.#max) this.#max = v;
  }

  /**
   * The value at percentile `p` (0..100): the highest value equivalent to the bucket holding the
   * ceil(p% of count)-th smallest recorded value, capped at the maximum recorded. 0 when empty.
   */
  percentile(p: number): number {
    assert(p >= 0 && p <= 100, `percentile ${p} outside 0..100`);
    if (this.#count === 0) return 0;
    const rank = Math.max(1, Math.ceil((p / 100) * this.#count));
    const counts = this.#counts;
    let seen = 0;
    for (let i = 0; i < counts.length; i++) {
      seen += counts[i];
      if (seen >= rank) return Math.min(this.highestEquivalent(i), this.#max);
    }
    return this.#max;
  }

  /** Adds every value recorded in `other` (which must have the same bucket layout). */
  add(other: Histogram): void {
    assert(other.subBucketBits === this.subBucketBits && other.valueMax === this.valueMax, 'histogram layouts differ');
    if (other.#count === 0) return;
    const a = this.#counts;
    const b = other.#counts;
    for (let i = 0; i < a.length; i++) a[i] += b[i];
    this.#count += other.#count;
    this.#sum += other.#sum;
    this.#clampedCount += other.#clampedCount;
    if (other.#min < this.#min) this.#min = other.#min;
    if (other.#max > this.#max) this.#max = other.#max;
  }

  reset(): void {
    this.#counts.fill(0);
    this.#count = 0;
    this.#sum = 0;
    this.#min = Infinity;
    this.#max = 0;
    this.#clampedCount = 0;
  }

  /** The usual figures, each divided by `unitDivisor` (e.g. 1000 to turn nanoseconds into microseconds). */
  summary(unitDivisor = 1): HistogramSummary {
    const d = unitDivisor;
    return {
      count: this.#count,
      min: this.min / d,
      mean: this.mean / d,
      p50: this.percentile(50) / d,
      p90: this.percentile(90) / d,
      p99: this.percentile(99) / d,
      p999: this.percentile(99.9) / d,
      max: this.max / d,
    };
  }
}
