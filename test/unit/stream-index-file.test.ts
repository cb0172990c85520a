import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type FileIo, nodeFileIo, readWholeFile } from '../../native-free-io/file-io.ts';
import { IndexFileCorruptError } from '../../native-free-io/index-file-error.ts';
import { SimulatedFileIo } from '../../native-free-io/simulated-file-io.ts';
import { StreamIndexFile, writeStreamIndexFile } from '../../native-free-io/stream-index-file.ts';

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
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sidx-'));
      tempDirs.push(dir);
      return { io: nodeFileIo, dir };
    },
  },
];

type Streams = Map<string, { partitionKey: Uint8Array; firstVersion: number; offsets: number[] }>;

function streamsOf(count: number, prefix = 'user-'): Streams {
  const out: Streams = new Map();
  let offset = 64;
  for (let i = 0; i < count; i++) {
    const versions = 1 + (i % 5);
    const offsets: number[] = [];
    for (let v = 0; v < versions; v++) offsets.push((offset += 97));
    out.set(`${prefix}${i}`, { partitionKey: randomBytes(16), firstVersion: (i * 13) % 1000, offsets });
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
    StreamIndexFile.open(io, file).close();
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(IndexFileCorruptError);
  expect((thrown as IndexFileCorruptError).path).toBe(file);
}

describe.each(backends)('StreamIndexFile on $name', ({ make }) => {
  for (const count of [0, 1, 50_000]) {
    it(`round trips ${count} streams`, () => {
      const { io, dir } = make();
      const file = path.join(dir, 'stream.sidx');
      const streams = streamsOf(count);
      writeStreamIndexFile(io, file, streams);
      const index = StreamIndexFile.open(io, file);
      try {
        expect(index.count).toBe(count);
        for (const [id, s] of streams) {
          expect(index.mightContain(id)).toBe(true);
          const got = index.lookup(id);
          const want = { partitionKey: Buffer.from(s.partitionKey), firstVersion: s.firstVersion, lastVersion: s.firstVersion + s.offsets.length - 1 };
          if (got === undefined || !Buffer.from(got.partitionKey).equals(want.partitionKey) || got.firstVersion !== want.firstVersion || got.lastVersion !== want.lastVersion) {
            expect(got).toEqual(want);
          }
          const offsets = index.offsets(id, 0, Infinity);
          if (offsets.join() !== s.offsets.join()) expect(offsets).toEqual(s.offsets);
        }
        let falsePositives = 0;
        for (let i = 0; i < 10_000; i++) {
          const absent = `order-${i}`;
          if (index.mightContain(absent)) falsePositives++;
          expect(index.lookup(absent)).toBeUndefined();
          expect(index.offsets(absent, 0, 10)).toEqual([]);
        }
        expect(falsePositives).toBeLessThan(40);
      } finally {
        index.close();
      }
    });
  }

  it('clips offsets() to the range and to maxCount', () => {
    const { io, dir } = make();
    const file = path.join(dir, 'stream.sidx');
    const key = randomBytes(16);
    const streams: Streams = new Map([
      ['orders', { partitionKey: key, firstVersion: 10, offsets: [100, 200, 300, 400] }],
      ['x'.repeat(64), { partitionKey: key, firstVersion: 0, offsets: [7] }],
      ['ünïcödé-ストリーム', { partitionKey: key, firstVersion: 2 ** 40, offsets: [2 ** 45] }],
    ]);
    writeStreamIndexFile(io, file, streams);
    const index = StreamIndexFile.open(io, file);
    expect(index.lookup('orders')).toEqual({ partitionKey: key, firstVersion: 10, lastVersion: 13 });
    expect(index.offsets('orders', 0, 2)).toEqual([100, 200]);
    expect(index.offsets('orders', 11, 10)).toEqual([200, 300, 400]);
    expect(index.offsets('orders', 13, 10)).toEqual([400]);
    expect(index.offsets('orders', 14, 10)).toEqual([]);
    expect(index.offsets('orders', 12, 0)).toEqual([]);
    expect(index.offsets('x'.repeat(64), 0, 5)).toEqual([7]);
    expect(index.offsets('ünïcödé-ストリーム', 0, 5)).toEqual([2 ** 45]);
    expect(index.lookup('x'.repeat(65))).toBeUndefined();
    expect(index.lookup('')).toBeUndefined();
    expect(index.lookup('order')).toBeUndefined();
    expect(index.lookup('orders ')).toBeUndefined();
    index.close();
    index.close();
  });

  it('rejects bad input', () => {
    const { io, dir } = make();
    const file = path.join(dir, 'stream.sidx');
    const key = randomBytes(16);
    const bad = (id: string, s: { partitionKey: Uint8Array; firstVersion: number; offsets: number[] }) =>
      expect(() => writeStreamIndexFile(io, file, new Map([[id, s]]))).toThrow(RangeError);
    bad('', { partitionKey: key, firstVersion: 0, offsets: [1] });
    bad('é'.repeat(33), { partitionKey: key, firstVersion: 0, offsets: [1] });
    bad('\ud800', { partitionKey: key, firstVersion: 0, offsets: [1] });
    bad('s', { partitionKey: key.subarray(1), firstVersion: 0, offsets: [1] });
    bad('s', { partitionKey: key, firstVersion: 0, offsets: [] });
    bad('s', { partitionKey: key, firstVersion: -1, offsets: [1] });
    bad('s', { partitionKey: key, firstVersion: 0, offsets: [-1] });
  });

  it('detects every single-bit flip at open', () => {
    const { io, dir } = make();
    const file = path.join(dir, 'stream.sidx');
    writeStreamIndexFile(io, file, streamsOf(3));
    const good = readWholeFile(io, file);
    const flipped = path.join(dir, 'flipped.sidx');
    for (let bit = 0; bit < good.length * 8; bit++) {
      const bad = Buffer.from(good);
      bad[bit >> 3] ^= 1 << (bit & 7);
      overwrite(io, flipped, bad);
      expectCorrupt(io, flipped);
    }
    overwrite(io, flipped, good);
    StreamIndexFile.open(io, flipped).close();
  });

  it('detects a truncated file at open', () => {
    const { io, dir } = make();
    const file = path.join(dir, 'stream.sidx');
    writeStreamIndexFile(io, file, streamsOf(300));
    const good = readWholeFile(io, file);
    const cut = path.join(dir, 'cut.sidx');
    for (const length of [0, 1, 4, 95, 96, 100, good.length >> 1, good.length - 8, good.length - 4, good.length - 1]) {
      overwrite(io, cut, good.subarray(0, length));
      expectCorrupt(io, cut);
    }
    overwrite(io, cut, Buffer.concat([good, Buffer.alloc(8)]));
    expectCorrupt(io, cut);
  });

  it('prints its lookup rate for 50,000 streams', () => {
    const { io, dir } = make();
    const file = path.join(dir, 'stream.sidx');
    const streams = streamsOf(50_000);
    writeStreamIndexFile(io, file, streams);
    const started = performance.now();
    const index = StreamIndexFile.open(io, file);
    const openMs = performance.now() - started;
    const ids = [...streams.keys()];
    let sum = 0;
    let t = performance.now();
    for (const id of ids) sum += index.lookup(id)!.lastVersion;
    const presentRate = ids.length / ((performance.now() - t) / 1000);
    t = performance.now();
    for (let i = 0; i < 50_000; i++) if (index.lookup(`absent-${i}`) !== undefined) sum++;
    const absentRate = 50_000 / ((performance.now() - t) / 1000);
    index.close();
    console.log(
      `${io.constructor.name} stream.sidx 50k: open ${openMs.toFixed(1)} ms, lookup present ${Math.round(presentRate).toLocaleString('en')}/s, ` +
        `absent ${Math.round(absentRate).toLocaleString('en')}/s (checksum ${sum})`,
    );
    expect(sum).toBeGreaterThan(0);
  });
});
