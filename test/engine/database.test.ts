import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SimulatedFileIo } from '../../native-free-io/simulated-file-io.ts';
import { open, type Database, type DatabaseOptions } from '../../src/database.ts';
import { partitionKeyForStream, formatUuid, partitionHash } from '../../src/ids/partition-key.ts';

type Mode = { name: string; make: (extra?: DatabaseOptions) => Promise<{ db: Database; reopen: () => Promise<Database> }> };

const tempDirs: string[] = [];
afterEach(() => {
  for (const d of tempDirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

const modes: Mode[] = [
  {
    name: 'in-process, simulated disk',
    make: async (extra = {}) => {
      const io = new SimulatedFileIo();
      const options: DatabaseOptions = { threads: false, io, ...extra };
      const db = await open('/db', options);
      return { db, reopen: () => open('/db', options) };
    },
  },
  {
    name: 'worker threads, real disk',
    make: async (extra = {}) => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sdb-test-'));
      tempDirs.push(dir);
      const options: DatabaseOptions = { threads: { read: 1 }, ...extra };
      const db = await open(dir, options);
      return { db, reopen: () => open(dir, options) };
    },
  },
];

for (const mode of modes) {
  describe(`Database (${mode.name})`, () => {
    it('appends and reads back a stream, with versions and sequences from 0', async () => {
      const { db } = await mode.make();
      try {
        const r0 = await db.append('user-123', 'UserRegistered', { payload: '{"n":0}' });
        const r1 = await db.append('user-123', 'UserRenamed', { payload: '{"n":1}', metadata: 'm' });
        const r2 = await db.append('user-123', 'UserRenamed', { payload: '{"n":2}' });
        expect([r0.streamVersion, r1.streamVersion, r2.streamVersion]).toEqual([0, 1, 2]);
        expect([r0.partitionSequence, r1.partitionSequence, r2.partitionSequence]).toEqual([0, 1, 2]);
        expect(r0.partitionId).toBe(21);
        expect(r0.partitionKey).toBe('7e124fe8-fe28-5398-bb95-53973100148f');
        expect(partitionHash(Buffer.from(r0.eventId.replaceAll('-', ''), 'hex'))).toBe(61013);

        const page = await db.scanStream('user-123');
        expect(page.hasMore).toBe(false);
        expect(page.events.map((e) => [e.streamVersion, e.eventName, e.payload.toString()])).toEqual([
          [0, 'UserRegistered', '{"n":0}'],
          [1, 'UserRenamed', '{"n":1}'],
          [2, 'UserRenamed', '{"n":2}'],
        ]);
        expect(page.events[1].metadata.toString()).toBe('m');
        expect(await db.streamVersion('user-123')).toBe(2);
        expect(await db.streamVersion('nobody')).toBeUndefined();
        expect(db.partitionSequence(21)).toBe(2);
        expect(db.partitionSequence(0)).toBeUndefined();

        const got = await db.getEvent(r1.eventId);
        expect(got?.eventName).toBe('UserRenamed');
        expect(got?.streamVersion).toBe(1);
        expect(got?.timestampMs).toBe(r1.timestampMs);
        expect(await db.getEvent('00000000-0000-4000-8000-000000000000')).toBeUndefined();
      } finally {
        await db.close();
      }
    });

    it('scan pages report has_more exactly', async () => {
      const { db } = await mode.make();
      try {
        for (let i = 0; i < 5; i++) await db.append('s', 'E', { payload: String(i) });
        expect((await db.scanStream('s', 0, Number.MAX_SAFE_INTEGER, { count: 5 })).hasMore).toBe(false);
        const p = await db.scanStream('s', 0, Number.MAX_SAFE_INTEGER, { count: 4 });
        expect(p.events.length).toBe(4);
        expect(p.hasMore).toBe(true);
        const q = await db.scanStream('s', 1, 3, { count: 3 });
        expect(q.events.map((e) => e.streamVersion)).toEqual([1, 2, 3]);
        expect(q.hasMore).toBe(false);
        const pid = partitionHash(partitionKeyForStream('s')) % 32;
        const ps = await db.scanPartition(pid, 2, Number.MAX_SAFE_INTEGER, { count: 2 });
        expect(ps.events.map((e) => e.partitionSequence)).toEqual([2, 3]);
        expect(ps.hasMore).toBe(true);
      } finally {
        await db.close();
      }
    });

    it('enforces the expected-version table', async () => {
      const { db } = await mode.make();
      try {
        await expect(db.append('a', 'E', { expectedVersion: 'exists' })).rejects.toMatchObject({ code: 'WRONGVER' });
        await expect(db.append('a', 'E', { expectedVersion: 0 })).rejects.toThrow(/current stream version is empty but expected 0 for partition key .* and stream id a$/);
        expect((await db.append('a', 'E', { expectedVersion: 'empty' })).streamVersion).toBe(0);
        await expect(db.append('a', 'E', { expectedVersion: 'empty' })).rejects.toThrow('current stream version is 0 but expected empty');
        expect((await db.append('a', 'E', { expectedVersion: 'exists' })).streamVersion).toBe(1);
        await expect(db.append('a', 'E', { expectedVersion: 0 })).rejects.toThrow('current stream version is 1 but expected 0');
        expect((await db.append('a', 'E', { expectedVersion: 1 })).streamVersion).toBe(2);
        expect((await db.append('a', 'E', { expectedVersion: 'any' })).streamVersion).toBe(3);
        expect((await db.append('b', 'E', { expectedVersion: 'any' })).streamVersion).toBe(0);
        // A failed append consumes no sequence.
        const pid = partitionHash(partitionKeyForStream('a')) % 32;
        const seq = db.partitionSequence(pid)!;
        await expect(db.append('a', 'E', { expectedVersion: 99 })).rejects.toThrow();
        expect(db.partitionSequence(pid)).toBe(seq);
      } finally {
        await db.close();
      }
    });

    it('rejects a stream whose partition key changes', async () => {
      const { db } = await mode.make();
      try {
        await db.append('k', 'E', { partitionKey: '550e8400-e29b-41d4-a716-446655440000' });
        // Same bucket (partition 25, bucket 1) but a different key.
        const other = '550e8400-e29b-41d4-a716-446655440001';
        await expect(db.append('k', 'E', { partitionKey: other })).rejects.toThrow(/partition key must be the same for all events in a stream/);
      } finally {
        await db.close();
      }
    });

    it('multi-stream appends are all or nothing', async () => {
      const { db } = await mode.make();
      try {
        const key = formatUuid(partitionKeyForStream('order-1'));
        const r = await db.appendMulti(key, [
          { streamId: 'order-1', eventName: 'Placed' },
          { streamId: 'order-1-items', eventName: 'Added' },
          { streamId: 'order-1', eventName: 'Paid' },
        ]);
        expect(r.firstPartitionSequence).toBe(0);
        expect(r.lastPartitionSequence).toBe(2);
        expect(r.events.map((e) => [e.streamId, e.streamVersion])).toEqual([
          ['order-1', 0],
          ['order-1-items', 0],
          ['order-1', 1],
        ]);
        await expect(
          db.appendMulti(key, [
            { streamId: 'order-1', eventName: 'Shipped', expectedVersion: 1 },
            { streamId: 'order-1-items', eventName: 'Removed', expectedVersion: 5 },
          ]),
        ).rejects.toMatchObject({ code: 'WRONGVER' });
        expect(await db.streamVersion('order-1', { partitionKey: key })).toBe(1);
        expect(db.partitionSequence(key)).toBe(2);
        // Within one request a repeated stream is checked against the running version.
        await expect(
          db.appendMulti(key, [
            { streamId: 'x', eventName: 'A', expectedVersion: 'empty' },
            { streamId: 'x', eventName: 'B', expectedVersion: 'empty' },
          ]),
        ).rejects.toThrow('current stream version is 0 but expected empty');
        const ok = await db.appendMulti(key, [
          { streamId: 'x', eventName: 'A', expectedVersion: 'empty' },
          { streamId: 'x', eventName: 'B', expectedVersion: 0 },
        ]);
        expect(ok.events.map((e) => e.streamVersion)).toEqual([0, 1]);
      } finally {
        await db.close();
      }
    });

    it('strict versioning rejects any and exists', async () => {
      const { db } = await mode.make({ strictVersioning: true });
      try {
        await expect(db.append('s', 'E')).rejects.toThrow('strict versioning mode rejects EXPECTED_VERSION any');
        await expect(db.append('s', 'E', { expectedVersion: 'exists' })).rejects.toThrow('strict versioning mode rejects EXPECTED_VERSION exists');
        expect((await db.append('s', 'E', { expectedVersion: 'empty' })).streamVersion).toBe(0);
      } finally {
        await db.close();
      }
    });

    it('finds events by client-chosen ids that do not embed the partition hash', async () => {
      const { db } = await mode.make();
      try {
        const id = '550e8400-e29b-41d4-a716-446655440000'; // hash 40025 -> partition 25, but stream 'orders' is partition 31
        await db.append('orders', 'Placed', { eventId: id });
        const e = await db.getEvent(id);
        expect(e?.streamId).toBe('orders');
        expect(e?.partitionId).toBe(31);
      } finally {
        await db.close();
      }
    });

    it('many concurrent appenders on shared streams get gapless versions and sequences', async () => {
      const { db } = await mode.make();
      try {
        const streams = Array.from({ length: 8 }, (_, i) => `shared-${i}`);
        const results = await Promise.all(
          Array.from({ length: 2000 }, (_, i) => db.append(streams[i % streams.length], 'E', { payload: `p${i}` })),
        );
        const byStream = new Map<string, number[]>();
        const byPartition = new Map<number, number[]>();
        results.forEach((r, i) => {
          const s = streams[i % streams.length];
          byStream.set(s, [...(byStream.get(s) ?? []), r.streamVersion]);
          byPartition.set(r.partitionId, [...(byPartition.get(r.partitionId) ?? []), r.partitionSequence]);
        });
        for (const versions of byStream.values()) expect([...versions].sort((a, b) => a - b)).toEqual(versions.map((_, i) => i));
        for (const seqs of byPartition.values()) expect([...seqs].sort((a, b) => a - b)).toEqual(seqs.map((_, i) => i));
        const stats = await db.writerStats();
        const fsyncs = stats.reduce((n, s) => n + s.fsyncs, 0);
        expect(fsyncs).toBeLessThan(2000); // group commit: appends shared fdatasyncs
        for (const s of streams) {
          const page = await db.scanStream(s, 0, Number.MAX_SAFE_INTEGER, { count: 1000 });
          expect(page.events.map((e) => e.streamVersion)).toEqual(page.events.map((_, i) => i));
        }
      } finally {
        await db.close();
      }
    });

    it('tiny segments roll over; sealed indexes answer lookups, before and after reopen', async () => {
      const { db, reopen } = await mode.make({ segmentSizeBytes: 8192 });
      const ids: string[] = [];
      try {
        for (let i = 0; i < 300; i++) {
          const r = await db.append(`roll-${i % 3}`, 'E', { payload: 'x'.repeat(100) });
          ids.push(r.eventId);
        }
        const stats = await db.writerStats();
        expect(stats.reduce((n, s) => n + s.rollovers, 0)).toBeGreaterThan(3);
      } finally {
        await db.close();
      }
      for (const attempt of [0, 1]) {
        const db2 = await reopen();
        try {
          for (let s = 0; s < 3; s++) {
            const all = await db2.scanStream(`roll-${s}`, 0, Number.MAX_SAFE_INTEGER, { count: 1000 });
            // The first reopen appends one more event to roll-0.
            const expectedCount = s === 0 ? 100 + attempt : 100;
            expect(all.events.map((e) => e.streamVersion)).toEqual(Array.from({ length: expectedCount }, (_, i) => i));
            const mid = await db2.scanStream(`roll-${s}`, 40, 45);
            expect(mid.events.map((e) => e.streamVersion)).toEqual([40, 41, 42, 43, 44, 45]);
            expect(await db2.streamVersion(`roll-${s}`)).toBe(expectedCount - 1);
          }
          for (const id of [ids[0], ids[150], ids[299]]) expect((await db2.getEvent(id))?.eventId).toBe(id);
          // Appends continue from the recovered versions.
          expect((await db2.append('roll-0', 'E', { expectedVersion: 99 + attempt })).streamVersion).toBe(100 + attempt);
        } finally {
          await db2.close();
        }
      }
    });
  });
}

describe('read workers with bucket affinity', () => {
  for (const read of [3, 6]) {
    it(`${read} read workers over 4 buckets answer every read right, concurrently (client-chosen ids included)`, async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sdb-affinity-'));
      tempDirs.push(dir);
      const db = await open(dir, { threads: { read } });
      try {
        const appended = await Promise.all(
          Array.from({ length: 400 }, (_, i) =>
            db.append(`aff-${i % 40}`, 'E', {
              payload: `p${i}`,
              // Every tenth id chosen by the client: its hash names another partition than its stream's.
              eventId: i % 10 === 0 ? `550e8400-e29b-41d4-a716-${String(446655440000 + i).padStart(12, '0')}` : undefined,
            }),
          ),
        );
        const byId = await Promise.all(appended.map((a) => db.getEvent(a.eventId)));
        byId.forEach((e, i) => expect([e?.streamId, e?.streamVersion, e?.payload.toString()]).toEqual([`aff-${i % 40}`, appended[i].streamVersion, `p${i}`]));
        const streams = await Promise.all(Array.from({ length: 40 }, (_, s) => db.scanStream(`aff-${s}`)));
        streams.forEach((page, s) => expect(page.events.map((e) => e.payload.toString())).toEqual(appended.flatMap((_, i) => (i % 40 === s ? [`p${i}`] : []))));
        const partitions = await Promise.all(Array.from({ length: 32 }, (_, p) => db.scanPartition(p, 0, Number.MAX_SAFE_INTEGER, { count: 1000 })));
        expect(partitions.reduce((n, page) => n + page.events.length, 0)).toBe(400);
        for (const page of partitions) page.events.forEach((e, k) => expect(e.partitionSequence).toBe(k));
        expect(await db.getEvent('00000000-0000-4000-8000-000000000000')).toBeUndefined();
      } finally {
        await db.close();
      }
    });
  }
});
