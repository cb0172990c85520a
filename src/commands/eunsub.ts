/**
 * EUNSUB: end a subscription made on this connection (SierraDB has no such command; closing the connection was
 * the only way).
 *
 *   EUNSUB <subscription_id>
 *
 * Replies `+OK`, after which no `message` push for that id follows; `-NOTFOUND subscription not found` when this
 * connection has no subscription with that id.
 *
 * Example:
 *   EUNSUB 0b0e6c0a-1d3c-4e8a-9a37-5b8d2c1f4e6a
 */
import type { CommandDescriptor } from './command.ts';
import { ReplyError, errorCode } from '../protocol/reply-error.ts';
import { ConnectionSubscriptions } from '../subscriptions/connection-subscriptions.ts';

export const eunsub: CommandDescriptor = {
  name: 'EUNSUB',
  arity: 2,
  flags: ['pubsub', 'fast'],
  group: 'sierradb',
  since: '0.1.0',
  summary: 'Ends a subscription made with ESUB or EPSUB on this connection.',
  syntax: 'EUNSUB subscription_id',
  arguments: [{ name: 'subscription_id', type: 'string' }],
  examples: ['EUNSUB 0b0e6c0a-1d3c-4e8a-9a37-5b8d2c1f4e6a'],
  execute(ctx, args) {
    const sub = ConnectionSubscriptions.peek(ctx.connection)?.byId.get(args[0].toString('utf8').toLowerCase());
    if (sub === undefined) throw new ReplyError(errorCode.NOTFOUND, 'subscription not found');
    sub.close();
    return (encoder) => encoder.simpleString('OK');
  },
};
