/**
 * The embedded API: `open(dir, options)` returns a Database that appends and reads events in-process. The RESP
 * server is a thin layer over exactly this.
 *
 * By default the work runs on threads: write workers for the buckets, one per bucket up to half the cores (group
 * commit, behind SharedArrayBuffer ring queues), and a piscina pool of readers. `threads: false` runs the same engine on the calling thread, which the
 * simulation and power-loss tests use with a simulated disk.
 */
import { isUtf8 } from 'node:buffer';
import os from 'node:os';
import { defaultWriteThreads } from './config/write-threads.ts';
import type { Logger } from 'pino';
import { nodeFileIo, type FileIo } from '../native-free-io/file-io.ts';
import { openMeta } from '../native-free-io/data-layout.ts';
import { decodeEventRecord, encodeEventRecord, eventRecordBytes, EVENT_NAME_BYTES_MAX, STREAM_ID_BYTES_MAX, type StoredEvent } from '../native-free-io/segment-format.ts';
import { generateEventId, generateTransactionId, writeEventId } from './ids/event-id.ts';
import {
  bucketIdForPartition,
  formatUuid,
  parseUuid,
  partitionHash,
  partitionKeyForStream,
} from './ids/partition-key.ts';
import { InProcessReadBackend, InProcessWriteBackend, type ReadBackend, type ReadEncoding, type WriteBackend } from './engine/backends.ts';
import { BucketWriter, type BucketWriterStats, type EventRequest, type TransactionOutcome, type TransactionRequest } from './engine/bucket-writer.ts';
import { EngineError } from './engine/engine-error.ts';
import { COMMIT_LOG_FILE_BYTES_MIN, CommitLog, commitLogFileBytes, replayCommitLogs } from './engine/commit-log.ts';
import { GroupCommit, type GroupCommitStats } from './engine/group-commit.ts';
import { ExpectedKind, expectedKindOf, type ExpectedVersion } from './engine/expected-version.ts';
import type { AppendSink, ByteRange, InPlaceAppend } from './engine/in-place-append.ts';
import { CapturingSinkPool } from './engine/capturing-sink.ts';
import { forEachRecord, StoreReader, type RecordBatch, type ScanResult } from './engine/store-reader.ts';
import type { BufferPoolStats } from './buffers/buffer-pool.ts';
import { SharedState } from './threads/shared-state.ts';
import type { SegmentSealer } from './engine/segment-sealer.ts';
import { TwoGenerationCache } from './engine/two-generation-cache.ts';
import { StreamMapCache } from './engine/stream-map-cache.ts';
import { murmur3x32 } from '../native-free-io/key-hash.ts';

export type { ExpectedVersion } from './engine/expected-version.ts';
export { EngineError, CorruptRecordError } from './engine/engine-error.ts';

export interface DatabaseOptions {
  bucketCount?: number;
  partitionCount?: number;
  segmentSizeBytes?: number;
  /** SierraDB's strict mode: EXPECTED_VERSION must be `empty` or a number. Off by default (see shared/README). */
  strictVersioning?: boolean;
  /** Per bucket: streams whose last version is in a sealed segment, kept resident. */
  streamCacheEntries?: number;
  /** Bytes of RESP3 event maps kept for ESCAN pages read recently (StreamMapCache); 0 turns it off. */
  streamMapCacheBytes?: number;
  /** Worker threads (the default), or false to run everything on the calling thread. */
  threads?: { write?: number; read?: number } | false;
  /** File I/O seam; only with `threads: false` (the simulated disk lives in this thread). */
  io?: FileIo;
  /**
   * Only with `threads: false`: who writes sealed segments' index files (src/engine/segment-sealer.ts; tests hold
   * them back). By default the writer writes them itself at the rollover; the worker threads have a sealer thread.
   */
  sealer?: SegmentSealer;
  /**
   * Only with worker threads, for tests: the sealer thread's script (a file URL) instead of
   * workers/segment-sealer-worker.ts, such as one that dies, to exercise the writers' fallback.
   */
  sealerThreadScript?: string;
  /**
   * Size of each of a write worker's two commit log files (src/engine/commit-log.ts). By default half a segment,
   * between 64 KiB and 32 MiB; smaller values make the log switch files and checkpoint often (tests).
   */
  commitLogFileBytes?: number;
  logger?: Logger;
}

export const DEFAULTS = {
  bucketCount: 4,
  partitionCount: 32,
  segmentSizeBytes: 256 * 1024 * 1024,
  segmentSizeBytesMin: 4096,
  strictVersioning: false,
  streamCacheEntries: 100_000,
  streamMapCacheBytes: 64 * 1024 * 1024,
  readThreads: 2,
} as const;

export type Bytes = Uint8Array | string;

export interface AppendOptions {
  eventId?: Bytes;
  partitionKey?: Bytes;
  expectedVersion?: ExpectedVersion;
  timestampMs?: number;
  payload?: Bytes;
  metadata?: Bytes;
}

export interface AppendResult {
  eventId: string;
  partitionKey: string;
  partitionId: number;
  partitionSequence: number;
  streamVersion: number;
  timestampMs: number;
}

/** What an append made durable: the event as the writer stored it (ids as bytes) and what it assigned. */
export interface AppendReceipt {
  partitionKey: Uint8Array;
  partitionId: number;
  event: EventRequest;
  partitionSequence: number;
  streamVersion: number;
}

export type AppendCallback = (error: Error | undefined, receipt: AppendReceipt | undefined) => void;

export function appendResultOf(r: AppendReceipt): AppendResult {
  return {
    eventId: formatUuid(r.event.eventId),
    partitionKey: formatUuid(r.partitionKey),
    partitionId: r.partitionId,
    partitionSequence: r.partitionSequence,
    streamVersion: r.streamVersion,
    timestampMs: r.event.timestampMs,
  };
}

export interface MultiAppendEvent extends Omit<AppendOptions, 'partitionKey'> {
  streamId: string;
  eventName: string;
}

export interface MultiAppendResult {
  partitionKey: string;
  partitionId: number;
  firstPartitionSequence: number;
  lastPartitionSequence: number;
  events: { eventId: string; streamId: string; streamVersion: number; timestampMs: number }[];
}

/** An event as returned by reads. */
export interface EventRecord {
  eventId: string;
  partitionKey: string;
  partitionId: number;
  transactionId: string;
  partitionSequence: number;
  streamVersion: number;
  timestampMs: number;
  streamId: string;
  eventName: string;
  metadata: Buffer;
  payload: Buffer;
}

/**
 * Hears of an event that became durable, as its record alone in a buffer of its own: the store's layout (read it
 * with `eventRecordField`, `decodeEvent(record, 0)`), partition sequence and stream version set, checksum left zero.
 * The record is new for each event and shared by every listener: keep it, but do not change it.
 */
export type AppendedListener = (record: Buffer) => void;

export interface ScanPage {
  events: EventRecord[];
  hasMore: boolean;
}

/** The largest millisecond timestamp whose nanoseconds fit in a u64 (SierraDB stores nanoseconds). */
const TIMESTAMP_MS_MAX = 18_446_744_073_709;

export class Database {
  readonly dir: string;
  readonly bucketCount: number;
  readonly partitionCount: number;
  readonly segmentSizeBytes: number;
  readonly strictVersioning: boolean;
  readonly sharedState: SharedState;
  readonly #writes: WriteBackend;
  readonly #reads: ReadBackend;
  /** Derived partition keys of recently appended streams: a UUIDv5 is a SHA-1, too dear to compute per append. */
  readonly #derivedKeys = new TwoGenerationCache<number, { streamId: Uint8Array; partitionKey: Uint8Array }>(65_536);
  readonly #appendedListeners: AppendedListener[] = [];
  /** Wrappers of in-place appends that listeners hear of (their records go to #publishRecord). */
  readonly #capturing = new CapturingSinkPool((record) => this.#publishRecord(record));
  readonly #streamMaps: StreamMapCache;
  #closed = false;

  /** Use {@link open}. */
  constructor(init: {
    dir: string;
    bucketCount: number;
    partitionCount: number;
    segmentSizeBytes: number;
    strictVersioning: boolean;
    sharedState: SharedState;
    writes: WriteBackend;
    reads: ReadBackend;
    streamMapCacheBytes: number;
  }) {
    this.#streamMaps = new StreamMapCache(init.streamMapCacheBytes);
    this.dir = init.dir;
    this.bucketCount = init.bucketCount;
    this.partitionCount = init.partitionCount;
    this.segmentSizeBytes = init.segmentSizeBytes;
    this.strictVersioning = init.strictVersioning;
    this.sharedState = init.sharedState;
    this.#writes = init.writes;
    this.#reads = init.reads;
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Writes

  append(streamId: string, eventName: string, options: AppendOptions = {}): Promise<AppendResult> {
    return new Promise((resolve, reject) => {
      this.appendWith(streamId, eventName, options, (error, receipt) => {
        if (receipt === undefined) reject(error);
        else resolve(appendResultOf(receipt));
      });
    });
  }

  /**
   * The append beneath {@link append}, callback style and unformatted: the server's EAPPEND path, which takes the
   * stream id and event name as the bytes it received and writes its reply from the receipt's bytes, with no
   * promise per layer and no UUID text. `done` runs exactly once: with an error (invalid input, a closed
   * database, a failed write) or with the receipt once the event is durable. A stream id or event name given as
   * bytes must be UTF-8.
   */
  appendWith(streamId: string | Uint8Array, eventName: string | Uint8Array, options: AppendOptions, done: AppendCallback): void {
    let t: TransactionRequest;
    try {
      this.#assertOpen();
      const streamIdBytes = utf8Bytes(streamId, 'stream id');
      const partitionKey = options.partitionKey !== undefined ? toUuid(options.partitionKey, 'partition key') : this.#derivedKey(streamIdBytes);
      const hash = partitionHash(partitionKey);
      const partitionId = hash % this.partitionCount;
      const event = this.#eventRequest(streamIdBytes, utf8Bytes(eventName, 'event name'), options, hash, Date.now());
      t = { partitionKey, partitionId, transactionId: generateTransactionId(1), events: [event] };
    } catch (err) {
      done(err as Error, undefined);
      return;
    }
    this.#writes.submit(bucketIdForPartition(t.partitionId, this.bucketCount), t, (outcome) => {
      if (!outcome.ok) {
        done(outcome.error, undefined);
        return;
      }
      if (this.#appendedListeners.length > 0) this.#publishAppended(t, outcome.firstSequence, outcome.versions);
      done(undefined, { partitionKey: t.partitionKey, partitionId: t.partitionId, event: t.events[0], partitionSequence: outcome.firstSequence, streamVersion: outcome.versions[0] });
    });
  }

  /**
   * The server's EAPPEND hot path, step 1 (see engine/in-place-append.ts): checks the append read in place as
   * appendWith would and derives its partition. False, with nothing changed, when it is not one this path takes:
   * any check that fails (the generic path then words the error), or a closed database.
   */
  prepareAppendInPlace(o: InPlaceAppend): boolean {
    if (this.#closed) return false;
    const streamIdBytes = o.streamId.length;
    if (streamIdBytes === 0 || streamIdBytes > STREAM_ID_BYTES_MAX) return false;
    if (!isPlainText(o.streamId, true)) return false;
    if (o.eventName.length > EVENT_NAME_BYTES_MAX) return false;
    if (!isPlainText(o.eventName, false)) return false;
    if (this.strictVersioning && (o.expectedKind === ExpectedKind.any || o.expectedKind === ExpectedKind.exists)) return false;
    if (o.givenTimestampMs > TIMESTAMP_MS_MAX) return false;
    const key = o.givenPartitionKey ?? this.#derivedKeyAt(o.streamId.buffer, o.streamId.start, o.streamId.end);
    o.partitionKey = key;
    o.partitionHash = partitionHash(key);
    o.partitionId = o.partitionHash % this.partitionCount;
    o.bucketId = bucketIdForPartition(o.partitionId, this.bucketCount);
    o.nowMs = Date.now();
    return true;
  }

  /**
   * Step 2: writes the event id and partition key into `sink.ids` and queues the append for its writer, straight
   * from the request's bytes. `sink` hears once: appended (durable) or failed.
   */
  submitAppendInPlace(o: InPlaceAppend, sink: AppendSink): void {
    const ids = sink.ids;
    if (o.eventId !== undefined) for (let k = 0; k < 16; k++) ids[k] = o.eventId[k];
    else writeEventId(ids, 0, o.partitionHash, o.nowMs);
    for (let k = 0; k < 16; k++) ids[16 + k] = o.partitionKey[k];
    sink.partitionId = o.partitionId;
    sink.timestampMs = o.givenTimestampMs >= 0 ? o.givenTimestampMs : o.nowMs;
    if (this.#appendedListeners.length === 0) {
      this.#writes.submitInPlace(o.bucketId, o, sink);
      return;
    }
    // Listeners hear of it: its record is written now, while the request's bytes are still there (CapturingSink).
    const capturing = this.#capturing.take();
    capturing.capture(sink, o);
    this.#writes.submitInPlace(o.bucketId, o, capturing);
  }

  /** Appends events to one or more streams of one partition atomically: all of them or none. */
  async appendMulti(partitionKeyInput: Bytes, events: readonly MultiAppendEvent[]): Promise<MultiAppendResult> {
    this.#assertOpen();
    if (events.length === 0) throw new EngineError('INVALIDARG', 'at least one event is required');
    const partitionKey = toUuid(partitionKeyInput, 'partition key');
    const hash = partitionHash(partitionKey);
    const partitionId = hash % this.partitionCount;
    const now = Date.now();
    const requests = events.map((e) => this.#eventRequest(utf8Bytes(e.streamId, 'stream id'), utf8Bytes(e.eventName, 'event name'), e, hash, now));
    const t: TransactionRequest = { partitionKey, partitionId, transactionId: generateTransactionId(requests.length), events: requests };
    const outcome = await new Promise<TransactionOutcome>((resolve) => this.#writes.submit(bucketIdForPartition(partitionId, this.bucketCount), t, resolve));
    if (!outcome.ok) throw outcome.error;
    if (this.#appendedListeners.length > 0) this.#publishAppended(t, outcome.firstSequence, outcome.versions);
    return {
      partitionKey: formatUuid(partitionKey),
      partitionId,
      firstPartitionSequence: outcome.firstSequence,
      lastPartitionSequence: outcome.firstSequence + requests.length - 1,
      events: requests.map((r, i) => ({
        eventId: formatUuid(r.eventId),
        streamId: events[i].streamId,
        streamVersion: outcome.versions[i],
        timestampMs: r.timestampMs,
      })),
    };
  }

  /**
   * Calls `listener` with each event of every append (any path: `append`, `appendWith`, `appendMulti`, the in-place
   * EAPPEND) once the writer has made it durable and published it, before the append's reply or promise; the
   * events of one append in sequence order. Completions of different appends may arrive in any order, also within
   * a partition. A listener that throws is logged nowhere and does not fail the append. Returns a function that
   * removes the listener.
   *
   * Appends submitted while there was no listener are not reported, even if they complete after this call: a
   * listener that must hear of every append from some point on waits for {@link onceAppendsReported}.
   */
  onAppended(listener: AppendedListener): () => void {
    this.#appendedListeners.push(listener);
    return () => {
      const i = this.#appendedListeners.indexOf(listener);
      if (i >= 0) this.#appendedListeners.splice(i, 1);
    };
  }

  /**
   * Calls `callback` once every append that was submitted while there was no `onAppended` listener (so is never
   * reported) has completed: from then on, every append that completes is reported to the listeners there are.
   * Now, if none is in flight.
   */
  onceAppendsReported(callback: () => void): void {
    this.#writes.onceInPlaceSettled(callback);
  }

  /** The events of a transaction (`append`, `appendMulti`) to the listeners, as records. */
  #publishAppended(t: TransactionRequest, firstSequence: number, versions: readonly number[]): void {
    for (let i = 0; i < t.events.length; i++) {
      const e = t.events[i];
      const record = Buffer.allocUnsafe(eventRecordBytes(e.streamId.length, e.eventName.length, e.metadata.length, e.payload.length));
      encodeEventRecord(
        record,
        0,
        {
          eventId: e.eventId,
          partitionKey: t.partitionKey,
          transactionId: t.transactionId,
          partitionId: t.partitionId,
          timestampMs: e.timestampMs,
          streamId: e.streamId,
          eventName: e.eventName,
          metadata: e.metadata,
          payload: e.payload,
        },
        firstSequence + i,
        versions[i],
        1,
        false,
      );
      this.#publishRecord(record);
    }
  }

  #publishRecord(record: Buffer): void {
    for (const listener of this.#appendedListeners) {
      try {
        listener(record);
      } catch {
        // a listener's failure is its own; the append succeeded
      }
    }
  }

  #derivedKey(streamId: Buffer): Uint8Array {
    return this.#derivedKeyAt(streamId, 0, streamId.length);
  }

  /** The derived partition key of the stream id `bytes[start .. end)`, from the cache when it is there. */
  #derivedKeyAt(bytes: Uint8Array, start: number, end: number): Uint8Array {
    // Keyed by a hash of the bytes (no string per append); the entry keeps the bytes to rule out a collision,
    // which then just computes the key (and takes the slot).
    const length = end - start;
    const hash = murmur3x32(bytes, DERIVED_KEY_SEED, start, length);
    const entry = this.#derivedKeys.get(hash);
    if (entry !== undefined && entry.streamId.length === length) {
      const kept = entry.streamId;
      let same = true;
      for (let i = 0; i < length && same; i++) same = kept[i] === bytes[start + i];
      if (same) return entry.partitionKey;
    }
    const streamId = Uint8Array.prototype.slice.call(bytes, start, end);
    const partitionKey = partitionKeyForStream(streamId);
    this.#derivedKeys.set(hash, { streamId, partitionKey });
    return partitionKey;
  }

  #eventRequest(streamIdBytes: Buffer, eventNameBytes: Buffer, o: AppendOptions, hash: number, now: number): EventRequest {
    if (streamIdBytes.length === 0 || streamIdBytes.length > STREAM_ID_BYTES_MAX || streamIdBytes.indexOf(0) !== -1) {
      throw new EngineError('INVALIDARG', `invalid stream id: must be 1 to ${STREAM_ID_BYTES_MAX} bytes of UTF-8 without NUL`);
    }
    if (eventNameBytes.length > EVENT_NAME_BYTES_MAX) {
      throw new EngineError('DBOPFAILED', `database operation failed: string too long: length is ${eventNameBytes.length}, maximum allowed is ${EVENT_NAME_BYTES_MAX}`);
    }
    const expected = o.expectedVersion ?? 'any';
    if (this.strictVersioning && (expected === 'any' || expected === 'exists')) {
      throw new EngineError('INVALIDARG', `strict versioning mode rejects EXPECTED_VERSION ${expected}`);
    }
    if (typeof expected === 'number' && !(Number.isSafeInteger(expected) && expected >= 0)) {
      throw new EngineError('INVALIDARG', 'expected version must be a non-negative integer');
    }
    const timestampMs = o.timestampMs ?? now;
    if (!Number.isSafeInteger(timestampMs) || timestampMs < 0 || timestampMs > TIMESTAMP_MS_MAX) {
      throw new EngineError('INVALIDARG', 'invalid timestamp format: expected milliseconds, got nanoseconds');
    }
    return {
      eventId: o.eventId !== undefined ? toUuid(o.eventId, 'event id') : generateEventId(hash, now),
      streamId: streamIdBytes,
      eventName: eventNameBytes,
      expectedKind: expectedKindOf(expected),
      expectedVersion: typeof expected === 'number' ? expected : 0,
      timestampMs,
      metadata: toBytes(o.metadata),
      payload: toBytes(o.payload),
    };
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Reads

  async getEvent(eventId: Bytes): Promise<EventRecord | undefined> {
    this.#assertOpen();
    return decodeBatch(await this.getEventRaw(toUuid(eventId, 'event id')))[0];
  }

  /**
   * The raw record, or with `encoding` the event already encoded as a RESP map (the server's path: the reader's
   * thread encodes, the main thread copies bytes).
   */
  getEventRaw(eventId: Uint8Array, encoding?: ReadEncoding): Promise<RecordBatch> {
    return this.#reads.getEvent(eventId, encoding);
  }

  /** Events of `streamId` with versions in [from, to] (inclusive), at most `count` (default 100). */
  async scanStream(streamId: string, from = 0, to = Number.MAX_SAFE_INTEGER, options: { partitionKey?: Bytes; count?: number } = {}): Promise<ScanPage> {
    this.#assertOpen();
    const r = await this.scanStreamRaw(streamId, from, to, options.count ?? 100, options.partitionKey !== undefined ? toUuid(options.partitionKey, 'partition key') : undefined);
    return { events: decodeBatch(r), hasMore: r.hasMore };
  }

  scanStreamRaw(streamId: string, from: number, to: number, count: number, partitionKey?: Uint8Array, encoding?: ReadEncoding): Promise<ScanResult> {
    // The derived key from the cache, so that neither the routing to a read worker nor the worker hashes it again.
    const key = partitionKey ?? this.#derivedKey(Buffer.from(streamId, 'utf8'));
    if (encoding?.resp === 3 && this.#streamMaps.budgetBytes > 0) return this.#scanStreamCached(streamId, from, to, count, key);
    return this.#reads.scanStream(streamId, key, from, to, count, encoding);
  }

  /** A RESP3 stream page from the StreamMapCache when it can answer exactly, else read (and cached). */
  async #scanStreamCached(streamId: string, from: number, to: number, count: number, key: Uint8Array): Promise<ScanResult> {
    const bucketId = bucketIdForPartition(partitionHash(key) % this.partitionCount, this.bucketCount);
    const hit = this.#streamMaps.read(bucketId, streamId, from, to, count);
    if (hit !== undefined) return { count: hit.maps.length, hasMore: hit.hasMore, records: NO_RECORDS, parts: hit.maps };
    const r = await this.#reads.scanStream(streamId, key, from, to, count, RESP3_WITH_BOUNDS);
    if (r.resp !== undefined && r.bounds !== undefined) this.#streamMaps.add(bucketId, streamId, from, r.resp, r.bounds, r.count);
    return r;
  }

  /** The stream's latest version, or undefined if it has no events. */
  async streamVersion(streamId: string, options: { partitionKey?: Bytes } = {}): Promise<number | undefined> {
    this.#assertOpen();
    const v = await this.#reads.streamVersion(streamId, options.partitionKey !== undefined ? toUuid(options.partitionKey, 'partition key') : undefined);
    return v < 0 ? undefined : v;
  }

  /** Events of a partition (id, or a UUID partition key) with sequences in [from, to], at most `count` (default 100). */
  async scanPartition(partition: number | Bytes, from = 0, to = Number.MAX_SAFE_INTEGER, options: { count?: number } = {}): Promise<ScanPage> {
    this.#assertOpen();
    const r = await this.scanPartitionRaw(this.partitionIdOf(partition), from, to, options.count ?? 100);
    return { events: decodeBatch(r), hasMore: r.hasMore };
  }

  /** `recyclable`: see ReadBackend.scanPartition. */
  scanPartitionRaw(partitionId: number, from: number, to: number, count: number, encoding?: ReadEncoding, recyclable = false) {
    return this.#reads.scanPartition(partitionId, from, to, count, encoding, recyclable);
  }

  /** The partition's latest durable sequence, or undefined if it is empty. */
  partitionSequence(partition: number | Bytes): number | undefined {
    this.#assertOpen();
    const w = this.sharedState.watermark(this.partitionIdOf(partition));
    return w === 0 ? undefined : w - 1;
  }

  partitionIdOf(partition: number | Bytes): number {
    if (typeof partition === 'number') {
      if (!Number.isInteger(partition) || partition < 0 || partition >= this.partitionCount) {
        throw new EngineError('INVALIDARG', `partition id ${partition} is out of range 0..${this.partitionCount - 1}`);
      }
      return partition;
    }
    return partitionHash(toUuid(partition, 'partition key')) % this.partitionCount;
  }

  /** The ESCAN page cache's counters (StreamMapCache). */
  streamMapCacheStats(): { hits: number; misses: number; bytes: number; budgetBytes: number } {
    const c = this.#streamMaps;
    return { hits: c.hits, misses: c.misses, bytes: c.bytes, budgetBytes: c.budgetBytes };
  }

  /** Read result buffers that went round between the threads (BufferPool); zeros when reads run here. */
  resultBufferStats(): BufferPoolStats {
    return this.#reads.resultBufferStats?.() ?? { reused: 0, allocated: 0, pooled: 0 };
  }

  /** Times the read workers were asked to follow their active segments ahead of the reads; 0 when reads run here. */
  readerFollows(): number {
    return this.#reads.follows ?? 0;
  }

  writerStats(): Promise<BucketWriterStats[]> {
    return this.#writes.stats();
  }

  /** Group-commit rounds, and how they were made durable (commit log, segment files), over every write worker. */
  commitStats(): Promise<GroupCommitStats> {
    return this.#writes.commitStats();
  }

  get closed(): boolean {
    return this.#closed;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#writes.close();
    await this.#reads.close();
  }

  #assertOpen(): void {
    if (this.#closed) throw new EngineError('WRITEERR', 'the database is closed');
  }
}

export async function open(dir: string, options: DatabaseOptions = {}): Promise<Database> {
  const bucketCount = options.bucketCount ?? DEFAULTS.bucketCount;
  const partitionCount = options.partitionCount ?? DEFAULTS.partitionCount;
  const segmentSizeBytes = options.segmentSizeBytes ?? DEFAULTS.segmentSizeBytes;
  if (!(Number.isInteger(bucketCount) && bucketCount >= 1 && bucketCount <= partitionCount)) {
    throw new RangeError(`bucket count must be between 1 and the partition count (${partitionCount})`);
  }
  if (!(Number.isInteger(partitionCount) && partitionCount >= 1 && partitionCount <= 65536)) throw new RangeError('partition count must be 1..65536');
  if (!(Number.isInteger(segmentSizeBytes) && segmentSizeBytes >= DEFAULTS.segmentSizeBytesMin && segmentSizeBytes <= 2 ** 40)) {
    throw new RangeError(`segment size must be at least ${DEFAULTS.segmentSizeBytesMin} bytes`);
  }
  const commitLogBytes = options.commitLogFileBytes ?? commitLogFileBytes(segmentSizeBytes);
  if (!(Number.isInteger(commitLogBytes) && commitLogBytes >= COMMIT_LOG_FILE_BYTES_MIN && commitLogBytes <= 2 ** 31)) {
    throw new RangeError(`commit log file size must be an integer of ${COMMIT_LOG_FILE_BYTES_MIN} to 2^31 bytes`);
  }
  const io = options.io ?? nodeFileIo;
  openMeta(io, dir, { bucketCount, partitionCount, segmentSizeBytes });
  // Rounds a power cut left in the commit logs only go back into their segment files before any bucket recovers.
  replayCommitLogs(io, dir, options.logger);
  const sharedState = SharedState.create(bucketCount, partitionCount);
  const common = {
    dir,
    bucketCount,
    partitionCount,
    segmentSizeBytes,
    strictVersioning: options.strictVersioning ?? DEFAULTS.strictVersioning,
    sharedState,
    streamMapCacheBytes: options.streamMapCacheBytes ?? DEFAULTS.streamMapCacheBytes,
  };
  if (options.threads === false) {
    const writers = Array.from({ length: bucketCount }, (_, bucketId) =>
      BucketWriter.open({
        io,
        dir,
        bucketId,
        partitionCount,
        bucketCount,
        segmentSizeBytes,
        streamCacheEntries: options.streamCacheEntries ?? DEFAULTS.streamCacheEntries,
        sharedState,
        logger: options.logger,
        sealer: options.sealer,
      }),
    );
    const log = bucketCount > 1 ? CommitLog.createOrWarn(io, dir, 0, commitLogBytes, options.logger) : undefined;
    const group = new GroupCommit({ io, writers, log, logger: options.logger });
    const reader = new StoreReader({ io, dir, bucketCount, partitionCount, segmentSizeBytes, sharedState, logger: options.logger });
    return new Database({ ...common, writes: new InProcessWriteBackend(writers, group), reads: new InProcessReadBackend(reader) });
  }
  if (options.io !== undefined) throw new RangeError('a custom FileIo needs threads: false');
  if (options.sealer !== undefined) throw new RangeError('a custom sealer needs threads: false');
  const { openThreadedBackends } = await import('./engine/threaded-backends.ts');
  const backends = await openThreadedBackends({
    dir,
    bucketCount,
    partitionCount,
    segmentSizeBytes,
    sharedState,
    streamCacheEntries: options.streamCacheEntries ?? DEFAULTS.streamCacheEntries,
    writeThreads: options.threads?.write ?? defaultWriteThreads(bucketCount, os.availableParallelism()),
    readThreads: options.threads?.read ?? DEFAULTS.readThreads,
    logLevel: options.logger?.level,
    sealerScript: options.sealerThreadScript,
    commitLogFileBytes: commitLogBytes,
  });
  return new Database({ ...common, ...backends });
}

export function decodeEvent(buf: Buffer, at: number): EventRecord {
  return toEventRecord(decodeEventRecord(buf, at));
}

export function toEventRecord(e: StoredEvent): EventRecord {
  return {
    eventId: formatUuid(e.eventId),
    partitionKey: formatUuid(e.partitionKey),
    partitionId: e.partitionId,
    transactionId: formatUuid(e.transactionId),
    partitionSequence: e.partitionSequence,
    streamVersion: e.streamVersion,
    timestampMs: e.timestampMs,
    streamId: e.streamId,
    eventName: e.eventName,
    metadata: e.metadata,
    payload: e.payload,
  };
}

export function decodeBatch(batch: RecordBatch): EventRecord[] {
  const out: EventRecord[] = [];
  forEachRecord(batch, (buf, at) => out.push(decodeEvent(buf, at)));
  return out;
}

function toUuid(value: Bytes, what: string): Uint8Array {
  if (typeof value !== 'string') {
    if (value.length !== 16) throw new EngineError('INVALIDARG', `invalid ${what}: expected 16 bytes`);
    return value;
  }
  const u = parseUuid(value);
  if (u === undefined) throw new EngineError('INVALIDARG', `invalid ${what}: '${value}' is not a UUID`);
  return u;
}

const DERIVED_KEY_SEED = 0x5eed_5d8;
const NO_RECORDS = Buffer.alloc(0);
const RESP3_WITH_BOUNDS = { resp: 3, bounds: true } as const;

/**
 * Whether the range's bytes are UTF-8 (and, with `noNul`, have no NUL byte): a loop for the ASCII that stream ids
 * and event names nearly always are, isUtf8 otherwise.
 */
function isPlainText(range: ByteRange, noNul: boolean): boolean {
  const { buffer: bytes, start, end } = range;
  let ascii = true;
  for (let i = start; i < end; i++) {
    const b = bytes[i];
    if (b === 0 && noNul) return false;
    if (b >= 0x80) ascii = false;
  }
  return ascii || isUtf8(bytes.subarray(start, end));
}

/** Text as UTF-8 bytes; bytes as they are (as a Buffer view), once checked to be UTF-8. */
function utf8Bytes(value: string | Uint8Array, what: string): Buffer {
  if (typeof value === 'string') return Buffer.from(value, 'utf8');
  if (!isUtf8(value)) throw new EngineError('INVALIDARG', `invalid ${what}: not valid UTF-8`);
  return Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
}

function toBytes(value: Bytes | undefined): Uint8Array {
  if (value === undefined) return EMPTY;
  return typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
}

const EMPTY = new Uint8Array(0);
