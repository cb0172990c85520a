/**
 * The EAPPEND hot path's request and result, shaped so that an append costs the main thread no object of its own:
 *
 *   socket chunk ──(byte ranges)──▶ InPlaceAppend (one scratch, reused) ──encode in place──▶ request ring
 *   completion ring ──(two numbers)──▶ AppendSink (the connection's reply slot, pooled) ──▶ reply bytes
 *
 * The server parses an EAPPEND into an InPlaceAppend whose stream id, event name, payload and metadata are ranges of
 * the buffers they arrived in; `Database.prepareAppendInPlace` checks it and derives the partition, and
 * `Database.submitAppendInPlace` writes the event id and partition key into the sink's `ids` and encodes the
 * request frame straight from those ranges into the writer's ring. The writer's completion comes back to the sink
 * as the partition sequence and stream version. Nothing here outlives one call but the sink.
 */
import { ExpectedKind } from './expected-version.ts';
import type { RequestArguments } from '../protocol/request-arguments.ts';

/** Where an in-place append reports: the reply slot of the request. */
export interface AppendSink {
  /**
   * 32 bytes, written at submission: the event id (0..16) and the partition key (16..32), which the reply needs
   * after the request's own bytes are gone.
   */
  readonly ids: Uint8Array;
  /** Set at submission, for the reply. */
  partitionId: number;
  timestampMs: number;
  /**
   * Set when `Database.onAppended` listeners hear of this append (CapturingSink): the transaction id its request
   * carries, made at submission for the record they get. Undefined otherwise: the request makes its own, and the
   * backends count the append as one that no listener hears of (WriteBackend.onceInPlaceSettled).
   */
  readonly transactionId?: Uint8Array;
  /** The append is durable. */
  appended(partitionSequence: number, streamVersion: number): void;
  /** The append failed (an EngineError, or the error of a stopped writer). */
  appendFailed(error: unknown): void;
}

/** A byte range `buffer[start .. end)` of a request: one field of an in-place append. Reused. */
export class ByteRange {
  buffer: Buffer = EMPTY;
  start = 0;
  end = 0;

  get length(): number {
    return this.end - this.start;
  }

  /** Argument i of a request read in place. */
  setArgument(r: RequestArguments, i: number): void {
    this.buffer = r.buffers[i];
    this.start = r.starts[i];
    this.end = r.ends[i];
  }

  clear(): void {
    this.buffer = EMPTY;
    this.start = this.end = 0;
  }

  /** Copies the bytes to `target[at..]` and returns the end (a loop for short ranges: Buffer#copy costs a call). */
  copyTo(target: Buffer, at: number): number {
    const { buffer, start, end } = this;
    const n = end - start;
    if (n > 64) buffer.copy(target, at, start, end);
    else for (let k = 0; k < n; k++) target[at + k] = buffer[start + k];
    return at + n;
  }
}

/** One EAPPEND, read in place: filled by the command, checked and completed by the database. Reused. */
export class InPlaceAppend {
  readonly streamId = new ByteRange();
  readonly eventName = new ByteRange();
  readonly payload = new ByteRange();
  readonly metadata = new ByteRange();
  /** A client-chosen event id, or undefined for a generated one. */
  eventId: Uint8Array | undefined = undefined;
  /** A client-given partition key, or undefined for the one derived from the stream id. */
  givenPartitionKey: Uint8Array | undefined = undefined;
  expectedKind: number = ExpectedKind.any;
  expectedVersion = 0;
  /** A client-given timestamp, or -1 for now. */
  givenTimestampMs = -1;

  // Filled in by Database.prepareAppendInPlace.
  partitionKey: Uint8Array = EMPTY;
  partitionHash = 0;
  partitionId = 0;
  bucketId = 0;
  nowMs = 0;

  reset(): void {
    this.streamId.clear();
    this.eventName.clear();
    this.payload.clear();
    this.metadata.clear();
    this.eventId = undefined;
    this.givenPartitionKey = undefined;
    this.expectedKind = ExpectedKind.any;
    this.expectedVersion = 0;
    this.givenTimestampMs = -1;
    this.partitionKey = EMPTY;
  }

  /** Bytes of the event's variable part: stream id, event name, metadata and payload. */
  get variableBytes(): number {
    return this.streamId.length + this.eventName.length + this.metadata.length + this.payload.length;
  }

  /**
   * Copies the variable part to `target[at..]` in the order both a request frame and a record keep it (stream id,
   * event name, metadata, payload); returns the end.
   */
  copyVariableTo(target: Buffer, at: number): number {
    return this.payload.copyTo(target, this.metadata.copyTo(target, this.eventName.copyTo(target, this.streamId.copyTo(target, at))));
  }
}

const EMPTY = Buffer.alloc(0);
