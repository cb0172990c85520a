/**
 * One client connection: bytes in, requests parsed, commands run, replies out in request order.
 *
 * Ordered replies. Commands run as soon as their request is parsed (so pipelined appends reach the writers
 * together and share an fsync), but their replies must leave in request order. Each request takes a slot at the
 * tail of the reply queue; a synchronous reply fills its slot at once, an asynchronous one when its promise
 * settles. Replies are encoded only from the head of the queue, so the encoder always holds whole replies in
 * order, and a push (subscriptions) joins the queue as an already-filled slot, which keeps it between replies.
 * With an empty queue a synchronous reply skips the queue and is encoded directly.
 *
 * Batching. Everything encoded goes into the connection's RespEncoder and leaves in one `socket.write`: at the
 * end of each chunk of input (all the synchronous replies of a pipelined batch), and once per event-loop turn
 * (setImmediate) after asynchronous replies complete, so a batch of appends completed by one group commit is
 * answered with one write.
 *
 * Backpressure, the limit the engine relies on:
 *   - at most `pendingCommandsMax` unanswered commands: beyond it the socket is paused (no more reads, so TCP
 *     pushes back on the client) until the queue drains to `pendingCommandsResume`. A single chunk of input can
 *     overshoot by what one read holds (at most 64 KiB of requests);
 *   - unsent output above `outputPausedBytes` also pauses reading until the socket drains, so a client that
 *     pipelines without reading cannot grow the output without bound;
 *   - the parser bounds one request (argument count, bulk length, inline length) and `queryBufferBytesMax`
 *     bounds an incomplete request's bytes.
 *
 * Closing. A malformed frame gets `-ERR Protocol error: ...` after every reply before it, then the connection
 * closes (Redis's behaviour); QUIT does the same with `+OK`. Unknown commands and bad arguments only get an
 * error reply. Commands still running when the socket goes away complete (an append stays durable), and their
 * replies are dropped.
 */
import type { Socket } from 'node:net';
import type { Config } from '../config/config-schema.ts';
import type { Database } from '../database.ts';
import { EngineError } from '../engine/engine-error.ts';
import type { Logger } from '../logging/logger.ts';
import { RespEncoder, respEncoderDefaults, type SlabSource } from '../protocol/resp-encoder.ts';
import { BufferPool } from '../buffers/buffer-pool.ts';
import { errorCode, ProtocolError, ReplyError } from '../protocol/reply-error.ts';
import { RespRequestParser } from '../protocol/resp-request-parser.ts';
import type { RequestArguments } from '../protocol/request-arguments.ts';
import { checkAuthenticated, findInPlace, resolveCommand } from '../commands/command-table.ts';
import type { CommandContext, ConnectionState, PendingReply, Reply, ServerCounters, ServerInfo } from '../commands/command.ts';
import type { AppendSink } from '../engine/in-place-append.ts';
import { writeAppendReply } from './event-reply.ts';

export interface ConnectionLimits {
  /** Unanswered commands at which reading stops. */
  readonly pendingCommandsMax: number;
  /** Unanswered commands at which reading resumes. */
  readonly pendingCommandsResume: number;
  /** Unsent output bytes at which reading stops until the socket drains. */
  readonly outputPausedBytes: number;
  /** Bytes of one incomplete request (client_query_buffer_limit). */
  readonly queryBufferBytesMax: number;
  /** Unsent output beyond which a push closes the connection (pubsub_output_buffer_limit_bytes). */
  readonly pushOutputBytesMax: number;
  /** Parser limits. */
  readonly argumentCountMax: number;
  readonly bulkBytesMax: number;
  readonly inlineBytesMax: number;
}

export const connectionLimitsDefault = {
  pendingCommandsMax: 1024,
  pendingCommandsResume: 256,
  outputPausedBytes: 4 * 1024 * 1024,
  argumentCountMax: 1024 * 1024,
  inlineBytesMax: 64 * 1024,
} as const;

export interface ConnectionOptions {
  readonly id: number;
  readonly socket: Socket;
  readonly db: Database;
  readonly config: Config;
  readonly server: ServerInfo;
  readonly counters: ServerCounters;
  readonly logger: Logger;
  readonly limits: ConnectionLimits;
  /** Called once, after the socket closed and the close callbacks ran. */
  readonly onClosed: (c: Connection) => void;
}

/** A Reply as a writer-and-value pair (no closure per reply). */
const callReply = (e: RespEncoder, reply: Reply): void => reply(e);

/** How long a connection closed by QUIT or a protocol error waits for the client to close its side. */
const CLOSE_LINGER_MS = 2000;

/** Reply slabs of every connection on this thread, going round (BufferPool): up to 64 x 64 KiB kept. */
export const replySlabs = new BufferPool(respEncoderDefaults.slabBytes, 64);
const EMPTY_SLAB = Buffer.alloc(0);

/** Back to replySlabs, if `slab` is one of its buffers whole (not a view into Node's pool or an outgrown slab). */
function giveSlab(slab: Buffer): void {
  if (slab.byteOffset === 0 && slab.length === slab.buffer.byteLength) replySlabs.give(slab.buffer as ArrayBuffer);
}
/** push() writes to the socket at once when this much is encoded (half a slab). */
const PUSH_FLUSH_BYTES = respEncoderDefaults.slabBytes / 2;

/**
 * One entry of the ordered reply queue: a reply (ready, or filled in when its promise settles), or a PendingReply
 * the command completes itself (`write` + `value`, or `error`); `settled` then tells the connection.
 */
class Slot implements PendingReply {
  reply: Reply | undefined;
  closeAfter = false;
  write: ((e: RespEncoder, value: never) => void) | undefined = undefined;
  value: unknown = undefined;
  error: unknown = undefined;
  failed = false;
  readonly #settled: (() => void) | undefined;

  constructor(reply: Reply | undefined, settled?: () => void) {
    this.reply = reply;
    this.#settled = settled;
  }

  get ready(): boolean {
    return this.reply !== undefined || this.write !== undefined || this.failed;
  }

  resolve<T>(write: (e: RespEncoder, value: T) => void, value: T): void {
    if (this.ready) throw new Error('a pending reply was completed twice');
    this.value = value;
    this.write = write as (e: RespEncoder, value: never) => void;
    this.#settled?.();
  }

  reject(error: unknown): void {
    if (this.ready) throw new Error('a pending reply was completed twice');
    this.error = error;
    this.failed = true;
    this.#settled?.();
  }
}

/**
 * The slot of an in-place append (ConnectionState.laterAppend): it is the append's sink and keeps what its reply
 * needs. These go round in a per-connection pool (an EAPPEND then allocates nothing of its own): one is reused only
 * after its reply was encoded, when neither the queue nor the writer's waiting list holds it any more.
 */
class AppendSlot extends Slot implements AppendSink {
  readonly ids = new Uint8Array(32);
  partitionId = 0;
  timestampMs = 0;
  partitionSequence = 0;
  streamVersion = 0;

  appended(partitionSequence: number, streamVersion: number): void {
    this.partitionSequence = partitionSequence;
    this.streamVersion = streamVersion;
    this.resolve(writeAppendSlot, this);
  }

  appendFailed(error: unknown): void {
    this.reject(error);
  }

  /** Ready for another append. */
  clear(): void {
    this.closeAfter = false;
    this.write = undefined;
    this.value = undefined;
    this.error = undefined;
    this.failed = false;
  }
}

function writeAppendSlot(e: RespEncoder, s: AppendSlot): void {
  writeAppendReply(e, s.ids, 0, s.ids, 16, s.partitionId, s.partitionSequence, s.streamVersion, s.timestampMs);
}

/** Append slots a connection keeps for reuse (about its unanswered-commands limit). */
const APPEND_SLOTS_KEPT_MAX = 1024;

export class Connection implements ConnectionState {
  readonly id: number;
  protocol: 2 | 3 = 3;
  name: string | undefined = undefined;
  authenticated: boolean;
  libName?: string;
  libVersion?: string;
  readonly createdAtMs = Date.now();
  readonly remoteAddress: string;

  readonly #socket: Socket;
  readonly #o: ConnectionOptions;
  readonly #ctx: CommandContext;
  readonly #parser: RespRequestParser;
  /** Where the encoder's slabs come from and go (replySlabs), see #retire and #onWritten. */
  readonly #slabs: SlabSource = { take: () => Buffer.from(replySlabs.take()), retired: (slab) => this.#retire(slab) };
  readonly #encoder = new RespEncoder({ protocol: 3, slabs: this.#slabs });

  /**
   * The slab of each socket.write whose callback has not run yet, oldest first from #writesHead (writes complete in
   * order). A slab the encoder has moved on from goes back to the pool when the last write from it completes.
   */
  #writes: Buffer[] = [];
  #writesHead = 0;

  /** Slots not yet encoded; #head is the first live index (the array is compacted now and then). */
  #queue: Slot[] = [];
  #head = 0;
  #flushScheduled = false;
  /** Set by closeAfterReply() while a command runs. */
  #closeRequested = false;
  /** No further requests are executed (QUIT, protocol error, shutdown). */
  #closing = false;
  #ended = false;
  #closed = false;
  #pausedForPending = false;
  #pausedForOutput = false;
  #closeCallbacks: (() => void)[] = [];
  #drained: (() => void) | undefined;

  constructor(o: ConnectionOptions) {
    this.#o = o;
    this.id = o.id;
    this.#socket = o.socket;
    this.remoteAddress = `${o.socket.remoteAddress}:${o.socket.remotePort}`;
    this.authenticated = o.config.server.requirepass === undefined;
    this.#parser = new RespRequestParser({
      argumentCountMax: o.limits.argumentCountMax,
      bulkBytesMax: o.limits.bulkBytesMax,
      inlineBytesMax: o.limits.inlineBytesMax,
    });
    this.#ctx = { db: o.db, config: o.config, connection: this, server: o.server, logger: o.logger };
    const socket = o.socket;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('drain', () => this.#onDrain());
    socket.on('error', (err) => o.logger.debug({ connection: this.id, err }, 'connection error'));
    socket.on('close', () => this.#onClose());
  }

  // -------------------------------------------------------------------------------------------------------------
  // ConnectionState

  get closed(): boolean {
    return this.#closed || this.#ended;
  }

  closeAfterReply(): void {
    this.#closeRequested = true;
  }

  later(): PendingReply {
    const slot = new Slot(undefined, this.#advanceBound);
    this.#queue.push(slot);
    this.#laterSlot = slot;
    return slot;
  }

  laterAppend(): AppendSlot {
    const slot = this.#freeAppendSlots.pop() ?? new AppendSlot(undefined, this.#advanceBound);
    this.#queue.push(slot);
    this.#laterSlot = slot;
    return slot;
  }

  /** Append slots whose replies were encoded, for laterAppend(). */
  readonly #freeAppendSlots: AppendSlot[] = [];

  /** The slot `later()` made for the command now executing (so #onRequest does not add another). */
  #laterSlot: Slot | undefined = undefined;
  readonly #advanceBound = (): void => this.#advance();

  push(write: Reply): boolean {
    if (this.closed) return false;
    if (this.#socket.writableLength + this.#encoder.length > this.#o.limits.pushOutputBytesMax) {
      this.#o.logger.warn({ connection: this.id, bytes: this.#socket.writableLength }, 'closing a connection over its push output limit');
      this.#socket.destroy();
      return false;
    }
    this.#add(write, false);
    // A catch-up pushes far more than one slab between two turns of the event loop: write each half slab as it
    // fills, so the encoder stays on pooled slabs of its usual size instead of growing one to megabytes.
    if (this.#encoder.length >= PUSH_FLUSH_BYTES) this.#flush();
    else this.#scheduleFlush();
    return true;
  }

  onClose(callback: () => void): void {
    if (this.#closed) queueMicrotask(callback);
    else this.#closeCallbacks.push(callback);
  }

  // -------------------------------------------------------------------------------------------------------------
  // Input

  #onData(chunk: Buffer): void {
    this.#o.counters.netInputBytes += chunk.length;
    if (this.#closing) return;
    const error = this.#parser.feed(chunk, this.#onRequest);
    if (error !== undefined) {
      this.#failProtocol(error);
    } else if (this.#parser.bufferedBytes > this.#o.limits.queryBufferBytesMax) {
      this.#failProtocol(new ProtocolError('query buffer limit reached (server.client_query_buffer_limit)'));
    }
    this.#flush();
    if (!this.#pausedForPending && this.#pending() >= this.#o.limits.pendingCommandsMax) {
      this.#pausedForPending = true;
      this.#updatePaused();
    }
  }

  readonly #onRequest = (request: RequestArguments): void => {
    if (this.#closing) return;
    this.#o.counters.commandsProcessed++;
    let result: Reply | Promise<Reply> | PendingReply;
    this.#laterSlot = undefined;
    if (this.authenticated) {
      const inPlace = findInPlace(request);
      if (inPlace !== undefined) {
        // The hot path (EAPPEND): the request read where it lies; undefined leaves it to the generic path below.
        let slot: PendingReply | undefined;
        try {
          slot = inPlace.executeInPlace!(this.#ctx, request);
        } catch (err) {
          // A bug (the in-place path throws nothing it expects): answered in the place it took, if it took one.
          const taken = this.#laterSlot as Slot | undefined;
          this.#laterSlot = undefined;
          if (taken === undefined) {
            this.#add(this.#errorReply(err), false);
          } else if (!taken.ready) taken.reject(err);
          return;
        }
        if (slot !== undefined) {
          this.#laterSlot = undefined;
          if ((slot as Slot).ready) this.#advance();
          return;
        }
      }
    }
    try {
      const { descriptor, args } = resolveCommand(request.toBuffers());
      checkAuthenticated(descriptor, this, this.#o.config);
      result = descriptor.execute(this.#ctx, args);
      if (result !== this.#laterSlot && typeof result !== 'function' && typeof (result as Partial<Promise<Reply>> | undefined)?.then !== 'function') {
        throw new Error(`${descriptor.name} returned neither a reply nor a promise of one`);
      }
    } catch (err) {
      const later = this.#laterSlot as Slot | undefined;
      if (later !== undefined) {
        // The command took a place in the order and then failed before completing it: answer there.
        this.#laterSlot = undefined;
        if (!later.ready) later.reject(err);
        return;
      }
      result = this.#errorReply(err);
    }
    if (result === this.#laterSlot) {
      this.#laterSlot = undefined;
      if (this.#closeRequested) {
        this.#closeRequested = false;
        this.#closing = true;
        (result as Slot).closeAfter = true;
      }
      // It may have completed already (a synchronous failure): encode what is ready.
      if ((result as Slot).ready) this.#advance();
      return;
    }
    if (this.#closeRequested) {
      this.#closeRequested = false;
      this.#closing = true;
      const slot = this.#add(result as Reply | Promise<Reply>, true);
      slot.closeAfter = true;
      return;
    }
    this.#add(result as Reply | Promise<Reply>, false);
  };

  #failProtocol(error: ProtocolError): void {
    this.#closing = true;
    this.#o.counters.errorReplies++;
    const reply = error.toReplyError();
    const slot = this.#add((e) => e.replyError(reply), true);
    slot.closeAfter = true;
  }

  // -------------------------------------------------------------------------------------------------------------
  // The ordered reply queue

  #pending(): number {
    return this.#queue.length - this.#head;
  }

  /** Adds a reply (or a promise of one) in order; encodes it at once when nothing is ahead of it. */
  #add(result: Reply | Promise<Reply>, forceSlot: boolean): Slot {
    if (typeof result === 'function') {
      if (!forceSlot && this.#pending() === 0) {
        this.#encode(result);
        return new Slot(undefined);
      }
      const slot = new Slot(result);
      this.#queue.push(slot);
      if (forceSlot) queueMicrotask(() => this.#advance());
      return slot;
    }
    const slot = new Slot(undefined);
    this.#queue.push(slot);
    result.then(
      (reply) => {
        slot.reply = reply;
        this.#advance();
      },
      (err: unknown) => {
        slot.reply = this.#errorReply(err);
        this.#advance();
      },
    );
    return slot;
  }

  /** Encodes the filled slots at the head of the queue, in order. */
  #advance(): void {
    if (this.#closed) return;
    const queue = this.#queue;
    let progressed = false;
    while (this.#head < queue.length) {
      const slot = queue[this.#head];
      if (!slot.ready) break;
      queue[this.#head++] = undefined as unknown as Slot;
      if (slot.write !== undefined) this.#encodeWith(slot.write, slot.value as never);
      else this.#encode(slot.reply ?? this.#errorReply(slot.error));
      progressed = true;
      if (slot instanceof AppendSlot && !slot.closeAfter && this.#freeAppendSlots.length < APPEND_SLOTS_KEPT_MAX) {
        slot.clear();
        this.#freeAppendSlots.push(slot);
      }
      if (slot.closeAfter) {
        this.#flush();
        this.#end();
        return;
      }
    }
    if (this.#head === queue.length) {
      this.#queue = [];
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > queue.length) {
      this.#queue = queue.slice(this.#head);
      this.#head = 0;
    }
    if (!progressed) return;
    this.#scheduleFlush();
    if (this.#pausedForPending && this.#pending() <= this.#o.limits.pendingCommandsResume) {
      this.#pausedForPending = false;
      this.#updatePaused();
    }
    if (this.#pending() === 0) this.#drained?.();
  }

  #encode(reply: Reply): void {
    this.#encodeWith(callReply, reply);
  }

  /** Encodes `write(encoder, value)` (a PendingReply's writer and value, or a Reply through callReply). */
  #encodeWith<T>(write: (e: RespEncoder, value: T) => void, value: T): void {
    const e = this.#encoder;
    const mark = e.length;
    try {
      write(e, value);
    } catch (err) {
      // A reply writer failed half-way: drop what it wrote, so the stream stays well-formed.
      e.truncate(mark);
      this.#o.logger.error({ connection: this.id, err }, 'reply writer failed');
      this.#o.counters.errorReplies++;
      e.error('ERR internal error while writing the reply');
    }
  }

  #errorReply(err: unknown): Reply {
    this.#o.counters.errorReplies++;
    if (err instanceof ReplyError) return (e) => e.replyError(err);
    if (err instanceof EngineError) {
      const text = err.toReply();
      return (e) => e.error(text);
    }
    this.#o.logger.error({ connection: this.id, err }, 'command failed');
    const message = err instanceof Error ? err.message : String(err);
    const reply = new ReplyError(errorCode.ERR, `internal error: ${message}`);
    return (e) => e.replyError(reply);
  }

  // -------------------------------------------------------------------------------------------------------------
  // Output

  #scheduleFlush(): void {
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    setImmediate(() => {
      this.#flushScheduled = false;
      this.#flush();
    });
  }

  #flush(): void {
    if (this.#encoder.length === 0 || this.#closed || this.#ended) return;
    const slab = this.#encoder.slab;
    const out = this.#encoder.take();
    this.#o.counters.netOutputBytes += out.length;
    this.#writes.push(out.buffer === slab.buffer ? slab : EMPTY_SLAB);
    this.#socket.write(out, this.#onWritten);
    // Written through to the kernel at once (the usual case): the slab's bytes are free again. Reusing it keeps a
    // busy connection from allocating a new 64 KiB slab every few replies (external memory that drives GC).
    if (this.#socket.writableLength === 0) this.#encoder.recycle();
    if (!this.#pausedForOutput && this.#socket.writableLength > this.#o.limits.outputPausedBytes) {
      this.#pausedForOutput = true;
      this.#updatePaused();
    }
  }

  /** The encoder moved on from `slab`: free now if no write of it is waiting, else when the last one completes. */
  #retire(slab: Buffer): void {
    if (this.#writes.length === this.#writesHead || this.#writes[this.#writes.length - 1] !== slab) giveSlab(slab);
  }

  readonly #onWritten = (): void => {
    const slab = this.#writes[this.#writesHead++];
    if (this.#writesHead === this.#writes.length) {
      this.#writes.length = 0;
      this.#writesHead = 0;
    } else if (this.#writes[this.#writesHead] === slab) {
      return; // a later write still uses it
    } else if (this.#writesHead >= 1024 && this.#writesHead * 2 >= this.#writes.length) {
      this.#writes = this.#writes.slice(this.#writesHead); // a connection that never drains: drop the done part
      this.#writesHead = 0;
    }
    if (slab !== this.#encoder.slab) giveSlab(slab);
  };

  #onDrain(): void {
    if (this.#pausedForOutput) {
      this.#pausedForOutput = false;
      this.#updatePaused();
    }
  }

  #updatePaused(): void {
    if (this.#closed) return;
    if (this.#pausedForPending || this.#pausedForOutput) this.#socket.pause();
    else this.#socket.resume();
  }

  /** Closes our side after the last reply; the client gets CLOSE_LINGER_MS to close its side. */
  #end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#closing = true;
    this.#socket.end();
    // Keep reading (and discarding) so the client's close is seen and the socket can finish.
    this.#pausedForPending = false;
    this.#pausedForOutput = false;
    this.#socket.resume();
    setTimeout(() => this.#socket.destroy(), CLOSE_LINGER_MS).unref();
  }

  #onClose(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#closing = true;
    this.#drained?.();
    for (const callback of this.#closeCallbacks.splice(0)) {
      try {
        callback();
      } catch (err) {
        this.#o.logger.error({ connection: this.id, err }, 'a connection close callback failed');
      }
    }
    this.#o.onClosed(this);
  }

  // -------------------------------------------------------------------------------------------------------------
  // Shutdown

  /**
   * Stops executing requests, lets the commands already running finish and their replies go out, then closes.
   * Resolves when the socket is closed.
   */
  shutdown(): Promise<void> {
    this.#closing = true;
    return new Promise((resolve) => {
      if (this.#closed) {
        resolve();
        return;
      }
      this.#socket.once('close', () => resolve());
      const finish = (): void => {
        this.#drained = undefined;
        this.#flush();
        this.#end();
      };
      if (this.#pending() === 0) finish();
      else this.#drained = finish;
    });
  }

  /** Closes at once, dropping unsent replies. */
  destroy(): void {
    this.#socket.destroy();
  }
}
