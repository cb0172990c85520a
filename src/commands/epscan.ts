/**
 * EPSCAN: a page of a partition's events by partition sequence.
 *
 *   EPSCAN <partition: id | uuid key> <start: - | n> <end: + | n> [COUNT <n>]
 *
 * The partition is a UUID partition key (hashed to its partition) or a partition id; an id at or above
 * partition.count gets `-CLUSTERDOWN partition unavailable`. Range, COUNT and reply as ESCAN:
 * `%2 +has_more #t|#f +events *N <maps>`.
 */
import { writeScanPage } from '../server/event-reply.ts';
import { OptionReader, partitionArg, SCAN_COUNT_DEFAULT, scanCountArg, scanEndArg, scanStartArg } from './arguments.ts';
import type { CommandDescriptor, Reply } from './command.ts';

const OPTIONS: ReadonlySet<string> = new Set(['COUNT']);

export const epscan: CommandDescriptor = {
  name: 'EPSCAN',
  arity: -4,
  flags: ['readonly'],
  group: 'sierradb',
  since: '0.1.0',
  summary: "Returns a page of a partition's events in a sequence range.",
  syntax: 'EPSCAN partition start end [COUNT n]',
  arguments: [
    { name: 'partition', type: 'string' },
    { name: 'start', type: 'string' },
    { name: 'end', type: 'string' },
    { name: 'count', type: 'integer', token: 'COUNT', optional: true },
  ],
  examples: ['EPSCAN 21 - +', 'EPSCAN 7e124fe8-fe28-5398-bb95-53973100148f 100 200 COUNT 10'],
  execute(ctx, args): Promise<Reply> {
    const partitionId = partitionArg(args[0], ctx.db.partitionCount);
    const start = scanStartArg(args[1], 'sequence');
    const end = scanEndArg(args[2], 'sequence');
    let count = SCAN_COUNT_DEFAULT;
    const options = new OptionReader(args, 3);
    while (!options.done) count = scanCountArg(options.next(OPTIONS).value);
    return ctx.db.scanPartitionRaw(partitionId, start, end, count, { resp: ctx.connection.protocol }).then((page): Reply => (e) => writeScanPage(e, page));
  },
};
