/**
 * The load generator's RESP pipelining, against an in-test fake server that records how requests arrive: batch
 * mode writes `pipeline` requests at once and waits for all their replies; window mode keeps `pipeline` in
 * flight; count mode issues exactly `count`; errors are counted by code; expected versions are sent per stream
 * and resynchronised after WRONGVER; ESCAN pages follow has_more.
 */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { currentVersionFromError, resolveLoadOptions, runLoad, type LoadOptions } from '../../bench/load/load-generator.ts';
import { RespEncoder } from '../../src/protocol/resp-encoder.ts';
import { RespRequestParser } from '../../src/protocol/resp-request-parser.ts';

type Handler = (args: string[], e: RespEncoder, conn: ConnState) => void;
type ConnState = { id: number; outstanding: number; maxOutstanding: number; requests: string[][]; deferred: RespEncoder[] };

const servers: net.Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
});

/**
 * A fake RESP server. Replies to each read's requests after `delayMs` (so that pipelined requests pile up), in
 * order, with one write. Tracks, per connection, the most requests it had read and not yet answered.
 */
async function fakeServer(handler: Handler, delayMs = 2): Promise<{ port: number; conns: ConnState[] }> {
  const conns: ConnState[] = [];
  const server = net.createServer((socket) => {
    const conn: ConnState = { id: conns.length, outstanding: 0, maxOutstanding: 0, requests: [], deferred: [] };
    conns.push(conn);
    const parser = new RespRequestParser();
    socket.on('data', (chunk: Buffer) => {
      const e = new RespEncoder({ protocol: 3 });
      let n = 0;
      parser.feed(chunk, (request) => {
        const text = request.toBuffers().map((a) => a.toString());
        conn.requests.push(text);
        handler(text, e, conn);
        n++;
      });
      conn.outstanding += n;
      conn.maxOutstanding = Math.max(conn.maxOutstanding, conn.outstanding);
      const bytes = Buffer.from(e.take());
      setTimeout(() => {
        conn.outstanding -= n;
        if (!socket.destroyed) socket.write(bytes);
      }, delayMs);
    });
    socket.on('error', () => {});
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as net.AddressInfo).port, conns };
}

const quiet: Partial<LoadOptions> = { onProgress: null, host: '127.0.0.1', payloadBytes: 16 };

describe('load generator over RESP', () => {
  it('batch mode: at most `pipeline` requests in flight per connection; count mode issues exactly count', async () => {
    const { port, conns } = await fakeServer((args, e) => {
      expect(args[0]).toBe('EAPPEND');
      e.mapHeader(1);
      e.simpleString('stream_version');
      e.integer(0);
    });
    const s = await runLoad({ ...quiet, port, clients: 3, pipeline: 8, count: 200, streams: 10 });
    expect(s.ops).toBe(200);
    expect(s.errors).toBe(0);
    expect(s.unanswered).toBe(0);
    expect(s.eventsPerSecond).toBeGreaterThan(0);
    expect(s.latencyUs.count).toBe(200);
    expect(s.latencyUs.p50).toBeGreaterThanOrEqual(1000); // the fake server answers after 2 ms
    expect(conns).toHaveLength(3);
    expect(conns.reduce((n, c) => n + c.requests.length, 0)).toBe(200);
    for (const c of conns) {
      expect(c.maxOutstanding).toBeLessThanOrEqual(8);
      expect(c.maxOutstanding).toBeGreaterThan(1); // they were pipelined
      for (const r of c.requests) {
        expect(r.slice(0, 1).concat(r.slice(2))).toEqual(['EAPPEND', 'E', 'PAYLOAD', r[4]]);
        expect(r[1]).toMatch(/^s:\d$/);
        expect(r[4]).toHaveLength(16);
      }
    }
  });

  it('window mode keeps the pipeline full; duration mode stops by itself; progress lines once a second', async () => {
    const { port, conns } = await fakeServer((_args, e) => e.simpleString('PONG'), 5);
    const lines: string[] = [];
    const s = await runLoad({ ...quiet, port, command: 'ping', clients: 2, pipeline: 4, pipelineMode: 'window', durationSeconds: 1.2, onProgress: (l) => lines.push(l) });
    expect(s.errors).toBe(0);
    expect(s.ops).toBeGreaterThan(50);
    expect(s.elapsedSeconds).toBeGreaterThan(1);
    expect(s.elapsedSeconds).toBeLessThan(3);
    for (const c of conns) expect(c.maxOutstanding).toBeLessThanOrEqual(4);
    expect(lines.length).toBeGreaterThanOrEqual(1);
    expect(lines[0]).toMatch(/ops\/s +p50 .* p99 .* p99\.9 .* errors 0 +in flight \d+/);
  });

  it('counts errors by code, and a lost connection as CONNECTION errors', async () => {
    let n = 0;
    const { port } = await fakeServer((_args, e) => {
      if (n++ % 4 === 0) e.error('INVALIDARG nope');
      else e.simpleString('OK');
    });
    const s = await runLoad({ ...quiet, port, clients: 1, pipeline: 4, count: 40 });
    expect(s.ops).toBe(40);
    expect(s.errors).toBe(10);
    expect(s.errorsByCode).toEqual({ INVALIDARG: 10 });

    const server = net.createServer((socket) => socket.once('data', () => socket.destroy()));
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const lost = await runLoad({ ...quiet, port: (server.address() as net.AddressInfo).port, clients: 2, pipeline: 3, durationSeconds: 5 });
    expect(lost.clientsLost).toBe(2);
    expect(lost.errorsByCode.CONNECTION).toBe(6);
    expect(lost.unanswered).toBe(6);
  });

  it('expected versions: per-stream versions in order on the owning connection, resynchronised after WRONGVER', async () => {
    const versions = new Map<string, number>(); // the server's model: last version per stream
    let injected = false;
    const { port, conns } = await fakeServer((args, e) => {
      const [, stream, , , expected] = args;
      expect(args[3]).toBe('EXPECTED_VERSION');
      let current = versions.get(stream) ?? -1;
      if (!injected && current === 3) {
        // Someone else appended: the generator must learn the new version from the error.
        current = 5;
        versions.set(stream, 5);
        injected = true;
      }
      const want = expected === 'empty' ? -1 : Number(expected);
      if (want !== current) {
        e.error(`WRONGVER current stream version is ${current < 0 ? 'empty' : current} but expected ${expected} for partition key x and stream id ${stream}`);
        return;
      }
      versions.set(stream, current + 1);
      e.simpleString('OK');
    });
    const s = await runLoad({ ...quiet, port, clients: 2, pipeline: 4, count: 400, streams: 4, expectedVersions: true });
    expect(s.ops).toBe(400);
    // One injected conflict fails the requests already in flight for that stream (at most the pipeline), no more.
    expect(s.errorsByCode.WRONGVER).toBeGreaterThanOrEqual(1);
    expect(s.errorsByCode.WRONGVER).toBeLessThanOrEqual(4);
    // Streams are owned: client 0 has s:0 and s:2, client 1 has s:1 and s:3.
    for (const c of conns) {
      const mine = new Set(c.requests.map((r) => Number(r[1].slice(2)) % 2));
      expect(mine.size).toBe(1);
    }
    expect([...versions.values()].reduce((a, b) => a + b + 1, 0)).toBe(400 - s.errors + 2); // +2: the injected jump
  });

  it('ESCAN pages: start after the last page, start over when has_more is false', async () => {
    const length = 250;
    const { port, conns } = await fakeServer((args, e) => {
      expect(args).toEqual(['ESCAN', 'scan:0', args[2], '+', 'COUNT', '100']);
      const start = Number(args[2]);
      const n = Math.max(0, Math.min(100, length - start));
      e.mapHeader(2);
      e.simpleString('has_more');
      e.boolean(start + n < length);
      e.simpleString('events');
      e.arrayHeader(n);
      for (let i = 0; i < n; i++) e.integer(start + i);
    }, 0);
    const s = await runLoad({ ...quiet, port, command: 'escan', clients: 1, count: 9 });
    expect(conns[0].requests.map((r) => r[2])).toEqual(['0', '100', '200', '0', '100', '200', '0', '100', '200']);
    expect(s.scansCompleted).toBe(3);
    expect(s.eventsPerSecond * s.elapsedSeconds).toBeCloseTo(750, 6);
  });

  it('rejects contradictory options', () => {
    expect(() => resolveLoadOptions({ command: 'escan', pipeline: 4 })).toThrow(/pipeline of 1/);
    expect(() => resolveLoadOptions({ command: 'append' })).toThrow(/target postgres/);
    expect(() => resolveLoadOptions({ expectedVersions: true, streams: 2, clients: 5 })).toThrow(/one stream per client/);
    expect(() => resolveLoadOptions({ durationSeconds: undefined })).toThrow(/duration or a count/);
    expect(resolveLoadOptions({ count: 5 }).durationSeconds).toBeUndefined();
    expect(currentVersionFromError('WRONGVER current stream version is empty but expected 0')).toBe(-1);
    expect(currentVersionFromError('WRONGVER current stream version is 41 but expected 3')).toBe(41);
  });
});
