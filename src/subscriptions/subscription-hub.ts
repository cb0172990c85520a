/**
 * One per Database: the single waiter that turns "the writers published" into "these subscriptions have something
 * to read", plus the page reader they share. A thousand subscribers cost one `Atomics.waitAsync`, not a thousand.
 *
 * Generations. For every partition the hub keeps a generation number, bumped whenever new events of that partition
 * may have become readable. A subscription source remembers the generation it last caught up at (it read until
 * the store said "nothing more"): while the partition's generation equals that, there is nothing new to read, and
 * when it moves, the source reads again. This one rule serves partition and stream sources alike.
 *
 * Why this misses nothing. A bucket writer publishes in this order (shared-state.ts): the bucket's durable
 * position, then the watermarks of the partitions it wrote, then the publish counter. Reads see data up to the
 * bucket position, so a watermark is never ahead of what a read returns. Take a source that snapshots gen(p) = g,
 * then reads to the end, and a batch of partition p. If the hub saw the batch's watermark before the snapshot,
 * the batch's position was stored before that, and the read (later still) returns the batch. If not, the hub
 * sees the watermark change in a later scan (the batch bumps the publish counter after storing it) and bumps
 * gen(p) past g, so the source reads again. Either way the batch reaches the source.
 *
 * The waiter: `c = publishCounter(); scan(); await waitForPublish(c)`, so every publish after `c` was loaded leads
 * to a scan that starts after it. It runs while any subscription exists and stops (within a timeout) when none do.
 *
 * The hub listens to appends only while a subscription is registered: with none, appends cost what they cost with
 * no subscriber at all, and the cache is dropped (the next registration starts a closed one, see #listen).
 *
 * The recent-events cache (recent-events.ts). The hub feeds it from `Database.onAppended` and the page reader
 * reads partitions from it first. A cached read may stop short of the watermark, where events are published but
 * their completions have not reached this thread; so each arrival also bumps its partition's generation (and
 * wakes its subscribers), after the events are in the cache. The rule above still holds: a source that caught up
 * at `g` without an event below the watermark reads again when that event arrives, at a later generation.
 */
import { eventRecordField } from '../../native-free-io/segment-format.ts';
import type { Database } from '../database.ts';
import type { Logger } from '../logging/logger.ts';
import { PageReader } from './page-reader.ts';
import { RecentEvents } from './recent-events.ts';

/** Something the hub wakes: a subscription whose sources read from the partition. */
export interface Wakeable {
  /** New events of `partitionId` may be readable. */
  wake(partitionId?: number): void;
}

/** How long the waiter sleeps at most before it checks whether it should stop. */
const WAITER_TIMEOUT_MS = 1000;

const hubs = new WeakMap<Database, SubscriptionHub>();

export class SubscriptionHub {
  readonly db: Database;
  readonly reader: PageReader;
  /** The recent-events cache; a new (closed) one after every pause with no subscription. */
  recent: RecentEvents;
  logger: Logger | undefined;
  readonly #gen: Float64Array;
  readonly #lastWatermark: Float64Array;
  readonly #interest: Set<Wakeable>[];
  #registrations = 0;
  /** Removes the hub's onAppended listener, while it listens (while any subscription is registered). */
  #stopListening: (() => void) | undefined = undefined;
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
    this.#interest = Array.from({ length: partitions }, () => new Set<Wakeable>());
    this.#resetView();
    this.recent = RecentEvents.closed(partitions);
    this.reader.recent = this.recent;
  }

  /**
   * Starts hearing of appends, into the (closed) cache. Appends submitted before the listener are never reported
   * to it, and may still complete: the cache stays closed until they have, and then takes the watermarks of that
   * moment as its floors (every later event is reported). Until then the page reader reads the disk.
   */
  #listen(): void {
    const db = this.db;
    const state = db.sharedState;
    const recent = this.recent;
    this.#stopListening = db.onAppended((record) => {
      this.recent.add(record);
      const p = eventRecordField.partitionId(record, 0);
      const w = state.watermark(p);
      if (w > this.#lastWatermark[p]) this.#lastWatermark[p] = w;
      this.#bump(p);
    });
    db.onceAppendsReported(() => {
      if (this.recent === recent) recent.open(Array.from({ length: db.partitionCount }, (_, p) => state.watermark(p)));
    });
  }

  /**
   * No subscription is left: stop listening, so that appends go back to costing no more than with no subscriber at
   * all (Database.submitAppendInPlace), and drop the cache; the next subscription starts a closed one.
   */
  #unlisten(): void {
    this.#stopListening?.();
    this.#stopListening = undefined;
    this.recent = RecentEvents.closed(this.db.partitionCount, this.recent.budgetBytes);
    this.reader.recent = this.recent;
  }

  /** The partition's generation: it moves whenever new events of the partition may have become readable. */
  gen(partitionId: number): number {
    return this.#gen[partitionId];
  }

  /**
   * The partition's watermark as the hub last saw it, which goes with `gen(partitionId)`: a read that starts after
   * both are taken returns every event below this watermark.
   */
  watermark(partitionId: number): number {
    return this.#lastWatermark[partitionId];
  }

  /** Wakes `w` whenever a partition in `partitionIds` may have new events. */
  register(w: Wakeable, partitionIds: Iterable<number>): void {
    for (const p of partitionIds) this.#interest[p].add(w);
    this.#registrations++;
    if (this.#stopListening === undefined) this.#listen();
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
    if (this.#registrations === 0) this.#unlisten();
  }

  get registrations(): number {
    return this.#registrations;
  }

  #resetView(): void {
    const state = this.db.sharedState;
    for (let p = 0; p < this.db.partitionCount; p++) {
      this.#gen[p]++;
      this.#lastWatermark[p] = state.watermark(p);
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
    const partitions = this.db.partitionCount;
    for (let p = 0; p < partitions; p++) {
      const w = state.watermark(p);
      if (w !== this.#lastWatermark[p]) {
        this.#lastWatermark[p] = w;
        this.#bump(p);
      }
    }
  }

  #bump(p: number): void {
    this.#gen[p]++;
    for (const w of this.#interest[p]) w.wake(p);
  }
}
