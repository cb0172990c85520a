/** SierraClient's typed methods against the real server, one per command. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConnectionClosedError, ReplyError, SierraClient, type Event } from '../../src/client/index.ts';
import { RespPush } from '../../src/protocol/resp-reply-parser.ts';
import { decodeEvent } from '../../src/client/replies.ts';
import { removeTempDirs, startServer, type ServerProcess } from '../integration/helpers/server-process.ts';
import { waitFor } from '../subscriptions/helpers.ts';

let server: ServerProcess;
let c: SierraClient;
beforeAll(async () => {
  server = await startServer();
  c = await SierraClient.connect({ port: server.port });
});
afterAll(async () => {
  c?.close();
  await server?.stop();
  removeTempDirs();
});

const USER_123_KEY = '7e124fe8-fe28-5398-bb95-53973100148f';

describe('SierraClient', () => {
  it('is exported by the package as sierradb-ts/client', async () => {
    const m = await import('sierradb-ts/client');
    expect(m.SierraClient).toBe(SierraClient);
    expect(typeof m.SubscriptionManager).toBe('function');
  });

  it('PING and HELLO', async () => {
    expect(await c.ping()).toBe('PONG');
    const hello = await c.hello(3);
    expect(hello.proto).toBe(3);
    expect(hello.numPartitions).toBe(32);
    expect(typeof hello.server).toBe('string');
  });

  it('EAPPEND, EGET, ESCAN, ESVER, EPSCAN, EPSEQ', async () => {
    const r0 = await c.eappend('user-123', 'UserRegistered', { payload: '{"name":"Ada"}', metadata: Buffer.from([1, 2]) });
    expect(r0).toMatchObject({ partitionKey: USER_123_KEY, partitionId: 21, partitionSequence: 0, streamVersion: 0 });
    const r1 = await c.eappend('user-123', 'UserRenamed', { expectedVersion: 0, payload: '{"name":"Bea"}' });
    expect(r1.streamVersion).toBe(1);
    await expect(c.eappend('user-123', 'X', { expectedVersion: 'empty' })).rejects.toMatchObject({ code: 'WRONGVER' });

    const e = (await c.eget(r0.eventId)) as Event;
    expect(e).toMatchObject({ eventId: r0.eventId, streamId: 'user-123', eventName: 'UserRegistered', streamVersion: 0, partitionId: 21 });
    expect(e.payload.toString()).toBe('{"name":"Ada"}');
    expect([...e.metadata]).toEqual([1, 2]);
    expect(await c.eget('00000000-0000-4000-8000-000000000000')).toBeNull();

    const page = await c.escan('user-123', 0, undefined, { count: 1 });
    expect(page.hasMore).toBe(true);
    expect(page.events.map((x) => x.eventName)).toEqual(['UserRegistered']);
    expect((await c.escan('user-123', 1)).events.map((x) => x.streamVersion)).toEqual([1]);
    expect(await c.esver('user-123')).toBe(1);
    expect(await c.esver('nobody')).toBeNull();
    expect(await c.esver('user-123', { partitionKey: USER_123_KEY })).toBe(1);

    expect(await c.epseq(21)).toBe(1);
    expect(await c.epseq(USER_123_KEY)).toBe(1);
    const p = await c.epscan(21, 0, 1);
    expect(p.events.map((x) => x.partitionSequence)).toEqual([0, 1]);
    expect(p.hasMore).toBe(false);
  });

  it('EMAPPEND', async () => {
    const key = '550e8400-e29b-41d4-a716-446655440000';
    const r = await c.emappend(key, [
      { streamId: 'm-1', eventName: 'A', payload: 'a' },
      { streamId: 'm-2', eventName: 'B', expectedVersion: 'empty' },
    ]);
    expect(r).toMatchObject({ partitionKey: key, partitionId: 25, lastPartitionSequence: r.firstPartitionSequence + 1 });
    expect(r.events.map((x) => [x.streamId, x.streamVersion])).toEqual([
      ['m-1', 0],
      ['m-2', 0],
    ]);
  });

  it('ESUB, EPSUB, EACK, EUNSUB: ids, pushes and errors', async () => {
    const sub = await SierraClient.connect({ port: server.port });
    try {
      const got: { id: string; cursor: number; event: Event }[] = [];
      sub.onPush((push: RespPush) => {
        if (push.data[0] === 'message') got.push({ id: push.data[1] as string, cursor: push.data[2] as number, event: decodeEvent(push.data[3]) });
      });
      const sid = await sub.esub(['user-123', { streamId: 'm-1', partitionKey: '550e8400-e29b-41d4-a716-446655440000' }], { from: 0, window: 2 });
      const pid = await sub.epsub([21, '22-23'], { from: { map: { '21': 1 }, default: 0 } });
      await waitFor(() => got.filter((g) => g.id === sid).length >= 2 && got.some((g) => g.id === pid), 'pushes');
      expect(got.filter((g) => g.id === sid).map((g) => g.cursor)).toEqual([0, 1]);
      await sub.eack(sid, 1);
      await waitFor(() => got.filter((g) => g.id === sid).length >= 3, 'the third stream event');
      expect(got.filter((g) => g.id === pid).map((g) => [g.event.partitionId, g.event.partitionSequence])).toEqual([[21, 1]]);
      await sub.eunsub(sid);
      await expect(sub.eunsub(sid)).rejects.toBeInstanceOf(ReplyError);
      await expect(sub.eack(sid, 1)).rejects.toThrow('subscription not found');
    } finally {
      sub.close();
    }
  });

  it('commands on a closed connection reject with ConnectionClosedError', async () => {
    const other = await SierraClient.connect({ port: server.port });
    other.close();
    await expect(other.ping()).rejects.toBeInstanceOf(ConnectionClosedError);
    await expect(SierraClient.connect({ port: 1 })).rejects.toBeInstanceOf(ConnectionClosedError);
  });
});
