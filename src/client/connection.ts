/**
 * One TCP connection to a SierraDB-compatible server: requests as RESP arrays of bulk strings, replies read with
 * the incremental RespReplyParser, matched to requests in order (pipelining), and pushes handed to a listener.
 *
 * Ordering guarantee the subscription manager relies on: a request's `onReply` hook runs synchronously when its
 * reply is parsed, before any value that follows it on the wire (such as the `subscribe` and `message` pushes
 * that follow an ESUB reply) is dispatched. A promise continuation would run too late for that.
 *
 * Push frames are told apart from replies by their RESP3 type (`>`). After `HELLO 2` a server writes pushes as
 * plain arrays, which cannot be told apart; use RESP3 (the default) on connections that subscribe.
 */
import net from 'node:net';
import { ReplyError } from '../protocol/reply-error.ts';
import { RespEncoder } from '../protocol/resp-encoder.ts';
import { RespPush, RespReplyParser, type RespValue } from '../protocol/resp-reply-parser.ts';

export type Argument = string | number | Uint8Array;

/** The connection closed (or failed) before the reply arrived. */
export class ConnectionClosedError extends Error {
  constructor(message = 'the connection is closed', options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ConnectionClosedError';
  }
}

export interface ConnectOptions {
  host?: string;
  port?: number;
  /** Give up connecting after this long. */
  connectTimeoutMs?: number;
}

export const connectDefaults = {
  host: '127.0.0.1',
  port: 9090,
  connectTimeoutMs: 10_000,
} as const;

interface PendingRequest {
  resolve: (value: RespValue) => void;
  reject: (error: Error) => void;
  onReply: ((value: RespValue) => void) | undefined;
}

export class RespConnection {
  readonly socket: net.Socket;
  readonly #parser = new RespReplyParser();
  readonly #encoder = new RespEncoder();
  readonly #pending: PendingRequest[] = [];
  #pendingHead = 0;
  #closed = false;
  #closeError: Error | undefined;
  #pushListener: ((push: RespPush) => void) | undefined;
  readonly #closeListeners: ((error: Error | undefined) => void)[] = [];

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('error', (err) => this.#close(err));
    socket.on('close', () => this.#close(undefined));
  }

  static connect(options: ConnectOptions = {}): Promise<RespConnection> {
    const host = options.host ?? connectDefaults.host;
    const port = options.port ?? connectDefaults.port;
    const timeoutMs = options.connectTimeoutMs ?? connectDefaults.connectTimeoutMs;
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host, port });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new ConnectionClosedError(`connecting to ${host}:${port} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      const onError = (err: Error) => {
        clearTimeout(timer);
        reject(new ConnectionClosedError(`cannot connect to ${host}:${port}: ${err.message}`, { cause: err }));
      };
      socket.once('error', onError);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.off('error', onError);
        resolve(new RespConnection(socket));
      });
    });
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Requests sent and not yet answered. */
  get pendingCount(): number {
    return this.#pending.length - this.#pendingHead;
  }

  /** Receives every push frame (RESP3 `>`), in wire order. One listener. */
  onPush(listener: (push: RespPush) => void): void {
    this.#pushListener = listener;
  }

  /** Called once when the connection closes, with the error if it failed. */
  onClose(listener: (error: Error | undefined) => void): void {
    if (this.#closed) queueMicrotask(() => listener(this.#closeError));
    else this.#closeListeners.push(listener);
  }

  /**
   * Sends one command. Resolves with its reply; an error reply rejects with a ReplyError. `onReply` runs
   * synchronously when the reply is parsed (error replies included), before anything after it is dispatched.
   */
  send(args: readonly Argument[], onReply?: (value: RespValue) => void): Promise<RespValue> {
    if (this.#closed) return Promise.reject(new ConnectionClosedError(undefined, { cause: this.#closeError }));
    return new Promise((resolve, reject) => {
      const e = this.#encoder;
      e.arrayHeader(args.length);
      for (const a of args) e.bulkString(typeof a === 'number' ? String(a) : a);
      this.#pending.push({ resolve, reject, onReply });
      this.socket.write(e.take());
    });
  }

  /** Closes the connection; requests still pending reject with ConnectionClosedError. */
  close(): void {
    this.socket.destroy();
    this.#close(undefined);
  }

  #onData(chunk: Buffer): void {
    const err = this.#parser.feed(chunk, (value) => this.#dispatch(value));
    if (err !== undefined) {
      this.socket.destroy();
      this.#close(err);
    }
  }

  #dispatch(value: RespValue): void {
    if (value instanceof RespPush) {
      this.#pushListener?.(value);
      return;
    }
    const request = this.#pending[this.#pendingHead];
    if (request === undefined) {
      this.socket.destroy();
      this.#close(new Error('the server sent a reply nobody asked for'));
      return;
    }
    this.#pending[this.#pendingHead++] = undefined as unknown as PendingRequest;
    if (this.#pendingHead > 1024 && this.#pendingHead * 2 > this.#pending.length) {
      this.#pending.splice(0, this.#pendingHead);
      this.#pendingHead = 0;
    }
    request.onReply?.(value);
    if (value instanceof ReplyError) request.reject(value);
    else request.resolve(value);
  }

  #close(error: Error | undefined): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#closeError = error;
    const failure = new ConnectionClosedError(error ? `the connection failed: ${error.message}` : 'the connection closed', { cause: error });
    const pending = this.#pending.slice(this.#pendingHead);
    this.#pending.length = 0;
    this.#pendingHead = 0;
    for (const r of pending) r.reject(failure);
    for (const l of this.#closeListeners.splice(0)) l(error);
  }
}
