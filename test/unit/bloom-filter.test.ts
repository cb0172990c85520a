import { describe, expect, it } from 'vitest';
import { BloomFilter, BloomFilterFormatError } from '../../native-free-io/bloom-filter.ts';
import { murmur3x32 } from '../../native-free-io/key-hash.ts';

// Seeded, so that the statistical bounds below are checked on the same keys every run (not flaky).
let seed = 0x9e3779b9;
function randomBytes(n: number): Buffer {
  const out = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    out[i] = seed & 0xff;
  }
  return out;
}

function keys(count: number): Buffer[] {
  const all = randomBytes(count * 16);
  return Array.from({ length: count }, (_, i) => all.subarray(i * 16, i * 16 + 16));
}

describe('BloomFilter', () => {
  for (const rate of [0.01, 0.001]) {
    it(`has no false negatives and about ${rate} false positives on 100k keys`, () => {
      const present = keys(100_000);
      const absent = keys(100_000);
      const filter = BloomFilter.create(present.length, rate);
      for (const k of present) filter.add(k);
      for (const k of present) if (!filter.has(k)) throw new Error('false negative');
      let falsePositives = 0;
      for (const k of absent) if (filter.has(k)) falsePositives++;
      const measured = falsePositives / absent.length;
      expect(measured).toBeLessThan(rate * 1.4);
      expect(measured).toBeGreaterThan(rate * 0.6);
    });
  }

  it('keeps its rate for tiny filters too (a prime bit count keeps the probes of a key distinct)', () => {
    for (const n of [1, 2, 3, 5, 10, 50]) {
      let falsePositives = 0;
      let probes = 0;
      for (let trial = 0; trial < 200; trial++) {
        const filter = BloomFilter.create(n, 0.01);
        for (const k of keys(n)) filter.add(k);
        for (const k of keys(100)) {
          probes++;
          if (filter.has(k)) falsePositives++;
        }
      }
      expect(falsePositives / probes, `n = ${n}`).toBeLessThan(0.015);
    }
  });

  it('hashes a string as its UTF-8 bytes', () => {
    const filter = BloomFilter.create(10, 0.01);
    filter.add('order-ü-42');
    expect(filter.has(Buffer.from('order-ü-42', 'utf8'))).toBe(true);
    filter.add(Buffer.from('user-1'));
    expect(filter.has('user-1')).toBe(true);
    const long = 'x'.repeat(1000);
    filter.add(long);
    expect(filter.has(long)).toBe(true);
  });

  it('sets exactly the bits of the documented scheme, g_i = (h1 + i * h2) mod m (files written before stay readable)', () => {
    const present = keys(3000);
    const filter = BloomFilter.create(present.length, 0.01);
    const m = filter.bitCount;
    const expected = new Uint8Array(Math.ceil(m / 8));
    for (const k of present) {
      filter.add(k);
      const h1 = murmur3x32(k, 0x9747b28c);
      const h2 = murmur3x32(k, 0x5bd1e995) % m || 1;
      for (let i = 0; i < filter.hashCount; i++) {
        const bit = (h1 + i * h2) % m;
        expected[bit >>> 3] |= 1 << (bit & 7);
      }
    }
    expect(Buffer.from(filter.serialize().subarray(8)).equals(Buffer.from(expected))).toBe(true);
    const ranged = BloomFilter.create(present.length, 0.01);
    const all = Buffer.concat(present);
    for (let i = 0; i < present.length; i++) ranged.addRange(all, 16 * i, 16);
    expect(ranged.serialize().equals(filter.serialize())).toBe(true);
  });

  it('round trips through serialize', () => {
    const present = keys(5000);
    const filter = BloomFilter.create(present.length, 0.01);
    for (const k of present) filter.add(k);
    const bytes = filter.serialize();
    expect(bytes.length).toBe(filter.serializedBytes);
    const copy = BloomFilter.deserialize(Buffer.from(bytes));
    expect(copy.bitCount).toBe(filter.bitCount);
    expect(copy.hashCount).toBe(filter.hashCount);
    expect(copy.serialize().equals(bytes)).toBe(true);
    for (const k of present) expect(copy.has(k)).toBe(true);
    for (const k of keys(2000)) expect(copy.has(k)).toBe(filter.has(k));
  });

  it('sizes an empty filter for one key', () => {
    const filter = BloomFilter.create(0, 0.01);
    expect(filter.has('anything')).toBe(false);
    expect(BloomFilter.deserialize(filter.serialize()).has('anything')).toBe(false);
  });

  it('rejects malformed bytes', () => {
    const good = BloomFilter.create(100, 0.01).serialize();
    expect(() => BloomFilter.deserialize(good.subarray(0, 7))).toThrow(BloomFilterFormatError);
    expect(() => BloomFilter.deserialize(good.subarray(0, good.length - 1))).toThrow(BloomFilterFormatError);
    const badScheme = Buffer.from(good);
    badScheme[5] = 2;
    expect(() => BloomFilter.deserialize(badScheme)).toThrow(BloomFilterFormatError);
    const badK = Buffer.from(good);
    badK[4] = 0;
    expect(() => BloomFilter.deserialize(badK)).toThrow(BloomFilterFormatError);
    const reserved = Buffer.from(good);
    reserved[7] = 1;
    expect(() => BloomFilter.deserialize(reserved)).toThrow(BloomFilterFormatError);
    expect(() => BloomFilter.create(10, 0)).toThrow(RangeError);
    expect(() => BloomFilter.create(-1, 0.01)).toThrow(RangeError);
  });

  it('prints its has() rate for 16-byte keys', () => {
    const present = keys(100_000);
    const filter = BloomFilter.create(present.length, 0.01);
    for (const k of present) filter.add(k);
    const probes = [...present.slice(0, 50_000), ...keys(50_000)];
    let hits = 0;
    const started = performance.now();
    for (let round = 0; round < 10; round++) for (const k of probes) if (filter.has(k)) hits++;
    const seconds = (performance.now() - started) / 1000;
    console.log(`bloom has(): ${Math.round((probes.length * 10) / seconds).toLocaleString('en')} ops/s (16-byte keys, 1%, checksum ${hits})`);
    expect(hits).toBeGreaterThanOrEqual(500_000);
  });
});
