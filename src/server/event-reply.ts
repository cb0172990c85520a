/**
 * Reply writers for events and append results, byte for byte as SierraDB's (reference §1.4, §1.5). The `%11`
 * event map itself is written by src/protocol/event-map.ts (shared with subscriptions and the read workers).
 */
import type { AppendReceipt, MultiAppendResult } from '../database.ts';
import { forEachRecord, type RecordBatch, type ScanResult } from '../engine/store-reader.ts';
import type { RespEncoder } from '../protocol/resp-encoder.ts';
import { key, writeEventMap } from '../protocol/event-map.ts';

export { writeEventMap };

/** `*N` and the N event maps of a batch. */
export function writeEventArray(e: RespEncoder, batch: RecordBatch): void {
  e.arrayHeader(batch.count);
  forEachRecord(batch, (buf, at) => writeEventMap(e, buf, at));
}

/** EGET: the event map, or null (`_`, RESP2 `$-1`) when there is no such event. */
export function writeEventOrNull(e: RespEncoder, batch: RecordBatch): void {
  if (batch.count === 0) e.null();
  else if (batch.resp !== undefined) e.raw(batch.resp);
  else writeEventMap(e, batch.records, 0);
}

/** ESCAN / EPSCAN: `%2 +has_more #t|#f +events *N <maps>`. */
export function writeScanPage(e: RespEncoder, page: ScanResult): void {
  e.mapHeader(2);
  e.raw(key.hasMore);
  e.boolean(page.hasMore);
  e.raw(key.events);
  // Encoded by the read worker when the command asked for it (`*N` and the maps): copied as they are.
  if (page.resp !== undefined) e.raw(page.resp);
  else if (page.parts !== undefined) {
    // From the StreamMapCache: the maps one by one.
    e.arrayHeader(page.parts.length);
    for (const map of page.parts) e.raw(map);
  } else writeEventArray(e, page);
}

/**
 * EAPPEND: `%6 +event_id +<uuid> +partition_key +<uuid> +partition_id :n +partition_sequence :n
 * +stream_version :n +timestamp :ms`, written from the receipt's bytes (no UUID text is made).
 */
export function writeAppendReceipt(e: RespEncoder, r: AppendReceipt): void {
  writeAppendReply(e, r.event.eventId, 0, r.partitionKey, 0, r.partitionId, r.partitionSequence, r.streamVersion, r.event.timestampMs);
}

/** The EAPPEND reply from its fields, the event id at `eventId[eventIdAt..]` and the key at `partitionKey[keyAt..]`. */
export function writeAppendReply(
  e: RespEncoder,
  eventId: Uint8Array,
  eventIdAt: number,
  partitionKey: Uint8Array,
  keyAt: number,
  partitionId: number,
  partitionSequence: number,
  streamVersion: number,
  timestampMs: number,
): void {
  e.mapHeader(6);
  e.raw(key.eventId);
  e.uuidSimple(eventId, eventIdAt);
  e.raw(key.partitionKey);
  e.uuidSimple(partitionKey, keyAt);
  e.raw(key.partitionId);
  e.integer(partitionId);
  e.raw(key.partitionSequence);
  e.integer(partitionSequence);
  e.raw(key.streamVersion);
  e.integer(streamVersion);
  e.raw(key.timestamp);
  e.integer(timestampMs);
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
