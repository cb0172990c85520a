/**
 * The segment file `buckets/<bucket:05>/segments/<segment:010>/data.evts`: a header, then records back to back.
 * The file is created at its full size (sparse), so bytes past the last record read as zeros and a zero record
 * header marks the end of data.
 *
 * Segment header (64 bytes):
 *   offset size field
 *   0      4    magic "SDTS" (0x53 0x44 0x54 0x53)
 *   4      2    format version (1)
 *   6      2    bucket id
 *   8      4    segment id
 *   12     4    reserved (0)
 *   16     8    created at, unix ms
 *   24     8    segment size in bytes
 *   32     28   reserved (0)
 *   60     4    CRC32C of bytes 0..60
 *
 * Record header (16 bytes), then the body:
 *   offset size field
 *   0      1    confirmation count, stored as (c << 4) | c; NOT covered by the CRC, so replication can update it in
 *               place with a one-byte write (atomic on any disk); the duplicated nibble detects a torn or flipped byte
 *   1      3    reserved, must be 0 (outside the CRC, so checked explicitly)
 *   4      4    CRC32C of bytes 8 .. 16 + body length (length, kind and body)
 *   8      4    body length
 *   12     1    kind: 1 event, 2 commit
 *   13     3    reserved (0)
 *   16     -    body
 *
 * Event body (84 bytes, then the variable parts):
 *   0   16  event id
 *   16  16  partition key
 *   32  16  transaction id (byte 8 MSB set: single-event transaction; cleared: a commit record follows the events)
 *   48  8   partition sequence
 *   56  8   stream version
 *   64  8   timestamp, unix ms
 *   72  2   partition id
 *   74  1   stream id length (1..64)
 *   75  1   event name length (0..255)
 *   76  4   metadata length
 *   80  4   payload length
 *   84  -   stream id, event name, metadata, payload
 *
 * Commit body (40 bytes): transaction id (16), event count u32, reserved u32, first partition sequence u64,
 * timestamp ms u64. A multi-event transaction is visible only once its commit record is on disk.
 */
import { internedText } from './text-interner.ts';
import { crc32c } from './crc32c.ts';
import { readU64, writeU64 } from './u64.ts';

export const SEGMENT_MAGIC = 0x53544453; // "SDTS" read as little-endian u32
export const SEGMENT_FORMAT_VERSION = 1;
export const SEGMENT_HEADER_BYTES = 64;
export const RECORD_HEADER_BYTES = 16;
export const EVENT_BODY_FIXED_BYTES = 84;
export const COMMIT_BODY_BYTES = 40;
export const COMMIT_RECORD_BYTES = RECORD_HEADER_BYTES + COMMIT_BODY_BYTES;
export const STREAM_ID_BYTES_MAX = 64;
export const EVENT_NAME_BYTES_MAX = 255;

export const RecordKind = { event: 1, commit: 2 } as const;
export type RecordKind = (typeof RecordKind)[keyof typeof RecordKind];

/** A decoded event as stored. `streamId` and `eventName` are UTF-8 on disk. */
export interface StoredEvent {
  eventId: Uint8Array;
  partitionKey: Uint8Array;
  transactionId: Uint8Array;
  partitionId: number;
  partitionSequence: number;
  streamVersion: number;
  timestampMs: number;
  streamId: string;
  eventName: string;
  metadata: Buffer;
  payload: Buffer;
}

export interface SegmentHeader {
  bucketId: number;
  segmentId: number;
  createdAtMs: number;
  segmentSizeBytes: number;
}

export function encodeSegmentHeader(h: SegmentHeader): Buffer {
  const buf = Buffer.alloc(SEGMENT_HEADER_BYTES);
  buf.writeUInt32LE(SEGMENT_MAGIC, 0);
  buf.writeUInt16LE(SEGMENT_FORMAT_VERSION, 4);
  buf.writeUInt16LE(h.bucketId, 6);
  buf.writeUInt32LE(h.segmentId, 8);
  writeU64(buf, 16, h.createdAtMs);
  writeU64(buf, 24, h.segmentSizeBytes);
  buf.writeUInt32LE(crc32c(buf.subarray(0, 60)), 60);
  return buf;
}

export class SegmentFormatError extends Error {
  override name = 'SegmentFormatError';
}

export function decodeSegmentHeader(buf: Buffer): SegmentHeader {
  if (buf.length < SEGMENT_HEADER_BYTES) throw new SegmentFormatError('segment header is truncated');
  if (buf.readUInt32LE(0) !== SEGMENT_MAGIC) throw new SegmentFormatError('not a segment file (bad magic)');
  if (buf.readUInt32LE(60) !== crc32c(buf.subarray(0, 60))) throw new SegmentFormatError('segment header checksum mismatch');
  const version = buf.readUInt16LE(4);
  if (version !== SEGMENT_FORMAT_VERSION) throw new SegmentFormatError(`unsupported segment format version ${version}`);
  return {
    bucketId: buf.readUInt16LE(6),
    segmentId: buf.readUInt32LE(8),
    createdAtMs: readU64(buf, 16),
    segmentSizeBytes: readU64(buf, 24),
  };
}

/** The fields a client supplies for one event; the writer assigns sequence and version. */
export interface EventFields {
  eventId: Uint8Array;
  partitionKey: Uint8Array;
  transactionId: Uint8Array;
  partitionId: number;
  timestampMs: number;
  streamId: Buffer; // UTF-8
  eventName: Buffer; // UTF-8
  metadata: Uint8Array;
  payload: Uint8Array;
}

export function eventRecordBytes(streamIdBytes: number, eventNameBytes: number, metadataBytes: number, payloadBytes: number): number {
  return RECORD_HEADER_BYTES + EVENT_BODY_FIXED_BYTES + streamIdBytes + eventNameBytes + metadataBytes + payloadBytes;
}

/**
 * Encodes an event record into `target` at `offset` with sequence and version already known, and returns the
 * record length. The checksum is computed last, over the final bytes.
 */
export function encodeEventRecord(
  target: Buffer,
  offset: number,
  e: EventFields,
  partitionSequence: number,
  streamVersion: number,
  confirmationCount = 1,
  /** false: leave the checksum bytes zero (a record for memory only, never written). */
  seal = true,
): number {
  const h = headScratch;
  h.partitionId = e.partitionId;
  h.partitionSequence = partitionSequence;
  h.streamVersion = streamVersion;
  h.timestampMs = e.timestampMs;
  h.streamIdBytes = e.streamId.length;
  h.eventNameBytes = e.eventName.length;
  h.metadataBytes = e.metadata.length;
  h.payloadBytes = e.payload.length;
  const bodyLength = eventRecordBytes(h.streamIdBytes, h.eventNameBytes, h.metadataBytes, h.payloadBytes) - RECORD_HEADER_BYTES;
  let p = writeEventRecordFixed(target, offset, bodyLength, confirmationCount, h);
  const body = offset + RECORD_HEADER_BYTES;
  target.set(e.eventId, body);
  target.set(e.partitionKey, body + 16);
  target.set(e.transactionId, body + 32);
  target.set(e.streamId, p);
  p += e.streamId.length;
  target.set(e.eventName, p);
  p += e.eventName.length;
  target.set(e.metadata, p);
  p += e.metadata.length;
  target.set(e.payload, p);
  if (seal) sealRecord(target, offset, bodyLength);
  else target.writeUInt32LE(0, offset + 4);
  return RECORD_HEADER_BYTES + bodyLength;
}

/** An event record's fixed fields besides its ids (EventFields has them with the bytes themselves). */
export interface EventRecordHead {
  partitionId: number;
  partitionSequence: number;
  streamVersion: number;
  timestampMs: number;
  streamIdBytes: number;
  eventNameBytes: number;
  metadataBytes: number;
  payloadBytes: number;
}

export function newEventRecordHead(): EventRecordHead {
  return { partitionId: 0, partitionSequence: 0, streamVersion: 0, timestampMs: 0, streamIdBytes: 0, eventNameBytes: 0, metadataBytes: 0, payloadBytes: 0 };
}

const headScratch = newEventRecordHead();

/**
 * Encodes and seals an event record whose ids and variable bytes are already laid out elsewhere, as in a write
 * request frame: event id, partition key and transaction id (16 bytes each) at `ids[eventIdAt]`,
 * `ids[partitionKeyAt]`, `ids[transactionIdAt]`, and the stream id, event name, metadata and payload back to back
 * at `variable[variableAt..]`. Three 16-byte copies and one copy of the rest. Returns the record length.
 */
export function encodeEventRecordFrom(
  target: Buffer,
  offset: number,
  h: EventRecordHead,
  ids: Uint8Array,
  eventIdAt: number,
  partitionKeyAt: number,
  transactionIdAt: number,
  variable: Buffer,
  variableAt: number,
): number {
  const variableBytes = h.streamIdBytes + h.eventNameBytes + h.metadataBytes + h.payloadBytes;
  const p = writeEventRecordHead(target, offset, h, ids, eventIdAt, partitionKeyAt, ids, transactionIdAt);
  variable.copy(target, p, variableAt, variableAt + variableBytes);
  const bodyLength = EVENT_BODY_FIXED_BYTES + variableBytes;
  sealRecord(target, offset, bodyLength);
  return RECORD_HEADER_BYTES + bodyLength;
}

/** The record header (checksum left for sealRecord) and the body's fixed fields after the ids; returns where the stream id goes. */
function writeEventRecordFixed(target: Buffer, offset: number, bodyLength: number, confirmationCount: number, h: EventRecordHead): number {
  const body = offset + RECORD_HEADER_BYTES;
  target[offset] = encodeConfirmation(confirmationCount);
  target[offset + 1] = 0;
  target[offset + 2] = 0;
  target[offset + 3] = 0;
  target.writeUInt32LE(bodyLength, offset + 8);
  target[offset + 12] = RecordKind.event;
  target[offset + 13] = 0;
  target[offset + 14] = 0;
  target[offset + 15] = 0;
  writeU64(target, body + 48, h.partitionSequence);
  writeU64(target, body + 56, h.streamVersion);
  writeU64(target, body + 64, h.timestampMs);
  target.writeUInt16LE(h.partitionId, body + 72);
  target[body + 74] = h.streamIdBytes;
  target[body + 75] = h.eventNameBytes;
  target.writeUInt32LE(h.metadataBytes, body + 76);
  target.writeUInt32LE(h.payloadBytes, body + 80);
  return body + EVENT_BODY_FIXED_BYTES;
}

/**
 * The fixed part of an unsealed event record (checksum zero) at `target[offset..]`, for variable fields of the
 * lengths in `h`, which the caller copies from the returned offset on (stream id, event name, metadata, payload):
 * for a record whose parts lie in separate buffers (CapturingSink), and beneath encodeEventRecordFrom. The ids
 * are 16 bytes each: event id and partition key at `ids[eventIdAt]`, `ids[partitionKeyAt]`, the transaction id at
 * `transactionIds[transactionIdAt]`.
 */
export function writeEventRecordHead(
  target: Buffer,
  offset: number,
  h: EventRecordHead,
  ids: Uint8Array,
  eventIdAt: number,
  partitionKeyAt: number,
  transactionIds: Uint8Array,
  transactionIdAt: number,
): number {
  const bodyLength = EVENT_BODY_FIXED_BYTES + h.streamIdBytes + h.eventNameBytes + h.metadataBytes + h.payloadBytes;
  const p = writeEventRecordFixed(target, offset, bodyLength, 1, h);
  const body = offset + RECORD_HEADER_BYTES;
  for (let k = 0; k < 16; k++) {
    target[body + k] = ids[eventIdAt + k];
    target[body + 16 + k] = ids[partitionKeyAt + k];
    target[body + 32 + k] = transactionIds[transactionIdAt + k];
  }
  target.writeUInt32LE(0, offset + 4);
  return p;
}

/** Sets the partition sequence and stream version of the event record at `target[offset..]` (an unsealed one). */
export function setEventRecordPosition(target: Buffer, offset: number, partitionSequence: number, streamVersion: number): void {
  const body = offset + RECORD_HEADER_BYTES;
  writeU64(target, body + 48, partitionSequence);
  writeU64(target, body + 56, streamVersion);
}

export function encodeCommitRecord(
  target: Buffer,
  offset: number,
  transactionId: Uint8Array,
  eventCount: number,
  firstPartitionSequence: number,
  timestampMs: number,
): number {
  const body = offset + RECORD_HEADER_BYTES;
  target.fill(0, offset, offset + COMMIT_RECORD_BYTES);
  target[offset] = encodeConfirmation(1);
  target.writeUInt32LE(COMMIT_BODY_BYTES, offset + 8);
  target[offset + 12] = RecordKind.commit;
  target.set(transactionId, body);
  target.writeUInt32LE(eventCount, body + 16);
  writeU64(target, body + 24, firstPartitionSequence);
  writeU64(target, body + 32, timestampMs);
  sealRecord(target, offset, COMMIT_BODY_BYTES);
  return COMMIT_RECORD_BYTES;
}

/** Writes the CRC32C of bytes 8 .. 16 + bodyLength into bytes 4..8. */
export function sealRecord(target: Buffer, offset: number, bodyLength: number): void {
  target.writeUInt32LE(crc32c(target.subarray(offset + 8, offset + RECORD_HEADER_BYTES + bodyLength)), offset + 4);
}

export function encodeConfirmation(count: number): number {
  if (count < 0 || count > 12) throw new RangeError(`confirmation count ${count} out of range 0..12`);
  return (count << 4) | count;
}

/** The confirmation count, or -1 when the two nibbles disagree (a torn or flipped byte). */
export function decodeConfirmation(byte: number): number {
  const hi = byte >>> 4;
  return hi === (byte & 0x0f) ? hi : -1;
}

/** What a read of one record at an offset found. */
export type RecordProbe =
  | { status: 'end' } // a zero header: no record here
  | { status: 'short'; needBytes: number } // the buffer holds less than the header or the body says
  | { status: 'corrupt'; reason: string }
  | { status: 'ok'; kind: RecordKind; length: number; confirmation: number };

/**
 * Checks the record at `buf[offset..]` without decoding the body: header sanity, length bounds, CRC32C and
 * the confirmation byte. `maxLength` bounds the record (the bytes left in the segment).
 */
/**
 * With `verifyChecksum` false the CRC32C is not computed (every other check still runs): for a reader indexing a
 * region its own process's writer wrote and published as durable, whose records are checked again when read.
 */
export function probeRecord(buf: Buffer, offset: number, available: number, maxLength: number, verifyChecksum = true): RecordProbe {
  if (available < RECORD_HEADER_BYTES) {
    if (maxLength < RECORD_HEADER_BYTES) return { status: 'end' };
    return { status: 'short', needBytes: RECORD_HEADER_BYTES };
  }
  const bodyLength = buf.readUInt32LE(offset + 8);
  const kind = buf[offset + 12];
  if (bodyLength === 0 && kind === 0 && buf.readUInt32LE(offset + 4) === 0 && buf[offset] === 0) return { status: 'end' };
  if (kind !== RecordKind.event && kind !== RecordKind.commit) return { status: 'corrupt', reason: `unknown record kind ${kind}` };
  // Bytes 1..3 sit outside the checksum (beside the in-place confirmation byte), so they must read as zero.
  if (buf[offset + 1] !== 0 || buf[offset + 2] !== 0 || buf[offset + 3] !== 0) return { status: 'corrupt', reason: 'reserved header bytes are not zero' };
  const length = RECORD_HEADER_BYTES + bodyLength;
  if (length > maxLength) return { status: 'corrupt', reason: `record length ${length} runs past the segment end` };
  if (kind === RecordKind.commit && bodyLength !== COMMIT_BODY_BYTES) return { status: 'corrupt', reason: 'bad commit record length' };
  if (kind === RecordKind.event && bodyLength < EVENT_BODY_FIXED_BYTES + 1) return { status: 'corrupt', reason: 'event record too short' };
  if (available < length) return { status: 'short', needBytes: length };
  if (verifyChecksum && buf.readUInt32LE(offset + 4) !== crc32c(buf.subarray(offset + 8, offset + length))) return { status: 'corrupt', reason: 'checksum mismatch' };
  const confirmation = decodeConfirmation(buf[offset]);
  if (confirmation < 0) return { status: 'corrupt', reason: 'confirmation byte nibbles disagree' };
  if (kind === RecordKind.event) {
    const body = offset + RECORD_HEADER_BYTES;
    const varBytes = buf[body + 74] + buf[body + 75] + buf.readUInt32LE(body + 76) + buf.readUInt32LE(body + 80);
    if (EVENT_BODY_FIXED_BYTES + varBytes !== bodyLength) return { status: 'corrupt', reason: 'event field lengths disagree with the record length' };
  }
  return { status: 'ok', kind: kind as RecordKind, length, confirmation };
}

/** Decodes an event record that {@link probeRecord} accepted. Byte fields are copies, safe to keep. */
export function decodeEventRecord(buf: Buffer, offset: number): StoredEvent {
  const body = offset + RECORD_HEADER_BYTES;
  const streamIdLength = buf[body + 74];
  const eventNameLength = buf[body + 75];
  const metadataLength = buf.readUInt32LE(body + 76);
  const payloadLength = buf.readUInt32LE(body + 80);
  let p = body + EVENT_BODY_FIXED_BYTES;
  const streamId = buf.toString('utf8', p, p + streamIdLength);
  p += streamIdLength;
  const eventName = buf.toString('utf8', p, p + eventNameLength);
  p += eventNameLength;
  const metadata = Buffer.from(buf.subarray(p, p + metadataLength));
  p += metadataLength;
  const payload = Buffer.from(buf.subarray(p, p + payloadLength));
  return {
    eventId: Uint8Array.prototype.slice.call(buf, body, body + 16),
    partitionKey: Uint8Array.prototype.slice.call(buf, body + 16, body + 32),
    transactionId: Uint8Array.prototype.slice.call(buf, body + 32, body + 48),
    partitionSequence: readU64(buf, body + 48),
    streamVersion: readU64(buf, body + 56),
    timestampMs: readU64(buf, body + 64),
    partitionId: buf.readUInt16LE(body + 72),
    streamId,
    eventName,
    metadata,
    payload,
  };
}

/** Cheap field reads on an accepted event record, for index building without a full decode. */
export const eventRecordField = {
  eventId: (buf: Buffer, offset: number) => buf.subarray(offset + RECORD_HEADER_BYTES, offset + RECORD_HEADER_BYTES + 16),
  partitionKey: (buf: Buffer, offset: number) => buf.subarray(offset + RECORD_HEADER_BYTES + 16, offset + RECORD_HEADER_BYTES + 32),
  transactionId: (buf: Buffer, offset: number) => buf.subarray(offset + RECORD_HEADER_BYTES + 32, offset + RECORD_HEADER_BYTES + 48),
  partitionSequence: (buf: Buffer, offset: number) => readU64(buf, offset + RECORD_HEADER_BYTES + 48),
  streamVersion: (buf: Buffer, offset: number) => readU64(buf, offset + RECORD_HEADER_BYTES + 56),
  timestampMs: (buf: Buffer, offset: number) => readU64(buf, offset + RECORD_HEADER_BYTES + 64),
  partitionId: (buf: Buffer, offset: number) => buf.readUInt16LE(offset + RECORD_HEADER_BYTES + 72),
  streamId: (buf: Buffer, offset: number) => {
    const body = offset + RECORD_HEADER_BYTES;
    return internedText(buf, body + EVENT_BODY_FIXED_BYTES, body + EVENT_BODY_FIXED_BYTES + buf[body + 74]);
  },
} as const;

export interface CommitRecord {
  transactionId: Uint8Array;
  eventCount: number;
  firstPartitionSequence: number;
  timestampMs: number;
}

export function decodeCommitRecord(buf: Buffer, offset: number): CommitRecord {
  const body = offset + RECORD_HEADER_BYTES;
  return {
    transactionId: buf.subarray(body, body + 16),
    eventCount: buf.readUInt32LE(body + 16),
    firstPartitionSequence: readU64(buf, body + 24),
    timestampMs: readU64(buf, body + 32),
  };
}
