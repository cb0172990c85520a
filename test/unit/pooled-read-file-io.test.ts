import { expect, it } from 'vitest';
import { PooledReadFileIo } from '../../native-free-io/pooled-read-file-io.ts';
import { SimulatedFileIo } from '../../native-free-io/simulated-file-io.ts';
import type { FileHandle, FileIo, OpenMode } from '../../native-free-io/file-io.ts';

/** Counts real handles open at once. */
class CountingIo extends SimulatedFileIo {
  openNow = 0;
  openMax = 0;
  override open(filePath: string, mode: OpenMode): FileHandle {
    const h = super.open(filePath, mode);
    this.openNow++;
    this.openMax = Math.max(this.openMax, this.openNow);
    const close = h.close.bind(h);
    h.close = () => {
      this.openNow--;
      close();
    };
    return h;
  }
}

function fill(io: FileIo, path: string, byte: number): void {
  const h = io.open(path, 'create');
  h.write(Buffer.alloc(100, byte), 0);
  h.close();
}

it('reads many files through at most descriptorsMax real handles, with the right bytes', () => {
  const sim = new CountingIo();
  sim.mkdirp('/d');
  for (let i = 0; i < 20; i++) fill(sim, `/d/f${i}`, i);
  sim.openMax = 0;
  const io = new PooledReadFileIo(sim, 3);
  const handles = Array.from({ length: 20 }, (_, i) => io.open(`/d/f${i}`, 'read'));
  const buf = Buffer.alloc(10);
  for (let round = 0; round < 5; round++) {
    for (let i = 0; i < 20; i++) {
      const j = (i * 7 + round) % 20;
      expect(handles[j].read(buf, 0, 10, 50)).toBe(10);
      expect(buf.every((b) => b === j)).toBe(true);
      expect(handles[j].size()).toBe(100);
    }
  }
  expect(sim.openMax).toBeLessThanOrEqual(3);
  for (const h of handles) h.close();
  expect(sim.openNow).toBe(0);
  expect(() => handles[0].read(buf, 0, 1, 0)).toThrow(/closed/);
});

it('fails a missing file at open, and passes writable opens through', () => {
  const sim = new SimulatedFileIo();
  sim.mkdirp('/d');
  const io = new PooledReadFileIo(sim, 2);
  expect(() => io.open('/d/missing', 'read')).toThrow();
  const w = io.open('/d/new', 'create');
  w.write(Buffer.from('abc'), 0);
  w.close();
  const r = io.open('/d/new', 'read');
  expect(() => r.write(Buffer.from('x'), 0)).toThrow(/read-only/);
  const out = Buffer.alloc(3);
  r.read(out, 0, 3, 0);
  expect(out.toString()).toBe('abc');
  r.close();
});
