/**
 * Subscriptions over RESP against the real server process: SierraDB's own subscription test, the history→live
 * hand-over under concurrent appends, the window, FROM LATEST / FROM MAP / multi-stream, a stalled subscriber
 * at the output limit, and `redis-cli SUBSCRIBE`.
 */
import { spawn } from 'node:child_process';
import net from 'node:net';
import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SierraClient, type Event } from '../../src/client/index.ts';
import { RespPush, type RespValue } from '../../src/protocol/resp-reply-parser.ts';
import { decodeEvent } from '../../src/client/replies.ts';
import { removeTempDirs, startServer, type ServerProcess } from '../integration/helpers/server-process.ts';
import { settle, waitFor } from './helpers.ts';

let server: ServerProcess;
const clients: SierraClient[] = [];
beforeAll(async () => {
  server = await startServer({ writeThreads: 2, readThreads: 2 });
});
afterAll(async () => {
  for (const c of clients) c.close();
  await server?.stop();
  removeTempDirs();
});

async function client(): Promise<SierraClient> {
  const c = await SierraClient.connect({ port: server.port });
  clients.push(c);
  return c;
}

interface Received {
  id: string;
  cursor: number;
  event: Event;
}

/** A client whose message pushes are collected (and optionally acked as they come). */
async function subscriber(ackAsItGoes: boolean): Promise<{ c: SierraClient; got: Received[]; subscribes: RespValue[][] }> {
  const c = await client();
  const got: Received[] = [];
  const subscribes: RespValue[][] = [];
  c.onPush((push: RespPush) => {
    const [kind, id, cursor, event] = push.data;
    if (kind === 'subscribe') subscribes.push(push.data);
    if (kind !== 'message') return;
    got.push({ id: id as string, cursor: cursor as number, event: decodeEvent(event) });
    if (ackAsItGoes) void c.eack(id as string, cursor as number);
  });
  return { c, got, subscribes };
}

function checkPartitions(got: readonly Received[], from: (p: number) => number = () => 0): Map<number, number> {
  const next = new Map<number, number>();
  const ids = new Set<string>();
  for (const { event } of got) {
    if (ids.has(event.eventId)) throw new Error(`event ${event.eventId} delivered twice`);
    ids.add(event.eventId);
    const expected = next.get(event.partitionId) ?? from(event.partitionId);
    if (event.partitionSequence !== expected) throw new Error(`partition ${event.partitionId}: sequence ${event.partitionSequence}, expected ${expected}`);
    next.set(event.partitionId, expected + 1);
  }
  return next;
}

function checkStreams(got: readonly Received[]): void {
  const next = new Map<string, number>();
  for (const { event } of got) {
    const expected = next.get(event.streamId) ?? 0;
    if (event.streamVersion !== expected) throw new Error(`stream ${event.streamId}: version ${event.streamVersion}, expected ${expected}`);
    next.set(event.streamId, expected + 1);
  }
}

/** `count` appends over 200 streams of a fresh prefix (they cover all 32 partitions), pipelined. */
async function appendMany(c: SierraClient, prefix: string, count: number, payload = '{}'): Promise<void> {
  await Promise.all(Array.from({ length: count }, (_, i) => c.eappend(`${prefix}-${i % 200}`, 'Tick', { payload })));
}

async function watermarks(c: SierraClient): Promise<number[]> {
  const seqs = await Promise.all(Array.from({ length: 32 }, (_, p) => c.epseq(p)));
  return seqs.map((s) => (s === null ? 0 : s + 1));
}

describe('subscriptions over RESP (real server)', () => {
  it("SierraDB's subscription test: 2,000 events over 32 partitions, EPSUB * FROM 0, windows 10,000 / 100 / 10, acking", async () => {
    const writer = await client();
    await appendMany(writer, 'sdb', 2000);
    const marks = await watermarks(writer);
    expect(marks.every((w) => w > 0)).toBe(true);
    const total = marks.reduce((a, b) => a + b, 0);
    for (const window of [10_000, 100, 10]) {
      const { c, got, subscribes } = await subscriber(true);
      const id = await c.epsub('*', { from: 0, window });
      await waitFor(() => got.length >= total, `${total} events (window ${window})`, 30_000);
      await settle(100);
      expect(subscribes).toEqual([['subscribe', id, 1]]);
      expect(got.length).toBe(total);
      expect(got.every((r, i) => r.id === id && r.cursor === i)).toBe(true);
      const counts = checkPartitions(got);
      for (let p = 0; p < 32; p++) expect(counts.get(p)).toBe(marks[p]);
      await c.eunsub(id);
    }
  });

  it('history and live together are gapless and duplicate-free per partition and per stream while appends continue', async () => {
    const writer = await client();
    const start = await watermarks(writer);
    await appendMany(writer, 'hist', 3000);
    const { c, got } = await subscriber(true);
    const id = await c.epsub('*', { from: { map: {}, default: 0 }, window: 64 });
    // Concurrent appends from two more clients while the subscriber replays history.
    const w2 = await client();
    const w3 = await client();
    let appended = 3000;
    const receivedWhenLiveBegan = got.length;
    await Promise.all(
      [w2, w3].map(async (w, k) => {
        for (let wave = 0; wave < 10; wave++) {
          await appendMany(w, `live${k}w${wave}`, 100);
          appended += 100;
        }
      }),
    );
    const end = await watermarks(writer);
    const total = end.reduce((a, b) => a + b, 0);
    expect(total - start.reduce((a, b) => a + b, 0)).toBe(appended);
    await waitFor(() => got.length >= total, `${total} events`, 30_000);
    await settle(100);
    expect(receivedWhenLiveBegan).toBeLessThan(start.reduce((a, b) => a + b, 0) + 3000); // still replaying history
    expect(got.length).toBe(total);
    checkPartitions(got);
    checkStreams(got);
    await c.eunsub(id);
  });

  it('window without acks: exactly `window` events arrive, then nothing until EACK', async () => {
    const writer = await client();
    await appendMany(writer, 'win', 300);
    const { c, got } = await subscriber(false);
    const id = await c.epsub('*', { from: 0, window: 25 });
    await waitFor(() => got.length >= 25, '25 events');
    await settle(200);
    expect(got.length).toBe(25);
    await appendMany(writer, 'win-more', 50);
    await settle(200);
    expect(got.length).toBe(25);
    await c.eack(id, 9);
    await waitFor(() => got.length >= 35, '10 more events');
    await settle(200);
    expect(got.length).toBe(35);
    expect(got.map((r) => r.cursor)).toEqual(Array.from({ length: 35 }, (_, i) => i));
    await expect(c.eack('00000000-0000-4000-8000-000000000000', 1)).rejects.toThrow('subscription not found');
    await c.eunsub(id);
  });

  it('FROM LATEST delivers only events appended after the subscription', async () => {
    const writer = await client();
    await appendMany(writer, 'old', 200);
    const { c, got } = await subscriber(true);
    const before = await watermarks(writer);
    const pid = await c.epsub('*', { from: 'latest' });
    const sid = await c.esub('latest-stream'); // no FROM: LATEST too
    await writer.eappend('latest-stream', 'Before'); // appended after ESUB: delivered
    await settle(100);
    await appendMany(writer, 'new', 100);
    await waitFor(() => got.length >= 102, '102 events');
    await settle(200);
    const byPartitions = got.filter((r) => r.id === pid);
    expect(byPartitions.length).toBe(101);
    expect(byPartitions.every((r) => r.event.streamId.startsWith('new-') || r.event.streamId === 'latest-stream')).toBe(true);
    checkPartitions(byPartitions, (p) => before[p]);
    expect(got.filter((r) => r.id === sid).map((r) => [r.event.streamId, r.event.streamVersion])).toEqual([['latest-stream', 0]]);
  });

  it('FROM MAP ... DEFAULT, and multi-stream ESUB with FROM MAP', async () => {
    const writer = await client();
    for (let i = 0; i < 6; i++) {
      await writer.eappend('ms-a', 'E');
      await writer.eappend('ms-b', 'E');
      await writer.eappend('ms-c', 'E');
    }
    const { c, got } = await subscriber(true);
    const sid = await c.esub(['ms-a', 'ms-b', 'ms-c'], { from: { map: { 'ms-a': 4, 'ms-c': 5 }, default: 2 }, window: 2 });
    await waitFor(() => got.length >= 7, '7 events');
    await writer.eappend('ms-b', 'Live');
    await waitFor(() => got.length >= 8, 'the live event');
    await settle(100);
    const seen = got.filter((r) => r.id === sid).map((r) => `${r.event.streamId}:${r.event.streamVersion}`);
    expect(seen.sort()).toEqual(['ms-a:4', 'ms-a:5', 'ms-b:2', 'ms-b:3', 'ms-b:4', 'ms-b:5', 'ms-b:6', 'ms-c:5'].sort());

    const marks = await watermarks(writer);
    const p = (await writer.eappend('ms-a', 'E')).partitionId;
    const pid = await c.epsub('*', { from: { map: { [String(p)]: marks[p] }, default: 1_000_000 } });
    await waitFor(() => got.some((r) => r.id === pid), 'an event through FROM MAP');
    await settle(100);
    const viaMap = got.filter((r) => r.id === pid);
    expect(viaMap.map((r) => [r.event.partitionId, r.event.partitionSequence, r.event.streamId])).toEqual([[p, marks[p], 'ms-a']]);
  });

  it('a stalled subscriber hits the output limit and is disconnected while appends by others go on', async () => {
    const limited = await startServer({ env: { SIERRA_SERVER_PUBSUB_OUTPUT_BUFFER_LIMIT_BYTES: '65536' } });
    try {
      const writer = await SierraClient.connect({ port: limited.port });
      // A subscriber that never reads its socket.
      const stalled = net.connect({ host: '127.0.0.1', port: limited.port });
      await new Promise<void>((resolve) => stalled.once('connect', () => resolve()));
      let stalledClosed = false;
      stalled.on('close', () => (stalledClosed = true));
      stalled.on('error', () => {});
      stalled.write('*6\r\n$5\r\nEPSUB\r\n$1\r\n*\r\n$4\r\nFROM\r\n$6\r\nLATEST\r\n$6\r\nWINDOW\r\n$7\r\n1000000\r\n');
      await settle(200);
      stalled.pause();
      const payload = 'x'.repeat(8 * 1024);
      const startedAt = Date.now();
      let appended = 0;
      const log = () => limited.logLines().some((l) => l.msg === 'closing a connection over its push output limit');
      while (!log() && Date.now() - startedAt < 30_000) {
        await appendMany(writer, `stall${appended}`, 200, payload);
        appended += 200;
      }
      expect(log()).toBe(true);
      // Appends by the other client go on.
      const r = await writer.eappend('after-stall', 'E');
      expect(r.streamVersion).toBe(0);
      stalled.resume();
      await waitFor(() => stalledClosed, 'the stalled connection to be closed');
      writer.close();
    } finally {
      await limited.stop();
    }
  });

  it('redis-cli SUBSCRIBE sierradb:stream:<id> prints events appended by another client', async () => {
    const cli = spawn('redis-cli', ['-p', String(server.port), 'SUBSCRIBE', 'sierradb:stream:cli-stream'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    cli.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')));
    cli.stderr.on('data', (d: Buffer) => (out += d.toString('utf8')));
    try {
      await waitFor(() => out.includes('sierradb:stream:cli-stream'), 'redis-cli to subscribe');
      const writer = await client();
      await writer.eappend('cli-stream', 'Greeted', { payload: '{"hello":"world"}' });
      await writer.eappend('cli-stream', 'Greeted', { payload: '{"hello":"again"}' });
      await writer.eappend('other-stream', 'Ignored');
      await waitFor(() => out.includes('again'), 'the events in redis-cli output');
      const lines = out.split('\n').map((l) => l.trim());
      expect(lines.slice(0, 3)).toEqual(['subscribe', 'sierradb:stream:cli-stream', '1']);
      const json = lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
      expect(json.map((e) => [e.stream_id, e.stream_version, e.event_name, e.payload])).toEqual([
        ['cli-stream', 0, 'Greeted', '{"hello":"world"}'],
        ['cli-stream', 1, 'Greeted', '{"hello":"again"}'],
      ]);
    } finally {
      cli.kill();
    }
  });

  for (const RESP of [2, 3] as const) {
    it(`node-redis (RESP${RESP}) SUBSCRIBE receives the events as JSON; UNSUBSCRIBE stops them`, async () => {
      const redis = createClient({ RESP, socket: { host: '127.0.0.1', port: server.port, reconnectStrategy: false } });
      redis.on('error', () => {});
      await redis.connect();
      try {
        const messages: [string, string][] = [];
        await redis.subscribe(['sierradb:stream:nr-stream', 'sierradb:partition:21'], (message, channel) => {
          messages.push([channel, message]);
        });
        const writer = await client();
        await writer.eappend('nr-stream', 'Hello', { payload: `resp${RESP}` });
        await writer.eappend('user-123', 'InPartition21');
        await waitFor(() => messages.length >= 2, 'two messages');
        const byChannel = Object.fromEntries(messages.map(([channel, m]) => [channel, JSON.parse(m)]));
        expect(byChannel['sierradb:stream:nr-stream']).toMatchObject({ stream_id: 'nr-stream', event_name: 'Hello', payload: `resp${RESP}` });
        expect(byChannel['sierradb:partition:21']).toMatchObject({ stream_id: 'user-123', partition_id: 21 });
        await redis.unsubscribe();
        await writer.eappend('nr-stream', 'Unheard');
        await settle(200);
        expect(messages.length).toBe(2);
      } finally {
        await redis.close();
      }
    });
  }
});
