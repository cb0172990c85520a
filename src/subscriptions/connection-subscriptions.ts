/**
 * The subscriptions of one connection, and the sinks that turn their events into push frames on it.
 *
 * Frames (SierraDB's, reference "Subscription wire protocol"; RESP2 writes every `>` as `*`):
 *
 *   ESUB/EPSUB reply   +<subscription id>\r\n
 *   then, same write   >3\r\n+subscribe\r\n+<id>\r\n:<subscriptions on this connection>\r\n
 *   each event         >4\r\n+message\r\n+<id>\r\n:<cursor>\r\n<%11 event map>
 *   ended by server    >3\r\n+unsubscribe\r\n+<id>\r\n:<subscriptions left>\r\n   (only when a read failed)
 *
 * Redis channels (SUBSCRIBE), as Redis writes them, with bulk strings:
 *
 *   each channel       >3\r\n$9\r\nsubscribe\r\n$<channel>\r\n:<channels on this connection>\r\n
 *   each event         >3\r\n$7\r\nmessage\r\n$<channel>\r\n$<event as JSON>\r\n
 *
 * Closing the connection ends all of them (ConnectionState.onClose).
 */
import { randomUUID } from 'node:crypto';
import type { CommandContext, ConnectionState, Reply } from '../commands/command.ts';
import { ReplyError, errorCode } from '../protocol/reply-error.ts';
import { RespEncoder, encodeSimpleString, type RespProtocol } from '../protocol/resp-encoder.ts';
import type { EventPage } from './page-reader.ts';
import type { ParsedSubscribe } from './subscribe-args.ts';
import { SubscriptionHub } from './subscription-hub.ts';
import { Subscription, type SubscriptionSink } from './subscription.ts';

/** Most ESUB/EPSUB subscriptions one connection may hold (each is a loop and a registration). */
export const SUBSCRIPTIONS_PER_CONNECTION_MAX = 10_000;
/** Most SUBSCRIBE channels one connection may hold. */
export const CHANNELS_PER_CONNECTION_MAX = 10_000;

const MESSAGE = encodeSimpleString('message');
/** Events per push() call (see SubscriptionPushSink.send). */
const PUSH_GROUP_EVENTS = 16;
const UNSUBSCRIBE = encodeSimpleString('unsubscribe');

function bulk(text: string): Buffer {
  const e = new RespEncoder({ slabBytes: 64 });
  e.bulkString(text);
  return Buffer.from(e.take());
}

const BULK_MESSAGE = bulk('message');

const registries = new WeakMap<ConnectionState, ConnectionSubscriptions>();

export class ConnectionSubscriptions {
  /** ESUB/EPSUB subscriptions by id. */
  readonly byId = new Map<string, Subscription>();
  /** SUBSCRIBE channels by name. */
  readonly channels = new Map<string, Subscription>();
  readonly connection: ConnectionState;

  /** The connection's registry, made (and tied to the connection's close) on first use. */
  static of(connection: ConnectionState): ConnectionSubscriptions {
    let r = registries.get(connection);
    if (r === undefined) {
      r = new ConnectionSubscriptions(connection);
      registries.set(connection, r);
      const registry = r;
      connection.onClose(() => registry.closeAll());
    }
    return r;
  }

  static peek(connection: ConnectionState): ConnectionSubscriptions | undefined {
    return registries.get(connection);
  }

  private constructor(connection: ConnectionState) {
    this.connection = connection;
  }

  closeAll(): void {
    for (const s of [...this.byId.values(), ...this.channels.values()]) s.close();
    this.byId.clear();
    this.channels.clear();
  }
}

/** Sends a subscription's events as SierraDB `message` pushes. */
export class SubscriptionPushSink implements SubscriptionSink {
  readonly #connection: ConnectionState;
  readonly #registry: ConnectionSubscriptions;
  readonly #id: Buffer;
  /** `>4 +message +<id>` (RESP3) and `*4 ...` (RESP2): what every message push starts with, before its cursor. */
  readonly #messageHead: { 2: Buffer; 3: Buffer };

  constructor(registry: ConnectionSubscriptions, id: string) {
    this.#connection = registry.connection;
    this.#registry = registry;
    this.#id = encodeSimpleString(id);
    const head = (protocol: 2 | 3) => {
      const e = new RespEncoder({ protocol, slabBytes: 128 });
      e.pushHeader(4);
      e.raw(MESSAGE);
      e.raw(this.#id);
      return Buffer.from(e.take());
    };
    this.#messageHead = { 2: head(2), 3: head(3) };
  }

  get mapProtocol(): RespProtocol {
    return this.#connection.protocol;
  }

  send(page: EventPage, start: number, end: number, firstCursor: number): boolean {
    if (this.#connection.closed) return false;
    // In groups, so that the connection can write a long page out a slab at a time (Connection.push).
    for (let from = start; from < end; from += PUSH_GROUP_EVENTS) {
      const to = Math.min(end, from + PUSH_GROUP_EVENTS);
      const ok = this.#connection.push((encoder) => {
        const head = this.#messageHead[encoder.protocol];
        for (let i = from; i < to; i++) {
          encoder.raw(head);
          encoder.integer(firstCursor + i - start);
          page.writeMap(encoder, i);
        }
      });
      if (!ok) return false;
    }
    return true;
  }

  ended(): void {
    if (this.#connection.closed) return;
    const id = this.#id;
    const left = this.#registry.byId.size;
    this.#connection.push((encoder) => {
      encoder.pushHeader(3);
      encoder.raw(UNSUBSCRIBE);
      encoder.raw(id);
      encoder.integer(left);
    });
  }
}

/** Sends a channel's events as Redis `message` pushes whose payload is the event as JSON. */
export class ChannelPushSink implements SubscriptionSink {
  readonly #connection: ConnectionState;
  readonly #channel: Buffer;

  constructor(connection: ConnectionState, channel: string) {
    this.#connection = connection;
    this.#channel = bulk(channel);
  }

  send(page: EventPage, start: number, end: number): boolean {
    if (this.#connection.closed) return false;
    const channel = this.#channel;
    return this.#connection.push((encoder) => {
      for (let i = start; i < end; i++) {
        encoder.pushHeader(3);
        encoder.raw(BULK_MESSAGE);
        encoder.raw(channel);
        encoder.bulkString(page.json(i));
      }
    });
  }

  ended(): void {
    // A Redis channel has no way to say so; the client sees the stream of messages stop. (The failure is logged.)
  }
}

/**
 * Makes an ESUB/EPSUB subscription on the command's connection and returns its reply: `+<id>`, then the
 * `subscribe` push. Events start to flow once that reply has been written (pushes queue behind it).
 */
export function openSubscription(ctx: CommandContext, parsed: ParsedSubscribe): Reply {
  const registry = ConnectionSubscriptions.of(ctx.connection);
  if (registry.byId.size >= SUBSCRIPTIONS_PER_CONNECTION_MAX) {
    throw new ReplyError(errorCode.ERR, `too many subscriptions on this connection (at most ${SUBSCRIPTIONS_PER_CONNECTION_MAX})`);
  }
  const id = randomUUID();
  const sub = new Subscription({
    hub: SubscriptionHub.of(ctx.db, ctx.logger),
    id,
    window: parsed.window,
    sources: parsed.sources,
    sink: new SubscriptionPushSink(registry, id),
    onClosed: () => registry.byId.delete(id),
  });
  registry.byId.set(id, sub);
  if (ctx.connection.closed) sub.close();
  const count = registry.byId.size;
  return (encoder) => {
    encoder.simpleString(id);
    encoder.pushHeader(3);
    encoder.simpleString('subscribe');
    encoder.simpleString(id);
    encoder.integer(count);
    sub.start();
  };
}
