/**
 * One per Database: the single waiter that turns "the writers published" into "these subscriptions have something
 * to read", plus the page reader they share. A thousand subscribers cost one `Atomics.waitAsync`, not a thousand.
 *
 * Generations. For every partition the hub keeps a generation number, bumped whenever new events of that partition
 * may have become readable. A subscription source remembers the generation it last caught up at (it read until
 * the store said "nothing more"): while the partition's generation equals that, there is nothing new to read, and
 * when it moves, the source reads again. This one rule serves partition and stream sources alike.
 *
 * Why a generation and not the watermark itself. A bucket writer publishes in this order (shared-state.ts): the
 * watermarks of the partitions it wrote, then the bucket's durable position, then the publish counter. Reads see
 * data up to the bucket position, so for an instant a watermark can be ahead of what a read returns. A source
 * that compared watermarks could read during that instant, miss the event, record the new watermark as caught up,
 * and never look again. So the hub bumps a partition's generation twice around such a change:
 *
 *   scan (after every publish counter change): for each bucket b, load position P(b) first, then for each
 *   partition p of b load its watermark W(p).
 *     - W(p) changed since the last scan: bump gen(p), wake p's subscribers, and remember "p unconfirmed at P(b)".
 *     - p unconfirmed and P(b) has moved since: bump gen(p) again, wake p's subscribers; p is confirmed.
 *
 * Claim: a read that starts after a source snapshots gen(p) = g, and returns "nothing more", misses no event of a
 * batch whose announce is followed by a scan. If the hub saw the batch's watermark before the snapshot with P(b)
 * already past the batch, the read (later still) sees the batch. If it saw the watermark with P(b) before the
 * batch's position, p was unconfirmed; the batch stores its position before it bumps the publish counter, so the
 * scan after that bump sees P(b) moved and bumps gen(p) (or bumps it anyway for a newer watermark). If it had not
 * seen the watermark at all, the first scan that does bumps gen(p). In each case gen(p) moves past g after the
 * batch is readable, and the source reads again.
 *
 * The waiter: `c = publishCounter(); scan(); await waitForPublish(c)`, so every publish after `c` was loaded leads
 * to a scan that starts after it. It runs while any subscription exists and stops (within a timeout) when none do.
 */
import type { Database } from '../database.ts';
import type { Logger } from '../logging/logger.ts';
import { PageReader } from './page-reader.ts';

/** Something the hub wakes: a subscription whose sources read from the partition. */
export interface Wakeable {
  wake(): void;
}

/** How long the waiter sleeps at most before it checks whether it should stop. */
const WAITER_TIMEOUT_MS = 1000;

const hubs = new WeakMap<Database, SubscriptionHub>();

export class SubscriptionHub {
  readonly db: Database;
  readonly reader: PageReader;
  logger: Logger | undefined;
  readonly #gen: Float64Array;
  readonly #lastWatermark: Float64Array;
  /** Position of the bucket (segment id × 2^40 + offset) at which the partition's watermark was last seen to change, or -1 once confirmed. */
  readonly #unconfirmedAt: Float64Array;
  readonly #lastPosition: Float64Array;
  readonly #interest: Set<Wakeable>[];
  #registrations = 0;
  #running = false;

  static of(db: Database, logger?: Logger): SubscriptionHub {
    let hub = hubs.get(db);
    if (hub === undefined) {
      hub = new SubscriptionHub(db);
      hubs.set(db, hub);
    }
    if (hub.logger === undefined && logger !== undefined) hub.logger = logger;
    return hub;
  }

  private constructor(db: Database) {
    this.db = db;
    this.reader = new PageReader(db);
    const partitions = db.partitionCount;
    this.#gen = new Float64Array(partitions);
    this.#lastWatermark = new Float64Array(partitions);
    this.#unconfirmedAt = new Float64Array(partitions);
    this.#lastPosition = new Float64Array(db.bucketCount);
    this.#interest = Array.from({ length: partitions }, () => new Set<Wakeable>());
    this.#resetView();
  }

  /** The partition's generation: it moves whenever new events of the partition may have become readable. */
  gen(partitionId: number): number {
    return this.#gen[partitionId];
  }

  /** Wakes `w` whenever a partition in `partitionIds` may have new events. */
  register(w: Wakeable, partitionIds: Iterable<number>): void {
    for (const p of partitionIds) this.#interest[p].add(w);
    this.#registrations++;
    if (!this.#running) {
      this.#running = true;
      // The view may be stale after a pause: treat every partition as changed once.
      this.#resetView();
      void this.#run();
    }
  }

  unregister(w: Wakeable, partitionIds: Iterable<number>): void {
    for (const p of partitionIds) this.#interest[p].delete(w);
    this.#registrations--;
  }

  get registrations(): number {
    return this.#registrations;
  }

  #resetView(): void {
    const state = this.db.sharedState;
    for (let b = 0; b < this.db.bucketCount; b++) {
      const pos = state.position(b);
      this.#lastPosition[b] = pos.segmentId * 2 ** 40 + pos.offset;
    }
    for (let p = 0; p < this.db.partitionCount; p++) {
      this.#gen[p]++;
      this.#lastWatermark[p] = state.watermark(p);
      this.#unconfirmedAt[p] = this.#lastPosition[p % this.db.bucketCount];
    }
  }

  async #run(): Promise<void> {
    const state = this.db.sharedState;
    try {
      while (this.#registrations > 0 && !this.db.closed) {
        const seen = state.publishCounter();
        this.#scan();
        await state.waitForPublish(seen, WAITER_TIMEOUT_MS);
      }
    } finally {
      this.#running = false;
    }
    // A registration that arrived between the last check and `#running = false` must not be left without a waiter.
    if (this.#registrations > 0 && !this.db.closed) {
      this.#running = true;
      void this.#run();
    }
  }

  #scan(): void {
    const state = this.db.sharedState;
    const buckets = this.db.bucketCount;
    const partitions = this.db.partitionCount;
    for (let b = 0; b < buckets; b++) {
      // Position before watermarks: see the module comment.
      const pos = state.position(b);
      const position = pos.segmentId * 2 ** 40 + pos.offset;
      this.#lastPosition[b] = position;
      for (let p = b; p < partitions; p += buckets) {
        const w = state.watermark(p);
        if (w !== this.#lastWatermark[p]) {
          this.#lastWatermark[p] = w;
          this.#unconfirmedAt[p] = position;
          this.#bump(p);
        } else if (this.#unconfirmedAt[p] !== -1 && position !== this.#unconfirmedAt[p]) {
          this.#unconfirmedAt[p] = -1;
          this.#bump(p);
        }
      }
    }
  }

  #bump(p: number): void {
    this.#gen[p]++;
    for (const w of this.#interest[p]) w.wake();
  }
}
