import { describe, expect, it } from 'vitest';
import { buildFanOut, fanOutBits, fanOutBucket, fanOutRange, isValidFanOut, keyHash32, murmur3x32 } from '../../native-free-io/key-hash.ts';

describe('murmur3x32 (reference vectors)', () => {
  const vectors: [string, number, number][] = [
    ['', 0, 0x00000000],
    ['', 1, 0x514e28b7],
    ['', 0xffffffff, 0x81f16f39],
    ['test', 0, 0xba6bd213],
    ['Hello, world!', 1234, 0xfaf6cdb3],
    ['The quick brown fox jumps over the lazy dog', 0, 0x2e4ff723],
    ['a', 0, 0x3c2569b2],
    ['ab', 0, 0x9bbfd75f],
    ['abc', 0, 0xb3dd93fa],
  ];
  for (const [text, seed, expected] of vectors) {
    it(`${JSON.stringify(text)} seed ${seed}`, () => {
      expect(murmur3x32(Buffer.from(text), seed)).toBe(expected);
    });
  }
});

describe('keyHash32', () => {
  it('spreads ids that share a clock prefix over the top bits', () => {
    const bits = 10;
    const seen = new Set<number>();
    const key = Buffer.alloc(16);
    key.writeUIntBE(Date.now(), 0, 6);
    for (let i = 0; i < 4096; i++) {
      key.writeUInt32BE(i, 12);
      seen.add(fanOutBucket(keyHash32(key), bits));
    }
    // 4096 keys into 1024 buckets leave about 1024 * e^-4 ≈ 19 empty when the hash is uniform.
    expect(seen.size).toBeGreaterThan(980);
  });
});

describe('fan-out', () => {
  it('bits = clamp(ceil(log2 n), 0, 16)', () => {
    expect([0, 1, 2, 3, 4, 5, 1024, 1025, 65536, 65537, 10_000_000].map(fanOutBits)).toEqual([0, 0, 1, 2, 2, 3, 10, 11, 16, 16, 16]);
  });
  it('bucket i starts at the first record whose top bits are >= i', () => {
    const hashes = [0x00000001, 0x3fffffff, 0x40000000, 0xc0000000, 0xffffffff];
    const fanOut = buildFanOut(hashes, 2);
    expect([...fanOut]).toEqual([0, 2, 3, 3]);
    expect(isValidFanOut(fanOut, hashes.length)).toBe(true);
    expect(fanOutRange(fanOut, 2, hashes.length, 0x80000000)).toEqual([3, 3]);
    expect(fanOutRange(fanOut, 2, hashes.length, 0xd0000000)).toEqual([3, 5]);
    expect(fanOutRange(buildFanOut(hashes, 0), 0, 5, 0xffffffff)).toEqual([0, 5]);
    expect(isValidFanOut(new Uint32Array([0, 3, 2]), 5)).toBe(false);
    expect(isValidFanOut(new Uint32Array([1, 3]), 5)).toBe(false);
    expect(isValidFanOut(new Uint32Array([0, 6]), 5)).toBe(false);
  });
});
