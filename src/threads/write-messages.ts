/**
 * Frames between the main thread and a write worker, carried by the ring queues (no postMessage, no JSON on the
 * append path: payload bytes go socket → ring → segment buffer).
 *
 * Request frame (main → worker):
 *   offset size field
 *   0      1    type: 1 append, 2 stats, 3 close
 *   1      1    reserved
 *   2      2    bucket id
 *   4      4    request id
 *   -- append only --
 *   8      2    partition id
 *   10     2    event count
 *   12     16   partition key
 *   28     16   transaction id
 *   44     -    events, each a 48-byte head then its bytes:
 *                 0 event id (16) | 16 expected kind u8 | 17 stream id length u8 | 18 event name length u8 | 19 pad
 *                 20 metadata length u32 | 24 payload length u32 | 28 pad u32 | 32 expected version f64
 *                 40 timestamp ms f64 | then stream id, event name, metadata, payload
 *
 * Completion frame (worker → main):
 *   0  1  type: 1 append, 2 stats, 3 closed
 *   1  1  status: 0 ok, 1 error
 *   2  2  event count (append ok)
 *   4  4  request id
 *   8  -  append ok: first sequence f64, then one f64 version per event
 *         append error: code length u8, code (ASCII), message length u32, message (UTF-8)
 *         stats: JSON (UTF-8) to the end of the frame
 */
import type { EventRequest, TransactionOutcome, TransactionRequest } from '../engine/bucket-writer.ts';
import { EngineError, type EngineErrorCode } from '../engine/engine-error.ts';
import type { AppendSink, InPlaceAppend } from '../engine/in-place-append.ts';
import type { BatchOutcomes } from '../engine/batch-outcomes.ts';
import { writeTransactionId } from '../ids/event-id.ts';

export const RequestType = { append: 1, stats: 2, close: 3 } as const;
export const CompletionType = { append: 1, stats: 2, closed: 3 } as const;

const REQUEST_HEAD_BYTES = 8;
const APPEND_HEAD_BYTES = 44;
const EVENT_HEAD_BYTES = 48;

/**
 * Positions in an append request frame, for a reader that works on the frame in place (the bucket writer stages
 * straight from it, with no object per event). `event*` offsets are relative to an event's head; the head's
 * variable bytes (stream id, event name, metadata, payload, back to back) start at `EVENT_HEAD_BYTES`.
 */
export const appendFrame = {
  PARTITION_ID_AT: 8,
  EVENT_COUNT_AT: 10,
  PARTITION_KEY_AT: 12,
  TRANSACTION_ID_AT: 28,
  FIRST_EVENT_AT: APPEND_HEAD_BYTES,
  EVENT_HEAD_BYTES,
  EVENT_EXPECTED_KIND_AT: 16,
  EVENT_STREAM_ID_BYTES_AT: 17,
  EVENT_NAME_BYTES_AT: 18,
  EVENT_METADATA_BYTES_AT: 20,
  EVENT_PAYLOAD_BYTES_AT: 24,
  EVENT_EXPECTED_VERSION_AT: 32,
  EVENT_TIMESTAMP_AT: 40,
} as const;

export function appendRequestBytes(t: TransactionRequest): number {
  let n = APPEND_HEAD_BYTES;
  for (const e of t.events) n += EVENT_HEAD_BYTES + e.streamId.length + e.eventName.length + e.metadata.length + e.payload.length;
  return n;
}

export function encodeAppendRequest(target: Buffer, bucketId: number, requestId: number, t: TransactionRequest): void {
  const F = appendFrame;
  writeAppendHead(target, 0, bucketId, requestId, t.partitionId, t.events.length);
  copyBytes(target, F.PARTITION_KEY_AT, t.partitionKey);
  copyBytes(target, F.TRANSACTION_ID_AT, t.transactionId);
  let p: number = F.FIRST_EVENT_AT;
  for (const e of t.events) {
    copyBytes(target, p, e.eventId);
    writeEventHead(target, p, e.expectedKind, e.expectedVersion, e.timestampMs, e.streamId.length, e.eventName.length, e.metadata.length, e.payload.length);
    p += F.EVENT_HEAD_BYTES;
    p = copyBytes(target, p, e.streamId);
    p = copyBytes(target, p, e.eventName);
    p = copyBytes(target, p, e.metadata);
    p = copyBytes(target, p, e.payload);
  }
}

/** An append frame's fixed head at `target[at..]`, up to the partition key. */
function writeAppendHead(target: Buffer, at: number, bucketId: number, requestId: number, partitionId: number, eventCount: number): void {
  target[at] = RequestType.append;
  target[at + 1] = 0;
  target.writeUInt16LE(bucketId, at + 2);
  target.writeUInt32LE(requestId, at + 4);
  target.writeUInt16LE(partitionId, at + appendFrame.PARTITION_ID_AT);
  target.writeUInt16LE(eventCount, at + appendFrame.EVENT_COUNT_AT);
}

/** An event head's fields after its id, at `target[p..]` (p: the head's start). */
function writeEventHead(
  target: Buffer,
  p: number,
  expectedKind: number,
  expectedVersion: number,
  timestampMs: number,
  streamIdBytes: number,
  eventNameBytes: number,
  metadataBytes: number,
  payloadBytes: number,
): void {
  const F = appendFrame;
  target[p + F.EVENT_EXPECTED_KIND_AT] = expectedKind;
  target[p + F.EVENT_STREAM_ID_BYTES_AT] = streamIdBytes;
  target[p + F.EVENT_NAME_BYTES_AT] = eventNameBytes;
  target[p + 19] = 0;
  target.writeUInt32LE(metadataBytes, p + F.EVENT_METADATA_BYTES_AT);
  target.writeUInt32LE(payloadBytes, p + F.EVENT_PAYLOAD_BYTES_AT);
  target.writeUInt32LE(0, p + 28);
  target.writeDoubleLE(expectedVersion, p + F.EVENT_EXPECTED_VERSION_AT);
  target.writeDoubleLE(timestampMs, p + F.EVENT_TIMESTAMP_AT);
}

/** Bytes of the request frame of an in-place append (one event; see engine/in-place-append.ts). */
export function inPlaceAppendRequestBytes(o: InPlaceAppend): number {
  return APPEND_HEAD_BYTES + EVENT_HEAD_BYTES + o.variableBytes;
}

/**
 * The request frame of an in-place append, at `target[at..]` (a ring's bytes): the same layout as
 * encodeAppendRequest's for one event, written from the request's byte ranges, the event id and partition key in
 * `ids` (AppendSink.ids), and `transactionId` (AppendSink.transactionId) or, without one, a new transaction id made
 * in place.
 */
export function encodeInPlaceAppendRequest(
  target: Buffer,
  at: number,
  bucketId: number,
  requestId: number,
  o: InPlaceAppend,
  ids: Uint8Array,
  timestampMs: number,
  transactionId: Uint8Array | undefined,
): void {
  const F = appendFrame;
  writeAppendHead(target, at, bucketId, requestId, o.partitionId, 1);
  for (let k = 0; k < 16; k++) target[at + F.PARTITION_KEY_AT + k] = ids[16 + k];
  if (transactionId === undefined) writeTransactionId(target, at + F.TRANSACTION_ID_AT, 1);
  else for (let k = 0; k < 16; k++) target[at + F.TRANSACTION_ID_AT + k] = transactionId[k];
  const p = at + F.FIRST_EVENT_AT;
  for (let k = 0; k < 16; k++) target[p + k] = ids[k];
  writeEventHead(target, p, o.expectedKind, o.expectedVersion, timestampMs, o.streamId.length, o.eventName.length, o.metadata.length, o.payload.length);
  o.copyVariableTo(target, p + F.EVENT_HEAD_BYTES);
}

/** Copies `source` to `target[at..]` and returns the end; a loop for short arrays (TypedArray#set costs ~50 ns a call). */
function copyBytes(target: Uint8Array, at: number, source: Uint8Array): number {
  const n = source.length;
  if (n > 64) target.set(source, at);
  else for (let k = 0; k < n; k++) target[at + k] = source[k];
  return at + n;
}

export function encodeControlRequest(target: Buffer, type: number, bucketId: number, requestId: number): void {
  target[0] = type;
  target[1] = 0;
  target.writeUInt16LE(bucketId, 2);
  target.writeUInt32LE(requestId, 4);
}

export const CONTROL_REQUEST_BYTES = REQUEST_HEAD_BYTES;

export function appendCompletionBytes(o: TransactionOutcome): number {
  return o.ok ? okCompletionBytes(o.versions.length) : errorCompletionBytes(o.error);
}

export function encodeAppendCompletion(target: Buffer, requestId: number, o: TransactionOutcome): void {
  if (o.ok) writeOkCompletion(target, 0, requestId, o.firstSequence, o.versions, 0, o.versions.length);
  else writeErrorCompletion(target, 0, requestId, o.error);
}

/** Bytes of the completion of transaction i of a writer's batch. */
export function batchCompletionBytes(outcomes: BatchOutcomes, i: number): number {
  const error = outcomes.errors[i];
  return error === undefined ? okCompletionBytes(outcomes.versionCount[i]) : errorCompletionBytes(error);
}

/** The completion of transaction i of a writer's batch, at `target[at..]` (a ring's bytes), from its columns. */
export function encodeBatchCompletion(target: Buffer, at: number, requestId: number, outcomes: BatchOutcomes, i: number): void {
  const error = outcomes.errors[i];
  if (error === undefined) writeOkCompletion(target, at, requestId, outcomes.firstSequence[i], outcomes.versions, outcomes.versionsAt[i], outcomes.versionCount[i]);
  else writeErrorCompletion(target, at, requestId, error);
}

function okCompletionBytes(eventCount: number): number {
  return 16 + 8 * eventCount;
}

function errorCompletionBytes(error: EngineError): number {
  return 8 + 1 + error.code.length + 4 + Buffer.byteLength(error.message);
}

function writeOkCompletion(target: Buffer, at: number, requestId: number, firstSequence: number, versions: readonly number[], versionsAt: number, count: number): void {
  target[at] = CompletionType.append;
  target[at + 1] = 0;
  target.writeUInt16LE(count, at + 2);
  target.writeUInt32LE(requestId, at + 4);
  target.writeDoubleLE(firstSequence, at + 8);
  for (let i = 0; i < count; i++) target.writeDoubleLE(versions[versionsAt + i], at + 16 + 8 * i);
}

function writeErrorCompletion(target: Buffer, at: number, requestId: number, error: EngineError): void {
  target[at] = CompletionType.append;
  target[at + 1] = 1;
  target.writeUInt16LE(0, at + 2);
  target.writeUInt32LE(requestId, at + 4);
  const code = error.code;
  target[at + 8] = code.length;
  target.write(code, at + 9, 'latin1');
  const messageLength = target.write(error.message, at + 13 + code.length, 'utf8');
  target.writeUInt32LE(messageLength, at + 9 + code.length);
}

export function encodeJsonCompletion(type: number, requestId: number, value: unknown): Buffer {
  const json = Buffer.from(JSON.stringify(value), 'utf8');
  const frame = Buffer.alloc(8 + json.length);
  frame[0] = type;
  frame.writeUInt32LE(requestId, 4);
  json.copy(frame, 8);
  return frame;
}

export function decodeCompletionHead(frame: Buffer): { type: number; requestId: number } {
  return { type: frame[0], requestId: frame.readUInt32LE(4) };
}

export function decodeAppendCompletion(frame: Buffer): TransactionOutcome {
  if (frame[1] === 0) {
    const count = frame.readUInt16LE(2);
    const versions: number[] = new Array(count);
    for (let i = 0; i < count; i++) versions[i] = frame.readDoubleLE(16 + 8 * i);
    return { ok: true, firstSequence: frame.readDoubleLE(8), versions };
  }
  const codeLength = frame[8];
  const code = frame.toString('latin1', 9, 9 + codeLength) as EngineErrorCode;
  const messageLength = frame.readUInt32LE(9 + codeLength);
  const message = frame.toString('utf8', 13 + codeLength, 13 + codeLength + messageLength);
  return { ok: false, error: new EngineError(code, message) };
}

/**
 * An append completion read in place (`bytes[at..]`, a ring's bytes) into an in-place append's sink: its first
 * event's sequence and version, or the error.
 */
export function completeAppendSink(sink: AppendSink, bytes: Buffer, at: number, length: number): void {
  if (bytes[at + 1] === 0) sink.appended(bytes.readDoubleLE(at + 8), bytes.readDoubleLE(at + 16));
  else sink.appendFailed((decodeAppendCompletion(bytes.subarray(at, at + length)) as { error: EngineError }).error);
}

export function decodeJsonCompletion(frame: Buffer): unknown {
  return JSON.parse(frame.toString('utf8', 8));
}
