/**
 * The partition index of a sealed segment, `buckets/<bucket:05>/segments/<segment:010>/partition.pidx`: for each
 * partition with events in the segment, its first and last partition sequence here and the record offset in
 * `data.evts` of every sequence in between (within one segment a partition's sequences are contiguous). Written
 * once, when the segment is sealed, through `writeFileDurably`; never modified after.
 *
 * Header (64 bytes):
 *   offset size field
 *   0      4    magic "SPIX" (0x53 0x50 0x49 0x58)
 *   4      2    format version (1)
 *   6      2    reserved (0)
 *   8      8    partition count p (≤ 65,536)
 *   16     8    file length in bytes, checksum included
 *   24     8    partition table offset (64)
 *   32     8    partition table length (32 * p)
 *   40     8    offsets offset
 *   48     8    offsets length (8 * total sequence count)
 *   56     8    reserved (0)
 *
 * Partition table entry (32 bytes), sorted by partition id, ids unique:
 *   0      2    partition id
 *   2      6    reserved (0)
 *   8      8    first partition sequence in this segment
 *   16     8    last partition sequence in this segment (≥ first)
 *   24     8    index in the offsets section of the first sequence's offset; entries are laid out in table
 *               order, so entry i starts where entry i - 1 ends
 *
 * Offsets: u64 record offsets, one per sequence, partition by partition in table order.
 *
 * Last 4 bytes: CRC32C of every byte before them.
 *
 * A partition id is at most 16 bits, so there is no hashing here: the partition table (at most 65,536 entries,
 * usually a few dozen per bucket) is kept in memory after `open`, and the offsets are read with one positioned
 * read per `offsets` call.
 */
import { type FileHandle, type FileIo, writeFileDurably } from './file-io.ts';
import { INDEX_CRC_BYTES, IndexFileCorruptError, readExactly, sealIndexChecksum } from './index-file-error.ts';
import { openIndexFile } from './index-file-open.ts';
import { readU64, writeU64 } from './u64.ts';

export const PARTITION_INDEX_MAGIC = 0x58495053; // "SPIX" read as little-endian u32
export const PARTITION_INDEX_FORMAT_VERSION = 1;
export const PARTITION_INDEX_HEADER_BYTES = 64;
export const PARTITION_INDEX_ENTRY_BYTES = 32;
export const PARTITION_ID_MAX = 0xffff;
const OFFSET_BYTES = 8;

interface PartitionIndexLayout {
  partitionCount: number;
  fileBytes: number;
  tableOffset: number;
  tableBytes: number;
  offsetsOffset: number;
  offsetsBytes: number;
}

function layoutFor(partitionCount: number, offsetCount: number): PartitionIndexLayout {
  const tableOffset = PARTITION_INDEX_HEADER_BYTES;
  const tableBytes = PARTITION_INDEX_ENTRY_BYTES * partitionCount;
  const offsetsOffset = tableOffset + tableBytes;
  const offsetsBytes = OFFSET_BYTES * offsetCount;
  const fileBytes = offsetsOffset + offsetsBytes + INDEX_CRC_BYTES;
  return { partitionCount, fileBytes, tableOffset, tableBytes, offsetsOffset, offsetsBytes };
}

function encodeHeader(l: PartitionIndexLayout, target: Buffer): void {
  target.writeUInt32LE(PARTITION_INDEX_MAGIC, 0);
  target.writeUInt16LE(PARTITION_INDEX_FORMAT_VERSION, 4);
  target.writeUInt16LE(0, 6);
  writeU64(target, 8, l.partitionCount);
  writeU64(target, 16, l.fileBytes);
  writeU64(target, 24, l.tableOffset);
  writeU64(target, 32, l.tableBytes);
  writeU64(target, 40, l.offsetsOffset);
  writeU64(target, 48, l.offsetsBytes);
  writeU64(target, 56, 0);
}

function decodeHeader(path: string, header: Buffer, fileBytes: number): PartitionIndexLayout {
  const corrupt = (why: string) => new IndexFileCorruptError(path, why);
  if (header.readUInt32LE(0) !== PARTITION_INDEX_MAGIC) throw corrupt('not a partition index file (bad magic)');
  const version = header.readUInt16LE(4);
  if (version !== PARTITION_INDEX_FORMAT_VERSION) throw corrupt(`unsupported partition index format version ${version}`);
  if (header.readUInt16LE(6) !== 0 || readU64(header, 56) !== 0) throw corrupt('reserved header bytes are not zero');
  const partitionCount = readU64(header, 8);
  if (partitionCount > PARTITION_ID_MAX + 1) throw corrupt(`partition count ${partitionCount} is over ${PARTITION_ID_MAX + 1}`);
  const offsetsBytes = readU64(header, 48);
  if (offsetsBytes % OFFSET_BYTES !== 0) throw corrupt(`offsets length ${offsetsBytes} is not a multiple of ${OFFSET_BYTES}`);
  const l = layoutFor(partitionCount, offsetsBytes / OFFSET_BYTES);
  const stored = [readU64(header, 16), readU64(header, 24), readU64(header, 32), readU64(header, 40)];
  const expected = [l.fileBytes, l.tableOffset, l.tableBytes, l.offsetsOffset];
  if (stored.some((v, i) => v !== expected[i])) throw corrupt(`section table [${stored}] is not the layout of ${partitionCount} partitions [${expected}]`);
  if (l.fileBytes !== fileBytes) throw corrupt(`header says ${l.fileBytes} bytes, file has ${fileBytes}`);
  return l;
}

/** Writes `partition.pidx`. Every partition given must have at least one offset. */
export function writePartitionIndexFile(
  io: FileIo,
  path: string,
  partitions: ReadonlyMap<number /* partition id */, { firstSequence: number; offsets: ArrayLike<number> & Iterable<number> }>,
): void {
  const ids = [...partitions.keys()].sort((a, b) => a - b);
  let offsetCount = 0;
  for (const id of ids) {
    const p = partitions.get(id)!;
    if (!Number.isInteger(id) || id < 0 || id > PARTITION_ID_MAX) throw new RangeError(`partition id must be 0..${PARTITION_ID_MAX}, got ${id}`);
    if (p.offsets.length === 0) throw new RangeError(`partition ${id} has no offsets`);
    if (!Number.isSafeInteger(p.firstSequence) || p.firstSequence < 0 || !Number.isSafeInteger(p.firstSequence + p.offsets.length)) {
      throw new RangeError(`partition ${id} has a bad first sequence ${p.firstSequence}`);
    }
    offsetCount += p.offsets.length;
  }
  const l = layoutFor(ids.length, offsetCount);
  const file = Buffer.alloc(l.fileBytes);
  encodeHeader(l, file);
  let offsetIndex = 0;
  for (let i = 0; i < ids.length; i++) {
    const p = partitions.get(ids[i])!;
    const at = l.tableOffset + i * PARTITION_INDEX_ENTRY_BYTES;
    file.writeUInt16LE(ids[i], at);
    writeU64(file, at + 8, p.firstSequence);
    writeU64(file, at + 16, p.firstSequence + p.offsets.length - 1);
    writeU64(file, at + 24, offsetIndex);
    for (const offset of p.offsets) {
      if (!Number.isSafeInteger(offset) || offset < 0) throw new RangeError(`partition ${ids[i]}: record offset must be a non-negative integer, got ${offset}`);
      writeU64(file, l.offsetsOffset + offsetIndex * OFFSET_BYTES, offset);
      offsetIndex++;
    }
  }
  sealIndexChecksum(file);
  // Pair assertion: what we are about to write must pass the same checks `open` makes.
  decodeHeader(path, file.subarray(0, PARTITION_INDEX_HEADER_BYTES), file.length);
  decodeTable(path, file.subarray(l.tableOffset, l.offsetsOffset), l);
  writeFileDurably(io, path, file);
}

interface PartitionTable {
  ids: Uint16Array;
  first: Float64Array;
  last: Float64Array;
  offsetIndex: Float64Array;
}

function decodeTable(path: string, bytes: Buffer, l: PartitionIndexLayout): PartitionTable {
  const n = l.partitionCount;
  const table: PartitionTable = { ids: new Uint16Array(n), first: new Float64Array(n), last: new Float64Array(n), offsetIndex: new Float64Array(n) };
  let expectedIndex = 0;
  for (let i = 0; i < n; i++) {
    const at = i * PARTITION_INDEX_ENTRY_BYTES;
    const id = bytes.readUInt16LE(at);
    const first = readU64(bytes, at + 8);
    const last = readU64(bytes, at + 16);
    const offsetIndex = readU64(bytes, at + 24);
    const corrupt = (why: string) => new IndexFileCorruptError(path, `partition table entry ${i} (partition ${id}): ${why}`);
    if (bytes.readUInt16LE(at + 2) !== 0 || bytes.readUInt32LE(at + 4) !== 0) throw corrupt('reserved bytes are not zero');
    if (i > 0 && id <= table.ids[i - 1]) throw corrupt('partition ids are not strictly increasing');
    if (!Number.isSafeInteger(first) || !Number.isSafeInteger(last) || last < first) throw corrupt(`bad sequence range ${first}..${last}`);
    if (offsetIndex !== expectedIndex) throw corrupt(`offsets start at ${offsetIndex}, expected ${expectedIndex}`);
    expectedIndex += last - first + 1;
    table.ids[i] = id;
    table.first[i] = first;
    table.last[i] = last;
    table.offsetIndex[i] = offsetIndex;
  }
  if (expectedIndex !== l.offsetsBytes / OFFSET_BYTES) {
    throw new IndexFileCorruptError(path, `partition table covers ${expectedIndex} offsets, the file has ${l.offsetsBytes / OFFSET_BYTES}`);
  }
  return table;
}

export class PartitionIndexFile {
  readonly path: string;
  readonly #handle: FileHandle;
  readonly #layout: PartitionIndexLayout;
  readonly #table: PartitionTable;
  #closed = false;

  private constructor(handle: FileHandle, layout: PartitionIndexLayout, table: PartitionTable) {
    this.path = handle.path;
    this.#handle = handle;
    this.#layout = layout;
    this.#table = table;
  }

  /**
   * Opens and verifies `path` (whole-file CRC32C, streamed). Throws `IndexFileCorruptError` if the file is
   * damaged; the file system's own errors (ENOENT, EIO) pass through unchanged.
   */
  static open(io: FileIo, path: string): PartitionIndexFile {
    const { handle, layout, sections } = openIndexFile(io, path, PARTITION_INDEX_HEADER_BYTES, decodeHeader, (l) => [{ position: l.tableOffset, length: l.tableBytes }]);
    try {
      return new PartitionIndexFile(handle, layout, decodeTable(path, sections[0], layout));
    } catch (error) {
      handle.close();
      throw error;
    }
  }


  /** The partitions with events in this segment, ascending. */
  partitionIds(): number[] {
    return Array.from(this.#table.ids);
  }

  /** The partition's first and last sequence in this segment, or undefined if it has none here. */
  range(partitionId: number): { first: number; last: number } | undefined {
    const i = this.#find(partitionId);
    return i < 0 ? undefined : { first: this.#table.first[i], last: this.#table.last[i] };
  }

  /**
   * Record offsets of sequences fromSequence, fromSequence + 1, ... in order, clipped to this segment's range and to
   * `maxCount`; empty if the partition has none of them here.
   */
  offsets(partitionId: number, fromSequence: number, maxCount: number): number[] {
    if (this.#closed) throw new Error(`${this.path}: partition index is closed`);
    if (Number.isNaN(fromSequence) || Number.isNaN(maxCount)) throw new RangeError('fromSequence and maxCount must be numbers');
    const i = this.#find(partitionId);
    if (i < 0 || maxCount <= 0) return [];
    const first = this.#table.first[i];
    const last = this.#table.last[i];
    const from = Math.max(first, Math.ceil(fromSequence));
    if (from > last) return [];
    const count = Math.min(Math.floor(maxCount), last - from + 1);
    const buf = Buffer.allocUnsafe(count * OFFSET_BYTES);
    const position = this.#layout.offsetsOffset + (this.#table.offsetIndex[i] + (from - first)) * OFFSET_BYTES;
    readExactly(this.#handle, buf, 0, buf.length, position);
    const out = new Array<number>(count);
    for (let k = 0; k < count; k++) out[k] = readU64(buf, k * OFFSET_BYTES);
    return out;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#handle.close();
  }

  /** Index of `partitionId` in the table, or -1. */
  #find(partitionId: number): number {
    const ids = this.#table.ids;
    let lo = 0;
    let hi = ids.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (ids[mid] === partitionId) return mid;
      if (ids[mid] < partitionId) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }
}
