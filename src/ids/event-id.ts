/**
 * Event and transaction ids, laid out as SierraDB's (`uuid_v7_with_partition_hash`, `Transaction::new`).
 *
 *   event id = (ms48 << 80) | (rand12 << 68) | (0x7 << 64) | (0b10 << 62) | (hash << 46) | rand46
 *
 * Bytes 0-5 are the big-endian millisecond clock, the low nibble of byte 7 is 7 (SierraDB puts the version there),
 * the variant is 10, and bits 61..46 carry the partition hash so that EGET can find the partition from the id.
 *
 * A transaction id is a v4 UUID whose byte-8 MSB says whether the transaction has one event (1) or several (0);
 * multi-event transactions end with a commit record on disk.
 */
import { randomFillSync } from 'node:crypto';
import { embedPartitionHash, type UuidBytes } from './partition-key.ts';

const RANDOM_POOL_BYTES = 4096;
const pool = Buffer.allocUnsafe(RANDOM_POOL_BYTES);
let poolOffset = RANDOM_POOL_BYTES;

function randomBytes(out: Uint8Array, offset: number, length: number): void {
  if (poolOffset + length > RANDOM_POOL_BYTES) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  for (let k = 0; k < length; k++) out[offset + k] = pool[poolOffset + k];
  poolOffset += length;
}

const ID_SLAB_BYTES = 64 * 1024;
let idSlab = new ArrayBuffer(ID_SLAB_BYTES);
let idSlabOffset = 0;

/**
 * 16 bytes for a new id: a view into a shared slab rather than a Uint8Array of its own, since an ArrayBuffer per
 * id (two per append) is among the dearest allocations on the append path. A slab is freed once no id in it is
 * referenced.
 */
function newIdBytes(): UuidBytes {
  if (idSlabOffset + 16 > ID_SLAB_BYTES) {
    idSlab = new ArrayBuffer(ID_SLAB_BYTES);
    idSlabOffset = 0;
  }
  const id = new Uint8Array(idSlab, idSlabOffset, 16);
  idSlabOffset += 16;
  return id;
}

export function generateEventId(partitionHash: number, nowMs: number = Date.now(), out: UuidBytes = newIdBytes()): UuidBytes {
  writeEventId(out, 0, partitionHash, nowMs);
  return out;
}

/** A new event id into `out[at .. at + 16)` (the append hot path writes it straight into its reply slot). */
export function writeEventId(out: Uint8Array, at: number, partitionHash: number, nowMs: number): void {
  randomBytes(out, at + 6, 10);
  // 48-bit big-endian milliseconds.
  const hi = Math.floor(nowMs / 0x1_0000_0000);
  const lo = nowMs >>> 0;
  out[at] = (hi >>> 8) & 0xff;
  out[at + 1] = hi & 0xff;
  out[at + 2] = (lo >>> 24) & 0xff;
  out[at + 3] = (lo >>> 16) & 0xff;
  out[at + 4] = (lo >>> 8) & 0xff;
  out[at + 5] = lo & 0xff;
  out[at + 7] = (out[at + 7] & 0xf0) | 0x07;
  out[at + 8] = (out[at + 8] & 0x3f) | 0x80;
  embedPartitionHash(out, partitionHash, at);
}

export function generateTransactionId(eventCount: number, out: UuidBytes = newIdBytes()): UuidBytes {
  writeTransactionId(out, 0, eventCount);
  return out;
}

/** A new transaction id into `out[at .. at + 16)` (straight into a request frame). */
export function writeTransactionId(out: Uint8Array, at: number, eventCount: number): void {
  randomBytes(out, at, 16);
  out[at + 6] = (out[at + 6] & 0x0f) | 0x40; // version 4
  out[at + 8] = (out[at + 8] & 0x3f) | 0x80; // variant 10
  if (eventCount !== 1) out[at + 8] &= 0x7f; // multi-event flag: MSB of byte 8 cleared
}

/** True when the transaction stands alone (one event, no commit record). */
export function isSingleEventTransaction(transactionId: Uint8Array): boolean {
  return (transactionId[8] & 0x80) !== 0;
}
