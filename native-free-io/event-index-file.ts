/**
 * The event index of a sealed segment, `buckets/<bucket:05>/segments/<segment:010>/index.eidx`: event id (16
 * bytes) → byte offset of the event's record in `data.evts`. Written once, when the segment is sealed, through
 * `writeFileDurably` (temp file, fdatasync, rename, directory fsync); never modified after.
 *
 * Header (80 bytes):
 *   offset size field
 *   0      4    magic "SEIX" (0x53 0x45 0x49 0x58)
 *   4      2    format version (1)
 *   6      1    fan-out bits b = clamp(ceil(log2(n)), 0, 16)
 *   7      1    reserved (0)
 *   8      8    record count n
 *   16     8    file length in bytes, checksum included
 *   24     8    fan-out table offset (80)
 *   32     8    fan-out table length (4 * 2^b)
 *   40     8    records offset
 *   48     8    records length (28 * n)
 *   56     8    bloom filter offset
 *   64     8    bloom filter length
 *   72     8    reserved (0)
 *
 * Fan-out table: 2^b u32, entry i = index of the first record whose hash's top b bits are ≥ i (key-hash.ts).
 *
 * Record (28 bytes), sorted by (hash, event id bytes, offset):
 *   0      4    key hash: murmur3 x86_32 of the event id, seed 0
 *   4      16   event id
 *   20     8    record offset in data.evts
 *
 * Bloom filter: the event ids at 1% false positives (bloom-filter.ts gives its bytes).
 *
 * Last 4 bytes: CRC32C of every byte before them.
 *
 * Sections follow each other with no gaps, in the order above; `open` rejects any other layout. After `open` only
 * the header fields, the fan-out table and the bloom filter stay in memory: a lookup tests the bloom filter, finds
 * the hash's bucket in the fan-out table and reads that bucket's records (about one record up to 65,536 events, n /
 * 65,536 beyond) with one positioned read.
 */
import { BloomFilter } from './bloom-filter.ts';
import { type FileHandle, type FileIo, writeFileDurably } from './file-io.ts';
import { INDEX_CRC_BYTES, IndexFileCorruptError, readExactly, sealIndexChecksum } from './index-file-error.ts';
import { decodeFanOutAndBloom, openIndexFile } from './index-file-open.ts';
import { buildFanOut, fanOutBits, fanOutRange, isValidFanOut, keyHash32 } from './key-hash.ts';
import { readU64, writeU64 } from './u64.ts';

export const EVENT_INDEX_MAGIC = 0x58494553; // "SEIX" read as little-endian u32
export const EVENT_INDEX_FORMAT_VERSION = 1;
export const EVENT_INDEX_HEADER_BYTES = 80;
export const EVENT_INDEX_RECORD_BYTES = 28;
export const EVENT_ID_BYTES = 16;
export const EVENT_INDEX_BLOOM_FALSE_POSITIVE_RATE = 0.01;
/** A bucket up to this many records is read in one go; a larger one is first narrowed by single-record reads. */
const READ_WINDOW_RECORDS = 256;

interface EventIndexLayout {
  recordCount: number;
  fanOutBits: number;
  fileBytes: number;
  fanOutOffset: number;
  fanOutBytes: number;
  recordsOffset: number;
  recordsBytes: number;
  bloomOffset: number;
  bloomBytes: number;
}

function layoutFor(recordCount: number, bits: number, bloomBytes: number): EventIndexLayout {
  const fanOutOffset = EVENT_INDEX_HEADER_BYTES;
  const fanOutBytes = 4 * 2 ** bits;
  const recordsOffset = fanOutOffset + fanOutBytes;
  const recordsBytes = EVENT_INDEX_RECORD_BYTES * recordCount;
  const bloomOffset = recordsOffset + recordsBytes;
  const fileBytes = bloomOffset + bloomBytes + INDEX_CRC_BYTES;
  return { recordCount, fanOutBits: bits, fileBytes, fanOutOffset, fanOutBytes, recordsOffset, recordsBytes, bloomOffset, bloomBytes };
}

function encodeHeader(l: EventIndexLayout, target: Buffer): void {
  target.writeUInt32LE(EVENT_INDEX_MAGIC, 0);
  target.writeUInt16LE(EVENT_INDEX_FORMAT_VERSION, 4);
  target[6] = l.fanOutBits;
  target[7] = 0;
  writeU64(target, 8, l.recordCount);
  writeU64(target, 16, l.fileBytes);
  writeU64(target, 24, l.fanOutOffset);
  writeU64(target, 32, l.fanOutBytes);
  writeU64(target, 40, l.recordsOffset);
  writeU64(target, 48, l.recordsBytes);
  writeU64(target, 56, l.bloomOffset);
  writeU64(target, 64, l.bloomBytes);
  writeU64(target, 72, 0);
}

/** Decodes and checks the header against the only layout a writer produces for its counts and the file's size. */
function decodeHeader(path: string, header: Buffer, fileBytes: number): EventIndexLayout {
  const corrupt = (why: string) => new IndexFileCorruptError(path, why);
  if (header.readUInt32LE(0) !== EVENT_INDEX_MAGIC) throw corrupt('not an event index file (bad magic)');
  const version = header.readUInt16LE(4);
  if (version !== EVENT_INDEX_FORMAT_VERSION) throw corrupt(`unsupported event index format version ${version}`);
  if (header[7] !== 0 || readU64(header, 72) !== 0) throw corrupt('reserved header bytes are not zero');
  const recordCount = readU64(header, 8);
  const bits = header[6];
  if (!Number.isSafeInteger(recordCount) || bits !== fanOutBits(recordCount)) throw corrupt(`fan-out bits ${bits} do not fit ${recordCount} records`);
  const bloomBytes = readU64(header, 64);
  const l = layoutFor(recordCount, bits, bloomBytes);
  const stored = [readU64(header, 16), readU64(header, 24), readU64(header, 32), readU64(header, 40), readU64(header, 48), readU64(header, 56)];
  const expected = [l.fileBytes, l.fanOutOffset, l.fanOutBytes, l.recordsOffset, l.recordsBytes, l.bloomOffset];
  if (stored.some((v, i) => v !== expected[i])) throw corrupt(`section table [${stored}] is not the layout of ${recordCount} records [${expected}]`);
  if (l.fileBytes !== fileBytes) throw corrupt(`header says ${l.fileBytes} bytes, file has ${fileBytes}`);
  return l;
}

/** Event ids and their record offsets as columns: id i is `ids[16 i .. 16 i + 16]` (the active segment's table). */
export interface EventIdColumns {
  count: number;
  ids: Uint8Array;
  offsets: ArrayLike<number>;
}

/**
 * Writes `index.eidx` for `entries` (any order). Several entries may share an event id; `lookup` then returns the
 * smallest offset among them.
 */
export function writeEventIndexFile(io: FileIo, path: string, entries: Iterable<{ eventId: Uint8Array; offset: number }> | EventIdColumns): void {
  const cols = 'count' in entries ? entries : toColumns(entries);
  const { ids, offsets } = cols;
  const n = cols.count;
  for (let i = 0; i < n; i++) {
    if (!Number.isSafeInteger(offsets[i]) || offsets[i] < 0) throw new RangeError(`record offset must be a non-negative integer, got ${offsets[i]}`);
  }
  const hashes = new Uint32Array(n);
  for (let i = 0; i < n; i++) hashes[i] = keyHash32(ids, EVENT_ID_BYTES * i, EVENT_ID_BYTES);

  const bloom = BloomFilter.create(n, EVENT_INDEX_BLOOM_FALSE_POSITIVE_RATE);
  for (let i = 0; i < n; i++) bloom.addRange(ids, EVENT_ID_BYTES * i, EVENT_ID_BYTES);
  const bloomBytes = bloom.serialize();
  const bits = fanOutBits(n);
  const l = layoutFor(n, bits, bloomBytes.length);

  const file = Buffer.alloc(l.fileBytes);
  encodeHeader(l, file);
  const sortedHashes = writeSortedRecords(file, l.recordsOffset, hashes, ids, offsets);
  const fanOut = buildFanOut(sortedHashes, bits);
  for (let i = 0; i < fanOut.length; i++) file.writeUInt32LE(fanOut[i], l.fanOutOffset + 4 * i);
  file.set(bloomBytes, l.bloomOffset);
  sealIndexChecksum(file);
  // Pair assertion: the header we are about to write must pass the same checks `open` makes.
  decodeHeader(path, file.subarray(0, EVENT_INDEX_HEADER_BYTES), file.length);
  writeFileDurably(io, path, file);
}

function toColumns(entries: Iterable<{ eventId: Uint8Array; offset: number }>): EventIdColumns {
  const list = [...entries];
  const ids = new Uint8Array(EVENT_ID_BYTES * list.length);
  const offsets = new Float64Array(list.length);
  list.forEach((e, i) => {
    if (e.eventId.length !== EVENT_ID_BYTES) throw new RangeError(`event id must be ${EVENT_ID_BYTES} bytes, got ${e.eventId.length}`);
    ids.set(e.eventId, EVENT_ID_BYTES * i);
    offsets[i] = e.offset;
  });
  return { count: list.length, ids, offsets };
}

/** Radix pass: records are first placed by the top RADIX_BITS bits of their hash. */
const RADIX_BITS = 8;
/** A radix bucket up to this many records is sorted by a packed numeric key (hash · 2^21 + index stays below 2^53). */
const PACKED_SORT_ENTRIES_MAX = 1 << 21;

/**
 * Writes the n records into `file` from `recordsOffset` in file order (by hash, then id bytes, then offset) and
 * returns their hashes in that order.
 *
 * Sorting an index of entry numbers and then gathering each record from the id and offset columns reads those
 * columns in random order: for a sealed segment's ~900,000 events that gather alone took ~350 ms of cache misses
 * (of ~600 ms to write the file). So instead, in two passes that each touch memory in order, or nearly:
 *  1. a counting sort by the hash's top 8 bits writes every record straight into its radix bucket's part of the
 *     records region (256 write positions that move forward);
 *  2. each bucket (a few thousand records, cache-sized) is sorted on its own: packed keys sorted natively, the rare
 *     runs of equal hashes ordered by id bytes then offset, and the records put back in order through a scratch copy.
 */
function writeSortedRecords(file: Buffer, recordsOffset: number, hashes: Uint32Array, ids: Uint8Array, offsets: ArrayLike<number>): Uint32Array {
  const n = hashes.length;
  const R = EVENT_INDEX_RECORD_BYTES;
  const shift = 32 - RADIX_BITS;
  const radixBuckets = 1 << RADIX_BITS;
  const starts = new Uint32Array(radixBuckets + 1);
  for (let i = 0; i < n; i++) starts[(hashes[i] >>> shift) + 1]++;
  let largest = 0;
  for (let b = 0; b < radixBuckets; b++) {
    largest = Math.max(largest, starts[b + 1]);
    starts[b + 1] += starts[b];
  }
  const cursor = starts.slice(0, radixBuckets);
  for (let i = 0; i < n; i++) {
    const hash = hashes[i];
    const at = recordsOffset + R * cursor[hash >>> shift]++;
    file.writeUInt32LE(hash, at);
    const from = EVENT_ID_BYTES * i;
    for (let k = 0; k < EVENT_ID_BYTES; k++) file[at + 4 + k] = ids[from + k];
    writeU64(file, at + 20, offsets[i]);
  }

  const sortedHashes = new Uint32Array(n);
  const scratch = Buffer.allocUnsafe(R * largest);
  const keys = new Float64Array(Math.min(largest, PACKED_SORT_ENTRIES_MAX));
  const order = new Uint32Array(largest);
  const hashAt = (j: number): number => scratch.readUInt32LE(R * j);
  const byIdThenOffset = (a: number, b: number): number => compareRecordsAfterHash(scratch, R * a, R * b);
  for (let b = 0; b < radixBuckets; b++) {
    const first = starts[b];
    const m = starts[b + 1] - first;
    if (m === 0) continue;
    const regionAt = recordsOffset + R * first;
    file.copy(scratch, 0, regionAt, regionAt + R * m);
    const local = order.subarray(0, m);
    if (m > PACKED_SORT_ENTRIES_MAX) {
      for (let j = 0; j < m; j++) local[j] = j;
      local.sort((x, y) => hashAt(x) - hashAt(y) || byIdThenOffset(x, y));
    } else {
      const k = keys.subarray(0, m);
      for (let j = 0; j < m; j++) k[j] = hashAt(j) * PACKED_SORT_ENTRIES_MAX + j;
      k.sort();
      for (let r = 0; r < m; r++) local[r] = k[r] % PACKED_SORT_ENTRIES_MAX;
      for (let r = 0; r < m; ) {
        let end = r + 1;
        const h = hashAt(local[r]);
        while (end < m && hashAt(local[end]) === h) end++;
        if (end - r > 1) local.subarray(r, end).sort(byIdThenOffset);
        r = end;
      }
    }
    for (let r = 0; r < m; r++) {
      const j = local[r];
      scratch.copy(file, regionAt + R * r, R * j, R * j + R);
      sortedHashes[first + r] = hashAt(j);
    }
  }
  return sortedHashes;
}

/** Orders two records of equal hash at `buf[a..]` and `buf[b..]`: by event id bytes, then record offset. */
function compareRecordsAfterHash(buf: Buffer, a: number, b: number): number {
  for (let k = 4; k < 4 + EVENT_ID_BYTES; k++) {
    const d = buf[a + k] - buf[b + k];
    if (d !== 0) return d;
  }
  return readU64(buf, a + 20) - readU64(buf, b + 20);
}

export class EventIndexFile {
  readonly path: string;
  readonly count: number;
  readonly #handle: FileHandle;
  readonly #layout: EventIndexLayout;
  readonly #fanOut: Uint32Array;
  readonly #bloom: BloomFilter;
  readonly #scratch = Buffer.alloc((READ_WINDOW_RECORDS + 1) * EVENT_INDEX_RECORD_BYTES);
  #closed = false;

  private constructor(handle: FileHandle, layout: EventIndexLayout, fanOut: Uint32Array, bloom: BloomFilter) {
    this.path = handle.path;
    this.count = layout.recordCount;
    this.#handle = handle;
    this.#layout = layout;
    this.#fanOut = fanOut;
    this.#bloom = bloom;
  }

  /**
   * Opens and verifies `path` (whole-file CRC32C, streamed). Throws `IndexFileCorruptError` if the file is
   * damaged; the file system's own errors (ENOENT, EIO) pass through unchanged.
   */
  static open(io: FileIo, path: string): EventIndexFile {
    const { handle, layout, sections } = openIndexFile(io, path, EVENT_INDEX_HEADER_BYTES, decodeHeader, (l) => [
      { position: l.fanOutOffset, length: l.fanOutBytes },
      { position: l.bloomOffset, length: l.bloomBytes },
    ]);
    try {
      const { fanOut, bloom } = decodeFanOutAndBloom(path, sections[0], sections[1], layout.recordCount);
      return new EventIndexFile(handle, layout, fanOut, bloom);
    } catch (error) {
      handle.close();
      throw error;
    }
  }


  /** False: the segment has no event with this id. True: it probably has (1% false positives). No I/O. */
  mightContain(eventId: Uint8Array): boolean {
    return this.#bloom.has(eventId);
  }

  /** The record offset of `eventId` in data.evts, or undefined if this segment does not hold it. */
  lookup(eventId: Uint8Array): number | undefined {
    if (eventId.length !== EVENT_ID_BYTES) throw new RangeError(`event id must be ${EVENT_ID_BYTES} bytes, got ${eventId.length}`);
    if (this.#closed) throw new Error(`${this.path}: event index is closed`);
    if (!this.#bloom.has(eventId)) return undefined;
    const l = this.#layout;
    const hash = keyHash32(eventId);
    const [start, end] = fanOutRange(this.#fanOut, l.fanOutBits, l.recordCount, hash);
    const scratch = this.#scratch;
    // Invariant: records before lo are < the key, records from hi on are ≥ it. The match, if any, is the first
    // record ≥ the key, so it lies in [lo, hi] (hi itself included when hi < end).
    let lo = start;
    let hi = end;
    while (hi - lo > READ_WINDOW_RECORDS) {
      const mid = (lo + hi) >>> 1;
      this.#read(mid, 1);
      if (compareRecord(scratch, 0, hash, eventId) < 0) lo = mid + 1;
      else hi = mid;
    }
    const count = Math.min(hi + 1, end) - lo;
    if (count <= 0) return undefined;
    this.#read(lo, count);
    for (let r = 0; r < count; r++) {
      const at = r * EVENT_INDEX_RECORD_BYTES;
      const c = compareRecord(scratch, at, hash, eventId);
      if (c === 0) return readU64(scratch, at + 20);
      if (c > 0) return undefined;
    }
    return undefined;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#handle.close();
  }

  #read(firstRecord: number, count: number): void {
    const position = this.#layout.recordsOffset + firstRecord * EVENT_INDEX_RECORD_BYTES;
    readExactly(this.#handle, this.#scratch, 0, count * EVENT_INDEX_RECORD_BYTES, position);
  }
}

/** Orders the record at `buf[at..]` against (hash, eventId): negative if the record sorts first. */
function compareRecord(buf: Buffer, at: number, hash: number, eventId: Uint8Array): number {
  const stored = buf.readUInt32LE(at);
  if (stored !== hash) return stored < hash ? -1 : 1;
  for (let i = 0; i < EVENT_ID_BYTES; i++) {
    const d = buf[at + 4 + i] - eventId[i];
    if (d !== 0) return d;
  }
  return 0;
}
