/** The recent-events cache: contiguous runs only, eviction raises the floor, disk below it; live delivery from it. */
import { afterEach, describe, expect, it } from 'vitest';
import type { Database } from '../../src/database.ts';
import { encodeEventRecord, eventRecordBytes } from '../../native-free-io/segment-format.ts';
import { partitionIdForKey, partitionKeyForStream } from '../../src/ids/partition-key.ts';
import { InPlaceAppend, type AppendSink, type ByteRange } from '../../src/engine/in-place-append.ts';
import { RecentEvents } from '../../src/subscriptions/recent-events.ts';
import { RespEncoder } from '../../src/protocol/resp-encoder.ts';
import { SubscriptionHub } from '../../src/subscriptions/subscription-hub.ts';
import { checkCursors, checkPartitions, openSimulated, settle, subscribe, waitFor } from './helpers.ts';

/** Records of `n` events of a partition from `firstSequence` on, as Database.onAppended hands them over. */
function appended(partitionId: number, firstSequence: number, n: number, payloadBytes = 10): Buffer[] {
  return Array.from({ length: n }, (_, i) => {
    const streamId = Buffer.from(`s-${firstSequence + i}`);
    const record = Buffer.allocUnsafe(eventRecordBytes(streamId.length, 1, 0, payloadBytes));
    encodeEventRecord(
      record,
      0,
      {
        eventId: new Uint8Array(16).fill(firstSequence + i),
        partitionKey: new Uint8Array(16).fill(1),
        transactionId: new Uint8Array(16).fill(2),
        partitionId,
        timestampMs: 1000 + firstSequence + i,
        streamId,
        eventName: Buffer.from('E'),
        metadata: new Uint8Array(0),
        payload: new Uint8Array(payloadBytes).fill(7),
      },
      firstSequence + i,
      0,
      1,
      false,
    );
    return record;
  });
}

function addAll(c: RecentEvents, records: Buffer[]): void {
  for (const r of records) c.add(r);
}

describe('RecentEvents', () => {
  it('serves only a contiguous run from the asked position when completions arrive out of order', () => {
    const c = new RecentEvents([0, 0]);
    addAll(c, appended(0, 2, 2)); // 2, 3 before 0, 1
    expect(c.read(0, 0, 10)!.events).toEqual([]); // 0 is on its way: nothing yet, and no disk read either
    addAll(c, appended(0, 0, 1));
    expect(c.read(0, 0, 10)!.events.map((e) => e.sequence)).toEqual([0]); // stops at the gap (1)
    addAll(c, appended(0, 1, 1));
    expect(c.read(0, 0, 10)!.events.map((e) => e.sequence)).toEqual([0, 1, 2, 3]);
    const part = c.read(0, 1, 2)!;
    expect(part.events.map((e) => e.sequence)).toEqual([1, 2]);
    expect(part.more).toBe(true);
    expect(c.read(0, 2, 2)!.more).toBe(false);
    expect(c.read(1, 0, 10)!.events).toEqual([]);
  });

  it('answers nothing below the floor (events from before the cache): the caller reads the disk', () => {
    const c = new RecentEvents([5]);
    expect(c.read(0, 4, 10)).toBeUndefined();
    expect(c.read(0, 5, 10)!.events).toEqual([]);
    addAll(c, appended(0, 4, 2)); // a completion from before the cache: only 5 is kept
    expect(c.read(0, 5, 10)!.events.map((e) => e.sequence)).toEqual([5]);
  });

  it('evicts the oldest by bytes and raises the floor past them', () => {
    const c = new RecentEvents([0], 20_000);
    for (let s = 0; s < 100; s++) addAll(c, appended(0, s, 1, 1000));
    expect(c.bytes).toBeLessThanOrEqual(20_000);
    expect(c.evicted).toBeGreaterThan(0);
    const floor = c.floor(0);
    expect(floor).toBe(c.evicted);
    expect(c.read(0, floor - 1, 10)).toBeUndefined();
    const run = c.read(0, floor, 1000)!;
    expect(run.events.map((e) => e.sequence)).toEqual(Array.from({ length: 100 - floor }, (_, i) => floor + i));
    // One event bigger than the whole budget is dropped at once and lands below the floor.
    addAll(c, appended(0, 100, 1, 30_000));
    expect(c.floor(0)).toBeGreaterThan(100);
  });

  it('made closed, answers nothing and keeps nothing until opened; then serves from its floors', () => {
    const c = RecentEvents.closed(2);
    addAll(c, appended(0, 0, 3));
    expect(c.size).toBe(0);
    expect(c.read(0, 0, 10)).toBeUndefined();
    expect(c.read(1, 1e9, 10)).toBeUndefined();
    c.open([3, 0]);
    expect(c.floor(0)).toBe(3);
    expect(c.read(0, 2, 10)).toBeUndefined(); // below the floor: the disk
    addAll(c, appended(0, 3, 2));
    expect(c.read(0, 3, 10)?.events.map((e) => e.sequence)).toEqual([3, 4]);
    expect(() => c.open([0, 0])).toThrow(/open already/);
  });

  it('writes an event map straight from the record, or from the encoding once one is made: the same bytes', () => {
    const c = new RecentEvents([0]);
    addAll(c, appended(0, 0, 1, 300));
    const [event] = c.read(0, 0, 1)!.events;
    for (const protocol of [2, 3] as const) {
      const direct = new RespEncoder({ protocol });
      event.writeMap(direct); // no encoding made yet: written from the record
      const made = event.mapBytes(protocol);
      const fromMade = new RespEncoder({ protocol });
      event.writeMap(fromMade);
      expect(Buffer.from(direct.take()).equals(made)).toBe(true);
      expect(Buffer.from(fromMade.take()).equals(made)).toBe(true);
      expect(made.subarray(0, 4).toString()).toBe(protocol === 3 ? '%11\r' : '*22\r');
    }
  });

  it('encodes each event once and shares the bytes', () => {
    const c = new RecentEvents([0]);
    addAll(c, appended(0, 0, 1));
    const [e] = c.read(0, 0, 1)!.events;
    expect(e.mapBytes(3)).toBe(e.mapBytes(3));
    expect(e.mapBytes(2)).toBe(e.mapBytes(2));
    expect(e.mapBytes(3).subarray(0, 4).toString()).toBe('%11\r');
    expect(e.mapBytes(2).subarray(0, 4).toString()).toBe('*22\r');
    expect(JSON.parse(e.json())).toMatchObject({ partition_sequence: 0, stream_id: 's-0', event_name: 'E' });
  });
});

describe('subscriptions with the recent-events cache', () => {
  const dbs: Database[] = [];
  afterEach(async () => {
    for (const db of dbs.splice(0)) await db.close();
  });
  async function fresh(): Promise<Database> {
    const db = await openSimulated();
    dbs.push(db);
    return db;
  }

  it('live subscribers take appended events from memory, not from the disk', async () => {
    const db = await fresh();
    const partitionId = partitionIdForKey(partitionKeyForStream('live'), 32);
    const subs = Array.from({ length: 50 }, () => subscribe(db, [{ kind: 'partition', partitionId, from: 'latest' }]));
    await settle();
    const hub = SubscriptionHub.of(db);
    const diskBefore = hub.reader.diskReads;
    for (let i = 0; i < 30; i++) await db.append('live', 'E', { payload: String(i) });
    await Promise.all(Array.from({ length: 30 }, (_, i) => db.appendMulti(partitionKeyForStream('live'), [{ streamId: 'live', eventName: 'M', payload: String(i) }])));
    await waitFor(() => subs.every((s) => s.sink.received.length === 60), 'every subscriber to get 60 events');
    expect(hub.reader.diskReads - diskBefore).toBe(0);
    expect(hub.recent.hits).toBeGreaterThan(0);
    for (const s of subs) {
      checkPartitions(s.sink.received, () => s.sink.received[0].event.partitionSequence);
      checkCursors(s.sink.received);
      expect(s.sink.received.slice(0, 30).map((r) => r.event.payload.toString())).toEqual(Array.from({ length: 30 }, (_, i) => String(i)));
      s.sub.close();
    }
  });

  it('a subscriber from an old position reads history from the disk and then live from memory, gapless', async () => {
    const db = await fresh();
    const partitionId = partitionIdForKey(partitionKeyForStream('old'), 32);
    for (let i = 0; i < 300; i++) await db.append('old', 'Before');
    const first = subscribe(db, [{ kind: 'partition', partitionId, from: 'latest' }]); // makes the hub (and cache) now
    await settle();
    const hub = SubscriptionHub.of(db);
    expect(hub.recent.floor(partitionId)).toBe(300);
    for (let i = 0; i < 20; i++) await db.append('old', 'After');
    const late = subscribe(db, [{ kind: 'partition', partitionId, from: 5 }]);
    const appending = Promise.all(Array.from({ length: 40 }, () => db.append('old', 'During')));
    await appending;
    await waitFor(() => late.sink.received.length === 355 && first.sink.received.length === 60, 'history and live');
    checkPartitions(late.sink.received, () => 5);
    checkCursors(late.sink.received);
    expect(hub.reader.diskReads).toBeGreaterThan(0);
    first.sub.close();
    late.sub.close();
  });

  it('falls back to the disk for evicted events (a slow subscriber behind the cache)', async () => {
    const db = await fresh();
    const partitionId = partitionIdForKey(partitionKeyForStream('evict'), 32);
    const hub = SubscriptionHub.of(db);
    // A tiny budget: the cache keeps a handful of events.
    (hub.recent as unknown as { budgetBytes: number }).budgetBytes = 5_000;
    const { sub, sink } = subscribe(db, [{ kind: 'partition', partitionId, from: 0 }], 10);
    await settle();
    for (let i = 0; i < 200; i++) await db.append('evict', 'E', { payload: 'x'.repeat(100) });
    expect(hub.recent.evicted).toBeGreaterThan(0);
    const diskBefore = hub.reader.diskReads;
    sink.onSend = (_first, last) => setTimeout(() => sub.ack(last), 0);
    sub.ack(9);
    await waitFor(() => sink.received.length === 200, 'all 200 events');
    checkPartitions(sink.received, () => 0);
    checkCursors(sink.received);
    expect(hub.reader.diskReads).toBeGreaterThan(diskBefore);
    sub.close();
  });

  it('an event published before its completion arrives is delivered once the completion does (out of order)', async () => {
    const db = await fresh();
    const partitionId = partitionIdForKey(partitionKeyForStream('ooo'), 32);
    const { sub, sink } = subscribe(db, [{ kind: 'partition', partitionId, from: 'latest' }]);
    await settle();
    const hub = SubscriptionHub.of(db);
    // Hold back the cache's view of the first append: its watermark is published, its events are not cached yet.
    const held: Buffer[] = [];
    const add = hub.recent.add.bind(hub.recent);
    let hold = true;
    hub.recent.add = (a: Buffer) => {
      if (hold) held.push(a);
      else add(a);
    };
    await db.append('ooo', 'First');
    hold = false;
    await db.append('ooo', 'Second');
    await settle(20);
    expect(sink.received.length).toBe(0); // 1 is cached, 0 is not: nothing can go out yet, and nothing skips 0
    // The held completion arrives late; the hub bumps (as its listener does) and both go out, in order.
    add(held[0]);
    hub.recent.add = add;
    await db.append('ooo', 'Third');
    await waitFor(() => sink.received.length === 3, 'three events');
    expect(sink.received.map((r) => r.event.eventName)).toEqual(['First', 'Second', 'Third']);
    checkPartitions(sink.received, () => sink.received[0].event.partitionSequence);
    sub.close();
  });

  it('appends submitted in place before the first subscription, completing after it, are delivered (the cache waits for them)', async () => {
    const db = await fresh();
    const streamId = 'early';
    const partitionId = partitionIdForKey(partitionKeyForStream(streamId), 32);
    // In-place appends (the server's EAPPEND path) with no listener yet: they carry nothing a listener could hear.
    const done: number[] = [];
    for (let i = 0; i < 20; i++) submitInPlace(db, streamId, 'Early', '', (sequence) => done.push(sequence));
    expect(done.length).toBe(0); // still in flight
    // The first subscription makes the hub and its cache now, while those 20 are in flight.
    const { sub, sink } = subscribe(db, [{ kind: 'partition', partitionId, from: 0 }]);
    const hub = SubscriptionHub.of(db);
    expect(hub.recent.floor(partitionId)).toBe(Infinity); // closed until they complete
    await waitFor(() => done.length === 20, 'the in-place appends to complete');
    expect(hub.recent.floor(partitionId)).toBe(20);
    for (let i = 0; i < 10; i++) await db.append(streamId, 'Late');
    await waitFor(() => sink.received.length === 30, 'all 30 events');
    checkPartitions(sink.received, () => 0);
    checkCursors(sink.received);
    expect(sink.received.map((r) => r.event.eventName)).toEqual([...Array(20).fill('Early'), ...Array(10).fill('Late')]);
    expect(hub.recent.hits).toBeGreaterThan(0); // once open, live events come from memory
    sub.close();
  });

  it('with no subscription left the hub stops listening; the next one waits for the appends made meanwhile', async () => {
    const db = await fresh();
    const streamId = 'pause';
    const partitionId = partitionIdForKey(partitionKeyForStream(streamId), 32);
    const first = subscribe(db, [{ kind: 'partition', partitionId, from: 0 }]);
    const hub = SubscriptionHub.of(db);
    let done = 0;
    for (let i = 0; i < 10; i++) submitInPlace(db, streamId, 'One', '', () => done++);
    await waitFor(() => first.sink.received.length === 10, 'the first 10 events');
    const cacheThen = hub.recent;
    expect(cacheThen.added).toBe(10);
    first.sub.close();
    expect(hub.recent).not.toBe(cacheThen); // dropped
    const idle = hub.recent;
    for (let i = 0; i < 10; i++) submitInPlace(db, streamId, 'Two', '', () => done++);
    await waitFor(() => done === 20, 'appends with no subscriber');
    expect(idle.added).toBe(0); // nobody listened
    for (let i = 0; i < 10; i++) submitInPlace(db, streamId, 'Three', '', () => done++);
    // Subscribed again while those 10 are in flight: the cache opens only once they have completed.
    const second = subscribe(db, [{ kind: 'partition', partitionId, from: 10 }]);
    expect(hub.recent.floor(partitionId)).toBe(Infinity);
    await waitFor(() => done === 30, 'the third 10');
    expect(hub.recent.floor(partitionId)).toBe(30);
    for (let i = 0; i < 10; i++) submitInPlace(db, streamId, 'Four', '', () => done++);
    await waitFor(() => second.sink.received.length === 30, 'events 10..39');
    checkPartitions(second.sink.received, () => 10);
    expect(second.sink.received.map((r) => r.event.eventName).join(',')).toBe([...Array(10).fill('Two'), ...Array(10).fill('Three'), ...Array(10).fill('Four')].join(','));
    expect(hub.recent.added).toBe(10); // the 'Four' events, captured
    second.sub.close();
  });

  it('in-place appends made while subscribed reach live subscribers from memory, as the records the store holds', async () => {
    const db = await fresh();
    const streamIds = ['live-a', 'live-b', 'live-c'];
    const partitions = [...new Set(streamIds.map((id) => partitionIdForKey(partitionKeyForStream(id), 32)))];
    const subs = partitions.map((partitionId) => subscribe(db, [{ kind: 'partition', partitionId, from: 'latest' }]));
    await settle();
    const hub = SubscriptionHub.of(db);
    const diskBefore = hub.reader.diskReads;
    let completed = 0;
    for (let i = 0; i < 60; i++) submitInPlace(db, streamIds[i % 3], `E${i}`, `{"i":${i}}`, () => completed++, i % 2 === 0 ? `m${i}` : '');
    await waitFor(() => completed === 60, 'the appends');
    await waitFor(() => subs.reduce((n, s) => n + s.sink.received.length, 0) === 60, 'every event live');
    expect(hub.reader.diskReads - diskBefore).toBe(0);
    for (const [k, s] of subs.entries()) {
      const stored = (await db.scanPartition(partitions[k])).events;
      expect(s.sink.received.map((r) => r.event)).toEqual(stored); // ids, transaction id, timestamp, bytes, positions
      checkCursors(s.sink.received);
      s.sub.close();
    }
    const all = subs.flatMap((s) => s.sink.received.map((r) => r.event));
    expect(all.length).toBe(60);
    expect(new Set(all.map((e) => e.transactionId)).size).toBe(60);
  });
});

/** An EAPPEND as the server submits it: read in place from request bytes, completing into a sink. */
function submitInPlace(db: Database, streamId: string, eventName: string, payload: string, onAppended: (sequence: number) => void, metadata = ''): void {
  const o = new InPlaceAppend();
  o.reset();
  const fields: [ByteRange, string][] = [
    [o.streamId, streamId],
    [o.eventName, eventName],
    [o.payload, payload],
    [o.metadata, metadata],
  ];
  for (const [range, text] of fields) {
    // Inside a larger buffer, as arguments are in a socket chunk.
    const bytes = Buffer.from(`xx${text}yy`);
    range.buffer = bytes;
    range.start = 2;
    range.end = bytes.length - 2;
  }
  expect(db.prepareAppendInPlace(o)).toBe(true);
  const sink: AppendSink = {
    ids: new Uint8Array(32),
    partitionId: 0,
    timestampMs: 0,
    appended: (sequence) => onAppended(sequence),
    appendFailed: (err) => {
      throw err;
    },
  };
  db.submitAppendInPlace(o, sink);
  for (const [range] of fields) range.buffer.fill(0); // the request's bytes are gone once submitted
}
