/**
 * The commit log's on-disk format (src/engine/commit-log.ts). A write worker whose group-commit round touches
 * several buckets appends one entry per bucket to its log and makes the round durable with one fdatasync of the
 * log, instead of one fdatasync per bucket file.
 *
 * A log file is a 4 KiB header region, then entries back to back:
 *
 *   header: magic u32 | format u16 | 0 u16 | epoch u32 | crc32c u32 of the 12 bytes before it
 *   entry:  crc32c u32 of the rest of the entry | payload length u32 | epoch u32 | bucket u32 | segment u32 |
 *           offset u64 | payload: the records the entry's round wrote at `offset` of that segment
 *
 * Files are reused from the start under a new epoch, so an entry counts only if its CRC holds and its epoch is
 * the header's: what follows a file's last entry is a torn write, zeros, or an older epoch's entries.
 */
import { crc32c } from './crc32c.ts';
import type { FileHandle } from './file-io.ts';
import { readU64, writeU64 } from './u64.ts';

export const LOG_HEADER_BYTES = 4096;
export const LOG_ENTRY_HEAD_BYTES = 28;
const LOG_MAGIC = 0x4c424453; // "SDBL" little-endian
const LOG_FORMAT = 1;

/** One bucket's part of a round: `bytes` belong at `offset` of segment `segmentId` of bucket `bucketId`. */
export interface LogEntry {
  bucketId: number;
  segmentId: number;
  offset: number;
  bytes: Uint8Array;
}

export function encodeLogHeader(epoch: number): Buffer {
  const header = Buffer.alloc(LOG_HEADER_BYTES);
  header.writeUInt32LE(LOG_MAGIC, 0);
  header.writeUInt16LE(LOG_FORMAT, 4);
  header.writeUInt32LE(epoch, 8);
  header.writeUInt32LE(crc32c(header.subarray(0, 12)), 12);
  return header;
}

/** The header's epoch, or undefined when the header is not whole (a torn or never completed write). */
export function decodeLogHeader(header: Uint8Array): number | undefined {
  if (header.length < 16) return undefined;
  const b = Buffer.from(header.buffer, header.byteOffset, 16);
  if (b.readUInt32LE(0) !== LOG_MAGIC || b.readUInt16LE(4) !== LOG_FORMAT) return undefined;
  if (b.readUInt32LE(12) !== crc32c(b.subarray(0, 12))) return undefined;
  return b.readUInt32LE(8);
}

/** Encodes the head of `entry` (which carries `epoch`) into `head[0..LOG_ENTRY_HEAD_BYTES)`. */
export function encodeLogEntryHead(head: Buffer, entry: LogEntry, epoch: number): void {
  head.writeUInt32LE(entry.bytes.length, 4);
  head.writeUInt32LE(epoch, 8);
  head.writeUInt32LE(entry.bucketId, 12);
  head.writeUInt32LE(entry.segmentId, 16);
  writeU64(head, 20, entry.offset);
  head.writeUInt32LE(crc32c(entry.bytes, crc32c(head.subarray(4, LOG_ENTRY_HEAD_BYTES))), 0);
}

/** A log file's epoch and its entries of that epoch, in order; undefined when its header is not whole. */
export function readLogFile(handle: FileHandle): { epoch: number; entries: LogEntry[] } | undefined {
  const size = handle.size();
  const header = Buffer.alloc(16);
  if (size < LOG_HEADER_BYTES || handle.read(header, 0, 16, 0) < 16) return undefined;
  const epoch = decodeLogHeader(header);
  if (epoch === undefined) return undefined;
  const entries: LogEntry[] = [];
  const head = Buffer.alloc(LOG_ENTRY_HEAD_BYTES);
  let at = LOG_HEADER_BYTES;
  while (at + LOG_ENTRY_HEAD_BYTES <= size) {
    if (handle.read(head, 0, LOG_ENTRY_HEAD_BYTES, at) < LOG_ENTRY_HEAD_BYTES) break;
    const length = head.readUInt32LE(4);
    if (head.readUInt32LE(8) !== epoch || length === 0 || at + LOG_ENTRY_HEAD_BYTES + length > size) break;
    const bytes = Buffer.allocUnsafe(length);
    if (handle.read(bytes, 0, length, at + LOG_ENTRY_HEAD_BYTES) < length) break;
    if (head.readUInt32LE(0) !== crc32c(bytes, crc32c(head.subarray(4)))) break;
    entries.push({
      bucketId: head.readUInt32LE(12),
      segmentId: head.readUInt32LE(16),
      offset: readU64(head, 20),
      bytes,
    });
    at += LOG_ENTRY_HEAD_BYTES + length;
  }
  return { epoch, entries };
}
