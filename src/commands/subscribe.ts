/**
 * SUBSCRIBE: Redis's live tail, for clients that cannot read SierraDB's ESUB pushes (redis-cli, node-redis,
 * ioredis). Each event arrives as a standard `message` push whose payload is the event as JSON.
 *
 *   SUBSCRIBE <channel> [<channel> ...]
 *
 * Channels (src/subscriptions/channels.ts):
 *   sierradb:all                    every partition
 *   sierradb:partition:<id|uuid>    one partition
 *   sierradb:stream:<stream_id>     one stream (default partition key)
 *
 * Replies, as Redis does, with one `subscribe` push per channel: `>3 $subscribe $<channel> :<channels>` (an
 * array in RESP2), then `>3 $message $<channel> $<json>` per event appended after the SUBSCRIBE. No window and no
 * acks: a subscriber that stops reading is disconnected at the output limit. Subscribing twice to a channel
 * keeps one subscription. An unknown channel name fails the whole command with `-ERR unknown channel`.
 *
 * Example:
 *   redis-cli -p 9090 SUBSCRIBE sierradb:stream:user-123
 */
import type { CommandDescriptor } from './command.ts';
import { ReplyError, errorCode } from '../protocol/reply-error.ts';
import { channelSources } from '../subscriptions/channels.ts';
import { CHANNELS_PER_CONNECTION_MAX, ChannelPushSink, ConnectionSubscriptions } from '../subscriptions/connection-subscriptions.ts';
import { SubscriptionHub } from '../subscriptions/subscription-hub.ts';
import { Subscription } from '../subscriptions/subscription.ts';

export const subscribe: CommandDescriptor = {
  name: 'SUBSCRIBE',
  arity: -2,
  flags: ['pubsub'],
  group: 'pubsub',
  since: '0.1.0',
  summary:
    'Follows live events as Redis pubsub messages whose payload is the event as JSON. Channels: sierradb:all, sierradb:partition:<id|uuid>, sierradb:stream:<stream_id>.',
  syntax: 'SUBSCRIBE channel [channel ...]',
  arguments: [{ name: 'channel', type: 'string', multiple: true }],
  examples: ['SUBSCRIBE sierradb:stream:user-123', 'SUBSCRIBE sierradb:partition:21', 'SUBSCRIBE sierradb:all'],
  execute(ctx, args) {
    const names = args.map((a) => a.toString('utf8'));
    // Validate every channel before subscribing to any.
    const sources = names.map((name) => channelSources(name, ctx.db.partitionCount));
    const registry = ConnectionSubscriptions.of(ctx.connection);
    const hub = SubscriptionHub.of(ctx.db, ctx.logger);
    const counts: number[] = [];
    const started: Subscription[] = [];
    names.forEach((name, i) => {
      if (!registry.channels.has(name)) {
        if (registry.channels.size >= CHANNELS_PER_CONNECTION_MAX) {
          throw new ReplyError(errorCode.ERR, `too many channels on this connection (at most ${CHANNELS_PER_CONNECTION_MAX})`);
        }
        const sub = new Subscription({
          hub,
          id: name,
          window: Infinity,
          sources: sources[i],
          sink: new ChannelPushSink(ctx.connection, name),
          onClosed: (s) => {
            if (registry.channels.get(name) === s) registry.channels.delete(name);
          },
        });
        registry.channels.set(name, sub);
        started.push(sub);
        if (ctx.connection.closed) sub.close();
      }
      counts.push(registry.channels.size);
    });
    return (encoder) => {
      names.forEach((name, i) => {
        encoder.pushHeader(3);
        encoder.bulkString('subscribe');
        encoder.bulkString(name);
        encoder.integer(counts[i]);
      });
      for (const sub of started) sub.start();
    };
  },
};
