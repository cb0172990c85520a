/**
 * The single writer of one bucket: it owns the bucket's active segment, its live indexes, its partitions' next
 * sequences and its streams' versions. Everything here is synchronous; the write worker drives it from a loop, and
 * the in-process engine from a microtask.
 *
 * Group commit: a batch is staged (validated, sequenced, encoded into one buffer), then written with one positioned
 * write and made durable with one fdatasync, and only then applied to the live state, published to readers and
 * acknowledged. Appends that arrive while an fdatasync is in flight form the next batch, so batches grow with load.
 *
 * Failure policy:
 * - A failed write (ENOSPC, EIO) rolls the batch back: the file is cut back to the last durable offset and the
 *   batch's transactions fail with WRITEERR; later batches may succeed (space may come back).
 * - A failed fdatasync poisons the bucket ("fsyncgate"): the kernel may have dropped the dirty pages, so retrying
 *   could acknowledge data that is gone. Every later append fails until the database is reopened and recovery
 *   has re-read what is really on disk.
 */
import { internedText } from '../../native-free-io/text-interner.ts';
import type { Logger } from 'pino';
import { datasyncFailure, mkdirDurable, type FileHandle, type FileIo } from '../../native-free-io/file-io.ts';
import { CHECKPOINT_FILE, DATA_FILE, listSegmentIds, segmentDir, segmentFile, segmentsDir } from '../../native-free-io/data-layout.ts';
import { CHECKPOINT_BYTES, CHECKPOINT_INTERVAL_BYTES, encodeCheckpoint, readCheckpoint } from '../../native-free-io/segment-checkpoint.ts';
import {
  COMMIT_RECORD_BYTES,
  decodeSegmentHeader,
  encodeCommitRecord,
  encodeEventRecordFrom,
  newEventRecordHead,
  encodeSegmentHeader,
  EVENT_BODY_FIXED_BYTES,
  RECORD_HEADER_BYTES,
  SEGMENT_HEADER_BYTES,
  SegmentFormatError,
} from '../../native-free-io/segment-format.ts';
import { scanCommitted, type CommittedEvent, type CommittedScanResult } from '../../native-free-io/segment-scanner.ts';
import { formatUuid } from '../ids/partition-key.ts';
import type { SharedState } from '../threads/shared-state.ts';
import { appendFrame as F, appendRequestBytes, encodeAppendRequest } from '../threads/write-messages.ts';
import { EngineError } from './engine-error.ts';
import { nextVersion, wrongVersionError } from './expected-version.ts';
import { LruCache } from './lru-cache.ts';
import { SealedSegment } from './sealed-segment.ts';
import { SegmentIndex } from './segment-index.ts';
import type { SegmentSealer } from './segment-sealer.ts';
import { BatchOutcomes } from './batch-outcomes.ts';
import type { LogEntry } from '../../native-free-io/commit-log-format.ts';

export interface EventRequest {
  eventId: Uint8Array;
  streamId: Buffer; // UTF-8, 1..64 bytes
  eventName: Buffer; // UTF-8, 0..255 bytes
  expectedKind: number; // ExpectedKind
  expectedVersion: number;
  timestampMs: number;
  metadata: Uint8Array;
  payload: Uint8Array;
}

export interface TransactionRequest {
  partitionKey: Uint8Array;
  partitionId: number;
  transactionId: Uint8Array;
  events: EventRequest[];
}

export type TransactionOutcome =
  | { ok: true; firstSequence: number; versions: number[] }
  | { ok: false; error: EngineError };

export interface BucketWriterOptions {
  io: FileIo;
  dir: string;
  bucketId: number;
  partitionCount: number;
  bucketCount: number;
  segmentSizeBytes: number;
  /** Streams whose last version lives in a sealed segment, kept resident (LRU). */
  streamCacheEntries: number;
  sharedState?: SharedState;
  logger?: Logger;
  /** Clock for new segment headers (tests pin it). */
  now?: () => number;
  /**
   * Writes sealed segments' index files off this writer's loop (segment-sealer.ts); needs `sharedState`. Without
   * one the writer writes them itself at the rollover, before the next segment takes appends.
   */
  sealer?: SegmentSealer;
}

export interface BucketWriterStats {
  batches: number;
  fsyncs: number;
  events: number;
  transactions: number;
  failedTransactions: number;
  rollovers: number;
  bytesWritten: number;
}

interface StreamState {
  partitionKey: Uint8Array;
  lastVersion: number;
}

/** The events of the batch being staged, field by field: where each record starts in the batch buffer, and what the index needs. */
class StagedEvents {
  readonly at: number[] = [];
  readonly partitionId: number[] = [];
  readonly sequence: number[] = [];
  readonly streamId: string[] = [];
  readonly version: number[] = [];

  get length(): number {
    return this.at.length;
  }

  clear(): void {
    this.at.length = 0;
    this.partitionId.length = 0;
    this.sequence.length = 0;
    this.streamId.length = 0;
    this.version.length = 0;
  }
}

const BATCH_BUFFER_INITIAL_BYTES = 1 << 20;

/**
 * Pre-zeroing. A segment file is created sparse (full length, no blocks), so an fdatasync after appending into
 * new blocks must also commit their allocation to the journal, and concurrent buckets then serialize on it.
 * Measured on ext4 here: write+fdatasync 178 µs into sparse blocks vs 116 µs into already written blocks, and
 * 8.4k vs 12.6k fsyncs/s with four writers. So each writer keeps a zeroed region ahead of its write offset,
 * extended while idle (and inline, a chunk at a time, when load leaves no idle moment).
 */
const ZEROS = Buffer.alloc(1 << 20);
const PREZERO_AHEAD_BYTES = 8 << 20;
const PREZERO_LOW_WATER_BYTES = 4 << 20;
const PAGE_BYTES = 4096;

export class BucketWriter {
  readonly bucketId: number;
  readonly stats: BucketWriterStats = { batches: 0, fsyncs: 0, events: 0, transactions: 0, failedTransactions: 0, rollovers: 0, bytesWritten: 0 };

  readonly #o: BucketWriterOptions;
  readonly #log: Logger | undefined;
  readonly #sealed: SealedSegment[] = []; // ascending segment id
  /** Segments handed to the sealer whose index files are not written yet, oldest first, with their in-memory index. */
  readonly #sealing: { segmentId: number; index: SegmentIndex }[] = [];
  /** The sealer's thread died (sealHere): later rollovers seal on this writer. */
  #sealerGone = false;
  #segmentId = 0;
  #data!: FileHandle;
  /** Durable end of the active segment: everything below it is fdatasynced. */
  #durableOffset = SEGMENT_HEADER_BYTES;
  /** Blocks of the active segment below this offset are written (data or zeros); above it the file is sparse. */
  #zeroedEnd = SEGMENT_HEADER_BYTES;
  #prezeroFailed = false;
  /** The active segment's checkpoint file (segment-checkpoint.ts), opened when first written. */
  #checkpoint: FileHandle | undefined;
  /** The offset the checkpoint file holds (or the segment header's end when there is none). */
  #checkpointed = SEGMENT_HEADER_BYTES;
  /** Writing the checkpoint failed once: the writer stops trying (recovery then verifies more; nothing is lost). */
  #checkpointFailed = false;
  readonly #checkpointBuf = Buffer.alloc(CHECKPOINT_BYTES);
  #live = new SegmentIndex();
  readonly #nextSequence = new Map<number, number>();
  readonly #streamCache: LruCache<string, StreamState>;
  #poisoned: Error | undefined;
  #closed = false;

  // The batch being staged.
  #buf: Buffer = Buffer.allocUnsafe(BATCH_BUFFER_INITIAL_BYTES);
  #bufLength = 0;
  readonly #staged = new StagedEvents();
  /** Scratch for the fixed fields of the record being encoded. */
  readonly #head = newEventRecordHead();
  /** Streams with staged events: the index (in #staged) of the stream's latest staged event. */
  #stagedStreams = new Map<string, number>();
  #stagedSequences = new Map<number, number>();
  /** Outcomes of the batch's transactions; a successful one stays provisional until the batch is durable. */
  readonly #outcomes = new BatchOutcomes();
  /** The outcomes were handed out by commitBatch: the next stage starts a new batch. */
  #outcomesTaken = false;
  /** The first outcome staged since the last flush. */
  #unflushedFrom = 0;
  /** A transaction's versions and stream ids while it is validated (grown, never shrunk). */
  readonly #txVersions: number[] = [];
  readonly #txStreamIds: string[] = [];
  /** Set by #durableVersion: the partition key of the stream it found. */
  #foundKey: Uint8Array = new Uint8Array(16);

  private constructor(o: BucketWriterOptions) {
    this.#o = o;
    this.bucketId = o.bucketId;
    this.#log = o.logger;
    this.#streamCache = new LruCache(Math.max(1, o.streamCacheEntries));
  }

  /** Opens the bucket: recovers the active segment, loads sealed indexes, publishes the recovered state. */
  static open(o: BucketWriterOptions): BucketWriter {
    const w = new BucketWriter(o);
    w.#recover();
    return w;
  }

  get segmentId(): number {
    return this.#segmentId;
  }

  get durableOffset(): number {
    return this.#durableOffset;
  }

  get poisoned(): Error | undefined {
    return this.#poisoned;
  }

  nextSequence(partitionId: number): number {
    return this.#nextSequence.get(partitionId) ?? 0;
  }

  /** The stream's last durable version, or -1 (for tests and tools). */
  streamVersion(streamId: string): number {
    return this.#durableVersion(streamId);
  }

  cacheStats(): { hits: number; misses: number; entries: number; evictions: number; capacity: number } {
    const c = this.#streamCache;
    return { hits: c.hits, misses: c.misses, entries: c.size, evictions: c.evictions, capacity: c.capacity };
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Appending

  /** Stages, writes and syncs the transactions as one batch; returns one outcome per transaction, in order. */
  appendBatch(transactions: readonly TransactionRequest[]): TransactionOutcome[] {
    for (const t of transactions) this.stage(t);
    return this.commitBatch().toArray();
  }

  /**
   * Validates and encodes one transaction into the current batch; its outcome comes from {@link commitBatch}. The
   * in-process path: the transaction is laid out as a write request frame and staged like the worker's.
   */
  stage(t: TransactionRequest): void {
    const frame = Buffer.allocUnsafe(appendRequestBytes(t));
    encodeAppendRequest(frame, this.bucketId, 0, t);
    this.stageFrame(frame);
  }

  /**
   * Validates and encodes the transaction of an append request frame (threads/write-messages.ts) into the current
   * batch, reading the frame in place: no object per event. Nothing keeps a view of the frame after this returns.
   */
  stageFrame(frame: Buffer, at = 0): void {
    if (this.#sealing.length > 0) this.#collectSealed();
    if (this.#outcomesTaken) {
      this.#outcomesTaken = false;
      this.#outcomes.clear();
      this.#unflushedFrom = 0;
    }
    const failure = this.#stageOrFail(frame, at);
    if (failure !== undefined) {
      this.#outcomes.addFailed(failure);
      this.stats.failedTransactions++;
    }
  }

  /**
   * Writes and fdatasyncs the staged batch, applies it, publishes it; returns the outcomes, one per staged
   * transaction in order. The returned object is this writer's own: valid until the next stage.
   */
  commitBatch(): BatchOutcomes {
    this.#flush();
    return this.#takeOutcomes();
  }

  /**
   * commitBatch in two halves, for a write worker that syncs several buckets at once: writeBatch writes the staged
   * batch and returns the handle to fdatasync (undefined when there is nothing to sync: the batch was empty, or its
   * write failed and its transactions have failed); {@link finishBatch} then takes the sync's outcome. Nothing may be
   * staged in between.
   */
  writeBatch(): FileHandle | undefined {
    return this.#writeStaged() ? this.#data : undefined;
  }

  /**
   * What the last writeBatch wrote (it returned a handle), as a commit log entry: valid until finishBatch. A
   * worker whose round touches several buckets logs these and syncs its log instead of each segment file.
   */
  writtenEntry(): LogEntry {
    return { bucketId: this.bucketId, segmentId: this.#segmentId, offset: this.#durableOffset, bytes: this.#buf.subarray(0, this.#bufLength) };
  }

  /** The active segment's data file (a checkpoint syncs it through a handle of its own). */
  get activeDataPath(): string {
    return this.#data.path;
  }

  /** fdatasync of the active segment's data file, here and now. Throws on failure; the caller poisons the bucket. */
  syncData(): void {
    this.#data.datasync();
  }

  /**
   * Stops this bucket from accepting writes until the database is reopened: an fdatasync that covers its data
   * failed somewhere else (its write worker's commit log, or a checkpoint of its segment file).
   */
  poison(err: Error): void {
    this.#poison(err);
  }

  /** The second half of {@link writeBatch}: `syncError` is the fdatasync's failure, or null once it succeeded. */
  finishBatch(syncError: Error | null): BatchOutcomes {
    if (this.#bufLength > 0) this.#afterSync(syncError);
    return this.#takeOutcomes();
  }

  #takeOutcomes(): BatchOutcomes {
    this.#outcomesTaken = true;
    this.stats.batches++;
    return this.#outcomes;
  }

  /** Validates, sequences and encodes the transaction of the request frame at `f[b..]` into the batch. */
  #stageOrFail(f: Buffer, b: number): EngineError | undefined {
    if (this.#closed) return new EngineError('WRITEERR', `bucket ${this.bucketId} is closed`);
    if (this.#poisoned !== undefined) {
      return new EngineError('WRITEERR', `bucket ${this.bucketId} stopped accepting writes after an fsync failure (${this.#poisoned.message}); reopen the database`);
    }
    const count = f.readUInt16LE(b + F.EVENT_COUNT_AT);
    if (count === 0) return new EngineError('INVALIDARG', 'a transaction needs at least one event');
    let size = count > 1 ? COMMIT_RECORD_BYTES : 0;
    for (let i = 0, p = b + F.FIRST_EVENT_AT; i < count; i++) {
      const variable = eventVariableBytes(f, p);
      size += RECORD_HEADER_BYTES + EVENT_BODY_FIXED_BYTES + variable;
      p += F.EVENT_HEAD_BYTES + variable;
    }
    const capacity = this.#o.segmentSizeBytes - SEGMENT_HEADER_BYTES;
    if (size > capacity) return new EngineError('DBOPFAILED', 'database operation failed: events exceed the size of a single segment');
    if (this.#durableOffset + this.#bufLength + size > this.#o.segmentSizeBytes) {
      // The transaction does not fit in the active segment: make what is staged durable there, then roll over.
      this.#flush();
      if (this.#poisoned !== undefined) return this.#stageOrFail(f, b);
      try {
        this.#rollover();
      } catch (err) {
        this.#log?.error({ bucket: this.bucketId, segment: this.#segmentId, err: String(err) }, 'segment rollover failed');
        return new EngineError('WRITEERR', `write failed: could not start a new segment: ${(err as Error).message}`);
      }
    }

    // Validate every event against the running state; nothing is changed until all pass. Within a transaction a
    // stream's running version is in `local` (made only for several events).
    const keyAt = b + F.PARTITION_KEY_AT;
    const versions = this.#txVersions;
    const streamIds = this.#txStreamIds;
    let local: Map<string, number> | undefined;
    for (let i = 0, p = b + F.FIRST_EVENT_AT; i < count; i++) {
      const streamIdBytes = f[p + F.EVENT_STREAM_ID_BYTES_AT];
      const streamId = internedText(f, p + F.EVENT_HEAD_BYTES, p + F.EVENT_HEAD_BYTES + streamIdBytes);
      streamIds[i] = streamId;
      let cur = local?.get(streamId);
      if (cur === undefined) {
        const stagedIndex = this.#stagedStreams.get(streamId);
        let key: Uint8Array;
        let keyOffset = 0;
        if (stagedIndex !== undefined) {
          cur = this.#staged.version[stagedIndex];
          key = this.#buf;
          keyOffset = this.#staged.at[stagedIndex] + RECORD_HEADER_BYTES + 16;
        } else {
          try {
            cur = this.#durableVersion(streamId);
          } catch (err) {
            // A sealed segment's stream index could not be read (EIO, or damage found after it was opened). Nothing
            // of this transaction is staged yet, so it alone fails; an exception here would kill the writer's loop.
            this.#log?.error({ bucket: this.bucketId, stream: streamId, err: String(err) }, 'stream version lookup failed');
            return new EngineError('READERR', `read error: could not read the version of stream ${streamId}: ${(err as Error).message}`);
          }
          key = this.#foundKey;
        }
        if (cur >= 0 && !bytesEqualAt(key, keyOffset, f, keyAt)) {
          return new EngineError(
            'DBOPFAILED',
            `database operation failed: partition key must be the same for all events in a stream: expected ${formatUuid(key.subarray(keyOffset, keyOffset + 16))}, got ${formatUuid(f.subarray(keyAt, keyAt + 16))}`,
          );
        }
      }
      const kind = f[p + F.EVENT_EXPECTED_KIND_AT];
      const expected = f.readDoubleLE(p + F.EVENT_EXPECTED_VERSION_AT);
      const v = nextVersion(kind, expected, cur);
      if (v < 0) return wrongVersionError(cur, kind, expected, f.subarray(keyAt, keyAt + 16), streamId);
      versions[i] = v;
      if (count > 1) (local ??= new Map()).set(streamId, v);
      p += F.EVENT_HEAD_BYTES + eventVariableBytes(f, p);
    }

    // Sequence and encode.
    const partitionId = f.readUInt16LE(b + F.PARTITION_ID_AT);
    const firstSequence = this.#stagedSequences.get(partitionId) ?? this.nextSequence(partitionId);
    this.#ensureCapacity(size);
    const buf = this.#buf;
    const h = this.#head;
    h.partitionId = partitionId;
    this.#outcomes.addStaged(firstSequence);
    const staged = this.#staged;
    for (let i = 0, p = b + F.FIRST_EVENT_AT; i < count; i++) {
      h.streamIdBytes = f[p + F.EVENT_STREAM_ID_BYTES_AT];
      h.eventNameBytes = f[p + F.EVENT_NAME_BYTES_AT];
      h.metadataBytes = f.readUInt32LE(p + F.EVENT_METADATA_BYTES_AT);
      h.payloadBytes = f.readUInt32LE(p + F.EVENT_PAYLOAD_BYTES_AT);
      h.partitionSequence = firstSequence + i;
      h.streamVersion = versions[i];
      h.timestampMs = f.readDoubleLE(p + F.EVENT_TIMESTAMP_AT);
      const at = this.#bufLength;
      this.#bufLength += encodeEventRecordFrom(buf, at, h, f, p, keyAt, b + F.TRANSACTION_ID_AT, f, p + F.EVENT_HEAD_BYTES);
      // The stream's latest staged event: its version and (in the batch buffer) its partition key.
      this.#stagedStreams.set(streamIds[i], staged.length);
      staged.at.push(at);
      staged.partitionId.push(partitionId);
      staged.sequence.push(h.partitionSequence);
      staged.streamId.push(streamIds[i]);
      staged.version.push(versions[i]);
      this.#outcomes.addVersion(versions[i]);
      p += F.EVENT_HEAD_BYTES + h.streamIdBytes + h.eventNameBytes + h.metadataBytes + h.payloadBytes;
    }
    if (count > 1) {
      const timestampMs = f.readDoubleLE(b + F.FIRST_EVENT_AT + F.EVENT_TIMESTAMP_AT);
      this.#bufLength += encodeCommitRecord(buf, this.#bufLength, f.subarray(b + F.TRANSACTION_ID_AT, b + F.TRANSACTION_ID_AT + 16), count, firstSequence, timestampMs);
    }
    this.#stagedSequences.set(partitionId, firstSequence + count);
    this.stats.transactions++;
    return undefined;
  }

  #ensureCapacity(extra: number): void {
    const need = this.#bufLength + extra;
    if (need <= this.#buf.length) return;
    let size = this.#buf.length;
    while (size < need) size *= 2;
    const grown = Buffer.allocUnsafe(size);
    this.#buf.copy(grown, 0, 0, this.#bufLength);
    this.#buf = grown;
  }

  /** Writes and syncs what is staged; on success applies and publishes it, on failure fails those transactions. */
  #flush(): void {
    if (this.#writeStaged()) this.#afterSync(datasyncFailure(this.#data));
  }

  /**
   * Writes the staged batch after the durable end; true if it now needs an fdatasync. False when nothing was staged
   * or the write failed (its transactions have failed and the segment is cut back).
   */
  #writeStaged(): boolean {
    if (this.#bufLength === 0) {
      this.#resetStaging();
      return false;
    }
    const start = this.#durableOffset;
    const length = this.#bufLength;
    try {
      this.#data.write(this.#buf.subarray(0, length), start);
      if (start + length > this.#zeroedEnd) this.#zeroedEnd = start + length;
      if (!this.#prezeroFailed && this.#zeroedEnd - (start + length) < PREZERO_LOW_WATER_BYTES / 4) this.#zeroTo(start + length + PREZERO_AHEAD_BYTES);
    } catch (err) {
      this.#log?.error({ bucket: this.bucketId, segment: this.#segmentId, offset: start, err: String(err) }, 'segment write failed; rolling the batch back');
      this.#failUnflushed(new EngineError('WRITEERR', `write failed: ${(err as Error).message}`));
      this.#rollBackTo(start);
      return false;
    }
    return true;
  }

  /** After the fdatasync of what #writeStaged wrote: on success applies and publishes it, else poisons the bucket. */
  #afterSync(syncError: Error | null): void {
    if (syncError !== null) {
      this.#poison(syncError);
      this.#failUnflushed(new EngineError('WRITEERR', `fsync failed: ${syncError.message}; bucket ${this.bucketId} no longer accepts writes`));
      return;
    }
    const start = this.#durableOffset;
    const length = this.#bufLength;
    this.stats.fsyncs++;
    this.stats.bytesWritten += length;
    const staged = this.#staged;
    this.stats.events += staged.length;
    this.#durableOffset = start + length;
    if (this.#durableOffset - this.#checkpointed >= CHECKPOINT_INTERVAL_BYTES) this.#writeCheckpoint(false);
    const buf = this.#buf;
    for (let i = 0; i < staged.length; i++) {
      const body = staged.at[i] + RECORD_HEADER_BYTES;
      this.#live.add(buf, body, staged.partitionId[i], staged.sequence[i], staged.streamId[i], buf, body + 16, staged.version[i], start + staged.at[i]);
    }
    for (const [pid, next] of this.#stagedSequences) this.#nextSequence.set(pid, next);
    const touched = [...this.#stagedSequences.keys()];
    this.#resetStaging();
    this.#publish(touched);
  }

  #failUnflushed(error: EngineError): void {
    const outcomes = this.#outcomes;
    for (let i = this.#unflushedFrom; i < outcomes.count; i++) {
      if (!outcomes.ok(i)) continue; // failed when staged
      outcomes.fail(i, error);
      this.stats.failedTransactions++;
      this.stats.transactions--;
    }
    this.#resetStaging();
  }

  #resetStaging(): void {
    this.#bufLength = 0;
    this.#staged.clear();
    this.#stagedStreams.clear();
    this.#stagedSequences.clear();
    this.#unflushedFrom = this.#outcomes.count;
  }

  /** Cuts the active segment back to `offset` (zeros after it) and syncs; a failure here poisons the bucket. */
  #rollBackTo(offset: number): void {
    this.#zeroedEnd = offset;
    try {
      this.#data.truncate(offset);
      this.#data.truncate(this.#o.segmentSizeBytes);
      this.#data.datasync();
    } catch (err) {
      this.#poison(err as Error);
    }
  }

  /** Writes zeros from the zeroed end up to `target` (page-aligned, within the segment). No sync. */
  #zeroTo(target: number): void {
    const end = Math.min(this.#o.segmentSizeBytes, Math.ceil(target / PAGE_BYTES) * PAGE_BYTES);
    while (this.#zeroedEnd < end) {
      const n = Math.min(ZEROS.length, end - this.#zeroedEnd);
      this.#data.write(ZEROS.subarray(0, n), this.#zeroedEnd);
      this.#zeroedEnd += n;
    }
  }

  /**
   * Idle-time work for the write worker: keeps a zeroed region ahead of the write offset and syncs it.
   * Returns true if it did any work. A failure only stops pre-zeroing (it holds no acknowledged data), except a
   * failed fdatasync, which poisons the bucket like any other.
   */
  prezero(): boolean {
    if (this.#closed || this.#poisoned !== undefined || this.#prezeroFailed) return false;
    if (this.#zeroedEnd >= this.#o.segmentSizeBytes || this.#zeroedEnd - this.#durableOffset >= PREZERO_LOW_WATER_BYTES) return false;
    try {
      this.#zeroTo(this.#durableOffset + PREZERO_AHEAD_BYTES);
    } catch (err) {
      this.#prezeroFailed = true;
      this.#log?.warn({ bucket: this.bucketId, err: String(err) }, 'pre-zeroing the active segment failed; appends will allocate blocks as they go');
      return true;
    }
    try {
      this.#data.datasync();
    } catch (err) {
      this.#poison(err as Error);
    }
    return true;
  }

  /**
   * Records the durable offset in the active segment's checkpoint file; `sync` (a clean close) also makes the file
   * durable. The checkpoint only spares recovery work, so a failure is logged and writing checkpoints stops.
   */
  #writeCheckpoint(sync: boolean): void {
    if (this.#checkpointFailed) return;
    const { io, dir } = this.#o;
    try {
      if (this.#checkpoint === undefined) {
        const path = segmentFile(dir, this.bucketId, this.#segmentId, CHECKPOINT_FILE);
        this.#checkpoint = io.open(path, io.exists(path) ? 'write' : 'create');
      }
      this.#checkpoint.write(encodeCheckpoint(this.#segmentId, this.#durableOffset, this.#checkpointBuf), 0);
      if (sync) {
        this.#checkpoint.datasync();
        io.syncDir(segmentDir(dir, this.bucketId, this.#segmentId));
      }
      this.#checkpointed = this.#durableOffset;
    } catch (err) {
      this.#checkpointFailed = true;
      this.#closeCheckpoint();
      this.#log?.warn({ bucket: this.bucketId, segment: this.#segmentId, err: String(err) }, 'writing the segment checkpoint failed; recovery will verify the whole active segment');
    }
  }

  #closeCheckpoint(): void {
    const h = this.#checkpoint;
    this.#checkpoint = undefined;
    try {
      h?.close();
    } catch {
      // nothing to keep: the checkpoint is advisory
    }
  }

  #poison(err: Error): void {
    if (this.#poisoned !== undefined) return;
    this.#poisoned = err;
    this.#o.sharedState?.setPoisoned(this.bucketId);
    this.#log?.fatal({ bucket: this.bucketId, err: String(err) }, 'fsync failed: the bucket stops accepting writes until the database is reopened');
  }

  #publish(partitionIds: readonly number[]): void {
    const s = this.#o.sharedState;
    if (s === undefined) return;
    // Position first: a reader that sees a watermark must find every event below it readable.
    s.publishPosition(this.bucketId, this.#segmentId, this.#durableOffset);
    for (const pid of partitionIds) s.publishWatermark(pid, this.#nextSequence.get(pid) ?? 0);
    s.announce();
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Stream versions: staged batch, then the active segment, then the LRU cache, then sealed stream indexes.

  /** The stream's last durable version, or -1 when it has none; when it has one, its partition key is left in #foundKey. */
  #durableVersion(streamId: string): number {
    const live = this.#live.streams.get(streamId);
    if (live !== undefined) {
      this.#foundKey = live.partitionKey;
      return live.firstVersion + live.offsets.length - 1;
    }
    const cached = this.#streamCache.get(streamId);
    if (cached !== undefined) {
      this.#foundKey = cached.partitionKey;
      return cached.lastVersion;
    }
    // Newest first: segments the sealer has not finished (in memory), then sealed ones (their index files).
    for (let i = this.#sealing.length - 1; i >= 0; i--) {
      const r = this.#sealing[i].index.streamRange(streamId);
      if (r !== undefined) return this.#foundInSegment(streamId, r);
    }
    for (let i = this.#sealed.length - 1; i >= 0; i--) {
      const r = this.#sealed[i].lookup.streamRange(streamId);
      if (r !== undefined) return this.#foundInSegment(streamId, r);
    }
    return -1;
  }

  /** A stream's last version found in a segment that is no longer active: cached, its key in #foundKey. */
  #foundInSegment(streamId: string, r: { partitionKey: Uint8Array; last: number }): number {
    this.#streamCache.set(streamId, { partitionKey: r.partitionKey, lastVersion: r.last });
    this.#foundKey = r.partitionKey;
    return r.last;
  }

  /** Opens a sealed segment of this bucket through its index files (rebuilt from the data file if missing or bad). */
  #openSealed(segmentId: number): SealedSegment {
    return SealedSegment.open({ io: this.#o.io, dir: this.#o.dir, bucketId: this.bucketId, segmentId, repairIndexFiles: true, logger: this.#log });
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Segments

  /**
   * Seals the active segment and starts the next one. Nothing changes until both the index files and the new
   * segment file exist, so a failure (a full disk) leaves the bucket as it was and the append can be retried.
   */
  #rollover(): void {
    const old = this.#segmentId;
    const { io, dir } = this.#o;
    // The segment is sealed durable in itself: rounds its write worker made durable through the commit log only
    // may not be in it yet (see group-commit.ts).
    try {
      this.#data.datasync();
    } catch (err) {
      this.#poison(err as Error);
      throw err;
    }
    const sealer = this.#sealerGone ? undefined : this.#o.sealer;
    let sealed: SealedSegment | undefined;
    if (sealer === undefined) {
      this.#live.writeFiles(io, dir, this.bucketId, old);
      sealed = this.#openSealed(old);
    }
    let data: FileHandle;
    try {
      data = this.#createSegmentFile(old + 1);
    } catch (err) {
      sealed?.close();
      throw err;
    }
    if (sealed !== undefined) {
      this.#sealed.push(sealed);
      this.#o.sharedState?.publishSealedBelow(this.bucketId, old + 1);
    } else {
      // The sealer writes the index files from a copy; until they exist this writer answers from the index in memory.
      sealer!.seal(this.bucketId, old, this.#live);
      this.#sealing.push({ segmentId: old, index: this.#live });
    }
    // Streams whose latest version was in the old segment now resolve through its index; keep them warm in the
    // cache so that the rollover does not cost a burst of index reads.
    for (const [streamId, st] of this.#live.streams) {
      this.#streamCache.set(streamId, { partitionKey: st.partitionKey, lastVersion: st.firstVersion + st.offsets.length - 1 });
    }
    this.#data.close();
    // A sealed segment is read through its index files: its checkpoint is of no further use.
    this.#closeCheckpoint();
    try {
      io.unlink(segmentFile(dir, this.bucketId, old, CHECKPOINT_FILE));
    } catch {
      // absent (never written), or left for `sierradb verify` to note: both harmless
    }
    this.#checkpointed = SEGMENT_HEADER_BYTES;
    this.#checkpointFailed = false;
    this.#live = new SegmentIndex();
    this.#data = data;
    this.#segmentId = old + 1;
    this.#durableOffset = SEGMENT_HEADER_BYTES;
    this.#zeroedEnd = SEGMENT_HEADER_BYTES;
    this.#prezeroFailed = false;
    this.stats.rollovers++;
    this.#publish([]);
    this.#log?.info({ bucket: this.bucketId, sealed: old, active: old + 1 }, 'segment rolled over');
  }

  /** Turns the segments whose index files the sealer has written from their in-memory index to those files. */
  #collectSealed(): void {
    const below = this.#o.sharedState!.sealedBelow(this.bucketId);
    while (this.#sealing.length > 0 && this.#sealing[0].segmentId < below) {
      const { segmentId } = this.#sealing[0];
      try {
        this.#sealed.push(this.#openSealed(segmentId));
      } catch (err) {
        // The data file could not be opened or read (EIO): keep answering from memory, try again with the next batch.
        this.#log?.error({ bucket: this.bucketId, segment: segmentId, err: String(err) }, 'opening a sealed segment failed');
        return;
      }
      this.#sealing.shift();
    }
  }

  /**
   * Opens the segments the sealer has finished since the last batch; returns how many it still has (the write
   * worker's shutdown waits for none).
   */
  collectSealed(): number {
    if (this.#sealing.length > 0) this.#collectSealed();
    return this.#sealing.length;
  }

  /** Whether segments wait for the sealer. */
  get sealing(): boolean {
    return this.#sealing.length > 0;
  }

  /**
   * The sealer is gone (its thread died): writes the index files of every segment handed to it here, oldest first,
   * and seals the later rollovers here too, as a writer without a sealer does. A failed write (a full disk) leaves
   * that segment and the newer ones answered from memory, for the next open's rebuild.
   */
  sealHere(): void {
    this.#sealerGone = true;
    const { io, dir } = this.#o;
    for (const { segmentId, index } of this.#sealing) {
      if (segmentId < this.#o.sharedState!.sealedBelow(this.bucketId)) continue; // the sealer finished it
      try {
        index.writeFiles(io, dir, this.bucketId, segmentId);
      } catch (err) {
        this.#log?.error({ bucket: this.bucketId, segment: segmentId, err: String(err) }, "writing a sealed segment's index files failed; the next open rebuilds them");
        break;
      }
      this.#o.sharedState!.publishSealedBelow(this.bucketId, segmentId + 1);
    }
    this.#collectSealed();
  }

  #createSegment(segmentId: number): void {
    this.#data = this.#createSegmentFile(segmentId);
    this.#segmentId = segmentId;
    this.#durableOffset = SEGMENT_HEADER_BYTES;
    this.#zeroedEnd = SEGMENT_HEADER_BYTES;
  }

  /** Creates a segment file at full (sparse) size with its header, durably; returns it open for writing. */
  #createSegmentFile(segmentId: number): FileHandle {
    const { io, dir } = this.#o;
    mkdirDurable(io, segmentDir(dir, this.bucketId, segmentId));
    const path = segmentFile(dir, this.bucketId, segmentId, DATA_FILE);
    if (io.exists(path)) io.unlink(path); // a half-created segment from a crash or a failed rollover
    const checkpoint = segmentFile(dir, this.bucketId, segmentId, CHECKPOINT_FILE);
    if (io.exists(checkpoint)) io.unlink(checkpoint); // never trust a checkpoint of another file
    const data = io.open(path, 'create');
    try {
      data.write(encodeSegmentHeader({ bucketId: this.bucketId, segmentId, createdAtMs: (this.#o.now ?? Date.now)(), segmentSizeBytes: this.#o.segmentSizeBytes }), 0);
      data.truncate(this.#o.segmentSizeBytes);
      data.datasync();
      io.syncDir(segmentDir(dir, this.bucketId, segmentId));
    } catch (err) {
      data.close();
      throw err;
    }
    return data;
  }

  #recover(): void {
    const { io, dir } = this.#o;
    const ids = listSegmentIds(io, dir, this.bucketId);
    if (ids.length === 0) {
      this.#createSegment(0);
      this.#o.sharedState?.publishSealedBelow(this.bucketId, 0);
      this.#publish([]);
      return;
    }
    const activeId = ids[ids.length - 1];
    for (const id of ids.slice(0, -1)) {
      this.#sealed.push(this.#openSealed(id));
    }
    const path = segmentFile(dir, this.bucketId, activeId, DATA_FILE);
    if (!io.exists(path) || !this.#headerValid(path)) {
      if (io.exists(path) && this.#holdsRecords(path)) {
        // A segment's first record is written only after its header is durable, so a bad header over records is
        // damage, not an unfinished creation; recreating the file would delete acknowledged events.
        throw new SegmentFormatError(
          `${path}: the segment header is damaged but the segment holds records; refusing to recreate it (check it with sierradb verify --dir ${dir})`,
        );
      }
      // Created but not finished before a crash: nothing was ever appended to it.
      this.#log?.warn({ bucket: this.bucketId, segment: activeId }, 'active segment has no valid header; recreating it');
      this.#createSegment(activeId);
    } else {
      this.#data = io.open(path, 'write');
      this.#segmentId = activeId;
      const limit = Math.min(this.#data.size(), this.#o.segmentSizeBytes);
      const result = this.#scanActive(activeId, limit);
      this.#durableOffset = result.committedEnd;
      if (result.stop !== 'end' && result.stop !== 'limit' || result.droppedEvents > 0) {
        this.#log?.warn(
          { bucket: this.bucketId, segment: activeId, offset: result.committedEnd, reason: result.reason ?? 'uncommitted transaction', droppedEvents: result.droppedEvents },
          'torn or corrupt tail found in the active segment; truncating it',
        );
      }
      // Zero everything after the last committed transaction, so stale bytes can never be read as records later.
      this.#data.truncate(result.committedEnd);
      this.#data.truncate(this.#o.segmentSizeBytes);
      this.#data.datasync();
      this.#zeroedEnd = result.committedEnd;
    }
    // Next sequences: from the active segment, then the newest sealed segment holding each partition.
    for (const [pid, p] of this.#live.partitions) this.#nextSequence.set(pid, p.firstSequence + p.offsets.length);
    for (let i = this.#sealed.length - 1; i >= 0; i--) {
      const lookup = this.#sealed[i].lookup;
      for (const pid of lookup.partitionIds()) {
        if (!this.#nextSequence.has(pid)) this.#nextSequence.set(pid, lookup.partitionRange(pid)!.last + 1);
      }
    }
    // Every segment below the active one has its index files now (rebuilt above where they were missing).
    this.#o.sharedState?.publishSealedBelow(this.bucketId, this.#segmentId);
    this.#publish([...this.#nextSequence.keys()]);
  }

  /** True if anything is written where the first record of the segment would be. */
  #holdsRecords(path: string): boolean {
    const h = this.#o.io.open(path, 'read');
    try {
      const buf = Buffer.alloc(RECORD_HEADER_BYTES);
      const n = h.read(buf, 0, RECORD_HEADER_BYTES, SEGMENT_HEADER_BYTES);
      return buf.subarray(0, n).some((b) => b !== 0);
    } finally {
      h.close();
    }
  }

  /**
   * Rebuilds the active segment's index from its records up to `limit`: below its checkpoint without CRC32C (those
   * bytes were durable before it was written: no torn write there), verified from there on. If the records below
   * the checkpoint do not scan cleanly to it, the checkpoint is not trusted and the whole segment is verified.
   */
  #scanActive(segmentId: number, limit: number): CommittedScanResult {
    const { io, dir } = this.#o;
    const addTo = (index: SegmentIndex) => (events: readonly CommittedEvent[]) => {
      for (const e of events) index.addRecord(e.buf, e.at, e.offset);
    };
    const checkpoint = readCheckpoint(io, segmentFile(dir, this.bucketId, segmentId, CHECKPOINT_FILE), segmentId);
    if (checkpoint !== undefined && checkpoint >= SEGMENT_HEADER_BYTES && checkpoint <= limit) {
      const index = new SegmentIndex();
      const trusted = scanCommitted(this.#data, SEGMENT_HEADER_BYTES, checkpoint, addTo(index), false);
      if (trusted.stop === 'limit' && trusted.committedEnd === checkpoint && trusted.droppedEvents === 0) {
        this.#live = index;
        this.#checkpointed = checkpoint;
        return scanCommitted(this.#data, checkpoint, limit, addTo(index));
      }
      this.#log?.error(
        { bucket: this.bucketId, segment: segmentId, checkpoint, offset: trusted.committedEnd, reason: trusted.reason ?? 'uncommitted transaction' },
        'records below the segment checkpoint do not scan cleanly; verifying the whole active segment',
      );
    }
    this.#live = new SegmentIndex();
    return scanCommitted(this.#data, SEGMENT_HEADER_BYTES, limit, addTo(this.#live));
  }

  #headerValid(path: string): boolean {
    const h = this.#o.io.open(path, 'read');
    try {
      const buf = Buffer.alloc(SEGMENT_HEADER_BYTES);
      if (h.read(buf, 0, SEGMENT_HEADER_BYTES, 0) < SEGMENT_HEADER_BYTES) return false;
      const header = decodeSegmentHeader(buf);
      return header.bucketId === this.bucketId;
    } catch {
      return false;
    } finally {
      h.close();
    }
  }

  /**
   * Syncs nothing new (every batch is already durable) but the checkpoint, so that the next open verifies nothing
   * it wrote; releases files.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#poisoned === undefined && this.#durableOffset > SEGMENT_HEADER_BYTES) this.#writeCheckpoint(true);
    this.#closeCheckpoint();
    this.#data.close();
    for (const s of this.#sealed) s.close();
  }
}

/** Whether the 16 bytes at `a[aAt..]` equal those at `b[bAt..]`. */
function bytesEqualAt(a: Uint8Array, aAt: number, b: Uint8Array, bAt: number): boolean {
  for (let i = 0; i < 16; i++) if (a[aAt + i] !== b[bAt + i]) return false;
  return true;
}

/** The stream id, event name, metadata and payload bytes of the request frame's event whose head is at `p`. */
function eventVariableBytes(f: Buffer, p: number): number {
  return f[p + F.EVENT_STREAM_ID_BYTES_AT] + f[p + F.EVENT_NAME_BYTES_AT] + f.readUInt32LE(p + F.EVENT_METADATA_BYTES_AT) + f.readUInt32LE(p + F.EVENT_PAYLOAD_BYTES_AT);
}
