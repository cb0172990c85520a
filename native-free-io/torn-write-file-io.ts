/**
 * A write-through `FileIo` wrapper that makes the process "die" at a chosen mutating call, for crash-at-every-
 * boundary tests. Under it sits any FileIo (a `SimulatedFileIo` in tests), which then holds exactly what the dead
 * process left behind: clone or snapshot it, power-cut it, reopen.
 *
 * Mutating calls are numbered from 0 in call order, counting only after `arm()`:
 *
 *   kind      what counts as one call
 *   create    open(path, 'create')  (a new directory entry)
 *   write     FileHandle.write
 *   writev    FileHandle.writev     (one syscall, however many buffers)
 *   datasync  FileHandle.datasync
 *   truncate  FileHandle.truncate
 *   rename    FileIo.rename
 *   unlink    FileIo.unlink
 *   mkdirp    FileIo.mkdirp
 *   syncDir   FileIo.syncDir
 *
 * With `crashAtOp: k`, calls 0..k-1 pass through; call k is where the process dies: it does not take effect,
 * except that a write (or writev) at k first lets its first `crashAfterBytes` bytes through, as a write cut short
 * by the crash would leave them in the page cache. Call k and every later mutating call then throw
 * {@link ProcessCrashedError} without effect. Reads, `size`, `exists`, `readdir`, opening for read or write and
 * `close` keep passing through, so that code still unwinding in the dead process (a writer looking up a stream
 * version, a reader) fails only where it would write: nothing it does after the crash point can reach the disk,
 * and no acknowledgement can be produced after it (every acknowledgement needs a later fdatasync).
 *
 * `crashAtOp: k` with k = the number of calls a run makes is "crash after the last call". Without `crashAtOp` the
 * wrapper only records: `ops` lists every armed call (kind, path, position, bytes), which is how a test learns
 * the boundaries of a run before replaying it once per boundary.
 */
import type { FileHandle, FileIo, OpenMode } from './file-io.ts';

export const MutatingOp = {
  create: 'create',
  write: 'write',
  writev: 'writev',
  datasync: 'datasync',
  truncate: 'truncate',
  rename: 'rename',
  unlink: 'unlink',
  mkdirp: 'mkdirp',
  syncDir: 'syncDir',
} as const;
export type MutatingOp = (typeof MutatingOp)[keyof typeof MutatingOp];

export interface RecordedOp {
  index: number;
  kind: MutatingOp;
  path: string;
  /** File position of a write, the new length of a truncate; -1 otherwise. */
  position: number;
  /** Bytes of a write or writev; 0 otherwise. */
  bytes: number;
}

export interface TornWriteOptions {
  /** The armed call index at which the process dies; undefined: never (record only). */
  crashAtOp?: number;
  /** For a write or writev at `crashAtOp`: how many of its bytes reach the file first (default 0). */
  crashAfterBytes?: number;
  /** Keep the list of armed calls in `ops` (default true). */
  record?: boolean;
}

/** Thrown by every mutating call from the crash point on: the process is dead, nothing more reaches the disk. */
export class ProcessCrashedError extends Error {
  override name = 'ProcessCrashedError';
  readonly code = 'ECRASHED';
  constructor(kind: MutatingOp, path: string, index: number) {
    super(`simulated process crash: ${kind} '${path}' (mutating call ${index}) and everything after it never happened`);
  }
}

export class TornWriteFileIo implements FileIo {
  readonly inner: FileIo;
  readonly #crashAtOp: number | undefined;
  readonly #crashAfterBytes: number;
  readonly #record: boolean;
  #armed = false;
  #next = 0;
  #crashed = false;
  readonly #ops: RecordedOp[] = [];

  constructor(inner: FileIo, options: TornWriteOptions = {}) {
    this.inner = inner;
    this.#crashAtOp = options.crashAtOp;
    this.#crashAfterBytes = options.crashAfterBytes ?? 0;
    this.#record = options.record ?? true;
    if (this.#crashAtOp !== undefined && !(Number.isInteger(this.#crashAtOp) && this.#crashAtOp >= 0)) {
      throw new RangeError(`crashAtOp must be a non-negative integer, got ${this.#crashAtOp}`);
    }
    if (!(Number.isInteger(this.#crashAfterBytes) && this.#crashAfterBytes >= 0)) {
      throw new RangeError(`crashAfterBytes must be a non-negative integer, got ${this.#crashAfterBytes}`);
    }
  }

  /** Starts numbering mutating calls (from 0). Calls before `arm()` pass through uncounted. */
  arm(): void {
    this.#armed = true;
    this.#next = 0;
  }

  /** True once the crash point has been reached. */
  get crashed(): boolean {
    return this.#crashed;
  }

  /** Armed calls made so far (including the one that crashed). */
  get opCount(): number {
    return this.#next;
  }

  get ops(): readonly RecordedOp[] {
    return this.#ops;
  }

  /**
   * Accounts for one mutating call. Returns how many bytes of it may go through: Infinity (all of it, the call
   * proceeds), or a prefix length for a write at the crash point, after which the caller must throw `crash`.
   */
  gate(kind: MutatingOp, path: string, position: number, bytes: number): { allow: number; crash?: ProcessCrashedError } {
    if (this.#crashed) return { allow: 0, crash: new ProcessCrashedError(kind, path, this.#next) };
    if (!this.#armed) return { allow: Infinity };
    const index = this.#next++;
    if (this.#record) this.#ops.push({ index, kind, path, position, bytes });
    if (index !== this.#crashAtOp) return { allow: Infinity };
    this.#crashed = true;
    const partial = kind === MutatingOp.write || kind === MutatingOp.writev ? Math.min(this.#crashAfterBytes, bytes) : 0;
    return { allow: partial, crash: new ProcessCrashedError(kind, path, index) };
  }

  #simple(kind: MutatingOp, path: string, run: () => void): void {
    const g = this.gate(kind, path, -1, 0);
    if (g.crash !== undefined) throw g.crash;
    run();
  }

  open(filePath: string, mode: OpenMode): FileHandle {
    if (mode === 'create') {
      const g = this.gate(MutatingOp.create, filePath, -1, 0);
      if (g.crash !== undefined) throw g.crash;
    }
    return new TornWriteFileHandle(this, this.inner.open(filePath, mode));
  }
  exists(filePath: string): boolean {
    return this.inner.exists(filePath);
  }
  rename(from: string, to: string): void {
    this.#simple(MutatingOp.rename, from, () => this.inner.rename(from, to));
  }
  unlink(filePath: string): void {
    this.#simple(MutatingOp.unlink, filePath, () => this.inner.unlink(filePath));
  }
  mkdirp(dirPath: string): void {
    this.#simple(MutatingOp.mkdirp, dirPath, () => this.inner.mkdirp(dirPath));
  }
  readdir(dirPath: string): string[] {
    return this.inner.readdir(dirPath);
  }
  syncDir(dirPath: string): void {
    this.#simple(MutatingOp.syncDir, dirPath, () => this.inner.syncDir(dirPath));
  }
}

class TornWriteFileHandle implements FileHandle {
  readonly path: string;
  readonly #io: TornWriteFileIo;
  readonly #h: FileHandle;
  constructor(io: TornWriteFileIo, h: FileHandle) {
    this.#io = io;
    this.#h = h;
    this.path = h.path;
  }
  write(data: Uint8Array, position: number): void {
    const g = this.#io.gate(MutatingOp.write, this.path, position, data.length);
    if (g.crash === undefined) return this.#h.write(data, position);
    if (g.allow > 0) this.#h.write(data.subarray(0, g.allow), position);
    throw g.crash;
  }
  writev(buffers: readonly Uint8Array[], position: number): void {
    let total = 0;
    for (const b of buffers) total += b.length;
    const g = this.#io.gate(MutatingOp.writev, this.path, position, total);
    if (g.crash === undefined) return this.#h.writev(buffers, position);
    let left = g.allow;
    const prefix: Uint8Array[] = [];
    for (const b of buffers) {
      if (left <= 0) break;
      prefix.push(b.subarray(0, Math.min(left, b.length)));
      left -= b.length;
    }
    if (prefix.length > 0) this.#h.writev(prefix, position);
    throw g.crash;
  }
  read(target: Uint8Array, offset: number, length: number, position: number): number {
    return this.#h.read(target, offset, length, position);
  }
  datasync(): void {
    const g = this.#io.gate(MutatingOp.datasync, this.path, -1, 0);
    if (g.crash !== undefined) throw g.crash;
    this.#h.datasync();
  }
  truncate(length: number): void {
    const g = this.#io.gate(MutatingOp.truncate, this.path, length, 0);
    if (g.crash !== undefined) throw g.crash;
    this.#h.truncate(length);
  }
  size(): number {
    return this.#h.size();
  }
  close(): void {
    this.#h.close();
  }
}
