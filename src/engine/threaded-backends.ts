/**
 * The production backends: write workers behind SharedArrayBuffer ring queues, and a piscina read pool.
 *
 * Main-thread side of the write path: `submit` encodes the transaction straight into the owning worker's request
 * ring (one copy of the payload) and remembers its resolver by request id. A completion loop per worker awaits
 * `waitForDataAsync` (Atomics.waitAsync: the event loop never blocks), drains completion frames and resolves.
 * When a request ring is full, submissions queue in order behind it (bounded by the caller: the server stops
 * reading sockets while appends are pending) and are pushed as the worker frees space.
 */
import { Worker } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { BufferPool, type BufferPoolStats } from '../buffers/buffer-pool.ts';
import type { BucketWriterStats, TransactionOutcome, TransactionRequest } from './bucket-writer.ts';
import { InProcessReadBackend, type ReadBackend, type ReadEncoding, type WriteBackend } from './backends.ts';
import { nodeFileIo } from '../../native-free-io/file-io.ts';
import { PooledReadFileIo, READ_DESCRIPTORS_PER_THREAD } from '../../native-free-io/pooled-read-file-io.ts';
import { InFlightCount } from './in-flight-count.ts';
import { EngineError } from './engine-error.ts';
import { RESULT_HEAD_BYTES, ResultMode, StoreReader, type RecordBatch, type ScanResult } from './store-reader.ts';
import { RingQueue } from '../threads/ring-queue.ts';
import type { SharedState } from '../threads/shared-state.ts';
import { bucketIdForPartition, partitionHash, partitionIdForKey, partitionKeyForStream } from '../ids/partition-key.ts';
import {
  appendCompletionBytes,
  appendRequestBytes,
  CompletionType,
  CONTROL_REQUEST_BYTES,
  decodeAppendCompletion,
  decodeCompletionHead,
  decodeJsonCompletion,
  encodeAppendCompletion,
  encodeAppendRequest,
  encodeControlRequest,
  encodeInPlaceAppendRequest,
  completeAppendSink,
  inPlaceAppendRequestBytes,
  RequestType,
} from '../threads/write-messages.ts';
import type { AppendSink, InPlaceAppend } from './in-place-append.ts';
import { sumGroupCommitStats, type GroupCommitStats } from './group-commit.ts';
import type { WriteWorkerData } from '../../workers/bucket-writer-worker.ts';
import type { ReadTask, ReadWorkerData } from '../../workers/read-worker.ts';

export interface ThreadedBackendOptions {
  dir: string;
  bucketCount: number;
  partitionCount: number;
  segmentSizeBytes: number;
  sharedState: SharedState;
  streamCacheEntries: number;
  writeThreads: number;
  readThreads: number;
  logLevel?: string;
  /** See DatabaseOptions.sealerThreadScript. */
  sealerScript?: string;
  /** Each write worker's commit log file size (DatabaseOptions.commitLogFileBytes). */
  commitLogFileBytes: number;
}

/**
 * Read tasks handed to a read worker before it finishes the one it is on. With one, a worker finishing a task sat
 * idle until the main thread had taken its result and sent the next task: during a catch-up (the main thread busy
 * writing pages to the socket) each worker ran at about 42% of a core. A worker runs its tasks one after another
 * either way, in the order sent. Catch-up of 1M events, interleaved runs: 0.62M-0.74M events/s with one,
 * 0.62M-0.80M with four (2026-12-07); more than four did no better.
 */
const READ_TASKS_QUEUED_PER_WORKER = 4;
/** How often the read backend checks whether its workers should follow their active segments (#follow). */
const FOLLOW_INTERVAL_MS = 50;
/** How far (bytes published into a bucket) a read worker may fall behind before it is asked to follow. */
const FOLLOW_AFTER_BYTES = 4 * 1024 * 1024;

/** Request ring per write worker; a frame larger than this cannot be sent (bounded memory per worker). */
export const REQUEST_RING_BYTES = 64 * 1024 * 1024;
const COMPLETION_RING_BYTES = 4 * 1024 * 1024;

type Resolver = (frame: Buffer) => void;
/** Who hears of a request's completion: a resolver given the frame, or an in-place append's sink. */
type Waiter = Resolver | AppendSink;

class WriterHandle {
  readonly worker: Worker;
  readonly requests: RingQueue;
  readonly completions: RingQueue;
  readonly waiting = new Map<number, Waiter>();
  /** Submissions that found the ring full, in order. */
  readonly backlog: { bytes: number; encode: (view: Buffer) => void }[] = [];
  /** In-place appends in flight that no onAppended listener hears of, over every writer (shared with the backend). */
  readonly #inPlace: InFlightCount;
  #pumping = false;
  exited = false;

  constructor(worker: Worker, requests: RingQueue, completions: RingQueue, inPlace: InFlightCount) {
    this.worker = worker;
    this.requests = requests;
    this.completions = completions;
    this.#inPlace = inPlace;
  }

  /**
   * Queues a request; the worker is woken once, after the I/O of the current event-loop turn (setImmediate), so
   * the requests of every socket read in that turn (or a burst such as the continuations of one completion drain)
   * become one batch and one fdatasync instead of a small batch for the first request and another for the rest.
   */
  send(bytes: number, requestId: number, encode: (view: Buffer) => void, resolve: Resolver): void {
    const at = this.#reserve(bytes, requestId, resolve);
    if (at === -1) {
      this.#toBacklog(bytes, encode);
      return;
    }
    encode(this.requests.bytes.subarray(at, at + bytes));
    this.#sent();
  }

  /**
   * `send` for an in-place append: the frame is encoded from `o` straight into the ring, or, when it must wait,
   * into a copy that waits in the backlog (`o` is reused as soon as this returns).
   */
  sendInPlace(bytes: number, bucketId: number, requestId: number, o: InPlaceAppend, sink: AppendSink): void {
    const at = this.#reserve(bytes, requestId, sink);
    if (sink.transactionId === undefined) this.#inPlace.started();
    if (at !== -1) {
      encodeInPlaceAppendRequest(this.requests.bytes, at, bucketId, requestId, o, sink.ids, sink.timestampMs, sink.transactionId);
      this.#sent();
      return;
    }
    const frame = Buffer.allocUnsafe(bytes);
    encodeInPlaceAppendRequest(frame, 0, bucketId, requestId, o, sink.ids, sink.timestampMs, sink.transactionId);
    this.#toBacklog(bytes, (view) => frame.copy(view));
  }

  /**
   * Registers the waiter and, in the common case, reserves the frame in the ring: its offset in `requests.bytes`,
   * to be encoded there and then #sent(). -1 when it must wait in the backlog (behind others, or the ring is full).
   */
  #reserve(bytes: number, requestId: number, waiter: Waiter): number {
    if (this.exited) throw new EngineError('WRITEERR', 'the write worker has stopped');
    this.waiting.set(requestId, waiter);
    return this.backlog.length === 0 ? this.requests.tryReserveAt(bytes) : -1;
  }

  /** The reserved frame is encoded: published, the worker woken once at the end of the burst. */
  #sent(): void {
    this.requests.commitQuiet();
    this.#scheduleWake();
  }

  #toBacklog(bytes: number, encode: (view: Buffer) => void): void {
    this.backlog.push({ bytes, encode });
    this.#scheduleWake();
  }

  #scheduled = false;

  #scheduleWake(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(this.#wake);
  }

  readonly #wake = (): void => {
    this.#scheduled = false;
    if (this.backlog.length > 0) void this.#pump();
    else this.requests.wakeConsumer();
  };

  async #pump(): Promise<void> {
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      while (this.backlog.length > 0) {
        let pushed = 0;
        while (pushed < this.backlog.length) {
          const next = this.backlog[pushed];
          const view = this.requests.tryReserve(next.bytes);
          if (view === undefined) break;
          next.encode(view);
          this.requests.commitQuiet();
          pushed++;
        }
        this.backlog.splice(0, pushed);
        this.requests.wakeConsumer();
        if (this.backlog.length > 0 && !(await this.requests.waitForSpaceAsync(this.backlog[0].bytes))) return;
      }
    } finally {
      this.#pumping = false;
    }
  }

  /** Fails every request still waiting with `frame` (the worker is gone). */
  failAll(frame: Buffer): void {
    for (const [, waiter] of this.waiting) this.#complete(waiter, frame, 0, frame.length);
    this.waiting.clear();
  }

  /** Hands a completion frame (`bytes[at .. at + length)`) to its waiter. */
  #complete(waiter: Waiter, bytes: Buffer, at: number, length: number): void {
    if (typeof waiter === 'function') {
      waiter(bytes.subarray(at, at + length));
      return;
    }
    const unreported = waiter.transactionId === undefined;
    try {
      completeAppendSink(waiter, bytes, at, length);
    } finally {
      if (unreported) this.#inPlace.finished();
    }
  }

  async completionLoop(): Promise<void> {
    for (;;) {
      if (!(await this.completions.waitForDataAsync())) return;
      this.completions.drainAt((bytes, at, length) => {
        const requestId = bytes.readUInt32LE(at + 4);
        const waiter = this.waiting.get(requestId);
        if (waiter === undefined) return;
        this.waiting.delete(requestId);
        try {
          this.#complete(waiter, bytes, at, length);
        } catch (err) {
          // A completion callback's bug must not stop this loop (every later append would hang): report it.
          queueMicrotask(() => {
            throw err;
          });
        }
      });
    }
  }
}

export class ThreadedWriteBackend implements WriteBackend {
  readonly #handles: WriterHandle[];
  readonly #workerOfBucket: number[];
  readonly #inPlace: InFlightCount;
  #nextRequestId = 1;

  constructor(handles: WriterHandle[], workerOfBucket: number[], inPlace: InFlightCount) {
    this.#handles = handles;
    this.#workerOfBucket = workerOfBucket;
    this.#inPlace = inPlace;
  }

  onceInPlaceSettled(callback: () => void): void {
    this.#inPlace.onceIdle(callback);
  }

  #requestId(): number {
    const id = this.#nextRequestId;
    this.#nextRequestId = id >= 0xffff_fff0 ? 1 : id + 1;
    return id;
  }

  submit(bucketId: number, t: TransactionRequest, done: (outcome: TransactionOutcome) => void): void {
    const bytes = appendRequestBytes(t);
    if (bytes > this.#handles[0].requests.maxFrameBytes) {
      done({ ok: false, error: frameTooLargeError() });
      return;
    }
    const handle = this.#handles[this.#workerOfBucket[bucketId]];
    const requestId = this.#requestId();
    try {
      handle.send(bytes, requestId, (view) => encodeAppendRequest(view, bucketId, requestId, t), (frame) => done(decodeAppendCompletion(frame)));
    } catch (err) {
      done({ ok: false, error: asWriteError(err) });
    }
  }

  submitInPlace(bucketId: number, o: InPlaceAppend, sink: AppendSink): void {
    const bytes = inPlaceAppendRequestBytes(o);
    if (bytes > this.#handles[0].requests.maxFrameBytes) {
      sink.appendFailed(frameTooLargeError());
      return;
    }
    const handle = this.#handles[this.#workerOfBucket[bucketId]];
    try {
      handle.sendInPlace(bytes, bucketId, this.#requestId(), o, sink);
    } catch (err) {
      sink.appendFailed(asWriteError(err));
    }
  }

  #control<T>(handle: WriterHandle, type: number, decode: (frame: Buffer) => T): Promise<T> {
    const requestId = this.#requestId();
    return new Promise((resolve) => {
      handle.send(CONTROL_REQUEST_BYTES, requestId, (view) => encodeControlRequest(view, type, 0, requestId), (frame) => resolve(decode(frame)));
    });
  }

  #workerStats(): Promise<{ buckets: BucketWriterStats[]; group: GroupCommitStats }[]> {
    return Promise.all(this.#handles.map((h) => this.#control(h, RequestType.stats, (f) => decodeJsonCompletion(f) as { buckets: BucketWriterStats[]; group: GroupCommitStats })));
  }

  async stats(): Promise<BucketWriterStats[]> {
    return (await this.#workerStats()).flatMap((s) => s.buckets);
  }

  async commitStats(): Promise<GroupCommitStats> {
    return sumGroupCommitStats((await this.#workerStats()).map((s) => s.group));
  }

  async close(): Promise<void> {
    await Promise.all(
      this.#handles.map(async (h) => {
        if (!h.exited) {
          const exited = new Promise((resolve) => h.worker.once('exit', resolve));
          await this.#control(h, RequestType.close, (f) => decodeCompletionHead(f).type === CompletionType.closed);
          await exited;
        }
        h.requests.close();
        h.completions.close();
      }),
    );
  }
}

/** The count + 1 u32 map bounds at `buf[at..]` of a read worker's result. */
function readBounds(buf: Buffer, at: number, count: number): Uint32Array {
  const bounds = new Uint32Array(count + 1);
  for (let i = 0; i <= count; i++) bounds[i] = buf.readUInt32LE(at + 4 * i);
  return bounds;
}

/**
 * A read worker's result: the head (writeResultHead), then what its ResultMode says (see pack in
 * workers/read-worker.ts).
 */
function unpack(result: Uint8Array): ScanResult {
  const buf = Buffer.from(result.buffer, result.byteOffset, result.byteLength);
  const count = buf.readUInt32LE(0);
  const hasMore = buf[4] === 1;
  const h = RESULT_HEAD_BYTES;
  if (buf[5] === ResultMode.resp) return { count, hasMore, records: buf.subarray(h, h), resp: buf.subarray(h) };
  if (buf[5] === ResultMode.recordsAndMaps) {
    const boundsAt = buf.length - 4 - 4 * (count + 1);
    const recordsEnd = h + buf.readUInt32LE(buf.length - 4);
    return { count, hasMore, records: buf.subarray(h, recordsEnd), resp: buf.subarray(recordsEnd, boundsAt), bounds: readBounds(buf, boundsAt, count) };
  }
  if (buf[5] === ResultMode.respWithBounds) {
    const bounds = readBounds(buf, h, count);
    return { count, hasMore, records: buf.subarray(h, h), resp: buf.subarray(h + 4 * (count + 1)), bounds };
  }
  return { count, hasMore, records: buf.subarray(h) };
}

/**
 * Reads on read worker threads, one piscina pool of one thread per read worker. A read goes to the worker that
 * owns its bucket (bucket % workers): every worker can read every bucket, but each one follows (indexes) the active
 * segment of a bucket only when it reads that bucket, so with affinity the active segments are indexed once in
 * all instead of once per worker. For a catch-up of a freshly written store that indexing was as much reader time
 * as the reads themselves. An event id whose home bucket does not hold it (an id chosen by the client) is looked
 * for in the other buckets by the home bucket's worker.
 */
export class PiscinaReadBackend implements ReadBackend {
  readonly #pools: Piscina[];
  readonly #bucketCount: number;
  readonly #partitionCount: number;
  /** Buffers for recyclable partition pages: 512 KiB holds a full page (PAGE_EVENTS_MAX) of events up to about 1 KiB each; at most 32 MiB kept. */
  readonly #results = new BufferPool(512 * 1024, 64);
  readonly #sharedState: SharedState;
  /** The buckets each pool reads (see #poolOfPartition). */
  readonly #bucketsOfPool: number[][];
  /** Per pool and bucket: the published position (segmentId · 2^40 + offset) the pool was last asked to follow to. */
  readonly #followedTo: Float64Array;
  readonly #following: boolean[];
  readonly #followTimer: NodeJS.Timeout;
  /** Follow tasks run, for tests. */
  follows = 0;

  constructor(pools: Piscina[], bucketCount: number, partitionCount: number, sharedState: SharedState) {
    this.#pools = pools;
    this.#bucketCount = bucketCount;
    this.#partitionCount = partitionCount;
    this.#sharedState = sharedState;
    const n = pools.length;
    this.#bucketsOfPool = pools.map((_, i) => (n <= bucketCount ? Array.from({ length: bucketCount }, (_, b) => b).filter((b) => b % n === i) : [i % bucketCount]));
    this.#followedTo = new Float64Array(n * bucketCount);
    this.#following = pools.map(() => false);
    this.#followTimer = setInterval(() => this.#follow(), FOLLOW_INTERVAL_MS).unref();
  }

  /**
   * Asks each read worker whose buckets' writers have published FOLLOW_AFTER_BYTES or more since it last followed
   * them to catch up with their active segments now (index the new records), one task in flight per worker. A
   * reader catches up by itself when a read comes, but after a burst of appends that is a pause of ~100 ms per
   * million events for the first read of each bucket; done here, in steps, it is spread over the burst.
   */
  #follow(): void {
    const state = this.#sharedState;
    for (let i = 0; i < this.#pools.length; i++) {
      if (this.#following[i]) continue;
      const buckets = this.#bucketsOfPool[i];
      const published = buckets.map((b) => {
        const pos = state.position(b);
        return pos.segmentId * 2 ** 40 + pos.offset;
      });
      if (!buckets.some((b, k) => published[k] - this.#followedTo[i * this.#bucketCount + b] >= FOLLOW_AFTER_BYTES)) continue;
      buckets.forEach((b, k) => (this.#followedTo[i * this.#bucketCount + b] = published[k]));
      this.#following[i] = true;
      this.follows++;
      this.#pools[i]
        .run({ op: 'follow', bucketIds: buckets } satisfies ReadTask)
        .catch(() => {}) // a read of the same region reports what is wrong with it
        .finally(() => (this.#following[i] = false));
    }
  }
  #turn = 0;
  #poolOfPartition(partitionId: number): Piscina {
    const bucketId = bucketIdForPartition(partitionId, this.#bucketCount);
    const n = this.#pools.length;
    if (n <= this.#bucketCount) return this.#pools[bucketId % n];
    // More workers than buckets: the workers bucketId, bucketId + bucketCount, ... share the bucket in turn.
    const sharing = Math.floor((n - 1 - bucketId) / this.#bucketCount) + 1;
    return this.#pools[bucketId + this.#bucketCount * (this.#turn++ % sharing)];
  }
  #poolOfStream(streamId: string, partitionKey: Uint8Array | undefined): Piscina {
    return this.#poolOfPartition(partitionIdForKey(partitionKey ?? partitionKeyForStream(streamId), this.#partitionCount));
  }
  async getEvent(eventId: Uint8Array, encoding?: ReadEncoding): Promise<RecordBatch> {
    // The home bucket of an id is the partition its hash names (ids we generate embed it; see StoreReader.getEvent).
    const pool = this.#poolOfPartition(partitionHash(eventId) % this.#partitionCount);
    return unpack(await this.#run(pool, { op: 'getEvent', eventId, resp: encoding?.resp }));
  }
  async scanStream(streamId: string, partitionKey: Uint8Array | undefined, from: number, to: number, count: number, encoding?: ReadEncoding): Promise<ScanResult> {
    const task: ReadTask = { op: 'scanStream', streamId, partitionKey, from, to, count, resp: encoding?.resp, bounds: encoding?.bounds };
    return unpack(await this.#run(this.#poolOfStream(streamId, partitionKey), task));
  }
  async streamVersion(streamId: string, partitionKey: Uint8Array | undefined): Promise<number> {
    return this.#run(this.#poolOfStream(streamId, partitionKey), { op: 'streamVersion', streamId, partitionKey });
  }
  async scanPartition(partitionId: number, from: number, to: number, count: number, encoding?: ReadEncoding, recyclable = false): Promise<ScanResult> {
    const pool = this.#poolOfPartition(partitionId);
    const records = encoding?.records === true;
    if (!recyclable || (encoding !== undefined && !records)) return unpack(await this.#run(pool, { op: 'scanPartition', partitionId, from, to, count, resp: encoding?.resp }));
    const into = this.#results.take();
    const result = unpack(await this.#run(pool, { op: 'scanPartition', partitionId, from, to, count, resp: encoding?.resp, records, into }, [into]));
    const buffer = result.records.buffer as ArrayBuffer;
    if (buffer.byteLength === this.#results.bufferBytes) result.release = () => this.#results.give(buffer);
    return result;
  }
  /**
   * A task on the pool. An EngineError thrown in a worker arrives as a plain Error (structured clone keeps the
   * message, not the class or its code): give READERR back its code, so that a corrupt record is answered as
   * `-READERR ...` and not as an internal error.
   */
  resultBufferStats(): BufferPoolStats {
    return this.#results.stats();
  }
  async #run(pool: Piscina, task: ReadTask, transferList?: ArrayBuffer[]): Promise<any> {
    try {
      return await pool.run(task, transferList === undefined ? undefined : { transferList });
    } catch (err) {
      if (err instanceof Error && !(err instanceof EngineError) && err.message.startsWith('read error:')) throw new EngineError('READERR', err.message, { cause: err });
      throw err;
    }
  }
  async close(): Promise<void> {
    clearInterval(this.#followTimer);
    await Promise.all(this.#pools.map((p) => p.destroy()));
  }
}

export async function openThreadedBackends(o: ThreadedBackendOptions): Promise<{ writes: WriteBackend; reads: ReadBackend }> {
  const writeThreads = Math.max(1, Math.min(o.writeThreads, o.bucketCount));
  if (o.bucketCount % writeThreads !== 0) throw new RangeError(`bucket count ${o.bucketCount} must be divisible by the write thread count ${writeThreads}`);
  const perWorker = o.bucketCount / writeThreads;
  const workerOfBucket = Array.from({ length: o.bucketCount }, (_, b) => Math.floor(b / perWorker));
  const handles: WriterHandle[] = [];
  const inPlace = new InFlightCount();
  const ready: Promise<void>[] = [];
  try {
    for (let w = 0; w < writeThreads; w++) {
      const requests = RingQueue.create(REQUEST_RING_BYTES);
      const completions = RingQueue.create(COMPLETION_RING_BYTES);
      const workerData: WriteWorkerData = {
        dir: o.dir,
        workerIndex: w,
        bucketIds: workerOfBucket.flatMap((owner, b) => (owner === w ? [b] : [])),
        bucketCount: o.bucketCount,
        partitionCount: o.partitionCount,
        segmentSizeBytes: o.segmentSizeBytes,
        streamCacheEntries: o.streamCacheEntries,
        sharedStateBuffer: o.sharedState.buffer,
        requestRing: requests.buffer,
        completionRing: completions.buffer,
        logLevel: o.logLevel,
        sealerScript: o.sealerScript,
        commitLogFileBytes: o.commitLogFileBytes,
      };
      const worker = new Worker(new URL('../../workers/bucket-writer-worker.ts', import.meta.url), { workerData, name: `writer-${w}` });
      const handle = new WriterHandle(worker, requests, completions, inPlace);
      handles.push(handle);
      ready.push(
        new Promise<void>((resolve, reject) => {
          worker.once('message', (m: { type: string; message?: string }) => (m.type === 'ready' ? resolve() : reject(new Error(`write worker ${w} failed to open: ${m.message}`))));
          worker.once('error', reject);
        }),
      );
      worker.on('exit', () => {
        handle.exited = true;
        handle.completions.close();
        const error = new EngineError('WRITEERR', 'the write worker stopped');
        const frame = failureFrame(error);
        handle.failAll(frame);
      });
      void handle.completionLoop();
    }
    // The workers recover their buckets (scan the active segments) in parallel: a restart waits for the slowest.
    await Promise.all(ready);
  } catch (err) {
    for (const h of handles) await h.worker.terminate();
    throw err;
  }
  if (o.readThreads === 0) {
    // Reads on the calling thread: no messaging per read; a read blocks the event loop for its disk I/O.
    const reader = new StoreReader({ io: new PooledReadFileIo(nodeFileIo, READ_DESCRIPTORS_PER_THREAD), dir: o.dir, bucketCount: o.bucketCount, partitionCount: o.partitionCount, segmentSizeBytes: o.segmentSizeBytes, sharedState: o.sharedState });
    return { writes: new ThreadedWriteBackend(handles, workerOfBucket, inPlace), reads: new InProcessReadBackend(reader) };
  }
  const readData: ReadWorkerData = {
    dir: o.dir,
    bucketCount: o.bucketCount,
    partitionCount: o.partitionCount,
    segmentSizeBytes: o.segmentSizeBytes,
    sharedStateBuffer: o.sharedState.buffer,
    logLevel: o.logLevel,
  };
  const pools = Array.from(
    { length: o.readThreads },
    () =>
      new Piscina({
        filename: new URL('../../workers/read-worker.ts', import.meta.url).href,
        minThreads: 1,
        maxThreads: 1,
        idleTimeout: Infinity,
        concurrentTasksPerWorker: READ_TASKS_QUEUED_PER_WORKER,
        workerData: readData,
      }),
  );
  return { writes: new ThreadedWriteBackend(handles, workerOfBucket, inPlace), reads: new PiscinaReadBackend(pools, o.bucketCount, o.partitionCount, o.sharedState) };
}

function frameTooLargeError(): EngineError {
  return new EngineError('DBOPFAILED', 'database operation failed: events exceed the size of a single write request');
}

/** A failure to send a request, as the error its append fails with. */
function asWriteError(err: unknown): EngineError {
  return err instanceof EngineError ? err : new EngineError('WRITEERR', String(err));
}

/** A completion frame carrying `error`, for requests whose worker died (the worker's own encoding). */
function failureFrame(error: EngineError): Buffer {
  const outcome: TransactionOutcome = { ok: false, error };
  const frame = Buffer.alloc(appendCompletionBytes(outcome));
  encodeAppendCompletion(frame, 0, outcome);
  return frame;
}
