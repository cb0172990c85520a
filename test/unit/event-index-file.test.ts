import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { EventIndexFile, writeEventIndexFile } from '../../native-free-io/event-index-file.ts';
import { type FileIo, nodeFileIo, readWholeFile } from '../../native-free-io/file-io.ts';
import { IndexFileCorruptError } from '../../native-free-io/index-file-error.ts';
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
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'eidx-'));
      tempDirs.push(dir);
      return { io: nodeFileIo, dir };
    },
  },
];

/** Event ids shaped like ours: a millisecond clock first, so leading bytes repeat. */
function eventIds(count: number): Buffer[] {
  const base = Date.now();
  return Array.from({ length: count }, (_, i) => {
    const id = randomBytes(16);
    id.writeUIntBE(base + Math.floor(i / 100), 0, 6);
    return id;
  });
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
    EventIndexFile.open(io, file).close();
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(IndexFileCorruptError);
  expect((thrown as IndexFileCorruptError).path).toBe(file);
}

describe.each(backends)('EventIndexFile on $name', ({ make }) => {
  for (const count of [0, 1, 50_000]) {
    it(`round trips ${count} entries`, () => {
      const { io, dir } = make();
      const file = path.join(dir, 'index.eidx');
      const ids = eventIds(count);
      writeEventIndexFile(io, file, ids.map((eventId, i) => ({ eventId, offset: 64 + i * 131 })));
      expect(io.exists(`${file}.tmp`)).toBe(false);
      const index = EventIndexFile.open(io, file);
      try {
        expect(index.count).toBe(count);
        for (let i = 0; i < count; i++) {
          expect(index.mightContain(ids[i])).toBe(true);
          const got = index.lookup(ids[i]);
          if (got !== 64 + i * 131) expect(got).toBe(64 + i * 131);
        }
        let falsePositives = 0;
        for (const absent of eventIds(10_000)) {
          if (index.mightContain(absent)) falsePositives++;
          expect(index.lookup(absent)).toBeUndefined();
        }
        if (count > 0) expect(falsePositives).toBeLessThan(200);
      } finally {
        index.close();
      }
    });
  }

  it('finds absent keys that pass the bloom filter to be absent', () => {
    const { io, dir } = make();
    const file = path.join(dir, 'index.eidx');
    const ids = eventIds(2000);
    writeEventIndexFile(io, file, ids.map((eventId, i) => ({ eventId, offset: i })));
    const index = EventIndexFile.open(io, file);
    let checked = 0;
    for (const absent of eventIds(50_000)) {
      if (!index.mightContain(absent)) continue;
      checked++;
      expect(index.lookup(absent)).toBeUndefined();
    }
    expect(checked).toBeGreaterThan(100);
    index.close();
  });

  it('returns the smallest offset of a repeated id, and rejects malformed input', () => {
    const { io, dir } = make();
    const file = path.join(dir, 'index.eidx');
    const [a, b] = eventIds(2);
    writeEventIndexFile(io, file, [
      { eventId: a, offset: 900 },
      { eventId: b, offset: 5 },
      { eventId: a, offset: 300 },
    ]);
    const index = EventIndexFile.open(io, file);
    expect(index.lookup(a)).toBe(300);
    expect(index.lookup(b)).toBe(5);
    expect(() => index.lookup(Buffer.alloc(15))).toThrow(RangeError);
    index.close();
    index.close();
    expect(() => writeEventIndexFile(io, file, [{ eventId: Buffer.alloc(17), offset: 0 }])).toThrow(RangeError);
    expect(() => writeEventIndexFile(io, file, [{ eventId: a, offset: -1 }])).toThrow(RangeError);
  });

  it('lays records out by hash, then id bytes, then offset, each entry exactly once (repeated ids included)', () => {
    const { io, dir } = make();
    const file = path.join(dir, 'index.eidx');
    // Enough entries to fill every radix bucket several times over; every third id repeats an earlier one, at an
    // offset both below and above it, so that runs of equal hashes need the tie-break.
    const ids = eventIds(40_000);
    const entries = ids.map((eventId, i) => ({ eventId, offset: 10_000_000 - i * 7 }));
    for (let i = 3; i < ids.length; i += 3) entries.push({ eventId: ids[i - 3], offset: i % 2 === 0 ? 1 + i : 20_000_000 + i });
    writeEventIndexFile(io, file, entries);
    const bytes = readWholeFile(io, file);
    const count = bytes.readUInt32LE(8);
    const recordsAt = bytes.readUInt32LE(40);
    expect(count).toBe(entries.length);
    const key = (r: number) => {
      const at = recordsAt + 28 * r;
      return { hash: bytes.readUInt32LE(at), id: bytes.subarray(at + 4, at + 20), offset: bytes.readUInt32LE(at + 20) + bytes.readUInt32LE(at + 24) * 2 ** 32 };
    };
    const seen = new Map<string, number>();
    for (const e of entries) seen.set(`${Buffer.from(e.eventId).toString('hex')}@${e.offset}`, (seen.get(`${Buffer.from(e.eventId).toString('hex')}@${e.offset}`) ?? 0) + 1);
    let prev = key(0);
    for (let r = 0; r < count; r++) {
      const cur = key(r);
      const name = `${cur.id.toString('hex')}@${cur.offset}`;
      expect(seen.get(name)).toBe(1);
      seen.delete(name);
      if (r > 0) {
        const order = prev.hash - cur.hash || Buffer.compare(prev.id, cur.id) || prev.offset - cur.offset;
        if (order >= 0) expect({ r, prev, cur }).toBe('in ascending (hash, id, offset) order');
      }
      prev = cur;
    }
    expect(seen.size).toBe(0);
    const index = EventIndexFile.open(io, file);
    // The smallest offset of each id wins: the repeat's when it was placed below the original.
    for (let j = 0; j + 3 < 3000; j += 3) {
      const repeat = (j + 3) % 2 === 0 ? 1 + j + 3 : 20_000_000 + j + 3;
      expect(index.lookup(ids[j])).toBe(Math.min(10_000_000 - j * 7, repeat));
    }
    index.close();
  });

  it('detects every single-bit flip at open', () => {
    const { io, dir } = make();
    const file = path.join(dir, 'index.eidx');
    writeEventIndexFile(io, file, eventIds(5).map((eventId, i) => ({ eventId, offset: 1000 * i })));
    const good = readWholeFile(io, file);
    const flipped = path.join(dir, 'flipped.eidx');
    for (let bit = 0; bit < good.length * 8; bit++) {
      const bad = Buffer.from(good);
      bad[bit >> 3] ^= 1 << (bit & 7);
      overwrite(io, flipped, bad);
      expectCorrupt(io, flipped);
    }
    overwrite(io, flipped, good);
    EventIndexFile.open(io, flipped).close();
  });

  it('detects a truncated file at open', () => {
    const { io, dir } = make();
    const file = path.join(dir, 'index.eidx');
    writeEventIndexFile(io, file, eventIds(300).map((eventId, i) => ({ eventId, offset: i })));
    const good = readWholeFile(io, file);
    const cut = path.join(dir, 'cut.eidx');
    for (const length of [0, 1, 4, 79, 80, 84, good.length >> 1, good.length - 5, good.length - 4, good.length - 1]) {
      overwrite(io, cut, good.subarray(0, length));
      expectCorrupt(io, cut);
    }
    overwrite(io, cut, Buffer.concat([good, Buffer.alloc(1)]));
    expectCorrupt(io, cut);
  });

  it('passes file system errors through', () => {
    const { io, dir } = make();
    expect(() => EventIndexFile.open(io, path.join(dir, 'missing.eidx'))).toThrow(expect.objectContaining({ code: 'ENOENT' }));
  });

  it('prints its lookup rate for 50,000 entries', () => {
    const { io, dir } = make();
    const file = path.join(dir, 'index.eidx');
    const ids = eventIds(50_000);
    writeEventIndexFile(io, file, ids.map((eventId, i) => ({ eventId, offset: i })));
    const started = performance.now();
    const index = EventIndexFile.open(io, file);
    const openMs = performance.now() - started;
    let sum = 0;
    let t = performance.now();
    for (const id of ids) sum += index.lookup(id)!;
    const presentRate = ids.length / ((performance.now() - t) / 1000);
    const absent = eventIds(50_000);
    t = performance.now();
    for (const id of absent) if (index.lookup(id) !== undefined) sum++;
    const absentRate = absent.length / ((performance.now() - t) / 1000);
    index.close();
    console.log(
      `${io.constructor.name} index.eidx 50k: open ${openMs.toFixed(1)} ms, lookup present ${Math.round(presentRate).toLocaleString('en')}/s, ` +
        `absent ${Math.round(absentRate).toLocaleString('en')}/s (checksum ${sum})`,
    );
    expect(sum).toBe((49_999 * 50_000) / 2);
  });
});
