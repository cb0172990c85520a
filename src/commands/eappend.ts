/**
 * EAPPEND: append one event to a stream.
 *
 *   EAPPEND <stream_id> <event_name> [EVENT_ID <uuid>] [PARTITION_KEY <uuid>]
 *           [EXPECTED_VERSION <n|any|exists|empty>] [TIMESTAMP <ms>] [PAYLOAD <bytes>] [METADATA <bytes>]
 *
 * Options come in any order, each at most once (SierraDB misses some repeats; we do not). Defaults: the partition
 * key derived from the stream id, a generated event id embedding the partition hash, now, empty payload and
 * metadata, and EXPECTED_VERSION any (rejected when `append.strict_versioning` is on, as SierraDB's strict mode).
 * Any UUID is a valid EVENT_ID here (shared/README, difference 2).
 *
 * Reply, sent once the event is fdatasynced:
 *   %6 +event_id +<uuid> +partition_key +<uuid> +partition_id :n +partition_sequence :n +stream_version :n
 *      +timestamp :ms
 */
import type { AppendOptions } from '../database.ts';
import { expectedKindOf } from '../engine/expected-version.ts';
import { InPlaceAppend } from '../engine/in-place-append.ts';
import type { RequestArguments } from '../protocol/request-arguments.ts';
import { writeAppendReceipt } from '../server/event-reply.ts';
import { expectedVersionArg, expectedVersionAt, OptionReader, u64Arg, u64At, uuidArg, uuidAt } from './arguments.ts';
import type { ArgumentSpec, CommandDescriptor, PendingReply } from './command.ts';
import { keywordTextAt } from './keyword-text.ts';

const OPTIONS: ReadonlySet<string> = new Set(['EVENT_ID', 'PARTITION_KEY', 'EXPECTED_VERSION', 'TIMESTAMP', 'PAYLOAD', 'METADATA']);

/** One event's options, shared with EMAPPEND (which has no PARTITION_KEY per event). */
export function readEventOption(o: AppendOptions, name: string, value: Buffer): void {
  switch (name) {
    case 'EVENT_ID':
      o.eventId = uuidArg(value, 'EVENT_ID');
      break;
    case 'PARTITION_KEY':
      o.partitionKey = uuidArg(value, 'PARTITION_KEY');
      break;
    case 'EXPECTED_VERSION':
      o.expectedVersion = expectedVersionArg(value);
      break;
    case 'TIMESTAMP':
      o.timestampMs = u64Arg(value, 'TIMESTAMP');
      break;
    case 'PAYLOAD':
      o.payload = value;
      break;
    case 'METADATA':
      o.metadata = value;
      break;
  }
}

/** The append being read in place: one for the thread, since executeInPlace runs to its end before the next. */
const inPlace = new InPlaceAppend();

/**
 * Option i of `r` (its value at i + 1) into `o`, for the in-place path: the option's bit (each option once), or 0
 * when it is not one this path takes as it is (unknown, or a value the generic path must judge and word the
 * error for). Payload and metadata stay ranges of the request; the rest are small values.
 */
function readInPlaceOption(o: InPlaceAppend, r: RequestArguments, i: number): number {
  const buffer = r.buffers[i + 1];
  const start = r.starts[i + 1];
  const end = r.ends[i + 1];
  switch (keywordTextAt(r.buffers[i], r.starts[i], r.ends[i])) {
    case 'PAYLOAD':
      o.payload.setArgument(r, i + 1);
      return 1;
    case 'METADATA':
      o.metadata.setArgument(r, i + 1);
      return 2;
    case 'EXPECTED_VERSION': {
      const v = expectedVersionAt(buffer, start, end);
      if (v === undefined) return 0;
      o.expectedKind = expectedKindOf(v);
      o.expectedVersion = typeof v === 'number' ? v : 0;
      return 4;
    }
    case 'TIMESTAMP': {
      const ms = u64At(buffer, start, end);
      if (ms === undefined) return 0;
      o.givenTimestampMs = ms; // past TIMESTAMP_MS_MAX, prepareAppendInPlace leaves it to the generic path
      return 8;
    }
    case 'EVENT_ID':
      o.eventId = uuidAt(buffer, start, end);
      return o.eventId === undefined ? 0 : 16;
    case 'PARTITION_KEY':
      o.givenPartitionKey = uuidAt(buffer, start, end);
      return o.givenPartitionKey === undefined ? 0 : 32;
    default:
      return 0;
  }
}

/** The per-event options in COMMAND DOCS terms (EMAPPEND reuses all but PARTITION_KEY). */
export const EVENT_OPTION_ARGUMENTS: ArgumentSpec[] = [
  { name: 'event_id', type: 'string', token: 'EVENT_ID', optional: true },
  { name: 'partition_key', type: 'string', token: 'PARTITION_KEY', optional: true },
  { name: 'expected_version', type: 'string', token: 'EXPECTED_VERSION', optional: true },
  { name: 'timestamp', type: 'integer', token: 'TIMESTAMP', optional: true },
  { name: 'payload', type: 'string', token: 'PAYLOAD', optional: true },
  { name: 'metadata', type: 'string', token: 'METADATA', optional: true },
];

export const eappend: CommandDescriptor = {
  name: 'EAPPEND',
  arity: -3,
  flags: ['write'],
  group: 'sierradb',
  since: '0.1.0',
  summary: 'Appends an event to a stream; replies once it is durable.',
  syntax:
    'EAPPEND stream_id event_name [EVENT_ID uuid] [PARTITION_KEY uuid] [EXPECTED_VERSION n|any|exists|empty] [TIMESTAMP ms] [PAYLOAD bytes] [METADATA bytes]',
  arguments: [{ name: 'stream_id', type: 'key' }, { name: 'event_name', type: 'string' }, ...EVENT_OPTION_ARGUMENTS],
  examples: [
    `EAPPEND user-123 UserRegistered PAYLOAD '{"name":"john"}'`,
    `EAPPEND user-123 UserRenamed EXPECTED_VERSION 0 PAYLOAD '{"name":"jo"}' METADATA '{"by":"admin"}'`,
  ],
  execute(ctx, args): PendingReply {
    const o: AppendOptions = {};
    const options = new OptionReader(args, 2);
    while (!options.done) {
      const { name, value } = options.next(OPTIONS);
      readEventOption(o, name, value);
    }
    // The stream id and event name go down as the bytes received (the database checks they are UTF-8).
    const reply = ctx.connection.later();
    ctx.db.appendWith(args[0], args[1], o, (error, receipt) => {
      if (receipt === undefined) reply.reject(error);
      else reply.resolve(writeAppendReceipt, receipt);
    });
    return reply;
  },
  executeInPlace(ctx, r): PendingReply | undefined {
    const o = inPlace;
    o.reset();
    o.streamId.setArgument(r, 1);
    o.eventName.setArgument(r, 2);
    let seen = 0;
    for (let i = 3; i < r.count; i += 2) {
      if (i + 1 >= r.count) return undefined;
      const bit = readInPlaceOption(o, r, i);
      if (bit === 0 || (seen & bit) !== 0) return undefined;
      seen |= bit;
    }
    if (!ctx.db.prepareAppendInPlace(o)) return undefined;
    const reply = ctx.connection.laterAppend();
    ctx.db.submitAppendInPlace(o, reply);
    return reply;
  },
};
