/**
 * EPSUB: subscribe to partitions, replaying history from a sequence and then following live appends.
 *
 *   EPSUB <* | <partition>[,<partition>...]>
 *         [FROM LATEST | FROM <sequence> | FROM MAP <partition>=<sequence> ... [DEFAULT <sequence>]] [WINDOW <n>]
 *
 * A <partition> is an id, a UUID partition key (the partition it hashes to) or an inclusive range `a-b`; `*` is
 * every partition. Replies `+<subscription id>`, then `>3 subscribe <id> <count>`; events arrive as
 * `>4 message <id> <cursor> <event map>`, per partition in sequence order with no gap (partitions take turns).
 * FROM is inclusive; without it (or for a partition FROM MAP leaves out, without DEFAULT) only events appended
 * after the subscription are sent. At most WINDOW (default 1000) events are unacknowledged (EACK).
 * A partition id this node does not have gets `-CLUSTERDOWN partition unavailable`.
 *
 * Examples:
 *   EPSUB * FROM 0 WINDOW 10000                 every partition from the start
 *   EPSUB 0-7,12 FROM MAP 3=100 DEFAULT 0
 *   EPSUB 7e124fe8-fe28-5398-bb95-53973100148f  the partition of that key, live
 */
import type { CommandDescriptor } from './command.ts';
import { openSubscription } from '../subscriptions/connection-subscriptions.ts';
import { parseEpsub } from '../subscriptions/subscribe-args.ts';

export const epsub: CommandDescriptor = {
  name: 'EPSUB',
  arity: -2,
  flags: ['pubsub', 'readonly'],
  group: 'sierradb',
  since: '0.1.0',
  summary: 'Subscribes to partitions: history from a sequence, then live events, with a window of unacknowledged events.',
  syntax:
    'EPSUB <*|partition[,partition...]> [FROM LATEST | FROM sequence | FROM MAP partition=sequence ... [DEFAULT sequence]] [WINDOW n]',
  arguments: [
    { name: 'partitions', type: 'string' },
    {
      name: 'from',
      type: 'oneof',
      token: 'FROM',
      optional: true,
      arguments: [
        { name: 'latest', type: 'pure-token', token: 'LATEST' },
        { name: 'sequence', type: 'integer' },
        {
          name: 'map',
          type: 'block',
          token: 'MAP',
          arguments: [
            { name: 'partition_sequence', type: 'string', multiple: true },
            { name: 'default', type: 'integer', token: 'DEFAULT', optional: true },
          ],
        },
      ],
    },
    { name: 'window', type: 'integer', token: 'WINDOW', optional: true },
  ],
  examples: ['EPSUB * FROM 0 WINDOW 10000', 'EPSUB 0-7,12 FROM MAP 3=100 DEFAULT 0', 'EPSUB 7e124fe8-fe28-5398-bb95-53973100148f'],
  execute(ctx, args) {
    return openSubscription(ctx, parseEpsub(args, ctx.db.partitionCount));
  },
};
