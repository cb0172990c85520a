/**
 * The server under hostile and heavy input: 10,000 pipelined commands in one write, a request split at every
 * byte, garbage, oversized bulks, too many arguments, wrong types and unknown commands while another client's
 * appends go on unaffected, the connection limit, and a seeded fuzz of more than 100,000 random and mutated
 * frames after which the server is alive and a control stream is intact.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RespReplyParser, type RespValue } from '../../src/protocol/resp-reply-parser.ts';
import { ReplyError } from '../../src/protocol/reply-error.ts';
import { fatalFrame, recoverableFrame, Rng } from './helpers/fuzz-frames.ts';
import { encodeCommand, RawClient } from './helpers/raw-client.ts';
import { removeTempDirs, startServer, type ServerProcess } from './helpers/server-process.ts';

let server: ServerProcess;
beforeAll(async () => {
  server = await startServer({
    env: { SIERRA_SERVER_PROTO_MAX_BULK_LEN: '65536', SIERRA_SERVER_CLIENT_QUERY_BUFFER_LIMIT: '131072' },
  });
});
afterAll(async () => {
  await server?.stop();
  removeTempDirs();
});

/** Connects and collects every reply, in order, as it arrives. */
class Collector {
  readonly socket: net.Socket;
  readonly replies: RespValue[] = [];
  readonly #parser = new RespReplyParser();
  closed = false;
  #waiters: (() => void)[] = [];
  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on('data', (d: Buffer) => {
      const error = this.#parser.feed(d, (v) => this.replies.push(v));
      if (error !== undefined) throw error;
      for (const w of this.#waiters.splice(0)) w();
    });
    socket.on('close', () => {
      this.closed = true;
      for (const w of this.#waiters.splice(0)) w();
    });
    socket.on('error', () => {});
  }
  static connect(port: number): Promise<Collector> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ host: '127.0.0.1', port }, () => resolve(new Collector(s)));
      s.once('error', reject);
    });
  }
  async waitFor(n: number, timeoutMs = 30_000): Promise<RespValue[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.replies.length < n) {
      if (this.closed) throw new Error(`closed after ${this.replies.length} of ${n} replies`);
      if (Date.now() > deadline) throw new Error(`timed out with ${this.replies.length} of ${n} replies`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, 100);
        this.#waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
    return this.replies;
  }
  close(): void {
    this.socket.destroy();
  }
}

const field = (v: RespValue, key: string): RespValue => (v instanceof Map ? v.get(key) : undefined) as RespValue;

describe('pipelining', () => {
  it('answers 10,000 commands sent in one write, in order', async () => {
    const c = await Collector.connect(server.port);
    const parts: Buffer[] = [];
    for (let i = 0; i < 10_000; i++) {
      if (i % 10 === 9) parts.push(encodeCommand(['PING', `m${i}`]));
      else if (i % 10 === 4) parts.push(encodeCommand(['ESVER', 'no-such']));
      else parts.push(encodeCommand(['EAPPEND', `pipe-${i % 3}`, 'E', 'PAYLOAD', String(i)]));
    }
    c.socket.write(Buffer.concat(parts));
    const replies = await c.waitFor(10_000);
    const next = [0, 0, 0];
    for (let i = 0; i < 10_000; i++) {
      const r = replies[i];
      if (i % 10 === 9) expect(String(r)).toBe(`m${i}`);
      else if (i % 10 === 4) expect(r).toBe(null);
      else expect(field(r, 'stream_version')).toBe(next[i % 3]++);
    }
    c.close();
  });

  it('parses a request split at every byte', async () => {
    const c = await RawClient.connect(server.port);
    c.socket.setNoDelay(true);
    const payload = Buffer.from([0, 13, 10, 36, 42, 255]);
    const bytes = Buffer.concat([
      encodeCommand(['EAPPEND', 'split', 'Split', 'PAYLOAD', payload, 'METADATA', 'm']),
      Buffer.from('PING\r\n'),
      encodeCommand(['ESVER', 'split']),
    ]);
    for (let i = 0; i < bytes.length; i++) {
      c.write(bytes.subarray(i, i + 1));
      await new Promise((r) => setTimeout(r, 1));
    }
    const [ack, pong, version] = await c.readReplies(3);
    expect(field(ack, 'stream_version')).toBe(0);
    expect(pong).toBe('PONG');
    expect(version).toBe(0);
    c.send('ESCAN', 'split', '-', '+');
    const [page] = await c.readReplies(1);
    const event = (field(page, 'events') as RespValue[])[0];
    expect(field(event, 'payload')).toEqual(payload);
    c.close();
  });
});

describe('bad input gets an error and leaves other clients alone', () => {
  it('garbage, oversized bulks, too many arguments, wrong types, unknown commands', async () => {
    // Another client appends throughout.
    const appender = await Collector.connect(server.port);
    let sent = 0;
    let appending = true;
    const appendLoop = (async () => {
      while (appending) {
        const batch: Buffer[] = [];
        for (let k = 0; k < 50; k++) batch.push(encodeCommand(['EAPPEND', 'steady', 'E', 'PAYLOAD', String(sent++)]));
        appender.socket.write(Buffer.concat(batch));
        await appender.waitFor(sent);
      }
    })();

    const expectClosedWith = async (bytes: Buffer | string, error: string) => {
      const c = await RawClient.connect(server.port);
      c.write(bytes);
      const rest = (await c.waitClosed()).toString('latin1');
      expect(rest).toBe(`-ERR Protocol error: ${error}\r\n`);
    };
    await expectClosedWith('*abc\r\n', 'invalid multibulk length');
    await expectClosedWith('*1\r\n$x\r\n', 'invalid bulk length');
    await expectClosedWith('*1\r\n+PING\r\n', "expected '$', got '+'");
    await expectClosedWith('"unbalanced\r\n', 'unbalanced quotes in request');
    await expectClosedWith(Buffer.concat([encodeCommand(['PING']).subarray(0, 0), Buffer.from('*2\r\n$4\r\nECHO\r\n$70000\r\n')]), 'invalid bulk length');
    await expectClosedWith('*2000000\r\n', 'invalid multibulk length');
    await expectClosedWith(`${'A'.repeat(70_000)}`, 'too big inline request');
    // The query buffer limit (131072 bytes here): a request that never completes.
    {
      const c = await RawClient.connect(server.port);
      c.write('*100\r\n');
      for (let k = 0; k < 3; k++) c.write(`$60000\r\n${'b'.repeat(60_000)}\r\n`);
      const rest = (await c.waitClosed()).toString('latin1');
      expect(rest).toMatch(/^-ERR Protocol error: query buffer limit reached/);
    }
    // Errors that do not close the connection.
    {
      const c = await RawClient.connect(server.port);
      const bad: string[][] = [
        ['NOSUCH'],
        ['EAPPEND', 's', 'E', 'EXPECTED_VERSION', 'banana'],
        ['ESCAN', 's', 'x', 'y'],
        ['EPSEQ', 'banana'],
        ['EGET', 'x'],
        ['EAPPEND'],
        ['EPSCAN', '99', '-', '+'],
        ['HELLO', '9'],
      ];
      for (const b of bad) c.send(...b);
      c.send('PING');
      const replies = await c.readReplies(bad.length + 1);
      expect(replies.slice(0, -1).every((r) => r instanceof ReplyError)).toBe(true);
      expect(replies.map((r) => (r instanceof ReplyError ? r.code : r))).toEqual([
        'INVALIDARG', 'INVALIDARG', 'INVALIDARG', 'INVALIDARG', 'INVALIDARG', 'INVALIDARG', 'CLUSTERDOWN', 'NOPROTO', 'PONG',
      ]);
      c.close();
    }

    appending = false;
    await appendLoop;
    const acks = appender.replies;
    expect(acks.length).toBe(sent);
    acks.forEach((a, i) => expect(field(a, 'stream_version')).toBe(i));
    appender.close();
  });
});

describe('maxclients', () => {
  it('refuses connections beyond the limit with an error, and accepts again when one closes', async () => {
    const limited = await startServer({ args: ['--maxclients', '2'] });
    try {
      const a = await RawClient.connect(limited.port);
      const b = await RawClient.connect(limited.port);
      a.send('PING');
      b.send('PING');
      expect(await a.readReplies(1)).toEqual(['PONG']);
      expect(await b.readReplies(1)).toEqual(['PONG']);
      const refused = await RawClient.connect(limited.port);
      expect((await refused.waitClosed()).toString()).toBe('-ERR max number of clients reached\r\n');
      a.close();
      await new Promise((r) => setTimeout(r, 100));
      const c = await RawClient.connect(limited.port);
      c.send('PING');
      expect(await c.readReplies(1)).toEqual(['PONG']);
      b.close();
      c.close();
    } finally {
      await limited.stop();
    }
  });
});

describe('backpressure', () => {
  it('a client that pipelines 30,000 appends without reading gets every reply once it reads', async () => {
    const c = await Collector.connect(server.port);
    c.socket.pause();
    const batch: Buffer[] = [];
    for (let i = 0; i < 30_000; i++) batch.push(encodeCommand(['EAPPEND', 'flood', 'E', 'PAYLOAD', 'p'.repeat(100)]));
    c.socket.write(Buffer.concat(batch));
    // Meanwhile another client is served promptly.
    const other = await RawClient.connect(server.port);
    const t0 = Date.now();
    other.send('PING');
    expect(await other.readReplies(1)).toEqual(['PONG']);
    expect(Date.now() - t0).toBeLessThan(5000);
    other.close();
    c.socket.resume();
    const replies = await c.waitFor(30_000, 60_000);
    expect(field(replies[29_999], 'stream_version')).toBe(29_999);
    c.close();
  });
});

describe('fuzz', () => {
  const seed = Number(process.env.SEED ?? 20_261_123);
  it(`survives 100,000+ random and mutated frames (seed ${seed}; replay with SEED=${seed})`, { timeout: 120_000 }, async () => {
    console.log(`fuzz seed ${seed} (replay with SEED=${seed})`);
    const rng = new Rng(seed);
    const control = await RawClient.connect(server.port);
    const controlAppend = async (from: number) => {
      for (let i = from; i < from + 50; i++) control.send('EAPPEND', 'control', 'C', 'PAYLOAD', `c-${i}`);
      const acks = await control.readReplies(50);
      acks.forEach((a, k) => expect(field(a, 'stream_version')).toBe(from + k));
    };
    await controlAppend(0);

    // Pool 1: well-framed requests on long-lived connections; every one gets exactly one reply, in order
    // (a PING marker every 100 frames checks the order).
    const RECOVERABLE = 100_000;
    const CONNECTIONS = 4;
    const perConnection = RECOVERABLE / CONNECTIONS;
    await Promise.all(
      Array.from({ length: CONNECTIONS }, async (_, ci) => {
        const c = await Collector.connect(server.port);
        const r = new Rng(seed + 1 + ci);
        let expected = 0;
        const markers: number[] = [];
        for (let sentFrames = 0; sentFrames < perConnection; ) {
          const chunk: Buffer[] = [];
          for (let k = 0; k < 500 && sentFrames < perConnection; k++, sentFrames++) {
            if (sentFrames % 100 === 99) {
              markers.push(expected);
              chunk.push(encodeCommand(['PING', `marker-${ci}-${sentFrames}`]));
            } else {
              chunk.push(recoverableFrame(r));
            }
            expected++;
          }
          c.socket.write(Buffer.concat(chunk));
          await c.waitFor(expected - 400);
        }
        const replies = await c.waitFor(expected, 60_000);
        expect(replies.length).toBe(expected);
        for (const m of markers) expect(String(replies[m])).toMatch(new RegExp(`^marker-${ci}-\\d+$`));
        expect(c.closed).toBe(false);
        c.close();
      }),
    );

    // Pool 2: mutated framing and random bytes, a batch per connection; the server may close each one.
    const FATAL = 20_000;
    const BATCH = 25;
    let fed = 0;
    const worker = async () => {
      while (fed < FATAL) {
        const frames: Buffer[] = [];
        for (let k = 0; k < BATCH; k++) frames.push(rng.chance(0.3) ? recoverableFrame(rng) : fatalFrame(rng));
        fed += BATCH;
        await new Promise<void>((resolve) => {
          const s = net.connect({ host: '127.0.0.1', port: server.port }, () => {
            s.end(Buffer.concat(frames));
          });
          s.on('data', () => {});
          s.on('error', () => {});
          s.on('close', () => resolve());
          s.setTimeout(2000, () => s.destroy());
        });
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    expect(fed + RECOVERABLE).toBeGreaterThanOrEqual(100_000);

    // Alive, and the control stream is intact.
    expect(server.proc.exitCode).toBe(null);
    await controlAppend(50);
    control.send('ESCAN', 'control', '-', '+', 'COUNT', '1000');
    const [page] = await control.readReplies(1);
    const events = field(page, 'events') as RespValue[];
    expect(events.map((e) => String(field(e, 'payload')))).toEqual(Array.from({ length: 100 }, (_, i) => `c-${i}`));
    expect(events.map((e) => field(e, 'stream_version'))).toEqual([...Array(100).keys()]);
    control.close();
    const errors = server.logLines().filter((l) => l.level === 'error' || l.level === 'fatal');
    expect(errors).toEqual([]);
  });
});
