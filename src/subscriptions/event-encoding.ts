/**
 * An event record (raw bytes as the store reader returns them) as SierraDB's event map in bytes that every
 * subscriber sending the event can share (written by the server's `writeEventMap`), or as JSON for the
 * `SUBSCRIBE` live tail.
 *
 * The map (reference §1.4), eleven entries in this order, keys as simple strings (SierraDB's Rust client skips
 * any other kind of key):
 *
 *   key                  value
 *   +event_id            +<uuid>
 *   +partition_key       +<uuid>
 *   +partition_id        :<u16>
 *   +transaction_id      +<uuid>
 *   +partition_sequence  :<n>
 *   +stream_version      :<n>
 *   +timestamp           :<ms>
 *   +stream_id           $<bytes>
 *   +event_name          $<bytes>
 *   +metadata            $<bytes>   (empty is `$0`, never null)
 *   +payload             $<bytes>
 *
 * RESP2 flattens the map into an array of 22 elements (`mapHeader` decides).
 *
 * The JSON form, one object per event (payload and metadata as UTF-8 text when they are valid UTF-8, otherwise as
 * base64 under `payload_base64` / `metadata_base64`, so a binary payload survives the trip):
 *
 *   {"event_id":"…","partition_key":"…","partition_id":21,"transaction_id":"…","partition_sequence":0,
 *    "stream_version":0,"timestamp":1700000000000,"stream_id":"user-123","event_name":"UserRegistered",
 *    "metadata":"","payload":"{\"n\":0}"}
 */
import { isUtf8 } from 'node:buffer';
import { EVENT_BODY_FIXED_BYTES, RECORD_HEADER_BYTES, eventRecordField } from '../../native-free-io/segment-format.ts';
import { formatUuid } from '../ids/partition-key.ts';
import { RespEncoder, type RespProtocol } from '../protocol/resp-encoder.ts';
import { writeEventMap } from '../server/event-reply.ts';

/** The variable-length parts of an event record, as views into the record. */
function variableParts(buf: Buffer, at: number): { streamId: Buffer; eventName: Buffer; metadata: Buffer; payload: Buffer } {
  const body = at + RECORD_HEADER_BYTES;
  const streamIdLength = buf[body + 74];
  const eventNameLength = buf[body + 75];
  const metadataLength = buf.readUInt32LE(body + 76);
  const payloadLength = buf.readUInt32LE(body + 80);
  let p = body + EVENT_BODY_FIXED_BYTES;
  const streamId = buf.subarray(p, p + streamIdLength);
  p += streamIdLength;
  const eventName = buf.subarray(p, p + eventNameLength);
  p += eventNameLength;
  const metadata = buf.subarray(p, p + metadataLength);
  p += metadataLength;
  const payload = buf.subarray(p, p + payloadLength);
  return { streamId, eventName, metadata, payload };
}

const encoders: Record<RespProtocol, RespEncoder> = {
  2: new RespEncoder({ protocol: 2 }),
  3: new RespEncoder({ protocol: 3 }),
};

/**
 * The event map as bytes in `protocol`, to be shared by every subscriber that sends this event. The bytes are a
 * view of an encoder slab that later writes never touch.
 */
export function eventMapBytes(buf: Buffer, at: number, protocol: RespProtocol): Buffer {
  const encoder = encoders[protocol];
  writeEventMap(encoder, buf, at);
  return encoder.take();
}

/** The event as one line of JSON (see the module comment for the shape). */
export function eventJson(buf: Buffer, at: number): string {
  const f = eventRecordField;
  const v = variableParts(buf, at);
  const out: Record<string, string | number> = {
    event_id: formatUuid(f.eventId(buf, at)),
    partition_key: formatUuid(f.partitionKey(buf, at)),
    partition_id: f.partitionId(buf, at),
    transaction_id: formatUuid(f.transactionId(buf, at)),
    partition_sequence: f.partitionSequence(buf, at),
    stream_version: f.streamVersion(buf, at),
    timestamp: f.timestampMs(buf, at),
    stream_id: v.streamId.toString('utf8'),
    event_name: v.eventName.toString('utf8'),
  };
  putBytes(out, 'metadata', v.metadata);
  putBytes(out, 'payload', v.payload);
  return JSON.stringify(out);
}

function putBytes(out: Record<string, string | number>, name: string, bytes: Buffer): void {
  if (isUtf8(bytes)) out[name] = bytes.toString('utf8');
  else out[`${name}_base64`] = bytes.toString('base64');
}
