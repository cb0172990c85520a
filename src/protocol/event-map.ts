/**
 * An event record as SierraDB's `%11` event map (reference §1.4), written straight from the raw record bytes: the
 * fixed fields are read at their offsets in the event body and the variable ones copied as blobs. Keys are SIMPLE
 * strings (SierraDB's Rust client skips map keys that are not), UUIDs simple strings, the four byte fields blobs:
 *
 *   %11  +event_id +<uuid>  +partition_key +<uuid>  +partition_id :<n>  +transaction_id +<uuid>
 *        +partition_sequence :<n>  +stream_version :<n>  +timestamp :<ms>
 *        +stream_id $<bytes>  +event_name $<bytes>  +metadata $<bytes> (empty is $0)  +payload $<bytes>
 *
 * In RESP2 the map header becomes `*22` and everything else is the same. Used by the server (replies), the
 * subscriptions (pushes) and the read workers (which encode scan results off the main thread).
 */
import { EVENT_BODY_FIXED_BYTES, RECORD_HEADER_BYTES } from '../../native-free-io/segment-format.ts';
import { readU64 } from '../../native-free-io/u64.ts';
import { encodeSimpleString, RespEncoder, type RespProtocol } from './resp-encoder.ts';

/** Map keys, encoded once (`+key\r\n`, the same in RESP2 and RESP3). */
export const key = {
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

/** A little-endian u32 at `buf[at..]` (inline: Buffer#readUInt32LE checks bounds on every call). */
function u32(buf: Buffer, at: number): number {
  return (buf[at] | (buf[at + 1] << 8) | (buf[at + 2] << 16)) + buf[at + 3] * 0x1000000;
}

/** Writes the `%11` event map of the event record at `buf[at..]` (a record accepted by the reader). */
export function writeEventMap(e: RespEncoder, buf: Buffer, at: number): void {
  const body = at + RECORD_HEADER_BYTES;
  const streamIdLength = buf[body + 74];
  const eventNameLength = buf[body + 75];
  const metadataLength = u32(buf, body + 76);
  const payloadLength = u32(buf, body + 80);
  e.mapHeader(11);
  e.raw(key.eventId);
  e.uuidSimple(buf, body);
  e.raw(key.partitionKey);
  e.uuidSimple(buf, body + 16);
  e.raw(key.partitionId);
  e.integer(buf[body + 72] | (buf[body + 73] << 8));
  e.raw(key.transactionId);
  e.uuidSimple(buf, body + 32);
  e.raw(key.partitionSequence);
  e.integer(readU64(buf, body + 48));
  e.raw(key.streamVersion);
  e.integer(readU64(buf, body + 56));
  e.raw(key.timestamp);
  e.integer(readU64(buf, body + 64));
  let p = body + EVENT_BODY_FIXED_BYTES;
  e.raw(key.streamId);
  e.bulkStringRange(buf, p, p + streamIdLength);
  p += streamIdLength;
  e.raw(key.eventName);
  e.bulkStringRange(buf, p, p + eventNameLength);
  p += eventNameLength;
  e.raw(key.metadata);
  e.bulkStringRange(buf, p, p + metadataLength);
  p += metadataLength;
  e.raw(key.payload);
  e.bulkStringRange(buf, p, p + payloadLength);
}


/**
 * The event maps of raw records (back to back, `count` of them), preceded by `*N` when `array` is set, encoded in
 * `protocol` into a buffer of its own (transferable between threads), after `headBytes` of free room. With
 * `bounds` (count + 1 entries), where each map starts in the RESP bytes (after the room) and, last, where they end.
 */
export function encodeEvents(records: Buffer, count: number, protocol: RespProtocol, array: boolean, headBytes = 0, bounds?: Uint32Array): Buffer {
  const e = new RespEncoder({ protocol, slabBytes: Math.max(4096, records.length * 2 + 64) });
  if (array) e.arrayHeader(count);
  let at = 0;
  for (let i = 0; i < count; i++) {
    if (bounds !== undefined) bounds[i] = e.length;
    writeEventMap(e, records, at);
    at += RECORD_HEADER_BYTES + records.readUInt32LE(at + 8);
  }
  if (bounds !== undefined) bounds[count] = e.length;
  const bytes = e.take();
  const out = Buffer.allocUnsafeSlow(headBytes + bytes.length);
  bytes.copy(out, headBytes);
  return out;
}
