import { describe, expect, it } from 'vitest';
import type { FileHandle, FileIo } from '../../native-free-io/file-io.ts';
import { FileIoProxy } from '../helpers/file-io-proxy.ts';
import { SimulatedFileIo } from '../../native-free-io/simulated-file-io.ts';
import { DATA_FILE, EVENT_INDEX_FILE, listSegmentIds, segmentFile, STREAM_INDEX_FILE } from '../../native-free-io/data-layout.ts';
import { open, type DatabaseOptions } from '../../src/database.ts';
import { BucketWriter } from '../../src/engine/bucket-writer.ts';
import { partitionHash, partitionKeyForStream } from '../../src/ids/partition-key.ts';

const DIR = '/db';
const base: DatabaseOptions = { threads: false, bucketCount: 1, partitionCount: 4 };

function bytesOf(io: FileIo, path: string): Buffer {
  const h = io.open(path, 'read');
  const out = Buffer.alloc(h.size());
  h.read(out, 0, out.length, 0);
  h.close();
  return out;
}

function overwrite(io: FileIo, path: string, position: number, data: Uint8Array): void {
  const h = io.open(path, 'write');
  h.write(data, position);
  h.datasync();
  h.close();
}

describe('recovery', () => {
  it('a tail torn at every byte offset of the last record is cut off, earlier events intact', async () => {
    const io = new SimulatedFileIo();
    const db = await open(DIR, { ...base, io });
    for (let i = 0; i < 5; i++) await db.append('torn', 'E', { payload: `event ${i}` });
    const lastBefore = (await db.scanStream('torn')).events.length;
    const beforeLast = io.snapshot();
    await db.append('torn', 'Last', { payload: 'the last one, with some length to it' });
    // The disk as a crash right after the last append leaves it: a clean close would also write the segment's
    // checkpoint, which vouches for every byte up to the last record (and so could not follow a torn one).
    const crashed = io.snapshot();
    await db.close();

    // Locate the last record: the bytes that differ from the snapshot taken before it.
    const path = segmentFile(DIR, 0, 0, DATA_FILE);
    const before = bytesOf(beforeLast, path);
    const after = bytesOf(crashed, path);
    let start = 0;
    while (before[start] === after[start]) start++;
    let end = after.length;
    while (end > start && after[end - 1] === before[end - 1]) end--;
    expect(end - start).toBeGreaterThan(100);

    for (let cut = start; cut < end; cut++) {
      const disk = crashed.snapshot();
      overwrite(disk, path, cut, Buffer.alloc(end - cut)); // everything from `cut` on never reached the disk
      const reopened = await open(DIR, { ...base, io: disk });
      const events = (await reopened.scanStream('torn')).events;
      expect(events.length, `cut at byte ${cut - start} of the last record`).toBe(lastBefore);
      expect(events.map((e) => e.payload.toString())).toEqual(Array.from({ length: 5 }, (_, i) => `event ${i}`));
      // The next append takes the place of the torn one.
      expect((await reopened.append('torn', 'Again')).streamVersion).toBe(5);
      await reopened.close();
    }
  });

  it('a multi-event transaction without its commit record is invisible and consumes nothing', async () => {
    const io = new SimulatedFileIo();
    const db = await open(DIR, { ...base, io });
    const key = partitionKeyForStream('txn');
    await db.append('txn', 'First', { partitionKey: key });
    const snapshot = io.snapshot();
    await db.appendMulti(key, [
      { streamId: 'txn', eventName: 'A' },
      { streamId: 'txn', eventName: 'B' },
    ]);
    const crashed = io.snapshot(); // before the clean close's checkpoint, as in the test above
    await db.close();
    const path = segmentFile(DIR, 0, 0, DATA_FILE);
    const before = bytesOf(snapshot, path);
    const after = bytesOf(crashed, path);
    let end = after.length;
    while (end > 0 && after[end - 1] === before[end - 1]) end--;
    // Drop just the commit record (the last 56 bytes written).
    const disk = crashed.snapshot();
    overwrite(disk, path, end - 56, Buffer.alloc(56));
    const reopened = await open(DIR, { ...base, io: disk });
    expect((await reopened.scanStream('txn')).events.map((e) => e.eventName)).toEqual(['First']);
    const pid = partitionHash(key) % 4;
    expect(reopened.partitionSequence(pid)).toBe(0);
    expect((await reopened.append('txn', 'Next', { partitionKey: key })).partitionSequence).toBe(1);
    await reopened.close();
  });

  it('rebuilds a sealed segment index that is missing or corrupt', async () => {
    const io = new SimulatedFileIo();
    const db = await open(DIR, { ...base, io, segmentSizeBytes: 4096 });
    const ids: string[] = [];
    for (let i = 0; i < 160; i++) ids.push((await db.append(`s${i % 4}`, 'E', { payload: 'x'.repeat(60) })).eventId);
    await db.close();
    expect(listSegmentIds(io, DIR, 0).length).toBeGreaterThan(3);
    io.unlink(segmentFile(DIR, 0, 0, EVENT_INDEX_FILE));
    const sidx = segmentFile(DIR, 0, 1, STREAM_INDEX_FILE);
    const corrupted = bytesOf(io, sidx);
    corrupted[corrupted.length >> 1] ^= 0x40;
    overwrite(io, sidx, 0, corrupted);

    const reopened = await open(DIR, { ...base, io, segmentSizeBytes: 4096 });
    for (const id of ids) expect((await reopened.getEvent(id))?.eventId).toBe(id);
    for (let s = 0; s < 4; s++) expect((await reopened.scanStream(`s${s}`)).events.length).toBe(40);
    await reopened.close();
    // The writer rewrote both files.
    expect(io.exists(segmentFile(DIR, 0, 0, EVENT_INDEX_FILE))).toBe(true);
    expect(bytesOf(io, sidx).equals(corrupted)).toBe(false);
  });

  it('never serves a sealed record that fails its checksum; the rest keeps working', async () => {
    const io = new SimulatedFileIo();
    const db = await open(DIR, { ...base, io, segmentSizeBytes: 4096 });
    const first = await db.append('victim', 'E', { payload: 'precious bytes' });
    for (let i = 0; i < 40; i++) await db.append(`other-${i % 3}`, 'E', { payload: 'y'.repeat(80) });
    await db.close();
    const path = segmentFile(DIR, 0, 0, DATA_FILE);
    const data = bytesOf(io, path);
    const at = data.indexOf('precious bytes');
    expect(at).toBeGreaterThan(0);
    overwrite(io, path, at, Buffer.from('PRECIOUS'));

    const reopened = await open(DIR, { ...base, io, segmentSizeBytes: 4096 });
    await expect(reopened.getEvent(first.eventId)).rejects.toMatchObject({ code: 'READERR' });
    await expect(reopened.scanStream('victim')).rejects.toThrow(/corrupt record at bucket 0 segment 0 offset \d+: checksum mismatch/);
    for (let s = 0; s < 3; s++) expect((await reopened.scanStream(`other-${s}`)).events.length).toBeGreaterThan(10);
    expect((await reopened.append('other-0', 'E')).streamVersion).toBeGreaterThan(10);
    await reopened.close();
  });
});

/** Counts positioned reads per file name, to see which index files a lookup touched. */
class CountingIo extends FileIoProxy {
  readonly reads = new Map<string, number>();
  protected override read(path: string, h: FileHandle, target: Uint8Array, offset: number, length: number, position: number): number {
    this.reads.set(path, (this.reads.get(path) ?? 0) + 1);
    return h.read(target, offset, length, position);
  }
}

describe('stream versions at scale', () => {
  it('bloom negatives skip sealed segments; the version cache stays bounded', async () => {
    const sim = new SimulatedFileIo();
    const db = await open(DIR, { ...base, io: sim, segmentSizeBytes: 4096 });
    for (let i = 0; i < 400; i++) await db.append(`stream-${i}`, 'E', { payload: 'z'.repeat(20) });
    await db.close();
    const segments = listSegmentIds(sim, DIR, 0);
    expect(segments.length).toBeGreaterThan(10);

    const io = new CountingIo(sim);
    const writer = BucketWriter.open({ io, dir: DIR, bucketId: 0, partitionCount: 4, bucketCount: 1, segmentSizeBytes: 4096, streamCacheEntries: 16 });
    const sidxReads = () => [...io.reads].filter(([p]) => p.endsWith(STREAM_INDEX_FILE)).reduce((n, [, c]) => n + c, 0);
    const afterOpen = sidxReads();
    // An absent stream: every sealed segment's bloom says no, so no stream index record is read.
    expect(writer.streamVersion('never-written')).toBe(-1);
    expect(sidxReads()).toBe(afterOpen);
    // Present streams resolve through one segment's index, and the cache never exceeds its capacity.
    for (let i = 0; i < 400; i += 7) expect(writer.streamVersion(`stream-${i}`)).toBe(0);
    expect(sidxReads()).toBeGreaterThan(afterOpen);
    expect(sidxReads() - afterOpen).toBeLessThan(2 * 58); // about one record read per lookup, not one per segment
    const cache = writer.cacheStats();
    expect(cache.entries).toBeLessThanOrEqual(16);
    expect(cache.evictions).toBeGreaterThan(0);
    writer.close();
  });
});
