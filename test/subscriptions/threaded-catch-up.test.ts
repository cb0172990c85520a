/**
 * Catch-up through the read workers, on disk: pages of partition events come back in buffers that go round between
 * the main thread and the workers (BufferPool), and a page shared by several subscribers must not go back
 * before the last of them is done with it. Every event's payload is checked against what was appended.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { open, type Database } from '../../src/database.ts';
import { BufferPool } from '../../src/buffers/buffer-pool.ts';
import { seededRandom } from '../../bench/load/key-distribution.ts';
import { allPartitions, checkCursors, checkPartitions, checkStreams, subscribe, waitFor, type CollectingSink } from './helpers.ts';

const dirs: string[] = [];
const dbs: Database[] = [];
beforeAll(() => {
  BufferPool.poisonOnGive = true;
});
afterAll(() => {
  BufferPool.poisonOnGive = false;
});
afterEach(async () => {
  for (const db of dbs.splice(0)) await db.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** Two pages or more per partition (PAGE_EVENTS_MAX is 512), so sources read again after their first page. */
const EVENTS = 40_000;
const STREAMS = 300;

/** The payload of version `v` of stream `s`: says which event it is, padded to sizes from 0 to ~900 bytes. */
function payloadOf(s: number, v: number, pad: number): string {
  return JSON.stringify({ s, v, pad: String.fromCharCode(97 + ((s + v) % 26)).repeat(pad) });
}

describe('catch-up through the read workers', () => {
  it('three subscribers, two of them sharing every page read, get every event intact; page buffers go round', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sierradb-catchup-'));
    dirs.push(dir);
    const expected = new Map<string, string>();
    const writer = await open(dir, { threads: { write: 2, read: 2 } });
    const next = seededRandom(5);
    const versions = new Array<number>(STREAMS).fill(0);
    for (let batch = 0; batch < EVENTS / 1000; batch++) {
      await Promise.all(
        Array.from({ length: 1000 }, () => {
          const s = Math.floor(next() * STREAMS);
          const v = versions[s]++;
          const payload = payloadOf(s, v, Math.floor(next() * (next() < 0.1 ? 900 : 150)));
          expected.set(`stream-${s}:${v}`, payload);
          return writer.append(`stream-${s}`, 'Tick', { payload });
        }),
      );
    }
    await writer.close();

    // A fresh open: nothing is in the recent-events cache, so every page comes from the read workers.
    const db = await open(dir, { threads: { write: 2, read: 2 } });
    dbs.push(db);
    const both = [subscribe(db, allPartitions(db, 0), 100_000), subscribe(db, allPartitions(db, 0), 100_000)];
    await waitFor(() => both[0].sink.received.length >= 5000, 'the first 5,000 events');
    const late = subscribe(db, allPartitions(db, 0), 100_000);
    const all = [...both, late];
    await waitFor(() => all.every((s) => s.sink.received.length >= EVENTS) || all.some((s) => s.sub.closed), `${EVENTS} events for each subscriber`, 30_000);
    for (const s of all) expect(s.sink.endedWith).toBeUndefined(); // a damaged page ends its subscription

    const check = (sink: CollectingSink) => {
      expect(sink.received.length).toBe(EVENTS);
      checkCursors(sink.received);
      checkPartitions(sink.received);
      checkStreams(sink.received);
      for (const { event } of sink.received) {
        const want = expected.get(`${event.streamId}:${event.streamVersion}`);
        if (event.payload.toString() !== want) expect(event.payload.toString()).toBe(want);
      }
    };
    for (const s of all) check(s.sink);
    // Buffers came back and went out again (how many were made depends on how many reads were in flight at once).
    expect(db.resultBufferStats().reused).toBeGreaterThan(0);
    for (const s of all) s.sub.close();
  }, 60_000);
});
