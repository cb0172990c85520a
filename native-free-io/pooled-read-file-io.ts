/**
 * Bounded file descriptors for read-only files. Every sealed segment keeps four files open for positioned reads
 * (data and three indexes) in every thread that reads it, so descriptors would grow with the store: a terabyte of
 * 256 MiB segments is 16,000 descriptors per thread. This FileIo hands out virtual read-only handles that share a
 * pool of at most `descriptorsMax` real ones: a read takes the file's descriptor from the pool (opening it, and
 * closing the least recently used one, when it is not there). Writable opens pass straight through.
 *
 * Files read through it must not be replaced under the same path while open elsewhere with other contents in
 * mind; in this store sealed files are immutable and a data file only grows, so a reopened descriptor reads the
 * same bytes.
 */
import { DelegatingFileIo, type FileHandle, type FileIo, type OpenMode } from './file-io.ts';

class DescriptorPool {
  readonly #io: FileIo;
  readonly #max: number;
  /** Open real handles by path, least recently used first (Map insertion order). */
  readonly #open = new Map<string, FileHandle>();
  opens = 0;

  constructor(io: FileIo, max: number) {
    this.#io = io;
    this.#max = max;
  }

  get openCount(): number {
    return this.#open.size;
  }

  acquire(path: string): FileHandle {
    let h = this.#open.get(path);
    if (h !== undefined) {
      this.#open.delete(path);
      this.#open.set(path, h);
      return h;
    }
    // Make room first, so that the pool never holds more than `max` descriptors, even for a moment.
    if (this.#open.size >= this.#max) {
      const [oldestPath, oldest] = this.#open.entries().next().value as [string, FileHandle];
      this.#open.delete(oldestPath);
      oldest.close();
    }
    h = this.#io.open(path, 'read');
    this.opens++;
    this.#open.set(path, h);
    return h;
  }

  /** Closes the real handle of `path` if no other virtual handle still uses it. */
  release(path: string, users: number): void {
    if (users > 0) return;
    const h = this.#open.get(path);
    if (h === undefined) return;
    this.#open.delete(path);
    h.close();
  }
}

class VirtualReadHandle implements FileHandle {
  readonly path: string;
  readonly #owner: PooledReadFileIo;
  #closed = false;
  constructor(owner: PooledReadFileIo, path: string) {
    this.#owner = owner;
    this.path = path;
  }
  #real(): FileHandle {
    if (this.#closed) throw Object.assign(new Error(`EBADF: file is closed, read '${this.path}'`), { code: 'EBADF' });
    return this.#owner.pool.acquire(this.path);
  }
  read(target: Uint8Array, offset: number, length: number, position: number): number {
    return this.#real().read(target, offset, length, position);
  }
  size(): number {
    return this.#real().size();
  }
  write(): void {
    throw new Error(`${this.path} is open read-only`);
  }
  writev(): void {
    throw new Error(`${this.path} is open read-only`);
  }
  datasync(): void {
    throw new Error(`${this.path} is open read-only`);
  }
  truncate(): void {
    throw new Error(`${this.path} is open read-only`);
  }
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#owner.released(this.path);
  }
}

export class PooledReadFileIo extends DelegatingFileIo {
  readonly pool: DescriptorPool;
  /** Virtual handles open per path, so a descriptor is closed early only when nobody uses the file. */
  readonly #users = new Map<string, number>();

  constructor(inner: FileIo, descriptorsMax: number) {
    if (!(descriptorsMax >= 1)) throw new RangeError('descriptorsMax must be at least 1');
    super(inner);
    this.pool = new DescriptorPool(inner, descriptorsMax);
  }

  override open(filePath: string, mode: OpenMode): FileHandle {
    if (mode !== 'read') return this.inner.open(filePath, mode);
    // Open once now, so that a missing file fails here (ENOENT) as with a plain open.
    this.pool.acquire(filePath);
    this.#users.set(filePath, (this.#users.get(filePath) ?? 0) + 1);
    return new VirtualReadHandle(this, filePath);
  }

  released(filePath: string): void {
    const users = (this.#users.get(filePath) ?? 1) - 1;
    if (users === 0) this.#users.delete(filePath);
    else this.#users.set(filePath, users);
    this.pool.release(filePath, users);
  }
}

/** Real descriptors per thread for read-only files (sealed segments and the active segment's readers). */
export const READ_DESCRIPTORS_PER_THREAD = 256;
