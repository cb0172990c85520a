/** u64 fields as JavaScript numbers: the same bytes as BigInt's writer for every integer up to 2^53. */
import { expect, it } from 'vitest';
import { readU64, writeU64 } from '../../native-free-io/u64.ts';

function reference(value: number, at: number): Buffer {
  const b = Buffer.alloc(16);
  b.writeBigUInt64LE(BigInt(value), at);
  return b;
}

it('writes the bytes BigInt does, and reads them back, at edges and for random values', () => {
  const edges = [0, 1, 255, 256, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 32 + 1, 2 ** 40 + 12_345, 2 ** 52, Number.MAX_SAFE_INTEGER];
  let seed = 7;
  const random = Array.from({ length: 20_000 }, () => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return Math.floor((seed / 2 ** 32) * 2 ** (1 + (seed % 53)));
  });
  for (const value of [...edges, ...random]) {
    for (const at of [0, 3, 8]) {
      const b = Buffer.alloc(16);
      writeU64(b, at, value);
      expect(b.equals(reference(value, at))).toBe(true);
      expect(readU64(b, at)).toBe(value);
    }
  }
});

it('refuses an offset that does not leave 8 bytes', () => {
  expect(() => writeU64(Buffer.alloc(16), 9, 1)).toThrow(RangeError);
  expect(() => writeU64(Buffer.alloc(16), -1, 1)).toThrow(RangeError);
});
