/**
 * GroupCommit and the commit log: a round over several buckets is made durable by one fdatasync of the log, the
 * segment files later by checkpoints; a power cut at any point loses no acknowledged round once the log is
 * replayed; a failed sync anywhere stops every bucket of the worker.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DATA_FILE, openMeta, segmentFile } from '../../native-free-io/data-layout.ts';
import { SEGMENT_HEADER_BYTES } from '../../native-free-io/segment-format.ts';
import { encodeLogEntryHead, encodeLogHeader, LOG_ENTRY_HEAD_BYTES, LOG_HEADER_BYTES, readLogFile } from '../../native-free-io/commit-log-format.ts';
import { seededRandom, SimulatedFileIo, simulatedFsError } from '../../native-free-io/simulated-file-io.ts';
import { datasyncFailure, DelegatingFileIo, type FileHandle, type FileIo, type OpenMode } from '../../native-free-io/file-io.ts';
import { BucketWriter, type TransactionRequest } from '../../src/engine/bucket-writer.ts';
import { CommitLog, commitLogDir, readCommitLogs, replayCommitLogs } from '../../src/engine/commit-log.ts';
import { GroupCommit } from '../../src/engine/group-commit.ts';
import { verify } from '../../src/tools/verify.ts';
import { open } from '../../src/database.ts';
import { singleEventTransaction, streamOfBucket } from '../helpers/bucket-transactions.ts';

const DIR = '/db';
const BUCKETS = 3;
const PARTITIONS = 6;
const SEGMENT_BYTES = 1 << 20;

function openWriters(io: SimulatedFileIo, segmentSizeBytes = SEGMENT_BYTES): BucketWriter[] {
  return Array.from({ length: BUCKETS }, (_, bucketId) =>
    BucketWriter.open({ io, dir: DIR, bucketId, partitionCount: PARTITIONS, bucketCount: BUCKETS, segmentSizeBytes, streamCacheEntries: 64 }),
  );
}

/**
 * The simulated disk, with off-thread fdatasyncs that run when the test says (`runSyncs`): a checkpoint started by
 * a round is then still in flight at the next rounds, as on a real disk, instead of done at once.
 */
class DeferredSyncIo extends DelegatingFileIo {
  readonly #queued: (() => void)[] = [];

  override open(filePath: string, mode: OpenMode): FileHandle {
    const h = this.inner.open(filePath, mode);
    const queued = this.#queued;
    return {
      path: h.path,
      write: (d, p) => h.write(d, p),
      writev: (b, p) => h.writev(b, p),
      read: (t, o, l, p) => h.read(t, o, l, p),
      datasync: () => h.datasync(),
      datasyncAsync: (done) => queued.push(() => done(datasyncFailure(h))),
      truncate: (n) => h.truncate(n),
      size: () => h.size(),
      close: () => h.close(),
    };
  }

  /** Runs every queued sync, in order, with its callback. */
  runSyncs(): number {
    const n = this.#queued.length;
    for (const run of this.#queued.splice(0)) run();
    return n;
  }
}

/** A store of BUCKETS buckets whose rounds go through a commit log of `logFileBytes` per file. */
function openStore(io: SimulatedFileIo, logFileBytes = 64 << 10, segmentSizeBytes = SEGMENT_BYTES, groupIo: FileIo = io): { writers: BucketWriter[]; group: GroupCommit } {
  const writers = openWriters(io, segmentSizeBytes);
  const log = CommitLog.create(io, DIR, 0, logFileBytes);
  return { writers, group: new GroupCommit({ io: groupIo, writers, log }) };
}

const STREAMS = Array.from({ length: BUCKETS }, (_, b) => streamOfBucket(b, `s${b}`, BUCKETS, PARTITIONS));
const transaction = (streamId: string, payload: string): TransactionRequest => singleEventTransaction(streamId, payload, PARTITIONS);

/** Stages `perBucket` events on each listed bucket's stream and commits them as one round; returns the outcomes. */
function round(writers: BucketWriter[], group: GroupCommit, buckets: number[], perBucket: number, payloadBytes: number) {
  for (const b of buckets) for (let i = 0; i < perBucket; i++) writers[b].stage(transaction(STREAMS[b], `${b}:${i}:`.padEnd(payloadBytes, 'x')));
  return group.commit(buckets.map((b) => writers[b])).map((o) => o.toArray());
}

/** Each stream's last version after reopening `io` (-1: none). */
function versionsAfterReopen(io: SimulatedFileIo): number[] {
  const writers = openWriters(io);
  try {
    return STREAMS.map((s, b) => writers[b].streamVersion(s));
  } finally {
    for (const w of writers) w.close();
  }
}

describe('GroupCommit with a commit log', () => {
  it('makes a round over several buckets durable with one fdatasync, of the log; replaying the log after a power cut brings it back', () => {
    const io = new SimulatedFileIo();
    const { writers, group } = openStore(io);
    const before = io.stats().datasyncs;
    const outcomes = round(writers, group, [0, 1, 2], 2, 100);
    expect(outcomes.flat().every((o) => o.ok)).toBe(true);
    expect(io.stats().datasyncs - before).toBe(1);
    expect(group.stats).toMatchObject({ rounds: 1, loggedRounds: 1, directRounds: 0 });

    // The segment files alone lost the round (they were not synced): only the log has it.
    const cut = io.clone();
    expect(versionsAfterReopen(cut.snapshot())).toEqual([-1, -1, -1]);
    const replayed = replayCommitLogs(cut, DIR);
    expect(replayed).toEqual({ files: 1, entries: 3, rewritten: 3 });
    expect(versionsAfterReopen(cut)).toEqual([1, 1, 1]);
    // Replay removed the logs: a second one finds nothing and changes nothing.
    expect(cut.readdir(commitLogDir(DIR))).toEqual([]);
    expect(replayCommitLogs(cut, DIR)).toEqual({ files: 0, entries: 0, rewritten: 0 });
    expect(versionsAfterReopen(cut)).toEqual([1, 1, 1]);
    for (const w of writers) w.close();
  });

  it('replay leaves in place what the segment files already hold (a process crash), and a clean close leaves no log', () => {
    const io = new SimulatedFileIo();
    const { writers, group } = openStore(io);
    round(writers, group, [0, 2], 3, 50);
    const crashed = io.snapshot(); // the page cache survived: every byte is in its segment file
    expect(replayCommitLogs(crashed, DIR)).toEqual({ files: 1, entries: 2, rewritten: 0 });
    expect(versionsAfterReopen(crashed)).toEqual([2, -1, 2]);

    group.close();
    for (const w of writers) w.close();
    expect(io.readdir(commitLogDir(DIR))).toEqual([]);
    expect(versionsAfterReopen(io.clone())).toEqual([2, -1, 2]);
  });

  it('switches log files as they fill, checkpoints the file left, and loses no acknowledged round to a power cut at any point', () => {
    const io = new SimulatedFileIo();
    const syncs = new DeferredSyncIo(io);
    // 8 KiB of entries a file: a round of three ~1 KiB entries, so a switch every few rounds.
    const { writers, group } = openStore(io, LOG_HEADER_BYTES + 8192, SEGMENT_BYTES, syncs);
    const rng = seededRandom(7);
    const acked = [-1, -1, -1];
    for (let r = 0; r < 40; r++) {
      const buckets = [0, 1, 2].filter(() => rng() < 0.8);
      if (buckets.length === 0) buckets.push(r % BUCKETS);
      const outcomes = round(writers, group, buckets, 1 + Math.floor(rng() * 3), 200 + Math.floor(rng() * 300));
      buckets.forEach((b, i) => {
        expect(outcomes[i].every((o) => o.ok)).toBe(true);
        acked[b] += outcomes[i].length;
      });
      // Power cuts now, of both kinds: once the logs are replayed, every acknowledged event is there.
      for (const mode of ['drop', 'torn'] as const) {
        const cut = io.clone({ rng: seededRandom(r * 2 + (mode === 'torn' ? 1 : 0)), mode });
        replayCommitLogs(cut, DIR);
        expect(versionsAfterReopen(cut), `round ${r}, ${mode}`).toEqual(acked);
      }
      // Half the time the checkpoints' syncs finish between rounds; else they are still running at the next
      // switch, which then has to checkpoint the files itself (and their late callbacks must free nothing).
      if (rng() < 0.5) syncs.runSyncs();
    }
    expect(group.stats.checkpoints).toBeGreaterThan(3);
    expect(group.stats.inlineCheckpoints).toBeGreaterThan(0);
    expect(group.stats.checkpoints).toBeGreaterThan(group.stats.inlineCheckpoints);
    expect(group.stats.loggedRounds).toBeGreaterThan(20);
    group.close();
    for (const w of writers) w.close();
  });

  it('a round larger than a log file syncs its segment files instead', () => {
    const io = new SimulatedFileIo();
    const { writers, group } = openStore(io, LOG_HEADER_BYTES + 8192);
    const outcomes = round(writers, group, [0, 1], 4, 2000);
    expect(outcomes.flat().every((o) => o.ok)).toBe(true);
    expect(group.stats).toMatchObject({ loggedRounds: 0, directRounds: 1 });
    // Durable in the segment files themselves: no replay needed.
    expect(versionsAfterReopen(io.clone())).toEqual([3, 3, -1]);
    for (const w of writers) w.close();
  });

  it('a failed fdatasync of the log fails the round and stops every bucket; what was acknowledged before survives', () => {
    const io = new SimulatedFileIo();
    const { writers, group } = openStore(io);
    round(writers, group, [0, 1], 1, 100);
    io.failNextDatasync(simulatedFsError('EIO', 'fdatasync'), path.join(commitLogDir(DIR), 'writer-0-0.log'));
    const failed = round(writers, group, [0, 1], 1, 100).flat();
    expect(failed.map((o) => (o.ok ? 'ok' : o.error.code))).toEqual(['WRITEERR', 'WRITEERR']);
    // Bucket 2 was not in the round, and stops too: the log it shares may have lost pages.
    for (const w of writers) expect(w.poisoned).toBeInstanceOf(Error);
    const refused = round(writers, group, [2], 1, 100).flat();
    expect(refused[0].ok).toBe(false);
    group.close(); // keeps the log: the segment files were not all synced
    for (const w of writers) w.close();
    expect(io.readdir(commitLogDir(DIR)).length).toBe(2);
    const cut = io.clone();
    replayCommitLogs(cut, DIR);
    expect(versionsAfterReopen(cut)).toEqual([0, 0, -1]);
  });

  it('a failed write of the log (a full disk) sends the round to its segment files; nothing stops, and the log goes on', () => {
    const io = new SimulatedFileIo();
    const { writers, group } = openStore(io, LOG_HEADER_BYTES + 8192);
    round(writers, group, [0, 1, 2], 1, 300);
    const batchBytes = writers[0].durableOffset - SEGMENT_HEADER_BYTES; // one event, as in every bucket's next batch
    // The batches' segment writes fit; the log's write after them runs out of space half-way.
    io.failWrites(3 * batchBytes + 200);
    const outcomes = round(writers, group, [0, 1, 2], 1, 300).flat();
    io.failWrites(Number.MAX_SAFE_INTEGER);
    expect(outcomes.every((o) => o.ok)).toBe(true);
    expect(group.stats).toMatchObject({ loggedRounds: 1, directRounds: 1 });
    for (const w of writers) expect(w.poisoned).toBeUndefined();
    // Durable in the segment files: a power cut keeps both rounds without a replay, and with one.
    const cut = io.clone();
    expect(versionsAfterReopen(cut.snapshot())).toEqual([1, 1, 1]);
    replayCommitLogs(cut, DIR);
    expect(versionsAfterReopen(cut)).toEqual([1, 1, 1]);
    // The next rounds go through the log again, over what the failed write left; one more fails (its log write, or
    // the header of the file it switches to).
    for (let r = 0; r < 6; r++) {
      if (r === 3) io.failWrites(3 * 2 * batchBytes + 10);
      expect(round(writers, group, [0, 1, 2], 2, 300).flat().every((o) => o.ok)).toBe(true);
      io.failWrites(Number.MAX_SAFE_INTEGER);
      const again = io.clone();
      replayCommitLogs(again, DIR);
      expect(versionsAfterReopen(again)).toEqual(Array(3).fill(3 + 2 * r));
    }
    expect(group.stats.loggedRounds).toBeGreaterThan(4);
    for (const w of writers) w.close();
  });

  it('a failed sync of a segment file, in a round of one bucket or in a checkpoint, stops every bucket', async () => {
    {
      const io = new SimulatedFileIo();
      const { writers, group } = openStore(io);
      io.failNextDatasync(simulatedFsError('EIO', 'fdatasync'), segmentFile(DIR, 1, 0, DATA_FILE));
      expect(round(writers, group, [1], 1, 100).flat()[0].ok).toBe(false);
      for (const w of writers) expect(w.poisoned).toBeInstanceOf(Error);
      for (const w of writers) w.close();
    }
    {
      const io = new SimulatedFileIo();
      const { writers, group } = openStore(io, LOG_HEADER_BYTES + 4096);
      round(writers, group, [0, 1, 2], 1, 1000);
      io.failNextDatasync(simulatedFsError('EIO', 'fdatasync'), segmentFile(DIR, 2, 0, DATA_FILE));
      // Past the file's end: the round switches files, and the checkpoint of the first one fails.
      expect(round(writers, group, [0, 1, 2], 1, 1000).flat().every((o) => o.ok)).toBe(true);
      expect(group.stats.checkpoints).toBe(1);
      await new Promise((resolve) => setImmediate(resolve));
      for (const w of writers) expect(w.poisoned).toBeInstanceOf(Error);
      expect(round(writers, group, [0], 1, 100).flat()[0].ok).toBe(false);
      // Both rounds were acknowledged: both come back.
      const cut = io.clone();
      replayCommitLogs(cut, DIR);
      expect(versionsAfterReopen(cut)).toEqual([1, 1, 1]);
      for (const w of writers) w.close();
    }
  });

  it('a bucket that fails a sync of its own between rounds stops the others before a checkpoint can free a log file', () => {
    const io = new SimulatedFileIo();
    const syncs = new DeferredSyncIo(io);
    const { writers, group } = openStore(io, LOG_HEADER_BYTES + 4096, SEGMENT_BYTES, syncs);
    round(writers, group, [0, 1, 2], 1, 1000);
    round(writers, group, [0, 1, 2], 1, 1000); // past the first file's end: its checkpoint is now running
    expect(group.checkpointing).toBe(true);
    // Bucket 1 fails an fdatasync of its own (as idle pre-zeroing or a rollover can): the pages it wrote may be
    // gone even once a later sync of that file succeeds (fsyncgate), so the checkpoint must not free the log file
    // that holds them.
    writers[1].poison(simulatedFsError('EIO', 'fdatasync'));
    syncs.runSyncs();
    for (const w of writers) expect(w.poisoned).toBeInstanceOf(Error);
    for (const w of writers) w.close();
  });

  it('without a log (it could not be created on a full disk), every round syncs its segment files', () => {
    const io = new SimulatedFileIo();
    const writers = openWriters(io);
    io.failWrites(100_000);
    expect(CommitLog.createOrWarn(io, DIR, 0, 1 << 20)).toBeUndefined();
    expect(io.readdir(commitLogDir(DIR))).toEqual([]);
    io.failWrites(Number.MAX_SAFE_INTEGER);
    const group = new GroupCommit({ io, writers });
    expect(round(writers, group, [0, 1, 2], 2, 100).flat().every((o) => o.ok)).toBe(true);
    expect(group.stats).toMatchObject({ loggedRounds: 0, directRounds: 1, datasyncs: 3 });
    expect(versionsAfterReopen(io.clone())).toEqual([1, 1, 1]);
    for (const w of writers) w.close();
  });

  it('a rollover syncs the old segment file before sealing it, so sealed segments never depend on the log', () => {
    const io = new SimulatedFileIo();
    openMeta(io, DIR, { bucketCount: BUCKETS, partitionCount: PARTITIONS, segmentSizeBytes: 8192 });
    const { writers, group } = openStore(io, 64 << 10, 8192);
    for (let r = 0; r < 30; r++) round(writers, group, [0, 1], 2, 400);
    expect(group.stats.loggedRounds).toBe(30);
    expect(writers[0].segmentId).toBeGreaterThan(2);
    // A power cut, no replay: every sealed segment checks clean (the active one may only lack its logged tail).
    const cut = io.clone();
    const report = verify(DIR, { io: cut.snapshot() });
    expect(report.findings.filter((f) => f.severity === 'problem')).toEqual([]);
    replayCommitLogs(cut, DIR);
    const after = openWriters(cut, 8192);
    try {
      expect([0, 1].map((b) => after[b].streamVersion(STREAMS[b]))).toEqual([59, 59]);
    } finally {
      for (const w of after) w.close();
    }
    for (const w of writers) w.close();
  });
});

describe('the threaded database', () => {
  it('makes concurrent appends over several buckets durable through its write worker\'s log, and removes the log at close', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sdb-commit-log-'));
    try {
      const db = await open(dir, { threads: { write: 1, read: 1 } });
      const streams = Array.from({ length: 40 }, (_, i) => `log-${i}`);
      await Promise.all(Array.from({ length: 400 }, (_, i) => db.append(streams[i % streams.length], 'E', { payload: `p${i}` })));
      const stats = await db.commitStats();
      expect(stats.loggedRounds).toBeGreaterThan(0);
      expect(stats.datasyncs).toBeLessThan(stats.rounds * 2);
      expect(fs.readdirSync(commitLogDir(dir)).sort()).toEqual(['writer-0-0.log', 'writer-0-1.log']);
      await db.close();
      expect(fs.readdirSync(commitLogDir(dir))).toEqual([]);
      const again = await open(dir, { threads: false });
      try {
        for (const s of streams) expect((await again.scanStream(s, 0, 1000, { count: 100 })).events.length).toBe(10);
      } finally {
        await again.close();
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('sierradb verify with a commit log', () => {
  it('checks the data files as replayed, and notes the entries the log holds; it writes nothing', () => {
    const io = new SimulatedFileIo();
    openMeta(io, DIR, { bucketCount: BUCKETS, partitionCount: PARTITIONS, segmentSizeBytes: SEGMENT_BYTES });
    const { writers, group } = openStore(io);
    round(writers, group, [0, 1, 2], 1, 100);
    round(writers, group, [0, 1, 2], 2, 100);
    const cut = io.clone();
    const before = cut.stats().bytesWritten;
    const report = verify(DIR, { io: cut });
    expect(report.problems).toBe(0);
    expect(report.stats.events).toBe(9);
    expect(report.findings.filter((f) => f.kind === 'commit-log').map((f) => f.message)).toEqual([expect.stringMatching(/holds 6 entries .* checked as replayed/)]);
    expect(cut.stats().bytesWritten).toBe(before);
    // The data files alone hold none of it: without the log the same disk reads as empty.
    const logless = cut.snapshot();
    for (const name of logless.readdir(commitLogDir(DIR))) logless.unlink(path.join(commitLogDir(DIR), name));
    expect(verify(DIR, { io: logless }).stats.events).toBe(0);
    for (const w of writers) w.close();
  });
});

describe('CommitLog', () => {
  it('a switch whose header write fails changes nothing: the entries written after it still count', () => {
    const io = new SimulatedFileIo();
    const log = CommitLog.create(io, DIR, 0, LOG_HEADER_BYTES + 4096);
    io.failWrites(10);
    expect(() => log.switchFiles()).toThrow(/ENOSPC/);
    io.failWrites(Number.MAX_SAFE_INTEGER);
    expect(log.otherFree).toBe(true);
    const entry = { bucketId: 2, segmentId: 7, offset: 100, bytes: Buffer.from('abc') };
    log.write([entry]);
    log.sync();
    expect(readCommitLogs(io.clone(), DIR).logs.flatMap((l) => l.entries)).toEqual([entry]);
    log.close(io, true);
  });

  it('frees the file left by a switch only through the checkpoint started at that switch', () => {
    const io = new SimulatedFileIo();
    const log = CommitLog.create(io, DIR, 0, LOG_HEADER_BYTES + 4096);
    expect(log.otherFree).toBe(true);
    const first = log.switchFiles();
    expect(log.otherFree).toBe(false);
    expect(() => log.switchFiles()).toThrow(/not checkpointed/);
    log.allCheckpointed(); // what an inline checkpoint does
    const second = log.switchFiles();
    // The first switch's checkpoint ends late: it synced nothing the second file needs.
    log.checkpointed(first);
    expect(log.otherFree).toBe(false);
    log.checkpointed(second);
    expect(log.otherFree).toBe(true);
    log.close(io, true);
    expect(io.readdir(commitLogDir(DIR))).toEqual([]);
  });
});

describe('commit log format', () => {
  it('a file counts only its whole entries of its own epoch: a torn entry, or one of an older epoch, ends it', () => {
    const io = new SimulatedFileIo();
    io.mkdirp('/l');
    const f = io.open('/l/x.log', 'create');
    f.write(Buffer.alloc(LOG_HEADER_BYTES + 4096), 0);
    f.write(encodeLogHeader(5), 0);
    const entries = [1, 2, 3].map((i) => ({ bucketId: i, segmentId: 10 + i, offset: 2 ** 33 + i, bytes: Buffer.from(`entry ${i} `.repeat(i * 3)) }));
    let at = LOG_HEADER_BYTES;
    const ends: number[] = [];
    for (const [i, e] of entries.entries()) {
      const head = Buffer.alloc(LOG_ENTRY_HEAD_BYTES);
      encodeLogEntryHead(head, e, i === 2 ? 4 : 5); // the third is of an older epoch
      f.write(head, at);
      f.write(e.bytes, at + LOG_ENTRY_HEAD_BYTES);
      at += LOG_ENTRY_HEAD_BYTES + e.bytes.length;
      ends.push(at);
    }
    const read = readLogFile(f)!;
    expect(read.epoch).toBe(5);
    expect(read.entries).toEqual(entries.slice(0, 2).map((e) => ({ ...e, bytes: Buffer.from(e.bytes) })));
    // The second entry cut at every byte: the file ends after the first.
    const whole = Buffer.alloc(ends[1] - ends[0]);
    f.read(whole, 0, whole.length, ends[0]);
    for (let cut = 0; cut < whole.length; cut++) {
      const torn = Buffer.from(whole);
      torn.fill(0, cut);
      f.write(torn, ends[0]);
      expect(readLogFile(f)!.entries.length, `cut at ${cut}`).toBe(1);
    }
    // A torn header: nothing in the file counts.
    f.write(Buffer.from([0xff]), 9);
    expect(readLogFile(f)).toBeUndefined();
    f.close();
  });

  it('replay refuses an entry whose segment file is missing, and leaves the logs for another try', () => {
    const io = new SimulatedFileIo();
    const { writers, group } = openStore(io);
    round(writers, group, [0, 1], 1, 100);
    for (const w of writers) w.close();
    const cut = io.clone();
    cut.unlink(segmentFile(DIR, 1, 0, DATA_FILE));
    expect(() => replayCommitLogs(cut, DIR)).toThrow(/does not exist/);
    expect(cut.readdir(commitLogDir(DIR)).length).toBe(2);
  });
});
