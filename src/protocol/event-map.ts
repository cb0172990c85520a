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
import { encodeSimpleString, RespEncoder, writeDigits, writeUuidText, type RespProtocol } from './resp-encoder.ts';

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

/**
 * The map's fixed text between its values, each piece once: the key of the next entry between the CR LF that ends
 * a value and the type byte that starts the next one. Same in RESP2 and RESP3 but for the header.
 */
const piece = (text: string) => Buffer.from(text, 'latin1');
const P = {
  head3: piece('%11\r\n+event_id\r\n+'),
  head2: piece('*22\r\n+event_id\r\n+'),
  partitionKey: piece('\r\n+partition_key\r\n+'),
  partitionId: piece('\r\n+partition_id\r\n:'),
  transactionId: piece('\r\n+transaction_id\r\n+'),
  partitionSequence: piece('\r\n+partition_sequence\r\n:'),
  streamVersion: piece('\r\n+stream_version\r\n:'),
  timestamp: piece('\r\n+timestamp\r\n:'),
  streamId: piece('\r\n+stream_id\r\n$'),
  eventName: piece('\r\n+event_name\r\n$'),
  metadata: piece('\r\n+metadata\r\n$'),
  payload: piece('\r\n+payload\r\n$'),
  end: piece('\r\n'),
};
/** Bytes of a map besides its four blobs: the pieces, three UUIDs, four integers of up to 20 digits, four lengths. */
const MAP_FIXED_BYTES_MAX = Object.values(P).reduce((n, b) => n + b.length, 0) + 3 * 36 + 4 * 20 + 4 * (10 + 2);

function put(out: Buffer, p: number, bytes: Buffer): number {
  const n = bytes.length;
  if (n > 16) out.set(bytes, p);
  else for (let k = 0; k < n; k++) out[p + k] = bytes[k];
  return p + n;
}

/** The decimal digits of `n`, a non-negative safe integer. */
function putUint(out: Buffer, p: number, n: number): number {
  if (n < 1e9) return writeDigits(out, p, n);
  // Above 1e9: the high part, then the low nine digits zero-padded, all in 32-bit integer arithmetic.
  const high = Math.floor(n / 1e9);
  p = putUint(out, p, high);
  let low = n - high * 1e9;
  for (let k = p + 8; k >= p; k--) {
    const q = (low / 10) | 0;
    out[k] = 48 + (low - q * 10);
    low = q;
  }
  return p + 9;
}

function putBlob(out: Buffer, p: number, src: Buffer, start: number, length: number): number {
  p = putUint(out, p, length);
  out[p] = 13;
  out[p + 1] = 10;
  p += 2;
  if (length <= 32) for (let k = 0; k < length; k++) out[p + k] = src[start + k];
  else src.copy(out, p, start, start + length);
  return p + length;
}

/** Writes the `%11` event map of the event record at `buf[at..]` (a record accepted by the reader). */
export function writeEventMap(e: RespEncoder, buf: Buffer, at: number): void {
  const body = at + RECORD_HEADER_BYTES;
  const streamIdLength = buf[body + 74];
  const eventNameLength = buf[body + 75];
  const metadataLength = u32(buf, body + 76);
  const payloadLength = u32(buf, body + 80);
  // Straight into the encoder's slab: one bounds check for the whole map instead of one per value.
  let p = e.reserveDirect(MAP_FIXED_BYTES_MAX + streamIdLength + eventNameLength + metadataLength + payloadLength);
  const out = e.slab;
  p = put(out, p, e.protocol === 3 ? P.head3 : P.head2);
  p = writeUuidText(out, p, buf, body);
  p = put(out, p, P.partitionKey);
  p = writeUuidText(out, p, buf, body + 16);
  p = put(out, p, P.partitionId);
  p = putUint(out, p, buf[body + 72] | (buf[body + 73] << 8));
  p = put(out, p, P.transactionId);
  p = writeUuidText(out, p, buf, body + 32);
  p = put(out, p, P.partitionSequence);
  p = putUint(out, p, readU64(buf, body + 48));
  p = put(out, p, P.streamVersion);
  p = putUint(out, p, readU64(buf, body + 56));
  p = put(out, p, P.timestamp);
  p = putUint(out, p, readU64(buf, body + 64));
  let v = body + EVENT_BODY_FIXED_BYTES;
  p = put(out, p, P.streamId);
  p = putBlob(out, p, buf, v, streamIdLength);
  v += streamIdLength;
  p = put(out, p, P.eventName);
  p = putBlob(out, p, buf, v, eventNameLength);
  v += eventNameLength;
  p = put(out, p, P.metadata);
  p = putBlob(out, p, buf, v, metadataLength);
  v += metadataLength;
  p = put(out, p, P.payload);
  p = putBlob(out, p, buf, v, payloadLength);
  e.wroteTo(put(out, p, P.end));
}


/**
 * The event maps of raw records (back to back, `count` of them), preceded by `*N` when `array` is set, encoded in
 * `protocol` into a buffer of its own (transferable between threads), after `headBytes` of free room. With
 * `bounds` (count + 1 entries), where each map starts in the RESP bytes (after the room) and, last, where they end.
 */
export function encodeEvents(records: Buffer, count: number, protocol: RespProtocol, array: boolean, headBytes = 0, bounds?: Uint32Array): Buffer {
  const e = new RespEncoder({ protocol, slabBytes: Math.max(4096, records.length * 2 + 64) });
  if (array) e.arrayHeader(count);
  writeEventMaps(e, records, count, bounds);
  const bytes = e.take();
  const out = Buffer.allocUnsafeSlow(headBytes + bytes.length);
  bytes.copy(out, headBytes);
  return out;
}

/**
 * Writes the maps of `count` raw records (back to back) to `e`; with `bounds` (count + 1 entries), where each map
 * starts in what `e` holds since its last take() and, last, where they end.
 */
export function writeEventMaps(e: RespEncoder, records: Buffer, count: number, bounds?: Uint32Array): void {
  let at = 0;
  for (let i = 0; i < count; i++) {
    if (bounds !== undefined) bounds[i] = e.length;
    writeEventMap(e, records, at);
    at += RECORD_HEADER_BYTES + records.readUInt32LE(at + 8);
  }
  if (bounds !== undefined) bounds[count] = e.length;
}
