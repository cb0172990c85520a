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
  /** The append is durable. */
  appended(partitionSequence: number, streamVersion: number): void;
  /** The append failed (an EngineError, or the error of a stopped writer). */
  appendFailed(error: unknown): void;
}

/** One EAPPEND, read in place: filled by the command, checked and completed by the database. Reused. */
export class InPlaceAppend {
  streamIdBuffer: Buffer = EMPTY;
  streamIdStart = 0;
  streamIdEnd = 0;
  eventNameBuffer: Buffer = EMPTY;
  eventNameStart = 0;
  eventNameEnd = 0;
  payloadBuffer: Buffer = EMPTY;
  payloadStart = 0;
  payloadEnd = 0;
  metadataBuffer: Buffer = EMPTY;
  metadataStart = 0;
  metadataEnd = 0;
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
    this.streamIdBuffer = this.eventNameBuffer = this.payloadBuffer = this.metadataBuffer = EMPTY;
    this.streamIdStart = this.streamIdEnd = this.eventNameStart = this.eventNameEnd = 0;
    this.payloadStart = this.payloadEnd = this.metadataStart = this.metadataEnd = 0;
    this.eventId = undefined;
    this.givenPartitionKey = undefined;
    this.expectedKind = ExpectedKind.any;
    this.expectedVersion = 0;
    this.givenTimestampMs = -1;
    this.partitionKey = EMPTY;
  }

  /** Bytes of the event's variable part: stream id, event name, metadata and payload. */
  get variableBytes(): number {
    return this.streamIdEnd - this.streamIdStart + (this.eventNameEnd - this.eventNameStart) + (this.metadataEnd - this.metadataStart) + (this.payloadEnd - this.payloadStart);
  }
}

const EMPTY = Buffer.alloc(0);
