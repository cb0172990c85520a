/**
 * An in-place append that `Database.onAppended` listeners hear of, without leaving the in-place path.
 *
 * The listeners (the subscription hub's recent-events cache) want each appended event as a record. An in-place
 * append's bytes live in the socket's chunk only until `submitAppendInPlace` returns, so the record is written
 * then, once, from the request's byte ranges: ids, timestamp and a transaction id made here (the request frame
 * carries the same one, AppendSink.transactionId), with the partition sequence and stream version left for the
 * completion to fill in. The sink wraps the request's own sink (the connection's reply slot): on completion it
 * completes the record, hands it to the listeners, and then passes the outcome on. Pooled: one per append in flight.
 */
import { eventRecordBytes, setEventRecordPosition, writeEventRecordHead, type EventRecordHead } from '../../native-free-io/segment-format.ts';
import { writeTransactionId } from '../ids/event-id.ts';
import type { AppendSink, InPlaceAppend } from './in-place-append.ts';

/** Hears of a captured append's record once it is durable (sequence and version filled in). */
export type CapturedRecordListener = (record: Buffer) => void;

const NO_BYTES = Buffer.alloc(0);
/** The record's fixed fields, filled per capture (sequence and version come at completion). */
const head: EventRecordHead = { partitionId: 0, partitionSequence: 0, streamVersion: 0, timestampMs: 0, streamIdBytes: 0, eventNameBytes: 0, metadataBytes: 0, payloadBytes: 0 };

export class CapturingSink implements AppendSink {
  ids: Uint8Array = NO_BYTES;
  partitionId = 0;
  timestampMs = 0;
  readonly transactionId = new Uint8Array(16);
  #inner: AppendSink | undefined = undefined;
  #record: Buffer = NO_BYTES;
  readonly #pool: CapturingSinkPool;

  constructor(pool: CapturingSinkPool) {
    this.#pool = pool;
  }

  /**
   * Wraps `inner`, whose ids, partition and timestamp are set for this append, and writes the record of `o` (read
   * in place) with a new transaction id.
   */
  capture(inner: AppendSink, o: InPlaceAppend): void {
    this.#inner = inner;
    this.ids = inner.ids;
    this.partitionId = inner.partitionId;
    this.timestampMs = inner.timestampMs;
    writeTransactionId(this.transactionId, 0, 1);
    const h = head;
    h.partitionId = inner.partitionId;
    h.timestampMs = inner.timestampMs;
    h.streamIdBytes = o.streamId.length;
    h.eventNameBytes = o.eventName.length;
    h.metadataBytes = o.metadata.length;
    h.payloadBytes = o.payload.length;
    const record = Buffer.allocUnsafe(eventRecordBytes(h.streamIdBytes, h.eventNameBytes, h.metadataBytes, h.payloadBytes));
    o.copyVariableTo(record, writeEventRecordHead(record, 0, h, inner.ids, 0, 16, this.transactionId, 0));
    this.#record = record;
  }

  appended(partitionSequence: number, streamVersion: number): void {
    const inner = this.#inner!;
    const record = this.#record;
    this.#release();
    setEventRecordPosition(record, 0, partitionSequence, streamVersion);
    this.#pool.listener(record);
    inner.appended(partitionSequence, streamVersion);
  }

  appendFailed(error: unknown): void {
    const inner = this.#inner!;
    this.#release();
    inner.appendFailed(error);
  }

  #release(): void {
    this.#inner = undefined;
    this.#record = NO_BYTES;
    this.ids = NO_BYTES;
    this.#pool.give(this);
  }
}

/** Free CapturingSinks, and the listener their records go to. */
export class CapturingSinkPool {
  readonly listener: CapturedRecordListener;
  readonly #free: CapturingSink[] = [];

  constructor(listener: CapturedRecordListener) {
    this.listener = listener;
  }

  take(): CapturingSink {
    return this.#free.pop() ?? new CapturingSink(this);
  }

  give(sink: CapturingSink): void {
    if (this.#free.length < 4096) this.#free.push(sink);
  }
}
