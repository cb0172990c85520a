/**
 * What the engine does with damage it meets while opening, writing and reading (found by the verify work and the
 * bit-flip campaign): it must never delete or serve the wrong data, and a read error must fail one request, not
 * the writer.
 */
import { describe, expect, it } from 'vitest';
import type { FileHandle, FileIo } from '../../native-free-io/file-io.ts';
import { FileIoProxy } from '../helpers/file-io-proxy.ts';
import { readWholeFile } from '../../native-free-io/file-io.ts';
import { SimulatedFileIo } from '../../native-free-io/simulated-file-io.ts';
import { CHECKPOINT_FILE, DATA_FILE, listSegmentIds, PARTITION_INDEX_FILE, segmentFile, STREAM_INDEX_FILE } from '../../native-free-io/data-layout.ts';
import { PARTITION_INDEX_HEADER_BYTES, PARTITION_INDEX_ENTRY_BYTES } from '../../native-free-io/partition-index-file.ts';
import { STREAM_INDEX_ENTRY_BYTES, STREAM_INDEX_HEADER_BYTES } from '../../native-free-io/stream-index-file.ts';
import { readU64, writeU64 } from '../../native-free-io/u64.ts';
import { open, type DatabaseOptions } from '../../src/database.ts';
import { checkSegment, verify } from '../../src/tools/verify.ts';

const DIR = '/db';
const layout = { bucketCount: 1, partitionCount: 1, segmentSizeBytes: 8192 } as const;
const base: DatabaseOptions = { threads: false, ...layout };

async function filled(io: FileIo, events = 100): Promise<void> {
  const db = await open(DIR, { ...base, io });
  for (let i = 0; i < events; i++) await db.append(`s${i % 5}`, 'E', { payload: `p${i}`.padEnd(60, 'x') });
  await db.close();
}

function patch(io: FileIo, p: string, position: number, data: Uint8Array): void {
  const h = io.open(p, 'write');
  h.write(data, position);
  h.datasync();
  h.close();
}

function flipBit(io: FileIo, p: string, at: number, bit: number): void {
  const b = readWholeFile(io, p).subarray(at, at + 1);
  patch(io, p, at, Buffer.of(b[0] ^ (1 << bit)));
}

const offsetsOf = (io: FileIo, segmentId: number, active: boolean) =>
  checkSegment({ io, dir: DIR, bucketId: 0, segmentId, active, meta: layout }).walk!.events.offsets;

describe('opening', () => {
  it('refuses to recreate an active segment whose header is damaged but which holds records', async () => {
    const io = new SimulatedFileIo();
    await filled(io);
    const active = listSegmentIds(io, DIR, 0).at(-1)!;
    const dataPath = segmentFile(DIR, 0, active, DATA_FILE);
    expect(offsetsOf(io, active, true).length).toBeGreaterThan(0);
    flipBit(io, dataPath, 20, 1);
    const before = readWholeFile(io, dataPath);
    await expect(open(DIR, { ...base, io })).rejects.toThrow(/the segment header is damaged but the segment holds records; refusing to recreate it/);
    expect(readWholeFile(io, dataPath).equals(before)).toBe(true);
    expect(verify(DIR, { io })).toMatchObject({ clean: false, findings: [expect.objectContaining({ kind: 'segment-header', segment: active })] });
  });

  it('still recreates an active segment whose creation was cut short (bad header, no records)', async () => {
    const io = new SimulatedFileIo();
    const db = await open(DIR, { ...base, io });
    await db.close();
    patch(io, segmentFile(DIR, 0, 0, DATA_FILE), 0, Buffer.alloc(64));
    const reopened = await open(DIR, { ...base, io });
    expect((await reopened.append('s', 'E')).partitionSequence).toBe(0);
    await reopened.close();
    expect(verify(DIR, { io }).findings).toEqual([]);
  });

  // Below the active segment's checkpoint (written after an fdatasync, and synced by a clean close) no write can
  // be torn, so recovery does not take a damaged record there for a torn tail: it keeps every acknowledged record
  // after it (reads refuse the damaged one by its CRC32C), and new events get new sequence numbers.
  it('keeps the acknowledged records after a damaged record below the segment checkpoint', async () => {
    const io = new SimulatedFileIo();
    await filled(io);
    const active = listSegmentIds(io, DIR, 0).at(-1)!;
    expect(io.exists(segmentFile(DIR, 0, active, CHECKPOINT_FILE))).toBe(true);
    const offsets = offsetsOf(io, active, true);
    expect(offsets.length).toBeGreaterThanOrEqual(2);
    flipBit(io, segmentFile(DIR, 0, active, DATA_FILE), offsets[0] + 40, 1);
    const db = await open(DIR, { ...base, io });
    const seq = (await db.append('new', 'E')).partitionSequence;
    await db.close();
    expect(seq).toBe(100);
  });

  // Known limitation: without a checkpoint (a crash before the first one was written), recovery truncates the
  // active segment at its first damaged record, and with it every acknowledged record after it, whose sequence
  // numbers are then given to new events: a torn last batch (which can also leave intact records after a damaged
  // one) and bit rot look alike there. verify reports the situation before an open ("committed event(s) ... would
  // be truncated"). When recovery learns to tell them apart, this test starts passing: turn it into a plain `it`.
  it.fails('keeps the acknowledged records after a damaged record of an active segment without a checkpoint', async () => {
    const io = new SimulatedFileIo();
    await filled(io);
    const active = listSegmentIds(io, DIR, 0).at(-1)!;
    io.unlink(segmentFile(DIR, 0, active, CHECKPOINT_FILE));
    const offsets = offsetsOf(io, active, true);
    expect(offsets.length).toBeGreaterThanOrEqual(2);
    flipBit(io, segmentFile(DIR, 0, active, DATA_FILE), offsets[0] + 40, 1);
    const db = await open(DIR, { ...base, io }).catch(() => undefined);
    // Either refusing to open or keeping the later records would be acceptable; reusing their sequences is not.
    if (db === undefined) return;
    const seq = (await db.append('new', 'E')).partitionSequence;
    await db.close();
    expect(seq).toBe(100);
  });
});

/** Lets a test make reads of one kind of file fail with EIO. */
class FailingReads extends FileIoProxy {
  failing: string | undefined;
  protected override read(path: string, h: FileHandle, target: Uint8Array, offset: number, length: number, position: number): number {
    if (this.failing !== undefined && path.endsWith(this.failing)) throw Object.assign(new Error(`EIO: i/o error, read '${path}'`), { code: 'EIO' });
    return h.read(target, offset, length, position);
  }
}

describe('writing', () => {
  it('a failed read of a sealed stream index fails that append with READERR; the writer keeps serving', async () => {
    const io = new FailingReads(new SimulatedFileIo());
    const db = await open(DIR, { ...base, io, streamCacheEntries: 1 });
    await db.append('old', 'E', { payload: 'first' });
    for (let i = 0; i < 120; i++) await db.append(`other-${i}`, 'E', { payload: 'y'.repeat(60) });
    io.failing = STREAM_INDEX_FILE;
    // 'old' lives only in a sealed segment and is not cached: its version needs the stream index.
    await expect(db.append('old', 'E')).rejects.toMatchObject({ code: 'READERR', message: expect.stringContaining('could not read the version of stream old') });
    expect((await db.append('other-119', 'E')).streamVersion).toBe(1);
    io.failing = undefined;
    expect((await db.append('old', 'E')).streamVersion).toBe(1);
    await db.close();
  });
});

describe('reading', () => {
  it('a record of the active segment damaged while open is refused when read (READERR); later events are served', async () => {
    const io = new SimulatedFileIo();
    const db = await open(DIR, { ...base, io, segmentSizeBytes: 1 << 20 });
    const ids: string[] = [];
    for (let i = 0; i < 20; i++) ids.push((await db.append('s', 'E', { payload: `p${i}`.padEnd(60, 'x') })).eventId);
    // Damage event 5's payload before any read has followed the segment (readers index it without checksums).
    const offsets = checkSegment({ io, dir: DIR, bucketId: 0, segmentId: 0, active: true, meta: { ...layout, segmentSizeBytes: 1 << 20 } }).walk!.events.offsets;
    flipBit(io, segmentFile(DIR, 0, 0, DATA_FILE), offsets[5] + 150, 3);
    await expect(db.getEvent(ids[5])).rejects.toMatchObject({ code: 'READERR' });
    await expect(db.scanStream('s', 0, 19)).rejects.toMatchObject({ code: 'READERR' });
    expect((await db.getEvent(ids[12]))?.payload.toString()).toBe('p12'.padEnd(60, 'x'));
    expect((await db.scanStream('s', 6, 19)).events.map((e) => e.streamVersion)).toEqual(Array.from({ length: 14 }, (_, i) => 6 + i));
    await db.close();
  });

  it('an index entry damaged after open that points at another intact record is not served as this one', async () => {
    const io = new SimulatedFileIo();
    await filled(io);
    const db = await open(DIR, { ...base, io });
    const reference = (await db.scanPartition(0, 0, 1000, { count: 1000 })).events;
    const offsets = offsetsOf(io, 0, false);
    // partition.pidx of segment 0 (one partition): sequence 3's offset now names sequence 7's record.
    const pidx = segmentFile(DIR, 0, 0, PARTITION_INDEX_FILE);
    const entry = Buffer.alloc(8);
    writeU64(entry, 0, offsets[7]);
    patch(io, pidx, PARTITION_INDEX_HEADER_BYTES + PARTITION_INDEX_ENTRY_BYTES + 3 * 8, entry);
    await expect(db.scanPartition(0, 3, 3, { count: 1 })).rejects.toMatchObject({
      code: 'READERR',
      message: expect.stringContaining('the partition index entry for partition 0 sequence 3 points at partition 0 sequence 7'),
    });
    expect((await db.scanPartition(0, 4, 6)).events.map((e) => e.eventId)).toEqual(reference.slice(4, 7).map((e) => e.eventId));

    // stream.sidx of segment 0: the first entry's first offset now names another stream's record.
    const sidxPath = segmentFile(DIR, 0, 0, STREAM_INDEX_FILE);
    const sidx = readWholeFile(io, sidxPath);
    const entriesAt = readU64(sidx, 40);
    const offsetsAt = readU64(sidx, 56);
    const name = sidx.toString('utf8', entriesAt + 8, entriesAt + 8 + sidx[entriesAt + 4]);
    const firstOffsetIndex = readU64(sidx, entriesAt + 104);
    const victim = reference.find((e) => e.streamId !== name)!;
    writeU64(entry, 0, offsets[victim.partitionSequence]);
    patch(io, sidxPath, offsetsAt + firstOffsetIndex * 8, entry);
    expect(STREAM_INDEX_HEADER_BYTES + STREAM_INDEX_ENTRY_BYTES).toBeLessThanOrEqual(offsetsAt);
    await expect(db.scanStream(name, 0, 0)).rejects.toMatchObject({ code: 'READERR', message: expect.stringContaining(`the stream index entry for ${name} version 0 points at ${victim.streamId}`) });
    await db.close();
  });
});
