/**
 * Catch-up rate of a subscription: `EPSUB * FROM 0 WINDOW w` over a store holding `expectedEvents` events, timed
 * from the request to the arrival of the last event, acknowledging (EACK) as events arrive so the window never
 * closes. Events are counted with the reply scanner (no event is decoded), so the client costs as little of the
 * shared CPU as possible.
 *
 * Wire (shared/sierradb-reference.md): `+<subscription id>`, `>3 subscribe <id> <n>`, then per event
 * `>4 message <id> <cursor> <event map>`; `EACK <id> <cursor>` answers `+OK`.
 */
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { RespEncoder } from '../../src/protocol/resp-encoder.ts';
import { ReplyScanner, type ScannedReply } from './reply-scanner.ts';

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
    const scanner = new ReplyScanner({ captureItems: 3 });
    const encoder = new RespEncoder({ protocol: 3 });
    let phase: 'hello' | 'subscribe' | 'events' = 'hello';
    let subscriptionId = '';
    let received = 0;
    let lastCursor = -1;
    let ackedCursor = -1;
    let startMs = 0;
    let firstEventMs = 0;
    let lastEventMs = 0;
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
    const onReply = (r: ScannedReply) => {
      const isError = r.type === 45 || r.type === 33;
      if (phase === 'hello') {
        if (isError) return finish({ supported: false, reason: `HELLO 3 failed: ${r.text}` });
        phase = 'subscribe';
        startMs = performance.now();
        send(['EPSUB', '*', 'FROM', '0', 'WINDOW', String(o.window)]);
        return;
      }
      if (phase === 'subscribe') {
        if (isError) return finish({ supported: false, reason: `EPSUB refused: ${r.text}` });
        if (r.type !== 43) return finish(new Error(`EPSUB: expected +<subscription id>, got type ${String.fromCharCode(r.type)}`));
        subscriptionId = r.text;
        phase = 'events';
        return;
      }
      if (r.type === 62 && r.itemCount >= 3 && r.items[0].text === 'message') {
        if (received === 0) firstEventMs = performance.now() - startMs;
        received++;
        lastCursor = Number(r.items[2].text);
        if (received >= o.expectedEvents) {
          lastEventMs = performance.now();
          const seconds = (lastEventMs - startMs) / 1000;
          return finish({ supported: true, events: received, seconds, eventsPerSecond: received / seconds, firstEventMs, window: o.window });
        }
        if (lastCursor - ackedCursor >= ackEvery) {
          ackedCursor = lastCursor;
          send(['EACK', subscriptionId, String(lastCursor)]);
        }
      } else if (isError) {
        finish(new Error(`error during catch-up: ${r.text}`));
      }
      // Anything else: the subscribe push, or +OK for an EACK.
    };
    socket.on('data', (chunk: Buffer) => {
      try {
        scanner.feed(chunk, onReply);
      } catch (err) {
        finish(err as Error);
      }
    });
    socket.once('error', (err) => finish(err));
    socket.once('close', () => finish(new Error(`connection closed after ${received} of ${o.expectedEvents} events`)));
    socket.once('connect', () => send(['HELLO', '3']));
  });
}
