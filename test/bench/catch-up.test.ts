/**
 * The catch-up meter against a fake subscription server: it must count every event exactly, whatever the chunk
 * boundaries (headers straddling reads), acknowledge as it goes, and report a refused EPSUB as unsupported.
 */
import net from 'node:net';
import { afterEach, expect, it } from 'vitest';
import { measureCatchUp } from '../../bench/load/catch-up.ts';
import { RespEncoder } from '../../src/protocol/resp-encoder.ts';
import { RespRequestParser } from '../../src/protocol/resp-request-parser.ts';

const servers: net.Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
});

/**
 * A fake EPSUB server that honours the window: it sends an event only while fewer than `window` are
 * unacknowledged, in writes of `chunkBytes` (so that push headers straddle reads), with +OK replies to EACK placed
 * between pushes, as a real server places them.
 */
async function fakeSubscriptionServer(events: number, opts: { refuse?: boolean; chunkBytes: number; acks: string[][] }): Promise<number> {
  const server = net.createServer((socket) => {
    const parser = new RespRequestParser();
    let window = 0;
    let sent = 0;
    let acked = -1;
    let pending = Buffer.alloc(0);
    let writing = false;
    const e = new RespEncoder({ protocol: 3 });
    const pump = () => {
      if (pending.length === 0 || socket.destroyed) {
        writing = false;
        return;
      }
      writing = true;
      socket.write(pending.subarray(0, opts.chunkBytes));
      pending = pending.subarray(opts.chunkBytes);
      setImmediate(pump);
    };
    const flush = () => {
      while (sent < events && sent - acked <= window) {
        e.pushHeader(4);
        e.simpleString('message');
        e.simpleString('sub-1');
        e.integer(sent);
        e.mapHeader(2);
        e.simpleString('stream_version');
        e.integer(sent);
        e.simpleString('payload');
        e.bulkString(Buffer.alloc(1 + (sent % 37), 'p'));
        sent++;
      }
      pending = Buffer.concat([pending, e.take()]);
      if (!writing) pump();
    };
    socket.on('data', (chunk: Buffer) =>
      parser.feed(chunk, (request) => {
        const args = request.toBuffers();
        const name = args[0].toString();
        if (name === 'HELLO') {
          e.mapHeader(1);
          e.bulkString('server');
          e.bulkString('fake');
        } else if (name === 'EACK') {
          opts.acks.push(args.map(String));
          acked = Number(args[2]);
          e.simpleString('OK');
        } else if (opts.refuse) {
          e.error("INVALIDARG unknown command 'EPSUB'");
        } else {
          expect(args.map(String)).toEqual(['EPSUB', '*', 'FROM', '0', 'WINDOW', '100']);
          window = 100;
          e.simpleString('sub-1');
          e.pushHeader(3);
          e.simpleString('subscribe');
          e.simpleString('sub-1');
          e.integer(1);
        }
        flush();
      }),
    );
    socket.on('error', () => {});
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as net.AddressInfo).port;
}

for (const chunkBytes of [7, 13, 64, 71, 97, 150, 4096]) {
  it(`counts every event exactly with ${chunkBytes}-byte writes, acknowledging as it goes`, async () => {
    const acks: string[][] = [];
    const port = await fakeSubscriptionServer(1000, { chunkBytes, acks });
    const r = await measureCatchUp({ host: '127.0.0.1', port, expectedEvents: 1000, window: 100, timeoutSeconds: 20 });
    expect(r.supported).toBe(true);
    if (!r.supported) return;
    expect(r.events).toBe(1000);
    expect(r.eventsPerSecond).toBeGreaterThan(0);
    // 1,000 events through a window of 100 need at least 9 acknowledgements, each further than the last.
    expect(acks.length).toBeGreaterThanOrEqual(9);
    const cursors = acks.map((a) => Number(a[2]));
    for (let i = 0; i < acks.length; i++) {
      expect(acks[i].slice(0, 2)).toEqual(['EACK', 'sub-1']);
      if (i > 0) expect(cursors[i]).toBeGreaterThan(cursors[i - 1]);
    }
  });
}

it('fails when more events arrive than were stored', async () => {
  const port = await fakeSubscriptionServer(50, { chunkBytes: 4096, acks: [] });
  await expect(measureCatchUp({ host: '127.0.0.1', port, expectedEvents: 40, window: 100, timeoutSeconds: 5 })).rejects.toThrow(/more than the 40/);
});

it('reports a refused EPSUB as unsupported, with the reason', async () => {
  const port = await fakeSubscriptionServer(0, { refuse: true, chunkBytes: 4096, acks: [] });
  const r = await measureCatchUp({ host: '127.0.0.1', port, expectedEvents: 10, window: 100, timeoutSeconds: 5 });
  expect(r).toEqual({ supported: false, reason: "EPSUB refused: INVALIDARG unknown command 'EPSUB'" });
});
