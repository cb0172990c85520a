/**
 * EMAPPEND: append events to one or more streams of one partition, atomically (all of them or none).
 *
 *   EMAPPEND <partition_key> <stream_id> <event_name> [EVENT_ID <uuid>] [EXPECTED_VERSION <v>] [TIMESTAMP <ms>]
 *            [PAYLOAD <bytes>] [METADATA <bytes>] [<stream_id> <event_name> [options]]...
 *
 * An event's options run until the next argument that is not one of its option names, which starts the next
 * event (so, as in SierraDB, a stream cannot be named PAYLOAD). There is no per-event PARTITION_KEY: every event
 * goes to the partition of `partition_key`. Events without TIMESTAMP share one `now`.
 *
 * Reply: %5 +partition_key +<uuid> +partition_id :n +first_partition_sequence :n +last_partition_sequence :n
 *        +events *N of %4 +event_id +<uuid> +stream_id +<id> +stream_version :n +timestamp :ms (request order)
 */
import type { MultiAppendEvent } from '../database.ts';
import { writeMultiAppendResult } from '../server/event-reply.ts';
import { invalidArg, OptionReader, utf8Arg, uuidArg } from './arguments.ts';
import type { CommandDescriptor, Reply } from './command.ts';
import { EVENT_OPTION_ARGUMENTS, readEventOption } from './eappend.ts';

const OPTIONS: ReadonlySet<string> = new Set(['EVENT_ID', 'EXPECTED_VERSION', 'TIMESTAMP', 'PAYLOAD', 'METADATA']);

export const emappend: CommandDescriptor = {
  name: 'EMAPPEND',
  arity: -4,
  flags: ['write'],
  group: 'sierradb',
  since: '0.1.0',
  summary: 'Appends events to streams of one partition atomically; replies once they are durable.',
  syntax:
    'EMAPPEND partition_key stream_id event_name [EVENT_ID uuid] [EXPECTED_VERSION v] [TIMESTAMP ms] [PAYLOAD bytes] [METADATA bytes] [stream_id event_name [options] ...]',
  arguments: [
    { name: 'partition_key', type: 'string' },
    {
      name: 'event',
      type: 'block',
      multiple: true,
      arguments: [
        { name: 'stream_id', type: 'key' },
        { name: 'event_name', type: 'string' },
        ...EVENT_OPTION_ARGUMENTS.filter((a) => a.token !== 'PARTITION_KEY'),
      ],
    },
  ],
  examples: [
    'EMAPPEND 7e124fe8-fe28-5398-bb95-53973100148f user-123 UserRenamed PAYLOAD \'{"name":"jo"}\' user-123-audit Renamed EXPECTED_VERSION empty',
  ],
  execute(ctx, args): Promise<Reply> {
    const partitionKey = uuidArg(args[0], 'partition key');
    const events: MultiAppendEvent[] = [];
    const options = new OptionReader(args, 1);
    while (!options.done) {
      if (options.index + 1 >= args.length) throw invalidArg('each event needs a stream id and an event name');
      const event: MultiAppendEvent = {
        streamId: utf8Arg(args[options.index], 'stream id'),
        eventName: utf8Arg(args[options.index + 1], 'event name'),
      };
      options.skip(2);
      options.resetSeen();
      while (!options.done && OPTIONS.has(options.peekKeyword())) {
        const { name, value } = options.next(OPTIONS);
        readEventOption(event, name, value);
      }
      events.push(event);
    }
    return ctx.db.appendMulti(partitionKey, events).then((r): Reply => (e) => writeMultiAppendResult(e, r));
  },
};
