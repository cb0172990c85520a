/**
 * UNSUBSCRIBE: stop following channels made with SUBSCRIBE (all of them when none is named).
 *
 *   UNSUBSCRIBE [<channel> ...]
 *
 * Replies, as Redis does, with one push per channel: `>3 $unsubscribe $<channel> :<channels left>`; with no
 * channel named and none subscribed, one push with a null channel and 0. ESUB/EPSUB subscriptions are ended with
 * EUNSUB instead.
 *
 * Example:
 *   UNSUBSCRIBE sierradb:stream:user-123
 */
import type { CommandDescriptor } from './command.ts';
import { ConnectionSubscriptions } from '../subscriptions/connection-subscriptions.ts';

export const unsubscribe: CommandDescriptor = {
  name: 'UNSUBSCRIBE',
  arity: -1,
  flags: ['pubsub'],
  group: 'pubsub',
  since: '0.1.0',
  summary: 'Stops following channels subscribed with SUBSCRIBE.',
  syntax: 'UNSUBSCRIBE [channel ...]',
  arguments: [{ name: 'channel', type: 'string', optional: true, multiple: true }],
  examples: ['UNSUBSCRIBE sierradb:stream:user-123', 'UNSUBSCRIBE'],
  execute(ctx, args) {
    const registry = ConnectionSubscriptions.peek(ctx.connection);
    const names = args.length > 0 ? args.map((a) => a.toString('utf8')) : [...(registry?.channels.keys() ?? [])];
    const counts = names.map((name) => {
      registry?.channels.get(name)?.close();
      return registry?.channels.size ?? 0;
    });
    return (encoder) => {
      if (names.length === 0) {
        encoder.pushHeader(3);
        encoder.bulkString('unsubscribe');
        encoder.null();
        encoder.integer(0);
        return;
      }
      names.forEach((name, i) => {
        encoder.pushHeader(3);
        encoder.bulkString('unsubscribe');
        encoder.bulkString(name);
        encoder.integer(counts[i]);
      });
    };
  },
};
