/**
 * The error a sealed-segment index file (`index.eidx`, `partition.pidx`, `stream.sidx`) raises when it is damaged,
 * and the checks shared by the three readers that raise it. The caller treats it as "rebuild this index from
 * data.evts": an index is derived data, so a bad one is never fatal.
 *
 * Every index file ends with a CRC32C of all the bytes before it (the last 4 bytes of the file). `open` streams the
 * file through the checksum in chunks, so a large index never has to be resident, and copies out on the way the
 * sections it keeps in memory (fan-out table, bloom filter), so those are exactly the bytes that were checked.
 */
import { crc32c } from './crc32c.ts';
import type { FileHandle } from './file-io.ts';

export class IndexFileCorruptError extends Error {
  override name = 'IndexFileCorruptError';
  readonly path: string;
  constructor(path: string, message: string, options?: ErrorOptions) {
    super(`${path}: ${message}`, options);
    this.path = path;
  }
}

export const INDEX_CRC_BYTES = 4;
export const INDEX_CHECKSUM_CHUNK_BYTES = 64 * 1024;

/** Reads exactly `length` bytes at `position` into `target[offset..]`; a short file is corruption. */
export function readExactly(handle: FileHandle, target: Uint8Array, offset: number, length: number, position: number): void {
  let done = 0;
  while (done < length) {
    const n = handle.read(target, offset + done, length - done, position + done);
    if (n === 0) throw new IndexFileCorruptError(handle.path, `file ends before byte ${position + length} (read ${position + done})`);
    done += n;
  }
}

/** A byte range of the file to copy into `target` while the checksum streams past it. */
export interface SectionCapture {
  position: number;
  target: Uint8Array;
}

/**
 * Streams bytes [0, fileBytes - 4) through CRC32C and compares the result with the little-endian u32 in the last
 * 4 bytes. Each capture's bytes are copied into its target on the way.
 */
export function verifyIndexChecksum(handle: FileHandle, fileBytes: number, captures: readonly SectionCapture[]): void {
  const covered = fileBytes - INDEX_CRC_BYTES;
  if (covered < 0) throw new IndexFileCorruptError(handle.path, `file of ${fileBytes} bytes has no checksum`);
  const chunk = Buffer.allocUnsafe(Math.min(INDEX_CHECKSUM_CHUNK_BYTES, Math.max(INDEX_CRC_BYTES, fileBytes)));
  let crc = 0;
  let position = 0;
  while (position < covered) {
    const length = Math.min(chunk.length, covered - position);
    readExactly(handle, chunk, 0, length, position);
    crc = crc32c(chunk.subarray(0, length), crc);
    for (const c of captures) {
      const from = Math.max(position, c.position);
      const to = Math.min(position + length, c.position + c.target.length);
      if (from < to) c.target.set(chunk.subarray(from - position, to - position), from - c.position);
    }
    position += length;
  }
  readExactly(handle, chunk, 0, INDEX_CRC_BYTES, covered);
  const stored = chunk.readUInt32LE(0);
  if (stored !== crc >>> 0) {
    throw new IndexFileCorruptError(handle.path, `checksum mismatch (stored 0x${stored.toString(16)}, computed 0x${(crc >>> 0).toString(16)})`);
  }
}

/** Writes the CRC32C of a fully built index file buffer into its last 4 bytes, which are reserved for it. */
export function sealIndexChecksum(file: Buffer): void {
  const covered = file.length - INDEX_CRC_BYTES;
  file.writeUInt32LE(crc32c(file.subarray(0, covered)), covered);
}
