/**
 * The typed shapes of the server's replies, and their decoding from parsed RESP values. Field names are the wire
 * names in camelCase (`partition_sequence` → `partitionSequence`); timestamps are milliseconds. Maps are accepted as
 * RESP3 maps or, after `HELLO 2`, as RESP2's flattened arrays.
 */
import type { EventRecord } from '../database.ts';
import { ReplyError } from '../protocol/reply-error.ts';
import { replyMapToObject, type RespValue } from '../protocol/resp-reply-parser.ts';

/** An event as every read returns it: the same shape as the embedded API's (only the type is shared). */
export type Event = EventRecord;

export interface AppendResult {
  eventId: string;
  partitionKey: string;
  partitionId: number;
  partitionSequence: number;
  streamVersion: number;
  timestampMs: number;
}

export interface MultiAppendResult {
  partitionKey: string;
  partitionId: number;
  firstPartitionSequence: number;
  lastPartitionSequence: number;
  events: { eventId: string; streamId: string; streamVersion: number; timestampMs: number }[];
}

export interface ScanPage {
  hasMore: boolean;
  events: Event[];
}

/** HELLO's reply, with the fields this project's server sends (others kept in `raw`). */
export interface HelloInfo {
  server: string;
  version: string;
  proto: number | undefined;
  peerId: string | undefined;
  numPartitions: number | undefined;
  raw: Record<string, RespValue>;
}

/** The server answered with something this client does not understand. */
export class UnexpectedReplyError extends Error {
  constructor(what: string, value: RespValue) {
    super(`unexpected reply for ${what}: ${describe(value)}`);
    this.name = 'UnexpectedReplyError';
  }
}

function describe(value: RespValue): string {
  if (Buffer.isBuffer(value)) return `blob '${value.toString('utf8').slice(0, 80)}'`;
  if (value instanceof Map) return `map of ${value.size}`;
  if (Array.isArray(value)) return `array of ${value.length}`;
  if (value instanceof ReplyError) return `error '${value.toString()}'`;
  return `${typeof value} ${String(value).slice(0, 80)}`;
}

/** A map reply (RESP3 map, or RESP2 flat array) as an object keyed by text. */
export function asRecord(value: RespValue, what: string): Record<string, RespValue> {
  if (value instanceof Map) return replyMapToObject(value);
  if (Array.isArray(value) && value.length % 2 === 0) {
    const m = new Map<RespValue, RespValue>();
    for (let i = 0; i < value.length; i += 2) m.set(value[i], value[i + 1]);
    return replyMapToObject(m);
  }
  throw new UnexpectedReplyError(what, value);
}

export function asText(value: RespValue, what: string): string {
  if (typeof value === 'string') return value;
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  throw new UnexpectedReplyError(what, value);
}

export function asInteger(value: RespValue, what: string): number {
  if (typeof value === 'number' && Number.isSafeInteger(value)) return value;
  throw new UnexpectedReplyError(what, value);
}

export function asBoolean(value: RespValue, what: string): boolean {
  if (typeof value === 'boolean') return value;
  if (value === 0 || value === 1) return value === 1; // RESP2
  throw new UnexpectedReplyError(what, value);
}

function asBytes(value: RespValue, what: string): Buffer {
  if (Buffer.isBuffer(value)) return value;
  if (typeof value === 'string') return Buffer.from(value, 'utf8');
  throw new UnexpectedReplyError(what, value);
}

export function decodeEvent(value: RespValue): Event {
  const m = asRecord(value, 'an event');
  return {
    eventId: asText(m.event_id, 'event_id'),
    partitionKey: asText(m.partition_key, 'partition_key'),
    partitionId: asInteger(m.partition_id, 'partition_id'),
    transactionId: asText(m.transaction_id, 'transaction_id'),
    partitionSequence: asInteger(m.partition_sequence, 'partition_sequence'),
    streamVersion: asInteger(m.stream_version, 'stream_version'),
    timestampMs: asInteger(m.timestamp, 'timestamp'),
    streamId: asText(m.stream_id, 'stream_id'),
    eventName: asText(m.event_name, 'event_name'),
    metadata: asBytes(m.metadata, 'metadata'),
    payload: asBytes(m.payload, 'payload'),
  };
}

export function decodeAppendResult(value: RespValue): AppendResult {
  const m = asRecord(value, 'EAPPEND');
  return {
    eventId: asText(m.event_id, 'event_id'),
    partitionKey: asText(m.partition_key, 'partition_key'),
    partitionId: asInteger(m.partition_id, 'partition_id'),
    partitionSequence: asInteger(m.partition_sequence, 'partition_sequence'),
    streamVersion: asInteger(m.stream_version, 'stream_version'),
    timestampMs: asInteger(m.timestamp, 'timestamp'),
  };
}

export function decodeMultiAppendResult(value: RespValue): MultiAppendResult {
  const m = asRecord(value, 'EMAPPEND');
  const events = m.events;
  if (!Array.isArray(events)) throw new UnexpectedReplyError('EMAPPEND events', events);
  return {
    partitionKey: asText(m.partition_key, 'partition_key'),
    partitionId: asInteger(m.partition_id, 'partition_id'),
    firstPartitionSequence: asInteger(m.first_partition_sequence, 'first_partition_sequence'),
    lastPartitionSequence: asInteger(m.last_partition_sequence, 'last_partition_sequence'),
    events: events.map((e) => {
      const r = asRecord(e, 'an EMAPPEND event');
      return {
        eventId: asText(r.event_id, 'event_id'),
        streamId: asText(r.stream_id, 'stream_id'),
        streamVersion: asInteger(r.stream_version, 'stream_version'),
        timestampMs: asInteger(r.timestamp, 'timestamp'),
      };
    }),
  };
}

export function decodeScanPage(value: RespValue, what: string): ScanPage {
  const m = asRecord(value, what);
  const events = m.events;
  if (!Array.isArray(events)) throw new UnexpectedReplyError(`${what} events`, events);
  return { hasMore: asBoolean(m.has_more, 'has_more'), events: events.map(decodeEvent) };
}

export function decodeOptionalInteger(value: RespValue, what: string): number | null {
  return value === null ? null : asInteger(value, what);
}

export function decodeHello(value: RespValue): HelloInfo {
  const raw = asRecord(value, 'HELLO');
  const optionalInteger = (v: RespValue) => (typeof v === 'number' ? v : undefined);
  return {
    server: asText(raw.server, 'server'),
    version: asText(raw.version, 'version'),
    proto: optionalInteger(raw.proto),
    peerId: raw.peer_id === undefined ? undefined : asText(raw.peer_id, 'peer_id'),
    numPartitions: optionalInteger(raw.num_partitions),
    raw,
  };
}
