/**
 * The stream index of a sealed segment, `buckets/<bucket:05>/segments/<segment:010>/stream.sidx`: for each stream
 * with events in the segment, its partition key, its first and last stream version here, and the record offset in
 * `data.evts` of every version in between (within one segment a stream's versions are contiguous). Written once,
 * when the segment is sealed, through `writeFileDurably`; never modified after.
 *
 * Header (96 bytes):
 *   offset size field
 *   0      4    magic "SSIX" (0x53 0x53 0x49 0x58)
 *   4      2    format version (1)
 *   6      1    fan-out bits b = clamp(ceil(log2(n)), 0, 16)
 *   7      1    reserved (0)
 *   8      8    stream count n
 *   16     8    file length in bytes, checksum included
 *   24     8    fan-out table offset (96)
 *   32     8    fan-out table length (4 * 2^b)
 *   40     8    entries offset
 *   48     8    entries length (112 * n)
 *   56     8    offsets offset
 *   64     8    offsets length (8 * total version count)
 *   72     8    bloom filter offset
 *   80     8    bloom filter length
 *   88     8    reserved (0)
 *
 * Fan-out table: 2^b u32, entry i = index of the first entry whose hash's top b bits are ≥ i (key-hash.ts).
 *
 * Entry (112 bytes), sorted by (hash, stream id bytes), stream ids unique:
 *   0      4    key hash: murmur3 x86_32 of the stream id's UTF-8 bytes, seed 0
 *   4      1    stream id length in bytes (1..64)
 *   5      3    reserved (0)
 *   8      64   stream id, UTF-8, zero padded
 *   72     16   partition key
 *   88     8    first stream version in this segment
 *   96     8    last stream version in this segment (≥ first)
 *   104    8    index in the offsets section of the first version's offset; entries are laid out in entry order,
 *               so entry i starts where entry i - 1 ends
 *
 * Offsets: u64 record offsets, one per version, stream by stream in entry order.
 *
 * Bloom filter: the stream ids' UTF-8 bytes at 0.1% false positives (bloom-filter.ts gives its bytes).
 *
 * Last 4 bytes: CRC32C of every byte before them.
 *
 * Stream ids are padded to their 64-byte limit so that entries have one size: a lookup is one step in the in-memory
 * fan-out table and one read of the bucket's entries, with no second read to compare names. After `open` only the
 * header fields, the fan-out table and the bloom filter stay in memory.
 */
import { BloomFilter } from './bloom-filter.ts';
import { type FileHandle, type FileIo, writeFileDurably } from './file-io.ts';
import { INDEX_CRC_BYTES, IndexFileCorruptError, readExactly, sealIndexChecksum } from './index-file-error.ts';
import { decodeFanOutAndBloom, openIndexFile } from './index-file-open.ts';
import { buildFanOut, compareBytes, fanOutBits, fanOutRange, isValidFanOut, keyHash32 } from './key-hash.ts';
import { readU64, writeU64 } from './u64.ts';

export const STREAM_INDEX_MAGIC = 0x58495353; // "SSIX" read as little-endian u32
export const STREAM_INDEX_FORMAT_VERSION = 1;
export const STREAM_INDEX_HEADER_BYTES = 96;
export const STREAM_INDEX_ENTRY_BYTES = 112;
export const STREAM_INDEX_STREAM_ID_BYTES_MAX = 64;
export const STREAM_INDEX_PARTITION_KEY_BYTES = 16;
export const STREAM_INDEX_BLOOM_FALSE_POSITIVE_RATE = 0.001;
const OFFSET_BYTES = 8;
/** A bucket up to this many entries is read in one go; a larger one is first narrowed by single-entry reads. */
const READ_WINDOW_ENTRIES = 64;

interface StreamIndexLayout {
  streamCount: number;
  fanOutBits: number;
  fileBytes: number;
  fanOutOffset: number;
  fanOutBytes: number;
  entriesOffset: number;
  entriesBytes: number;
  offsetsOffset: number;
  offsetsBytes: number;
  bloomOffset: number;
  bloomBytes: number;
}

function layoutFor(streamCount: number, bits: number, offsetCount: number, bloomBytes: number): StreamIndexLayout {
  const fanOutOffset = STREAM_INDEX_HEADER_BYTES;
  const fanOutBytes = 4 * 2 ** bits;
  const entriesOffset = fanOutOffset + fanOutBytes;
  const entriesBytes = STREAM_INDEX_ENTRY_BYTES * streamCount;
  const offsetsOffset = entriesOffset + entriesBytes;
  const offsetsBytes = OFFSET_BYTES * offsetCount;
  const bloomOffset = offsetsOffset + offsetsBytes;
  const fileBytes = bloomOffset + bloomBytes + INDEX_CRC_BYTES;
  return {
    streamCount,
    fanOutBits: bits,
    fileBytes,
    fanOutOffset,
    fanOutBytes,
    entriesOffset,
    entriesBytes,
    offsetsOffset,
    offsetsBytes,
    bloomOffset,
    bloomBytes,
  };
}

function encodeHeader(l: StreamIndexLayout, target: Buffer): void {
  target.writeUInt32LE(STREAM_INDEX_MAGIC, 0);
  target.writeUInt16LE(STREAM_INDEX_FORMAT_VERSION, 4);
  target[6] = l.fanOutBits;
  target[7] = 0;
  writeU64(target, 8, l.streamCount);
  writeU64(target, 16, l.fileBytes);
  writeU64(target, 24, l.fanOutOffset);
  writeU64(target, 32, l.fanOutBytes);
  writeU64(target, 40, l.entriesOffset);
  writeU64(target, 48, l.entriesBytes);
  writeU64(target, 56, l.offsetsOffset);
  writeU64(target, 64, l.offsetsBytes);
  writeU64(target, 72, l.bloomOffset);
  writeU64(target, 80, l.bloomBytes);
  writeU64(target, 88, 0);
}

function decodeHeader(path: string, header: Buffer, fileBytes: number): StreamIndexLayout {
  const corrupt = (why: string) => new IndexFileCorruptError(path, why);
  if (header.readUInt32LE(0) !== STREAM_INDEX_MAGIC) throw corrupt('not a stream index file (bad magic)');
  const version = header.readUInt16LE(4);
  if (version !== STREAM_INDEX_FORMAT_VERSION) throw corrupt(`unsupported stream index format version ${version}`);
  if (header[7] !== 0 || readU64(header, 88) !== 0) throw corrupt('reserved header bytes are not zero');
  const streamCount = readU64(header, 8);
  const bits = header[6];
  if (!Number.isSafeInteger(streamCount) || bits !== fanOutBits(streamCount)) throw corrupt(`fan-out bits ${bits} do not fit ${streamCount} streams`);
  const offsetsBytes = readU64(header, 64);
  if (offsetsBytes % OFFSET_BYTES !== 0) throw corrupt(`offsets length ${offsetsBytes} is not a multiple of ${OFFSET_BYTES}`);
  const l = layoutFor(streamCount, bits, offsetsBytes / OFFSET_BYTES, readU64(header, 80));
  const stored = [16, 24, 32, 40, 48, 56, 72].map((at) => readU64(header, at));
  const expected = [l.fileBytes, l.fanOutOffset, l.fanOutBytes, l.entriesOffset, l.entriesBytes, l.offsetsOffset, l.bloomOffset];
  if (stored.some((v, i) => v !== expected[i])) throw corrupt(`section table [${stored}] is not the layout of ${streamCount} streams [${expected}]`);
  if (l.fileBytes !== fileBytes) throw corrupt(`header says ${l.fileBytes} bytes, file has ${fileBytes}`);
  return l;
}

/** Writes `stream.sidx`. Every stream given must have at least one offset. */
export function writeStreamIndexFile(
  io: FileIo,
  path: string,
  streams: ReadonlyMap<string, { partitionKey: Uint8Array; firstVersion: number; offsets: ArrayLike<number> & Iterable<number> }>,
): void {
  const names: Buffer[] = [];
  const values: { partitionKey: Uint8Array; firstVersion: number; offsets: ArrayLike<number> & Iterable<number> }[] = [];
  let offsetCount = 0;
  for (const [streamId, s] of streams) {
    const name = Buffer.from(streamId, 'utf8');
    // A lone surrogate encodes as U+FFFD, so two ill-formed ids could collide as bytes.
    if (!streamId.isWellFormed()) throw new RangeError(`stream id ${JSON.stringify(streamId)} is not well-formed UTF-16`);
    if (name.length < 1 || name.length > STREAM_INDEX_STREAM_ID_BYTES_MAX) throw new RangeError(`stream id must be 1..${STREAM_INDEX_STREAM_ID_BYTES_MAX} bytes, got ${name.length}`);
    if (s.partitionKey.length !== STREAM_INDEX_PARTITION_KEY_BYTES) throw new RangeError(`stream ${streamId}: partition key must be ${STREAM_INDEX_PARTITION_KEY_BYTES} bytes`);
    if (s.offsets.length === 0) throw new RangeError(`stream ${streamId} has no offsets`);
    if (!Number.isSafeInteger(s.firstVersion) || s.firstVersion < 0 || !Number.isSafeInteger(s.firstVersion + s.offsets.length)) {
      throw new RangeError(`stream ${streamId} has a bad first version ${s.firstVersion}`);
    }
    for (const offset of s.offsets) {
      if (!Number.isSafeInteger(offset) || offset < 0) throw new RangeError(`stream ${streamId}: record offset must be a non-negative integer, got ${offset}`);
    }
    names.push(name);
    values.push(s);
    offsetCount += s.offsets.length;
  }
  const n = names.length;
  const hashes = new Uint32Array(n);
  for (let i = 0; i < n; i++) hashes[i] = keyHash32(names[i]);
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  order.sort((a, b) => hashes[a] - hashes[b] || compareBytes(names[a], names[b]));

  const bloom = BloomFilter.create(n, STREAM_INDEX_BLOOM_FALSE_POSITIVE_RATE);
  for (const name of names) bloom.add(name);
  const bloomBytes = bloom.serialize();
  const bits = fanOutBits(n);
  const l = layoutFor(n, bits, offsetCount, bloomBytes.length);

  const file = Buffer.alloc(l.fileBytes);
  encodeHeader(l, file);
  const sortedHashes = new Uint32Array(n);
  let offsetIndex = 0;
  for (let r = 0; r < n; r++) {
    const i = order[r];
    const s = values[i];
    sortedHashes[r] = hashes[i];
    const at = l.entriesOffset + r * STREAM_INDEX_ENTRY_BYTES;
    file.writeUInt32LE(hashes[i], at);
    file[at + 4] = names[i].length;
    file.set(names[i], at + 8);
    file.set(s.partitionKey, at + 72);
    writeU64(file, at + 88, s.firstVersion);
    writeU64(file, at + 96, s.firstVersion + s.offsets.length - 1);
    writeU64(file, at + 104, offsetIndex);
    for (const offset of s.offsets) {
      writeU64(file, l.offsetsOffset + offsetIndex * OFFSET_BYTES, offset);
      offsetIndex++;
    }
  }
  const fanOut = buildFanOut(sortedHashes, bits);
  for (let i = 0; i < fanOut.length; i++) file.writeUInt32LE(fanOut[i], l.fanOutOffset + 4 * i);
  file.set(bloomBytes, l.bloomOffset);
  sealIndexChecksum(file);
  // Pair assertion: the header we are about to write must pass the same checks `open` makes.
  decodeHeader(path, file.subarray(0, STREAM_INDEX_HEADER_BYTES), file.length);
  writeFileDurably(io, path, file);
}

interface StreamEntry {
  partitionKey: Uint8Array;
  firstVersion: number;
  lastVersion: number;
  offsetIndex: number;
}

export class StreamIndexFile {
  readonly path: string;
  readonly count: number;
  readonly #handle: FileHandle;
  readonly #layout: StreamIndexLayout;
  readonly #fanOut: Uint32Array;
  readonly #bloom: BloomFilter;
  readonly #scratch = Buffer.alloc((READ_WINDOW_ENTRIES + 1) * STREAM_INDEX_ENTRY_BYTES);
  #closed = false;

  private constructor(handle: FileHandle, layout: StreamIndexLayout, fanOut: Uint32Array, bloom: BloomFilter) {
    this.path = handle.path;
    this.count = layout.streamCount;
    this.#handle = handle;
    this.#layout = layout;
    this.#fanOut = fanOut;
    this.#bloom = bloom;
  }

  /**
   * Opens and verifies `path` (whole-file CRC32C, streamed). Throws `IndexFileCorruptError` if the file is
   * damaged; the file system's own errors (ENOENT, EIO) pass through unchanged.
   */
  static open(io: FileIo, path: string): StreamIndexFile {
    const { handle, layout, sections } = openIndexFile(io, path, STREAM_INDEX_HEADER_BYTES, decodeHeader, (l) => [
      { position: l.fanOutOffset, length: l.fanOutBytes },
      { position: l.bloomOffset, length: l.bloomBytes },
    ]);
    try {
      const { fanOut, bloom } = decodeFanOutAndBloom(path, sections[0], sections[1], layout.streamCount);
      return new StreamIndexFile(handle, layout, fanOut, bloom);
    } catch (error) {
      handle.close();
      throw error;
    }
  }


  /** False: the segment has no event of this stream. True: it probably has (0.1% false positives). No I/O. */
  mightContain(streamId: string): boolean {
    return this.#bloom.has(streamId);
  }

  /** The stream's partition key and version range in this segment, or undefined if it has no events here. */
  lookup(streamId: string): { partitionKey: Uint8Array; firstVersion: number; lastVersion: number } | undefined {
    const entry = this.#find(streamId);
    if (entry === undefined) return undefined;
    return { partitionKey: entry.partitionKey, firstVersion: entry.firstVersion, lastVersion: entry.lastVersion };
  }

  /**
   * Record offsets of versions fromVersion, fromVersion + 1, ... in order, clipped to this segment's range and to
   * `maxCount`; empty if the stream has none of them here.
   */
  offsets(streamId: string, fromVersion: number, maxCount: number): number[] {
    if (Number.isNaN(fromVersion) || Number.isNaN(maxCount)) throw new RangeError('fromVersion and maxCount must be numbers');
    if (maxCount <= 0) return [];
    const entry = this.#find(streamId);
    if (entry === undefined) return [];
    const from = Math.max(entry.firstVersion, Math.ceil(fromVersion));
    if (from > entry.lastVersion) return [];
    const count = Math.min(Math.floor(maxCount), entry.lastVersion - from + 1);
    const buf = Buffer.allocUnsafe(count * OFFSET_BYTES);
    const position = this.#layout.offsetsOffset + (entry.offsetIndex + (from - entry.firstVersion)) * OFFSET_BYTES;
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

  #find(streamId: string): StreamEntry | undefined {
    if (this.#closed) throw new Error(`${this.path}: stream index is closed`);
    if (streamId.length === 0 || !streamId.isWellFormed()) return undefined;
    if (!this.#bloom.has(streamId)) return undefined;
    const key = Buffer.from(streamId, 'utf8');
    if (key.length > STREAM_INDEX_STREAM_ID_BYTES_MAX) return undefined;
    const l = this.#layout;
    const hash = keyHash32(key);
    const [start, end] = fanOutRange(this.#fanOut, l.fanOutBits, l.streamCount, hash);
    const scratch = this.#scratch;
    // Invariant: entries before lo are < the key, entries from hi on are ≥ it. The match, if any, is the first
    // entry ≥ the key, so it lies in [lo, hi] (hi itself included when hi < end).
    let lo = start;
    let hi = end;
    while (hi - lo > READ_WINDOW_ENTRIES) {
      const mid = (lo + hi) >>> 1;
      this.#read(mid, 1);
      if (compareEntry(scratch, 0, hash, key) < 0) lo = mid + 1;
      else hi = mid;
    }
    const count = Math.min(hi + 1, end) - lo;
    if (count <= 0) return undefined;
    this.#read(lo, count);
    for (let r = 0; r < count; r++) {
      const at = r * STREAM_INDEX_ENTRY_BYTES;
      const c = compareEntry(scratch, at, hash, key);
      if (c > 0) return undefined;
      if (c < 0) continue;
      const entry: StreamEntry = {
        partitionKey: Buffer.from(scratch.subarray(at + 72, at + 72 + STREAM_INDEX_PARTITION_KEY_BYTES)),
        firstVersion: readU64(scratch, at + 88),
        lastVersion: readU64(scratch, at + 96),
        offsetIndex: readU64(scratch, at + 104),
      };
      if (entry.lastVersion < entry.firstVersion || entry.offsetIndex + (entry.lastVersion - entry.firstVersion + 1) > l.offsetsBytes / OFFSET_BYTES) {
        throw new IndexFileCorruptError(this.path, `entry for ${streamId} points past the offsets section`);
      }
      return entry;
    }
    return undefined;
  }

  #read(firstEntry: number, count: number): void {
    const position = this.#layout.entriesOffset + firstEntry * STREAM_INDEX_ENTRY_BYTES;
    readExactly(this.#handle, this.#scratch, 0, count * STREAM_INDEX_ENTRY_BYTES, position);
  }
}

/** Orders the entry at `buf[at..]` against (hash, key bytes): negative if the entry sorts first. */
function compareEntry(buf: Buffer, at: number, hash: number, key: Uint8Array): number {
  const stored = buf.readUInt32LE(at);
  if (stored !== hash) return stored < hash ? -1 : 1;
  const length = buf[at + 4];
  const n = Math.min(length, key.length);
  for (let i = 0; i < n; i++) {
    const d = buf[at + 8 + i] - key[i];
    if (d !== 0) return d;
  }
  return length - key.length;
}
