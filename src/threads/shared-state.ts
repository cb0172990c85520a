/**
 * What bucket writers publish for everyone else to read, in one SharedArrayBuffer.
 *
 * Layout (BigInt64Array slots; every slot is written only by the one writer that owns the bucket or partition):
 *
 *   slot                          meaning
 *   [0, buckets)                  position of bucket b: (active segment id << 40) | durable end offset in it
 *   [buckets, 2*buckets)          flags of bucket b: bit 0 = poisoned (an fsync failed; no more writes)
 *   [2*buckets, 3*buckets)        sealed below, of bucket b: every segment with a lower id has its index files
 *                                 (segment-sealer.ts); readers open a segment's index files only then
 *   [3*buckets, 3*buckets+parts)  watermark of partition p: the count of durable events, i.e. last sequence + 1
 *   [3*buckets+parts]             publish counter, bumped after every publish (Int32 view at the same bytes)
 *
 * Atomics protocol: a writer fdatasyncs, then stores the bucket position, then the watermarks of the partitions it
 * wrote, then bumps the publish counter and notifies its waiters. A reader that loads a position therefore sees
 * every byte below it durable on disk, and one that loads a watermark finds every event below it readable (the
 * position was stored first): a watermark never runs ahead of the data. Positions pack segment and
 * offset into one 64-bit store so that a reader never pairs a new segment id with an old offset.
 */
const OFFSET_BITS = 40n;
const OFFSET_MASK = (1n << OFFSET_BITS) - 1n;

export const BucketFlag = { poisoned: 1n } as const;

export interface BucketPosition {
  segmentId: number;
  offset: number;
}

export class SharedState {
  readonly buffer: SharedArrayBuffer;
  readonly bucketCount: number;
  readonly partitionCount: number;
  readonly #slots: BigInt64Array;
  readonly #counter: Int32Array;
  readonly #counterIndex: number;

  private constructor(buffer: SharedArrayBuffer, bucketCount: number, partitionCount: number) {
    this.buffer = buffer;
    this.bucketCount = bucketCount;
    this.partitionCount = partitionCount;
    this.#slots = new BigInt64Array(buffer);
    const counterSlot = 3 * bucketCount + partitionCount;
    this.#counter = new Int32Array(buffer);
    this.#counterIndex = counterSlot * 2; // the low half of the last 64-bit slot
  }

  static create(bucketCount: number, partitionCount: number): SharedState {
    const slots = 3 * bucketCount + partitionCount + 1;
    return new SharedState(new SharedArrayBuffer(slots * 8), bucketCount, partitionCount);
  }

  static attach(buffer: SharedArrayBuffer, bucketCount: number, partitionCount: number): SharedState {
    return new SharedState(buffer, bucketCount, partitionCount);
  }

  position(bucketId: number): BucketPosition {
    const v = Atomics.load(this.#slots, bucketId);
    return { segmentId: Number(v >> OFFSET_BITS), offset: Number(v & OFFSET_MASK) };
  }

  publishPosition(bucketId: number, segmentId: number, offset: number): void {
    Atomics.store(this.#slots, bucketId, (BigInt(segmentId) << OFFSET_BITS) | BigInt(offset));
  }

  isPoisoned(bucketId: number): boolean {
    return (Atomics.load(this.#slots, this.bucketCount + bucketId) & BucketFlag.poisoned) !== 0n;
  }

  setPoisoned(bucketId: number): void {
    Atomics.or(this.#slots, this.bucketCount + bucketId, BucketFlag.poisoned);
  }

  /** Every segment of the bucket below this id has its index files written. */
  sealedBelow(bucketId: number): number {
    return Number(Atomics.load(this.#slots, 2 * this.bucketCount + bucketId));
  }

  publishSealedBelow(bucketId: number, segmentId: number): void {
    Atomics.store(this.#slots, 2 * this.bucketCount + bucketId, BigInt(segmentId));
  }

  /** Count of durable events in the partition (last durable sequence + 1). */
  watermark(partitionId: number): number {
    return Number(Atomics.load(this.#slots, 3 * this.bucketCount + partitionId));
  }

  publishWatermark(partitionId: number, watermark: number): void {
    Atomics.store(this.#slots, 3 * this.bucketCount + partitionId, BigInt(watermark));
  }

  publishCounter(): number {
    return Atomics.load(this.#counter, this.#counterIndex);
  }

  /** Bumps the publish counter and wakes whoever waits for it. */
  announce(): void {
    Atomics.add(this.#counter, this.#counterIndex, 1);
    Atomics.notify(this.#counter, this.#counterIndex);
  }

  /** Resolves when the publish counter moves away from `seen` (never blocks the event loop). */
  async waitForPublish(seen: number, timeoutMs?: number): Promise<void> {
    const r = Atomics.waitAsync(this.#counter, this.#counterIndex, seen, timeoutMs);
    if (r.async) await r.value;
  }
}
