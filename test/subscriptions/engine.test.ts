/**
 * The subscription engine in-process (simulated disk, no threads, a collecting sink): SierraDB's own subscription
 * test, the history→live hand-over under concurrent appends, the window, FROM LATEST, multi-stream.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Database } from '../../src/database.ts';
import { partitionIdForKey, partitionKeyForStream } from '../../src/ids/partition-key.ts';
import { SubscriptionHub } from '../../src/subscriptions/subscription-hub.ts';
import type { SourceSpec } from '../../src/subscriptions/subscription.ts';
import {
  allPartitions,
  checkCursors,
  checkPartitions,
  checkStreams,
  openSimulated,
  settle,
  subscribe,
  waitFor,
} from './helpers.ts';

const open: Database[] = [];
afterEach(async () => {
  for (const db of open.splice(0)) await db.close();
});

async function fresh(): Promise<Database> {
  const db = await openSimulated();
  open.push(db);
  return db;
}

function streamSource(db: Database, streamId: string, from: number | 'latest'): SourceSpec {
  const partitionKey = partitionKeyForStream(streamId);
  return { kind: 'stream', streamId, partitionKey, partitionId: partitionIdForKey(partitionKey, db.partitionCount), from };
}

/** 2,000 single-event appends spread over 200 streams (which cover all 32 partitions), concurrently. */
async function appendSpread(db: Database, count: number, prefix = 's'): Promise<void> {
  await Promise.all(Array.from({ length: count }, (_, i) => db.append(`${prefix}-${i % 200}`, 'Tick', { payload: `{"i":${i}}` })));
}

describe('subscription engine (in-process)', () => {
  for (const window of [10_000, 100, 10]) {
    it(`SierraDB's subscription test: 2,000 events over 32 partitions, EPSUB * FROM 0, window ${window}, acking`, async () => {
      const db = await fresh();
      await appendSpread(db, 2000);
      const partitionsUsed = new Set(Array.from({ length: 32 }, (_, p) => p).filter((p) => db.partitionSequence(p) !== undefined));
      expect(partitionsUsed.size).toBe(32);

      const { sub, sink } = subscribe(db, allPartitions(db, 0), window);
      sink.onSend = (_first, last) => setImmediate(() => sub.ack(last));
      await waitFor(() => sink.received.length >= 2000, '2,000 events');
      await settle();
      expect(sink.received.length).toBe(2000);
      checkCursors(sink.received);
      const counts = checkPartitions(sink.received);
      for (let p = 0; p < 32; p++) expect(counts.get(p)).toBe(db.sharedState.watermark(p));
      sub.close();
    });
  }

  it('hands over from history to live exactly while appends continue during catch-up', async () => {
    const db = await fresh();
    await appendSpread(db, 3000, 'h');
    const { sub, sink } = subscribe(db, allPartitions(db, 0), 50);
    sink.onSend = (_first, last) => setImmediate(() => sub.ack(last));
    // Keep appending in waves while the subscriber is still replaying history.
    let appended = 3000;
    for (let wave = 0; wave < 20; wave++) {
      await appendSpread(db, 100, `live${wave}`);
      appended += 100;
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(sink.received.length).toBeLessThan(appended);
    await waitFor(() => sink.received.length >= appended, `${appended} events`);
    await settle();
    expect(sink.received.length).toBe(appended);
    checkCursors(sink.received);
    checkPartitions(sink.received);
    checkStreams(sink.received);
    sub.close();
  });

  it('catch-up over several pages per partition reads ahead, exactly once, while appends continue', async () => {
    const db = await fresh();
    await appendSpread(db, 20_000, 'deep'); // ~625 events a partition: three pages each
    const { sub, sink } = subscribe(db, allPartitions(db, 0), 1000);
    sink.onSend = (_first, last) => setImmediate(() => sub.ack(last));
    let appended = 20_000;
    for (let wave = 0; wave < 10; wave++) {
      await appendSpread(db, 200, `later${wave}`);
      appended += 200;
      await new Promise((resolve) => setImmediate(resolve));
    }
    await waitFor(() => sink.received.length >= appended, `${appended} events`);
    await settle();
    expect(sink.received.length).toBe(appended);
    expect(sub.readsAhead).toBeGreaterThan(0);
    checkCursors(sink.received);
    const counts = checkPartitions(sink.received);
    for (let p = 0; p < 32; p++) expect(counts.get(p)).toBe(db.sharedState.watermark(p));
    checkStreams(sink.received);
    sub.close();
  });

  it('a small window reads each page once: what the window cannot take waits for the ack, not for a re-read', async () => {
    const db = await fresh();
    await appendSpread(db, 4000); // ~125 events a partition: one page each
    const reader = SubscriptionHub.of(db).reader;
    const before = reader.diskReads;
    const { sub, sink } = subscribe(db, allPartitions(db, 0), 10);
    sink.onSend = (_first, last) => setImmediate(() => sub.ack(last));
    await waitFor(() => sink.received.length >= 4000, '4,000 events');
    await settle();
    expect(sink.received.length).toBe(4000);
    checkCursors(sink.received);
    checkPartitions(sink.received);
    checkStreams(sink.received);
    // Window-sized reads would be 400 or more (4,000 events, 10 at a time); whole pages are about one per partition
    // and a read-ahead or a re-read past the end for some.
    expect(reader.diskReads - before).toBeLessThan(3 * 32);
    sub.close();
  });

  it('window without acks: exactly `window` events, then nothing until EACK', async () => {
    const db = await fresh();
    await appendSpread(db, 500);
    const { sub, sink } = subscribe(db, allPartitions(db, 0), 7);
    await waitFor(() => sink.received.length >= 7, '7 events');
    await settle(50);
    expect(sink.received.length).toBe(7);
    await appendSpread(db, 10, 'more');
    await settle(50);
    expect(sink.received.length).toBe(7);
    sub.ack(2);
    await waitFor(() => sink.received.length >= 10, '3 more events');
    await settle(50);
    expect(sink.received.length).toBe(10);
    sub.ack(100); // past the last cursor sent: counts as acking cursor 9
    await waitFor(() => sink.received.length >= 17, '7 more events');
    await settle(50);
    expect(sink.received.length).toBe(17);
    checkCursors(sink.received);
    checkPartitions(sink.received);
    sub.close();
  });

  it('FROM LATEST (partitions): only events appended after the subscription', async () => {
    const db = await fresh();
    await appendSpread(db, 400);
    const before = Array.from({ length: 32 }, (_, p) => db.sharedState.watermark(p));
    const { sub, sink } = subscribe(db, allPartitions(db, 'latest'));
    await settle(50);
    expect(sink.received.length).toBe(0);
    await appendSpread(db, 300, 'after');
    await waitFor(() => sink.received.length >= 300, '300 events');
    await settle();
    expect(sink.received.length).toBe(300);
    expect(sink.received.every((r) => r.event.streamId.startsWith('after-'))).toBe(true);
    checkPartitions(sink.received, (p) => before[p]);
    sub.close();
  });

  it('FROM LATEST (stream): only versions appended after, even when the partition is busy', async () => {
    const db = await fresh();
    for (let i = 0; i < 40; i++) await db.append('order-1', 'Old', { payload: String(i) });
    const { sub, sink } = subscribe(db, [streamSource(db, 'order-1', 'latest')]);
    await settle(50);
    for (let i = 0; i < 5; i++) await db.append('order-1', 'New', { payload: String(i) });
    await waitFor(() => sink.received.length >= 5, '5 events');
    await settle();
    expect(sink.received.map((r) => [r.event.streamVersion, r.event.eventName])).toEqual([40, 41, 42, 43, 44].map((v) => [v, 'New']));
    sub.close();
  });

  it('FROM LATEST (stream) racing appends made between capture and lookup', async () => {
    const db = await fresh();
    for (let i = 0; i < 30; i++) await db.append('race', 'Old');
    const { sub, sink } = subscribe(db, [streamSource(db, 'race', 'latest')]);
    // Appended in the same turn as the subscription, before its loop looked the stream up.
    const pending = Array.from({ length: 20 }, () => db.append('race', 'New'));
    await Promise.all(pending);
    await waitFor(() => sink.received.length >= 20, '20 events');
    await settle();
    expect(sink.received.map((r) => r.event.streamVersion)).toEqual(Array.from({ length: 20 }, (_, i) => 30 + i));
    sub.close();
  });

  it('FROM a position per partition (FROM MAP with DEFAULT, as the command resolves it)', async () => {
    const db = await fresh();
    await appendSpread(db, 640);
    const map = new Map([
      [0, 5],
      [7, 2],
    ]);
    const sources: SourceSpec[] = Array.from({ length: 32 }, (_, partitionId) => ({ kind: 'partition', partitionId, from: map.get(partitionId) ?? 10 }));
    const { sub, sink } = subscribe(db, sources, 100_000);
    const expected = Array.from({ length: 32 }, (_, p) => Math.max(0, db.sharedState.watermark(p) - (map.get(p) ?? 10))).reduce((a, b) => a + b, 0);
    await waitFor(() => sink.received.length >= expected, `${expected} events`);
    await settle();
    expect(sink.received.length).toBe(expected);
    checkPartitions(sink.received, (p) => map.get(p) ?? 10);
    sub.close();
  });

  it('multi-stream: each stream in version order from its own start, live included', async () => {
    const db = await fresh();
    for (let i = 0; i < 10; i++) {
      await db.append('a', 'E');
      await db.append('b', 'E');
      await db.append('c', 'E');
    }
    const { sub, sink } = subscribe(db, [streamSource(db, 'a', 0), streamSource(db, 'b', 4), streamSource(db, 'c', 'latest')], 3);
    sink.onSend = (_first, last) => setImmediate(() => sub.ack(last));
    await waitFor(() => sink.received.length >= 16, 'history');
    for (let i = 0; i < 5; i++) {
      await db.append('a', 'L');
      await db.append('c', 'L');
      await db.append('zzz', 'other');
    }
    await waitFor(() => sink.received.length >= 26, 'live');
    await settle();
    expect(sink.received.length).toBe(26);
    checkCursors(sink.received);
    const next = checkStreams(sink.received, (s) => ({ a: 0, b: 4, c: 10 })[s] ?? -1);
    expect(Object.fromEntries(next)).toEqual({ a: 15, b: 10, c: 15 });
    sub.close();
  });

  it('a multi-event transaction is delivered whole, in order', async () => {
    const db = await fresh();
    const key = partitionKeyForStream('tx');
    const { sub, sink } = subscribe(db, [{ kind: 'partition', partitionId: partitionIdForKey(key, 32), from: 0 }]);
    await db.appendMulti(key, [
      { streamId: 'tx', eventName: 'A' },
      { streamId: 'tx2', eventName: 'B' },
      { streamId: 'tx', eventName: 'C' },
    ]);
    await waitFor(() => sink.received.length >= 3, '3 events');
    expect(sink.received.map((r) => r.event.eventName)).toEqual(['A', 'B', 'C']);
    sub.close();
  });

  it('a receiver over its limit ends the subscription; close() stops delivery and unregisters', async () => {
    const db = await fresh();
    await appendSpread(db, 100);
    const hub = SubscriptionHub.of(db);
    const base = hub.registrations;
    const { sub, sink } = subscribe(db, allPartitions(db, 0));
    sink.accept = false;
    await waitFor(() => sub.closed, 'the subscription to end');
    const got = sink.received.length;
    expect(got).toBeGreaterThan(0);
    expect(hub.registrations).toBe(base);
    await appendSpread(db, 100, 'x');
    await settle();
    expect(sink.received.length).toBe(got);

    const second = subscribe(db, allPartitions(db, 'latest'));
    second.sub.close();
    await appendSpread(db, 10, 'y');
    await settle();
    expect(second.sink.received.length).toBe(0);
    expect(hub.registrations).toBe(base);
  });

  it('a shared page larger than the window is sent in window-sized parts, none lost', async () => {
    const db = await fresh();
    const key = partitionKeyForStream('shared');
    const partitionId = partitionIdForKey(key, 32);
    const wide = subscribe(db, [{ kind: 'partition', partitionId, from: 'latest' }], 1000);
    const narrow = subscribe(db, [{ kind: 'partition', partitionId, from: 'latest' }], 3);
    narrow.sink.onSend = (_first, last) => setTimeout(() => narrow.sub.ack(last), 1);
    await settle();
    await Promise.all(Array.from({ length: 50 }, (_, i) => db.append('shared', 'E', { payload: String(i) })));
    await waitFor(() => narrow.sink.received.length >= 50, 'the narrow subscriber to get 50 events');
    expect(wide.sink.received.length).toBe(50);
    expect(SubscriptionHub.of(db).reader.joined).toBeGreaterThan(0);
    checkPartitions(narrow.sink.received, () => 0);
    wide.sub.close();
    narrow.sub.close();
  });

  it('a read that started before an append is not shared with a subscriber woken by that append', async () => {
    const db = await fresh();
    const key = partitionKeyForStream('slow');
    const partitionId = partitionIdForKey(key, 32);
    // Reads take their snapshot at once but answer 30 ms later (a busy read worker).
    const scan = db.scanPartitionRaw.bind(db);
    db.scanPartitionRaw = async (...args: Parameters<Database['scanPartitionRaw']>) => {
      const r = await scan(...args);
      await new Promise((resolve) => setTimeout(resolve, 30));
      return r;
    };
    const a = subscribe(db, [{ kind: 'partition', partitionId, from: 0 }]);
    await new Promise((resolve) => setImmediate(resolve)); // a's first read (of nothing) is in flight
    await db.append('slow', 'E'); // announced while a's read is still out
    await settle(5); // the hub has seen the announcement
    const b = subscribe(db, [{ kind: 'partition', partitionId, from: 0 }]);
    await waitFor(() => a.sink.received.length === 1 && b.sink.received.length === 1, 'both subscribers to get the event', 2000);
    a.sub.close();
    b.sub.close();
  });

  it('live stream subscribers of one partition share partition reads (tail mode), each getting only its stream', async () => {
    const db = await fresh();
    // 100 streams whose default key lands in the same partition.
    const target = partitionIdForKey(partitionKeyForStream('tail-0'), 32);
    const streams: string[] = [];
    for (let k = 0; streams.length < 100; k++) if (partitionIdForKey(partitionKeyForStream(`tail-${k}`), 32) === target) streams.push(`tail-${k}`);
    for (const s of streams) await db.append(s, 'Old');
    const subs = streams.map((s) => subscribe(db, [streamSource(db, s, 0)]));
    await waitFor(() => subs.every((x) => x.sink.received.length === 1), 'history');
    const reader = SubscriptionHub.of(db).reader;
    const before = reader.reads;
    for (let round = 0; round < 5; round++) {
      await Promise.all(streams.map((s) => db.append(s, 'New')));
    }
    await waitFor(() => subs.every((x) => x.sink.received.length === 6), 'every stream subscriber to get its 5 new events');
    await settle();
    // One shared partition read per publish (plus a few), not one stream read per subscriber per publish.
    expect(reader.reads - before).toBeLessThan(100);
    subs.forEach((x, k) => {
      expect(x.sink.received.every((r) => r.event.streamId === streams[k])).toBe(true);
      expect(x.sink.received.map((r) => r.event.streamVersion)).toEqual([0, 1, 2, 3, 4, 5]);
    });
    for (const x of subs) x.sub.close();
  });

  it('a live stream subscriber on a busy partition falls back to stream reads when far behind; a window of 1 in tail mode', async () => {
    const db = await fresh();
    const target = partitionIdForKey(partitionKeyForStream('quiet'), 32);
    const busy: string[] = [];
    for (let k = 0; busy.length < 5; k++) if (partitionIdForKey(partitionKeyForStream(`busy-${k}`), 32) === target) busy.push(`busy-${k}`);
    await db.append('quiet', 'Q');
    const { sub, sink } = subscribe(db, [streamSource(db, 'quiet', 0)], 1);
    sink.onSend = (_first, last) => setTimeout(() => sub.ack(last), 1);
    await waitFor(() => sink.received.length === 1, 'history');
    // 600 events of other streams in the same partition (more than a tail page), then three of ours in a row.
    await Promise.all(Array.from({ length: 600 }, (_, i) => db.append(busy[i % 5], 'B')));
    await Promise.all([db.append('quiet', 'Q'), db.append('quiet', 'Q'), db.append('quiet', 'Q')]);
    await Promise.all(Array.from({ length: 10 }, (_, i) => db.append(busy[i % 5], 'B')));
    await db.append('quiet', 'Q');
    await waitFor(() => sink.received.length === 5, 'the 4 new events');
    await settle();
    expect(sink.received.map((r) => r.event.streamVersion)).toEqual([0, 1, 2, 3, 4]);
    checkCursors(sink.received);
    sub.close();
  });

  it('1,000 subscribers to one partition share reads', async () => {
    const db = await fresh();
    const key = partitionKeyForStream('hot');
    const partitionId = partitionIdForKey(key, 32);
    const subs = Array.from({ length: 1000 }, () => subscribe(db, [{ kind: 'partition', partitionId, from: 'latest' }]));
    await settle();
    const reader = SubscriptionHub.of(db).reader;
    const readsBefore = reader.reads;
    for (let i = 0; i < 20; i++) await db.append('hot', 'E');
    await waitFor(() => subs.every((s) => s.sink.received.length === 20), 'every subscriber to get 20 events');
    // Reads are shared: far fewer than one per subscriber per event.
    expect(reader.reads - readsBefore).toBeLessThan(20 * 1000 / 10);
    for (const s of subs) s.sub.close();
  });
});
