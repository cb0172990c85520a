/**
 * A write worker's sealer thread: writes the index files of the segments its writer has sealed
 * (src/engine/segment-sealer.ts), one job after another in the order they come, and publishes the bucket's
 * `sealedBelow` once a segment's three files are durable. A failed write (a full disk) is retried after a pause;
 * until it succeeds the writer and the readers keep answering from the segment's in-memory index, and if the
 * process stops first, the next open rebuilds the files from the data file.
 */
import { workerData, parentPort } from 'node:worker_threads';
import { nodeFileIo } from '../native-free-io/file-io.ts';
import { writeSealJob, type SealJob } from '../src/engine/segment-sealer.ts';
import { createWorkerLogger } from '../src/logging/logger.ts';
import type { LogLevel } from '../src/config/config-schema.ts';
import { SharedState } from '../src/threads/shared-state.ts';

export interface SealerWorkerData {
  dir: string;
  workerIndex: number;
  bucketCount: number;
  partitionCount: number;
  sharedStateBuffer: SharedArrayBuffer;
  logLevel?: string;
}

const RETRY_MS = 2000;

const data = workerData as SealerWorkerData;
const logger = createWorkerLogger((data.logLevel ?? 'info') as LogLevel, { thread: `sealer-${data.workerIndex}` });
const sharedState = SharedState.attach(data.sharedStateBuffer, data.bucketCount, data.partitionCount);
const queue: SealJob[] = [];
let running = false;

function next(): void {
  const job = queue.shift();
  if (job === undefined) {
    running = false;
    return;
  }
  running = true;
  const startedMs = performance.now();
  try {
    writeSealJob(nodeFileIo, data.dir, job);
  } catch (err) {
    logger.error({ bucket: job.bucketId, segment: job.segmentId, err: String(err) }, `writing a sealed segment's index files failed; retrying in ${RETRY_MS} ms`);
    queue.unshift(job);
    setTimeout(next, RETRY_MS);
    return;
  }
  sharedState.publishSealedBelow(job.bucketId, job.segmentId + 1);
  sharedState.announce();
  logger.info({ bucket: job.bucketId, segment: job.segmentId, events: job.eventCount, ms: Math.round(performance.now() - startedMs) }, 'segment sealed');
  setImmediate(next);
}

parentPort!.on('message', (job: SealJob) => {
  queue.push(job);
  if (!running) next();
});
