/**
 * An in-memory `FileIo` that can lose power, for crash tests. kill -9 cannot test durability (the kernel's page
 * cache outlives the process); this can.
 *
 * The model, per file (an inode, so a renamed or unlinked file keeps its data for open handles):
 *   - current contents: what reads see, as the page cache would;
 *   - durable contents: what survives a power cut. `datasync()` makes the current contents (and length) durable.
 * Per directory: which names exist now, and which are durable. A create, rename or unlink changes only the
 * current view; `syncDir(dir)` makes the current entries of `dir` (files and subdirectories) durable. A directory
 * made by `mkdirp` survives only if its parent was synced after it; a durable entry in a lost directory is lost too.
 *
 * `powerCut(rng, mode)` reboots the disk: every surviving name refers to its inode's durable contents. With 'torn',
 * each 512-byte sector that differs between a file's current and durable contents is kept new or reverted to old at
 * random, and a changed length is kept or reverted at random, as a disk that wrote part of its cache would. Open
 * handles throw EBADF afterwards (except `close`, a no-op, so cleanup code can run).
 *
 * Failure injection, for fsyncgate and full-disk tests:
 *   - `failNextDatasync(error)`: the next `datasync` throws (EIO by default). As in Linux since 4.13, the writes it
 *     failed to persist are then forgotten by writeback: a later successful `datasync` does not make them durable
 *     unless they are written again, while reads still see them. Retrying fsync is therefore wrong, and a test can
 *     see that.
 *   - `failWrites(afterBytes)`: after `afterBytes` more bytes, a write stores what fits and throws ENOSPC; every
 *     later write throws ENOSPC at once. `failWrites(Infinity)` lifts it.
 * A power cut clears both.
 *
 * Files are sparse maps of 4 KiB pages shared copy-on-write between the current and durable views (and between a
 * `snapshot()` and its origin), so a segment file created at its full size costs only the pages written.
 *
 * Errors look like Node's: an Error with `code` ('ENOENT', 'EEXIST', 'EISDIR', 'ENOTDIR', 'EBADF', 'EIO',
 * 'ENOSPC'), `syscall` and `path`.
 */
import { posix } from 'node:path';
import type { FileHandle, FileIo, OpenMode } from './file-io.ts';

export const SIMULATED_PAGE_BYTES = 4096;
export const SIMULATED_SECTOR_BYTES = 512;

export type PowerCutMode = 'drop' | 'torn';

export interface SimulatedFileIoStats {
  datasyncs: number;
  writes: number;
  bytesWritten: number;
  dirSyncs: number;
}

const errorText = {
  ENOENT: 'no such file or directory',
  EEXIST: 'file already exists',
  EISDIR: 'illegal operation on a directory',
  ENOTDIR: 'not a directory',
  EBADF: 'bad file descriptor',
  EIO: 'i/o error',
  ENOSPC: 'no space left on device',
  EINVAL: 'invalid argument',
} as const;
type ErrorCode = keyof typeof errorText;
const errnoOf: Record<ErrorCode, number> = { ENOENT: -2, EEXIST: -17, EISDIR: -21, ENOTDIR: -20, EBADF: -9, EIO: -5, ENOSPC: -28, EINVAL: -22 };

/** An Error shaped like the ones `node:fs` throws. */
export function simulatedFsError(code: ErrorCode, syscall: string, filePath?: string, detail?: string): NodeJS.ErrnoException {
  const where = filePath === undefined ? '' : ` '${filePath}'`;
  const error: NodeJS.ErrnoException = new Error(`${code}: ${errorText[code]}, ${syscall}${where}${detail ? ` (${detail})` : ''}`);
  error.code = code;
  error.errno = errnoOf[code];
  error.syscall = syscall;
  if (filePath !== undefined) error.path = filePath;
  return error;
}

/** A small seeded PRNG (mulberry32) for replayable power cuts: `powerCut(seededRandom(seed), 'torn')`. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A file's bytes: a length, and the pages that are not all zeros. Bytes at or past `size` are always zero. */
interface Contents {
  size: number;
  pages: Map<number, Uint8Array>;
}

class Inode {
  current: Contents;
  durable: Contents;
  /** Pages whose writeback failed in a failed datasync (fsyncgate); rewriting a page takes it off the list. */
  lostPages = new Set<number>();
  constructor(current: Contents, durable: Contents) {
    this.current = current;
    this.durable = durable;
  }
}

const emptyContents = (): Contents => ({ size: 0, pages: new Map() });

function zeroTail(contents: Contents, shared: Map<number, Uint8Array>): void {
  const size = contents.size;
  for (const idx of contents.pages.keys()) {
    if (idx * SIMULATED_PAGE_BYTES >= size) contents.pages.delete(idx);
  }
  const lastIdx = Math.floor(size / SIMULATED_PAGE_BYTES);
  const within = size % SIMULATED_PAGE_BYTES;
  const last = contents.pages.get(lastIdx);
  if (within !== 0 && last !== undefined) {
    const page = last === shared.get(lastIdx) ? last.slice() : last;
    page.fill(0, within);
    contents.pages.set(lastIdx, page);
  }
}

function sectorDiffers(a: Uint8Array | undefined, b: Uint8Array | undefined, start: number): boolean {
  for (let i = start; i < start + SIMULATED_SECTOR_BYTES; i++) {
    if ((a === undefined ? 0 : a[i]) !== (b === undefined ? 0 : b[i])) return true;
  }
  return false;
}

/** What a disk that wrote a random part of its cache holds: each differing sector old or new, the length either. */
function tornContents(inode: Inode, rng: () => number): Contents {
  const cur = inode.current;
  const dur = inode.durable;
  const size = cur.size === dur.size ? cur.size : rng() < 0.5 ? dur.size : cur.size;
  const indices = [...new Set([...cur.pages.keys(), ...dur.pages.keys()])].sort((a, b) => a - b);
  const pages = new Map<number, Uint8Array>();
  for (const idx of indices) {
    const c = cur.pages.get(idx);
    const d = dur.pages.get(idx);
    if (c === d) {
      if (d !== undefined) pages.set(idx, d);
      continue;
    }
    const page = d === undefined ? new Uint8Array(SIMULATED_PAGE_BYTES) : d.slice();
    for (let start = 0; start < SIMULATED_PAGE_BYTES; start += SIMULATED_SECTOR_BYTES) {
      if (!sectorDiffers(c, d, start)) continue;
      if (rng() < 0.5) {
        if (c === undefined) page.fill(0, start, start + SIMULATED_SECTOR_BYTES);
        else page.set(c.subarray(start, start + SIMULATED_SECTOR_BYTES), start);
      }
    }
    pages.set(idx, page);
  }
  const out = { size, pages };
  zeroTail(out, dur.pages);
  return out;
}

const parentOf = (p: string): string => posix.dirname(p);
const isRoot = (p: string): boolean => posix.dirname(p) === p;

function normalize(p: string): string {
  let n = posix.normalize(p);
  while (n.length > 1 && n.endsWith('/')) n = n.slice(0, -1);
  return n;
}

class SimulatedFileHandle implements FileHandle {
  readonly path: string;
  readonly #io: SimulatedFileIo;
  readonly #inode: Inode;
  readonly #writable: boolean;
  readonly #epoch: number;
  #closed = false;

  constructor(io: SimulatedFileIo, inode: Inode, filePath: string, writable: boolean, epoch: number) {
    this.#io = io;
    this.#inode = inode;
    this.path = filePath;
    this.#writable = writable;
    this.#epoch = epoch;
  }

  #check(syscall: string, write: boolean): void {
    if (this.#closed) throw simulatedFsError('EBADF', syscall, this.path, 'handle is closed');
    if (this.#epoch !== this.#io.epoch) throw simulatedFsError('EBADF', syscall, this.path, 'handle was opened before a power cut');
    if (write && !this.#writable) throw simulatedFsError('EBADF', syscall, this.path, 'handle is read only');
  }

  write(data: Uint8Array, position: number): void {
    this.#check('write', true);
    this.#io.countWrite();
    this.#io.writeBytes(this.#inode, this.path, data, position);
  }

  writev(buffers: readonly Uint8Array[], position: number): void {
    this.#check('writev', true);
    this.#io.countWrite();
    let pos = position;
    for (const b of buffers) {
      this.#io.writeBytes(this.#inode, this.path, b, pos);
      pos += b.length;
    }
  }

  read(target: Uint8Array, offset: number, length: number, position: number): number {
    this.#check('read', false);
    const contents = this.#inode.current;
    if (position >= contents.size || length <= 0) return 0;
    const n = Math.min(length, contents.size - position, target.length - offset);
    let done = 0;
    while (done < n) {
      const at = position + done;
      const idx = Math.floor(at / SIMULATED_PAGE_BYTES);
      const within = at % SIMULATED_PAGE_BYTES;
      const chunk = Math.min(n - done, SIMULATED_PAGE_BYTES - within);
      const page = contents.pages.get(idx);
      if (page === undefined) target.fill(0, offset + done, offset + done + chunk);
      else target.set(page.subarray(within, within + chunk), offset + done);
      done += chunk;
    }
    return n;
  }

  datasync(): void {
    this.#check('fdatasync', false);
    this.#io.datasyncInode(this.#inode, this.path);
  }

  truncate(length: number): void {
    this.#check('ftruncate', true);
    if (!Number.isSafeInteger(length) || length < 0) throw simulatedFsError('EINVAL', 'ftruncate', this.path);
    const contents = this.#inode.current;
    contents.size = length;
    zeroTail(contents, this.#inode.durable.pages);
  }

  size(): number {
    this.#check('fstat', false);
    return this.#inode.current.size;
  }

  close(): void {
    if (this.#epoch !== this.#io.epoch) return;
    if (this.#closed) throw simulatedFsError('EBADF', 'close', this.path, 'handle is already closed');
    this.#closed = true;
  }
}

export class SimulatedFileIo implements FileIo {
  /** Bumped by every power cut; handles from an older epoch are dead. */
  #epoch = 0;
  #files = new Map<string, Inode>();
  #durableFiles = new Map<string, Inode>();
  #dirs = new Set<string>();
  #durableDirs = new Set<string>();
  #stats: SimulatedFileIoStats = { datasyncs: 0, writes: 0, bytesWritten: 0, dirSyncs: 0 };
  #failDatasync: { error: Error; filePath: string | undefined } | undefined;
  #writeBytesLeft = Infinity;

  // ---- FileIo ----

  open(filePath: string, mode: OpenMode): FileHandle {
    const p = normalize(filePath);
    if (this.#dirExists(p)) throw simulatedFsError('EISDIR', 'open', filePath);
    let inode = this.#files.get(p);
    if (mode === 'create') {
      if (inode !== undefined) throw simulatedFsError('EEXIST', 'open', filePath);
      this.#requireParent(p, 'open', filePath);
      inode = new Inode(emptyContents(), emptyContents());
      this.#files.set(p, inode);
    } else if (inode === undefined) {
      throw simulatedFsError('ENOENT', 'open', filePath);
    }
    return new SimulatedFileHandle(this, inode, filePath, mode !== 'read', this.#epoch);
  }

  exists(filePath: string): boolean {
    const p = normalize(filePath);
    return this.#files.has(p) || this.#dirExists(p);
  }

  rename(from: string, to: string): void {
    const f = normalize(from);
    const t = normalize(to);
    const inode = this.#files.get(f);
    if (inode === undefined) {
      if (this.#dirExists(f)) throw simulatedFsError('EINVAL', 'rename', from, 'SimulatedFileIo renames files only');
      throw simulatedFsError('ENOENT', 'rename', from);
    }
    if (this.#dirExists(t)) throw simulatedFsError('EISDIR', 'rename', to);
    this.#requireParent(t, 'rename', to);
    this.#files.delete(f);
    this.#files.set(t, inode);
  }

  unlink(filePath: string): void {
    const p = normalize(filePath);
    if (this.#files.delete(p)) return;
    throw simulatedFsError(this.#dirExists(p) ? 'EISDIR' : 'ENOENT', 'unlink', filePath);
  }

  mkdirp(dirPath: string): void {
    const p = normalize(dirPath);
    const chain: string[] = [];
    for (let d = p; !isRoot(d); d = parentOf(d)) chain.unshift(d);
    for (const d of chain) {
      if (this.#files.has(d)) throw simulatedFsError('ENOTDIR', 'mkdir', dirPath);
      this.#dirs.add(d);
    }
  }

  readdir(dirPath: string): string[] {
    const p = normalize(dirPath);
    if (this.#files.has(p)) throw simulatedFsError('ENOTDIR', 'scandir', dirPath);
    if (!this.#dirExists(p)) throw simulatedFsError('ENOENT', 'scandir', dirPath);
    const names: string[] = [];
    for (const f of this.#files.keys()) if (parentOf(f) === p && f !== p) names.push(posix.basename(f));
    for (const d of this.#dirs) if (parentOf(d) === p) names.push(posix.basename(d));
    return names.sort();
  }

  syncDir(dirPath: string): void {
    const p = normalize(dirPath);
    if (!this.#dirExists(p)) throw simulatedFsError('ENOENT', 'open', dirPath);
    this.#stats.dirSyncs++;
    for (const [f, inode] of this.#files) if (parentOf(f) === p && f !== p) this.#durableFiles.set(f, inode);
    for (const f of [...this.#durableFiles.keys()]) if (parentOf(f) === p && !this.#files.has(f)) this.#durableFiles.delete(f);
    for (const d of this.#dirs) if (parentOf(d) === p) this.#durableDirs.add(d);
    for (const d of [...this.#durableDirs]) if (parentOf(d) === p && !this.#dirs.has(d)) this.#durableDirs.delete(d);
  }

  // ---- simulation ----

  /**
   * Loses power and boots again. Every file reverts to its durable contents ('drop') or to a random sector-wise mix
   * of durable and current ('torn', using `rng`); names and directories revert to their durable view.
   */
  powerCut(rng: () => number, mode: PowerCutMode): void {
    this.#epoch++;
    const dirs = new Set<string>();
    for (const d of [...this.#durableDirs].sort((a, b) => a.length - b.length)) {
      const parent = parentOf(d);
      if (isRoot(parent) || dirs.has(parent)) dirs.add(d);
    }
    const files = new Map<string, Inode>();
    const rebooted = new Set<Inode>();
    for (const f of [...this.#durableFiles.keys()].sort()) {
      const parent = parentOf(f);
      if (!isRoot(parent) && !dirs.has(parent)) continue;
      const inode = this.#durableFiles.get(f)!;
      files.set(f, inode);
      if (rebooted.has(inode)) continue;
      rebooted.add(inode);
      const after = mode === 'torn' ? tornContents(inode, rng) : inode.durable;
      inode.durable = after;
      inode.current = { size: after.size, pages: new Map(after.pages) };
      inode.lostPages = new Set();
    }
    this.#files = files;
    this.#durableFiles = new Map(files);
    this.#dirs = dirs;
    this.#durableDirs = new Set(dirs);
    this.#failDatasync = undefined;
    this.#writeBytesLeft = Infinity;
  }

  /** The next `datasync` (of `filePath` only, if given) throws `error`, and its writes are lost to writeback. */
  failNextDatasync(error: Error = simulatedFsError('EIO', 'fdatasync'), filePath?: string): void {
    this.#failDatasync = { error, filePath: filePath === undefined ? undefined : normalize(filePath) };
  }

  /** After `afterBytes` more bytes, writes fail with ENOSPC (the write that crosses the limit stores what fits). */
  failWrites(afterBytes: number): void {
    if (!(afterBytes >= 0)) throw new RangeError(`afterBytes must be >= 0, got ${afterBytes}`);
    this.#writeBytesLeft = afterBytes;
  }

  stats(): SimulatedFileIoStats {
    return { ...this.#stats };
  }

  /**
   * An independent copy of everything: current and durable state of every file and directory (no handles, fresh
   * stats, no failure injection). Power-cut the copy to explore one crash point several ways.
   */
  snapshot(): SimulatedFileIo {
    const copy = new SimulatedFileIo();
    const inodes = new Map<Inode, Inode>();
    const mapInode = (inode: Inode): Inode => {
      let c = inodes.get(inode);
      if (c === undefined) {
        const durable = { size: inode.durable.size, pages: new Map(inode.durable.pages) };
        const pages = new Map<number, Uint8Array>();
        for (const [idx, page] of inode.current.pages) pages.set(idx, page === durable.pages.get(idx) ? page : page.slice());
        c = new Inode({ size: inode.current.size, pages }, durable);
        c.lostPages = new Set(inode.lostPages);
        inodes.set(inode, c);
      }
      return c;
    };
    for (const [f, inode] of this.#files) copy.#files.set(f, mapInode(inode));
    for (const [f, inode] of this.#durableFiles) copy.#durableFiles.set(f, mapInode(inode));
    copy.#dirs = new Set(this.#dirs);
    copy.#durableDirs = new Set(this.#durableDirs);
    return copy;
  }

  /**
   * A new disk holding what would survive a power cut now (by default 'drop': exactly the durable state); this
   * one is untouched, so a test can reopen many times from one crash point.
   */
  clone(cut: { rng: () => number; mode: PowerCutMode } = { rng: () => 0, mode: 'drop' }): SimulatedFileIo {
    const copy = this.snapshot();
    copy.powerCut(cut.rng, cut.mode);
    return copy;
  }

  // ---- used by SimulatedFileHandle (not part of the API) ----

  get epoch(): number {
    return this.#epoch;
  }

  countWrite(): void {
    this.#stats.writes++;
  }

  writeBytes(inode: Inode, filePath: string, data: Uint8Array, position: number): void {
    const fits = Math.min(data.length, this.#writeBytesLeft);
    this.#writeBytesLeft -= fits;
    const contents = inode.current;
    const durablePages = inode.durable.pages;
    let done = 0;
    while (done < fits) {
      const at = position + done;
      const idx = Math.floor(at / SIMULATED_PAGE_BYTES);
      const within = at % SIMULATED_PAGE_BYTES;
      const chunk = Math.min(fits - done, SIMULATED_PAGE_BYTES - within);
      let page = contents.pages.get(idx);
      if (page === undefined) page = new Uint8Array(SIMULATED_PAGE_BYTES);
      else if (page === durablePages.get(idx)) page = page.slice();
      page.set(data.subarray(done, done + chunk), within);
      contents.pages.set(idx, page);
      inode.lostPages.delete(idx);
      done += chunk;
    }
    if (fits > 0) contents.size = Math.max(contents.size, position + fits);
    this.#stats.bytesWritten += fits;
    if (fits < data.length) throw simulatedFsError('ENOSPC', 'write', filePath);
  }

  datasyncInode(inode: Inode, filePath: string): void {
    this.#stats.datasyncs++;
    const fail = this.#failDatasync;
    if (fail !== undefined && (fail.filePath === undefined || fail.filePath === normalize(filePath))) {
      this.#failDatasync = undefined;
      for (const [idx, page] of inode.current.pages) if (page !== inode.durable.pages.get(idx)) inode.lostPages.add(idx);
      throw fail.error;
    }
    const pages = new Map(inode.current.pages);
    for (const idx of inode.lostPages) {
      const old = inode.durable.pages.get(idx);
      if (old === undefined) pages.delete(idx);
      else pages.set(idx, old);
    }
    const durable = { size: inode.current.size, pages };
    if (inode.lostPages.size > 0) zeroTail(durable, inode.durable.pages);
    inode.durable = durable;
    inode.lostPages = new Set();
  }

  #dirExists(p: string): boolean {
    return isRoot(p) || this.#dirs.has(p);
  }

  #requireParent(p: string, syscall: string, filePath: string): void {
    const parent = parentOf(p);
    if (this.#files.has(parent)) throw simulatedFsError('ENOTDIR', syscall, filePath);
    if (!this.#dirExists(parent)) throw simulatedFsError('ENOENT', syscall, filePath);
  }
}
