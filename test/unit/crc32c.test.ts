import { expect, it } from 'vitest';
import { crc32c } from '../../native-free-io/crc32c.ts';

it('is CRC32C (Castagnoli), not CRC-32/IEEE', () => {
  expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283);
  expect(crc32c(Buffer.alloc(32))).toBe(0x8a9136aa);
});

it('continues across ranges', () => {
  const data = Buffer.from('the quick brown fox jumps over the lazy dog');
  expect(crc32c(data.subarray(10), crc32c(data.subarray(0, 10)))).toBe(crc32c(data));
});
