/**
 * Unsigned 64-bit little-endian fields held as JavaScript numbers. Sequences, versions, offsets and millisecond
 * timestamps stay far below 2^53, so two 32-bit halves avoid BigInt on the hot path.
 */
const TWO_POW_32 = 0x1_0000_0000;

export function writeU64(buf: Buffer, offset: number, value: number): void {
  buf.writeUInt32LE(value >>> 0, offset);
  buf.writeUInt32LE(Math.floor(value / TWO_POW_32), offset + 4);
}

export function readU64(buf: Buffer, offset: number): number {
  return buf.readUInt32LE(offset) + buf.readUInt32LE(offset + 4) * TWO_POW_32;
}
