/**
 * A write worker: owns one or more buckets' BucketWriters and serves them from a request ring.
 *
 * Loop: sleep in Atomics.wait until a request arrives → drain every request in the ring, staging appends into
 * their bucket's batch (each frame is released as soon as its bytes are copied into the batch) → one group-commit
 * round (src/engine/group-commit.ts): each bucket's batch written, and all made durable by one fdatasync (of the
 * worker's commit log when several buckets are in the round) → one completion frame per request. Requests that
 * arrive during the round wait in the ring and form the next one, so rounds grow with load by themselves.
 */
import { workerData, parentPort, Worker } from 'node:worker_threads';
import { nodeFileIo } from '../native-free-io/file-io.ts';
import { PooledReadFileIo, READ_DESCRIPTORS_PER_THREAD } from '../native-free-io/pooled-read-file-io.ts';
import type { BatchOutcomes } from '../src/engine/batch-outcomes.ts';
import { BucketWriter } from '../src/engine/bucket-writer.ts';
import { CommitLog } from '../src/engine/commit-log.ts';
import { GroupCommit } from '../src/engine/group-commit.ts';
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
  /** Size of each of the worker's two commit log files (used when it owns several buckets). */
  commitLogFileBytes: number;
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
let commitLog: CommitLog | undefined;
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
  // A round touching several buckets is made durable by one fdatasync of this worker's commit log.
  if (writers.size > 1) commitLog = CommitLog.createOrWarn(nodeFileIo, data.dir, data.workerIndex, data.commitLogFileBytes, logger);
} catch (err) {
  parentPort!.postMessage({ type: 'error', message: (err as Error).stack ?? String(err) });
  process.exit(1);
}
const writerList = [...writers.values()];
const group = new GroupCommit({ io: nodeFileIo, writers: writerList, log: commitLog, logger });
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
    const buckets = writerList.map((w) => ({ bucketId: w.bucketId, ...w.stats, cache: w.cacheStats() }));
    pushFrame(encodeJsonCompletion(CompletionType.stats, requestId, { buckets, group: group.stats }));
  } else if (type === RequestType.close) {
    closing = requestId;
  }
};

/** The buckets of a round, and their requests' ids. */
const flushing: BucketWriter[] = [];
const flushingIds: number[][] = [];

/**
 * The loop: wait for requests, drain and stage them all, then one group-commit round (group-commit.ts) makes
 * every bucket's batch durable, and each request gets its completion. Requests that arrive meanwhile wait in the
 * ring and form the next round.
 */
function round(): void {
  for (;;) {
    // Idle moments pre-zero the active segments ahead of their write offsets (see BucketWriter.prezero).
    while (requests.peekAt() === -1 && prezeroSome());
    if (!requests.waitForData()) return;
    requests.drainAt(onRequest);
    for (const [bucketId, ids] of staged) {
      if (ids.length === 0) continue;
      flushing.push(writers.get(bucketId)!);
      flushingIds.push(ids);
    }
    if (flushing.length > 0) acknowledge(group.commit(flushing));
    if (closing !== undefined) {
      void close(closing);
      return;
    }
    // The event loop gets a turn each round while a checkpoint's syncs run on libuv's pool (their callbacks run
    // there), and while segments wait for the sealer: it is where the sealer's death is heard.
    if (group.checkpointing || (!sealerGone && writerList.some((w) => w.sealing))) {
      setImmediate(round);
      return;
    }
  }
}

/** Sends every request of the round its completion. */
function acknowledge(outcomes: readonly BatchOutcomes[]): void {
  for (let f = 0; f < flushing.length; f++) {
    const ids = flushingIds[f];
    const o = outcomes[f];
    for (let i = 0; i < ids.length; i++) {
      const frameBytes = batchCompletionBytes(o, i);
      const at = reserveCompletion(frameBytes);
      if (at === -1) break;
      encodeBatchCompletion(completions.bytes, at, ids[i], o, i);
      completions.commit();
    }
    ids.length = 0;
  }
  flushing.length = 0;
  flushingIds.length = 0;
}

/** Closes the worker once the sealer has written every segment handed to it (see drainSealer). */
async function close(requestId: number): Promise<void> {
  await drainSealer();
  group.close();
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
