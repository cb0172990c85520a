/**
 * A subscription is a pull loop (design notes §5), not a push pipe.
 *
 * It has one source per partition (EPSUB) or per stream (ESUB), each with a position: the next partition sequence,
 * or the next stream version. Its loop:
 *
 *   take the sources with news (the hub said their partition's generation moved since they last caught up), and
 *   start a read of the next page of each, all at once (subscribers woken together then share the reads);
 *   pages are bounded (PAGE_EVENTS_MAX events, about PAGE_BYTES_TARGET bytes): history is paged from disk, never
 *   loaded whole; send as many of each page's events as the window allows, moving the positions past them; a
 *   source that read to the end ("no more") is caught up, the others stay on the news list
 *   when nothing is left to send, or the window is full: sleep until the hub says a partition moved, or an EACK
 *
 * Tail mode (stream sources). A live stream subscriber would otherwise cost a stream read each time its partition
 * moves, whoever the events were for. Once a stream read has caught up, the source knows that every event of its
 * stream below the partition watermark seen with that generation has been sent, and from then on reads the
 * partition from there (a page every live subscriber of the partition shares) and picks out its stream's events.
 * When it falls more than TAIL_GAP_MAX_EVENTS behind, or the versions do not continue as expected, it goes back
 * to stream reads.
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
 * Across partitions or streams, pages take turns (a source that is not caught up goes to the back of the list).
 */
import { AssertionError } from 'node:assert';
import { formatUuid } from '../ids/partition-key.ts';
import { EventPage, pageEventsFor } from './page-reader.ts';
import type { SubscriptionHub, Wakeable } from './subscription-hub.ts';
import type { RespProtocol } from '../protocol/resp-encoder.ts';

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
  /**
   * Read-ahead: the next page, asked for as soon as the previous one was taken (not at the next round), so the
   * read workers always have the next pages of a catch-up in hand, whether or not the window has room. Also the
   * rest of a page the window cut short: its first `skip` events were sent. `gen` and `watermark` are those the
   * read started under, which is what its page may be trusted for; it is used only if it continues at `next`. So a
   * page is read once however the window splits it, and the next one is ready when an ack opens the window.
   */
  ahead: { from: number; gen: number; watermark: number; page: Promise<EventPage>; skip: number } | undefined;
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
  /**
   * Tail mode: every event of the stream below this partition sequence has been sent (or skipped), so new ones
   * can be found by reading the partition from here, a read every live subscriber of the partition shares,
   * instead of one stream read per subscriber. -1 until a stream read has caught up.
   */
  tailFrom: number;
}

type Source = PartitionSource | StreamSource;

/** Where a subscription's events go (the connection, for the commands; a test's array, for the tests). */
export interface SubscriptionSink {
  /**
   * Sends events `start..end-1` of `page`, with cursors from `firstCursor`. Returns false when the receiver cannot
   * take more (the connection is over its output limit and is being closed): the subscription then ends.
   */
  send(page: EventPage, start: number, end: number, firstCursor: number): boolean;
  /** The protocol this sink sends event maps in, if it sends maps (pages read for it then bring them encoded). */
  readonly mapProtocol?: RespProtocol;
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
/** A stream source in tail mode reads its partition while it is at most this many events behind. */
const TAIL_GAP_MAX_EVENTS = 256;

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
  #workSinceYield = 0;
  /** Sources that may have something to read, in the order they got news (each at most once). */
  #news: number[] = [];
  readonly #inNews: Uint8Array;
  /** Source indices by partition id, for wake(partitionId). */
  readonly #byPartition = new Map<number, number[]>();

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
        return { kind: 'partition', partitionId: spec.partitionId, next: latest ? watermark : (spec.from as number), seenGen: -1, averageBytes: 0, ahead: undefined };
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
        tailFrom: -1,
        seenGen: -1,
        averageBytes: 0,
      };
    });
    this.#partitions = [...new Set(this.#sources.map((s) => s.partitionId))];
    this.#sources.forEach((s, i) => {
      const list = this.#byPartition.get(s.partitionId);
      if (list === undefined) this.#byPartition.set(s.partitionId, [i]);
      else list.push(i);
    });
    this.#inNews = new Uint8Array(this.#sources.length).fill(1);
    this.#news = this.#sources.map((_, i) => i);
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

  wake(partitionId?: number): void {
    if (partitionId !== undefined) {
      for (const i of this.#byPartition.get(partitionId) ?? []) this.#addNews(i);
    }
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

  /** Pages asked for ahead (PartitionSource.ahead), for tests and INFO. */
  readsAhead = 0;

  #addNews(i: number): void {
    if (this.#inNews[i] === 1) return;
    this.#inNews[i] = 1;
    this.#news.push(i);
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
      while (!this.#closed) {
        this.#dirty = false;
        let sent = 0;
        const credit = this.#credit();
        if (credit > 0 && this.#news.length > 0) {
          // Take the sources with news (up to READS_PER_ROUND_MAX; the rest wait for the next round) and start
          // all their reads at once: subscribers the hub wakes together then ask for the same pages in the same
          // turn, and share them (PageReader). A source that is not caught up afterwards goes back on the list.
          const taken = this.#news.length <= READS_PER_ROUND_MAX ? this.#news : this.#news.slice(0, READS_PER_ROUND_MAX);
          this.#news = taken === this.#news ? [] : this.#news.slice(READS_PER_ROUND_MAX);
          const batch: { i: number; gen: number; watermark: number; tail: boolean; page: Promise<EventPage>; stale: boolean; skip: number }[] = [];
          for (const i of taken) {
            this.#inNews[i] = 0;
            const s = sources[i];
            const gen = this.#hub.gen(s.partitionId);
            if (gen === s.seenGen) continue;
            const watermark = this.#hub.watermark(s.partitionId);
            // A partition source reads whole pages: what the window cannot take now waits in `ahead`.
            const count = s.kind === 'partition' ? pageEventsFor(s.averageBytes) : Math.min(credit, pageEventsFor(s.averageBytes));
            let page: Promise<EventPage>;
            let tail = false;
            if (s.kind === 'partition') {
              const ahead = s.ahead;
              s.ahead = undefined;
              if (ahead !== undefined && ahead.from === s.next) {
                // A page read under an older generation serves its events, but cannot show the source caught up
                // as of `gen` (the wake that brought it here may be for events it missed): `stale` re-reads then.
                batch.push({ i, gen: ahead.gen, watermark: ahead.watermark, tail, page: ahead.page, stale: ahead.gen !== gen, skip: ahead.skip });
                continue;
              }
              page = this.#hub.reader.partition(s.partitionId, s.next, count, gen, this.#sink.mapProtocol);
            } else if (s.tailFrom >= 0 && watermark - s.tailFrom <= TAIL_GAP_MAX_EVENTS) {
              tail = true;
              page = this.#hub.reader.partition(s.partitionId, s.tailFrom, TAIL_GAP_MAX_EVENTS, gen, this.#sink.mapProtocol);
            } else {
              page = this.#hub.reader.stream(s.streamId, s.partitionKey, s.keyText, s.next, count, gen);
            }
            page.catch(() => {}); // awaited below; a failure is handled there, once
            batch.push({ i, gen, watermark, tail, page, stale: false, skip: 0 });
          }
          for (const { i, gen, watermark, tail, page: pagePromise, stale, skip } of batch) {
            const s = sources[i];
            const page = await pagePromise;
            if (this.#closed) return;
            if (this.#credit() <= 0) {
              // The window filled up: this source goes on after an ack, a partition source from this page.
              if (s.kind === 'partition') s.ahead = { from: s.next, gen, watermark, page: pagePromise, skip };
              else page.release();
              this.#addNews(i);
              continue;
            }
            this.#workSinceYield += PAGE_WORK;
            if (tail) {
              const r = this.#takeTail(s as StreamSource, page);
              if (r < 0) return; // the receiver is gone
              sent += r;
              if ((s as StreamSource).tailFrom === this.#pageEnd(s, page, true) && !page.hasMore) s.seenGen = gen;
              else this.#addNews(i);
              page.release();
              continue;
            }
            const r = this.#take(s, page, skip);
            if (r < 0) return; // the receiver is gone
            sent += r;
            // The window took only part of a partition page: the rest waits for the next ack.
            const held = s.kind === 'partition' && s.next < this.#pageEnd(s, page);
            if (s.next === this.#pageEnd(s, page) && !page.hasMore && !stale) {
              s.seenGen = gen;
              // Every event of the stream below the watermark seen with `gen` was readable to this read.
              if (s.kind === 'stream') s.tailFrom = Math.max(watermark, s.minSequence);
            } else {
              this.#addNews(i);
              if (held) (s as PartitionSource).ahead = { from: s.next, gen, watermark, page: pagePromise, skip: skip + r };
              else if (s.kind === 'partition' && page.hasMore) this.#readAhead(s);
            }
            // Sent events are encoded (or copied) into the connection: nothing here reads them again.
            if (!held) page.release();
          }
        }
        this.#workSinceYield += sent;
        if (this.#workSinceYield >= YIELD_AFTER_WORK) {
          // Let the sockets write (and other connections run) during a long catch-up. Not after every page: a
          // live subscriber sends a few events per wake, and a macrotask per wake per subscriber adds up.
          this.#workSinceYield = 0;
          await new Promise<void>((resolve) => setImmediate(resolve));
          if (this.#closed) return;
        }
        if (this.#dirty || (this.#news.length > 0 && this.#credit() > 0)) continue;
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

  /** Starts reading the partition source's next page now (see PartitionSource.ahead). */
  #readAhead(s: PartitionSource): void {
    const gen = this.#hub.gen(s.partitionId);
    const watermark = this.#hub.watermark(s.partitionId);
    const page = this.#hub.reader.partition(s.partitionId, s.next, pageEventsFor(s.averageBytes), gen, this.#sink.mapProtocol);
    page.catch(() => {}); // awaited when used; an unused one's failure is nobody's
    s.ahead = { from: s.next, gen, watermark, page, skip: 0 };
    this.readsAhead++;
  }

  /**
   * The position just past the page's last event (or the source's position for an empty page); for a tail read,
   * the partition sequence past it.
   */
  #pageEnd(s: Source, page: EventPage, tail = false): number {
    if (tail) return page.count === 0 ? (s as StreamSource).tailFrom : page.sequence(page.count - 1) + 1;
    if (page.count === 0) return s.next;
    return (s.kind === 'partition' ? page.sequence(page.count - 1) : page.version(page.count - 1)) + 1;
  }

  /**
   * Tail mode: sends this stream's events from a page of its partition that starts at `tailFrom`, as the window
   * allows, and moves `tailFrom` past what was looked at. If the stream's versions do not continue exactly where
   * the source stands (which tail mode cannot explain), it falls back to stream reads. Returns the events sent,
   * or -1 when the receiver can take no more.
   */
  #takeTail(s: StreamSource, page: EventPage): number {
    const count = page.count;
    if (count > 0 && page.sequence(0) !== s.tailFrom) {
      throw new AssertionError({ message: `subscription ${this.id}: partition ${s.partitionId} page starts at ${page.sequence(0)}, not ${s.tailFrom}` });
    }
    let sent = 0;
    let i = 0;
    for (; i < count; i++) {
      if (!page.isOfStream(i, s.streamId, s.partitionKey) || page.sequence(i) < s.minSequence) continue;
      if (page.version(i) !== s.next) {
        s.tailFrom = -1; // read the stream itself from `next` instead
        return sent;
      }
      if (this.#credit() <= 0) break;
      const cursor = this.#nextCursor++;
      if (!this.#sink.send(page, i, i + 1, cursor)) {
        this.close();
        return -1;
      }
      s.next++;
      sent++;
    }
    s.tailFrom = i < count ? page.sequence(i) : this.#pageEnd(s, page, true);
    if (count > 0) s.averageBytes = page.bytes / count;
    return sent;
  }

  /**
   * Sends what the window allows of a page whose event `skip` is at the source's position (the events before it
   * were sent already), and moves the position. Returns the number of events sent, or -1 when the receiver can take
   * no more.
   */
  #take(s: Source, page: EventPage, skip: number): number {
    const count = page.count;
    // Pair assertion: the page must continue exactly where the source stands, without a gap.
    for (let i = skip; i < count; i++) {
      const at = s.kind === 'partition' ? page.sequence(i) : page.version(i);
      if (at !== s.next + i - skip) {
        throw new AssertionError({
          message: `subscription ${this.id}: ${s.kind === 'partition' ? `partition ${s.partitionId} sequence` : `stream '${s.streamId}' version`} ${at} where ${s.next + i - skip} was expected`,
        });
      }
    }
    let start = skip;
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
    s.next += end - skip;
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
