/**
 * The recent-events cache (design notes §5): the last few MiB of appended events, on the main thread, so live
 * subscribers take new events from memory instead of a read-worker round trip per wake.
 *
 * Fed by `Database.onAppended` (SubscriptionHub), which reports each append once it is durable and published. Each
 * event is kept as a record (the store's layout, checksum left zero) in a buffer of its own, with its encodings
 * (RESP3 map, RESP2 array, JSON) made once, lazily, when a page of it is shared by several subscribers, and then
 * shared by every subscriber that sends it; a subscriber alone on its page encodes straight from the record.
 *
 * What a read may trust. Completions reach the main thread in any order, also within one partition. So the cache
 * never claims more than it knows: per partition it keeps a `floor`, the watermark when the cache was made, raised
 * past every event it evicts. For a sequence `k` at or above the floor and below the published watermark, exactly
 * one of these holds: `k` is in the cache; or its completion has not reached this thread yet (it will: every
 * event at or above the starting watermark is appended through this Database, and its completion arrives after
 * the cache was made, and `add` runs for it). An evicted `k` is below the floor. So `read(p, from, ...)` with
 * `from >= floor` serves the contiguous run of cached events from `from`, and where the run stops short of the
 * watermark the rest is still on its way (the hub bumps the partition's generation when it arrives, and the
 * reader reads again); with `from < floor` the cache answers nothing and the caller reads the disk. Gaplessness and
 * exactly-once follow: a run is contiguous by construction, starts exactly at `from`, and nothing is skipped.
 *
 * Appends the server submitted before the cache existed are never reported to it (Database.onceAppendsReported):
 * until they have all completed, nothing at or above a floor taken earlier could be trusted. So the hub makes the
 * cache closed (every floor at infinity: it answers nothing, reads go to the disk) and opens it, with the
 * watermarks of that moment as floors, once they have.
 *
 * Bounded by bytes (records plus encodings, roughly); the oldest events (in arrival order) go first.
 */
import { RECORD_HEADER_BYTES, eventRecordField } from '../../native-free-io/segment-format.ts';
import type { RespEncoder, RespProtocol } from '../protocol/resp-encoder.ts';
import { writeEventMap } from '../protocol/event-map.ts';
import { eventJson, eventMapBytes } from './event-encoding.ts';

export const RECENT_EVENTS_BYTES_DEFAULT = 32 * 1024 * 1024;

/** One cached event: its record and its encodings, made once. */
export class RecentEvent {
  readonly partitionId: number;
  readonly sequence: number;
  readonly version: number;
  /** The record, alone in its buffer (offset 0). */
  readonly record: Buffer;
  #resp3: Buffer | undefined;
  #resp2: Buffer | undefined;
  #json: string | undefined;

  constructor(partitionId: number, sequence: number, version: number, record: Buffer) {
    this.partitionId = partitionId;
    this.sequence = sequence;
    this.version = version;
    this.record = record;
  }

  /**
   * Writes the event map to `e`: from its encoding if one was made (a page shared by several subscribers made it),
   * else straight from the record, keeping nothing (a subscriber alone on a page: no buffer per event to hold).
   */
  writeMap(e: RespEncoder): void {
    const made = e.protocol === 3 ? this.#resp3 : this.#resp2;
    if (made !== undefined) e.raw(made);
    else writeEventMap(e, this.record, 0);
  }

  mapBytes(protocol: RespProtocol): Buffer {
    if (protocol === 3) return (this.#resp3 ??= eventMapBytes(this.record, 0, 3));
    return (this.#resp2 ??= eventMapBytes(this.record, 0, 2));
  }

  json(): string {
    return (this.#json ??= eventJson(this.record, 0));
  }
}

/** What the cache can say about a partition from a sequence on. */
export interface RecentRun {
  /** Consecutive events from the asked position (possibly none). */
  events: RecentEvent[];
  /** Whether the cache holds the event right after the run (the run stopped at `count`). */
  more: boolean;
}

/**
 * One partition's cached events by sequence: the event of sequence `base + i` is `slots[head + i]` (undefined while
 * its completion is still on its way). Sequences are dense, so this is an array with a moving start rather than a
 * hash map: four map operations an event (has, set, get, delete) were a twentieth of the main thread's time with
 * a live subscriber.
 */
class PartitionEvents {
  /** The sequence of `slots[head]`. */
  base: number;
  #head = 0;
  #slots: (RecentEvent | undefined)[] = [];

  constructor(base: number) {
    this.base = base;
  }

  get(sequence: number): RecentEvent | undefined {
    const i = sequence - this.base;
    if (i < 0 || this.#head + i >= this.#slots.length) return undefined;
    return this.#slots[this.#head + i];
  }

  /** Keeps `event` (its sequence at or above `base`). */
  set(event: RecentEvent): void {
    const at = this.#head + (event.sequence - this.base);
    const slots = this.#slots;
    while (slots.length < at) slots.push(undefined);
    if (at === slots.length) slots.push(event);
    else slots[at] = event;
  }

  /** Forgets every event below `sequence`, which becomes the base. */
  dropBelow(sequence: number): void {
    const n = sequence - this.base;
    if (n <= 0) return;
    const slots = this.#slots;
    const kept = slots.length - this.#head;
    this.base = sequence;
    if (n >= kept) {
      slots.length = 0;
      this.#head = 0;
      return;
    }
    for (let k = 0; k < n; k++) slots[this.#head + k] = undefined;
    this.#head += n;
    if (this.#head > 1024 && this.#head * 2 > slots.length) {
      this.#slots = slots.slice(this.#head);
      this.#head = 0;
    }
  }
}

export class RecentEvents {
  readonly budgetBytes: number;
  readonly #byPartition: PartitionEvents[];
  /** Per partition: sequences below this may be missing for good (before the cache, or evicted). */
  readonly #floor: Float64Array;
  /** Every cached event in arrival order, for eviction; `#head` is the oldest still counted. */
  #order: RecentEvent[] = [];
  #head = 0;
  #bytes = 0;
  /** Events served, events added, events evicted: for tests and INFO. */
  hits = 0;
  added = 0;
  evicted = 0;

  /**
   * `floors[p]`: the partition's watermark now, if every event at or above it will be `add`ed; Infinity while that
   * is not known (the cache answers nothing until `open`).
   */
  constructor(floors: ArrayLike<number>, budgetBytes = RECENT_EVENTS_BYTES_DEFAULT) {
    this.budgetBytes = budgetBytes;
    this.#floor = Float64Array.from(floors);
    this.#byPartition = Array.from(this.#floor, (floor) => new PartitionEvents(floor));
  }

  /** A cache made closed, answering nothing until `open`. */
  static closed(partitionCount: number, budgetBytes = RECENT_EVENTS_BYTES_DEFAULT): RecentEvents {
    return new RecentEvents(new Float64Array(partitionCount).fill(Infinity), budgetBytes);
  }

  /**
   * Opens a closed cache: `floors[p]` is the partition's watermark now, and every event at or above it will be
   * `add`ed from now on. (A closed cache kept nothing, so nothing it holds sits below a floor.)
   */
  open(floors: ArrayLike<number>): void {
    if (this.size !== 0 || this.#floor.some((f) => f !== Infinity)) throw new Error('the recent-events cache is open already');
    this.#floor.set(floors);
    for (let p = 0; p < this.#byPartition.length; p++) this.#byPartition[p].base = this.#floor[p];
  }

  get bytes(): number {
    return this.#bytes;
  }

  get size(): number {
    return this.#order.length - this.#head;
  }

  floor(partitionId: number): number {
    return this.#floor[partitionId];
  }

  /** An appended event's record (Database.onAppended), kept as it is. */
  add(record: Buffer): void {
    const partitionId = eventRecordField.partitionId(record, 0);
    const sequence = eventRecordField.partitionSequence(record, 0);
    const events = this.#byPartition[partitionId];
    if (sequence < this.#floor[partitionId] || events.get(sequence) !== undefined) return;
    const event = new RecentEvent(partitionId, sequence, eventRecordField.streamVersion(record, 0), record);
    events.set(event);
    this.#order.push(event);
    this.#bytes += costOf(event);
    this.added++;
    this.#evict();
  }

  /**
   * The cached events of the partition from `from` on, at most `count`, or undefined when the cache cannot answer
   * (`from` is below the floor: read the disk). A run shorter than `count` without `more` ends where the cache
   * ends: any later events below the watermark are still on their way (see the module comment).
   */
  read(partitionId: number, from: number, count: number): RecentRun | undefined {
    if (from < this.#floor[partitionId]) return undefined;
    const cached = this.#byPartition[partitionId];
    const events: RecentEvent[] = [];
    let next = from;
    while (events.length < count) {
      const e = cached.get(next);
      if (e === undefined) break;
      events.push(e);
      next++;
    }
    this.hits += events.length;
    return { events, more: events.length === count && cached.get(next) !== undefined };
  }

  #evict(): void {
    while (this.#bytes > this.budgetBytes && this.#head < this.#order.length) {
      const e = this.#order[this.#head++];
      this.#bytes -= costOf(e);
      // Below the raised floor nothing is served any more: the partition forgets it all at once.
      if (e.sequence + 1 > this.#floor[e.partitionId]) {
        this.#floor[e.partitionId] = e.sequence + 1;
        this.#byPartition[e.partitionId].dropBelow(e.sequence + 1);
      }
      this.evicted++;
    }
    if (this.#head > 4096 && this.#head * 2 > this.#order.length) {
      this.#order = this.#order.slice(this.#head);
      this.#head = 0;
    }
  }
}

/** Bytes an event is charged: its record, and room for two encodings of about its size. */
function costOf(e: RecentEvent): number {
  return e.record.length * 3 + 256 - RECORD_HEADER_BYTES;
}
