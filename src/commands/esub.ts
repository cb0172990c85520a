/**
 * ESUB: subscribe to one or more streams, replaying history from a version and then following live appends.
 *
 *   ESUB <stream_id> [PARTITION_KEY <uuid>] [<stream_id> [PARTITION_KEY <uuid>]]...
 *        [FROM LATEST | FROM <version> | FROM MAP <stream_id>=<version> ... [DEFAULT <version>]] [WINDOW <n>]
 *
 * Replies `+<subscription id>`, then the push `>3 subscribe <id> <subscriptions on this connection>`; each event
 * then arrives as `>4 message <id> <cursor> <event map>`, per stream in version order with no gap. FROM is
 * inclusive; without it (or for a stream a FROM MAP leaves out, without DEFAULT) only events appended after the
 * subscription are sent. At most WINDOW (default 1000) events are sent and not yet acknowledged with EACK.
 * The stream list ends at FROM or WINDOW (SierraDB's parser would take them as stream ids).
 *
 * Examples:
 *   ESUB user-123                               live events of one stream
 *   ESUB user-123 FROM 0 WINDOW 100             its whole history, then live, 100 in flight at most
 *   ESUB order-1 order-2 FROM MAP order-1=5 DEFAULT 0
 */
import type { CommandDescriptor } from './command.ts';
import { openSubscription } from '../subscriptions/connection-subscriptions.ts';
import { parseEsub } from '../subscriptions/subscribe-args.ts';

export const esub: CommandDescriptor = {
  name: 'ESUB',
  arity: -2,
  flags: ['pubsub', 'readonly'],
  group: 'sierradb',
  since: '0.1.0',
  summary: 'Subscribes to streams: history from a version, then live events, with a window of unacknowledged events.',
  syntax:
    'ESUB stream_id [PARTITION_KEY uuid] [stream_id [PARTITION_KEY uuid] ...] [FROM LATEST | FROM version | FROM MAP stream_id=version ... [DEFAULT version]] [WINDOW n]',
  arguments: [
    {
      name: 'stream',
      type: 'block',
      multiple: true,
      arguments: [
        { name: 'stream_id', type: 'key' },
        { name: 'partition_key', type: 'string', token: 'PARTITION_KEY', optional: true },
      ],
    },
    {
      name: 'from',
      type: 'oneof',
      token: 'FROM',
      optional: true,
      arguments: [
        { name: 'latest', type: 'pure-token', token: 'LATEST' },
        { name: 'version', type: 'integer' },
        {
          name: 'map',
          type: 'block',
          token: 'MAP',
          arguments: [
            { name: 'stream_version', type: 'string', multiple: true },
            { name: 'default', type: 'integer', token: 'DEFAULT', optional: true },
          ],
        },
      ],
    },
    { name: 'window', type: 'integer', token: 'WINDOW', optional: true },
  ],
  examples: ['ESUB user-123', 'ESUB user-123 FROM 0 WINDOW 100', 'ESUB order-1 order-2 FROM MAP order-1=5 DEFAULT 0'],
  execute(ctx, args) {
    return openSubscription(ctx, parseEsub(args, ctx.db.partitionCount));
  },
};
