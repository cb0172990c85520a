/**
 * Catch-up rate of a subscription: `EPSUB * FROM 0 WINDOW w` over a store holding `expectedEvents` events, timed
 * from the request to the arrival of the last event, acknowledging (EACK) as events arrive so the window never
 * closes. Beneath it, subscribeCounting: such a subscription from any start (FROM LATEST for a live subscriber
 * during appends, bench:compare), counting what arrives.
 *
 * Wire (shared/sierradb-reference.md): `+<subscription id>`, `>3 subscribe <id> <n>`, then per event
 * `>4 message <id> <cursor> <event map>`; `EACK <id> <cursor>` answers `+OK`. Cursors count events from 0.
 *
 * Counting events. Walking every value of every event map costs the client about 1 µs per event (27 RESP values),
 * as much as the rate being measured, on cores it shares with the server. So events are counted by searching the
 * bytes for the push header `>4\r\n+message\r\n` (or its bulk-string spelling), which is native and costs a
 * few ns per event, and the cursor is the count. This is exact as long as no CR LF appears inside a blob of an
 * event, which holds for the stores this harness fills (letters and digits only); the count must also come out
 * exactly at `expectedEvents` and no error line (`\r\n-`) may appear, or the measurement fails.
 */
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { RespEncoder } from '../../src/protocol/resp-encoder.ts';
import { ReplyScanner } from './reply-scanner.ts';

const pushHeaders = [Buffer.from('>4\r\n+message\r\n'), Buffer.from('>4\r\n$7\r\nmessage\r\n')];
const errorLine = Buffer.from('\r\n-');

export type CatchUpOptions = {
  host: string;
  port: number;
  expectedEvents: number;
  window: number;
  /** Acknowledge after this many events (default: a quarter of the window). */
  ackEvery?: number;
  timeoutSeconds: number;
};

export type CatchUpResult =
  | { supported: true; events: number; seconds: number; eventsPerSecond: number; firstEventMs: number; window: number }
  | { supported: false; reason: string };

export function measureCatchUp(o: CatchUpOptions): Promise<CatchUpResult> {
  return new Promise((resolve, reject) => {
    let startMs = 0;
    let firstEventMs = 0;
    let settled = false;
    const finish = (result: CatchUpResult | Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sub.close();
      if (result instanceof Error) reject(result);
      else resolve(result);
    };
    const timer = setTimeout(
      () => finish(new Error(`catch-up timed out after ${o.timeoutSeconds} s with ${sub.received} of ${o.expectedEvents} events`)),
      o.timeoutSeconds * 1000,
    );
    const sub = subscribeCounting({
      host: o.host,
      port: o.port,
      from: '0',
      window: o.window,
      ackEvery: o.ackEvery,
      onSubscribing: () => (startMs = performance.now()),
      onEvents: (before, received) => {
        if (before === 0 && received > 0) firstEventMs = performance.now() - startMs;
        if (received > o.expectedEvents) return finish(new Error(`${received} events arrived, more than the ${o.expectedEvents} stored`));
        if (received === o.expectedEvents) {
          const seconds = (performance.now() - startMs) / 1000;
          finish({ supported: true, events: received, seconds, eventsPerSecond: received / seconds, firstEventMs, window: o.window });
        }
      },
      onRefused: (reason) => finish({ supported: false, reason }),
      onError: (err) => finish(err),
    });
  });
}

export type CountingOptions = {
  host: string;
  port: number;
  /** EPSUB's FROM: `0` (every stored event) or `LATEST` (only what is appended after the subscription). */
  from: '0' | 'LATEST';
  window: number;
  /** Acknowledge after this many events (default: a quarter of the window). */
  ackEvery?: number;
  /** EPSUB is being sent (HELLO went through). */
  onSubscribing?: () => void;
  /** EPSUB answered with the subscription id. */
  onSubscribed?: (id: string) => void;
  /** Events arrived: the count before this chunk and after it. */
  onEvents?: (before: number, received: number) => void;
  /** HELLO 3 or EPSUB was answered with an error. */
  onRefused: (reason: string) => void;
  /** The connection failed or closed, or an error line came among the events. */
  onError: (err: Error) => void;
};

export type CountingSubscription = {
  /** Events received so far (the next cursor). */
  readonly received: number;
  close(): void;
};

/**
 * `EPSUB * FROM <from> WINDOW <window>` on a connection of its own, counting the events as they arrive (by their
 * push headers, see the module comment) and acknowledging them as it goes, so the window never closes.
 */
export function subscribeCounting(o: CountingOptions): CountingSubscription {
  const ackEvery = o.ackEvery ?? Math.max(1, Math.floor(o.window / 4));
  const socket = net.connect({ host: o.host, port: o.port, noDelay: true });
  const hello = new ReplyScanner();
  const encoder = new RespEncoder({ protocol: 3 });
  const counter = new PushCounter();
  let phase: 'hello' | 'subscribe' | 'events' | 'closed' = 'hello';
  let subscriptionId = '';
  /** An incomplete first line after EPSUB, carried to the next chunk. */
  let lineCarry = Buffer.alloc(0);
  let ackedCursor = -1;
  const fail = (err: Error) => {
    if (phase === 'closed') return;
    phase = 'closed';
    socket.destroy();
    o.onError(err);
  };
  const refuse = (reason: string) => {
    if (phase === 'closed') return;
    phase = 'closed';
    socket.destroy();
    o.onRefused(reason);
  };
  const send = (args: string[]) => {
    encoder.arrayHeader(args.length);
    for (const a of args) encoder.bulkString(a);
    socket.write(encoder.take());
  };
  const events = (chunk: Buffer) => {
    const before = counter.count;
    const error = counter.feed(chunk);
    if (error !== undefined) return fail(new Error(`error among the events: ${error}`));
    const received = counter.count;
    if (received !== before) o.onEvents?.(before, received);
    if (phase !== 'events') return; // closed by onEvents
    if (received - 1 - ackedCursor >= ackEvery) {
      ackedCursor = received - 1;
      send(['EACK', subscriptionId, String(ackedCursor)]);
    }
  };
  socket.on('data', (chunk: Buffer) => {
    if (phase === 'events') return events(chunk);
    if (phase === 'hello') {
      try {
        hello.feed(chunk, (r) => {
          if (r.type === 45 || r.type === 33) return refuse(`HELLO 3 failed: ${r.text}`);
          phase = 'subscribe';
          o.onSubscribing?.();
          send(['EPSUB', '*', 'FROM', o.from, 'WINDOW', String(o.window)]);
        });
      } catch (err) {
        fail(err as Error);
      }
      return;
    }
    if (phase !== 'subscribe') return;
    // The first line after EPSUB is its reply: +<subscription id> or an error.
    const data = lineCarry.length > 0 ? Buffer.concat([lineCarry, chunk]) : chunk;
    const eol = data.indexOf('\r\n');
    if (eol === -1) {
      lineCarry = Buffer.from(data);
      return;
    }
    lineCarry = Buffer.alloc(0);
    const line = data.toString('utf8', 1, eol);
    if (data[0] === 45 /* - */) return refuse(`EPSUB refused: ${line}`);
    if (data[0] !== 43 /* + */) return fail(new Error(`EPSUB: expected +<subscription id>, got ${JSON.stringify(data.toString('utf8', 0, eol))}`));
    subscriptionId = line;
    phase = 'events';
    o.onSubscribed?.(line);
    events(data.subarray(eol + 2));
  });
  socket.once('error', (err) => fail(err));
  socket.once('close', () => fail(new Error(`connection closed after ${counter.count} events`)));
  socket.once('connect', () => send(['HELLO', '3']));
  return {
    get received() {
      return counter.count;
    },
    close() {
      if (phase === 'closed') return;
      phase = 'closed';
      socket.destroy();
    },
  };
}

/** Counts `>4 message` pushes in a byte stream by their headers, and finds an error line (see the module comment). */
export class PushCounter {
  count = 0;
  /** How this server spells the push kind, learnt from the first push. */
  #header: Buffer | undefined;
  /** The tail of the bytes before the next chunk that a header could straddle. */
  #carry = Buffer.alloc(0);

  /** Counts the pushes in `chunk`; returns an error line's text if one appears. */
  feed(chunk: Buffer): string | undefined {
    let data = chunk;
    if (this.#carry.length > 0) {
      if (chunk.length < 64) {
        data = Buffer.concat([this.#carry, chunk]);
      } else {
        // Only what straddles the boundary needs the bytes before it: a short junction, not a copy of the chunk.
        const junction = Buffer.concat([this.#carry, chunk.subarray(0, this.#carry.length)]);
        const found = this.#scan(junction, false);
        if (found !== undefined) return found;
      }
    }
    const found = this.#scan(data, true);
    // Carry fewer bytes than a header, so that no header is counted twice, yet enough to find one that straddles.
    this.#carry = Buffer.from(data.subarray(Math.max(0, data.length - ((this.#header?.length ?? pushHeaders[1].length) - 1))));
    return found;
  }

  /** Counts headers in `data` (in a junction, only those starting in its carried part) and finds an error line. */
  #scan(data: Buffer, all: boolean): string | undefined {
    if (this.#header === undefined) {
      const found = pushHeaders.map((h) => data.indexOf(h)).map((i, k) => ({ i, k })).filter((x) => x.i >= 0);
      if (found.length > 0) this.#header = pushHeaders[found.sort((a, b) => a.i - b.i)[0].k];
    }
    const limit = all ? data.length : this.#carry.length;
    const header = this.#header;
    if (header !== undefined) {
      for (let i = data.indexOf(header); i !== -1 && i < limit; i = data.indexOf(header, i + header.length)) this.count++;
    }
    const err = data.indexOf(errorLine);
    if (err !== -1 && (all || err < this.#carry.length)) {
      const end = data.indexOf('\r\n', err + 2);
      return data.toString('utf8', err + 3, end === -1 ? data.length : end);
    }
    return undefined;
  }
}
