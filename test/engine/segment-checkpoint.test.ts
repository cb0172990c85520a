/**
 * The active segment's checkpoint (native-free-io/segment-checkpoint.ts): recovery checks only the structure of the
 * records below it and verifies CRC32C from it on. These tests pin what that may and may not change: a torn tail
 * after the checkpoint is still cut, a checkpoint that does not match the data is ignored, and a record damaged
 * below it is kept out of reads by their own CRC32C check.
 */
import { describe, expect, it } from 'vitest';
import type { FileIo } from '../../native-free-io/file-io.ts';
import { readWholeFile } from '../../native-free-io/file-io.ts';
import { SimulatedFileIo } from '../../native-free-io/simulated-file-io.ts';
import { CHECKPOINT_FILE, DATA_FILE, listSegmentIds, segmentFile } from '../../native-free-io/data-layout.ts';
import { CHECKPOINT_BYTES, CHECKPOINT_INTERVAL_BYTES, decodeCheckpoint, encodeCheckpoint, readCheckpoint } from '../../native-free-io/segment-checkpoint.ts';
import { SEGMENT_HEADER_BYTES } from '../../native-free-io/segment-format.ts';
import { open, type DatabaseOptions } from '../../src/database.ts';
import { checkSegment } from '../../src/tools/verify.ts';

const DIR = '/db';
const layout = { bucketCount: 1, partitionCount: 1, segmentSizeBytes: 1 << 20 } as const;
const base: DatabaseOptions = { threads: false, ...layout };
const DATA = segmentFile(DIR, 0, 0, DATA_FILE);
const CHECKPOINT = segmentFile(DIR, 0, 0, CHECKPOINT_FILE);

function write(io: FileIo, path: string, position: number, data: Uint8Array): void {
  const h = io.open(path, io.exists(path) ? 'write' : 'create');
  h.write(data, position);
  h.datasync();
  h.close();
}

const recordOffsets = (io: FileIo) => checkSegment({ io, dir: DIR, bucketId: 0, segmentId: 0, active: true, meta: layout }).walk!.events.offsets;

async function appended(io: FileIo, count: number, from = 0): Promise<void> {
  const db = await open(DIR, { ...base, io });
  for (let i = from; i < from + count; i++) await db.append('s', 'E', { payload: `event ${i}`.padEnd(80, '.') });
  await db.close();
}

async function payloads(io: FileIo): Promise<string[]> {
  const db = await open(DIR, { ...base, io });
  try {
    return (await db.scanStream('s')).events.map((e) => e.payload.toString().replace(/\.+$/, ''));
  } finally {
    await db.close();
  }
}

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => `event ${from + i}`);

describe('segment checkpoint format', () => {
  it('round trips, and rejects a torn or flipped checkpoint and one of another segment', () => {
    const buf = encodeCheckpoint(7, 123_456_789_012);
    expect(buf.length).toBe(CHECKPOINT_BYTES);
    expect(decodeCheckpoint(buf, 7)).toBe(123_456_789_012);
    expect(decodeCheckpoint(buf, 8)).toBeUndefined();
    expect(decodeCheckpoint(buf.subarray(0, CHECKPOINT_BYTES - 1), 7)).toBeUndefined();
    for (let bit = 0; bit < 8 * CHECKPOINT_BYTES; bit++) {
      const flipped = Buffer.from(buf);
      flipped[bit >> 3] ^= 1 << (bit & 7);
      expect(decodeCheckpoint(flipped, 7)).toBeUndefined();
    }
  });
});

describe('segment checkpoint', () => {
  it('a clean close checkpoints the durable end; the checkpoint goes with the segment when it is sealed', async () => {
    const io = new SimulatedFileIo();
    await appended(io, 20);
    const offsets = recordOffsets(io);
    expect(offsets.length).toBe(20);
    const end = readCheckpoint(io, CHECKPOINT, 0)!;
    expect(end).toBeGreaterThan(offsets[19]);
    // It survives a power cut: the close synced it (file and directory entry).
    expect(readCheckpoint(io.clone(), CHECKPOINT, 0)).toBe(end);
    expect(await payloads(io)).toEqual(range(0, 20));

    // Fill the segment: at the rollover the sealed segment's checkpoint is removed, the new one gets its own.
    await appended(io, 12_000, 20);
    const segments = listSegmentIds(io, DIR, 0);
    expect(segments.length).toBeGreaterThan(1);
    for (const id of segments.slice(0, -1)) expect(io.exists(segmentFile(DIR, 0, id, CHECKPOINT_FILE))).toBe(false);
    const last = segments.at(-1)!;
    expect(readCheckpoint(io, segmentFile(DIR, 0, last, CHECKPOINT_FILE), last)).toBeGreaterThan(SEGMENT_HEADER_BYTES);
  });

  it(`a running writer checkpoints every ${CHECKPOINT_INTERVAL_BYTES >> 20} MiB of durable data, before any close`, async () => {
    const io = new SimulatedFileIo();
    const db = await open(DIR, { ...base, io, segmentSizeBytes: 64 << 20 });
    const payload = Buffer.alloc(64 << 10, 'x');
    const count = Math.ceil(CHECKPOINT_INTERVAL_BYTES / payload.length) + 2;
    for (let i = 0; i < count; i++) await db.append('big', 'E', { payload });
    const crashed = io.snapshot(); // a process crash now: the page cache is kept, the close never runs
    await db.close();
    const at = readCheckpoint(crashed, CHECKPOINT, 0);
    expect(at).toBeGreaterThanOrEqual(CHECKPOINT_INTERVAL_BYTES);
    expect(at).toBeLessThanOrEqual(crashed.open(DATA, 'read').size());
    const reopened = await open(DIR, { ...base, io: crashed, segmentSizeBytes: 64 << 20 });
    expect((await reopened.append('big', 'E')).streamVersion).toBe(count);
    await reopened.close();
  });

  it('a torn tail after the checkpoint is still cut off, at every byte of the last record', async () => {
    const io = new SimulatedFileIo();
    await appended(io, 5);
    const checkpoint = readCheckpoint(io, CHECKPOINT, 0)!;
    // More appends after the checkpoint, then a crash: the last record may be torn anywhere.
    const db = await open(DIR, { ...base, io });
    for (let i = 5; i < 8; i++) await db.append('s', 'E', { payload: `event ${i}`.padEnd(80, '.') });
    const crashed = io.snapshot();
    await db.close();
    expect(readCheckpoint(crashed, CHECKPOINT, 0)).toBe(checkpoint);
    const offsets = recordOffsets(crashed);
    const lastStart = offsets[7];
    const lastEnd = lastStart + (offsets[7] - offsets[6]);
    expect(lastStart).toBeGreaterThan(checkpoint);
    for (let cut = lastStart; cut < lastEnd; cut++) {
      const disk = crashed.snapshot();
      write(disk, DATA, cut, Buffer.alloc(lastEnd - cut));
      expect(await payloads(disk), `cut at byte ${cut - lastStart}`).toEqual(range(0, 7));
    }
  });

  it('a checkpoint that does not match the data is not trusted: the whole segment is verified', async () => {
    const io = new SimulatedFileIo();
    await appended(io, 6);
    const offsets = recordOffsets(io);
    const size = io.open(DATA, 'read').size();
    const forged = [
      ['past the data', size + 1],
      ['inside a record', offsets[3] + 10],
      ['inside the header', 10],
    ] as const;
    for (const [what, offset] of forged) {
      const disk = io.snapshot();
      write(disk, CHECKPOINT, 0, encodeCheckpoint(0, offset));
      expect(await payloads(disk), what).toEqual(range(0, 6));
    }
  });

  it('a record damaged below the checkpoint keeps its successors, and is never served', async () => {
    const io = new SimulatedFileIo();
    await appended(io, 6);
    const offsets = recordOffsets(io);
    const data = readWholeFile(io, DATA);
    const at = offsets[2] + 120; // in the payload of the third event
    write(io, DATA, at, Buffer.of(data[at] ^ 0x10));
    const db = await open(DIR, { ...base, io });
    try {
      // Nothing was truncated: the next event follows the six acknowledged ones.
      expect((await db.append('s', 'E', { payload: 'event 6' })).streamVersion).toBe(6);
      await expect(db.scanStream('s')).rejects.toThrow(/corrupt record|checksum/);
      expect((await db.scanStream('s', 3)).events.map((e) => e.streamVersion)).toEqual([3, 4, 5, 6]);
    } finally {
      await db.close();
    }
  });
});
