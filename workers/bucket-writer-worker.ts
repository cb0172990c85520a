/**
 * A write worker: owns one or more buckets' BucketWriters and serves them from a request ring.
 *
 * Loop: sleep in Atomics.wait until a request arrives → drain every request in the ring, staging appends into
 * their bucket's batch (each frame is released as soon as its bytes are copied into the batch) → for each bucket
 * with staged work, one write and one fdatasync (group commit) → one completion frame per request. Requests that
 * arrive during an fdatasync wait in the ring and form the next batch, so batches grow with load by themselves.
 */
import { workerData, parentPort } from 'node:worker_threads';
import { nodeFileIo } from '../native-free-io/file-io.ts';
import { PooledReadFileIo, READ_DESCRIPTORS_PER_THREAD } from '../native-free-io/pooled-read-file-io.ts';
import { BucketWriter, type TransactionOutcome } from '../src/engine/bucket-writer.ts';
import { createWorkerLogger } from '../src/logging/logger.ts';
import type { LogLevel } from '../src/config/config-schema.ts';
import { RingQueue } from '../src/threads/ring-queue.ts';
import { SharedState } from '../src/threads/shared-state.ts';
import {
  appendCompletionBytes,
  CompletionType,
  decodeRequestHead,
  encodeAppendCompletion,
  encodeJsonCompletion,
  RequestType,
} from '../src/threads/write-messages.ts';

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
}

const data = workerData as WriteWorkerData;
const logger = createWorkerLogger((data.logLevel ?? 'info') as LogLevel, { thread: `writer-${data.workerIndex}` });
const sharedState = SharedState.attach(data.sharedStateBuffer, data.bucketCount, data.partitionCount);
const requests = RingQueue.attach(data.requestRing);
const completions = RingQueue.attach(data.completionRing);

// Sealed segments are read through a bounded pool of descriptors; the active segments' writable handles are not pooled.
const io = new PooledReadFileIo(nodeFileIo, READ_DESCRIPTORS_PER_THREAD);
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
      }),
    );
  }
} catch (err) {
  parentPort!.postMessage({ type: 'error', message: (err as Error).stack ?? String(err) });
  process.exit(1);
}
parentPort!.postMessage({ type: 'ready' });

function pushCompletion(frameBytes: number, fill: (view: Buffer) => void): void {
  let view = completions.tryReserve(frameBytes);
  while (view === undefined) {
    if (!completions.waitForSpace(frameBytes)) return; // closed: the main thread is gone
    view = completions.tryReserve(frameBytes);
  }
  fill(view);
  completions.commit();
}

/** Request ids of staged appends, per bucket, in staging order. */
const staged = new Map<number, number[]>();
let closing: number | undefined;

for (;;) {
  // Idle moments pre-zero the active segments ahead of their write offsets (see BucketWriter.prezero).
  while (requests.peek() === undefined && [...writers.values()].some((w) => w.prezero()));
  if (!requests.waitForData()) break;
  requests.drain((frame) => {
    const head = decodeRequestHead(frame);
    if (head.type === RequestType.append) {
      const writer = writers.get(head.bucketId);
      if (writer === undefined) throw new Error(`bucket ${head.bucketId} is not owned by writer ${data.workerIndex}`);
      writer.stageFrame(frame);
      let ids = staged.get(head.bucketId);
      if (ids === undefined) staged.set(head.bucketId, (ids = []));
      ids.push(head.requestId);
    } else if (head.type === RequestType.stats) {
      const stats = [...writers.values()].map((w) => ({ bucketId: w.bucketId, ...w.stats, cache: w.cacheStats() }));
      const frameOut = encodeJsonCompletion(CompletionType.stats, head.requestId, stats);
      pushCompletion(frameOut.length, (v) => frameOut.copy(v));
    } else if (head.type === RequestType.close) {
      closing = head.requestId;
    }
  });
  for (const [bucketId, ids] of staged) {
    if (ids.length === 0) continue;
    const outcomes: TransactionOutcome[] = writers.get(bucketId)!.commitBatch();
    for (let i = 0; i < ids.length; i++) {
      const requestId = ids[i];
      const o = outcomes[i];
      pushCompletion(appendCompletionBytes(o), (v) => encodeAppendCompletion(v, requestId, o));
    }
    ids.length = 0;
  }
  if (closing !== undefined) {
    for (const w of writers.values()) w.close();
    const frameOut = encodeJsonCompletion(CompletionType.closed, closing, null);
    pushCompletion(frameOut.length, (v) => frameOut.copy(v));
    break;
  }
}
