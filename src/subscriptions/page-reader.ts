/**
 * Pages of events read from disk for subscriptions, shared by the subscribers that ask for the same page at the
 * same time.
 *
 * Live subscribers of a partition all sit at the same position, and the hub wakes them in one go, so each append
 * would otherwise cost one read per subscriber. Reads in flight are keyed by what they start at (partition and
 * sequence, or stream and version) and by the partition generation the reader saw; a subscriber asking for a page
 * that is already being read waits for that read instead. The generation matters: a read that started before the
 * newest events were announced must not serve a subscriber woken by that announcement, which would then believe
 * itself caught up (see SubscriptionHub). A page also keeps its events' encodings (RESP3 map, RESP2 array, JSON) once made, so a thousand
 * subscribers encode each event once. Nothing is cached after the read completes and its subscribers are done
 * with the page: positions move on, and memory stays bounded by the pages in use.
 */
import { RECORD_HEADER_BYTES, eventRecordField } from '../../native-free-io/segment-format.ts';
import { decodeEvent, type Database, type EventRecord } from '../database.ts';
import type { RespEncoder, RespProtocol } from '../protocol/resp-encoder.ts';
import { writeEventMap } from '../protocol/event-map.ts';
import { eventJson, eventMapBytes } from './event-encoding.ts';
import type { RecentEvent, RecentEvents } from './recent-events.ts';

/** At most this many events per page. */
export const PAGE_EVENTS_MAX = 512;
/** Pages aim at about this many bytes of records (large events make shorter pages). */
export const PAGE_BYTES_TARGET = 1024 * 1024;

/**
 * Each event's bare map in `protocol`, encoded by the read worker alongside the records (ReadEncoding.records):
 * event i's is `bytes[bounds[i] .. bounds[i + 1])`. Sending it is then a copy on the main thread.
 */
export interface PageMaps {
  protocol: RespProtocol;
  bytes: Buffer;
  bounds: Uint32Array;
}

export class EventPage {
  readonly count: number;
  /** Whether the store has more events past this page (exact). */
  readonly hasMore: boolean;
  /** Bytes of record data in the page. */
  readonly bytes: number;
  /** The record of event i is at `#offsets[i]` in `#buffers[i]` (one buffer for a disk page). */
  readonly #buffers: Buffer[];
  readonly #offsets: number[];
  /** Sequences and versions read once per page (every subscriber sharing the page checks them). */
  readonly #sequences: number[];
  readonly #versions: number[];
  /** Hands the records' buffer back for another read (ScanResult.release), once every consumer released the page. */
  #giveBack: (() => void) | undefined;
  #released = 0;
  /** For a page from the recent-events cache: its events, which keep their encodings across pages. */
  readonly #recent: readonly RecentEvent[] | undefined;
  #streamIds: (string | undefined)[] | undefined;
  #resp3: (Buffer | undefined)[] | undefined;
  #resp2: (Buffer | undefined)[] | undefined;
  #json: (string | undefined)[] | undefined;
  readonly #maps: PageMaps | undefined;

  constructor(records: Buffer, count: number, hasMore: boolean, recent?: readonly RecentEvent[], giveBack?: () => void, maps?: PageMaps) {
    this.count = count;
    this.hasMore = hasMore;
    this.#giveBack = giveBack;
    this.#maps = maps;
    this.#offsets = new Array<number>(count);
    this.#sequences = new Array<number>(count);
    this.#versions = new Array<number>(count);
    if (recent !== undefined) {
      this.#recent = recent;
      this.#buffers = new Array<Buffer>(count);
      let bytes = 0;
      for (let i = 0; i < count; i++) {
        const e = recent[i];
        this.#buffers[i] = e.record;
        this.#offsets[i] = 0;
        this.#sequences[i] = e.sequence;
        this.#versions[i] = e.version;
        bytes += e.record.length;
      }
      this.bytes = bytes;
      return;
    }
    this.#recent = undefined;
    this.#buffers = new Array<Buffer>(count).fill(records);
    this.bytes = records.length;
    let at = 0;
    for (let i = 0; i < count; i++) {
      this.#offsets[i] = at;
      this.#sequences[i] = eventRecordField.partitionSequence(records, at);
      this.#versions[i] = eventRecordField.streamVersion(records, at);
      at += RECORD_HEADER_BYTES + records.readUInt32LE(at + 8);
    }
  }

  /** A page of cached events (RecentEvents), consecutive in their partition. */
  static fromRecent(events: readonly RecentEvent[], hasMore: boolean): EventPage {
    return new EventPage(EMPTY, events.length, hasMore, events);
  }

  sequence(i: number): number {
    return this.#sequences[i];
  }

  version(i: number): number {
    return this.#versions[i];
  }

  /** Whether event `i` belongs to the stream `streamId` under `partitionKey`. */
  isOfStream(i: number, streamId: string, partitionKey: Uint8Array): boolean {
    this.#streamIds ??= new Array<string | undefined>(this.count);
    let id = this.#streamIds[i];
    if (id === undefined) {
      id = eventRecordField.streamId(this.#buffers[i], this.#offsets[i]);
      this.#streamIds[i] = id;
    }
    return id === streamId && Buffer.compare(eventRecordField.partitionKey(this.#buffers[i], this.#offsets[i]), partitionKey) === 0;
  }

  /** Event `i`, decoded (copies). */
  event(i: number): EventRecord {
    return decodeEvent(this.#buffers[i], this.#offsets[i]);
  }

  /**
   * Subscribers this page was read for (PageReader counts those that join a read in flight; the count is final
   * before any of them gets the page). With one, its events are encoded straight into that subscriber's connection;
   * with more, once each and shared (mapBytes).
   */
  consumers = 1;

  /**
   * A consumer is done with the page and will not touch it again. Once all of them are, the records' buffer goes
   * back to the read pool (BufferPool). A consumer that drops a page without releasing it only keeps the
   * buffer from going round.
   */
  release(): void {
    this.#released++;
    if (this.#released < this.consumers || this.#giveBack === undefined) return;
    const giveBack = this.#giveBack;
    this.#giveBack = undefined;
    giveBack();
  }

  /** Writes event `i` as the %11 event map (RESP3) or its flattened array (RESP2) to `e`. */
  writeMap(e: RespEncoder, i: number): void {
    const maps = this.#maps;
    if (maps !== undefined && maps.protocol === e.protocol) e.rawRange(maps.bytes, maps.bounds[i], maps.bounds[i + 1]);
    else if (this.consumers > 1) e.raw(this.mapBytes(i, e.protocol));
    else if (this.#recent === undefined) writeEventMap(e, this.#buffers[i], this.#offsets[i]);
    else this.#recent[i].writeMap(e);
  }

  /** Event `i` as the %11 event map (RESP3) or its flattened array (RESP2). */
  mapBytes(i: number, protocol: RespProtocol): Buffer {
    if (this.#recent !== undefined) return this.#recent[i].mapBytes(protocol);
    const maps = this.#maps;
    if (maps !== undefined && maps.protocol === protocol) return maps.bytes.subarray(maps.bounds[i], maps.bounds[i + 1]);
    let cache = protocol === 3 ? this.#resp3 : this.#resp2;
    if (cache === undefined) {
      cache = new Array<Buffer | undefined>(this.count);
      if (protocol === 3) this.#resp3 = cache;
      else this.#resp2 = cache;
    }
    let bytes = cache[i];
    if (bytes === undefined) {
      bytes = eventMapBytes(this.#buffers[i], this.#offsets[i], protocol);
      cache[i] = bytes;
    }
    return bytes;
  }

  json(i: number): string {
    if (this.#recent !== undefined) return this.#recent[i].json();
    if (this.#json === undefined) this.#json = new Array<string | undefined>(this.count);
    let text = this.#json[i];
    if (text === undefined) {
      text = eventJson(this.#buffers[i], this.#offsets[i]);
      this.#json[i] = text;
    }
    return text;
  }
}

const EMPTY = Buffer.alloc(0);

export class PageReader {
  readonly #db: Database;
  readonly #inFlight = new Map<string, { page: Promise<EventPage>; consumers: number }>();
  /** Where partition reads look first (SubscriptionHub feeds it); none: always the disk. */
  recent: RecentEvents | undefined;
  /** Reads issued and reads joined, for tests and INFO; `diskReads` of `reads` went to the disk. */
  reads = 0;
  joined = 0;
  diskReads = 0;

  constructor(db: Database) {
    this.#db = db;
  }

  /**
   * Events of the partition from sequence `from` on, at most `count` (a shared read may give more or fewer).
   * `gen` is the partition's generation the caller saw just before asking (SubscriptionHub): a read is shared only
   * between callers that saw the same generation, so every caller gets a read that started after its snapshot.
   * `maps`: the protocol the caller sends events in, if it sends RESP maps: a read from disk then comes with the
   * maps encoded by the read worker (PageMaps), and is shared only between callers of the same protocol.
   */
  partition(partitionId: number, from: number, count: number, gen: number, maps?: RespProtocol): Promise<EventPage> {
    return this.#shared(`p${partitionId}:${from}:${gen}:${maps ?? 0}`, async () => {
      // The recent-events cache first. It answers only from its floor on, and then exactly (RecentEvents): a run
      // that stops short of the watermark stops where events are still on their way to this thread, and their
      // arrival bumps the partition's generation again (SubscriptionHub), so "no more" holds for this generation.
      const run = this.recent?.read(partitionId, from, count);
      if (run !== undefined) return EventPage.fromRecent(run.events, run.more);
      this.diskReads++;
      const encoding = maps === undefined ? undefined : { resp: maps, records: true };
      const r = await this.#db.scanPartitionRaw(partitionId, from, Number.MAX_SAFE_INTEGER, count, encoding, true);
      const pageMaps = maps !== undefined && r.resp !== undefined && r.bounds !== undefined ? { protocol: maps, bytes: r.resp, bounds: r.bounds } : undefined;
      return new EventPage(r.records, r.count, r.hasMore, undefined, r.release, pageMaps);
    });
  }

  /** Events of the stream from version `from` on (see `partition`). `keyText` identifies the partition key. */
  stream(streamId: string, partitionKey: Uint8Array, keyText: string, from: number, count: number, gen: number): Promise<EventPage> {
    return this.#shared(`s${keyText}:${from}:${gen}:${streamId}`, async () => {
      const r = await this.#db.scanStreamRaw(streamId, from, Number.MAX_SAFE_INTEGER, count, partitionKey);
      return new EventPage(r.records, r.count, r.hasMore);
    });
  }

  #shared(key: string, read: () => Promise<EventPage>): Promise<EventPage> {
    const pending = this.#inFlight.get(key);
    if (pending !== undefined) {
      this.joined++;
      pending.consumers++;
      return pending.page;
    }
    this.reads++;
    const entry = { page: undefined as unknown as Promise<EventPage>, consumers: 1 };
    // Counted before anyone gets the page, and no one joins after (the entry goes in the same step): a page's
    // buffer is given back only after `consumers` releases (EventPage.release).
    entry.page = read().then(
      (page) => {
        this.#inFlight.delete(key);
        page.consumers = entry.consumers;
        return page;
      },
      (err: unknown) => {
        this.#inFlight.delete(key);
        throw err;
      },
    );
    this.#inFlight.set(key, entry);
    return entry.page;
  }
}

/** A page size for events that average `averageBytes` each. */
export function pageEventsFor(averageBytes: number): number {
  if (!(averageBytes > 0)) return PAGE_EVENTS_MAX;
  return Math.max(1, Math.min(PAGE_EVENTS_MAX, Math.floor(PAGE_BYTES_TARGET / averageBytes)));
}
