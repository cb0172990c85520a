/**
 * A subscription is a pull loop (design notes §5), not a push pipe.
 *
 * It has one source per partition (EPSUB) or per stream (ESUB), each with a position: the next partition sequence,
 * or the next stream version. Its loop:
 *
 *   for each source with news (its partition's generation moved since it last caught up), round-robin:
 *     read the next page from disk, from the source's position (pages are bounded: PAGE_EVENTS_MAX events,
 *     about PAGE_BYTES_TARGET bytes; never the whole history), and send as many of its events as the window
 *     allows; the position moves past what was sent; a source that read to the end ("no more") is caught up
 *   when nothing is left to send, or the window is full: sleep until the hub says a partition moved, or an EACK
 *
 * History and live events are read the same way, from the same positions, so the hand-over from one to the other
 * is exact by construction: an event appended during the replay is read once, after the events before it. A slow
 * subscriber costs a position, not a buffer.
 *
 * Window (SierraDB's flow control). Every event sent gets the next cursor, from 0. `EACK <cursor>` acknowledges
 * everything up to that cursor. At most `window` events are sent and not acknowledged: with no acks, cursors
 * 0..window-1 are sent and then nothing until an ack.
 *
 * Order. Per partition, events go out in sequence order with no gap; per stream, in version order with no gap.
 * Both are checked as the pages are taken apart (a gap is a bug or a damaged store: the subscription ends).
 * Across partitions or streams, pages take turns.
 */
import { AssertionError } from 'node:assert';
import { formatUuid } from '../ids/partition-key.ts';
import { EventPage, pageEventsFor } from './page-reader.ts';
import type { SubscriptionHub, Wakeable } from './subscription-hub.ts';

/** Where a source starts: a sequence (partition) or version (stream), inclusive, or only what comes after now. */
export type StartPosition = number | 'latest';

export type SourceSpec =
  | { kind: 'partition'; partitionId: number; from: StartPosition }
  | { kind: 'stream'; streamId: string; partitionKey: Uint8Array; partitionId: number; from: StartPosition };

interface SourceBase {
  readonly partitionId: number;
  /** The next sequence (partition) or version (stream) to send. */
  next: number;
  /** The partition generation at which this source last read to the end; -1 before its first read. */
  seenGen: number;
  /** Average record size of the last page, to size the next one. */
  averageBytes: number;
}

interface PartitionSource extends SourceBase {
  readonly kind: 'partition';
}

interface StreamSource extends SourceBase {
  readonly kind: 'stream';
  readonly streamId: string;
  readonly partitionKey: Uint8Array;
  readonly keyText: string;
  /** Events below this partition sequence were appended before a FROM LATEST subscription was made: skipped. */
  minSequence: number;
  /** Whether `next` still has to be found from `minSequence` (FROM LATEST). */
  resolveLatest: boolean;
}

type Source = PartitionSource | StreamSource;

/** Where a subscription's events go (the connection, for the commands; a test's array, for the tests). */
export interface SubscriptionSink {
  /**
   * Sends events `start..end-1` of `page`, with cursors from `firstCursor`. Returns false when the receiver cannot
   * take more (the connection is over its output limit and is being closed): the subscription then ends.
   */
  send(page: EventPage, start: number, end: number, firstCursor: number): boolean;
  /** The subscription ended by itself (a read failed); not called for close(). */
  ended(reason: string): void;
}

export interface SubscriptionOptions {
  hub: SubscriptionHub;
  id: string;
  /** Most events sent and not acknowledged; Infinity for none (SUBSCRIBE channels). */
  window: number;
  sources: readonly SourceSpec[];
  sink: SubscriptionSink;
  /** Called once when the subscription ends, however it ends. */
  onClosed?: (sub: Subscription) => void;
}

/** The loop yields to the event loop (setImmediate) after this much work: an event sent counts 1, a page read 16. */
const YIELD_AFTER_WORK = 2048;
const PAGE_WORK = 16;
/** Most page reads one subscription has in flight at a time. */
const READS_PER_ROUND_MAX = 64;

/** Events a stream FROM LATEST looks back at a time while finding where "after now" starts. */
const LATEST_LOOKBACK_EVENTS = 16;

export class Subscription implements Wakeable {
  readonly id: string;
  readonly window: number;
  readonly #hub: SubscriptionHub;
  readonly #sources: Source[];
  readonly #partitions: number[];
  readonly #sink: SubscriptionSink;
  readonly #onClosed: ((sub: Subscription) => void) | undefined;
  #nextCursor = 0;
  #ackedThrough = -1;
  #closed = false;
  #started = false;
  #dirty = false;
  #waiter: (() => void) | undefined;
  #round = 0;
  #workSinceYield = 0;

  constructor(o: SubscriptionOptions) {
    if (!(o.window === Infinity || (Number.isSafeInteger(o.window) && o.window >= 1))) {
      throw new RangeError(`window must be a positive integer, got ${o.window}`);
    }
    if (o.sources.length === 0) throw new RangeError('a subscription needs at least one source');
    this.id = o.id;
    this.window = o.window;
    this.#hub = o.hub;
    this.#sink = o.sink;
    this.#onClosed = o.onClosed;
    const state = o.hub.db.sharedState;
    // FROM LATEST is fixed here, when the subscription is made: what is durable now is "before".
    this.#sources = o.sources.map((spec): Source => {
      const latest = spec.from === 'latest';
      const watermark = state.watermark(spec.partitionId);
      if (spec.kind === 'partition') {
        return { kind: 'partition', partitionId: spec.partitionId, next: latest ? watermark : (spec.from as number), seenGen: -1, averageBytes: 0 };
      }
      return {
        kind: 'stream',
        partitionId: spec.partitionId,
        streamId: spec.streamId,
        partitionKey: spec.partitionKey,
        keyText: formatUuid(spec.partitionKey),
        next: latest ? 0 : (spec.from as number),
        minSequence: latest ? watermark : 0,
        resolveLatest: latest,
        seenGen: -1,
        averageBytes: 0,
      };
    });
    this.#partitions = [...new Set(this.#sources.map((s) => s.partitionId))];
    this.#hub.register(this, this.#partitions);
  }

  /** Starts sending. Call it once the reply that created the subscription is on its way. */
  start(): void {
    if (this.#started || this.#closed) return;
    this.#started = true;
    void this.#run();
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Cursors sent so far (the next event gets this cursor). */
  get sent(): number {
    return this.#nextCursor;
  }

  /** The highest acknowledged cursor, or -1. */
  get ackedThrough(): number {
    return this.#ackedThrough;
  }

  /**
   * Acknowledges every cursor up to `cursor`. Acks never move backwards, and an ack past the last cursor sent
   * counts as acking the last one sent (so an ack cannot open the window for events not yet seen).
   */
  ack(cursor: number): void {
    const acked = Math.min(cursor, this.#nextCursor - 1);
    if (acked <= this.#ackedThrough) return;
    this.#ackedThrough = acked;
    this.wake();
  }

  /** Positions of the sources: next sequence per partition, or next version per stream. */
  positions(): { partitionId: number; streamId?: string; next: number }[] {
    return this.#sources.map((s) => (s.kind === 'partition' ? { partitionId: s.partitionId, next: s.next } : { partitionId: s.partitionId, streamId: s.streamId, next: s.next }));
  }

  wake(): void {
    this.#dirty = true;
    const w = this.#waiter;
    if (w !== undefined) {
      this.#waiter = undefined;
      w();
    }
  }

  /** Ends the subscription (EUNSUB, the connection closed). Nothing is sent after this returns. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#hub.unregister(this, this.#partitions);
    this.wake();
    this.#onClosed?.(this);
  }

  #credit(): number {
    return this.window - (this.#nextCursor - (this.#ackedThrough + 1));
  }

  async #run(): Promise<void> {
    try {
      for (const s of this.#sources) {
        if (s.kind === 'stream' && s.resolveLatest) await this.#resolveLatest(s);
        if (this.#closed) return;
      }
      const sources = this.#sources;
      const n = sources.length;
      while (!this.#closed) {
        this.#dirty = false;
        let sent = 0;
        let pending = false;
        const credit = this.#credit();
        if (credit > 0) {
          // Start the reads of every source with news at once: subscribers the hub wakes together then ask for
          // the same pages in the same turn, and share them (PageReader).
          const batch: { s: Source; gen: number; page: Promise<EventPage> }[] = [];
          for (let k = 0; k < n && batch.length < READS_PER_ROUND_MAX; k++) {
            const s = sources[(this.#round + k) % n];
            const gen = this.#hub.gen(s.partitionId);
            if (gen === s.seenGen) continue;
            const count = Math.min(credit, pageEventsFor(s.averageBytes));
            const page =
              s.kind === 'partition'
                ? this.#hub.reader.partition(s.partitionId, s.next, count, gen)
                : this.#hub.reader.stream(s.streamId, s.partitionKey, s.keyText, s.next, count, gen);
            page.catch(() => {}); // awaited below; a failure is handled there, once
            batch.push({ s, gen, page });
          }
          for (const { s, gen, page: pagePromise } of batch) {
            const page = await pagePromise;
            if (this.#closed) return;
            if (this.#credit() <= 0) {
              pending = true; // the window filled up: this source reads again after an ack
              continue;
            }
            const r = this.#take(s, page);
            if (r < 0) return; // the receiver is gone
            sent += r;
            this.#workSinceYield += PAGE_WORK;
            if (s.next === this.#pageEnd(s, page) && !page.hasMore) s.seenGen = gen;
            else pending = true;
          }
        }
        this.#round = (this.#round + 1) % n;
        if (this.#closed) return;
        this.#workSinceYield += sent;
        if (this.#workSinceYield >= YIELD_AFTER_WORK) {
          // Let the sockets write (and other connections run) during a long catch-up. Not after every page: a
          // live subscriber sends a few events per wake, and a macrotask per wake per subscriber adds up.
          this.#workSinceYield = 0;
          await new Promise<void>((resolve) => setImmediate(resolve));
          if (this.#closed) return;
        }
        if (this.#dirty || (pending && this.#credit() > 0)) continue;
        await new Promise<void>((resolve) => {
          this.#waiter = resolve;
        });
      }
    } catch (err) {
      if (this.#closed) return;
      if (this.#hub.db.closed) {
        // The server is shutting down; its connections close next.
        this.close();
        return;
      }
      this.#hub.logger?.error({ subscription: this.id, err }, 'subscription read failed; the subscription ends');
      this.close();
      this.#sink.ended(err instanceof Error ? err.message : String(err));
    }
  }

  /** The position just past the page's last event (or the source's position for an empty page). */
  #pageEnd(s: Source, page: EventPage): number {
    if (page.count === 0) return s.next;
    return (s.kind === 'partition' ? page.sequence(page.count - 1) : page.version(page.count - 1)) + 1;
  }

  /**
   * Sends what the window allows of a page that starts at the source's position, and moves the position.
   * Returns the number of events sent, or -1 when the receiver can take no more.
   */
  #take(s: Source, page: EventPage): number {
    const count = page.count;
    // Pair assertion: the page must continue exactly where the source stands, without a gap.
    for (let i = 0; i < count; i++) {
      const at = s.kind === 'partition' ? page.sequence(i) : page.version(i);
      if (at !== s.next + i) {
        throw new AssertionError({
          message: `subscription ${this.id}: ${s.kind === 'partition' ? `partition ${s.partitionId} sequence` : `stream '${s.streamId}' version`} ${at} where ${s.next + i} was expected`,
        });
      }
    }
    let start = 0;
    if (s.kind === 'stream') {
      // FROM LATEST: versions appended before the subscription come first; step over them.
      while (start < count && page.sequence(start) < s.minSequence) start++;
    }
    const end = Math.min(count, start + Math.max(0, this.#credit()));
    if (end > start) {
      const first = this.#nextCursor;
      this.#nextCursor += end - start; // before send(): an ack may come back at once
      const ok = this.#sink.send(page, start, end, first);
      if (!ok) {
        this.close();
        return -1;
      }
    }
    s.next += end;
    if (count > 0) s.averageBytes = page.bytes / count;
    return end - start;
  }

  /**
   * FROM LATEST on a stream: the first version whose partition sequence is at or past the watermark taken when the
   * subscription was made. Those versions are a suffix of the stream, so look back from its end.
   */
  async #resolveLatest(s: StreamSource): Promise<void> {
    const db = this.#hub.db;
    const last = await db.streamVersion(s.streamId, { partitionKey: s.partitionKey });
    let next = last === undefined ? 0 : last + 1;
    while (next > 0 && !this.#closed) {
      const from = Math.max(0, next - LATEST_LOOKBACK_EVENTS);
      const r = await db.scanStreamRaw(s.streamId, from, next - 1, next - from, s.partitionKey);
      const page = new EventPage(r.records, r.count, r.hasMore);
      let after = 0;
      while (after < page.count && page.sequence(page.count - 1 - after) >= s.minSequence) after++;
      next -= after;
      if (after < page.count || after === 0) break;
    }
    s.next = next;
    s.resolveLatest = false;
  }
}
