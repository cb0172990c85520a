/**
 * The verify tool against directories with known damage: each kind of damage is reported with its location and
 * the right severity, torn tails are notes, and --repair rebuilds index files without touching data files.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { readWholeFile, writeFileDurably, type FileIo } from '../../native-free-io/file-io.ts';
import { SimulatedFileIo } from '../../native-free-io/simulated-file-io.ts';
import {
  DATA_FILE,
  EVENT_INDEX_FILE,
  listSegmentIds,
  META_FILE,
  PARTITION_INDEX_FILE,
  segmentFile,
  STREAM_INDEX_FILE,
} from '../../native-free-io/data-layout.ts';
import { writeEventIndexFile } from '../../native-free-io/event-index-file.ts';
import { RECORD_HEADER_BYTES, sealRecord } from '../../native-free-io/segment-format.ts';
import { writeU64 } from '../../native-free-io/u64.ts';
import { open, type DatabaseOptions } from '../../src/database.ts';
import { partitionKeyForStream } from '../../src/ids/partition-key.ts';
import { checkSegment, formatReport, verify, type Finding, type VerifyReport } from '../../src/tools/verify.ts';
import { runVerify } from '../../src/cli/verify-command.ts';
import { parseArgs, type VerifyArgs } from '../../src/cli/parse-args.ts';

const DIR = '/db';
const layout = { bucketCount: 2, partitionCount: 4, segmentSizeBytes: 4096 } as const;
const base: DatabaseOptions = { threads: false, ...layout };
const meta = layout;

/** A database with sealed and active segments in both buckets, single and multi-event transactions. */
async function populated(io: FileIo, dir = DIR): Promise<void> {
  const db = await open(dir, { ...base, io });
  for (let i = 0; i < 200; i++) await db.append(`stream-${i % 16}`, 'Happened', { payload: `payload ${i} ${'z'.repeat(i % 40)}` });
  const key = partitionKeyForStream('order-1');
  await db.appendMulti(key, [
    { streamId: 'order-1', eventName: 'Placed', payload: 'a' },
    { streamId: 'order-1-lines', eventName: 'LineAdded', payload: 'b' },
    { streamId: 'order-1', eventName: 'Paid', payload: 'c' },
  ]);
  for (let i = 0; i < 5; i++) await db.append(`tail-${i}`, 'Late', { payload: 'tail event' });
  await db.close();
}

function bytesOf(io: FileIo, p: string): Buffer {
  return readWholeFile(io, p);
}

function patch(io: FileIo, p: string, position: number, data: Uint8Array): void {
  const h = io.open(p, 'write');
  h.write(data, position);
  h.datasync();
  h.close();
}

function flipBit(io: FileIo, p: string, byteOffset: number, bit: number): void {
  const h = io.open(p, 'write');
  const b = Buffer.alloc(1);
  h.read(b, 0, 1, byteOffset);
  b[0] ^= 1 << bit;
  h.write(b, byteOffset);
  h.close();
}

/** Offsets of the committed event records of one segment, as verify's own walk sees them. */
function eventOffsets(io: FileIo, bucketId: number, segmentId: number, active = false): number[] {
  return checkSegment({ io, dir: DIR, bucketId, segmentId, active, meta }).walk!.events.offsets;
}

const problems = (r: VerifyReport): Finding[] => r.findings.filter((f) => f.severity === 'problem');
const notes = (r: VerifyReport): Finding[] => r.findings.filter((f) => f.severity === 'note');

describe('verify', () => {
  it('a healthy directory is clean, and every record and index entry is counted', async () => {
    const io = new SimulatedFileIo();
    await populated(io);
    const r = verify(DIR, { io });
    expect(problems(r)).toEqual([]);
    expect(r.clean).toBe(true);
    expect(r.stats.events).toBe(208);
    expect(r.stats.multiEventTransactions).toBe(1);
    expect(r.stats.sealedSegments).toBeGreaterThanOrEqual(4);
    // Three index files per sealed segment, each entry of the event, partition and stream index checked.
    expect(r.stats.indexFilesChecked).toBe(3 * r.stats.sealedSegments);
    expect(r.stats.indexEntriesChecked).toBeGreaterThan(3 * 80);
    expect(formatReport(r)).toMatch(/result: clean/);
  });

  it('reports a flipped bit in a sealed record with its location, and checks the records after it', async () => {
    const io = new SimulatedFileIo();
    await populated(io);
    const offsets = eventOffsets(io, 0, 1);
    expect(offsets.length).toBeGreaterThan(3);
    const victim = offsets[1];
    flipBit(io, segmentFile(DIR, 0, 1, DATA_FILE), victim + RECORD_HEADER_BYTES + 40, 3);
    const r = verify(DIR, { io });
    expect(r.clean).toBe(false);
    const corrupt = problems(r).filter((f) => f.kind === 'corrupt-record');
    expect(corrupt).toEqual([
      expect.objectContaining({ bucket: 0, segment: 1, offset: victim, file: DATA_FILE, message: expect.stringContaining(`checksum mismatch; next intact record at offset ${offsets[2]}`) }),
    ]);
    // The index entries pointing at the damaged record are attributed to it, not reported again; the lost event
    // shows up as a gap in its partition and stream.
    expect(problems(r).filter((f) => f.kind.startsWith('index'))).toEqual([]);
    expect(problems(r).some((f) => f.kind === 'partition-sequence' && f.message.includes('damaged records were reported before'))).toBe(true);
    expect(formatReport(r)).toMatch(/bucket 0 segment 1 data\.evts offset \d+: \[corrupt-record\]/);
  });

  it('a torn tail in the active segment is a note, and gone after the database is opened', async () => {
    const io = new SimulatedFileIo();
    await populated(io);
    const active = listSegmentIds(io, DIR, 1).at(-1)!;
    const dataPath = segmentFile(DIR, 1, active, DATA_FILE);
    const offsets = eventOffsets(io, 1, active, true);
    const last = offsets.at(-1)!;
    // The last record lost its second half, as a write cut short leaves it.
    patch(io, dataPath, last + 60, Buffer.alloc(200));
    const r = verify(DIR, { io });
    expect(r.clean).toBe(true);
    expect(notes(r)).toEqual([
      expect.objectContaining({ kind: 'torn-tail', bucket: 1, segment: active, offset: last, message: expect.stringMatching(/^torn tail \(would be truncated on open\): \d+ bytes after the last committed transaction: checksum mismatch/) }),
    ]);
    const db = await open(DIR, { ...base, io });
    await db.close();
    const after = verify(DIR, { io });
    expect(after.findings).toEqual([]);
    expect(after.stats.events).toBe(r.stats.events);
  });

  it('an uncommitted multi-event transaction at the tail is a torn tail; committed records past damage are a problem', async () => {
    const io = new SimulatedFileIo();
    const db = await open(DIR, { ...base, io, bucketCount: 1 });
    const key = partitionKeyForStream('t');
    await db.append('t', 'First', { partitionKey: key });
    await db.appendMulti(key, [
      { streamId: 't', eventName: 'A' },
      { streamId: 't', eventName: 'B' },
    ]);
    await db.close();
    const oneBucket = { ...meta, bucketCount: 1 };
    const dataPath = segmentFile(DIR, 0, 0, DATA_FILE);
    const walk = checkSegment({ io, dir: DIR, bucketId: 0, segmentId: 0, active: true, meta: oneBucket }).walk!;
    const [first, a, b] = walk.events.offsets;
    const commitAt = b + (b - a); // events A and B have the same size; the commit record follows B

    const noCommit = io.snapshot();
    patch(noCommit, dataPath, commitAt, Buffer.alloc(56));
    const torn = verify(DIR, { io: noCommit });
    expect(torn.clean).toBe(true);
    expect(notes(torn)).toEqual([expect.objectContaining({ kind: 'torn-tail', offset: a, message: expect.stringContaining('transaction of 2 event(s) without its commit record') })]);
    expect(torn.stats.events).toBe(1);

    // Damage in the first record with intact committed records after it: opening would truncate them.
    const rot = io.snapshot();
    flipBit(rot, dataPath, first + 20, 0);
    const r = verify(DIR, { io: rot });
    expect(r.clean).toBe(false);
    expect(problems(r).map((f) => [f.kind, f.offset])).toEqual([
      ['corrupt-record', first],
      ['corrupt-record', first],
    ]);
    expect(problems(r)[1].message).toMatch(/2 committed event\(s\) from offset \d+ on lie past damage at offset \d+: opening the database would truncate them/);
  });

  it('reports missing, corrupt and inconsistent index files; --repair rebuilds them and never writes a data file', async () => {
    const io = new SimulatedFileIo();
    await populated(io);
    const sealed = (b: number) => listSegmentIds(io, DIR, b).slice(0, -1);
    expect(sealed(0).length).toBeGreaterThanOrEqual(2);
    expect(sealed(1).length).toBeGreaterThanOrEqual(2);
    // Missing event index; a flipped bit in a partition index; a well-formed stream index... of another segment.
    io.unlink(segmentFile(DIR, 0, 0, EVENT_INDEX_FILE));
    const pidx = segmentFile(DIR, 0, 1, PARTITION_INDEX_FILE);
    flipBit(io, pidx, bytesOf(io, pidx).length - 12, 5);
    writeFileDurably(io, segmentFile(DIR, 1, 0, STREAM_INDEX_FILE), bytesOf(io, segmentFile(DIR, 1, 1, STREAM_INDEX_FILE)));
    // A well-formed event index whose offsets are swapped.
    const offsets = eventOffsets(io, 1, 1);
    const ids = checkSegment({ io, dir: DIR, bucketId: 1, segmentId: 1, active: false, meta }).walk!.events.eventIds;
    writeEventIndexFile(
      io,
      segmentFile(DIR, 1, 1, EVENT_INDEX_FILE),
      ids.map((id, i) => ({ eventId: Buffer.from(id, 'latin1'), offset: offsets[(i + 1) % offsets.length] })),
    );
    const dataBefore = new Map<string, Buffer>();
    for (const b of [0, 1]) for (const s of listSegmentIds(io, DIR, b)) dataBefore.set(`${b}/${s}`, bytesOf(io, segmentFile(DIR, b, s, DATA_FILE)));

    const r = verify(DIR, { io });
    const byFile = (b: number, s: number, file: string) => problems(r).filter((f) => f.bucket === b && f.segment === s && f.file === file);
    expect(byFile(0, 0, EVENT_INDEX_FILE)).toEqual([expect.objectContaining({ kind: 'index-missing' })]);
    expect(byFile(0, 1, PARTITION_INDEX_FILE)).toEqual([expect.objectContaining({ kind: 'index-corrupt', message: expect.stringContaining('checksum mismatch') })]);
    expect(byFile(1, 0, STREAM_INDEX_FILE)[0]).toMatchObject({ kind: 'index-mismatch' });
    expect(byFile(1, 1, EVENT_INDEX_FILE)[0]).toMatchObject({ kind: 'index-mismatch', message: expect.stringContaining('points at offset') });
    expect(byFile(1, 1, EVENT_INDEX_FILE).length).toBeLessThanOrEqual(11); // ten listed, then a summary line

    const repaired = verify(DIR, { io, repair: true });
    expect(repaired.repairs.map((x) => `${x.bucket}/${x.segment}/${x.file}`).sort()).toEqual(
      [`0/0/${EVENT_INDEX_FILE}`, `0/1/${PARTITION_INDEX_FILE}`, `1/0/${STREAM_INDEX_FILE}`, `1/1/${EVENT_INDEX_FILE}`].sort(),
    );
    expect(repaired.clean).toBe(true);
    expect(repaired.findings).toEqual([]);
    for (const [key, bytes] of dataBefore) {
      const [b, s] = key.split('/').map(Number);
      expect(bytesOf(io, segmentFile(DIR, b, s, DATA_FILE)).equals(bytes), `data file ${key} untouched`).toBe(true);
    }
    // The database reads everything through the rebuilt files.
    const db = await open(DIR, { ...base, io });
    for (let s = 0; s < 16; s++) expect((await db.scanStream(`stream-${s}`)).events.length).toBeGreaterThanOrEqual(12);
    await db.close();
  });

  it('does not rebuild an index from a damaged data file', async () => {
    const io = new SimulatedFileIo();
    await populated(io);
    io.unlink(segmentFile(DIR, 0, 1, STREAM_INDEX_FILE));
    flipBit(io, segmentFile(DIR, 0, 1, DATA_FILE), eventOffsets(io, 0, 1)[0] + 30, 1);
    const r = verify(DIR, { io, repair: true });
    expect(r.repairs).toEqual([]);
    expect(r.clean).toBe(false);
    expect(notes(r)).toEqual([expect.objectContaining({ kind: 'index-mismatch', file: STREAM_INDEX_FILE, message: expect.stringContaining('repair does not rebuild') })]);
    expect(io.exists(segmentFile(DIR, 0, 1, STREAM_INDEX_FILE))).toBe(false);
  });

  it('a record rewritten with a valid checksum but a skipped sequence and version is a gap, and its index disagrees', async () => {
    const io = new SimulatedFileIo();
    await populated(io);
    const dataPath = segmentFile(DIR, 1, 1, DATA_FILE);
    const at = eventOffsets(io, 1, 1)[2];
    const data = bytesOf(io, dataPath);
    const record = data.subarray(at, at + RECORD_HEADER_BYTES + data.readUInt32LE(at + 8));
    const body = RECORD_HEADER_BYTES;
    writeU64(record, body + 48, record.readUInt32LE(body + 48) + 5); // partition sequence
    writeU64(record, body + 56, record.readUInt32LE(body + 56) + 2); // stream version
    sealRecord(record, 0, record.length - RECORD_HEADER_BYTES);
    patch(io, dataPath, at, record);
    const r = verify(DIR, { io });
    const kinds = new Set(problems(r).map((f) => f.kind));
    expect(kinds).toEqual(new Set(['partition-sequence', 'stream-version', 'index-mismatch']));
    expect(problems(r).find((f) => f.kind === 'partition-sequence')).toMatchObject({ bucket: 1, segment: 1, offset: at, message: expect.stringContaining('a gap: sequences') });
    expect(problems(r).find((f) => f.kind === 'stream-version')!.message).toMatch(/version \d+ where \d+ was expected \(a gap: versions/);
  });

  it('a damaged header of an active segment that holds records is a problem; of an empty one, a note', async () => {
    const io = new SimulatedFileIo();
    await populated(io);
    const active = listSegmentIds(io, DIR, 0).at(-1)!;
    const damaged = io.snapshot();
    flipBit(damaged, segmentFile(DIR, 0, active, DATA_FILE), 9, 0);
    const r = verify(DIR, { io: damaged });
    expect(problems(r)).toEqual([expect.objectContaining({ kind: 'segment-header', bucket: 0, segment: active, offset: 0, message: expect.stringContaining('segment header checksum mismatch') })]);

    const fresh = new SimulatedFileIo();
    const db = await open(DIR, { ...base, io: fresh });
    await db.close();
    flipBit(fresh, segmentFile(DIR, 1, 0, DATA_FILE), 0, 0);
    expect(verify(DIR, { io: fresh })).toMatchObject({ clean: true, findings: [expect.objectContaining({ kind: 'segment-header', severity: 'note' })] });
  });

  it('notes leftovers of interrupted writes; reports a missing segment and a missing meta.json', async () => {
    const io = new SimulatedFileIo();
    await populated(io);
    const tmp = `${segmentFile(DIR, 0, 0, STREAM_INDEX_FILE)}.tmp`;
    const h = io.open(tmp, 'create');
    h.write(Buffer.from('half'), 0);
    h.close();
    const withTmp = verify(DIR, { io });
    expect(withTmp.clean).toBe(true);
    expect(notes(withTmp)).toEqual([expect.objectContaining({ kind: 'stray-file', file: 'stream.sidx.tmp' })]);

    const noSegment = io.snapshot();
    for (const f of noSegment.readdir(path.dirname(segmentFile(DIR, 1, 1, DATA_FILE)))) noSegment.unlink(path.join(path.dirname(segmentFile(DIR, 1, 1, DATA_FILE)), f));
    const r = verify(DIR, { io: noSegment });
    expect(problems(r).some((f) => f.kind === 'layout' && f.bucket === 1 && f.segment === 1)).toBe(true);

    io.unlink(path.join(DIR, META_FILE));
    expect(verify(DIR, { io })).toMatchObject({ clean: false, findings: [expect.objectContaining({ kind: 'meta', message: expect.stringContaining('meta.json is missing') })] });
  });
});

describe('sierradb verify (command)', () => {
  it('prints a report or JSON and exits 0 when clean, 1 on a problem', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sdb-verify-'));
    try {
      const db = await open(dir, { threads: false, ...layout });
      for (let i = 0; i < 200; i++) await db.append(`s${i % 16}`, 'E', { payload: 'x'.repeat(50) });
      await db.close();
      const run = async (argv: string[]) => {
        let out = '';
        const parsed = parseArgs(['verify', '--dir', dir, ...argv]) as VerifyArgs;
        const code = await runVerify(parsed, { stdout: (t) => (out += t), stderr: (t) => (out += t), env: {}, cwd: dir });
        return { code, out };
      };
      const text = await run([]);
      expect(text.code).toBe(0);
      expect(text.out).toContain('result: clean');
      const json = await run(['--json']);
      expect(json.code).toBe(0);
      expect(JSON.parse(json.out)).toMatchObject({ clean: true, problems: 0, stats: { events: 200 } });

      fs.rmSync(segmentFile(dir, 0, 0, EVENT_INDEX_FILE));
      const broken = await run([]);
      expect(broken.code).toBe(1);
      expect(broken.out).toMatch(/bucket 0 segment 0 index\.eidx: \[index-missing\]/);
      const fixed = await run(['--repair']);
      expect(fixed.code).toBe(0);
      expect(fixed.out).toMatch(/repaired: bucket 0 segment 0 index\.eidx/);

      // Standalone entry, as `node src/cli/verify-command.ts` (the npm script `verify`).
      const script = path.resolve(import.meta.dirname, '../../src/cli/verify-command.ts');
      const child = spawnSync(process.execPath, [script, '--dir', dir, '--json'], { encoding: 'utf8' });
      expect(child.status, child.stderr).toBe(0);
      expect(JSON.parse(child.stdout)).toMatchObject({ clean: true });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
