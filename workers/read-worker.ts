/**
 * A read worker (piscina): one StoreReader per thread, following every bucket's published durable position.
 * A result is one transferable buffer: an 8-byte head (record count u32, has-more u8) and the raw records, which
 * the main thread decodes or encodes straight into replies.
 */
import { workerData } from 'node:worker_threads';
import { move } from 'piscina';
import { nodeFileIo } from '../native-free-io/file-io.ts';
import { StoreReader, type RecordBatch } from '../src/engine/store-reader.ts';
import { createWorkerLogger } from '../src/logging/logger.ts';
import type { LogLevel } from '../src/config/config-schema.ts';
import { SharedState } from '../src/threads/shared-state.ts';

export interface ReadWorkerData {
  dir: string;
  bucketCount: number;
  partitionCount: number;
  segmentSizeBytes: number;
  sharedStateBuffer: SharedArrayBuffer;
  logLevel?: string;
}

export type ReadTask =
  | { op: 'getEvent'; eventId: Uint8Array }
  | { op: 'scanStream'; streamId: string; partitionKey?: Uint8Array; from: number; to: number; count: number }
  | { op: 'streamVersion'; streamId: string; partitionKey?: Uint8Array }
  | { op: 'scanPartition'; partitionId: number; from: number; to: number; count: number };

const data = workerData as ReadWorkerData;
const reader = new StoreReader({
  io: nodeFileIo,
  dir: data.dir,
  bucketCount: data.bucketCount,
  partitionCount: data.partitionCount,
  segmentSizeBytes: data.segmentSizeBytes,
  sharedState: SharedState.attach(data.sharedStateBuffer, data.bucketCount, data.partitionCount),
  logger: createWorkerLogger((data.logLevel ?? 'info') as LogLevel, { thread: 'reader' }),
});

function pack(batch: RecordBatch, hasMore: boolean): Uint8Array {
  const out = new Uint8Array(8 + batch.records.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, batch.count, true);
  out[4] = hasMore ? 1 : 0;
  out.set(batch.records, 8);
  return out;
}

export default function readTask(task: ReadTask): unknown {
  switch (task.op) {
    case 'getEvent':
      return move(pack(reader.getEvent(task.eventId), false) as never);
    case 'scanStream': {
      const r = reader.scanStream(task.streamId, task.partitionKey, task.from, task.to, task.count);
      return move(pack(r, r.hasMore) as never);
    }
    case 'scanPartition': {
      const r = reader.scanPartition(task.partitionId, task.from, task.to, task.count);
      return move(pack(r, r.hasMore) as never);
    }
    case 'streamVersion':
      return reader.streamVersion(task.streamId, task.partitionKey);
  }
}
