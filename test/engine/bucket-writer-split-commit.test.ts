/**
 * BucketWriter.writeBatch / finishBatch: the two halves of commitBatch that let one write worker fdatasync all its
 * buckets at once (workers/bucket-writer-worker.ts), and startDatasync, which runs those syncs off the thread.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { nodeFileIo, startDatasync, type FileHandle } from '../../native-free-io/file-io.ts';
import { DATA_FILE, segmentFile } from '../../native-free-io/data-layout.ts';
import { SimulatedFileIo, simulatedFsError } from '../../native-free-io/simulated-file-io.ts';
import { BucketWriter, type TransactionRequest } from '../../src/engine/bucket-writer.ts';
import { singleEventTransaction, streamOfBucket } from '../helpers/bucket-transactions.ts';

const DIR = '/db';
const BUCKETS = 2;
const PARTITIONS = 4;

function openWriter(io: SimulatedFileIo, bucketId: number): BucketWriter {
  return BucketWriter.open({ io, dir: DIR, bucketId, partitionCount: PARTITIONS, bucketCount: BUCKETS, segmentSizeBytes: 1 << 20, streamCacheEntries: 64 });
}

const A = streamOfBucket(0, 'a', BUCKETS, PARTITIONS);
const B = streamOfBucket(1, 'b', BUCKETS, PARTITIONS);
const transaction = (streamId: string, payload: string): TransactionRequest => singleEventTransaction(streamId, payload, PARTITIONS);

/** Starts every handle's sync at once, as the worker does; resolves with their outcomes in order. */
function syncAll(handles: FileHandle[]): Promise<(Error | null)[]> {
  return Promise.all(handles.map((h) => new Promise<Error | null>((resolve) => startDatasync(h, resolve))));
}

describe('BucketWriter.writeBatch / finishBatch', () => {
  it('two buckets written, then synced together, are acknowledged and survive a power cut', async () => {
    const io = new SimulatedFileIo();
    const writers = [openWriter(io, 0), openWriter(io, 1)];
    writers[0].stage(transaction(A, 'first'));
    writers[0].stage(transaction(A, 'second'));
    writers[1].stage(transaction(B, 'third'));
    const handles = writers.map((w) => w.writeBatch());
    expect(handles.every((h) => h !== undefined)).toBe(true);
    // Written but not synced: a power cut now loses it, and nothing is acknowledged or visible yet.
    const cutEarly = openWriter(io.clone({ rng: () => 0, mode: 'drop' }), 0);
    expect(cutEarly.streamVersion(A)).toBe(-1);
    cutEarly.close();
    expect(writers[0].streamVersion(A)).toBe(-1);
    const errors = await syncAll(handles as FileHandle[]);
    expect(errors).toEqual([null, null]);
    const outcomes = writers.map((w, i) => w.finishBatch(errors[i]).toArray());
    expect(outcomes[0]).toEqual([
      { ok: true, firstSequence: 0, versions: [0] },
      { ok: true, firstSequence: 1, versions: [1] },
    ]);
    expect(outcomes[1]).toEqual([{ ok: true, firstSequence: 0, versions: [0] }]);
    for (const w of writers) w.close();

    const after = io.clone({ rng: () => 0, mode: 'drop' });
    const reopened = [openWriter(after, 0), openWriter(after, 1)];
    expect(reopened[0].streamVersion(A)).toBe(1);
    expect(reopened[1].streamVersion(B)).toBe(0);
    for (const w of reopened) w.close();
  });

  it('a failed sync fails that bucket\'s batch and poisons it; the other bucket is acknowledged', async () => {
    const io = new SimulatedFileIo();
    const writers = [openWriter(io, 0), openWriter(io, 1)];
    writers[0].stage(transaction(A, 'lost'));
    writers[1].stage(transaction(B, 'kept'));
    io.failNextDatasync(simulatedFsError('EIO', 'fdatasync'), segmentFile(DIR, 0, 0, DATA_FILE));
    const handles = writers.map((w) => w.writeBatch()!);
    const errors = await syncAll(handles);
    expect(errors[0]).toBeInstanceOf(Error);
    expect(errors[1]).toBe(null);
    const failed = writers[0].finishBatch(errors[0]).toArray();
    expect(failed).toHaveLength(1);
    expect(failed[0].ok).toBe(false);
    if (!failed[0].ok) expect(failed[0].error.code).toBe('WRITEERR');
    expect(writers[0].poisoned).toBeInstanceOf(Error);
    expect(writers[1].finishBatch(errors[1]).toArray()).toEqual([{ ok: true, firstSequence: 0, versions: [0] }]);

    // No retry: the poisoned bucket refuses the next batch without syncing it, the other one goes on.
    writers[0].stage(transaction(A, 'refused'));
    expect(writers[0].writeBatch()).toBeUndefined();
    const refused = writers[0].finishBatch(null).toArray();
    expect(refused[0].ok).toBe(false);
    writers[1].stage(transaction(B, 'more'));
    const h = writers[1].writeBatch()!;
    expect(await syncAll([h])).toEqual([null]);
    expect(writers[1].finishBatch(null).toArray()).toEqual([{ ok: true, firstSequence: 1, versions: [1] }]);
    expect(writers[0].streamVersion(A)).toBe(-1);
    for (const w of writers) w.close();
  });

  it('a batch with nothing staged needs no sync', () => {
    const io = new SimulatedFileIo();
    const w = openWriter(io, 0);
    expect(w.writeBatch()).toBeUndefined();
    expect(w.finishBatch(null).count).toBe(0);
    w.close();
  });
});

describe('startDatasync', () => {
  it('syncs a real file off the thread and reports a failure to the callback instead of throwing', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sierradb-datasync-'));
    try {
      const handle = nodeFileIo.open(path.join(dir, 'f'), 'create');
      expect(handle.datasyncAsync).toBeTypeOf('function');
      handle.write(Buffer.from('durable'), 0);
      let calledSync = false;
      const result = await new Promise<Error | null>((resolve) => {
        startDatasync(handle, resolve);
        calledSync = true; // startDatasync returned before `done` ran
      });
      expect(calledSync).toBe(true);
      expect(result).toBe(null);
      handle.close();
      const failure = await new Promise<Error | null>((resolve) => startDatasync(handle, resolve));
      expect((failure as NodeJS.ErrnoException).code).toBe('EBADF');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('falls back to a synchronous datasync, still calling back later, for a handle without datasyncAsync', async () => {
    const io = new SimulatedFileIo();
    io.mkdirp('/x');
    const handle = io.open('/x/f', 'create');
    io.syncDir('/x');
    io.syncDir('/');
    handle.write(Buffer.from('abc'), 0);
    let returned = false;
    const first = new Promise<Error | null>((resolve) =>
      startDatasync(handle, (err) => {
        expect(returned).toBe(true);
        resolve(err);
      }),
    );
    returned = true;
    expect(await first).toBe(null);
    expect(io.clone().open('/x/f', 'read').size()).toBe(3);
    io.failNextDatasync();
    expect(await new Promise<Error | null>((resolve) => startDatasync(handle, resolve))).toBeInstanceOf(Error);
  });
});
