/**
 * The embedded Database's options from the server configuration.
 *
 * `cache.capacity_bytes` is SierraDB's block-cache budget. This engine's cache holds stream states instead (a
 * stream's partition key and latest version, per bucket, for streams whose last event is in a sealed segment), so
 * the budget is turned into entries at an estimated {@link STREAM_CACHE_ENTRY_BYTES} each and split evenly over the
 * buckets, as SierraDB splits its cache.
 */
import type { Config } from '../config/config-schema.ts';
import type { DatabaseOptions } from '../database.ts';
import type { Logger } from '../logging/logger.ts';

/** Estimated memory of one cached stream state: a 64-byte id, a 16-byte key, a version, Map and LRU overhead. */
export const STREAM_CACHE_ENTRY_BYTES = 256;

export function databaseOptions(config: Config, logger?: Logger): DatabaseOptions {
  const perBucketBytes = config.cache.capacity_bytes / config.bucket.count;
  return {
    bucketCount: config.bucket.count,
    partitionCount: config.partition.count,
    segmentSizeBytes: config.segment.size_bytes,
    strictVersioning: config.append.strict_versioning,
    streamCacheEntries: Math.max(1, Math.floor(perBucketBytes / STREAM_CACHE_ENTRY_BYTES)),
    // A quarter of the budget again for ESCAN's cache of encoded event maps (0 with a 0 budget: no cache).
    streamMapCacheBytes: Math.floor(config.cache.capacity_bytes / 4),
    threads: { write: config.threads.write, read: config.threads.read },
    logger,
  };
}
