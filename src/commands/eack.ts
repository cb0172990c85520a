/**
 * EACK: acknowledge a subscription's events up to a cursor, opening its window again.
 *
 *   EACK <subscription_id> <cursor>
 *
 * Replies `+OK`; `-NOTFOUND subscription not found` when this connection has no subscription with that id (a
 * subscription belongs to the connection that made it). The cursor is the per-subscription counter of `message`
 * pushes (from 0), not a version or sequence. Acks never move backwards, and an ack past the last cursor sent
 * counts as acking the last one sent.
 *
 * Example:
 *   EACK 0b0e6c0a-1d3c-4e8a-9a37-5b8d2c1f4e6a 99
 */
import type { CommandDescriptor } from './command.ts';
import { ReplyError, errorCode } from '../protocol/reply-error.ts';
import { ConnectionSubscriptions } from '../subscriptions/connection-subscriptions.ts';
import { parsePosition } from '../subscriptions/subscribe-args.ts';

export const eack: CommandDescriptor = {
  name: 'EACK',
  arity: 3,
  flags: ['pubsub', 'fast'],
  group: 'sierradb',
  since: '0.1.0',
  summary: "Acknowledges a subscription's events up to a cursor.",
  syntax: 'EACK subscription_id cursor',
  arguments: [
    { name: 'subscription_id', type: 'string' },
    { name: 'cursor', type: 'integer' },
  ],
  examples: ['EACK 0b0e6c0a-1d3c-4e8a-9a37-5b8d2c1f4e6a 99'],
  execute(ctx, args) {
    const cursor = parsePosition(args[1], 'cursor');
    const sub = ConnectionSubscriptions.peek(ctx.connection)?.byId.get(args[0].toString('utf8').toLowerCase());
    if (sub === undefined) throw new ReplyError(errorCode.NOTFOUND, 'subscription not found');
    sub.ack(cursor);
    return (encoder) => encoder.simpleString('OK');
  },
};
