/**
 * The active segment's checkpoint, `buckets/<bucket:05>/segments/<segment:010>/data.ckpt`: an offset below which
 * `data.evts` was already durable (fdatasynced) when the checkpoint was written.
 *
 * Recovery re-reads the active segment to find where its committed data ends and to rebuild its in-memory index.
 * Below a checkpoint no write can be torn (those bytes were synced before the checkpoint was written, and a
 * segment is append-only), so recovery checks only the records' structure there and verifies CRC32C from the
 * checkpoint on, where a crash may have left a torn tail. The CRC32C of each record is about half the cost of that
 * scan (a call into the checksum addon per record): ~520 ns an event verified, ~250 without, measured on this
 * store's 3 million events in active segments. Reads still verify every record they return, so damage that happens
 * on disk later is never served.
 *
 * The writer rewrites the file in place every CHECKPOINT_INTERVAL_BYTES of new durable data, without a sync of its
 * own: a power cut may leave the previous checkpoint, or none, which only makes recovery verify more. On a clean
 * close it writes the final durable end and syncs it, so that a restart after a clean shutdown verifies nothing.
 * A checkpoint that is torn, of another segment, or past the data is ignored (recovery then verifies everything).
 *
 * Layout (20 bytes):
 *   0   4  magic "SECK" (0x53 0x45 0x43 0x4b)
 *   4   4  segment id
 *   8   8  durable offset in data.evts
 *   16  4  CRC32C of bytes 0..16
 */
import { crc32c } from './crc32c.ts';
import type { FileIo } from './file-io.ts';
import { readU64, writeU64 } from './u64.ts';

export const CHECKPOINT_MAGIC = 0x4b434553; // "SECK" read as little-endian u32
export const CHECKPOINT_BYTES = 20;
/** New durable data between two checkpoints of a running writer. */
export const CHECKPOINT_INTERVAL_BYTES = 16 << 20;

export function encodeCheckpoint(segmentId: number, offset: number, target: Buffer = Buffer.alloc(CHECKPOINT_BYTES)): Buffer {
  target.writeUInt32LE(CHECKPOINT_MAGIC, 0);
  target.writeUInt32LE(segmentId, 4);
  writeU64(target, 8, offset);
  target.writeUInt32LE(crc32c(target.subarray(0, 16)), 16);
  return target;
}

/** The checkpointed offset in `buf`, or undefined when it is not a whole checkpoint of `segmentId`. */
export function decodeCheckpoint(buf: Buffer, segmentId: number): number | undefined {
  if (buf.length < CHECKPOINT_BYTES) return undefined;
  if (buf.readUInt32LE(0) !== CHECKPOINT_MAGIC || buf.readUInt32LE(16) !== crc32c(buf.subarray(0, 16))) return undefined;
  if (buf.readUInt32LE(4) !== segmentId) return undefined;
  return readU64(buf, 8);
}

/** The checkpoint at `path` for `segmentId`, or undefined (absent, unreadable, torn, or another segment's). */
export function readCheckpoint(io: FileIo, path: string, segmentId: number): number | undefined {
  if (!io.exists(path)) return undefined;
  try {
    const h = io.open(path, 'read');
    try {
      const buf = Buffer.alloc(CHECKPOINT_BYTES);
      const n = h.read(buf, 0, CHECKPOINT_BYTES, 0);
      return decodeCheckpoint(buf.subarray(0, n), segmentId);
    } finally {
      h.close();
    }
  } catch {
    return undefined;
  }
}
