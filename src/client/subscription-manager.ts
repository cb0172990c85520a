/**
 * Subscriptions that survive lost connections: the manager reads ESUB/EPSUB pushes on a connection of its own,
 * hands each event to the subscription's handler in order, acknowledges it (automatically, or when the handler
 * says so), and after a lost connection (a network failure, a server restart) reconnects and subscribes again
 * from the position after the last event it delivered. A consumer sees each event once.
 *
 *   const manager = await SubscriptionManager.connect({ port: 9090 });
 *   const sub = await manager.subscribeToPartitions('*', { from: 0, window: 500 }, async (event) => {
 *     await project(event);
 *   });
 *   ...
 *   await sub.close();
 *   await manager.close();
 *
 * Positions. A subscription keeps the next position of every source it covers: the next sequence of each
 * partition (EPSUB) or the next version of each stream (ESUB). They are made explicit when the subscription is
 * made (FROM LATEST is turned into the current EPSEQ/ESVER + 1, so "latest" means the same thing after a
 * reconnect), move past each event once its handler has returned, and every (re)subscription sends them as
 * `FROM MAP`. Events still queued when the connection drops are discarded (they come again from the positions);
 * the event being handled finishes first. An event at a position already passed is skipped, so nothing is
 * handled twice.
 *
 * Acks. With `ack: 'auto'` (the default) the cursor of each handled event is acknowledged, batched: when half
 * the window is handled or the queue runs dry. With `ack: 'manual'` the handler's `ack()` does it; events stop
 * arriving once `window` of them are unacknowledged.
 *
 * A handler that throws ends its subscription: `done` rejects with the error, and the position stays at the
 * event that failed.
 */
import { EventEmitter } from 'node:events';
import { parseUuid, partitionHash } from '../ids/partition-key.ts';
import type { RespPush, RespValue } from '../protocol/resp-reply-parser.ts';
import { epsubArgs, esubArgs, type PartitionSelector, type StreamSelector, type SubscribeFrom } from './client.ts';
import { RespConnection, type Argument, type ConnectOptions } from './connection.ts';
import { asText, decodeEvent, decodeHello, decodeOptionalInteger, type Event } from './replies.ts';

export interface SubscriptionManagerOptions extends ConnectOptions {
  /** First wait before reconnecting; doubles up to `reconnectDelayMaxMs`. */
  reconnectDelayMs?: number;
  reconnectDelayMaxMs?: number;
}

export const subscriptionManagerDefaults = {
  reconnectDelayMs: 50,
  reconnectDelayMaxMs: 2000,
  window: 1000,
} as const;

export interface ManagedSubscribeOptions {
  from?: SubscribeFrom;
  window?: number;
  ack?: 'auto' | 'manual';
}

export interface EventContext {
  /** The cursor the server gave this event (per connection; it restarts at 0 after a reconnect). */
  readonly cursor: number;
  readonly subscription: ManagedSubscription;
  /** Acknowledges this event and every one before it (with `ack: 'manual'`). */
  ack(): void;
}

export type EventHandler = (event: Event, context: EventContext) => void | Promise<void>;

interface Queued {
  cursor: number;
  event: Event;
  epoch: number;
}

type Kind = 'partitions' | 'streams';

export class ManagedSubscription {
  readonly kind: Kind;
  readonly window: number;
  readonly ackMode: 'auto' | 'manual';
  /** Resolves when the subscription is closed; rejects when its handler threw (or the server ended it). */
  readonly done: Promise<void>;
  /** Events handed to the handler. */
  delivered = 0;
  /** Events skipped because their position had already been passed (redelivered after a reconnect). */
  skipped = 0;
  /** Events received but not yet handled when their connection dropped (they come again after the reconnect). */
  discarded = 0;
  readonly #manager: SubscriptionManager;
  readonly #handler: EventHandler;
  /** Next position per source: partition id, or stream id. */
  readonly #next: Map<number | string, number>;
  /** For streams: the partition key to send with each stream id. */
  readonly #streamKeys: Map<string, string | undefined>;
  #serverId: string | undefined;
  #epoch = 0;
  readonly #queue: Queued[] = [];
  #queueHead = 0;
  #draining: Promise<void> = Promise.resolve();
  #drainRunning = false;
  /** @internal The connection the subscription was last subscribed on. */
  _subscribedOn: unknown;
  #handledCursor = -1;
  #ackedCursor = -1;
  #closed = false;
  #resolveDone!: () => void;
  #rejectDone!: (err: unknown) => void;

  /** @internal Made by SubscriptionManager. */
  constructor(o: {
    manager: SubscriptionManager;
    kind: Kind;
    window: number;
    ack: 'auto' | 'manual';
    handler: EventHandler;
    next: Map<number | string, number>;
    streamKeys: Map<string, string | undefined>;
  }) {
    this.#manager = o.manager;
    this.kind = o.kind;
    this.window = o.window;
    this.ackMode = o.ack;
    this.#handler = o.handler;
    this.#next = o.next;
    this.#streamKeys = o.streamKeys;
    this.done = new Promise<void>((resolve, reject) => {
      this.#resolveDone = resolve;
      this.#rejectDone = reject;
    });
    this.done.catch(() => {}); // a rejection nobody awaits must not crash the process
  }

  /** The server's id for the current connection's subscription, if subscribed. */
  get serverId(): string | undefined {
    return this.#serverId;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The next position of each source (partition id or stream id → next sequence or version). */
  positions(): Map<number | string, number> {
    return new Map(this.#next);
  }

  /** Ends the subscription (EUNSUB on the server when connected). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#finish(undefined);
    await this.#manager._unsubscribe(this);
  }

  /** @internal The command that subscribes from the current positions. */
  _wireArgs(): Argument[] {
    const map: Record<string, number> = {};
    for (const [k, v] of this.#next) map[String(k)] = v;
    if (this.kind === 'partitions') return epsubArgs([...this.#next.keys()] as number[], { from: { map }, window: this.window });
    const streams: StreamSelector[] = [...this.#streamKeys].map(([streamId, partitionKey]) => ({ streamId, partitionKey }));
    return esubArgs(streams, { from: { map }, window: this.window });
  }

  /** @internal Subscribed on a new connection under `serverId`. */
  _attach(serverId: string): void {
    this.#serverId = serverId;
    this.#handledCursor = -1;
    this.#ackedCursor = -1;
  }

  /** @internal The connection is gone: forget what is queued from it. Resolves once the handler is idle. */
  _detach(): Promise<void> {
    this.#serverId = undefined;
    this.#epoch++;
    this.discarded += this.#queue.length - this.#queueHead;
    this.#queue.length = 0;
    this.#queueHead = 0;
    return this.#draining;
  }

  /** @internal Resolves once no handler is running. */
  _idle(): Promise<void> {
    return this.#draining;
  }

  /** @internal A `message` push for this subscription. */
  _message(cursor: number, event: Event): void {
    if (this.#closed) return;
    this.#queue.push({ cursor, event, epoch: this.#epoch });
    if (!this.#drainRunning) this.#draining = this.#drain();
  }

  /** @internal The server ended the subscription. */
  _endedByServer(): void {
    this.#finish(new Error('the server ended the subscription'));
    void this.#manager._unsubscribe(this);
  }

  #finish(error: unknown): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#queue.length = 0;
    this.#queueHead = 0;
    if (error === undefined) this.#resolveDone();
    else this.#rejectDone(error);
  }

  async #drain(): Promise<void> {
    this.#drainRunning = true;
    try {
      while (this.#queueHead < this.#queue.length && !this.#closed) {
        const item = this.#queue[this.#queueHead++];
        if (item.epoch !== this.#epoch) continue;
        const e = item.event;
        const key = this.kind === 'partitions' ? e.partitionId : e.streamId;
        const position = this.kind === 'partitions' ? e.partitionSequence : e.streamVersion;
        const next = this.#next.get(key);
        if (next !== undefined && position < next) {
          this.skipped++;
          this.#handled(item);
          continue;
        }
        const context: EventContext = {
          cursor: item.cursor,
          subscription: this,
          ack: () => {
            if (item.epoch === this.#epoch) this.#sendAck(item.cursor);
          },
        };
        try {
          await this.#handler(e, context);
        } catch (err) {
          this.#finish(err);
          void this.#manager._unsubscribe(this);
          return;
        }
        this.#next.set(key, position + 1);
        this.delivered++;
        this.#handled(item);
      }
      if (this.ackMode === 'auto' && !this.#closed) this.#flushAck();
    } finally {
      this.#queue.splice(0, this.#queueHead);
      this.#queueHead = 0;
      this.#drainRunning = false;
    }
  }

  #handled(item: Queued): void {
    if (item.epoch !== this.#epoch) return;
    this.#handledCursor = item.cursor;
    if (this.ackMode === 'auto' && this.#handledCursor - this.#ackedCursor >= Math.max(1, Math.floor(this.window / 2))) this.#flushAck();
  }

  #flushAck(): void {
    if (this.#handledCursor > this.#ackedCursor) this.#sendAck(this.#handledCursor);
  }

  #sendAck(cursor: number): void {
    const id = this.#serverId;
    if (id === undefined || cursor <= this.#ackedCursor) return;
    this.#ackedCursor = cursor;
    this.#manager._ack(id, cursor);
  }
}

/**
 * Owns one connection for subscriptions; see the module comment. Emits `connect` after every reconnection (once
 * its subscriptions are subscribed again), `disconnect` (with the error, if any) and `retry` (with the error of a
 * failed reconnection attempt).
 */
export class SubscriptionManager extends EventEmitter {
  readonly #options: SubscriptionManagerOptions;
  #connection: RespConnection | undefined;
  #numPartitions = 0;
  readonly #subs = new Set<ManagedSubscription>();
  readonly #byServerId = new Map<string, ManagedSubscription>();
  #closed = false;
  #reconnects = 0;
  /** Resolves with the connection once it is up and its subscriptions are subscribed. */
  #whenConnected!: Promise<RespConnection>;
  #connected!: (conn: RespConnection) => void;
  #failConnected!: (err: Error) => void;
  #connectionExpected = false;

  private constructor(options: SubscriptionManagerOptions) {
    super();
    this.#options = options;
    this.#expectConnection();
  }

  /** Connects (the first connection must succeed; later ones are retried until close()). */
  static async connect(options: SubscriptionManagerOptions = {}): Promise<SubscriptionManager> {
    const m = new SubscriptionManager(options);
    m.#connected(await m.#open());
    return m;
  }

  /** Times the connection was re-established. */
  get reconnects(): number {
    return this.#reconnects;
  }

  get connected(): boolean {
    return this.#connection !== undefined && !this.#connection.closed;
  }

  /** EPSUB through the manager. `from` and the keys of `from.map` are as EPSUB takes them. */
  async subscribeToPartitions(partitions: PartitionSelector, options: ManagedSubscribeOptions, handler: EventHandler): Promise<ManagedSubscription> {
    const window = checkWindow(options.window);
    const from = options.from ?? 'latest';
    const next = await this.#withConnection(async (conn) => {
      const ids = expandPartitions(partitions, this.#numPartitions);
      const mapped = new Map<number, number>();
      if (typeof from === 'object') {
        for (const [k, v] of Object.entries(from.map)) mapped.set(expandPartitions(k, this.#numPartitions)[0], v);
      }
      const positions = new Map<number | string, number>();
      const latest: number[] = [];
      for (const p of ids) {
        const start = from === 'latest' ? undefined : typeof from === 'number' ? from : (mapped.get(p) ?? from.default);
        if (start === undefined) latest.push(p);
        positions.set(p, start ?? -1);
      }
      // FROM LATEST made explicit, so that it means the same after a reconnect.
      const sequences = await Promise.all(latest.map((p) => conn.send(['EPSEQ', p])));
      latest.forEach((p, i) => positions.set(p, (decodeOptionalInteger(sequences[i], 'EPSEQ') ?? -1) + 1));
      return positions;
    });
    return this.#start(new ManagedSubscription({ manager: this, kind: 'partitions', window, ack: options.ack ?? 'auto', handler, next, streamKeys: new Map() }));
  }

  /** ESUB through the manager. Stream ids must be distinct. */
  async subscribeToStreams(streams: StreamSelector | readonly StreamSelector[], options: ManagedSubscribeOptions, handler: EventHandler): Promise<ManagedSubscription> {
    const window = checkWindow(options.window);
    const list = (typeof streams === 'string' || !Array.isArray(streams) ? [streams] : streams) as StreamSelector[];
    const keys = new Map<string, string | undefined>();
    for (const s of list) {
      const streamId = typeof s === 'string' ? s : s.streamId;
      if (keys.has(streamId)) throw new RangeError(`stream '${streamId}' is listed twice`);
      keys.set(streamId, typeof s === 'string' ? undefined : s.partitionKey);
    }
    const from = options.from ?? 'latest';
    const next = await this.#withConnection(async (conn) => {
      const positions = new Map<number | string, number>();
      const latest: string[] = [];
      for (const streamId of keys.keys()) {
        const start = from === 'latest' ? undefined : typeof from === 'number' ? from : (from.map[streamId] ?? from.default);
        if (start === undefined) latest.push(streamId);
        positions.set(streamId, start ?? -1);
      }
      const versions = await Promise.all(
        latest.map((s) => {
          const key = keys.get(s);
          return conn.send(key === undefined ? ['ESVER', s] : ['ESVER', s, 'PARTITION_KEY', key]);
        }),
      );
      latest.forEach((s, i) => positions.set(s, (decodeOptionalInteger(versions[i], 'ESVER') ?? -1) + 1));
      return positions;
    });
    return this.#start(new ManagedSubscription({ manager: this, kind: 'streams', window, ack: options.ack ?? 'auto', handler, next, streamKeys: keys }));
  }

  /** Ends every subscription and the connection. */
  async close(): Promise<void> {
    if (this.#closed) return;
    for (const sub of [...this.#subs]) await sub.close().catch(() => {});
    this.#closed = true;
    this.#failConnected(new Error('the subscription manager is closed'));
    this.#connection?.close();
  }

  /** @internal */
  _ack(serverId: string, cursor: number): void {
    const conn = this.#connection;
    if (conn === undefined || conn.closed || this.#byServerId.get(serverId) === undefined) return;
    // A failed ack (the connection dropped) is harmless: the subscription resumes from its positions.
    conn.send(['EACK', serverId, cursor]).catch(() => {});
  }

  /** @internal */
  async _unsubscribe(sub: ManagedSubscription): Promise<void> {
    this.#subs.delete(sub);
    const id = sub.serverId;
    if (id === undefined) return;
    this.#byServerId.delete(id);
    const conn = this.#connection;
    if (conn !== undefined && !conn.closed && sub._subscribedOn === conn) await conn.send(['EUNSUB', id]).catch(() => {});
  }

  /** Runs `work` on a live connection, again on the next one if the connection drops meanwhile. */
  async #withConnection<T>(work: (conn: RespConnection) => Promise<T>): Promise<T> {
    for (;;) {
      if (this.#closed) throw new Error('the subscription manager is closed');
      const conn = await this.#whenConnected;
      try {
        return await work(conn);
      } catch (err) {
        if (!conn.closed) throw err;
      }
    }
  }

  /** Registers the subscription and subscribes it; after a lost connection, the reconnection subscribes it. */
  async #start(sub: ManagedSubscription): Promise<ManagedSubscription> {
    if (this.#closed) throw new Error('the subscription manager is closed');
    this.#subs.add(sub);
    const conn = this.#connection;
    if (conn !== undefined && !conn.closed) {
      try {
        await this.#subscribe(conn, sub);
      } catch (err) {
        if (!conn.closed) {
          this.#subs.delete(sub);
          throw err;
        }
      }
    }
    return sub;
  }

  async #subscribe(conn: RespConnection, sub: ManagedSubscription): Promise<void> {
    if (sub.closed || sub._subscribedOn === conn) return;
    sub._subscribedOn = conn;
    await sub._idle(); // positions are final once no handler runs
    // Register the id the moment the reply is parsed: the first `message` push may follow in the same chunk.
    await conn.send(sub._wireArgs(), (reply) => {
      if (typeof reply !== 'string' || conn.closed) return;
      sub._attach(reply);
      this.#byServerId.set(reply, sub);
    });
  }

  #expectConnection(): void {
    if (this.#connectionExpected) return; // callers already wait for the next connection
    this.#connectionExpected = true;
    this.#whenConnected = new Promise<RespConnection>((resolve, reject) => {
      this.#connected = (conn) => {
        this.#connectionExpected = false;
        resolve(conn);
      };
      this.#failConnected = reject;
    });
    this.#whenConnected.catch(() => {});
  }

  async #open(): Promise<RespConnection> {
    const conn = await RespConnection.connect(this.#options);
    conn.onPush((push) => this.#onPush(push));
    try {
      const hello = decodeHello(await conn.send(['HELLO', 3]));
      this.#numPartitions = hello.numPartitions ?? 32;
    } catch (err) {
      conn.close();
      throw err;
    }
    this.#connection = conn;
    conn.onClose((err) => this.#onDisconnect(conn, err));
    return conn;
  }

  #onPush(push: RespPush): void {
    const [kind, id, cursor, event] = push.data;
    if (kind === 'message' && typeof id === 'string' && typeof cursor === 'number') {
      this.#byServerId.get(id)?._message(cursor, decodeEvent(event as RespValue));
    } else if (kind === 'unsubscribe' && typeof id === 'string') {
      const sub = this.#byServerId.get(id);
      if (sub !== undefined) {
        this.#byServerId.delete(id);
        sub._endedByServer();
      }
    }
  }

  #onDisconnect(conn: RespConnection, error: Error | undefined): void {
    if (this.#connection !== conn) return;
    this.#connection = undefined;
    this.#byServerId.clear();
    for (const s of this.#subs) void s._detach();
    if (this.#closed) return;
    this.#expectConnection();
    this.emit('disconnect', error);
    void this.#reconnect();
  }

  async #reconnect(): Promise<void> {
    let delay = this.#options.reconnectDelayMs ?? subscriptionManagerDefaults.reconnectDelayMs;
    const delayMax = this.#options.reconnectDelayMaxMs ?? subscriptionManagerDefaults.reconnectDelayMaxMs;
    while (!this.#closed) {
      await new Promise((resolve) => setTimeout(resolve, delay));
      if (this.#closed) return;
      let conn: RespConnection | undefined;
      try {
        conn = await this.#open();
        for (const sub of [...this.#subs]) await this.#subscribe(conn, sub);
        if (conn.closed) throw new Error('the connection closed during resubscription');
        this.#reconnects++;
        this.#connected(conn);
        this.emit('connect');
        return;
      } catch (err) {
        // The server is not back yet, or went away again while resubscribing. If the connection did come up,
        // its close handler has started the next attempt; otherwise try again here.
        this.emit('retry', err);
        if (conn !== undefined) {
          conn.close();
          return;
        }
        delay = Math.min(delay * 2, delayMax);
      }
    }
  }
}

function checkWindow(window: number | undefined): number {
  const w = window ?? subscriptionManagerDefaults.window;
  if (!(Number.isSafeInteger(w) && w >= 1)) throw new RangeError(`window must be a positive integer, got ${w}`);
  return w;
}

/** Partition ids a selector covers (as EPSUB reads it). */
export function expandPartitions(selector: PartitionSelector, partitionCount: number): number[] {
  const items: (number | string)[] = Array.isArray(selector)
    ? [...selector]
    : typeof selector === 'number'
      ? [selector]
      : (selector as string).split(',');
  const out = new Set<number>();
  for (const item of items) {
    if (typeof item === 'number') {
      out.add(checkPartition(item, partitionCount));
      continue;
    }
    if (item === '*') {
      for (let p = 0; p < partitionCount; p++) out.add(p);
      continue;
    }
    const key = parseUuid(item);
    if (key !== undefined) {
      out.add(partitionHash(key) % partitionCount);
      continue;
    }
    const range = /^(\d+)-(\d+)$/.exec(item);
    if (range !== null) {
      for (let p = Number(range[1]); p <= Number(range[2]); p++) out.add(checkPartition(p, partitionCount));
      continue;
    }
    if (!/^\d+$/.test(item)) throw new RangeError(`invalid partition '${item}'`);
    out.add(checkPartition(Number(item), partitionCount));
  }
  return [...out].sort((a, b) => a - b);
}

function checkPartition(p: number, partitionCount: number): number {
  if (!(Number.isInteger(p) && p >= 0 && p < partitionCount)) throw new RangeError(`partition ${p} is out of range 0..${partitionCount - 1}`);
  return p;
}


