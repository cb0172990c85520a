/**
 * Reads for all buckets, from one thread (a read worker, or the in-process engine).
 *
 * The data file is the single source of truth. For each bucket the reader follows the active segment like a
 * replica: it indexes `data.evts` from where it last stopped up to the durable position the writer published
 * (those bytes are fdatasynced and sit in the page cache). Sealed segments are read through their index files.
 * So a read never shows an unacknowledged event, every acknowledged event is visible to the next read (the
 * position is published before the append is acknowledged), and readers never lock against the writer.
 *
 * Results are {@link RecordBatch}es: the raw records back to back, each self-delimiting, so that a read worker can
 * hand them to the main thread as one transferable buffer and the main thread decodes only what it sends.
 */
import type { Logger } from 'pino';
import type { FileHandle, FileIo } from '../../native-free-io/file-io.ts';
import { DATA_FILE, listSegmentIds, segmentFile } from '../../native-free-io/data-layout.ts';
import { EVENT_BODY_FIXED_BYTES, probeRecord, RecordKind, RECORD_HEADER_BYTES, SEGMENT_HEADER_BYTES, eventRecordField } from '../../native-free-io/segment-format.ts';
import { scanCommitted } from '../../native-free-io/segment-scanner.ts';
import { IndexFileCorruptError } from '../../native-free-io/index-file-error.ts';
import { bucketIdForPartition, partitionHash, partitionKeyForStream } from '../ids/partition-key.ts';
import type { SharedState } from '../threads/shared-state.ts';
import { CorruptRecordError, EngineError } from './engine-error.ts';
import { SealedSegment } from './sealed-segment.ts';
import { SegmentIndex, type SegmentLookup } from './segment-index.ts';

/** Raw event records back to back. */
export interface RecordBatch {
  records: Buffer;
  count: number;
  /**
   * When present, `records` preceded by RESULT_HEAD_BYTES of free room in the same buffer (its own
   * ArrayBuffer), for a read worker to fill and transfer without copying.
   */
  withHead?: Buffer;
  /**
   * When the read was asked for RESP: the events already encoded (see `encodeEvents`), and `records` empty (unless
   * asked for both, ReadEncoding.records).
   */
  resp?: Buffer;
  /** With `resp`, when asked for: where each event's map starts in it, then where the last ends (count + 1). */
  bounds?: Uint32Array;
  /** From a cache instead (StreamMapCache): each event's RESP3 map, `records` empty. */
  parts?: Buffer[];
}

export interface ScanResult extends RecordBatch {
  hasMore: boolean;
  /**
   * When present, hands the buffer under `records` back for another read (BufferPool). Call it only once
   * nothing reads `records` any more; not calling it is safe (the buffer is then collected).
   */
  release?: () => void;
}

export interface StoreReaderOptions {
  io: FileIo;
  dir: string;
  bucketCount: number;
  partitionCount: number;
  segmentSizeBytes: number;
  sharedState: SharedState;
  logger?: Logger;
}

/** Offsets closer than this to the first of a run are read with one positioned read. */
const READ_SPAN_BYTES_MAX = 128 * 1024;
/** The reusable read buffer; larger runs are read in several reads. */
const READ_WINDOW_BYTES_MAX = 256 * 1024;
/** A guess of one record's length, to read the last record of a run along with it (a longer one is re-read). */
const RECORD_BYTES_GUESS = 512;
/** Room left at the start of a result for the read worker's head (record count, has-more). */
export const RESULT_HEAD_BYTES = 8;

/**
 * What follows a read worker's result head (byte 5 of it): raw records; RESP bytes; the maps' bounds (count + 1
 * u32) and then the RESP bytes; or (recordsAndMaps) the raw records, the RESP bytes, the maps' bounds (count + 1
 * u32, from the start of the RESP bytes) and the records' length (u32), so that records read into a recycled buffer
 * stay where they were read.
 */
export const ResultMode = { records: 0, resp: 1, respWithBounds: 3, recordsAndMaps: 4 } as const;

/** The result head: record count (u32), has-more (u8), mode (u8), 2 spare bytes. */
export function writeResultHead(out: Buffer, count: number, hasMore: boolean, mode: (typeof ResultMode)[keyof typeof ResultMode]): void {
  out.writeUInt32LE(count, 0);
  out[4] = hasMore ? 1 : 0;
  out[5] = mode;
}

interface SegmentView {
  segmentId: number;
  lookup: SegmentLookup;
  data: FileHandle;
}

class ActiveSegment implements SegmentView {
  readonly segmentId: number;
  readonly data: FileHandle;
  readonly lookup = new SegmentIndex();
  scanned = SEGMENT_HEADER_BYTES;
  constructor(segmentId: number, data: FileHandle) {
    this.segmentId = segmentId;
    this.data = data;
  }
  get index(): SegmentIndex {
    return this.lookup;
  }
}

class BucketFollower {
  readonly bucketId: number;
  readonly #o: StoreReaderOptions;
  readonly sealed: SealedSegment[] = [];
  /**
   * Segments the writer has moved on from whose index files are not written yet (segment-sealer.ts): read through
   * the index this reader built while following them, until the bucket's `sealedBelow` passes them.
   */
  readonly finished: ActiveSegment[] = [];
  active: ActiveSegment | undefined;

  constructor(o: StoreReaderOptions, bucketId: number) {
    this.#o = o;
    this.bucketId = bucketId;
  }

  /** Catches up with the writer's published durable position. */
  refresh(): void {
    const { io, dir } = this.#o;
    const pos = this.#o.sharedState.position(this.bucketId);
    const sealedBelow = this.#o.sharedState.sealedBelow(this.bucketId);
    const dataOf = (segmentId: number) => io.open(segmentFile(dir, this.bucketId, segmentId, DATA_FILE), 'read');
    if (this.active === undefined) {
      for (const id of listSegmentIds(io, dir, this.bucketId)) {
        if (id >= pos.segmentId) continue;
        if (id < sealedBelow) this.sealed.push(this.#openSealed(id));
        else this.finished.push(this.#scanToEnd(new ActiveSegment(id, dataOf(id))));
      }
      this.active = new ActiveSegment(pos.segmentId, dataOf(pos.segmentId));
    }
    while (this.active.segmentId < pos.segmentId) {
      const old: ActiveSegment = this.active;
      // Every record of a segment the writer has left is durable: index the last ones, up to the zeros after them
      // (not needed when its index files are there already). It joins the end of `finished`, so that segments are
      // opened as sealed in order below.
      this.finished.push(old.segmentId < sealedBelow ? old : this.#scanToEnd(old));
      this.active = new ActiveSegment(old.segmentId + 1, dataOf(old.segmentId + 1));
    }
    while (this.finished.length > 0 && this.finished[0].segmentId < sealedBelow) {
      const f = this.finished.shift()!;
      f.data.close();
      this.sealed.push(this.#openSealed(f.segmentId));
    }
    const a = this.active;
    if (pos.offset > a.scanned) this.#scan(a, pos.offset, false);
  }

  /** Indexes `a` from where it was left up to `limit` (durable), or to the end of its data when `toEnd`. */
  #scan(a: ActiveSegment, limit: number, toEnd: boolean): void {
    // Without checksums: this region is what the writer published as durable (it encoded those records, or
    // verified them when it recovered the segment), and every record a read returns is checked again. The
    // other checks (lengths, kinds, commit records) still find the records' bounds.
    const result = scanCommitted(
      a.data,
      a.scanned,
      limit,
      (events) => {
        for (const e of events) a.index.addRecord(e.buf, e.at, e.offset);
      },
      false,
    );
    if (result.committedEnd < limit && !(toEnd && result.stop === 'end')) {
      this.#o.logger?.error({ bucket: this.bucketId, segment: a.segmentId, offset: result.committedEnd, reason: result.reason }, 'durable region of the active segment does not scan cleanly');
    }
    a.scanned = result.committedEnd;
  }

  #scanToEnd(a: ActiveSegment): ActiveSegment {
    this.#scan(a, Math.min(a.data.size(), this.#o.segmentSizeBytes), true);
    return a;
  }

  #openSealed(segmentId: number): SealedSegment {
    return SealedSegment.open({ io: this.#o.io, dir: this.#o.dir, bucketId: this.bucketId, segmentId, repairIndexFiles: false, logger: this.#o.logger });
  }

  /** Segments in ascending order, the active one last. */
  segments(): SegmentView[] {
    const all: SegmentView[] = [...this.sealed, ...this.finished];
    if (this.active !== undefined) all.push(this.active);
    return all;
  }

  close(): void {
    for (const s of this.sealed) s.close();
    for (const f of this.finished) f.data.close();
    this.active?.data.close();
  }
}

/**
 * The read buffer of one StoreReader (one thread), reused by every read so that a lookup allocates nothing big.
 */
class ReadWindow {
  buf: Buffer = Buffer.allocUnsafeSlow(READ_WINDOW_BYTES_MAX);
  segment: SegmentView | undefined;
  start = 0;
  length = 0;
}

/**
 * Collects records at given offsets into one buffer, reading each run of nearby offsets with one positioned read.
 *
 * Reads are planned from the offsets a scan already knows: offsets closer together than READ_SPAN_BYTES_MAX are
 * read with one pread spanning them (plus a guess for the last record's length); an offset far from the others
 * costs one small read. A record longer than what was read is read again at its full length. So a stream scan over
 * events scattered through a segment reads about one record's bytes per event, and a partition scan (events mostly
 * adjacent) reads them in a few large reads.
 *
 * The output starts with RESULT_HEAD_BYTES of room for the read worker's result head (count, has-more), so the
 * worker hands the buffer to the main thread as it is, without another copy.
 */
class RecordCollector {
  readonly #bucketId: number;
  readonly #window: ReadWindow;
  #out: Buffer;
  #length = RESULT_HEAD_BYTES;
  count = 0;

  /** `into`: a buffer to collect into (a read result going round, see BufferPool); outgrown, it is dropped. */
  constructor(bucketId: number, window: ReadWindow, expectedRecords = 1, into?: ArrayBuffer) {
    this.#bucketId = bucketId;
    this.#window = window;
    // The buffer is reused, its contents are not: bytes read past an active segment's durable end in an earlier
    // operation may have been zeros that real records have replaced since.
    window.segment = undefined;
    // An empty or inverted range (to < from) expects nothing: the buffer then only holds the head.
    this.#out =
      into !== undefined && into.byteLength >= RESULT_HEAD_BYTES
        ? Buffer.from(into)
        : Buffer.allocUnsafeSlow(RESULT_HEAD_BYTES + Math.max(0, Math.min(expectedRecords, 1024)) * RECORD_BYTES_GUESS);
  }

  /**
   * Reads the event records at `offsets` (ascending) and appends them. `wrongRecord`, if given, checks that the
   * record is number `firstN + i` as the index promised (it returns why not): an index entry damaged after its file
   * was opened and checksummed could otherwise point at another intact record, which would be served as this one.
   */
  addAll(
    segment: SegmentView,
    offsets: readonly number[],
    limit: number,
    wrongRecord?: (buf: Buffer, at: number, n: number) => string | undefined,
    firstN = 0,
  ): void {
    const n = Math.min(offsets.length, limit);
    let spanEnd = -1; // index of the last offset in the current read span
    for (let i = 0; i < n; i++) {
      const offset = offsets[i];
      if (i > spanEnd) {
        spanEnd = i;
        while (spanEnd + 1 < n && offsets[spanEnd + 1] > offsets[spanEnd] && offsets[spanEnd + 1] - offset < READ_SPAN_BYTES_MAX) spanEnd++;
      }
      const { buf, at, length } = this.#read(segment, offset, offsets[spanEnd] - offset + RECORD_BYTES_GUESS);
      const wrong = wrongRecord?.(buf, at, firstN + i);
      if (wrong !== undefined) throw this.#corrupt(segment, offset, wrong);
      this.#append(buf, at, length);
    }
  }

  #append(buf: Buffer, at: number, length: number): void {
    if (this.#length + length > this.#out.length) {
      const grown = Buffer.allocUnsafeSlow(Math.max(this.#out.length * 2, this.#length + length));
      this.#out.copy(grown, 0, 0, this.#length);
      this.#out = grown;
    }
    buf.copy(this.#out, this.#length, at, at + length);
    this.#length += length;
    this.count++;
  }

  /** The record's bytes at `offset` (valid until the next read); `spanBytes` is how much to read if not in hand. */
  #read(segment: SegmentView, offset: number, spanBytes: number): { buf: Buffer; at: number; length: number } {
    const w = this.#window;
    let need = 0;
    for (let attempt = 0; attempt < 2; attempt++) {
      const inWindow = w.segment === segment && offset >= w.start && offset + RECORD_HEADER_BYTES <= w.start + w.length;
      if (!inWindow || attempt === 1) this.#load(segment, offset, attempt === 0 ? spanBytes : need);
      const at = offset - w.start;
      const probe = probeRecord(w.buf, at, w.length - at, Number.MAX_SAFE_INTEGER);
      if (probe.status === 'ok') {
        if (probe.kind !== RecordKind.event) throw this.#corrupt(segment, offset, 'index points at a commit record');
        return { buf: w.buf, at, length: probe.length };
      }
      if (probe.status === 'short') {
        need = probe.needBytes;
        continue;
      }
      throw this.#corrupt(segment, offset, probe.status === 'corrupt' ? probe.reason : 'no record at indexed offset');
    }
    throw this.#corrupt(segment, offset, 'record runs past the end of the file');
  }

  #load(segment: SegmentView, offset: number, bytes: number): void {
    const w = this.#window;
    const want = Math.max(RECORD_HEADER_BYTES, bytes);
    if (w.buf.length < want) w.buf = Buffer.allocUnsafeSlow(want);
    // Cap ordinary reads at the window size; a single record larger than that gets a buffer of its own size.
    const length = Math.min(want, Math.max(READ_WINDOW_BYTES_MAX, bytes));
    let got = 0;
    while (got < length) {
      const n = segment.data.read(w.buf, got, length - got, offset + got);
      if (n === 0) break;
      got += n;
    }
    w.segment = segment;
    w.start = offset;
    w.length = got;
  }

  #corrupt(segment: SegmentView, offset: number, reason: string): CorruptRecordError {
    return new CorruptRecordError(`bucket ${this.#bucketId} segment ${segment.segmentId} offset ${offset}`, reason);
  }

  finish(): RecordBatch {
    return { records: this.#out.subarray(RESULT_HEAD_BYTES, this.#length), count: this.count, withHead: this.#out.subarray(0, this.#length) };
  }
}

export class StoreReader {
  readonly #o: StoreReaderOptions;
  readonly #buckets: BucketFollower[];
  readonly #window = new ReadWindow();

  constructor(o: StoreReaderOptions) {
    this.#o = o;
    this.#buckets = Array.from({ length: o.bucketCount }, (_, b) => new BucketFollower(o, b));
  }

  /** Runs a read; a corrupt record is logged with its location (once per read) before the error goes back. */
  #logged<T>(read: () => T): T {
    try {
      return read();
    } catch (err) {
      if (err instanceof CorruptRecordError) this.#o.logger?.error({ location: err.location, err: err.message }, 'corrupt record found by a read; it is not served');
      if (err instanceof IndexFileCorruptError) {
        // An index entry read after the file was opened (and checksummed) fails its own sanity checks.
        this.#o.logger?.error({ location: err.path, err: err.message }, 'corrupt index entry found by a read; it is not used');
        throw new EngineError('READERR', `read error: corrupt index file ${err.message}`, { cause: err });
      }
      throw err;
    }
  }

  #bucket(bucketId: number): BucketFollower {
    const b = this.#buckets[bucketId];
    b.refresh();
    return b;
  }

  /** Catches up with the bucket's published durable position now (reads do it too, when they come). */
  follow(bucketId: number): void {
    this.#logged(() => this.#bucket(bucketId));
  }

  bucketOfPartition(partitionId: number): number {
    return bucketIdForPartition(partitionId, this.#o.bucketCount);
  }

  /** The event with this id, searching its embedded partition's bucket first, then the others. */
  getEvent(eventId: Uint8Array): RecordBatch {
    return this.#logged(() => this.#getEvent(eventId));
  }

  #getEvent(eventId: Uint8Array): RecordBatch {
    const home = this.bucketOfPartition(partitionHash(eventId) % this.#o.partitionCount);
    const order = [home, ...this.#buckets.map((_, i) => i).filter((i) => i !== home)];
    for (const bucketId of order) {
      const bucket = this.#bucket(bucketId);
      const segments = bucket.segments();
      for (let i = segments.length - 1; i >= 0; i--) {
        const s = segments[i];
        if (bucketId !== home && !s.lookup.mightContainEvent(eventId)) continue;
        const offset = s.lookup.eventOffset(eventId);
        if (offset === undefined) continue;
        const c = new RecordCollector(bucketId, this.#window);
        c.addAll(s, [offset], 1);
        const batch = c.finish();
        if (Buffer.compare(eventRecordField.eventId(batch.records, 0), eventId) === 0) return batch;
      }
    }
    return { records: Buffer.alloc(0), count: 0 };
  }

  /**
   * Events of a stream with versions in [from, to], at most `count`; hasMore says whether another event in the
   * range exists beyond the page (exact, unlike SierraDB's).
   */
  scanStream(streamId: string, partitionKey: Uint8Array | undefined, from: number, to: number, count: number): ScanResult {
    return this.#logged(() => this.#scanStream(streamId, partitionKey, from, to, count));
  }

  #scanStream(streamId: string, partitionKey: Uint8Array | undefined, from: number, to: number, count: number): ScanResult {
    const key = partitionKey ?? partitionKeyForStream(streamId);
    const idBytes = Buffer.from(streamId, 'utf8');
    return this.#scanRange(this.bucketOfPartition(partitionHash(key) % this.#o.partitionCount), from, to, count, undefined, {
      range: (lookup) => lookup.streamRange(streamId),
      offsets: (lookup, start, max) => lookup.streamOffsets(streamId, start, max),
      wrongRecord: (buf, at, version) => {
        const body = at + RECORD_HEADER_BYTES;
        const idAt = body + EVENT_BODY_FIXED_BYTES;
        if (buf[body + 74] === idBytes.length && buf.compare(idBytes, 0, idBytes.length, idAt, idAt + idBytes.length) === 0 && eventRecordField.streamVersion(buf, at) === version) {
          return undefined;
        }
        return `the stream index entry for ${streamId} version ${version} points at ${eventRecordField.streamId(buf, at)} version ${eventRecordField.streamVersion(buf, at)}`;
      },
    });
  }

  /**
   * Collects the records numbered [from, to] (stream versions or partition sequences, contiguous within each
   * segment), at most `count`, walking segments in order; hasMore is exact: one record past the page is looked for.
   */
  #scanRange(
    bucketId: number,
    from: number,
    to: number,
    count: number,
    into: ArrayBuffer | undefined,
    by: {
      range: (lookup: SegmentLookup) => { first: number; last: number } | undefined;
      offsets: (lookup: SegmentLookup, start: number, max: number) => number[];
      /** Why the record read for number `n` is not the one asked for, or undefined when it is. */
      wrongRecord: (buf: Buffer, at: number, n: number) => string | undefined;
    },
  ): ScanResult {
    const bucket = this.#bucket(bucketId);
    const c = new RecordCollector(bucketId, this.#window, Math.min(count, to - from + 1), into);
    let next = from;
    let hasMore = false;
    for (const s of bucket.segments()) {
      if (next > to) break;
      const r = by.range(s.lookup);
      if (r === undefined || r.last < next || r.first > to) continue;
      // Streams and partitions are gapless from 0, so a later segment that starts past `next` means numbers are
      // missing from every index: report it rather than return a page with a hole in it.
      if (r.first > next) throw new EngineError('READERR', `read error: numbers ${next} to ${r.first - 1} are missing before bucket ${bucketId} segment ${s.segmentId}`);
      const start = next;
      // One offset past the page, to tell whether more exist.
      const offsets = by.offsets(s.lookup, start, Math.min(count - c.count + 1, to - start + 1));
      const room = count - c.count;
      c.addAll(s, offsets, room, by.wrongRecord, start);
      if (offsets.length > room) {
        hasMore = true;
        break;
      }
      next = start + offsets.length;
    }
    return { ...c.finish(), hasMore };
  }

  /** The stream's latest durable version, or -1. */
  streamVersion(streamId: string, partitionKey: Uint8Array | undefined): number {
    return this.#logged(() => this.#streamVersion(streamId, partitionKey));
  }

  #streamVersion(streamId: string, partitionKey: Uint8Array | undefined): number {
    const key = partitionKey ?? partitionKeyForStream(streamId);
    const bucket = this.#bucket(this.bucketOfPartition(partitionHash(key) % this.#o.partitionCount));
    const segments = bucket.segments();
    for (let i = segments.length - 1; i >= 0; i--) {
      const r = segments[i].lookup.streamRange(streamId);
      if (r !== undefined) return r.last;
    }
    return -1;
  }

  /** Events of a partition with sequences in [from, to], at most `count`, with an exact hasMore. */
  /** `into`: a buffer for the result (see RecordCollector). */
  scanPartition(partitionId: number, from: number, to: number, count: number, into?: ArrayBuffer): ScanResult {
    return this.#logged(() => this.#scanPartition(partitionId, from, to, count, into));
  }

  #scanPartition(partitionId: number, from: number, to: number, count: number, into: ArrayBuffer | undefined): ScanResult {
    return this.#scanRange(this.bucketOfPartition(partitionId), from, to, count, into, {
      range: (lookup) => lookup.partitionRange(partitionId),
      offsets: (lookup, start, max) => lookup.partitionOffsets(partitionId, start, max),
      wrongRecord: (buf, at, sequence) => {
        const pid = eventRecordField.partitionId(buf, at);
        const seq = eventRecordField.partitionSequence(buf, at);
        return pid === partitionId && seq === sequence ? undefined : `the partition index entry for partition ${partitionId} sequence ${sequence} points at partition ${pid} sequence ${seq}`;
      },
    });
  }

  /** The partition's last durable sequence, or -1 when it is empty. */
  partitionSequence(partitionId: number): number {
    return this.#o.sharedState.watermark(partitionId) - 1;
  }

  close(): void {
    for (const b of this.#buckets) b.close();
  }
}

/** Calls `fn` with each record of a batch (buffer and offset of the record). */
export function forEachRecord(batch: RecordBatch, fn: (buf: Buffer, at: number) => void): void {
  let at = 0;
  for (let i = 0; i < batch.count; i++) {
    fn(batch.records, at);
    at += RECORD_HEADER_BYTES + batch.records.readUInt32LE(at + 8);
  }
}
