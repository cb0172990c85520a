/**
 * ESCAN: a page of a stream's events by version.
 *
 *   ESCAN <stream_id> <start: - | n> <end: + | n> [PARTITION_KEY <uuid>] [COUNT <n>]
 *
 * The range is inclusive; `-` is version 0 and `+` the end of the stream (`+` as start and `-` as end are errors,
 * as in SierraDB). COUNT defaults to 100 and is capped at 10000. Reply: `%2 +has_more #t|#f +events *N <maps>`,
 * where has_more is exact (true only when another event in the range exists; SierraDB also says true when a page
 * ends exactly at COUNT). A stream that does not exist gives `has_more #f, events *0`.
 */
import { writeScanPage } from '../server/event-reply.ts';
import { OptionReader, SCAN_COUNT_DEFAULT, scanCountArg, scanEndArg, scanStartArg, utf8Arg, uuidArg } from './arguments.ts';
import type { CommandDescriptor, Reply } from './command.ts';

const OPTIONS: ReadonlySet<string> = new Set(['PARTITION_KEY', 'COUNT']);

export const escan: CommandDescriptor = {
  name: 'ESCAN',
  arity: -4,
  flags: ['readonly'],
  group: 'sierradb',
  since: '0.1.0',
  summary: "Returns a page of a stream's events in a version range.",
  syntax: 'ESCAN stream_id start end [PARTITION_KEY uuid] [COUNT n]',
  arguments: [
    { name: 'stream_id', type: 'key' },
    { name: 'start', type: 'string' },
    { name: 'end', type: 'string' },
    { name: 'partition_key', type: 'string', token: 'PARTITION_KEY', optional: true },
    { name: 'count', type: 'integer', token: 'COUNT', optional: true },
  ],
  examples: ['ESCAN user-123 - +', 'ESCAN user-123 10 + COUNT 50'],
  execute(ctx, args): Promise<Reply> {
    const streamId = utf8Arg(args[0], 'stream id');
    const start = scanStartArg(args[1], 'version');
    const end = scanEndArg(args[2], 'version');
    let partitionKey: Uint8Array | undefined;
    let count = SCAN_COUNT_DEFAULT;
    const options = new OptionReader(args, 3);
    while (!options.done) {
      const { name, value } = options.next(OPTIONS);
      if (name === 'PARTITION_KEY') partitionKey = uuidArg(value, 'PARTITION_KEY');
      else count = scanCountArg(value);
    }
    return ctx.db.scanStreamRaw(streamId, start, end, count, partitionKey, { resp: ctx.connection.protocol }).then((page): Reply => (e) => writeScanPage(e, page));
  },
};
