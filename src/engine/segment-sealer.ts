/**
 * Sealing a segment off the writer's loop.
 *
 * When a bucket's active segment fills, its writer starts the next segment at once. The sealed segment's three
 * index files (event ids, partitions, streams) are written by a sealer thread meanwhile. Written on the writer's
 * loop, they stalled every append of the writer's buckets: ~450 ms for a 256 MiB segment of 878,000 events, so
 * ~2 s when a writer's four buckets fill together.
 *
 *   writer: rollover ──packSealJob (copies, ~10 ms)──▶ sealer thread: writeSealJob (temp file, fsync, rename)
 *      │ keeps the segment's in-memory index                 │ then SharedState.publishSealedBelow(bucket, id + 1)
 *      ▼ for its stream versions                             ▼
 *   writer and readers open the index files only once `sealedBelow` has passed the segment; until then they
 *   answer from the index they built in memory while the segment was active.
 *
 * A crash before the files exist is recovered as any missing index file is: the writer rebuilds them from the data
 * file when it opens the bucket. A failed write (a full disk) is retried by the sealer after a pause.
 */
import type { FileIo } from '../../native-free-io/file-io.ts';
import { writeIndexFiles, type SegmentIndex } from './segment-index.ts';

/** Hands a sealed segment's index to whoever writes its index files. */
export interface SegmentSealer {
  /**
   * Writes the index files of `segmentId` from `index` (a snapshot is taken now: the caller keeps using `index`),
   * then publishes `sealedBelow = segmentId + 1` for the bucket. Segments of one bucket are sealed in order.
   */
  seal(bucketId: number, segmentId: number, index: SegmentIndex): void;
}

/** A segment's index as flat typed arrays: cheap to copy, transferable to another thread. */
export interface SealJob {
  bucketId: number;
  segmentId: number;
  eventCount: number;
  /** 16 bytes an event id, in the order they were added. */
  eventIds: Uint8Array;
  eventOffsets: Float64Array;
  partitionIds: Uint32Array;
  partitionFirstSequences: Float64Array;
  /** Offsets of partition i: `partitionOffsets[partitionStarts[i] .. partitionStarts[i + 1])`. */
  partitionStarts: Uint32Array;
  partitionOffsets: Float64Array;
  /** Stream ids joined by NUL (stream ids never contain one). */
  streamNames: string;
  streamPartitionKeys: Uint8Array;
  streamFirstVersions: Float64Array;
  /** Offsets of stream i: `streamOffsets[streamStarts[i] .. streamStarts[i + 1])`. */
  streamStarts: Uint32Array;
  streamOffsets: Float64Array;
}

/** Copies `index` into a job and lists the buffers that can be transferred with it. */
export function packSealJob(bucketId: number, segmentId: number, index: SegmentIndex): { job: SealJob; transfer: ArrayBuffer[] } {
  const events = index.events.columns();
  const partitions = [...index.partitions];
  const partitionIds = new Uint32Array(partitions.length);
  const partitionFirstSequences = new Float64Array(partitions.length);
  const partitionStarts = new Uint32Array(partitions.length + 1);
  partitions.forEach(([id, p], i) => {
    partitionIds[i] = id;
    partitionFirstSequences[i] = p.firstSequence;
    partitionStarts[i + 1] = partitionStarts[i] + p.offsets.length;
  });
  const partitionOffsets = new Float64Array(partitionStarts[partitions.length]);
  partitions.forEach(([, p], i) => partitionOffsets.set(p.offsets, partitionStarts[i]));

  const names: string[] = [];
  const streamPartitionKeys = new Uint8Array(16 * index.streams.size);
  const streamFirstVersions = new Float64Array(index.streams.size);
  const streamStarts = new Uint32Array(index.streams.size + 1);
  let i = 0;
  for (const [name, s] of index.streams) {
    names.push(name);
    streamPartitionKeys.set(s.partitionKey, 16 * i);
    streamFirstVersions[i] = s.firstVersion;
    streamStarts[i + 1] = streamStarts[i] + s.offsets.length;
    i++;
  }
  const streamOffsets = new Float64Array(streamStarts[index.streams.size]);
  i = 0;
  for (const s of index.streams.values()) streamOffsets.set(s.offsets, streamStarts[i++]);

  const job: SealJob = {
    bucketId,
    segmentId,
    eventCount: events.count,
    eventIds: events.ids.slice(),
    eventOffsets: events.offsets.slice(),
    partitionIds,
    partitionFirstSequences,
    partitionStarts,
    partitionOffsets,
    streamNames: names.join('\0'),
    streamPartitionKeys,
    streamFirstVersions,
    streamStarts,
    streamOffsets,
  };
  const transfer = [
    job.eventIds,
    job.eventOffsets,
    partitionIds,
    partitionFirstSequences,
    partitionStarts,
    partitionOffsets,
    streamPartitionKeys,
    streamFirstVersions,
    streamStarts,
    streamOffsets,
  ].map((a) => a.buffer as ArrayBuffer);
  return { job, transfer };
}

/** Writes the job's three index files, each durably (temp file, fdatasync, rename, directory fsync). */
export function writeSealJob(io: FileIo, dir: string, job: SealJob): void {
  const partitions = new Map<number, { firstSequence: number; offsets: Float64Array }>();
  job.partitionIds.forEach((id, i) => {
    partitions.set(id, { firstSequence: job.partitionFirstSequences[i], offsets: job.partitionOffsets.subarray(job.partitionStarts[i], job.partitionStarts[i + 1]) });
  });
  const streams = new Map<string, { partitionKey: Uint8Array; firstVersion: number; offsets: Float64Array }>();
  const names = job.streamFirstVersions.length === 0 ? [] : job.streamNames.split('\0');
  names.forEach((name, i) => {
    streams.set(name, {
      partitionKey: job.streamPartitionKeys.subarray(16 * i, 16 * i + 16),
      firstVersion: job.streamFirstVersions[i],
      offsets: job.streamOffsets.subarray(job.streamStarts[i], job.streamStarts[i + 1]),
    });
  });
  const events = { count: job.eventCount, ids: job.eventIds, offsets: job.eventOffsets };
  writeIndexFiles(io, dir, job.bucketId, job.segmentId, { events, partitions, streams });
}
