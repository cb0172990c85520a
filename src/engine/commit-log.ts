/**
 * A write worker's commit log: two files used in turn (<dir>/commit-log/writer-<n>-<0|1>.log, format in
 * native-free-io/commit-log-format.ts). A group-commit round that touches several buckets writes their batches
 * into their segment files without syncing them, appends one entry per bucket here, and makes the round durable
 * with this log's single fdatasync (group-commit.ts). The segment files are synced later, by a checkpoint, before
 * a log file is written over.
 *
 * This file keeps the log's files, epochs and positions; which file may be reused is decided by the checkpoints
 * that GroupCommit runs. {@link replayCommitLogs} puts every entry back into its segment file when a database opens.
 */
import * as path from 'node:path';
import type { Logger } from 'pino';
import { DATA_FILE, segmentFile } from '../../native-free-io/data-layout.ts';
import { encodeLogEntryHead, encodeLogHeader, LOG_ENTRY_HEAD_BYTES, LOG_HEADER_BYTES, readLogFile, type LogEntry } from '../../native-free-io/commit-log-format.ts';
import { mkdirDurable, type FileHandle, type FileIo } from '../../native-free-io/file-io.ts';

export const COMMIT_LOG_DIR = 'commit-log';

/** The smallest log file: its header and a page of entries. */
export const COMMIT_LOG_FILE_BYTES_MIN = LOG_HEADER_BYTES + 4096;

/** A log file's size: half a segment, between 64 KiB and 32 MiB (a round larger than a file is synced in place). */
export function commitLogFileBytes(segmentSizeBytes: number): number {
  return Math.min(32 << 20, Math.max(64 << 10, Math.floor(segmentSizeBytes / 2 / 4096) * 4096));
}

export function commitLogDir(dir: string): string {
  return path.join(dir, COMMIT_LOG_DIR);
}

const ZEROS = Buffer.alloc(1 << 20);

export class CommitLog {
  readonly #files: FileHandle[];
  readonly #fileBytes: number;
  /** The file being appended to, its epoch and its write position. */
  #current = 0;
  #epoch = 1;
  #position = LOG_HEADER_BYTES;
  /** The other file may be written over: every entry in it is durable in its segment file. */
  #otherFree = true;
  /** Bumped by every switch: a checkpoint started before the last switch cannot free the other file. */
  #switches = 0;
  /** Bytes written by the last write, not synced yet. */
  #written = 0;
  readonly #heads: Buffer[] = [];
  readonly #iov: Uint8Array[] = [];

  private constructor(files: FileHandle[], fileBytes: number) {
    this.#files = files;
    this.#fileBytes = fileBytes;
  }

  /**
   * Creates the writer's two log files, written through with zeros (so that appending needs no block allocation,
   * which would make every fdatasync commit the file system's journal too) and synced. Fails if they exist: a
   * database replays and removes every log when it opens.
   */
  static create(io: FileIo, dir: string, writerIndex: number, fileBytes: number): CommitLog {
    const logDir = commitLogDir(dir);
    mkdirDurable(io, logDir);
    const files: FileHandle[] = [];
    try {
      for (let f = 0; f < 2; f++) {
        const handle = io.open(path.join(logDir, `writer-${writerIndex}-${f}.log`), 'create');
        files.push(handle);
        for (let at = 0; at < fileBytes; at += ZEROS.length) handle.write(ZEROS.subarray(0, Math.min(ZEROS.length, fileBytes - at)), at);
        // File 1's header is written when it is first switched to: until then it holds no epoch.
        if (f === 0) handle.write(encodeLogHeader(1), 0);
        handle.datasync();
      }
      io.syncDir(logDir);
    } catch (err) {
      for (const h of files) {
        h.close();
        try {
          io.unlink(h.path);
        } catch {
          // left for the next open, which removes every log after replaying it
        }
      }
      throw err;
    }
    return new CommitLog(files, fileBytes);
  }

  /**
   * {@link create}, or undefined (logged) when the files cannot be made, such as on a full disk: the worker then
   * runs without a log, every round syncing its segment files, rather than not at all.
   */
  static createOrWarn(io: FileIo, dir: string, writerIndex: number, fileBytes: number, logger?: Logger): CommitLog | undefined {
    try {
      return CommitLog.create(io, dir, writerIndex, fileBytes);
    } catch (err) {
      logger?.warn({ writer: writerIndex, err: String(err) }, 'the commit log could not be created; rounds sync their segment files instead');
      return undefined;
    }
  }

  /** The most entry bytes (heads included) one round may hold. */
  get roundBytesMax(): number {
    return this.#fileBytes - LOG_HEADER_BYTES;
  }

  /** Whether a round of `bytes` (heads included) fits after the current file's last entry. */
  fits(bytes: number): boolean {
    return this.#position + bytes <= this.#fileBytes;
  }

  get otherFree(): boolean {
    return this.#otherFree;
  }

  /** Bytes of entries (heads included) for `entries`. */
  static roundBytes(entries: readonly LogEntry[]): number {
    let n = 0;
    for (const e of entries) n += LOG_ENTRY_HEAD_BYTES + e.bytes.length;
    return n;
  }

  /**
   * Writes the round's entries after the current file's last entry (the round must fit: see fits); {@link sync}
   * then makes them durable. If the write fails, the position does not move and the next round writes over what it
   * left. An entry of it that was written whole may still be replayed after a crash: the caller then makes that
   * round durable in its segment files instead (GroupCommit), so replaying it changes nothing.
   */
  write(entries: readonly LogEntry[]): void {
    const iov = this.#iov;
    iov.length = 0;
    let bytes = 0;
    for (let i = 0; i < entries.length; i++) {
      const head = (this.#heads[i] ??= Buffer.alloc(LOG_ENTRY_HEAD_BYTES));
      encodeLogEntryHead(head, entries[i], this.#epoch);
      iov.push(head, entries[i].bytes);
      bytes += LOG_ENTRY_HEAD_BYTES + entries[i].bytes.length;
    }
    if (this.#position + bytes > this.#fileBytes) throw new Error('commit log: the round does not fit');
    this.#files[this.#current].writev(iov, this.#position);
    this.#written = bytes;
  }

  /** fdatasync of what {@link write} wrote: the round is durable once this returns. Throws on failure (final). */
  sync(): void {
    this.#files[this.#current].datasync();
    this.#position += this.#written;
    this.#written = 0;
  }

  /**
   * Starts writing the other file (which must be free) under a new epoch; returns a token for the checkpoint that
   * frees the file left behind. Its header is made durable by the next append's fdatasync: until then neither the
   * header nor any entry of the new epoch counts, and nothing of it is acknowledged.
   */
  switchFiles(): number {
    if (!this.#otherFree) throw new Error('commit log: the other file still holds entries that are not checkpointed');
    // The header first: if its write fails nothing changes (the other file's old entries are all checkpointed).
    const next = this.#current ^ 1;
    this.#files[next].write(encodeLogHeader(this.#epoch + 1), 0);
    this.#current = next;
    this.#epoch++;
    this.#position = LOG_HEADER_BYTES;
    this.#written = 0;
    this.#otherFree = false;
    return ++this.#switches;
  }

  /** The checkpoint started at switch `token` made every entry of the other file durable in its segment file. */
  checkpointed(token: number): void {
    if (token === this.#switches) this.#otherFree = true;
  }

  /** Every segment file was synced: both files' entries are durable elsewhere. */
  allCheckpointed(): void {
    this.#otherFree = true;
  }

  /** Closes the files; `remove` (every segment file is synced) also deletes them, so nothing is replayed. */
  close(io: FileIo, remove: boolean): void {
    for (const f of this.#files) {
      f.close();
      if (remove) io.unlink(f.path);
    }
    if (remove) io.syncDir(path.dirname(this.#files[0].path));
  }
}

export interface ReplayResult {
  files: number;
  entries: number;
  /** Entries whose bytes were not (all) in their segment file, and were written back. */
  rewritten: number;
}

/**
 * Puts every commit log entry back into its segment file, syncs those files, then removes the logs. Called when a
 * database opens, before its buckets recover: a power cut can leave acknowledged rounds in a log only. Entries
 * whose bytes are already in place are left alone, so replaying twice (a crash during replay) changes nothing.
 */
export function replayCommitLogs(io: FileIo, dir: string, logger?: Logger): ReplayResult {
  const result: ReplayResult = { files: 0, entries: 0, rewritten: 0 };
  const { paths, logs } = readCommitLogs(io, dir);
  const segments = new Map<string, FileHandle>();
  const scratch = { buf: Buffer.alloc(0) };
  try {
    for (const log of logs) {
      for (const entry of log.entries) {
        result.entries++;
        const filePath = segmentFile(dir, entry.bucketId, entry.segmentId, DATA_FILE);
        let handle = segments.get(filePath);
        if (handle === undefined) {
          if (!io.exists(filePath)) {
            throw new Error(`commit log: an entry belongs to ${filePath}, which does not exist; the data directory is damaged`);
          }
          handle = io.open(filePath, 'write');
          segments.set(filePath, handle);
        }
        if (!holds(handle, entry, scratch)) {
          handle.write(entry.bytes, entry.offset);
          result.rewritten++;
        }
      }
    }
    for (const handle of segments.values()) handle.datasync();
  } finally {
    for (const handle of segments.values()) handle.close();
  }
  for (const p of paths) io.unlink(p);
  if (paths.length > 0) io.syncDir(commitLogDir(dir));
  result.files = logs.length;
  if (result.entries > 0) logger?.info({ ...result }, 'commit log replayed');
  return result;
}

/**
 * Every commit log file of the data directory (`paths`), and the entries of those whose header is whole, oldest
 * epoch first: the order replay applies them in (a writer's older file first; different writers' files hold
 * different buckets, so their order is free).
 */
export function readCommitLogs(io: FileIo, dir: string): { paths: string[]; logs: { path: string; epoch: number; entries: LogEntry[] }[] } {
  const logDir = commitLogDir(dir);
  if (!io.exists(logDir)) return { paths: [], logs: [] };
  const paths = io
    .readdir(logDir)
    .filter((n) => n.endsWith('.log'))
    .map((n) => path.join(logDir, n));
  const logs: { path: string; epoch: number; entries: LogEntry[] }[] = [];
  for (const p of paths) {
    const handle = io.open(p, 'read');
    try {
      const log = readLogFile(handle);
      if (log !== undefined) logs.push({ path: p, ...log });
    } finally {
      handle.close();
    }
  }
  logs.sort((a, b) => a.epoch - b.epoch);
  return { paths, logs };
}

/** Whether the segment file already holds the entry's bytes at its offset. */
function holds(handle: FileHandle, entry: LogEntry, scratch: { buf: Buffer }): boolean {
  const length = entry.bytes.length;
  if (scratch.buf.length < length) scratch.buf = Buffer.alloc(length);
  const n = handle.read(scratch.buf, 0, length, entry.offset);
  return n === length && Buffer.compare(scratch.buf.subarray(0, length), entry.bytes) === 0;
}
