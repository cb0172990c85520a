/**
 * A write worker: owns one or more buckets' BucketWriters and serves them from a request ring.
 *
 * Loop: sleep in Atomics.wait until a request arrives → drain every request in the ring, staging appends into
 * their bucket's batch (each frame is released as soon as its bytes are copied into the batch) → for each bucket
 * with staged work, one write, then one fdatasync per bucket, all at once (group commit) → one completion frame per
 * request. Requests that arrive during the fdatasyncs wait in the ring and form the next batch, so batches grow with
 * load by themselves.
 */
import { workerData, parentPort, Worker } from 'node:worker_threads';
import { datasyncFailure, nodeFileIo, startDatasync, type FileHandle } from '../native-free-io/file-io.ts';
import { PooledReadFileIo, READ_DESCRIPTORS_PER_THREAD } from '../native-free-io/pooled-read-file-io.ts';
import { BucketWriter } from '../src/engine/bucket-writer.ts';
import { packSealJob, type SegmentSealer } from '../src/engine/segment-sealer.ts';
import type { SealerWorkerData } from './segment-sealer-worker.ts';
import { createWorkerLogger } from '../src/logging/logger.ts';
import type { LogLevel } from '../src/config/config-schema.ts';
import { RingQueue } from '../src/threads/ring-queue.ts';
import { SharedState } from '../src/threads/shared-state.ts';
import { batchCompletionBytes, CompletionType, encodeBatchCompletion, encodeJsonCompletion, RequestType } from '../src/threads/write-messages.ts';

export interface WriteWorkerData {
  dir: string;
  workerIndex: number;
  bucketIds: number[];
  bucketCount: number;
  partitionCount: number;
  segmentSizeBytes: number;
  streamCacheEntries: number;
  sharedStateBuffer: SharedArrayBuffer;
  requestRing: SharedArrayBuffer;
  completionRing: SharedArrayBuffer;
  logLevel?: string;
  /** The sealer thread's script, when not workers/segment-sealer-worker.ts (tests: one that dies). */
  sealerScript?: string;
}

const data = workerData as WriteWorkerData;
const logger = createWorkerLogger((data.logLevel ?? 'info') as LogLevel, { thread: `writer-${data.workerIndex}` });
const sharedState = SharedState.attach(data.sharedStateBuffer, data.bucketCount, data.partitionCount);
const requests = RingQueue.attach(data.requestRing);
const completions = RingQueue.attach(data.completionRing);

// Sealed segments are read through a bounded pool of descriptors; the active segments' writable handles are not pooled.
const io = new PooledReadFileIo(nodeFileIo, READ_DESCRIPTORS_PER_THREAD);

// Sealed segments' index files are written by a thread of their own (src/engine/segment-sealer.ts): a rollover
// costs this loop a copy of the segment's index, not the ~450 ms of writing the files.
const sealerData: SealerWorkerData = {
  dir: data.dir,
  workerIndex: data.workerIndex,
  bucketCount: data.bucketCount,
  partitionCount: data.partitionCount,
  sharedStateBuffer: data.sharedStateBuffer,
  logLevel: data.logLevel,
};
const sealerThread = new Worker(new URL(data.sealerScript ?? './segment-sealer-worker.ts', import.meta.url), { workerData: sealerData });
/** The sealer thread ended before the worker's own close: its segments and later ones are sealed here (sealHere). */
let sealerGone = false;
let terminatingSealer = false;
sealerThread.on('error', (err) => logger.error({ err: String(err) }, 'the sealer thread failed'));
sealerThread.on('exit', (code) => {
  if (terminatingSealer) return;
  sealerGone = true;
  logger.error({ code }, 'the sealer thread stopped; segments are sealed on the writer from now on');
  for (const w of writerList) w.sealHere();
  sharedState.announce();
});
const sealer: SegmentSealer = {
  seal(bucketId, segmentId, index) {
    const { job, transfer } = packSealJob(bucketId, segmentId, index);
    sealerThread.postMessage(job, transfer);
  },
};
/** How long a shutdown waits for the sealer to finish (what it leaves undone, the next open rebuilds). */
const SEALER_DRAIN_MS = 60_000;
const writers = new Map<number, BucketWriter>();
try {
  for (const bucketId of data.bucketIds) {
    writers.set(
      bucketId,
      BucketWriter.open({
        io,
        dir: data.dir,
        bucketId,
        partitionCount: data.partitionCount,
        bucketCount: data.bucketCount,
        segmentSizeBytes: data.segmentSizeBytes,
        streamCacheEntries: data.streamCacheEntries,
        sharedState,
        logger,
        sealer,
      }),
    );
  }
} catch (err) {
  parentPort!.postMessage({ type: 'error', message: (err as Error).stack ?? String(err) });
  process.exit(1);
}
parentPort!.postMessage({ type: 'ready' });

/** Reserves `frameBytes` in the completion ring, waiting for room: the offset in `completions.bytes`, or -1 once closed. */
function reserveCompletion(frameBytes: number): number {
  let at = completions.tryReserveAt(frameBytes);
  while (at === -1) {
    if (!completions.waitForSpace(frameBytes)) return -1; // closed: the main thread is gone
    at = completions.tryReserveAt(frameBytes);
  }
  return at;
}

function pushFrame(frame: Buffer): void {
  const at = reserveCompletion(frame.length);
  if (at === -1) return;
  frame.copy(completions.bytes, at);
  completions.commit();
}

/** Request ids of staged appends, per bucket, in staging order. */
const staged = new Map<number, number[]>();
let closing: number | undefined;
const writerList = [...writers.values()];
const prezeroSome = (): boolean => writerList.some((w) => w.prezero());

const onRequest = (bytes: Buffer, at: number): void => {
  const type = bytes[at];
  const bucketId = bytes.readUInt16LE(at + 2);
  const requestId = bytes.readUInt32LE(at + 4);
  if (type === RequestType.append) {
    const writer = writers.get(bucketId);
    if (writer === undefined) throw new Error(`bucket ${bucketId} is not owned by writer ${data.workerIndex}`);
    writer.stageFrame(bytes, at);
    let ids = staged.get(bucketId);
    if (ids === undefined) staged.set(bucketId, (ids = []));
    ids.push(requestId);
  } else if (type === RequestType.stats) {
    const stats = writerList.map((w) => ({ bucketId: w.bucketId, ...w.stats, cache: w.cacheStats() }));
    pushFrame(encodeJsonCompletion(CompletionType.stats, requestId, stats));
  } else if (type === RequestType.close) {
    closing = requestId;
  }
};

/** Buckets of the batch being made durable, the handles to sync, and the syncs' outcomes (by bucket). */
const flushing: BucketWriter[] = [];
const syncHandles: (FileHandle | undefined)[] = [];
const syncErrors: (Error | null)[] = [];
let syncsPending = 0;

/**
 * One round: wait for requests, drain and stage them all, write each bucket's batch, then fdatasync those buckets.
 * One bucket syncs right here. Several sync at once on libuv's pool (concurrent syncs of different files overlap on
 * the device: measured here, 4 at once take ~250 µs against ~130 µs for one) while this thread returns to its event
 * loop; {@link completeRound} then acknowledges them and starts the next round.
 */
function round(): void {
  for (;;) {
    // Idle moments pre-zero the active segments ahead of their write offsets (see BucketWriter.prezero).
    while (requests.peekAt() === -1 && prezeroSome());
    if (!requests.waitForData()) return;
    requests.drainAt(onRequest);
    let toSync = 0;
    for (const [bucketId, ids] of staged) {
      if (ids.length === 0) continue;
      const writer = writers.get(bucketId)!;
      const handle = writer.writeBatch();
      flushing.push(writer);
      syncHandles.push(handle);
      syncErrors.push(null);
      if (handle !== undefined) toSync++;
    }
    if (toSync <= 1) {
      for (let f = 0; f < flushing.length; f++) {
        const handle = syncHandles[f];
        if (handle !== undefined) syncErrors[f] = datasyncFailure(handle);
      }
      if (!acknowledge()) return;
      // While segments wait for the sealer, the event loop gets a turn each round: it is where the sealer's
      // death is heard (a round with one bucket to sync never returns to it otherwise).
      if (!sealerGone && writerList.some((w) => w.sealing)) {
        setImmediate(round);
        return;
      }
      continue;
    }
    syncsPending = toSync;
    for (let f = 0; f < flushing.length; f++) {
      const handle = syncHandles[f];
      if (handle === undefined) continue;
      startDatasync(handle, (err) => {
        syncErrors[f] = err;
        if (--syncsPending === 0) completeRound();
      });
    }
    return;
  }
}

function completeRound(): void {
  if (acknowledge()) round();
}

/** Acknowledges every flushed bucket's requests; false once the worker is done (closed). */
function acknowledge(): boolean {
  for (let f = 0; f < flushing.length; f++) {
    const writer = flushing[f];
    const ids = staged.get(writer.bucketId)!;
    const outcomes = writer.finishBatch(syncErrors[f]);
    for (let i = 0; i < ids.length; i++) {
      const frameBytes = batchCompletionBytes(outcomes, i);
      const at = reserveCompletion(frameBytes);
      if (at === -1) break;
      encodeBatchCompletion(completions.bytes, at, ids[i], outcomes, i);
      completions.commit();
    }
    ids.length = 0;
  }
  flushing.length = 0;
  syncHandles.length = 0;
  syncErrors.length = 0;
  if (closing !== undefined) {
    void close(closing);
    return false;
  }
  return true;
}

/** Closes the worker once the sealer has written every segment handed to it (see drainSealer). */
async function close(requestId: number): Promise<void> {
  await drainSealer();
  for (const w of writerList) w.close();
  terminatingSealer = true;
  void sealerThread.terminate();
  pushFrame(encodeJsonCompletion(CompletionType.closed, requestId, null));
}

/**
 * Waits until the sealer has written every segment handed to it, or SEALER_DRAIN_MS have passed. It waits on the
 * event loop, where a sealer that dies meanwhile is heard of (its segments are then sealed here).
 */
async function drainSealer(): Promise<void> {
  const deadline = performance.now() + SEALER_DRAIN_MS;
  for (;;) {
    const seen = sharedState.publishCounter();
    const pending = writerList.reduce((n, w) => n + w.collectSealed(), 0);
    if (pending === 0) return;
    const left = deadline - performance.now();
    // Gone, the sealer leaves only what sealHere could not write (a full disk): nothing more will come.
    if (left <= 0 || sealerGone) {
      logger.warn({ segments: pending }, 'segments were left unsealed at shutdown; the next open rebuilds their index files');
      return;
    }
    await sharedState.waitForPublish(seen, Math.min(left, 100));
  }
}

round();
