/**
 * A FileIo that delegates everything to another, for tests that need to watch or disturb one kind of call:
 * subclasses override `read` or `datasync` (the hooks get the file's path and its real handle).
 */
import type { FileHandle, FileIo, OpenMode } from '../../native-free-io/file-io.ts';

export class FileIoProxy implements FileIo {
  readonly inner: FileIo;

  constructor(inner: FileIo) {
    this.inner = inner;
  }

  protected read(_path: string, h: FileHandle, target: Uint8Array, offset: number, length: number, position: number): number {
    return h.read(target, offset, length, position);
  }

  protected datasync(_path: string, h: FileHandle): void {
    h.datasync();
  }

  open(filePath: string, mode: OpenMode): FileHandle {
    const h = this.inner.open(filePath, mode);
    return {
      path: h.path,
      write: (d, p) => h.write(d, p),
      writev: (b, p) => h.writev(b, p),
      read: (t, o, l, p) => this.read(filePath, h, t, o, l, p),
      datasync: () => this.datasync(filePath, h),
      truncate: (n) => h.truncate(n),
      size: () => h.size(),
      close: () => h.close(),
    };
  }
  exists(p: string): boolean {
    return this.inner.exists(p);
  }
  rename(a: string, b: string): void {
    this.inner.rename(a, b);
  }
  unlink(p: string): void {
    this.inner.unlink(p);
  }
  mkdirp(p: string): void {
    this.inner.mkdirp(p);
  }
  readdir(p: string): string[] {
    return this.inner.readdir(p);
  }
  syncDir(p: string): void {
    this.inner.syncDir(p);
  }
}
