import { describe, expect, it } from 'vitest';
import { type FileHandle, type FileIo, type OpenMode, readWholeFile, writeFileDurably } from '../../native-free-io/file-io.ts';
import { SIMULATED_SECTOR_BYTES, SimulatedFileIo, seededRandom } from '../../native-free-io/simulated-file-io.ts';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return (error as NodeJS.ErrnoException).code;
  }
  return undefined;
}

function writeFile(io: FileIo, path: string, data: Uint8Array, options: { datasync: boolean }): void {
  const h = io.open(path, io.exists(path) ? 'write' : 'create');
  h.write(data, 0);
  if (options.datasync) h.datasync();
  h.close();
}

function fresh(): SimulatedFileIo {
  const io = new SimulatedFileIo();
  io.mkdirp('/d');
  io.syncDir('/');
  return io;
}

const drop = seededRandom(0);

describe('SimulatedFileIo as a file system', () => {
  it('reads what was written; truncate extends with zeros; reads past the end return 0', () => {
    const io = fresh();
    const h = io.open('/d/f', 'create');
    h.write(Buffer.from('hello'), 0);
    h.write(Buffer.from('XY'), 10_000);
    expect(h.size()).toBe(10_002);
    const out = Buffer.alloc(10_002, 0xff);
    expect(h.read(out, 0, out.length, 0)).toBe(10_002);
    expect(out.subarray(0, 5).toString()).toBe('hello');
    expect(out.subarray(5, 10_000).every((b) => b === 0)).toBe(true);
    expect(out.subarray(10_000).toString()).toBe('XY');
    h.truncate(3);
    h.truncate(10);
    expect(readWholeFile(io, '/d/f')).toEqual(Buffer.from('hel\0\0\0\0\0\0\0'));
    expect(h.read(out, 0, 10, 10)).toBe(0);
    expect(h.read(out, 0, 10, 500)).toBe(0);
    expect(h.read(out, 0, 10, 8)).toBe(2);
    h.writev([Buffer.from('ab'), Buffer.from('cd')], 1);
    expect(readWholeFile(io, '/d/f').subarray(0, 5).toString()).toBe('habcd');
    h.close();
  });

  it('throws Node-shaped errors', () => {
    const io = fresh();
    expect(codeOf(() => io.open('/d/missing', 'read'))).toBe('ENOENT');
    expect(codeOf(() => io.open('/nodir/x', 'create'))).toBe('ENOENT');
    io.open('/d/f', 'create').close();
    expect(codeOf(() => io.open('/d/f', 'create'))).toBe('EEXIST');
    expect(codeOf(() => io.unlink('/d/missing'))).toBe('ENOENT');
    expect(codeOf(() => io.rename('/d/missing', '/d/x'))).toBe('ENOENT');
    expect(codeOf(() => io.readdir('/nodir'))).toBe('ENOENT');
    const r = io.open('/d/f', 'read');
    expect(codeOf(() => r.write(Buffer.from('x'), 0))).toBe('EBADF');
    r.close();
    expect(codeOf(() => r.read(Buffer.alloc(1), 0, 1, 0))).toBe('EBADF');
    const error = (() => {
      try {
        io.open('/d/missing', 'read');
      } catch (e) {
        return e as NodeJS.ErrnoException;
      }
    })();
    expect(error).toBeInstanceOf(Error);
    expect(error?.syscall).toBe('open');
    expect(error?.path).toBe('/d/missing');
  });

  it('lists directories and files, sorted', () => {
    const io = fresh();
    io.mkdirp('/d/sub/deeper');
    io.open('/d/b', 'create').close();
    io.open('/d/a', 'create').close();
    expect(io.readdir('/d')).toEqual(['a', 'b', 'sub']);
    expect(io.readdir('/d/sub')).toEqual(['deeper']);
    expect(io.exists('/d/sub')).toBe(true);
    expect(io.exists('/d/a')).toBe(true);
    io.unlink('/d/a');
    expect(io.exists('/d/a')).toBe(false);
  });
});

describe('power cuts', () => {
  it('keeps synced data and names', () => {
    const io = fresh();
    writeFile(io, '/d/f', Buffer.from('durable'), { datasync: true });
    io.syncDir('/d');
    io.powerCut(drop, 'drop');
    expect(readWholeFile(io, '/d/f').toString()).toBe('durable');
  });

  it("drops unsynced writes with 'drop'", () => {
    const io = fresh();
    writeFile(io, '/d/f', Buffer.from('old old old'), { datasync: true });
    io.syncDir('/d');
    const h = io.open('/d/f', 'write');
    h.write(Buffer.from('NEW NEW NEW NEW'), 0);
    expect(readWholeFile(io, '/d/f').toString()).toBe('NEW NEW NEW NEW');
    io.powerCut(drop, 'drop');
    expect(readWholeFile(io, '/d/f').toString()).toBe('old old old');
  });

  it('loses a synced file whose directory entry was never synced', () => {
    const io = fresh();
    writeFile(io, '/d/f', Buffer.from('data'), { datasync: true });
    io.powerCut(drop, 'drop');
    expect(io.exists('/d/f')).toBe(false);
  });

  it('keeps a synced name with the contents last datasynced (empty if never)', () => {
    const io = fresh();
    writeFile(io, '/d/f', Buffer.from('data'), { datasync: false });
    io.syncDir('/d');
    io.powerCut(drop, 'drop');
    expect(readWholeFile(io, '/d/f').length).toBe(0);
  });

  it('loses a directory whose parent was not synced, with everything in it', () => {
    const io = fresh();
    io.mkdirp('/d/seg');
    writeFile(io, '/d/seg/f', Buffer.from('data'), { datasync: true });
    io.syncDir('/d/seg');
    io.powerCut(drop, 'drop');
    expect(io.exists('/d/seg')).toBe(false);
    expect(io.exists('/d/seg/f')).toBe(false);

    const io2 = fresh();
    io2.mkdirp('/d/seg');
    writeFile(io2, '/d/seg/f', Buffer.from('data'), { datasync: true });
    io2.syncDir('/d/seg');
    io2.syncDir('/d');
    io2.powerCut(drop, 'drop');
    expect(readWholeFile(io2, '/d/seg/f').toString()).toBe('data');
  });

  it('may undo a rename or unlink not followed by syncDir', () => {
    const io = fresh();
    writeFile(io, '/d/a', Buffer.from('A'), { datasync: true });
    io.syncDir('/d');
    io.rename('/d/a', '/d/b');
    io.powerCut(drop, 'drop');
    expect(io.exists('/d/a')).toBe(true);
    expect(io.exists('/d/b')).toBe(false);

    io.rename('/d/a', '/d/b');
    io.syncDir('/d');
    io.powerCut(drop, 'drop');
    expect(io.exists('/d/a')).toBe(false);
    expect(readWholeFile(io, '/d/b').toString()).toBe('A');

    io.unlink('/d/b');
    io.powerCut(drop, 'drop');
    expect(readWholeFile(io, '/d/b').toString()).toBe('A');
    io.unlink('/d/b');
    io.syncDir('/d');
    io.powerCut(drop, 'drop');
    expect(io.exists('/d/b')).toBe(false);
  });

  it("'torn' keeps a sector-aligned mix of old and new", () => {
    const sectors = 24;
    let mixed = 0;
    const kinds = new Set<string>();
    for (let seed = 1; seed <= 20; seed++) {
      const io = fresh();
      writeFile(io, '/d/f', Buffer.alloc(sectors * SIMULATED_SECTOR_BYTES, 0xaa), { datasync: true });
      io.syncDir('/d');
      const h = io.open('/d/f', 'write');
      h.write(Buffer.alloc(sectors * SIMULATED_SECTOR_BYTES, 0xbb), 0);
      io.powerCut(seededRandom(seed), 'torn');
      const after = readWholeFile(io, '/d/f');
      expect(after.length).toBe(sectors * SIMULATED_SECTOR_BYTES);
      const pattern: string[] = [];
      for (let s = 0; s < sectors; s++) {
        const sector = after.subarray(s * SIMULATED_SECTOR_BYTES, (s + 1) * SIMULATED_SECTOR_BYTES);
        expect(sector.every((b) => b === sector[0])).toBe(true);
        expect([0xaa, 0xbb]).toContain(sector[0]);
        pattern.push(sector[0] === 0xaa ? 'o' : 'n');
      }
      kinds.add(pattern.join(''));
      if (pattern.includes('o') && pattern.includes('n')) mixed++;
    }
    expect(mixed).toBeGreaterThan(15);
    expect(kinds.size).toBeGreaterThan(15);
  });

  it("'torn' is replayable from its seed, and may keep or revert a length change", () => {
    const run = (seed: number) => {
      const io = fresh();
      writeFile(io, '/d/f', Buffer.alloc(1000, 1), { datasync: true });
      io.syncDir('/d');
      io.open('/d/f', 'write').write(Buffer.alloc(5000, 2), 800);
      io.powerCut(seededRandom(seed), 'torn');
      return readWholeFile(io, '/d/f');
    };
    expect(run(7).equals(run(7))).toBe(true);
    const lengths = new Set<number>();
    for (let seed = 0; seed < 20; seed++) lengths.add(run(seed).length);
    expect([...lengths].sort()).toEqual([1000, 5800]);
  });

  it('invalidates open handles; the disk behaves freshly booted', () => {
    const io = fresh();
    writeFile(io, '/d/f', Buffer.from('x'), { datasync: true });
    io.syncDir('/d');
    const h = io.open('/d/f', 'write');
    io.powerCut(drop, 'drop');
    expect(codeOf(() => h.write(Buffer.from('y'), 0))).toBe('EBADF');
    expect(codeOf(() => h.read(Buffer.alloc(1), 0, 1, 0))).toBe('EBADF');
    expect(codeOf(() => h.datasync())).toBe('EBADF');
    h.close(); // cleanup code may still close it
    const again = io.open('/d/f', 'write');
    again.write(Buffer.from('z'), 0);
    again.datasync();
    again.close();
    io.powerCut(drop, 'drop');
    expect(readWholeFile(io, '/d/f').toString()).toBe('z');
  });
});

describe('failure injection', () => {
  it('fails the next datasync with EIO, and the failed writes stay lost (fsyncgate)', () => {
    const io = fresh();
    writeFile(io, '/d/f', Buffer.from('aaaa'), { datasync: true });
    io.syncDir('/d');
    const h = io.open('/d/f', 'write');
    h.write(Buffer.from('bbbb'), 0);
    io.failNextDatasync();
    expect(codeOf(() => h.datasync())).toBe('EIO');
    // A retried fsync "succeeds", but writeback already dropped the pages: the data is not durable.
    h.datasync();
    expect(readWholeFile(io, '/d/f').toString()).toBe('bbbb');
    expect(readWholeFile(io.clone(), '/d/f').toString()).toBe('aaaa');
    // Writing the bytes again makes them durable on the next datasync.
    h.write(Buffer.from('cccc'), 0);
    h.datasync();
    expect(readWholeFile(io.clone(), '/d/f').toString()).toBe('cccc');
  });

  it('fails only the named file when given a path, with the given error', () => {
    const io = fresh();
    const a = io.open('/d/a', 'create');
    const b = io.open('/d/b', 'create');
    io.failNextDatasync(Object.assign(new Error('custom'), { code: 'EIO' }), '/d/b');
    a.datasync();
    expect(() => b.datasync()).toThrow('custom');
    b.datasync();
  });

  it('fails writes with ENOSPC after N more bytes, storing what fits', () => {
    const io = fresh();
    const h = io.open('/d/f', 'create');
    h.write(Buffer.from('0123'), 0);
    io.failWrites(6);
    expect(codeOf(() => h.write(Buffer.from('abcdefghij'), 4))).toBe('ENOSPC');
    expect(readWholeFile(io, '/d/f').toString()).toBe('0123abcdef');
    expect(codeOf(() => h.write(Buffer.from('x'), 0))).toBe('ENOSPC');
    expect(codeOf(() => h.writev([Buffer.from('x')], 0))).toBe('ENOSPC');
    io.failWrites(Infinity);
    h.write(Buffer.from('x'), 0);
    expect(readWholeFile(io, '/d/f').toString()).toBe('x123abcdef');
  });

  it('counts datasyncs, writes and bytes', () => {
    const io = fresh();
    const h = io.open('/d/f', 'create');
    h.write(Buffer.alloc(10), 0);
    h.writev([Buffer.alloc(3), Buffer.alloc(4)], 10);
    h.datasync();
    expect(io.stats()).toEqual({ datasyncs: 1, writes: 2, bytesWritten: 17, dirSyncs: 1 });
  });
});

describe('snapshot and clone', () => {
  it('clone() is the durable state, independent of the original', () => {
    const io = fresh();
    writeFile(io, '/d/f', Buffer.from('one'), { datasync: true });
    io.syncDir('/d');
    const h = io.open('/d/f', 'write');
    h.write(Buffer.from('two'), 0);
    const crashed = io.clone();
    expect(readWholeFile(crashed, '/d/f').toString()).toBe('one');
    // Many reopenings from one crash point.
    for (let i = 0; i < 3; i++) {
      const c = io.clone();
      c.open('/d/f', 'write').write(Buffer.from(`c${i}`), 0);
      expect(readWholeFile(c, '/d/f').toString()).toBe(`c${i}e`);
    }
    expect(readWholeFile(crashed, '/d/f').toString()).toBe('one');
    expect(readWholeFile(io, '/d/f').toString()).toBe('two');
    h.write(Buffer.from('3'), 0);
    h.datasync();
    expect(readWholeFile(crashed, '/d/f').toString()).toBe('one');
  });

  it('snapshot() copies current and durable state, so one crash point can be cut several ways', () => {
    const io = fresh();
    writeFile(io, '/d/f', Buffer.alloc(4096, 1), { datasync: true });
    io.syncDir('/d');
    io.open('/d/f', 'write').write(Buffer.alloc(4096, 2), 0);
    const snap = io.snapshot();
    expect(readWholeFile(snap, '/d/f')[0]).toBe(2);
    io.open('/d/f', 'write').write(Buffer.alloc(4096, 3), 0);
    expect(readWholeFile(snap, '/d/f')[0]).toBe(2);
    const torn = snap.clone({ rng: seededRandom(3), mode: 'torn' });
    expect(new Set(readWholeFile(torn, '/d/f'))).toEqual(new Set([1, 2]));
    snap.powerCut(drop, 'drop');
    expect(readWholeFile(snap, '/d/f')[0]).toBe(1);
  });
});

/** Wraps a simulated disk and records, after every operation, the disks a power cut at that point could leave. */
class CrashPoints implements FileIo {
  readonly sim: SimulatedFileIo;
  readonly disks: SimulatedFileIo[] = [];
  constructor(sim: SimulatedFileIo) {
    this.sim = sim;
    this.record();
  }
  record(): void {
    this.disks.push(this.sim.clone());
    for (let seed = 1; seed <= 8; seed++) this.disks.push(this.sim.clone({ rng: seededRandom(seed * 7919 + this.disks.length), mode: 'torn' }));
  }
  #after<T>(result: T): T {
    this.record();
    return result;
  }
  open(filePath: string, mode: OpenMode): FileHandle {
    const h = this.sim.open(filePath, mode);
    this.record();
    const self = this;
    return {
      path: h.path,
      write: (d, p) => self.#after(h.write(d, p)),
      writev: (b, p) => self.#after(h.writev(b, p)),
      read: (t, o, l, p) => h.read(t, o, l, p),
      datasync: () => self.#after(h.datasync()),
      truncate: (l) => self.#after(h.truncate(l)),
      size: () => h.size(),
      close: () => self.#after(h.close()),
    };
  }
  exists(p: string): boolean {
    return this.sim.exists(p);
  }
  rename(a: string, b: string): void {
    this.#after(this.sim.rename(a, b));
  }
  unlink(p: string): void {
    this.#after(this.sim.unlink(p));
  }
  mkdirp(p: string): void {
    this.#after(this.sim.mkdirp(p));
  }
  readdir(p: string): string[] {
    return this.sim.readdir(p);
  }
  syncDir(p: string): void {
    this.#after(this.sim.syncDir(p));
  }
}

describe('writeFileDurably under power cuts', () => {
  const oldContent = Buffer.alloc(3000, 'old-');
  const newContent = Buffer.alloc(5000, 'NEW!');

  function outcomes(disks: SimulatedFileIo[]): Set<string> {
    const seen = new Set<string>();
    for (const disk of disks) {
      if (!disk.exists('/d/meta.json')) {
        seen.add('absent');
        continue;
      }
      const got = readWholeFile(disk, '/d/meta.json');
      seen.add(got.equals(oldContent) ? 'old' : got.equals(newContent) ? 'new' : 'mix');
    }
    return seen;
  }

  it('leaves the old or the new content after a cut at any point, never a mix', () => {
    const sim = fresh();
    writeFileDurably(sim, '/d/meta.json', oldContent);
    const io = new CrashPoints(sim);
    writeFileDurably(io, '/d/meta.json', newContent);
    expect(io.disks.length).toBeGreaterThan(40);
    expect(outcomes(io.disks)).toEqual(new Set(['old', 'new']));
  });

  it('leaves nothing or the new content when there was no file', () => {
    const io = new CrashPoints(fresh());
    writeFileDurably(io, '/d/meta.json', newContent);
    expect(outcomes(io.disks)).toEqual(new Set(['absent', 'new']));
  });

  it('also survives a leftover temp file from an earlier crash', () => {
    const sim = fresh();
    writeFileDurably(sim, '/d/meta.json', oldContent);
    writeFile(sim, '/d/meta.json.tmp', Buffer.from('half'), { datasync: true });
    sim.syncDir('/d');
    const io = new CrashPoints(sim);
    writeFileDurably(io, '/d/meta.json', newContent);
    expect(outcomes(io.disks)).toEqual(new Set(['old', 'new']));
  });

  it('catches a writer that skips the datasync (control)', () => {
    const sim = fresh();
    writeFileDurably(sim, '/d/meta.json', oldContent);
    const io = new CrashPoints(sim);
    const h = io.open('/d/meta.json.tmp', 'create');
    h.write(newContent, 0);
    h.close();
    io.rename('/d/meta.json.tmp', '/d/meta.json');
    io.syncDir('/d');
    expect(outcomes(io.disks)).toContain('mix');
  });
});
