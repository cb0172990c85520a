/**
 * A read-only view of a data directory as the next open will see it once its commit logs are replayed
 * (src/engine/commit-log.ts): reads of a segment data file return the logged entries' bytes where they lie over
 * it. `sierradb verify` checks through it, so that a round acknowledged through the log but not yet in its segment
 * file (after a power cut) is not reported as damage; it never writes a data file itself.
 */
import { DelegatingFileIo, type FileHandle, type FileIo, type OpenMode } from '../../native-free-io/file-io.ts';
import { DATA_FILE, segmentFile } from '../../native-free-io/data-layout.ts';
import type { LogEntry } from '../../native-free-io/commit-log-format.ts';

export class ReplayedFileIo extends DelegatingFileIo {
  /** Entries by the path of the data file they belong to, in replay order. */
  readonly #entries = new Map<string, LogEntry[]>();

  constructor(io: FileIo, dir: string, entries: readonly LogEntry[]) {
    super(io);
    for (const e of entries) {
      const p = segmentFile(dir, e.bucketId, e.segmentId, DATA_FILE);
      let list = this.#entries.get(p);
      if (list === undefined) this.#entries.set(p, (list = []));
      list.push(e);
    }
  }

  override open(filePath: string, mode: OpenMode): FileHandle {
    const handle = this.inner.open(filePath, mode);
    const entries = this.#entries.get(filePath);
    if (entries === undefined) return handle;
    if (mode !== 'read') {
      handle.close();
      readOnly(filePath);
    }
    return {
      path: handle.path,
      read(target: Uint8Array, offset: number, length: number, position: number): number {
        const n = handle.read(target, offset, length, position);
        const end = position + Math.max(n, 0);
        for (const e of entries) {
          const from = Math.max(position, e.offset);
          const to = Math.min(end, e.offset + e.bytes.length);
          if (from < to) target.set(e.bytes.subarray(from - e.offset, to - e.offset), offset + (from - position));
        }
        return n;
      },
      size: () => handle.size(),
      close: () => handle.close(),
      write: () => readOnly(filePath),
      writev: () => readOnly(filePath),
      datasync: () => readOnly(filePath),
      truncate: () => readOnly(filePath),
    };
  }
}

function readOnly(filePath: string): never {
  throw new Error(`${filePath} is seen through its commit log entries: read only`);
}
