/**
 * Unsigned 64-bit little-endian fields held as JavaScript numbers. Sequences, versions, offsets and millisecond
 * timestamps stay far below 2^53, so two 32-bit halves avoid BigInt on the hot path.
 */
const TWO_POW_32 = 0x1_0000_0000;

/** `value` (an integer in 0 .. 2^53) at `buf[offset .. offset + 8)`, byte by byte (no per-call checks but one). */
export function writeU64(buf: Buffer, offset: number, value: number): void {
  if (offset < 0 || offset + 8 > buf.length) throw new RangeError(`writeU64: offset ${offset} is outside a buffer of ${buf.length} bytes`);
  const lo = value >>> 0;
  const hi = Math.floor(value / TWO_POW_32) >>> 0;
  buf[offset] = lo;
  buf[offset + 1] = lo >>> 8;
  buf[offset + 2] = lo >>> 16;
  buf[offset + 3] = lo >>> 24;
  buf[offset + 4] = hi;
  buf[offset + 5] = hi >>> 8;
  buf[offset + 6] = hi >>> 16;
  buf[offset + 7] = hi >>> 24;
}

export function readU64(buf: Buffer, offset: number): number {
  return buf.readUInt32LE(offset) + buf.readUInt32LE(offset + 4) * TWO_POW_32;
}
