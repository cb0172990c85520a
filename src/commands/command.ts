/**
 * The shape of a command: one file per command exports a {@link CommandDescriptor}; `command-table.ts` registers
 * them, and arity checks, `COMMAND DOCS`/`COMMAND COUNT`/`COMMAND INFO` and the README's command list all come from
 * that table (as Redis generates them from `src/commands/*.json`).
 *
 * A command parses its arguments and returns a {@link Reply}: a function that writes the reply into the
 * connection's encoder. Asynchronous commands return a promise of one. The connection writes replies strictly in
 * request order (pipelining), and writes pushes (subscription messages) only between whole replies.
 *
 * Conventions the server relies on:
 * - `execute(ctx, args)` gets the arguments AFTER the command name (after the subcommand name for a subcommand):
 *   for `EAPPEND s E PAYLOAD x`, args is `[s, E, PAYLOAD, x]`. The name, the subcommand and the arity (`arity`,
 *   counting the name as Redis does) are checked by the table before `execute` runs.
 * - Arguments are Buffers that may be views into the socket's read chunk; they stay valid (Node never reuses a
 *   read chunk), but copy one if you keep it for long, so the whole chunk is not kept alive.
 * - An error reply is a thrown (or rejected) `ReplyError` (`-CODE message`) or `EngineError` (its `toReply()`).
 *   Anything else thrown is a bug: the server logs it and answers `-ERR internal error`.
 * - A Reply runs when its turn comes in the ordered reply queue, so it is the place for effects that must take
 *   place in order on the wire: `HELLO 2` sets `encoder.protocol` inside its Reply, so the replies before it are
 *   still RESP3 and its own reply is RESP2.
 * - A Reply must write exactly one whole reply (it may add push frames after it, as ESUB does with `>3 subscribe`).
 */
import type { Config } from '../config/config-schema.ts';
import type { Database } from '../database.ts';
import type { RespEncoder } from '../protocol/resp-encoder.ts';
import type { Logger } from '../logging/logger.ts';
import type { AppendSink } from '../engine/in-place-append.ts';
import type { RequestArguments } from '../protocol/request-arguments.ts';

export type Reply = (encoder: RespEncoder) => void;

/**
 * A reply a command gives later, without a Promise: `execute` takes one from `ConnectionState.later()` (which
 * holds its place in the reply order), returns it, and completes it exactly once. EAPPEND's path: no Promise,
 * no reactions and no closure per reply (the writer and its value are kept apart).
 */
export interface PendingReply {
  resolve<T>(write: (encoder: RespEncoder, value: T) => void, value: T): void;
  reject(error: unknown): void;
}

export type CommandFlag =
  | 'write' // appends
  | 'readonly' // reads
  | 'fast' // O(1)
  | 'noauth' // allowed before AUTH when a password is required: only HELLO, AUTH and QUIT
  | 'pubsub' // subscriptions
  | 'connection'; // connection state (HELLO, CLIENT, SELECT, QUIT)

/** One argument of the grammar, in Redis's COMMAND DOCS terms (used for redis-cli hints). */
export interface ArgumentSpec {
  name: string;
  type: 'string' | 'integer' | 'double' | 'key' | 'pattern' | 'unix-time' | 'pure-token' | 'oneof' | 'block';
  token?: string;
  optional?: boolean;
  multiple?: boolean;
  arguments?: ArgumentSpec[];
}

export interface CommandDescriptor {
  /** Upper-case name; subcommands are `CLIENT|SETNAME` style in the table. */
  name: string;
  /** Redis convention, counting the name: N means exactly N, -N means at least N. */
  arity: number;
  flags: readonly CommandFlag[];
  group: 'sierradb' | 'connection' | 'server' | 'pubsub';
  since: string;
  summary: string;
  /** The grammar as the README shows it. */
  syntax: string;
  arguments?: ArgumentSpec[];
  examples?: string[];
  subcommands?: CommandDescriptor[];
  execute(ctx: CommandContext, args: Buffer[]): Reply | Promise<Reply> | PendingReply;
  /**
   * A hot path, for a command without subcommands: the request read in place (`request` holds the name too, at
   * 0), with no Buffer per argument. It returns the PendingReply it took from `later()`/`laterAppend()`, or
   * undefined, having taken none and changed nothing, for a request it leaves to `execute` (anything out of the
   * ordinary: an unknown or repeated option, a value to check closely), which then answers as it always would.
   * Called once the name, arity and authentication have passed.
   */
  executeInPlace?(ctx: CommandContext, request: RequestArguments): PendingReply | undefined;
}

/** Per-connection state that commands may read or change. */
export interface ConnectionState {
  readonly id: number;
  protocol: 2 | 3;
  name: string | undefined;
  authenticated: boolean;
  libName?: string;
  libVersion?: string;
  /** Asks the connection to close after the current reply is written (QUIT). */
  closeAfterReply(): void;
  /** A place in the reply order for the command being executed, completed later (see PendingReply). */
  later(): PendingReply;
  /** `later()` for an in-place append: the slot is the append's sink and writes the EAPPEND reply itself. */
  laterAppend(): PendingReply & AppendSink;
  /**
   * Writes a push frame (subscriptions) between replies. Returns false when the connection's output buffer is over
   * its limit (the connection is then being closed).
   *
   * Order: a push goes behind every reply to a command received before the call (it joins the ordered reply queue
   * as an already-answered entry), so a subscription's pushes never overtake the reply that created it, even when
   * appends pipelined ahead of it are still waiting for their fsync. With nothing pending it is written at once.
   */
  push(write: Reply): boolean;
  /** True once the socket is closed (or closing): pushes are then dropped. */
  readonly closed: boolean;
  /** Called once when the connection closes (subscriptions free their resources here). */
  onClose(callback: () => void): void;
}

export interface ServerInfo {
  readonly version: string;
  readonly peerId: string;
  readonly startedAtMs: number;
  readonly port: number;
  connectedClients(): number;
  totalCommands(): number;
  /** Counters for INFO (connections received and rejected, bytes in and out, error replies). */
  counters(): ServerCounters;
}

export interface ServerCounters {
  connectionsReceived: number;
  connectionsRejected: number;
  commandsProcessed: number;
  errorReplies: number;
  netInputBytes: number;
  netOutputBytes: number;
}

export interface CommandContext {
  readonly db: Database;
  readonly config: Config;
  readonly connection: ConnectionState;
  readonly server: ServerInfo;
  /** The server's logger (a child per connection would cost too much; bind what you need). */
  readonly logger?: Logger;
}
