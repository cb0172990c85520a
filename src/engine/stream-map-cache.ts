/**
 * A read cache for ESCAN: the RESP3 event maps of stream versions recently read, so that paging through a hot
 * stream again copies bytes on the main thread instead of a read-worker round trip, disk reads and encoding per page
 * (most of an ESCAN's time: about 0.1 ms of the worker's for 100 events, and the hand-off there and back).
 *
 * Events never change once durable, so an entry never goes stale; what must stay exact is `has_more`. A page is
 * served only when every version it holds is cached, and `has_more` only from what the cache itself holds: true
 * when the version after the page is cached (and within the asked range), false when the page ends at the range's
 * end. Otherwise (the next version is not cached: it may or may not exist) the read goes to the disk, whose answer
 * is exact, and its maps join the cache.
 *
 * Keyed by bucket and stream id (the writer keeps one partition key per stream within a bucket, and a read
 * selects the bucket by the key, as StoreReader does). Bounded by bytes; the least recently used streams go first.
 * The maps are views into the read results they came in (a page's buffer lives while any of its maps is cached).
 */
export class StreamMapCache {
  readonly budgetBytes: number;
  /** A stream's maps by version, and the bytes they are charged. Insertion order is recency: a use moves a stream to the end. */
  readonly #streams = new Map<string, { versions: Map<number, Buffer>; bytes: number }>();
  #bytes = 0;
  hits = 0;
  misses = 0;

  constructor(budgetBytes: number) {
    this.budgetBytes = budgetBytes;
  }

  get bytes(): number {
    return this.#bytes;
  }

  /**
   * The maps of versions `from ..` (at most `count`, none past `to`) and whether more follow, or undefined when the
   * cache cannot answer exactly.
   */
  read(bucketId: number, streamId: string, from: number, to: number, count: number): { maps: Buffer[]; hasMore: boolean } | undefined {
    const key = cacheKey(bucketId, streamId);
    const entry = this.#streams.get(key);
    const size = Math.min(count, to - from + 1);
    if (entry === undefined || !(size > 0)) {
      this.misses++;
      return undefined;
    }
    const versions = entry.versions;
    const maps: Buffer[] = new Array(size);
    for (let i = 0; i < size; i++) {
      const map = versions.get(from + i);
      if (map === undefined) {
        this.misses++;
        return undefined;
      }
      maps[i] = map;
    }
    const last = from + size - 1;
    let hasMore: boolean;
    if (last >= to) hasMore = false;
    else if (versions.has(last + 1)) hasMore = true;
    else {
      this.misses++;
      return undefined;
    }
    this.hits++;
    this.#streams.delete(key);
    this.#streams.set(key, entry);
    return { maps, hasMore };
  }

  /** Adds the maps of versions `from ..` from a read: `resp[bounds[i] .. bounds[i + 1])` is version `from + i`. */
  add(bucketId: number, streamId: string, from: number, resp: Buffer, bounds: Uint32Array, count: number): void {
    if (count === 0 || this.budgetBytes <= 0) return;
    const key = cacheKey(bucketId, streamId);
    const entry = this.#streams.get(key) ?? { versions: new Map<number, Buffer>(), bytes: 0 };
    this.#streams.delete(key);
    this.#streams.set(key, entry);
    let added = 0;
    for (let i = 0; i < count; i++) {
      if (entry.versions.has(from + i)) continue;
      const map = resp.subarray(bounds[i], bounds[i + 1]);
      entry.versions.set(from + i, map);
      added += map.length + ENTRY_OVERHEAD_BYTES;
    }
    entry.bytes += added;
    this.#bytes += added;
    this.#evict(key);
  }

  /** Drops least recently used streams until within budget (never `keep`, the one just added, unless alone). */
  #evict(keep: string): void {
    for (const [key, entry] of this.#streams) {
      if (this.#bytes <= this.budgetBytes) return;
      if (key === keep && this.#streams.size > 1) continue;
      this.#bytes -= entry.bytes;
      this.#streams.delete(key);
    }
  }
}

/** Map and bookkeeping memory charged per cached version, besides its bytes. */
const ENTRY_OVERHEAD_BYTES = 96;

function cacheKey(bucketId: number, streamId: string): string {
  return `${bucketId}\u0000${streamId}`;
}
