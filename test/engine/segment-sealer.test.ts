/**
 * Sealing off the writer's loop (src/engine/segment-sealer.ts): until a sealed segment's index files exist, the
 * writer and the readers answer from the indexes they hold in memory; after, from the files; a stop in between is
 * recovered by rebuilding the files. The threaded engine's real sealer thread is checked end to end at the bottom.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import type { FileIo } from '../../native-free-io/file-io.ts';
import { nodeFileIo, readWholeFile } from '../../native-free-io/file-io.ts';
import { SimulatedFileIo } from '../../native-free-io/simulated-file-io.ts';
import { EVENT_INDEX_FILE, listSegmentIds, PARTITION_INDEX_FILE, segmentFile, STREAM_INDEX_FILE } from '../../native-free-io/data-layout.ts';
import { open, type Database, type DatabaseOptions } from '../../src/database.ts';
import { SegmentIndex } from '../../src/engine/segment-index.ts';
import { packSealJob, writeSealJob, type SealJob, type SegmentSealer } from '../../src/engine/segment-sealer.ts';
import type { SharedState } from '../../src/threads/shared-state.ts';
import { verify } from '../../src/tools/verify.ts';

const DIR = '/db';
const INDEX_FILES = [EVENT_INDEX_FILE, PARTITION_INDEX_FILE, STREAM_INDEX_FILE];

/** A sealer that holds its jobs until the test runs them. */
class HeldSealer implements SegmentSealer {
  readonly jobs: SealJob[] = [];
  seal(bucketId: number, segmentId: number, index: SegmentIndex): void {
    this.jobs.push(packSealJob(bucketId, segmentId, index).job);
  }
  runAll(io: FileIo, state: SharedState): void {
    for (const job of this.jobs.splice(0)) {
      writeSealJob(io, DIR, job);
      state.publishSealedBelow(job.bucketId, job.segmentId + 1);
    }
  }
}

const tempDirs: string[] = [];
afterAll(() => {
  for (const d of tempDirs) fs.rmSync(d, { recursive: true, force: true });
});

async function everything(db: Database, streams: number, perStream: number): Promise<void> {
  for (let s = 0; s < streams; s++) {
    const events = (await db.scanStream(`s${s}`, 0, Number.MAX_SAFE_INTEGER, { count: 1000 })).events;
    expect(events.map((e) => e.streamVersion)).toEqual(Array.from({ length: perStream }, (_, v) => v));
    expect(events.map((e) => e.payload.toString())).toEqual(Array.from({ length: perStream }, (_, v) => `s${s} v${v}`.padEnd(90, '.')));
    for (const e of events.filter((_, i) => i % 7 === 0)) expect((await db.getEvent(e.eventId))?.streamVersion).toBe(e.streamVersion);
  }
  const partition = await db.scanPartition(0, 0, Number.MAX_SAFE_INTEGER, { count: 10_000 });
  expect(partition.events.map((e) => e.partitionSequence)).toEqual(Array.from({ length: streams * perStream }, (_, i) => i));
}

/** An in-process store with 8 KiB segments and a held sealer, `perStream` events in each of three streams. */
async function heldStore(perStream: number): Promise<{ io: SimulatedFileIo; sealer: HeldSealer; db: Database }> {
  const io = new SimulatedFileIo();
  const sealer = new HeldSealer();
  const db = await open(DIR, { threads: false, io, bucketCount: 1, partitionCount: 1, segmentSizeBytes: 8192, sealer });
  for (let v = 0; v < perStream; v++) for (let s = 0; s < 3; s++) await db.append(`s${s}`, 'E', { payload: `s${s} v${v}`.padEnd(90, '.') });
  expect(sealer.jobs.length).toBeGreaterThan(2);
  return { io, sealer, db };
}

/** Options of the threaded stores below: one bucket and partition, 64 KiB segments, one writer and one reader. */
const THREADED: DatabaseOptions = { bucketCount: 1, partitionCount: 1, segmentSizeBytes: 65_536, threads: { write: 1, read: 1 } };
const THREADED_STREAMS = 5;
const THREADED_PER_STREAM = 400;

/** A threaded store in a temp dir, filled with THREADED_PER_STREAM events in each of THREADED_STREAMS streams. */
async function filledThreadedStore(options: DatabaseOptions): Promise<{ dir: string; db: Database }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sealer-'));
  tempDirs.push(dir);
  const db = await open(dir, options);
  for (let v = 0; v < THREADED_PER_STREAM; v++) {
    await Promise.all(
      Array.from({ length: THREADED_STREAMS }, (_, s) => db.append(`s${s}`, 'E', { payload: `s${s} v${v}`.padEnd(90, '.'), expectedVersion: v === 0 ? 'empty' : v - 1 })),
    );
  }
  await everything(db, THREADED_STREAMS, THREADED_PER_STREAM);
  return { dir, db };
}

/** The index files (`segment/file`) missing from the store's sealed segments, of which there must be more than 3. */
function missingIndexFiles(dir: string): string[] {
  const segments = listSegmentIds(nodeFileIo, dir, 0);
  expect(segments.length).toBeGreaterThan(3);
  return segments.slice(0, -1).flatMap((id) => INDEX_FILES.filter((name) => !fs.existsSync(segmentFile(dir, 0, id, name))).map((name) => `${id}/${name}`));
}

describe('segment sealer', () => {
  it('writes the same index files as the writer did itself', () => {
    const index = new SegmentIndex();
    const key = (n: number) => Uint8Array.from({ length: 16 }, (_, i) => (n * 31 + i) & 255);
    let offset = 64;
    for (let i = 0; i < 3000; i++) {
      const id = Uint8Array.from({ length: 16 }, (_, k) => (i * 7 + k * 13) & 255);
      id[0] = i & 255;
      id[1] = i >> 8;
      const stream = i % 40;
      index.add(id, 0, stream % 6, Math.floor(i / 6), `stream-${stream}-é`, key(stream), 0, Math.floor(i / 40), offset);
      offset += 150 + (i % 13);
    }
    const direct = new SimulatedFileIo();
    direct.mkdirp(path.dirname(segmentFile(DIR, 0, 3, EVENT_INDEX_FILE)));
    index.writeFiles(direct, DIR, 0, 3);
    const viaJob = new SimulatedFileIo();
    viaJob.mkdirp(path.dirname(segmentFile(DIR, 0, 3, EVENT_INDEX_FILE)));
    const { job, transfer } = packSealJob(0, 3, index);
    expect(transfer.length).toBeGreaterThan(0);
    writeSealJob(viaJob, DIR, structuredClone(job, { transfer }));
    for (const name of INDEX_FILES) expect(readWholeFile(viaJob, segmentFile(DIR, 0, 3, name)).equals(readWholeFile(direct, segmentFile(DIR, 0, 3, name))), name).toBe(true);
    // The writer's index is untouched by the copy and the transfer.
    expect(index.events.size).toBe(3000);
    expect(index.streamRange('stream-5-é')).toMatchObject({ first: 0, last: 74 });
  });

  it('before the index files exist, reads and expected versions are answered from memory; after, from the files', async () => {
    const io = new SimulatedFileIo();
    const sealer = new HeldSealer();
    // Nobody may fall back to rebuilding a segment's index from its data file (what a reader that opened a segment
    // before its files exist would do): the log says so when it happens.
    const lines: string[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(line) });
    const options: DatabaseOptions = { threads: false, io, bucketCount: 1, partitionCount: 1, segmentSizeBytes: 8192, streamCacheEntries: 1, sealer, logger };
    const db = await open(DIR, options);
    const streams = 4;
    const perStream = 60;
    for (let v = 0; v < perStream; v++) {
      for (let s = 0; s < streams; s++) {
        // Expected versions: a stream's last version is often in a segment whose files are not written yet.
        const r = await db.append(`s${s}`, 'E', { payload: `s${s} v${v}`.padEnd(90, '.'), expectedVersion: v === 0 ? 'empty' : v - 1 });
        expect(r.streamVersion).toBe(v);
      }
      // Reads along the way, so that the reader follows the writer from segment to segment.
      if (v % 5 === 0) expect((await db.scanStream('s1', v, v)).events.map((e) => e.streamVersion)).toEqual([v]);
    }
    const segments = listSegmentIds(io, DIR, 0);
    expect(segments.length).toBeGreaterThan(4);
    expect(sealer.jobs.map((j) => j.segmentId)).toEqual(segments.slice(0, -1));
    for (const id of segments.slice(0, -1)) for (const name of INDEX_FILES) expect(io.exists(segmentFile(DIR, 0, id, name))).toBe(false);
    expect(db.sharedState.sealedBelow(0)).toBe(0);
    await everything(db, streams, perStream);

    sealer.runAll(io, db.sharedState);
    for (const id of segments.slice(0, -1)) for (const name of INDEX_FILES) expect(io.exists(segmentFile(DIR, 0, id, name))).toBe(true);
    await everything(db, streams, perStream);
    expect((await db.append('s0', 'E', { payload: 'next', expectedVersion: perStream - 1 })).streamVersion).toBe(perStream);
    await db.close();
    expect(lines.filter((l) => /rebuild|unusable/.test(l))).toEqual([]);
  });

  it('a reader that lags behind the sealer keeps its segments in order', async () => {
    const io = new SimulatedFileIo();
    const sealer = new HeldSealer();
    const db = await open(DIR, { threads: false, io, bucketCount: 1, partitionCount: 1, segmentSizeBytes: 8192, sealer });
    const append = async (s: number, v: number) => db.append(`s${s}`, 'E', { payload: `s${s} v${v}`.padEnd(90, '.') });
    let v = 0;
    const rollovers = async (n: number) => {
      const target = listSegmentIds(io, DIR, 0).length + n;
      while (listSegmentIds(io, DIR, 0).length < target) {
        for (let s = 0; s < 2; s++) await append(s, v);
        v++;
      }
    };
    await rollovers(2);
    await everything(db, 2, v); // the reader follows: two segments it left, neither sealed
    await rollovers(1); // the writer moves on once more, the reader does not look
    sealer.runAll(io, db.sharedState); // meanwhile every segment the writer left is sealed
    await everything(db, 2, v); // the reader now passes a sealed segment while older ones wait to be opened
    await db.close();
  });

  it('verify takes the newest sealed segments without index files for a sealing in progress, not for damage', async () => {
    const { io, sealer, db } = await heldStore(60);
    // The first segment sealed, the others still with the sealer.
    const first = sealer.jobs.shift()!;
    writeSealJob(io, DIR, first);
    const pending = verify(DIR, { io });
    expect(pending.findings.filter((f) => f.severity === 'problem')).toEqual([]);
    const notes = pending.findings.filter((f) => f.kind === 'index-pending');
    expect(new Set(notes.map((f) => f.segment))).toEqual(new Set(sealer.jobs.map((j) => j.segmentId)));
    sealer.runAll(io, db.sharedState);
    await db.close();
    expect(verify(DIR, { io }).findings.filter((f) => f.kind === 'index-pending')).toEqual([]);
    // A file missing before a complete set is damage, as before.
    io.unlink(segmentFile(DIR, 0, 0, STREAM_INDEX_FILE));
    expect(verify(DIR, { io }).findings).toContainEqual(expect.objectContaining({ severity: 'problem', kind: 'index-missing', segment: 0 }));
  });

  it('a stop before the sealer wrote the files: the next open rebuilds them, nothing is lost', async () => {
    const { io, sealer, db } = await heldStore(50);
    const crashed = io.clone(); // a power cut: only what was synced, and no index files of those segments
    await db.close();
    const reopened = await open(DIR, { threads: false, io: crashed, bucketCount: 1, partitionCount: 1, segmentSizeBytes: 8192 });
    const segments = listSegmentIds(crashed, DIR, 0);
    for (const id of segments.slice(0, -1)) for (const name of INDEX_FILES) expect(crashed.exists(segmentFile(DIR, 0, id, name))).toBe(true);
    await everything(reopened, 3, 50);
    await reopened.close();
  });

  it('the worker threads seal in a thread of their own: reads meanwhile, every file written by a clean close', async () => {
    const { dir, db } = await filledThreadedStore(THREADED);
    await db.close();
    expect(missingIndexFiles(dir)).toEqual([]);
    const reopened = await open(dir, THREADED);
    await everything(reopened, THREADED_STREAMS, THREADED_PER_STREAM);
    await reopened.close();
  });

  it('a close waits for a sealer that is behind: every sealed segment has its files once it returns', async () => {
    const slow = new URL('../fixtures/slow-sealer-worker.ts', import.meta.url).href;
    const { dir, db } = await filledThreadedStore({ ...THREADED, sealerThreadScript: slow });
    expect(missingIndexFiles(dir)).not.toEqual([]); // the sealer is behind when the close starts
    await db.close();
    expect(missingIndexFiles(dir)).toEqual([]);
  });
});

describe('segment sealer thread that dies', () => {
  it('the writer seals the segments handed to it and every later one itself, and closes without waiting', async () => {
    const dying = new URL('../fixtures/dying-sealer-worker.ts', import.meta.url).href;
    const { dir, db } = await filledThreadedStore({ ...THREADED, sealerThreadScript: dying });
    // Before the close: the files of every segment the writer left are written, though the sealer died on its first.
    for (let waited = 0; missingIndexFiles(dir).length > 0 && waited < 5000; waited += 50) await new Promise((r) => setTimeout(r, 50));
    expect(missingIndexFiles(dir)).toEqual([]);
    const closeStarted = performance.now();
    await db.close();
    expect(performance.now() - closeStarted).toBeLessThan(5000);
    const reopened = await open(dir, THREADED);
    await everything(reopened, THREADED_STREAMS, THREADED_PER_STREAM);
    await reopened.close();
    expect(verify(dir).findings.filter((f) => f.severity === 'problem')).toEqual([]);
  });
});
