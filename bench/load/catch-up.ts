/**
 * Catch-up rate of a subscription: `EPSUB * FROM 0 WINDOW w` over a store holding `expectedEvents` events, timed
 * from the request to the arrival of the last event, acknowledging (EACK) as events arrive so the window never
 * closes.
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
  const ackEvery = o.ackEvery ?? Math.max(1, Math.floor(o.window / 4));
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: o.host, port: o.port, noDelay: true });
    const hello = new ReplyScanner();
    const encoder = new RespEncoder({ protocol: 3 });
    let phase: 'hello' | 'subscribe' | 'events' = 'hello';
    let subscriptionId = '';
    /** Bytes carried between chunks: an incomplete first line, or the tail that a header could straddle. */
    let carry = Buffer.alloc(0);
    let header: Buffer | undefined;
    let received = 0;
    let ackedCursor = -1;
    let startMs = 0;
    let firstEventMs = 0;
    let settled = false;
    const finish = (result: CatchUpResult | Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (result instanceof Error) reject(result);
      else resolve(result);
    };
    const timer = setTimeout(
      () => finish(new Error(`catch-up timed out after ${o.timeoutSeconds} s with ${received} of ${o.expectedEvents} events`)),
      o.timeoutSeconds * 1000,
    );
    const send = (args: string[]) => {
      encoder.arrayHeader(args.length);
      for (const a of args) encoder.bulkString(a);
      socket.write(encoder.take());
    };
    /** Counts `header` (and looks for an error line) in `chunk`, given the tail of the bytes before it in `carry`. */
    const scan = (chunk: Buffer): string | undefined => {
      let data = chunk;
      if (carry.length > 0) {
        if (chunk.length < 64) {
          data = Buffer.concat([carry, chunk]);
        } else {
          // Only what straddles the boundary needs the bytes before it: a short junction, not a copy of the chunk.
          const junction = Buffer.concat([carry, chunk.subarray(0, carry.length)]);
          const found = scanOne(junction, false);
          if (found !== undefined) return found;
        }
      }
      const found = scanOne(data, true);
      // Carry fewer bytes than a header, so that no header is counted twice, yet enough to find one that straddles.
      carry = Buffer.from(data.subarray(Math.max(0, data.length - ((header?.length ?? pushHeaders[1].length) - 1))));
      return found;
    };
    /** Counts headers in `data` (in a junction, only those starting in its carried part) and finds an error line. */
    const scanOne = (data: Buffer, all: boolean): string | undefined => {
      if (header === undefined) {
        // Learn how this server spells the push kind from the first push.
        const found = pushHeaders.map((h) => data.indexOf(h)).map((i, k) => ({ i, k })).filter((x) => x.i >= 0);
        if (found.length > 0) header = pushHeaders[found.sort((a, b) => a.i - b.i)[0].k];
      }
      const limit = all ? data.length : carry.length;
      if (header !== undefined) {
        for (let i = data.indexOf(header); i !== -1 && i < limit; i = data.indexOf(header, i + header.length)) received++;
      }
      const err = data.indexOf(errorLine);
      if (err !== -1 && (all || err < carry.length)) {
        const end = data.indexOf('\r\n', err + 2);
        return data.toString('utf8', err + 3, end === -1 ? data.length : end);
      }
      return undefined;
    };
    const events = (chunk: Buffer) => {
      const before = received;
      const error = scan(chunk);
      if (error !== undefined) return finish(new Error(`error during catch-up: ${error}`));
      if (before === 0 && received > 0) firstEventMs = performance.now() - startMs;
      if (received > o.expectedEvents) return finish(new Error(`${received} events arrived, more than the ${o.expectedEvents} stored`));
      if (received === o.expectedEvents) {
        const seconds = (performance.now() - startMs) / 1000;
        return finish({ supported: true, events: received, seconds, eventsPerSecond: received / seconds, firstEventMs, window: o.window });
      }
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
            if (r.type === 45 || r.type === 33) return finish({ supported: false, reason: `HELLO 3 failed: ${r.text}` });
            phase = 'subscribe';
            startMs = performance.now();
            send(['EPSUB', '*', 'FROM', '0', 'WINDOW', String(o.window)]);
          });
        } catch (err) {
          finish(err as Error);
        }
        return;
      }
      // The first line after EPSUB is its reply: +<subscription id> or an error.
      const data = carry.length > 0 ? Buffer.concat([carry, chunk]) : chunk;
      const eol = data.indexOf('\r\n');
      if (eol === -1) {
        carry = Buffer.from(data);
        return;
      }
      carry = Buffer.alloc(0);
      const line = data.toString('utf8', 1, eol);
      if (data[0] === 45 /* - */) return finish({ supported: false, reason: `EPSUB refused: ${line}` });
      if (data[0] !== 43 /* + */) return finish(new Error(`EPSUB: expected +<subscription id>, got ${JSON.stringify(data.toString('utf8', 0, eol))}`));
      subscriptionId = line;
      phase = 'events';
      events(data.subarray(eol + 2));
    });
    socket.once('error', (err) => finish(err));
    socket.once('close', () => finish(new Error(`connection closed after ${received} of ${o.expectedEvents} events`)));
    socket.once('connect', () => send(['HELLO', '3']));
  });
}
