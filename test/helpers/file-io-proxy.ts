/**
 * A FileIo that delegates everything to another, for tests that need to watch or disturb one kind of call:
 * subclasses override `read` or `datasync` (the hooks get the file's path and its real handle).
 */
import { DelegatingFileIo, type FileHandle, type OpenMode } from '../../native-free-io/file-io.ts';

export class FileIoProxy extends DelegatingFileIo {
  protected read(_path: string, h: FileHandle, target: Uint8Array, offset: number, length: number, position: number): number {
    return h.read(target, offset, length, position);
  }

  protected datasync(_path: string, h: FileHandle): void {
    h.datasync();
  }

  override open(filePath: string, mode: OpenMode): FileHandle {
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
}
