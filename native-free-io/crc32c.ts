/**
 * CRC32C (Castagnoli), the checksum of every record and index file, through the `sse4_crc32` addon (SSE 4.2
 * instruction where the CPU has it, a table otherwise). Check value: crc32c("123456789") = 0xe3069283.
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const addon: { calculate(input: Uint8Array | string, initialCrc?: number): number } = require('sse4_crc32');

/** CRC32C of `data`, continuing from `previous` when given (so a checksum may span several ranges). */
export function crc32c(data: Uint8Array, previous = 0): number {
  return addon.calculate(data, previous) >>> 0;
}
