/**
 * ESVER: a stream's current version (the version of its last event).
 *
 *   ESVER <stream_id> [PARTITION_KEY <uuid>]
 *
 * Reply: `:n`, or `_` (null) when the stream has no events.
 */
import { OptionReader, utf8Arg, uuidArg } from './arguments.ts';
import type { CommandDescriptor, Reply } from './command.ts';

const OPTIONS: ReadonlySet<string> = new Set(['PARTITION_KEY']);

export const esver: CommandDescriptor = {
  name: 'ESVER',
  arity: -2,
  flags: ['readonly', 'fast'],
  group: 'sierradb',
  since: '0.1.0',
  summary: "Returns a stream's current version, or null when it has no events.",
  syntax: 'ESVER stream_id [PARTITION_KEY uuid]',
  arguments: [
    { name: 'stream_id', type: 'key' },
    { name: 'partition_key', type: 'string', token: 'PARTITION_KEY', optional: true },
  ],
  examples: ['ESVER user-123'],
  execute(ctx, args): Promise<Reply> {
    const streamId = utf8Arg(args[0], 'stream id');
    let partitionKey: Uint8Array | undefined;
    const options = new OptionReader(args, 1);
    while (!options.done) partitionKey = uuidArg(options.next(OPTIONS).value, 'PARTITION_KEY');
    return ctx.db.streamVersion(streamId, { partitionKey }).then(
      (v): Reply =>
        (e) => {
          if (v === undefined) e.null();
          else e.integer(v);
        },
    );
  },
};
