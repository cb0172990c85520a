/**
 * The data directory, laid out as SierraDB's:
 *
 *   <dir>/meta.json
 *   <dir>/buckets/<bucket:05>/segments/<segment:010>/data.evts | index.eidx | partition.pidx | stream.sidx
 *                                                   (and data.ckpt while the segment is active)
 *   <dir>/commit-log/writer-<n>-<0|1>.log   while a write worker of several buckets runs (src/engine/commit-log.ts)
 *
 * meta.json fixes the bucket count, partition count and segment size at creation; reopening with other values
 * fails with a message that names both.
 */
import * as path from 'node:path';
import { mkdirDurable, readWholeFile, writeFileDurably, type FileIo } from './file-io.ts';

export const META_FILE = 'meta.json';
export const DATA_FILE = 'data.evts';
export const EVENT_INDEX_FILE = 'index.eidx';
export const PARTITION_INDEX_FILE = 'partition.pidx';
export const STREAM_INDEX_FILE = 'stream.sidx';
/** The active segment's checkpoint (segment-checkpoint.ts). */
export const CHECKPOINT_FILE = 'data.ckpt';

export function bucketDir(dir: string, bucketId: number): string {
  return path.join(dir, 'buckets', String(bucketId).padStart(5, '0'));
}

export function segmentsDir(dir: string, bucketId: number): string {
  return path.join(bucketDir(dir, bucketId), 'segments');
}

export function segmentDir(dir: string, bucketId: number, segmentId: number): string {
  return path.join(segmentsDir(dir, bucketId), String(segmentId).padStart(10, '0'));
}

export function segmentFile(dir: string, bucketId: number, segmentId: number, file: string): string {
  return path.join(segmentDir(dir, bucketId, segmentId), file);
}

/** Segment ids present for a bucket, ascending. */
export function listSegmentIds(io: FileIo, dir: string, bucketId: number): number[] {
  const segs = segmentsDir(dir, bucketId);
  if (!io.exists(segs)) return [];
  return io
    .readdir(segs)
    .filter((name) => /^\d{10}$/.test(name))
    .map(Number)
    .sort((a, b) => a - b);
}

export interface DatabaseMeta {
  version: 1;
  created_at: number;
  total_buckets: number;
  total_partitions: number;
  segment_size_bytes: number;
}

export interface LayoutShape {
  bucketCount: number;
  partitionCount: number;
  segmentSizeBytes: number;
}

export class LayoutMismatchError extends Error {
  override name = 'LayoutMismatchError';
}

/**
 * Creates meta.json in an empty directory, or checks an existing one against the requested shape.
 * Returns the meta in force.
 */
export function openMeta(io: FileIo, dir: string, shape: LayoutShape, nowMs = Date.now()): DatabaseMeta {
  mkdirDurable(io, dir);
  const metaPath = path.join(dir, META_FILE);
  if (!io.exists(metaPath)) {
    const meta: DatabaseMeta = {
      version: 1,
      created_at: nowMs * 1_000_000,
      total_buckets: shape.bucketCount,
      total_partitions: shape.partitionCount,
      segment_size_bytes: shape.segmentSizeBytes,
    };
    writeFileDurably(io, metaPath, Buffer.from(JSON.stringify(meta)));
    return meta;
  }
  let meta: DatabaseMeta;
  try {
    meta = JSON.parse(readWholeFile(io, metaPath).toString('utf8'));
  } catch (err) {
    throw new LayoutMismatchError(`${metaPath} is not valid JSON`, { cause: err });
  }
  const problems: string[] = [];
  const check = (what: string, stored: number | undefined, requested: number) => {
    if (stored !== undefined && stored !== requested) problems.push(`${what} is ${stored} in ${metaPath} but ${requested} was requested`);
  };
  check('bucket count', meta.total_buckets, shape.bucketCount);
  check('partition count', meta.total_partitions, shape.partitionCount);
  check('segment size', meta.segment_size_bytes, shape.segmentSizeBytes);
  if (problems.length > 0) {
    throw new LayoutMismatchError(`the data directory was created with a different layout: ${problems.join('; ')}`);
  }
  return meta;
}
