/**
 * The default number of bucket writer threads, for the server's config and the embedded library alike: one writer
 * per bucket up to half the cores, as the largest divisor of the bucket count (each writer owns the same number of
 * buckets). The main thread and the clients need the other half. A writer syncs all its buckets at once, so the
 * count sets the CPU for staging, not the fsync concurrency. Measured on 2 cores: one writer of 4 buckets appended
 * ~8% faster than two of 2 at -P 1 and at -P 16 (2026-12-07), and two ~10% faster than four (2026-11-23).
 */
export function defaultWriteThreads(bucketCount: number, cpuCount: number, threadsMax = 1024): number {
  const max = Math.max(1, Math.min(threadsMax, Math.floor(cpuCount / 2)));
  for (let d = Math.min(bucketCount, max); d > 1; d--) if (bucketCount % d === 0) return d;
  return 1;
}
