/**
 * One group-commit round over the buckets of one write worker: write every staged batch, make them all durable,
 * then hand each bucket its outcomes.
 *
 * How a round is made durable:
 * - one bucket written: fdatasync of its segment file, here;
 * - several: their batches go into the worker's commit log (commit-log.ts) as one write, and one fdatasync of the
 *   log makes the round durable. Four files synced at once took ~250 µs here against ~130 µs for one, and every
 *   round under load touches every bucket. The segment files are synced later, by a checkpoint;
 * - a round too large for a log file: fdatasync of each segment file, here.
 *
 * Checkpoints. The log has two files. When the current one is full, the round switches to the other and starts,
 * off this thread, an fdatasync of every bucket's active segment file: once they all succeed, the full file's
 * entries are durable in place and it may be written over. (A rollover syncs the old segment file itself.) If the
 * other file is still waiting for its checkpoint when the current one fills, the round syncs the segment files
 * here first.
 *
 * Failures. A failed fdatasync is never retried: the kernel may have dropped the pages it could not write. The log
 * holds every bucket's acknowledged rounds, so any failed sync, of the log, of a segment file in a round or in a
 * checkpoint, stops all of the worker's buckets (they refuse writes until the database is reopened, which replays
 * the log). A failed write of a batch only fails that batch (BucketWriter rolls it back). A failed write of the log
 * (a full disk where overwrites allocate) sends the round to its segment files instead.
 */
import type { Logger } from 'pino';
import { datasyncFailure, startDatasync, type FileHandle, type FileIo } from '../../native-free-io/file-io.ts';
import type { LogEntry } from '../../native-free-io/commit-log-format.ts';
import type { BatchOutcomes } from './batch-outcomes.ts';
import type { BucketWriter } from './bucket-writer.ts';
import { CommitLog } from './commit-log.ts';

export interface GroupCommitOptions {
  /** Opens the checkpoints' own handles on the segment files. */
  io: FileIo;
  /** Every bucket the worker owns. */
  writers: readonly BucketWriter[];
  /** Absent: every round syncs its segment files (the worker then needs no log files). */
  log?: CommitLog;
  logger?: Logger;
}

export interface GroupCommitStats {
  rounds: number;
  /** Rounds made durable by the commit log, by their segment files. */
  loggedRounds: number;
  directRounds: number;
  checkpoints: number;
  /** Checkpoints that had to run on the round's thread (the other log file was not free yet). */
  inlineCheckpoints: number;
  /** fdatasync calls made: of the log, of segment files in direct rounds and in checkpoints. */
  datasyncs: number;
}

/** Thrown inside #logRound when a write of the log fails (not a sync): the round goes to its segment files. */
const LOG_NOT_WRITTEN = Symbol('the commit log could not be written');

export function sumGroupCommitStats(all: readonly GroupCommitStats[]): GroupCommitStats {
  const sum: GroupCommitStats = { rounds: 0, loggedRounds: 0, directRounds: 0, checkpoints: 0, inlineCheckpoints: 0, datasyncs: 0 };
  for (const s of all) for (const k of Object.keys(sum) as (keyof GroupCommitStats)[]) sum[k] += s[k];
  return sum;
}

export class GroupCommit {
  readonly stats: GroupCommitStats = { rounds: 0, loggedRounds: 0, directRounds: 0, checkpoints: 0, inlineCheckpoints: 0, datasyncs: 0 };
  readonly #o: GroupCommitOptions;
  readonly #handles: (FileHandle | undefined)[] = [];
  readonly #errors: (Error | null)[] = [];
  readonly #entries: LogEntry[] = [];
  readonly #outcomes: BatchOutcomes[] = [];
  /** Checkpoint syncs running off this thread. */
  #checkpointSyncs = 0;
  #stopped: Error | undefined;

  constructor(o: GroupCommitOptions) {
    this.#o = o;
  }

  /** A checkpoint's syncs are running: the caller's event loop must get turns for them to finish. */
  get checkpointing(): boolean {
    return this.#checkpointSyncs > 0;
  }

  /**
   * Writes the staged batch of each of `writers` and makes them durable together; returns their outcomes, in the
   * same order (each valid until its writer stages again).
   */
  commit(writers: readonly BucketWriter[]): readonly BatchOutcomes[] {
    // A bucket may have failed a sync of its own since the last round (pre-zeroing, a rollover).
    this.#stopIfPoisoned();
    const handles = this.#handles;
    const errors = this.#errors;
    const entries = this.#entries;
    handles.length = 0;
    errors.length = 0;
    entries.length = 0;
    let toSync = 0;
    for (const w of writers) {
      const handle = w.writeBatch();
      handles.push(handle);
      errors.push(null);
      if (handle === undefined) continue;
      toSync++;
      entries.push(w.writtenEntry());
    }
    this.stats.rounds++;
    const log = this.#o.log;
    const roundBytes = CommitLog.roundBytes(entries);
    const failure = toSync > 1 && log !== undefined && roundBytes <= log.roundBytesMax ? this.#logRound(log, entries, roundBytes) : undefined;
    if (failure !== undefined) {
      this.stats.loggedRounds++;
      if (failure !== null) for (let i = 0; i < handles.length; i++) if (handles[i] !== undefined) errors[i] = failure;
    } else if (toSync > 0) {
      this.stats.directRounds++;
      for (let i = 0; i < handles.length; i++) {
        const handle = handles[i];
        if (handle === undefined) continue;
        this.stats.datasyncs++;
        errors[i] = datasyncFailure(handle);
      }
    }
    const outcomes = this.#outcomes;
    outcomes.length = 0;
    for (let i = 0; i < writers.length; i++) outcomes.push(writers[i].finishBatch(errors[i]));
    handles.length = 0;
    entries.length = 0;
    this.#stopIfPoisoned();
    return outcomes;
  }

  /**
   * Appends the round to the log, switching files first when the current one is full. Returns null once the round
   * is durable, the failure of a sync (every bucket then stops), or undefined when the log could not be written (a
   * full disk on a file system that allocates on overwrite): the caller then syncs the round's segment files.
   */
  #logRound(log: CommitLog, entries: readonly LogEntry[], roundBytes: number): Error | null | undefined {
    try {
      if (!log.fits(roundBytes)) {
        if (!log.otherFree) {
          // The checkpoint of the other file has not finished: make every segment file durable here.
          this.stats.inlineCheckpoints++;
          for (const w of this.#o.writers) {
            this.stats.datasyncs++;
            w.syncData();
          }
          log.allCheckpointed();
        }
        this.#startCheckpoint(log, this.#unlessWriteFails(() => log.switchFiles()));
      }
      this.#unlessWriteFails(() => log.write(entries));
      this.stats.datasyncs++;
      log.sync();
      return null;
    } catch (err) {
      if (err === LOG_NOT_WRITTEN) return undefined;
      this.#stop(err as Error, 'an fdatasync of the commit log or a segment file failed');
      return err as Error;
    }
  }

  /** Runs a write of the log; if it throws, logs it and throws LOG_NOT_WRITTEN (nothing of the log changed). */
  #unlessWriteFails<T>(write: () => T): T {
    try {
      return write();
    } catch (err) {
      this.#o.logger?.warn({ err: String(err) }, 'writing the commit log failed; the round syncs its segment files instead');
      throw LOG_NOT_WRITTEN;
    }
  }

  /** Syncs every bucket's active segment file off this thread; once all succeed, the file left is free. */
  #startCheckpoint(log: CommitLog, token: number): void {
    this.stats.checkpoints++;
    const { io } = this.#o;
    const paths = this.#o.writers.map((w) => w.activeDataPath);
    let pending = paths.length;
    let failure: Error | undefined;
    this.#checkpointSyncs += pending;
    const done = (err: Error | null): void => {
      this.#checkpointSyncs--;
      if (err !== null) failure ??= err;
      if (--pending > 0) return;
      if (failure !== undefined) this.#stop(failure, 'a checkpoint could not sync a segment file');
      // A bucket that failed a sync of its own meanwhile may have lost pages this checkpoint reported synced.
      this.#stopIfPoisoned();
      if (this.#stopped === undefined) log.checkpointed(token);
    };
    for (const p of paths) {
      let handle: FileHandle;
      try {
        handle = io.open(p, 'read');
      } catch (err) {
        done(err as Error);
        continue;
      }
      this.stats.datasyncs++;
      startDatasync(handle, (err) => {
        try {
          handle.close();
        } catch {
          // the sync's outcome is what counts
        }
        done(err);
      });
    }
  }

  /** A bucket was poisoned (a failed sync of its own): the log holds the others' rounds with it, so all stop. */
  #stopIfPoisoned(): void {
    if (this.#stopped !== undefined || this.#o.log === undefined) return;
    const poisoned = this.#o.writers.find((w) => w.poisoned !== undefined);
    if (poisoned !== undefined) this.#stop(poisoned.poisoned!, `bucket ${poisoned.bucketId} failed an fdatasync`);
  }

  #stop(err: Error, why: string): void {
    if (this.#stopped === undefined) {
      this.#stopped = err;
      this.#o.logger?.fatal({ err: String(err) }, `${why}: every bucket of this write worker stops accepting writes until the database is reopened`);
    }
    for (const w of this.#o.writers) w.poison(err);
  }

  /**
   * Makes every segment file durable and removes the log, so that the next open has nothing to replay. If a sync
   * fails (or the worker had stopped), the log is kept for that replay.
   */
  close(): void {
    const log = this.#o.log;
    if (log === undefined) return;
    let synced = this.#stopped === undefined;
    if (synced) {
      try {
        for (const w of this.#o.writers) w.syncData();
      } catch (err) {
        synced = false;
        this.#o.logger?.error({ err: String(err) }, 'syncing the segment files at close failed; the commit log is kept for the next open to replay');
      }
    }
    log.close(this.#o.io, synced);
  }
}
