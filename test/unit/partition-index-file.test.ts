import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type FileIo, nodeFileIo, readWholeFile } from '../../native-free-io/file-io.ts';
import { IndexFileCorruptError } from '../../native-free-io/index-file-error.ts';
import { PartitionIndexFile, writePartitionIndexFile } from '../../native-free-io/partition-index-file.ts';
import { SimulatedFileIo } from '../../native-free-io/simulated-file-io.ts';

const tempDirs: string[] = [];
afterAll(() => {
  for (const d of tempDirs) fs.rmSync(d, { recursive: true, force: true });
});

const backends: { name: string; make(): { io: FileIo; dir: string } }[] = [
  {
    name: 'SimulatedFileIo',
    make() {
      const io = new SimulatedFileIo();
      io.mkdirp('/seg');
      return { io, dir: '/seg' };
    },
  },
  {
    name: 'nodeFileIo',
    make() {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pidx-'));
      tempDirs.push(dir);
      return { io: nodeFileIo, dir };
    },
  },
];

type Partitions = Map<number, { firstSequence: number; offsets: number[] }>;

/** `count` sequences spread over partitions round robin, as a segment's records would be. */
function partitionsOf(count: number, partitionCount: number): Partitions {
  const out: Partitions = new Map();
  let offset = 64;
  for (let i = 0; i < count; i++) {
    const pid = (i * 7919) % partitionCount;
    let p = out.get(pid);
    if (p === undefined) out.set(pid, (p = { firstSequence: pid * 1000 + 17, offsets: [] }));
    p.offsets.push(offset);
    offset += 100 + (i % 37);
  }
  return out;
}

function overwrite(io: FileIo, file: string, bytes: Uint8Array): void {
  if (io.exists(file)) io.unlink(file);
  const h = io.open(file, 'create');
  h.write(bytes, 0);
  h.close();
}

function expectCorrupt(io: FileIo, file: string): void {
  let thrown: unknown;
  try {
    PartitionIndexFile.open(io, file).close();
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(IndexFileCorruptError);
  expect((thrown as IndexFileCorruptError).path).toBe(file);
}

describe.each(backends)('PartitionIndexFile on $name', ({ make }) => {
  for (const [count, partitionCount] of [
    [0, 1],
    [1, 1],
    [50_000, 1024],
  ]) {
    it(`round trips ${count} sequences in ${partitionCount} partitions`, () => {
      const { io, dir } = make();
      const file = path.join(dir, 'partition.pidx');
      const partitions = partitionsOf(count, partitionCount);
      writePartitionIndexFile(io, file, partitions);
      const index = PartitionIndexFile.open(io, file);
      try {
        expect(index.partitionIds()).toEqual([...partitions.keys()].sort((a, b) => a - b));
        for (const [pid, p] of partitions) {
          expect(index.range(pid)).toEqual({ first: p.firstSequence, last: p.firstSequence + p.offsets.length - 1 });
          expect(index.offsets(pid, 0, Infinity)).toEqual(p.offsets);
        }
        expect(index.range(partitionCount + 1)).toBeUndefined();
        expect(index.offsets(partitionCount + 1, 0, 10)).toEqual([]);
      } finally {
        index.close();
      }
    });
  }

  it('clips offsets() to the range and to maxCount', () => {
    const { io, dir } = make();
    const file = path.join(dir, 'partition.pidx');
    const partitions: Partitions = new Map([
      [7, { firstSequence: 100, offsets: [10, 20, 30, 40, 50] }],
      [3, { firstSequence: 0, offsets: [5] }],
      [65535, { firstSequence: 2 ** 40, offsets: [2 ** 45, 2 ** 45 + 1] }],
    ]);
    writePartitionIndexFile(io, file, partitions);
    const index = PartitionIndexFile.open(io, file);
    expect(index.partitionIds()).toEqual([3, 7, 65535]);
    expect(index.range(7)).toEqual({ first: 100, last: 104 });
    expect(index.offsets(7, 0, 2)).toEqual([10, 20]);
    expect(index.offsets(7, 102, 10)).toEqual([30, 40, 50]);
    expect(index.offsets(7, 104, 10)).toEqual([50]);
    expect(index.offsets(7, 105, 10)).toEqual([]);
    expect(index.offsets(7, 101, 0)).toEqual([]);
    expect(index.offsets(7, 101, 1)).toEqual([20]);
    expect(index.offsets(3, 0, 1)).toEqual([5]);
    expect(index.offsets(65535, 2 ** 40 + 1, 5)).toEqual([2 ** 45 + 1]);
    expect(index.range(4)).toBeUndefined();
    index.close();
    index.close();
  });

  it('rejects bad input', () => {
    const { io, dir } = make();
    const file = path.join(dir, 'partition.pidx');
    expect(() => writePartitionIndexFile(io, file, new Map([[70000, { firstSequence: 0, offsets: [1] }]]))).toThrow(RangeError);
    expect(() => writePartitionIndexFile(io, file, new Map([[1, { firstSequence: 0, offsets: [] }]]))).toThrow(RangeError);
    expect(() => writePartitionIndexFile(io, file, new Map([[1, { firstSequence: -1, offsets: [1] }]]))).toThrow(RangeError);
    expect(() => writePartitionIndexFile(io, file, new Map([[1, { firstSequence: 0, offsets: [1.5] }]]))).toThrow(RangeError);
  });

  it('detects every single-bit flip at open', () => {
    const { io, dir } = make();
    const file = path.join(dir, 'partition.pidx');
    writePartitionIndexFile(io, file, partitionsOf(7, 3));
    const good = readWholeFile(io, file);
    const flipped = path.join(dir, 'flipped.pidx');
    for (let bit = 0; bit < good.length * 8; bit++) {
      const bad = Buffer.from(good);
      bad[bit >> 3] ^= 1 << (bit & 7);
      overwrite(io, flipped, bad);
      expectCorrupt(io, flipped);
    }
    overwrite(io, flipped, good);
    PartitionIndexFile.open(io, flipped).close();
  });

  it('detects a truncated file at open', () => {
    const { io, dir } = make();
    const file = path.join(dir, 'partition.pidx');
    writePartitionIndexFile(io, file, partitionsOf(300, 10));
    const good = readWholeFile(io, file);
    const cut = path.join(dir, 'cut.pidx');
    for (const length of [0, 1, 4, 63, 64, 68, good.length >> 1, good.length - 8, good.length - 4, good.length - 1]) {
      overwrite(io, cut, good.subarray(0, length));
      expectCorrupt(io, cut);
    }
    overwrite(io, cut, Buffer.concat([good, Buffer.alloc(8)]));
    expectCorrupt(io, cut);
  });

  it('prints its offsets() rate for 50,000 sequences', () => {
    const { io, dir } = make();
    const file = path.join(dir, 'partition.pidx');
    const partitions = partitionsOf(50_000, 1024);
    writePartitionIndexFile(io, file, partitions);
    const index = PartitionIndexFile.open(io, file);
    const pids = index.partitionIds();
    let sum = 0;
    const calls = 50_000;
    const t = performance.now();
    for (let i = 0; i < calls; i++) {
      const pid = pids[i % pids.length];
      const r = index.range(pid)!;
      sum += index.offsets(pid, r.first + (i % 40), 1)[0] ?? 0;
    }
    const rate = calls / ((performance.now() - t) / 1000);
    index.close();
    console.log(`${io.constructor.name} partition.pidx 50k: range+offsets(1) ${Math.round(rate).toLocaleString('en')}/s (checksum ${sum})`);
    expect(sum).toBeGreaterThan(0);
  });
});
