/**
 * How the Database reaches its writers and readers. Production uses worker threads (write workers behind ring
 * queues, a piscina read pool); the in-process backends run the same BucketWriter and StoreReader on the calling
 * thread, which is what the deterministic simulation and power-loss tests drive (the simulated disk lives in this
 * thread's memory).
 */
import type { BucketWriter, BucketWriterStats, TransactionOutcome, TransactionRequest } from './bucket-writer.ts';
import type { RecordBatch, ScanResult, StoreReader } from './store-reader.ts';
import { encodeEvents } from '../protocol/event-map.ts';
import type { RespProtocol } from '../protocol/resp-encoder.ts';
import type { BufferPoolStats } from '../buffers/buffer-pool.ts';
import type { AppendSink, InPlaceAppend } from './in-place-append.ts';
import { InFlightCount } from './in-flight-count.ts';
import type { GroupCommit, GroupCommitStats } from './group-commit.ts';
import { appendRequestBytes, encodeAppendRequest, encodeInPlaceAppendRequest, inPlaceAppendRequestBytes } from '../threads/write-messages.ts';

/**
 * How a read's events come back: raw records, or already encoded as RESP event maps for a reply (`*N` + maps for
 * scans, the bare map for a single event). Encoding is done by whoever read them, a read worker in production,
 * so that the main thread only copies bytes. `records`: the raw records as well, and each bare map with its bounds
 * (no `*N`): a subscription page, which checks sequences and streams in the records and sends the maps.
 */
export type ReadEncoding = { resp: RespProtocol; bounds?: boolean; records?: boolean } | undefined;

/** Puts the encoded form of a batch's events into it (for the reader's thread). */
export function encodeBatch<T extends RecordBatch>(batch: T, encoding: ReadEncoding, array: boolean, headBytes = 0): T {
  if (encoding === undefined) return batch;
  if (encoding.records === true) {
    const bounds = new Uint32Array(batch.count + 1);
    return { ...batch, resp: encodeEvents(batch.records, batch.count, encoding.resp, false, 0, bounds), bounds };
  }
  const bounds = encoding.bounds === true ? new Uint32Array(batch.count + 1) : undefined;
  return { ...batch, resp: encodeEvents(batch.records, batch.count, encoding.resp, array, headBytes, bounds), bounds, records: batch.records.subarray(0, 0), withHead: undefined };
}

export interface WriteBackend {
  /**
   * Queues a transaction for the bucket's writer; `done` runs once with its outcome, after the batch holding it is
   * durable (or failed). Callback style: this is the append hot path.
   */
  submit(bucketId: number, t: TransactionRequest, done: (outcome: TransactionOutcome) => void): void;
  /**
   * Queues an in-place append (engine/in-place-append.ts): its request frame is encoded from `o`'s byte ranges and
   * `sink.ids` before this returns (so `o` and the request's bytes may be reused at once); `sink` hears once.
   */
  submitInPlace(bucketId: number, o: InPlaceAppend, sink: AppendSink): void;
  /**
   * Calls `callback` once every in-place append submitted so far that no `Database.onAppended` listener hears of
   * (its sink has no `transactionId`) has completed; now, if none is in flight.
   */
  onceInPlaceSettled(callback: () => void): void;
  stats(): Promise<BucketWriterStats[]>;
  /** Group-commit rounds and the commit log's work, over every write worker. */
  commitStats(): Promise<GroupCommitStats>;
  close(): Promise<void>;
}

export interface ReadBackend {
  getEvent(eventId: Uint8Array, encoding?: ReadEncoding): Promise<RecordBatch>;
  scanStream(streamId: string, partitionKey: Uint8Array | undefined, from: number, to: number, count: number, encoding?: ReadEncoding): Promise<ScanResult>;
  streamVersion(streamId: string, partitionKey: Uint8Array | undefined): Promise<number>;
  /**
   * `recyclable` (raw records, with or without `encoding.records`): the caller will say when it is done with the
   * records (ScanResult.release), so their buffer may be one that goes round between the threads.
   */
  scanPartition(partitionId: number, from: number, to: number, count: number, encoding?: ReadEncoding, recyclable?: boolean): Promise<ScanResult>;
  /** Result buffers that went round (BufferPool), for INFO and tests; none when reads stay on this thread. */
  resultBufferStats?(): BufferPoolStats;
  /** Follow tasks sent to the read workers (PiscinaReadBackend), for tests and INFO. */
  readonly follows?: number;
  close(): Promise<void>;
}

interface Pending {
  /** The request frame (threads/write-messages.ts), staged as the write worker stages it. */
  frame: Buffer;
  resolve: (o: TransactionOutcome) => void;
}

/**
 * Writers on this thread. Appends submitted in the same turn of the event loop form one batch per bucket, and the
 * buckets' batches one group-commit round (group-commit.ts), as in the write worker's loop under load.
 */
export class InProcessWriteBackend implements WriteBackend {
  readonly #writers: BucketWriter[];
  readonly #group: GroupCommit;
  readonly #queues: Pending[][];
  readonly #inPlace = new InFlightCount();
  #scheduled = false;

  constructor(writers: BucketWriter[], group: GroupCommit) {
    this.#writers = writers;
    this.#group = group;
    this.#queues = writers.map(() => []);
  }

  submit(bucketId: number, t: TransactionRequest, done: (outcome: TransactionOutcome) => void): void {
    const frame = Buffer.allocUnsafe(appendRequestBytes(t));
    encodeAppendRequest(frame, bucketId, 0, t);
    this.#queue(bucketId, frame, done);
  }

  submitInPlace(bucketId: number, o: InPlaceAppend, sink: AppendSink): void {
    const frame = Buffer.allocUnsafe(inPlaceAppendRequestBytes(o));
    encodeInPlaceAppendRequest(frame, 0, bucketId, 0, o, sink.ids, sink.timestampMs, sink.transactionId);
    const unreported = sink.transactionId === undefined;
    if (unreported) this.#inPlace.started();
    this.#queue(bucketId, frame, (outcome) => {
      if (unreported) this.#inPlace.finished();
      if (outcome.ok) sink.appended(outcome.firstSequence, outcome.versions[0]);
      else sink.appendFailed(outcome.error);
    });
  }

  onceInPlaceSettled(callback: () => void): void {
    this.#inPlace.onceIdle(callback);
  }

  #queue(bucketId: number, frame: Buffer, done: (outcome: TransactionOutcome) => void): void {
    this.#queues[bucketId].push({ frame, resolve: done });
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(() => this.#run());
    }
  }

  #run(): void {
    this.#scheduled = false;
    const round: BucketWriter[] = [];
    const queues: Pending[][] = [];
    for (let b = 0; b < this.#writers.length; b++) {
      const queue = this.#queues[b];
      if (queue.length === 0) continue;
      this.#queues[b] = [];
      const writer = this.#writers[b];
      for (const p of queue) writer.stageFrame(p.frame);
      round.push(writer);
      queues.push(queue);
    }
    if (round.length === 0) return;
    const outcomes = this.#group.commit(round);
    for (let r = 0; r < round.length; r++) {
      const queue = queues[r];
      for (let i = 0; i < queue.length; i++) queue[i].resolve(outcomes[r].outcome(i));
    }
  }

  async stats(): Promise<BucketWriterStats[]> {
    return this.#writers.map((w) => ({ ...w.stats }));
  }

  async commitStats(): Promise<GroupCommitStats> {
    return { ...this.#group.stats };
  }

  async close(): Promise<void> {
    if (this.#queues.some((q) => q.length > 0)) this.#run();
    this.#group.close();
    for (const w of this.#writers) w.close();
  }
}

export class InProcessReadBackend implements ReadBackend {
  readonly #reader: StoreReader;
  constructor(reader: StoreReader) {
    this.#reader = reader;
  }
  async getEvent(eventId: Uint8Array, encoding?: ReadEncoding): Promise<RecordBatch> {
    return encodeBatch(this.#reader.getEvent(eventId), encoding, false);
  }
  async scanStream(streamId: string, partitionKey: Uint8Array | undefined, from: number, to: number, count: number, encoding?: ReadEncoding): Promise<ScanResult> {
    return encodeBatch(this.#reader.scanStream(streamId, partitionKey, from, to, count), encoding, true);
  }
  async streamVersion(streamId: string, partitionKey: Uint8Array | undefined): Promise<number> {
    return this.#reader.streamVersion(streamId, partitionKey);
  }
  async scanPartition(partitionId: number, from: number, to: number, count: number, encoding?: ReadEncoding): Promise<ScanResult> {
    return encodeBatch(this.#reader.scanPartition(partitionId, from, to, count), encoding, true);
  }
  async close(): Promise<void> {
    this.#reader.close();
  }
}
