/**
 * The project's TypeScript client: a typed method for every command, over its own connection.
 *
 *   const client = await SierraClient.connect({ port: 9090 });
 *   const r = await client.eappend('user-123', 'UserRegistered', { payload: '{"name":"Ada"}' });
 *   const page = await client.escan('user-123');
 *   await client.close();
 *
 * `esub`/`epsub` here are the raw commands: they return the subscription id, and the events arrive through
 * `onPush` on this connection, to be acknowledged with `eack`. For replay, automatic acks and resumption after a
 * lost connection, use `SubscriptionManager` (subscription-manager.ts), which owns a connection of its own.
 */
import { ReplyError } from '../protocol/reply-error.ts';
import type { RespPush, RespValue } from '../protocol/resp-reply-parser.ts';
import { RespConnection, type Argument, type ConnectOptions } from './connection.ts';
import {
  asText,
  decodeAppendResult,
  decodeEvent,
  decodeHello,
  decodeMultiAppendResult,
  decodeOptionalInteger,
  decodeScanPage,
  UnexpectedReplyError,
  type AppendResult,
  type Event,
  type HelloInfo,
  type MultiAppendResult,
  type ScanPage,
} from './replies.ts';

export type Bytes = string | Uint8Array;
export type ExpectedVersion = number | 'any' | 'exists' | 'empty';

export interface AppendOptions {
  eventId?: string;
  partitionKey?: string;
  expectedVersion?: ExpectedVersion;
  timestampMs?: number;
  payload?: Bytes;
  metadata?: Bytes;
}

export interface MultiAppendEvent extends Omit<AppendOptions, 'partitionKey'> {
  streamId: string;
  eventName: string;
}

/** Where a subscription starts: inclusive position, only new events, or a position per key with a fallback. */
export type SubscribeFrom = 'latest' | number | { map: Record<string, number>; default?: number };

export interface SubscribeOptions {
  from?: SubscribeFrom;
  /** Most unacknowledged events in flight (the server's default is 1000). */
  window?: number;
}

/** A stream to subscribe to: its id, or its id with a partition key. */
export type StreamSelector = string | { streamId: string; partitionKey?: string };

/** `'*'`, a partition id, a UUID partition key, a range `'a-b'`, or a list of those. */
export type PartitionSelector = '*' | number | string | readonly (number | string)[];

export class SierraClient {
  readonly connection: RespConnection;

  private constructor(connection: RespConnection) {
    this.connection = connection;
  }

  static async connect(options: ConnectOptions = {}): Promise<SierraClient> {
    return new SierraClient(await RespConnection.connect(options));
  }

  /** Any command, with its raw parsed reply (error replies reject with ReplyError). */
  call(...args: Argument[]): Promise<RespValue> {
    return this.connection.send(args);
  }

  /** Receives this connection's push frames (ESUB/EPSUB `subscribe` and `message`, SUBSCRIBE messages). */
  onPush(listener: (push: RespPush) => void): void {
    this.connection.onPush(listener);
  }

  close(): void {
    this.connection.close();
  }

  async ping(): Promise<string> {
    return asText(await this.call('PING'), 'PING');
  }

  /** HELLO; `protocol` 2 switches the connection to RESP2 (then pushes cannot be told from replies). */
  async hello(protocol: 2 | 3 = 3): Promise<HelloInfo> {
    return decodeHello(await this.call('HELLO', protocol));
  }

  async eappend(streamId: string, eventName: string, options: AppendOptions = {}): Promise<AppendResult> {
    const args: Argument[] = ['EAPPEND', streamId, eventName];
    if (options.partitionKey !== undefined) args.push('PARTITION_KEY', options.partitionKey);
    pushEventOptions(args, options);
    return decodeAppendResult(await this.call(...args));
  }

  /** Appends events to streams of one partition atomically. */
  async emappend(partitionKey: string, events: readonly MultiAppendEvent[]): Promise<MultiAppendResult> {
    const args: Argument[] = ['EMAPPEND', partitionKey];
    for (const e of events) {
      args.push(e.streamId, e.eventName);
      pushEventOptions(args, e);
    }
    return decodeMultiAppendResult(await this.call(...args));
  }

  async eget(eventId: string): Promise<Event | null> {
    const r = await this.call('EGET', eventId);
    return r === null ? null : decodeEvent(r);
  }

  /** Events of a stream with versions in [start, end] (inclusive; `end` omitted: no end). */
  async escan(streamId: string, start: number = 0, end?: number, options: { partitionKey?: string; count?: number } = {}): Promise<ScanPage> {
    const args: Argument[] = ['ESCAN', streamId, start, end ?? '+'];
    if (options.partitionKey !== undefined) args.push('PARTITION_KEY', options.partitionKey);
    if (options.count !== undefined) args.push('COUNT', options.count);
    return decodeScanPage(await this.call(...args), 'ESCAN');
  }

  /** The stream's latest version, or null when it has no events. */
  async esver(streamId: string, options: { partitionKey?: string } = {}): Promise<number | null> {
    const args: Argument[] = ['ESVER', streamId];
    if (options.partitionKey !== undefined) args.push('PARTITION_KEY', options.partitionKey);
    return decodeOptionalInteger(await this.call(...args), 'ESVER');
  }

  /** Events of a partition (id or UUID key) with sequences in [start, end]. */
  async epscan(partition: number | string, start: number = 0, end?: number, options: { count?: number } = {}): Promise<ScanPage> {
    const args: Argument[] = ['EPSCAN', partition, start, end ?? '+'];
    if (options.count !== undefined) args.push('COUNT', options.count);
    return decodeScanPage(await this.call(...args), 'EPSCAN');
  }

  /** The partition's latest sequence, or null when it is empty. */
  async epseq(partition: number | string): Promise<number | null> {
    return decodeOptionalInteger(await this.call('EPSEQ', partition), 'EPSEQ');
  }

  /** ESUB: returns the subscription id; events arrive through onPush. */
  async esub(streams: StreamSelector | readonly StreamSelector[], options: SubscribeOptions = {}): Promise<string> {
    return asText(await this.call(...esubArgs(streams, options)), 'ESUB');
  }

  /** EPSUB: returns the subscription id; events arrive through onPush. */
  async epsub(partitions: PartitionSelector, options: SubscribeOptions = {}): Promise<string> {
    return asText(await this.call(...epsubArgs(partitions, options)), 'EPSUB');
  }

  async eack(subscriptionId: string, cursor: number): Promise<void> {
    expectOk(await this.call('EACK', subscriptionId, cursor), 'EACK');
  }

  async eunsub(subscriptionId: string): Promise<void> {
    expectOk(await this.call('EUNSUB', subscriptionId), 'EUNSUB');
  }
}

function pushEventOptions(args: Argument[], o: Omit<AppendOptions, 'partitionKey'>): void {
  if (o.eventId !== undefined) args.push('EVENT_ID', o.eventId);
  if (o.expectedVersion !== undefined) args.push('EXPECTED_VERSION', o.expectedVersion);
  if (o.timestampMs !== undefined) args.push('TIMESTAMP', o.timestampMs);
  if (o.payload !== undefined) args.push('PAYLOAD', o.payload);
  if (o.metadata !== undefined) args.push('METADATA', o.metadata);
}

function expectOk(value: RespValue, what: string): void {
  if (value !== 'OK') throw new UnexpectedReplyError(what, value);
}

function pushFrom(args: Argument[], from: SubscribeFrom | undefined): void {
  if (from === undefined) return;
  args.push('FROM');
  if (from === 'latest') args.push('LATEST');
  else if (typeof from === 'number') args.push(from);
  else {
    args.push('MAP');
    for (const [k, v] of Object.entries(from.map)) args.push(`${k}=${v}`);
    if (from.default !== undefined) args.push('DEFAULT', from.default);
  }
}

export function esubArgs(streams: StreamSelector | readonly StreamSelector[], options: SubscribeOptions): Argument[] {
  const list = typeof streams === 'string' || !Array.isArray(streams) ? [streams as StreamSelector] : (streams as readonly StreamSelector[]);
  if (list.length === 0) throw new RangeError('ESUB needs at least one stream');
  const args: Argument[] = ['ESUB'];
  for (const s of list) {
    if (typeof s === 'string') args.push(s);
    else {
      args.push(s.streamId);
      if (s.partitionKey !== undefined) args.push('PARTITION_KEY', s.partitionKey);
    }
  }
  pushFrom(args, options.from);
  if (options.window !== undefined) args.push('WINDOW', options.window);
  return args;
}

export function epsubArgs(partitions: PartitionSelector, options: SubscribeOptions): Argument[] {
  const selector = Array.isArray(partitions) ? partitions.join(',') : String(partitions);
  const args: Argument[] = ['EPSUB', selector];
  pushFrom(args, options.from);
  if (options.window !== undefined) args.push('WINDOW', options.window);
  return args;
}


