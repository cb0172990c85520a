/**
 * The seam every storage byte goes through. Production uses {@link NodeFileIo} (synchronous `node:fs` calls,
 * made from worker threads); tests use `SimulatedFileIo` (simulated-file-io.ts), which keeps unsynced bytes apart
 * and can "lose power": drop them, or keep a torn part of them, as a real power cut would. kill -9 alone cannot
 * test this, because the kernel's page cache survives a process crash.
 *
 * Every method is synchronous: the bucket writer is a synchronous loop on its own thread (group commit falls out
 * of it), and readers do short positioned reads.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface FileHandle {
  readonly path: string;
  /** Writes all of `data` at `position` (a positioned write; it never moves a cursor). */
  write(data: Uint8Array, position: number): void;
  /** Writes the buffers back to back starting at `position`, as one `writev` where the platform allows. */
  writev(buffers: readonly Uint8Array[], position: number): void;
  /** Reads up to `length` bytes at `position` into `target[offset..]`; returns the count read (0 at end of file). */
  read(target: Uint8Array, offset: number, length: number, position: number): number;
  /** `fdatasync`: every byte written so far is durable when it returns. Throws on failure (never retried). */
  datasync(): void;
  /**
   * `fdatasync` on another thread (libuv's pool), so that one thread can have several files syncing at once; `done`
   * runs later on this thread's event loop. Optional: {@link startDatasync} falls back to `datasync`.
   */
  datasyncAsync?(done: (err: Error | null) => void): void;
  /** Sets the file length; bytes past the old end read as zeros. */
  truncate(length: number): void;
  size(): number;
  close(): void;
}

export type OpenMode =
  /** Existing file, read only. */
  | 'read'
  /** Existing file, read and write. */
  | 'write'
  /** New file, read and write; fails if it exists. */
  | 'create';

export interface FileIo {
  open(filePath: string, mode: OpenMode): FileHandle;
  exists(filePath: string): boolean;
  /** Atomic replace of `to` by `from`. */
  rename(from: string, to: string): void;
  unlink(filePath: string): void;
  mkdirp(dirPath: string): void;
  /** Names of a directory's entries, sorted. */
  readdir(dirPath: string): string[];
  /** fsync of a directory, so that a create or rename in it survives power loss. */
  syncDir(dirPath: string): void;
}

/** Reads a whole small file (meta.json, index headers) through the seam. */
export function readWholeFile(io: FileIo, filePath: string): Buffer {
  const handle = io.open(filePath, 'read');
  try {
    const size = handle.size();
    const out = Buffer.allocUnsafe(size);
    let done = 0;
    while (done < size) {
      const n = handle.read(out, done, size - done, done);
      if (n === 0) break;
      done += n;
    }
    return out.subarray(0, done);
  } finally {
    handle.close();
  }
}

/**
 * Writes a file so that it is either absent, the old version, or wholly the new one after a crash:
 * write a temp file, fdatasync it, rename it over the target, fsync the directory.
 */
export function writeFileDurably(io: FileIo, filePath: string, data: Uint8Array): void {
  const tmp = `${filePath}.tmp`;
  if (io.exists(tmp)) io.unlink(tmp);
  const handle = io.open(tmp, 'create');
  try {
    handle.write(data, 0);
    handle.datasync();
  } finally {
    handle.close();
  }
  io.rename(tmp, filePath);
  io.syncDir(path.dirname(filePath));
}

/**
 * Starts an fdatasync of `handle` that does not hold this thread: off-thread where the handle can
 * ({@link FileHandle.datasyncAsync}), else here and now. Either way `done` runs later, from the event loop, with the
 * failure or null. A failure is final, as with `datasync`: the caller must not retry it.
 */
export function startDatasync(handle: FileHandle, done: (err: Error | null) => void): void {
  if (handle.datasyncAsync !== undefined) {
    handle.datasyncAsync(done);
    return;
  }
  setImmediate(done, datasyncFailure(handle));
}

/** `handle.datasync()` here and now: its failure, or null once it succeeded. A failure is final (never retried). */
export function datasyncFailure(handle: FileHandle): Error | null {
  try {
    handle.datasync();
    return null;
  } catch (err) {
    return err as Error;
  }
}

/**
 * Creates a directory and its missing ancestors so that they survive power loss: after `mkdirp`, the parent of
 * every directory it created is fsynced (a new directory entry is durable only once its parent is synced).
 */
export function mkdirDurable(io: FileIo, dirPath: string): void {
  const created: string[] = [];
  for (let d = path.resolve(dirPath); !io.exists(d); d = path.dirname(d)) {
    created.push(d);
    if (path.dirname(d) === d) break;
  }
  if (created.length === 0) return;
  io.mkdirp(dirPath);
  for (const d of created) io.syncDir(path.dirname(d));
}

class NodeFileHandle implements FileHandle {
  readonly path: string;
  readonly #fd: number;
  constructor(filePath: string, fd: number) {
    this.path = filePath;
    this.#fd = fd;
  }
  write(data: Uint8Array, position: number): void {
    let done = 0;
    while (done < data.length) {
      done += fs.writeSync(this.#fd, data, done, data.length - done, position + done);
    }
  }
  writev(buffers: readonly Uint8Array[], position: number): void {
    if (buffers.length === 1) return this.write(buffers[0], position);
    let total = 0;
    for (const b of buffers) total += b.length;
    const written = fs.writevSync(this.#fd, buffers as Uint8Array[], position);
    if (written === total) return;
    // A short writev (rare: signals, huge batches) finishes buffer by buffer.
    let skip = written;
    let pos = position + written;
    for (const b of buffers) {
      if (skip >= b.length) {
        skip -= b.length;
        continue;
      }
      const rest = b.subarray(skip);
      skip = 0;
      this.write(rest, pos);
      pos += rest.length;
    }
  }
  read(target: Uint8Array, offset: number, length: number, position: number): number {
    return fs.readSync(this.#fd, target, offset, length, position);
  }
  datasync(): void {
    fs.fdatasyncSync(this.#fd);
  }
  datasyncAsync(done: (err: Error | null) => void): void {
    fs.fdatasync(this.#fd, done);
  }
  truncate(length: number): void {
    fs.ftruncateSync(this.#fd, length);
  }
  size(): number {
    return fs.fstatSync(this.#fd).size;
  }
  close(): void {
    fs.closeSync(this.#fd);
  }
}

export class NodeFileIo implements FileIo {
  open(filePath: string, mode: OpenMode): FileHandle {
    const flags = mode === 'read' ? 'r' : mode === 'write' ? 'r+' : 'wx+';
    return new NodeFileHandle(filePath, fs.openSync(filePath, flags, 0o644));
  }
  exists(filePath: string): boolean {
    return fs.existsSync(filePath);
  }
  rename(from: string, to: string): void {
    fs.renameSync(from, to);
  }
  unlink(filePath: string): void {
    fs.unlinkSync(filePath);
  }
  mkdirp(dirPath: string): void {
    fs.mkdirSync(dirPath, { recursive: true });
  }
  readdir(dirPath: string): string[] {
    return fs.readdirSync(dirPath).sort();
  }
  syncDir(dirPath: string): void {
    const fd = fs.openSync(dirPath, 'r');
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  }
}

export const nodeFileIo: FileIo = new NodeFileIo();

/**
 * A FileIo that passes every call to `inner`: the base of seams that change one kind of call (PooledReadFileIo
 * shares read descriptors; tests watch or disturb reads and syncs) and override just that.
 */
export class DelegatingFileIo implements FileIo {
  readonly inner: FileIo;

  constructor(inner: FileIo) {
    this.inner = inner;
  }

  open(filePath: string, mode: OpenMode): FileHandle {
    return this.inner.open(filePath, mode);
  }
  exists(filePath: string): boolean {
    return this.inner.exists(filePath);
  }
  rename(from: string, to: string): void {
    this.inner.rename(from, to);
  }
  unlink(filePath: string): void {
    this.inner.unlink(filePath);
  }
  mkdirp(dirPath: string): void {
    this.inner.mkdirp(dirPath);
  }
  readdir(dirPath: string): string[] {
    return this.inner.readdir(dirPath);
  }
  syncDir(dirPath: string): void {
    this.inner.syncDir(dirPath);
  }
}
