/**
 * Reply writers for events and append results, byte for byte as SierraDB's (reference §1.4, §1.5).
 *
 * An event is a map of 11 entries in this fixed order, keys as SIMPLE strings (SierraDB's Rust client skips map
 * keys that are not simple strings), UUIDs as simple strings, and the four byte fields as blobs:
 *
 *   %11
 *   +event_id           +<uuid>
 *   +partition_key      +<uuid>
 *   +partition_id       :<n>
 *   +transaction_id     +<uuid>
 *   +partition_sequence :<n>
 *   +stream_version     :<n>
 *   +timestamp          :<ms>
 *   +stream_id          $<len> <bytes>
 *   +event_name         $<len> <bytes>
 *   +metadata           $<len> <bytes>      (empty is $0, never null)
 *   +payload            $<len> <bytes>
 *
 * Events are written straight from the raw record bytes a read returns (no decode into objects): the fixed
 * fields are read at their offsets in the event body and the variable ones are copied as blob views.
 * In RESP2 the map header becomes `*22` and everything else is the same.
 */
import type { AppendResult, MultiAppendResult } from '../database.ts';
import { forEachRecord, type RecordBatch, type ScanResult } from '../engine/store-reader.ts';
import { EVENT_BODY_FIXED_BYTES, RECORD_HEADER_BYTES } from '../../native-free-io/segment-format.ts';
import { readU64 } from '../../native-free-io/u64.ts';
import { encodeSimpleString, type RespEncoder } from '../protocol/resp-encoder.ts';

/** Map keys, encoded once (`+key\r\n`, the same in RESP2 and RESP3). */
const key = {
  eventId: encodeSimpleString('event_id'),
  partitionKey: encodeSimpleString('partition_key'),
  partitionId: encodeSimpleString('partition_id'),
  transactionId: encodeSimpleString('transaction_id'),
  partitionSequence: encodeSimpleString('partition_sequence'),
  streamVersion: encodeSimpleString('stream_version'),
  timestamp: encodeSimpleString('timestamp'),
  streamId: encodeSimpleString('stream_id'),
  eventName: encodeSimpleString('event_name'),
  metadata: encodeSimpleString('metadata'),
  payload: encodeSimpleString('payload'),
  hasMore: encodeSimpleString('has_more'),
  events: encodeSimpleString('events'),
  firstPartitionSequence: encodeSimpleString('first_partition_sequence'),
  lastPartitionSequence: encodeSimpleString('last_partition_sequence'),
} as const;

const HEX = Buffer.from('0123456789abcdef', 'latin1');
/** `+` + 36 characters + CRLF. */
const UUID_LINE_BYTES = 39;
const uuidLine = Buffer.alloc(UUID_LINE_BYTES);
uuidLine[0] = 0x2b; // +
uuidLine[37] = 0x0d;
uuidLine[38] = 0x0a;
/** Positions of the 32 hex digits in the hyphenated form. */
const HEX_POSITIONS = [0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34];
for (const p of [8, 13, 18, 23]) uuidLine[1 + p] = 0x2d; // -

/** `+<lower-case hyphenated uuid>\r\n` from 16 bytes at `buf[at..]`. */
export function writeUuidSimple(e: RespEncoder, buf: Uint8Array, at: number): void {
  for (let i = 0; i < 16; i++) {
    const b = buf[at + i];
    const p = 1 + HEX_POSITIONS[i];
    uuidLine[p] = HEX[b >>> 4];
    uuidLine[p + 1] = HEX[b & 0x0f];
  }
  e.raw(uuidLine);
}

/** Writes the `%11` event map of the event record at `buf[at..]` (a record accepted by the reader). */
export function writeEventMap(e: RespEncoder, buf: Buffer, at: number): void {
  const body = at + RECORD_HEADER_BYTES;
  const streamIdLength = buf[body + 74];
  const eventNameLength = buf[body + 75];
  const metadataLength = buf.readUInt32LE(body + 76);
  const payloadLength = buf.readUInt32LE(body + 80);
  e.mapHeader(11);
  e.raw(key.eventId);
  writeUuidSimple(e, buf, body);
  e.raw(key.partitionKey);
  writeUuidSimple(e, buf, body + 16);
  e.raw(key.partitionId);
  e.integer(buf.readUInt16LE(body + 72));
  e.raw(key.transactionId);
  writeUuidSimple(e, buf, body + 32);
  e.raw(key.partitionSequence);
  e.integer(readU64(buf, body + 48));
  e.raw(key.streamVersion);
  e.integer(readU64(buf, body + 56));
  e.raw(key.timestamp);
  e.integer(readU64(buf, body + 64));
  let p = body + EVENT_BODY_FIXED_BYTES;
  e.raw(key.streamId);
  e.bulkString(buf.subarray(p, p + streamIdLength));
  p += streamIdLength;
  e.raw(key.eventName);
  e.bulkString(buf.subarray(p, p + eventNameLength));
  p += eventNameLength;
  e.raw(key.metadata);
  e.bulkString(buf.subarray(p, p + metadataLength));
  p += metadataLength;
  e.raw(key.payload);
  e.bulkString(buf.subarray(p, p + payloadLength));
}

/** `*N` and the N event maps of a batch. */
export function writeEventArray(e: RespEncoder, batch: RecordBatch): void {
  e.arrayHeader(batch.count);
  forEachRecord(batch, (buf, at) => writeEventMap(e, buf, at));
}

/** EGET: the event map, or null (`_`, RESP2 `$-1`) when there is no such event. */
export function writeEventOrNull(e: RespEncoder, batch: RecordBatch): void {
  if (batch.count === 0) e.null();
  else writeEventMap(e, batch.records, 0);
}

/** ESCAN / EPSCAN: `%2 +has_more #t|#f +events *N <maps>`. */
export function writeScanPage(e: RespEncoder, page: ScanResult): void {
  e.mapHeader(2);
  e.raw(key.hasMore);
  e.boolean(page.hasMore);
  e.raw(key.events);
  writeEventArray(e, page);
}

/**
 * EAPPEND: `%6 +event_id +<uuid> +partition_key +<uuid> +partition_id :n +partition_sequence :n
 * +stream_version :n +timestamp :ms`.
 */
export function writeAppendResult(e: RespEncoder, r: AppendResult): void {
  e.mapHeader(6);
  e.raw(key.eventId);
  e.simpleString(r.eventId);
  e.raw(key.partitionKey);
  e.simpleString(r.partitionKey);
  e.raw(key.partitionId);
  e.integer(r.partitionId);
  e.raw(key.partitionSequence);
  e.integer(r.partitionSequence);
  e.raw(key.streamVersion);
  e.integer(r.streamVersion);
  e.raw(key.timestamp);
  e.integer(r.timestampMs);
}

/**
 * EMAPPEND: `%5 +partition_key +<uuid> +partition_id :n +first_partition_sequence :n +last_partition_sequence :n
 * +events *N`, each event `%4 +event_id +<uuid> +stream_id +<stream id as a SIMPLE string> +stream_version :n
 * +timestamp :ms`, in request order.
 */
export function writeMultiAppendResult(e: RespEncoder, r: MultiAppendResult): void {
  e.mapHeader(5);
  e.raw(key.partitionKey);
  e.simpleString(r.partitionKey);
  e.raw(key.partitionId);
  e.integer(r.partitionId);
  e.raw(key.firstPartitionSequence);
  e.integer(r.firstPartitionSequence);
  e.raw(key.lastPartitionSequence);
  e.integer(r.lastPartitionSequence);
  e.raw(key.events);
  e.arrayHeader(r.events.length);
  for (const ev of r.events) {
    e.mapHeader(4);
    e.raw(key.eventId);
    e.simpleString(ev.eventId);
    e.raw(key.streamId);
    e.simpleString(ev.streamId);
    e.raw(key.streamVersion);
    e.integer(ev.streamVersion);
    e.raw(key.timestamp);
    e.integer(ev.timestampMs);
  }
}
