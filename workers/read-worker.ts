/**
 * A read worker (piscina): one StoreReader per thread, following every bucket's published durable position.
 * A result is one transferable buffer: an 8-byte head (record count u32, has-more u8) and the raw records, which
 * the main thread decodes or encodes straight into replies.
 */
import { workerData } from 'node:worker_threads';
import { move } from 'piscina';
import { nodeFileIo } from '../native-free-io/file-io.ts';
import { PooledReadFileIo, READ_DESCRIPTORS_PER_THREAD } from '../native-free-io/pooled-read-file-io.ts';
import { RESULT_HEAD_BYTES, ResultMode, StoreReader, writeResultHead, type RecordBatch } from '../src/engine/store-reader.ts';
import { createWorkerLogger } from '../src/logging/logger.ts';
import { encodeEvents, writeEventMaps } from '../src/protocol/event-map.ts';
import { RespEncoder, type RespProtocol } from '../src/protocol/resp-encoder.ts';
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

/** `resp`, when set, asks for the events encoded as RESP event maps in that protocol (see encodeEvents), `bounds` also for where each map starts. */
export type ReadTask =
  | { op: 'getEvent'; eventId: Uint8Array; resp?: RespProtocol }
  | { op: 'scanStream'; streamId: string; partitionKey?: Uint8Array; from: number; to: number; count: number; resp?: RespProtocol; bounds?: boolean }
  | { op: 'streamVersion'; streamId: string; partitionKey?: Uint8Array }
  /** `records` with `resp`: the raw records and their bare maps (ResultMode.recordsAndMaps), for subscription pages. */
  | { op: 'scanPartition'; partitionId: number; from: number; to: number; count: number; resp?: RespProtocol; records?: boolean; into?: ArrayBuffer }
  /** Catch up with these buckets' published positions now (StoreReader.follow), ahead of the reads. */
  | { op: 'follow'; bucketIds: number[] };

const data = workerData as ReadWorkerData;
const reader = new StoreReader({
  io: new PooledReadFileIo(nodeFileIo, READ_DESCRIPTORS_PER_THREAD),
  dir: data.dir,
  bucketCount: data.bucketCount,
  partitionCount: data.partitionCount,
  segmentSizeBytes: data.segmentSizeBytes,
  sharedState: SharedState.attach(data.sharedStateBuffer, data.bucketCount, data.partitionCount),
  logger: createWorkerLogger((data.logLevel ?? 'info') as LogLevel, { thread: 'reader' }),
});

function pack(batch: RecordBatch, hasMore: boolean, resp: RespProtocol | undefined, array: boolean, bounds = false): Uint8Array {
  if (resp !== undefined && bounds) {
    // RESP with the maps' bounds: head, count + 1 u32 bounds, then the RESP bytes (encoded in place after them).
    const b = new Uint32Array(batch.count + 1);
    const boundsAt = RESULT_HEAD_BYTES;
    const out = encodeEvents(batch.records, batch.count, resp, array, boundsAt + 4 * b.length, b);
    for (let i = 0; i < b.length; i++) out.writeUInt32LE(b[i], boundsAt + 4 * i);
    writeResultHead(out, batch.count, hasMore, ResultMode.respWithBounds);
    return out;
  }
  if (resp !== undefined) {
    const out = encodeEvents(batch.records, batch.count, resp, array, RESULT_HEAD_BYTES);
    writeResultHead(out, batch.count, hasMore, ResultMode.resp);
    return out;
  }
  // The collector left RESULT_HEAD_BYTES free in front of the records (in a buffer of its own): fill and transfer.
  let out = batch.withHead;
  if (out === undefined) {
    // Not from a collector (an empty result): a buffer of its own, since Node's shared pool cannot be transferred.
    out = Buffer.allocUnsafeSlow(RESULT_HEAD_BYTES + batch.records.length);
    batch.records.copy(out, RESULT_HEAD_BYTES);
  }
  writeResultHead(out, batch.count, hasMore, ResultMode.records);
  return out;
}

/** Encoders for recordsAndMaps results, reused from task to task: their bytes are copied into the result. */
const mapEncoders: Record<RespProtocol, RespEncoder> = {
  2: new RespEncoder({ protocol: 2, slabBytes: 1 << 20 }),
  3: new RespEncoder({ protocol: 3, slabBytes: 1 << 20 }),
};

/**
 * The records and, after them, each one's bare event map in `protocol`, then the maps' bounds and the records'
 * length (ResultMode.recordsAndMaps). The records stay where the collector put them: in the recycled buffer the
 * task brought (`into`), when the maps fit after them, else all goes into a new buffer.
 */
function packRecordsAndMaps(batch: RecordBatch, hasMore: boolean, protocol: RespProtocol): Uint8Array {
  const { records, count } = batch;
  const e = mapEncoders[protocol];
  const bounds = new Uint32Array(count + 1);
  writeEventMaps(e, records, count, bounds);
  const maps = e.take();
  const recordsEnd = RESULT_HEAD_BYTES + records.length;
  const total = recordsEnd + maps.length + 4 * (count + 1) + 4;
  const w = batch.withHead;
  let out: Buffer;
  if (w !== undefined && w.buffer.byteLength - w.byteOffset >= total) {
    out = Buffer.from(w.buffer, w.byteOffset, total);
  } else {
    out = Buffer.allocUnsafeSlow(total);
    records.copy(out, RESULT_HEAD_BYTES);
  }
  maps.copy(out, recordsEnd);
  e.recycle();
  let p = recordsEnd + maps.length;
  for (let i = 0; i <= count; i++, p += 4) out.writeUInt32LE(bounds[i], p);
  out.writeUInt32LE(records.length, p);
  writeResultHead(out, count, hasMore, ResultMode.recordsAndMaps);
  return out;
}

export default function readTask(task: ReadTask): unknown {
  switch (task.op) {
    case 'getEvent':
      return move(pack(reader.getEvent(task.eventId), false, task.resp, false) as never);
    case 'scanStream': {
      const r = reader.scanStream(task.streamId, task.partitionKey, task.from, task.to, task.count);
      return move(pack(r, r.hasMore, task.resp, true, task.bounds) as never);
    }
    case 'scanPartition': {
      const r = reader.scanPartition(task.partitionId, task.from, task.to, task.count, task.into);
      if (task.records === true && task.resp !== undefined) return move(packRecordsAndMaps(r, r.hasMore, task.resp) as never);
      return move(pack(r, r.hasMore, task.resp, true) as never);
    }
    case 'streamVersion':
      return reader.streamVersion(task.streamId, task.partitionKey);
    case 'follow':
      for (const b of task.bucketIds) reader.follow(b);
      return null;
  }
}
