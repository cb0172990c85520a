/**
 * A bare TCP client for pinning exact bytes: send anything, read raw bytes or parsed replies.
 */
import net from 'node:net';
import { RespReplyParser, type RespValue } from '../../../src/protocol/resp-reply-parser.ts';

export class RawClient {
  readonly socket: net.Socket;
  #buffer = Buffer.alloc(0);
  #closed = false;
  #waiters: (() => void)[] = [];

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on('data', (d: Buffer) => {
      this.#buffer = Buffer.concat([this.#buffer, d]);
      this.#wake();
    });
    socket.on('close', () => {
      this.#closed = true;
      this.#wake();
    });
    socket.on('error', () => {});
  }

  static connect(port: number): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: '127.0.0.1', port }, () => resolve(new RawClient(socket)));
      socket.once('error', reject);
    });
  }

  get closed(): boolean {
    return this.#closed;
  }

  #wake(): void {
    for (const w of this.#waiters.splice(0)) w();
  }

  async #waitFor(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!condition()) {
      if (this.#closed && !condition()) throw new Error(`connection closed while waiting for ${what}; got ${JSON.stringify(this.#buffer.toString('latin1'))}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}; got ${JSON.stringify(this.#buffer.toString('latin1').slice(0, 2000))}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  /** Sends a command as a RESP array of bulk strings. */
  send(...args: (string | Buffer)[]): void {
    this.write(encodeCommand(args));
  }

  /** Waits for exactly `n` bytes and returns them (leaving the rest buffered). */
  async readBytes(n: number, timeoutMs = 10_000): Promise<Buffer> {
    await this.#waitFor(() => this.#buffer.length >= n, timeoutMs, `${n} bytes`);
    const out = this.#buffer.subarray(0, n);
    this.#buffer = this.#buffer.subarray(n);
    return Buffer.from(out);
  }

  /** Waits until the buffer ends with `suffix` (or holds it), returns everything up to and including it. */
  async readUntil(suffix: string, timeoutMs = 10_000): Promise<string> {
    await this.#waitFor(() => this.#buffer.includes(suffix), timeoutMs, JSON.stringify(suffix));
    const at = this.#buffer.indexOf(suffix) + Buffer.byteLength(suffix);
    const out = this.#buffer.subarray(0, at).toString('latin1');
    this.#buffer = this.#buffer.subarray(at);
    return out;
  }

  /** Parses and returns the next `n` replies, consuming their bytes. */
  async readReplies(n: number, timeoutMs = 10_000): Promise<RespValue[]> {
    let parsed: { values: RespValue[]; consumed: number } = { values: [], consumed: 0 };
    await this.#waitFor(
      () => {
        parsed = parseReplies(this.#buffer, n);
        return parsed.values.length >= n;
      },
      timeoutMs,
      `${n} replies`,
    );
    this.#buffer = this.#buffer.subarray(parsed.consumed);
    return parsed.values;
  }

  async readReply(timeoutMs = 10_000): Promise<RespValue> {
    return (await this.readReplies(1, timeoutMs))[0];
  }

  /** Resolves when the server has closed the connection; returns what was left unread. */
  async waitClosed(timeoutMs = 10_000): Promise<Buffer> {
    await this.#waitFor(() => this.#closed, timeoutMs, 'close');
    return this.#buffer;
  }

  /** Everything buffered and not yet read. */
  takeBuffered(): Buffer {
    const out = this.#buffer;
    this.#buffer = Buffer.alloc(0);
    return out;
  }

  close(): void {
    this.socket.destroy();
  }
}

/**
 * Parses up to `max` replies from the start of `buf`. A reply always ends with a line feed, so the buffer is fed
 * line by line and the offset after the feed that completed the n-th reply is where it ends.
 */
export function parseReplies(buf: Buffer, max: number): { values: RespValue[]; consumed: number } {
  const parser = new RespReplyParser();
  const values: RespValue[] = [];
  let pos = 0;
  let consumed = 0;
  while (values.length < max) {
    const nl = buf.indexOf(10, pos);
    if (nl === -1) break;
    const before = values.length;
    const error = parser.feed(buf.subarray(pos, nl + 1), (v) => values.push(v));
    if (error !== undefined) throw error;
    pos = nl + 1;
    if (values.length > before) consumed = pos;
  }
  return { values, consumed };
}

export function encodeCommand(args: (string | Buffer)[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const a of args) {
    const b = typeof a === 'string' ? Buffer.from(a, 'utf8') : a;
    parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}
