/**
 * Crash at every write boundary of a group commit (short form of stress/campaigns/torn-writes.ts), and the
 * TornWriteFileIo seam it stands on. Replay a failure with `SEED=<n> npx vitest run test/crash/torn-writes`, or
 * the long form: `node stress/campaigns/torn-writes.ts --seed <n> --rounds 1`.
 */
import { describe, expect, it } from 'vitest';
import { FileIoProxy } from '../helpers/file-io-proxy.ts';
import { readWholeFile } from '../../native-free-io/file-io.ts';
import { SimulatedFileIo } from '../../native-free-io/simulated-file-io.ts';
import { ProcessCrashedError, TornWriteFileIo } from '../../native-free-io/torn-write-file-io.ts';
import { formatTornWritesReport, runTornWritesCampaign } from '../../stress/campaigns/torn-writes.ts';

const SEED = Number(process.env.SEED ?? 1);

describe('TornWriteFileIo', () => {
  function disk(): SimulatedFileIo {
    const sim = new SimulatedFileIo();
    sim.mkdirp('/d');
    sim.syncDir('/');
    return sim;
  }

  it('numbers mutating calls after arm() and records them', () => {
    const io = new TornWriteFileIo(disk());
    const early = io.open('/d/early', 'create'); // before arm(): not counted
    early.close();
    io.arm();
    const h = io.open('/d/f', 'create');
    h.write(Buffer.from('hello'), 0);
    h.writev([Buffer.from('ab'), Buffer.from('cd')], 5);
    h.truncate(20);
    h.datasync();
    h.read(Buffer.alloc(4), 0, 4, 0); // not a mutating call
    h.close();
    io.syncDir('/d');
    io.rename('/d/f', '/d/g');
    io.unlink('/d/early');
    io.mkdirp('/d/sub');
    expect(io.ops.map((op) => [op.index, op.kind, op.position, op.bytes])).toEqual([
      [0, 'create', -1, 0],
      [1, 'write', 0, 5],
      [2, 'writev', 5, 4],
      [3, 'truncate', 20, 0],
      [4, 'datasync', -1, 0],
      [5, 'syncDir', -1, 0],
      [6, 'rename', -1, 0],
      [7, 'unlink', -1, 0],
      [8, 'mkdirp', -1, 0],
    ]);
    expect(io.crashed).toBe(false);
  });

  it('lets the first N bytes of the crashing write through, then fails every mutating call', () => {
    const sim = disk();
    const io = new TornWriteFileIo(sim, { crashAtOp: 2, crashAfterBytes: 3 });
    io.arm();
    const h = io.open('/d/f', 'create'); // call 0
    h.write(Buffer.from('0123456789'), 0); // call 1
    expect(() => h.writev([Buffer.from('ab'), Buffer.from('cdef')], 10)).toThrow(ProcessCrashedError); // call 2: 3 bytes
    expect(io.crashed).toBe(true);
    expect(() => h.datasync()).toThrow(/simulated process crash/);
    expect(() => io.syncDir('/d')).toThrow(ProcessCrashedError);
    expect(() => io.open('/d/other', 'create')).toThrow(ProcessCrashedError);
    expect(io.exists('/d/other')).toBe(false);
    // Reads still pass, and the page cache holds the prefix; a power cut then keeps none of it (never synced).
    expect(readWholeFile(io, '/d/f').toString()).toBe('0123456789abc');
    expect(sim.clone().exists('/d/f')).toBe(false);
  });

  it('a crash at a non-write call lets nothing of it through', () => {
    const sim = disk();
    const io = new TornWriteFileIo(sim, { crashAtOp: 1, crashAfterBytes: 100 });
    io.arm();
    const h = io.open('/d/f', 'create');
    expect(() => h.truncate(50)).toThrow(ProcessCrashedError);
    expect(sim.open('/d/f', 'read').size()).toBe(0);
  });
});

/** A disk that ignores fdatasync (a control: the campaign must notice the lost acknowledged events). */
class IgnoresDatasync extends FileIoProxy {
  protected override datasync(): void {}
}

describe('crash at every write boundary of a group commit', () => {
  it(`loses nothing acknowledged, tears no transaction, reopens clean (seed ${SEED})`, { timeout: 120_000 }, async () => {
    const report = await runTornWritesCampaign({ seed: SEED, rounds: 3, byteCutsPerWrite: 4, tornCutsPerPoint: 1 });
    console.log(formatTornWritesReport(report));
    expect(report.violations).toEqual([]);
    expect(report.roundsWithRollover).toBe(3);
    expect(report.crashPoints).toBeGreaterThanOrEqual(250);
    expect(report.byteCutPoints).toBeGreaterThan(100);
    expect(report.reopens).toBe(3 * report.crashPoints);
    expect(report.acknowledgedChecked).toBeGreaterThan(report.reopens * 10);
  });

  it('control: a disk that ignores fdatasync fails the campaign', { timeout: 60_000 }, async () => {
    const report = await runTornWritesCampaign({ seed: SEED, rounds: 1, byteCutsPerWrite: 0, tornCutsPerPoint: 0, wrapIo: (io) => new IgnoresDatasync(io) });
    expect(report.violations.some((v) => /acknowledged event .* is lost/.test(v))).toBe(true);
  });
});
