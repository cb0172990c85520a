/**
 * The shape of a command: one file per command exports a {@link CommandDescriptor}; `command-table.ts` registers
 * them, and arity checks, `COMMAND DOCS`/`COMMAND COUNT`/`COMMAND INFO` and the README's command list all come from
 * that table (as Redis generates them from `src/commands/*.json`).
 *
 * A command parses its arguments and returns a {@link Reply}: a function that writes the reply into the
 * connection's encoder. Asynchronous commands return a promise of one. The connection writes replies strictly in
 * request order (pipelining), and writes pushes (subscription messages) only between whole replies.
 */
import type { Config } from '../config/config-schema.ts';
import type { Database } from '../database.ts';
import type { RespEncoder } from '../protocol/resp-encoder.ts';

export type Reply = (encoder: RespEncoder) => void;

export type CommandFlag =
  | 'write' // appends
  | 'readonly' // reads
  | 'fast' // O(1)
  | 'noauth' // allowed before AUTH (HELLO, AUTH, QUIT, PING in RESP2? no: only HELLO/AUTH/QUIT)
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
  execute(ctx: CommandContext, args: Buffer[]): Reply | Promise<Reply>;
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
  /**
   * Writes a push frame (subscriptions) between replies. Returns false when the connection's output buffer is over
   * its limit (the connection is then being closed).
   */
  push(write: Reply): boolean;
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
}

export interface CommandContext {
  readonly db: Database;
  readonly config: Config;
  readonly connection: ConnectionState;
  readonly server: ServerInfo;
}
