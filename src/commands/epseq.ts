/**
 * EPSEQ: a partition's latest sequence (the sequence of its last durable event).
 *
 *   EPSEQ <partition: id | uuid key>
 *
 * Reply: `:n`, or `_` (null) when the partition is empty. Answered on the main thread from shared memory.
 */
import { partitionArg } from './arguments.ts';
import type { CommandDescriptor, Reply } from './command.ts';

export const epseq: CommandDescriptor = {
  name: 'EPSEQ',
  arity: 2,
  flags: ['readonly', 'fast'],
  group: 'sierradb',
  since: '0.1.0',
  summary: "Returns a partition's latest sequence, or null when it is empty.",
  syntax: 'EPSEQ partition',
  arguments: [{ name: 'partition', type: 'string' }],
  examples: ['EPSEQ 21', 'EPSEQ 7e124fe8-fe28-5398-bb95-53973100148f'],
  execute(ctx, args): Reply {
    const sequence = ctx.db.partitionSequence(partitionArg(args[0], ctx.db.partitionCount));
    return (e) => {
      if (sequence === undefined) e.null();
      else e.integer(sequence);
    };
  },
};
