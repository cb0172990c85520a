/**
 * `sierradb verify`: an offline check of a data directory, and a repair that rebuilds damaged index files.
 *
 * What it checks, bucket by bucket, segment by segment (segments in ascending order, the last one active):
 *   - meta.json: readable, and the bucket count, partition count and segment size it fixes.
 *   - segment ids contiguous from 0; each segment header (magic, CRC32C, version, bucket id, segment id, size).
 *   - every record of every data file: header sanity, CRC32C, confirmation byte (probeRecord), and the chain of
 *     records up to the zero header that ends the data, then that every byte after it is zero. A bad record is
 *     reported with its offset, and the walk resynchronizes on the next intact record (found by probing every byte
 *     offset: kind, reserved bytes, length and CRC32C must all agree), so one flipped bit costs one finding and the
 *     records after it are still checked.
 *   - transactions: each multi-event transaction is contiguous, ends with a commit record naming its event count
 *     and first sequence, and stays in one partition with consecutive sequences.
 *   - the active segment's tail: what recovery would keep is computed with the same scan recovery uses
 *     (scanCommitted). Damage or an uncommitted transaction after the last committed transaction, with nothing
 *     committed after it, is a note: "torn tail (would be truncated on open)". Committed records found past such
 *     damage are a problem: opening would truncate them with the tail. (Offline, damage of the last record of the
 *     active segment looks exactly like a torn write; it is reported, with its offset, as a torn tail.)
 *   - index files of sealed segments: `open` checks each file's structure and CRC32C; then every entry is read
 *     raw and must point at a committed event record with the same id (event index), partition and sequence
 *     (partition index), stream, version and partition key (stream index), in sorted order with correct hashes
 *     and fan-out table; and every committed event must be found through each index's own lookup path (bloom
 *     filter, fan-out table, binary search). Entries that point into a damaged record are attributed to it.
 *   - across segments: each partition's sequences gapless from 0, each stream's versions gapless from 0, a stream's
 *     partition key constant, and each event's partition id consistent with its partition key and bucket.
 *
 * Memory is bounded per segment and per bucket, never per database: the committed events of the segment being
 * checked (about 100 bytes each, so about 100 MiB for a 256 MiB segment of 1 million small events; the engine
 * holds as much for an active segment), plus, per bucket, a Map of partition → next sequence and a Map of
 * stream → (last version, partition key). The stream map costs about 150-250 bytes per stream: a few million
 * streams per bucket fit in well under 1 GiB. Past `streamsTrackedMax` streams in one bucket, new streams' versions
 * are not checked, and the report says how many were skipped.
 *
 * Commit logs: after a power cut, rounds acknowledged through a write worker's commit log (src/engine/commit-log.ts)
 * may be missing from their segment files until the next open replays them. The data files are then read as
 * replayed (ReplayedFileIo), and a note says how much the logs hold.
 *
 * Severity: a *problem* is damage or an inconsistency (exit 1); a *note* is a harmless leftover that opening the
 * database tidies up by itself (torn tail, unfinished index write, unfinished segment creation, commit log).
 *
 * Repair (`repair: true`) rewrites missing, corrupt or inconsistent index files of sealed segments from their data
 * files, through the same writers the engine uses (temp file, fdatasync, rename, directory fsync), and only when
 * that data file checked clean: an index is never rebuilt from damaged data, because the old index may still
 * reach records the rebuild would lose. Data files are never written. The directory is verified again afterwards
 * and that second report is the result.
 *
 * Run it on a stopped server (or a copy): it does not lock the directory, and appends in flight look torn.
 */
import * as path from 'node:path';
import { nodeFileIo, readWholeFile, type FileHandle, type FileIo } from '../../native-free-io/file-io.ts';
import {
  bucketDir,
  CHECKPOINT_FILE,
  DATA_FILE,
  EVENT_INDEX_FILE,
  listSegmentIds,
  META_FILE,
  PARTITION_INDEX_FILE,
  segmentDir,
  segmentFile,
  segmentsDir,
  STREAM_INDEX_FILE,
} from '../../native-free-io/data-layout.ts';
import { EventIndexFile, EVENT_INDEX_HEADER_BYTES, EVENT_INDEX_RECORD_BYTES } from '../../native-free-io/event-index-file.ts';
import { PartitionIndexFile } from '../../native-free-io/partition-index-file.ts';
import {
  StreamIndexFile,
  STREAM_INDEX_ENTRY_BYTES,
  STREAM_INDEX_HEADER_BYTES,
  STREAM_INDEX_PARTITION_KEY_BYTES,
  STREAM_INDEX_STREAM_ID_BYTES_MAX,
} from '../../native-free-io/stream-index-file.ts';
import { IndexFileCorruptError, readExactly } from '../../native-free-io/index-file-error.ts';
import { buildFanOut, compareBytes, keyHash32 } from '../../native-free-io/key-hash.ts';
import {
  decodeCommitRecord,
  decodeConfirmation,
  decodeSegmentHeader,
  EVENT_BODY_FIXED_BYTES,
  eventRecordField,
  probeRecord,
  RecordKind,
  RECORD_HEADER_BYTES,
  SEGMENT_HEADER_BYTES,
  COMMIT_BODY_BYTES,
  type RecordProbe,
} from '../../native-free-io/segment-format.ts';
import { scanCommitted } from '../../native-free-io/segment-scanner.ts';
import { readU64 } from '../../native-free-io/u64.ts';
import { bucketIdForPartition, partitionHash } from '../ids/partition-key.ts';
import { SegmentIndex, writeIndexFiles } from '../engine/segment-index.ts';
import { commitLogDir, readCommitLogs } from '../engine/commit-log.ts';
import { ReplayedFileIo } from './replayed-file-io.ts';

export const Severity = { problem: 'problem', note: 'note' } as const;
export type Severity = (typeof Severity)[keyof typeof Severity];

export const FindingKind = {
  meta: 'meta',
  layout: 'layout',
  io: 'io',
  segmentHeader: 'segment-header',
  corruptRecord: 'corrupt-record',
  tornTail: 'torn-tail',
  transaction: 'transaction',
  indexMissing: 'index-missing',
  indexPending: 'index-pending',
  indexCorrupt: 'index-corrupt',
  indexMismatch: 'index-mismatch',
  partition: 'partition',
  partitionSequence: 'partition-sequence',
  streamVersion: 'stream-version',
  strayFile: 'stray-file',
  commitLog: 'commit-log',
  limit: 'limit',
} as const;
export type FindingKind = (typeof FindingKind)[keyof typeof FindingKind];

export interface Finding {
  severity: Severity;
  kind: FindingKind;
  bucket?: number;
  segment?: number;
  /** Byte offset in the file (a record offset for data.evts). */
  offset?: number;
  /** File name inside the segment directory (data.evts, index.eidx, ...), or a path for directory-level findings. */
  file?: string;
  message: string;
}

export interface VerifyStats {
  buckets: number;
  segments: number;
  sealedSegments: number;
  records: number;
  events: number;
  transactions: number;
  multiEventTransactions: number;
  dataBytes: number;
  indexFilesChecked: number;
  indexEntriesChecked: number;
  partitions: number;
  streams: number;
  /** Streams whose versions were not tracked (over `streamsTrackedMax` in one bucket). */
  streamsUntracked: number;
  elapsedMs: number;
}

export interface RepairAction {
  bucket: number;
  segment: number;
  file: string;
  /** What pass one found wrong with it. */
  reason: string;
}

export interface VerifyReport {
  dir: string;
  meta?: DirectoryLayout;
  /** No problems (notes allowed). */
  clean: boolean;
  problems: number;
  notes: number;
  findings: Finding[];
  /** Findings over `findingsMax`, counted but not listed. */
  findingsOmitted: number;
  /** Index files rewritten by `repair: true` (the findings are then those of the second pass). */
  repairs: RepairAction[];
  stats: VerifyStats;
}

export interface VerifyOptions {
  /** File I/O seam (default: node:fs). */
  io?: FileIo;
  /** Rebuild damaged or missing index files of sealed segments whose data files are clean, then verify again. */
  repair?: boolean;
  /** Per bucket, streams whose versions are checked; later new streams are counted as untracked. */
  streamsTrackedMax?: number;
  /** Findings listed in the report; the rest are only counted. */
  findingsMax?: number;
  /** Mismatch findings listed per index file before summarizing the rest. */
  mismatchesPerIndexMax?: number;
}

export const VERIFY_DEFAULTS = {
  streamsTrackedMax: 4_000_000,
  findingsMax: 1_000,
  mismatchesPerIndexMax: 10,
} as const;

const WINDOW_BYTES = 1 << 20;
const ZEROS = Buffer.alloc(WINDOW_BYTES);
const INDEX_PAGE_ENTRIES = 4096;
const INDEX_FILES = [EVENT_INDEX_FILE, PARTITION_INDEX_FILE, STREAM_INDEX_FILE] as const;
const KNOWN_SEGMENT_FILES: ReadonlySet<string> = new Set([DATA_FILE, ...INDEX_FILES]);

// ---------------------------------------------------------------------------------------------------------------
// Reading a data file

/** A read window over [0, end) of a file, moved and grown on demand. */
class WindowReader {
  readonly end: number;
  readonly #h: FileHandle;
  buf: Buffer;
  start = 0;
  length = 0;

  constructor(h: FileHandle, end: number) {
    this.#h = h;
    this.end = end;
    this.buf = Buffer.allocUnsafe(Math.max(RECORD_HEADER_BYTES, Math.min(WINDOW_BYTES, end)));
  }

  /** Makes the window hold [offset, offset + length) as far as the file allows; returns the bytes held from offset. */
  load(offset: number, length: number): number {
    const windowEnd = this.start + this.length;
    if (offset >= this.start && offset <= windowEnd && (offset + length <= windowEnd || windowEnd >= this.end)) return windowEnd - offset;
    const want = Math.min(Math.max(length, WINDOW_BYTES), this.end - offset);
    if (this.buf.length < want) this.buf = Buffer.allocUnsafe(want);
    let got = 0;
    while (got < want) {
      const n = this.#h.read(this.buf, got, want - got, offset + got);
      if (n === 0) break;
      got += n;
    }
    this.start = offset;
    this.length = got;
    return got;
  }

  at(offset: number): number {
    return offset - this.start;
  }

  /** Probes the record at `offset`, reading as much as its header claims. */
  probe(offset: number): RecordProbe {
    const maxLength = this.end - offset;
    let available = this.load(offset, RECORD_HEADER_BYTES);
    for (let attempt = 0; attempt < 2; attempt++) {
      const p = probeRecord(this.buf, this.at(offset), available, maxLength);
      if (p.status !== 'short') return p;
      available = this.load(offset, p.needBytes);
      if (available < p.needBytes) return { status: 'corrupt', reason: 'record runs past the end of the file' };
    }
    return { status: 'corrupt', reason: 'record runs past the end of the file' };
  }

  /** The first non-zero byte in [from, end), or -1. */
  firstNonZero(from: number): number {
    for (let pos = from; pos < this.end; ) {
      const n = Math.min(WINDOW_BYTES, this.end - pos);
      const got = this.load(pos, n);
      if (got <= 0) return -1;
      const at = this.at(pos);
      const chunk = Math.min(got, n);
      if (this.buf.compare(ZEROS, 0, chunk, at, at + chunk) !== 0) {
        for (let i = 0; i < chunk; i++) if (this.buf[at + i] !== 0) return pos + i;
      }
      pos += chunk;
    }
    return -1;
  }

  /** One past the last non-zero byte in [from, end), or `from` if there is none. */
  lastNonZeroEnd(from: number): number {
    let last = from;
    for (let pos = from; pos < this.end; ) {
      const n = Math.min(WINDOW_BYTES, this.end - pos);
      const got = this.load(pos, n);
      if (got <= 0) break;
      const at = this.at(pos);
      const chunk = Math.min(got, n);
      if (this.buf.compare(ZEROS, 0, chunk, at, at + chunk) !== 0) {
        for (let i = chunk - 1; i >= 0; i--) {
          if (this.buf[at + i] !== 0) {
            last = pos + i + 1;
            break;
          }
        }
      }
      pos += chunk;
    }
    return last;
  }

  /**
   * The offset of the next intact record at or after `from`, or -1. Every byte offset is a candidate; the cheap
   * header checks (kind, reserved bytes, confirmation nibbles, length bounds, event field lengths) reject almost
   * all of them before the CRC32C is computed.
   */
  resync(from: number): number {
    const lookahead = RECORD_HEADER_BYTES + EVENT_BODY_FIXED_BYTES;
    let q = from;
    while (q + RECORD_HEADER_BYTES <= this.end) {
      this.load(q, Math.min(WINDOW_BYTES, this.end - q));
      const buf = this.buf;
      const base = this.start;
      const windowEnd = base + this.length;
      // Candidates whose fixed fields are inside the window; later ones are looked at after the next load.
      let stop = windowEnd >= this.end ? this.end - RECORD_HEADER_BYTES + 1 : windowEnd - lookahead;
      if (stop <= q) stop = q + 1;
      let moved = false;
      for (; q < stop && !moved; q++) {
        const at = q - base;
        const kind = buf[at + 12];
        if (kind !== RecordKind.event && kind !== RecordKind.commit) continue;
        if ((buf[at + 1] | buf[at + 2] | buf[at + 3]) !== 0 || decodeConfirmation(buf[at]) < 0) continue;
        const bodyLength = buf.readUInt32LE(at + 8);
        if (q + RECORD_HEADER_BYTES + bodyLength > this.end) continue;
        if (kind === RecordKind.commit) {
          if (bodyLength !== COMMIT_BODY_BYTES) continue;
        } else {
          if (bodyLength < EVENT_BODY_FIXED_BYTES + 1) continue;
          if (q + lookahead <= windowEnd) {
            const body = at + RECORD_HEADER_BYTES;
            const varBytes = buf[body + 74] + buf[body + 75] + buf.readUInt32LE(body + 76) + buf.readUInt32LE(body + 80);
            if (EVENT_BODY_FIXED_BYTES + varBytes !== bodyLength) continue;
          }
        }
        if (this.probe(q).status === 'ok') return q;
        // A long candidate may have moved the window; reload from the next offset.
        moved = this.buf !== buf || this.start !== base;
      }
    }
    return -1;
  }
}

/** The committed events of one segment, in file order (so offsets ascend), as parallel arrays. */
class EventTable {
  readonly offsets: number[] = [];
  readonly eventIds: string[] = []; // 16 bytes as latin1
  readonly partitionIds: number[] = [];
  readonly sequences: number[] = [];
  readonly versions: number[] = [];
  readonly streamRefs: number[] = [];
  /** Per stream ref: stream id and the partition key (latin1) of its first event here. */
  readonly streamNames: string[] = [];
  readonly streamKeys: string[] = [];
  readonly #refs = new Map<string, number>();
  /** Partition key of each event (latin1), kept only as the stream's key unless it differs. */
  readonly keyOverrides = new Map<number, string>();

  get length(): number {
    return this.offsets.length;
  }

  add(e: WalkedEvent): void {
    let ref = this.#refs.get(e.streamId);
    if (ref === undefined) {
      ref = this.streamNames.length;
      this.#refs.set(e.streamId, ref);
      this.streamNames.push(e.streamId);
      this.streamKeys.push(e.partitionKey);
    }
    const i = this.offsets.length;
    if (this.streamKeys[ref] !== e.partitionKey) this.keyOverrides.set(i, e.partitionKey);
    this.offsets.push(e.offset);
    this.eventIds.push(e.eventId);
    this.partitionIds.push(e.partitionId);
    this.sequences.push(e.sequence);
    this.versions.push(e.version);
    this.streamRefs.push(ref);
  }

  streamId(i: number): string {
    return this.streamNames[this.streamRefs[i]];
  }

  partitionKey(i: number): string {
    return this.keyOverrides.get(i) ?? this.streamKeys[this.streamRefs[i]];
  }

  /** Index of the event whose record starts at `offset`, or -1. */
  find(offset: number): number {
    const a = this.offsets;
    let lo = 0;
    let hi = a.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (a[mid] === offset) return mid;
      if (a[mid] < offset) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }
}

interface WalkedEvent {
  offset: number;
  eventId: string;
  partitionId: number;
  sequence: number;
  version: number;
  streamId: string;
  partitionKey: string;
}

interface Damage {
  start: number;
  end: number;
  reason: string;
  /** The next intact record, or -1 when nothing intact follows. */
  next: number;
}

interface TransactionIssue {
  offset: number;
  message: string;
  /** True when it ends the data (an unfinished transaction at the tail), as a torn write leaves it. */
  atTail: boolean;
}

interface SegmentWalk {
  events: EventTable;
  /** Offsets of intact event records that belong to no committed transaction. */
  uncommitted: Set<number>;
  damage: Damage[];
  transactionIssues: TransactionIssue[];
  records: number;
  transactions: number;
  multiEventTransactions: number;
  /** One past the last non-zero byte of the file's record area. */
  dataEnd: number;
}

/** Walks every record of a data file from the header to `end`, resynchronizing past damage. */
function walkSegment(r: WindowReader): SegmentWalk {
  const w: SegmentWalk = {
    events: new EventTable(),
    uncommitted: new Set(),
    damage: [],
    transactionIssues: [],
    records: 0,
    transactions: 0,
    multiEventTransactions: 0,
    dataEnd: SEGMENT_HEADER_BYTES,
  };
  let pending: { txn: string; start: number; events: WalkedEvent[] } | undefined;
  const abandon = (why: string, atTail: boolean) => {
    if (pending === undefined) return;
    w.transactionIssues.push({ offset: pending.start, message: `transaction of ${pending.events.length} event(s) without its commit record (${why})`, atTail });
    for (const e of pending.events) w.uncommitted.add(e.offset);
    pending = undefined;
  };
  const commit = (events: WalkedEvent[]) => {
    for (const e of events) w.events.add(e);
    w.transactions++;
    if (events.length > 1) w.multiEventTransactions++;
  };

  let pos = SEGMENT_HEADER_BYTES;
  for (;;) {
    let damageReason: string | undefined;
    let resyncFrom = pos + 1;
    if (pos + RECORD_HEADER_BYTES > r.end) {
      const nz = r.firstNonZero(pos);
      if (nz < 0) break;
      damageReason = 'bytes after the last record are not zero';
      resyncFrom = nz;
    } else {
      const p = r.probe(pos);
      if (p.status === 'ok') {
        w.records++;
        const at = r.at(pos);
        const buf = r.buf;
        if (p.kind === RecordKind.event) {
          const txnBytes = eventRecordField.transactionId(buf, at);
          const txn = txnBytes.toString('latin1');
          const e: WalkedEvent = {
            offset: pos,
            eventId: eventRecordField.eventId(buf, at).toString('latin1'),
            partitionId: eventRecordField.partitionId(buf, at),
            sequence: eventRecordField.partitionSequence(buf, at),
            version: eventRecordField.streamVersion(buf, at),
            streamId: eventRecordField.streamId(buf, at),
            partitionKey: eventRecordField.partitionKey(buf, at).toString('latin1'),
          };
          if ((txnBytes[8] & 0x80) !== 0) {
            abandon('another transaction follows', false);
            commit([e]);
          } else {
            if (pending !== undefined && pending.txn !== txn) abandon('another transaction follows', false);
            pending ??= { txn, start: pos, events: [] };
            pending.events.push(e);
          }
        } else {
          const c = decodeCommitRecord(buf, at);
          const txn = Buffer.from(c.transactionId).toString('latin1');
          if (pending !== undefined && pending.txn === txn && c.eventCount === pending.events.length) {
            const events = pending.events;
            const problems: string[] = [];
            if (c.firstPartitionSequence !== events[0].sequence) problems.push(`commit names first sequence ${c.firstPartitionSequence}, its first event has ${events[0].sequence}`);
            for (let i = 1; i < events.length; i++) {
              if (events[i].partitionId !== events[0].partitionId) problems.push(`event ${i} is in partition ${events[i].partitionId}, not ${events[0].partitionId}`);
              else if (events[i].sequence !== events[0].sequence + i) problems.push(`event ${i} has sequence ${events[i].sequence}, expected ${events[0].sequence + i}`);
            }
            if (problems.length > 0) w.transactionIssues.push({ offset: pending.start, message: `inconsistent transaction: ${problems.join('; ')}`, atTail: false });
            pending = undefined;
            commit(events);
          } else {
            abandon('a commit record of another transaction follows', false);
            w.transactionIssues.push({ offset: pos, message: `commit record (${c.eventCount} events) without its events`, atTail: false });
          }
        }
        pos += p.length;
        w.dataEnd = pos;
        continue;
      }
      if (p.status === 'end') {
        const nz = r.firstNonZero(pos);
        if (nz < 0) break;
        damageReason = `zero bytes where a record header was expected; data resumes at offset ${nz}`;
        resyncFrom = Math.max(pos + 1, nz - RECORD_HEADER_BYTES);
      } else {
        damageReason = p.status === 'corrupt' ? p.reason : 'record runs past the end of the file';
      }
    }
    // Damage at `pos`: find where intact records resume.
    abandon('damage follows', false);
    const next = r.resync(resyncFrom);
    const end = next >= 0 ? next : r.lastNonZeroEnd(pos);
    w.damage.push({ start: pos, end: Math.max(end, pos + 1), reason: damageReason, next });
    w.dataEnd = Math.max(w.dataEnd, end);
    if (next < 0) break;
    pos = next;
  }
  abandon('the data ends', true);
  return w;
}

// ---------------------------------------------------------------------------------------------------------------
// The verifier

/** What meta.json fixes for a data directory. */
export interface DirectoryLayout {
  bucketCount: number;
  partitionCount: number;
  segmentSizeBytes: number;
}

interface StreamTrack {
  version: number;
  key: string;
}

/** What the index checks need to know about a segment's data. */
interface SegmentFacts {
  events: EventTable;
  uncommitted: Set<number>;
  damage: Damage[];
}

export interface SegmentCheck {
  /** Findings for this segment (data and, for a sealed segment, index files). */
  findings: Finding[];
  /** For a sealed segment whose data checked clean: index files needing a rebuild, with the reason. */
  rebuild: { file: string; reason: string }[];
  /** The committed events that opening the database keeps (for the active segment: those before its tail). */
  kept: EventTable;
  walk: SegmentWalk | undefined;
  dataClean: boolean;
}

class Verifier {
  readonly io: FileIo;
  readonly dir: string;
  readonly o: Required<Omit<VerifyOptions, 'io' | 'repair'>>;
  readonly findings: Finding[] = [];
  findingsOmitted = 0;
  problems = 0;
  notes = 0;
  readonly stats: VerifyStats = {
    buckets: 0,
    segments: 0,
    sealedSegments: 0,
    records: 0,
    events: 0,
    transactions: 0,
    multiEventTransactions: 0,
    dataBytes: 0,
    indexFilesChecked: 0,
    indexEntriesChecked: 0,
    partitions: 0,
    streams: 0,
    streamsUntracked: 0,
    elapsedMs: 0,
  };
  /** Index files rewritten (with `repair`), as each segment is checked: only one segment's events are held. */
  readonly repairs: RepairAction[] = [];
  readonly #repair: boolean;

  constructor(dir: string, options: VerifyOptions) {
    this.io = options.io ?? nodeFileIo;
    this.dir = dir;
    this.o = {
      streamsTrackedMax: options.streamsTrackedMax ?? VERIFY_DEFAULTS.streamsTrackedMax,
      findingsMax: options.findingsMax ?? VERIFY_DEFAULTS.findingsMax,
      mismatchesPerIndexMax: options.mismatchesPerIndexMax ?? VERIFY_DEFAULTS.mismatchesPerIndexMax,
    };
    this.#repair = options.repair === true;
  }

  add(f: Finding): void {
    if (f.severity === Severity.problem) this.problems++;
    else this.notes++;
    if (this.findings.length < this.o.findingsMax) this.findings.push(f);
    else this.findingsOmitted++;
  }

  readMeta(): DirectoryLayout | undefined {
    const metaPath = path.join(this.dir, META_FILE);
    if (!this.io.exists(this.dir)) {
      this.add({ severity: 'problem', kind: 'meta', file: this.dir, message: 'data directory does not exist' });
      return undefined;
    }
    if (!this.io.exists(metaPath)) {
      this.add({ severity: 'problem', kind: 'meta', file: metaPath, message: 'meta.json is missing: not a data directory, or its meta.json was lost' });
      return undefined;
    }
    let meta: Record<string, unknown>;
    try {
      meta = JSON.parse(readWholeFile(this.io, metaPath).toString('utf8'));
    } catch (err) {
      this.add({ severity: 'problem', kind: 'meta', file: metaPath, message: `meta.json is unreadable: ${(err as Error).message}` });
      return undefined;
    }
    const m = { bucketCount: meta.total_buckets, partitionCount: meta.total_partitions, segmentSizeBytes: meta.segment_size_bytes };
    const bad: string[] = [];
    if (!(Number.isInteger(m.partitionCount) && (m.partitionCount as number) >= 1 && (m.partitionCount as number) <= 65536)) bad.push(`total_partitions ${String(m.partitionCount)}`);
    if (!(Number.isInteger(m.bucketCount) && (m.bucketCount as number) >= 1 && (m.bucketCount as number) <= (m.partitionCount as number))) bad.push(`total_buckets ${String(m.bucketCount)}`);
    if (!(Number.isSafeInteger(m.segmentSizeBytes) && (m.segmentSizeBytes as number) > SEGMENT_HEADER_BYTES)) bad.push(`segment_size_bytes ${String(m.segmentSizeBytes)}`);
    if (bad.length > 0) {
      this.add({ severity: 'problem', kind: 'meta', file: metaPath, message: `meta.json has invalid values: ${bad.join(', ')}` });
      return undefined;
    }
    return m as DirectoryLayout;
  }

  run(): DirectoryLayout | undefined {
    const meta = this.readMeta();
    if (meta === undefined) return undefined;
    const bucketsRoot = path.join(this.dir, 'buckets');
    if (this.io.exists(bucketsRoot)) {
      for (const name of this.io.readdir(bucketsRoot)) {
        const id = /^\d{5}$/.test(name) ? Number(name) : -1;
        if (id < 0 || id >= meta.bucketCount) this.add({ severity: 'note', kind: 'stray-file', file: path.join(bucketsRoot, name), message: 'unexpected entry in the buckets directory (ignored by the database)' });
      }
    }
    for (let b = 0; b < meta.bucketCount; b++) this.#checkBucket(meta, b);
    return meta;
  }

  #checkBucket(meta: DirectoryLayout, bucketId: number): void {
    this.stats.buckets++;
    const ids = listSegmentIds(this.io, this.dir, bucketId);
    if (ids.length === 0) {
      this.add({ severity: 'note', kind: 'layout', bucket: bucketId, file: bucketDir(this.dir, bucketId), message: 'bucket has no segments yet (opening the database creates segment 0)' });
      return;
    }
    const segs = segmentsDir(this.dir, bucketId);
    for (const name of this.io.readdir(segs)) {
      if (!/^\d{10}$/.test(name)) this.add({ severity: 'note', kind: 'stray-file', bucket: bucketId, file: path.join(segs, name), message: 'unexpected entry in the segments directory (ignored by the database)' });
    }
    for (let i = 0; i < ids.length; i++) {
      if (ids[i] !== i) {
        this.add({ severity: 'problem', kind: 'layout', bucket: bucketId, segment: i, file: segmentDir(this.dir, bucketId, i), message: `segment ${i} is missing (segments present: ${ids.join(', ')})` });
        break;
      }
    }
    // Segments are sealed in order, by a sealer thread that writes their index files after the writer has moved on
    // (src/engine/segment-sealer.ts): the newest sealed segments may lack them for a moment on a live store, or
    // after a stop (the next open rebuilds them). Missing files are damage only before a complete set.
    let sealingFrom = ids.length - 1;
    while (sealingFrom > 0 && !INDEX_FILES.every((f) => this.io.exists(segmentFile(this.dir, bucketId, ids[sealingFrom - 1], f)))) sealingFrom--;
    const nextSequence = new Map<number, number>();
    const streams = new Map<string, StreamTrack>();
    let damagedBefore = false;
    for (let i = 0; i < ids.length; i++) {
      const segmentId = ids[i];
      const active = i === ids.length - 1;
      const sealing = !active && i >= sealingFrom;
      let check: SegmentCheck;
      try {
        check = checkSegment({ io: this.io, dir: this.dir, bucketId, segmentId, active, sealing, meta, mismatchesPerIndexMax: this.o.mismatchesPerIndexMax, stats: this.stats });
      } catch (err) {
        this.add({ severity: 'problem', kind: 'io', bucket: bucketId, segment: segmentId, message: `could not be checked: ${(err as Error).message}` });
        damagedBefore = true;
        continue;
      }
      this.stats.segments++;
      if (!active) this.stats.sealedSegments++;
      for (const f of check.findings) this.add(f);
      if (check.rebuild.length > 0 && this.#repair) {
        rebuildIndexFiles(this.io, this.dir, bucketId, segmentId, check.kept, check.rebuild.map((f) => f.file));
        for (const f of check.rebuild) this.repairs.push({ bucket: bucketId, segment: segmentId, file: f.file, reason: f.reason });
      }
      const firstDamage = check.walk?.damage[0]?.start ?? -1;
      this.#checkContinuity(meta, bucketId, segmentId, check.kept, nextSequence, streams, damagedBefore, firstDamage);
      if (!check.dataClean) damagedBefore = true;
    }
    this.stats.partitions += nextSequence.size;
    this.stats.streams += streams.size;
  }

  #checkContinuity(
    meta: DirectoryLayout,
    bucketId: number,
    segmentId: number,
    events: EventTable,
    nextSequence: Map<number, number>,
    streams: Map<string, StreamTrack>,
    damagedBefore: boolean,
    firstDamageOffset: number,
  ): void {
    const where = (i: number) => ({ bucket: bucketId, segment: segmentId, offset: events.offsets[i], file: DATA_FILE });
    for (let i = 0; i < events.length; i++) {
      const pid = events.partitionIds[i];
      const key = events.partitionKey(i);
      const damaged = damagedBefore || (firstDamageOffset >= 0 && firstDamageOffset < events.offsets[i]);
      const hint = damaged ? ' (damaged records were reported before this point)' : '';
      if (pid >= meta.partitionCount || bucketIdForPartition(pid, meta.bucketCount) !== bucketId) {
        this.add({ severity: 'problem', kind: 'partition', ...where(i), message: `event in partition ${pid}, which does not belong to bucket ${bucketId} of ${meta.bucketCount} (partition count ${meta.partitionCount})` });
      } else if (partitionHash(Buffer.from(key, 'latin1')) % meta.partitionCount !== pid) {
        this.add({ severity: 'problem', kind: 'partition', ...where(i), message: `event in partition ${pid}, but its partition key hashes to partition ${partitionHash(Buffer.from(key, 'latin1')) % meta.partitionCount}` });
      }
      const seq = events.sequences[i];
      const expected = nextSequence.get(pid) ?? 0;
      if (seq !== expected) {
        const what = seq > expected ? `a gap: ${seq - expected === 1 ? `sequence ${expected} is` : `sequences ${expected}..${seq - 1} are`} missing` : `sequence ${seq} repeats or goes back`;
        this.add({ severity: 'problem', kind: 'partition-sequence', ...where(i), message: `partition ${pid}: sequence ${seq} where ${expected} was expected (${what})${hint}` });
      }
      nextSequence.set(pid, seq + 1);

      const streamId = events.streamId(i);
      const version = events.versions[i];
      let track = streams.get(streamId);
      if (track === undefined) {
        if (streams.size >= this.o.streamsTrackedMax) {
          this.stats.streamsUntracked++;
          continue;
        }
        track = { version: -1, key };
        streams.set(streamId, track);
      }
      if (track.key !== key) {
        this.add({ severity: 'problem', kind: 'stream-version', ...where(i), message: `stream ${JSON.stringify(streamId)}: partition key changed at version ${version}` });
      }
      if (version !== track.version + 1) {
        const missing = version - track.version - 1;
        const what = missing > 0 ? `a gap: ${missing === 1 ? `version ${track.version + 1} is` : `versions ${track.version + 1}..${version - 1} are`} missing` : `version ${version} repeats or goes back`;
        this.add({ severity: 'problem', kind: 'stream-version', ...where(i), message: `stream ${JSON.stringify(streamId)}: version ${version} where ${track.version + 1} was expected (${what})${hint}` });
      }
      track.version = version;
    }
  }

  report(meta: DirectoryLayout | undefined, startedMs: number, repairs: RepairAction[]): VerifyReport {
    this.stats.elapsedMs = Date.now() - startedMs;
    if (this.stats.streamsUntracked > 0) {
      this.add({ severity: 'note', kind: 'limit', message: `${this.stats.streamsUntracked} stream(s) were not version-checked: more than ${this.o.streamsTrackedMax} streams in one bucket (streamsTrackedMax)` });
    }
    return {
      dir: this.dir,
      meta,
      clean: this.problems === 0,
      problems: this.problems,
      notes: this.notes,
      findings: this.findings,
      findingsOmitted: this.findingsOmitted,
      repairs,
      stats: this.stats,
    };
  }
}

export interface CheckSegmentOptions {
  io: FileIo;
  dir: string;
  bucketId: number;
  segmentId: number;
  /** The bucket's last segment: its tail is judged as recovery would, and its index files are not used. */
  active: boolean;
  /** One of the newest sealed segments, after the last with all its index files: a missing one is a note. */
  sealing?: boolean;
  meta: DirectoryLayout;
  mismatchesPerIndexMax?: number;
  /** Totals to add to (optional). */
  stats?: VerifyStats;
}

/**
 * Checks one segment: header, every record, transactions, and (sealed) its three index files against its data.
 * Exposed for campaigns that check one segment after each injected fault without re-verifying the directory.
 */
export function checkSegment(o: CheckSegmentOptions): SegmentCheck {
  const { io, dir, bucketId, segmentId, active, meta } = o;
  const findings: Finding[] = [];
  const rebuild: { file: string; reason: string }[] = [];
  const add = (f: Omit<Finding, 'bucket' | 'segment'>) => findings.push({ bucket: bucketId, segment: segmentId, ...f });
  const segDir = segmentDir(dir, bucketId, segmentId);
  const dataPath = segmentFile(dir, bucketId, segmentId, DATA_FILE);

  // Directory contents.
  for (const name of io.readdir(segDir)) {
    if (name === CHECKPOINT_FILE) {
      if (!active) add({ severity: 'note', kind: 'stray-file', file: name, message: 'checkpoint of a sealed segment, left by an interrupted rollover (unused)' });
    } else if (KNOWN_SEGMENT_FILES.has(name)) {
      if (active && name !== DATA_FILE) add({ severity: 'note', kind: 'stray-file', file: name, message: 'index file in the active segment, left by an interrupted rollover (unused; rewritten at the next rollover)' });
    } else if (name.endsWith('.tmp')) {
      add({ severity: 'note', kind: 'stray-file', file: name, message: 'temporary file left by an interrupted index write (unused; replaced by the next write)' });
    } else {
      add({ severity: 'note', kind: 'stray-file', file: name, message: 'unexpected file in the segment directory (ignored by the database)' });
    }
  }

  if (!io.exists(dataPath)) {
    if (active) {
      add({ severity: 'note', kind: 'segment-header', file: DATA_FILE, message: 'data file missing: segment creation was interrupted (opening the database creates it)' });
    } else {
      add({ severity: 'problem', kind: 'layout', file: DATA_FILE, message: 'data file of a sealed segment is missing' });
    }
    return { findings, rebuild, kept: new EventTable(), walk: undefined, dataClean: active };
  }

  const handle = io.open(dataPath, 'read');
  try {
    const size = handle.size();
    const end = Math.min(size, meta.segmentSizeBytes);
    const r = new WindowReader(handle, end);
    if (o.stats !== undefined) o.stats.dataBytes += end;

    // Header.
    let headerProblem: string | undefined;
    const headerBytes = r.load(0, SEGMENT_HEADER_BYTES);
    if (headerBytes < SEGMENT_HEADER_BYTES) headerProblem = `file of ${size} bytes is shorter than a segment header`;
    else {
      try {
        const h = decodeSegmentHeader(r.buf.subarray(r.at(0), r.at(0) + SEGMENT_HEADER_BYTES));
        const wrong: string[] = [];
        if (h.bucketId !== bucketId) wrong.push(`bucket id ${h.bucketId}`);
        if (h.segmentId !== segmentId) wrong.push(`segment id ${h.segmentId}`);
        if (h.segmentSizeBytes !== meta.segmentSizeBytes) wrong.push(`segment size ${h.segmentSizeBytes} (meta.json says ${meta.segmentSizeBytes})`);
        if (wrong.length > 0) headerProblem = `header names ${wrong.join(', ')}`;
      } catch (err) {
        headerProblem = (err as Error).message;
      }
    }
    if (size !== meta.segmentSizeBytes && headerProblem === undefined) {
      add({ severity: 'note', kind: 'segment-header', file: DATA_FILE, message: `file is ${size} bytes; segments are created at ${meta.segmentSizeBytes}` });
    }

    const walk = walkSegment(r);
    if (o.stats !== undefined) {
      o.stats.records += walk.records;
    }

    if (headerProblem !== undefined) {
      const empty = walk.records === 0 && walk.damage.length === 0;
      if (active && empty) {
        add({ severity: 'note', kind: 'segment-header', offset: 0, file: DATA_FILE, message: `${headerProblem}: segment creation was interrupted before any record (opening the database recreates it)` });
      } else {
        add({ severity: 'problem', kind: 'segment-header', offset: 0, file: DATA_FILE, message: `${headerProblem}; the segment holds ${walk.records} intact record(s)` });
      }
    }

    let kept = walk.events;
    let dataClean = headerProblem === undefined && walk.damage.length === 0 && walk.transactionIssues.length === 0;
    if (active) {
      kept = classifyActiveTail(handle, end, walk, add);
    } else {
      for (const d of walk.damage) add({ severity: 'problem', kind: 'corrupt-record', offset: d.start, file: DATA_FILE, message: damageText(d) });
      for (const t of walk.transactionIssues) add({ severity: 'problem', kind: 'transaction', offset: t.offset, file: DATA_FILE, message: t.message });
    }
    if (o.stats !== undefined) {
      o.stats.events += kept.length;
      o.stats.transactions += walk.transactions;
      o.stats.multiEventTransactions += walk.multiEventTransactions;
    }

    if (!active) {
      const facts: SegmentFacts = { events: walk.events, uncommitted: walk.uncommitted, damage: walk.damage };
      const max = o.mismatchesPerIndexMax ?? VERIFY_DEFAULTS.mismatchesPerIndexMax;
      const checks: [string, (p: string) => IndexVerdict][] = [
        [EVENT_INDEX_FILE, (p) => checkEventIndex(io, p, facts, max)],
        [PARTITION_INDEX_FILE, (p) => checkPartitionIndex(io, p, facts, max)],
        [STREAM_INDEX_FILE, (p) => checkStreamIndex(io, p, facts, max)],
      ];
      for (const [file, check] of checks) {
        const p = segmentFile(dir, bucketId, segmentId, file);
        let verdict: IndexVerdict;
        if (!io.exists(p)) {
          if (o.sealing === true) {
            add({ severity: 'note', kind: 'index-pending', file, message: 'index file not written yet: the segment was sealed moments ago (a sealer writes it), or the process stopped first (opening the database rebuilds it)' });
            rebuild.push({ file, reason: 'index file not written yet' });
            continue;
          }
          verdict = { kind: 'index-missing', messages: ['index file is missing'], entries: 0 };
        } else {
          try {
            verdict = check(p);
          } catch (err) {
            if (err instanceof IndexFileCorruptError) verdict = { kind: 'index-corrupt', messages: [err.message.startsWith(p) ? err.message.slice(p.length + 2) : err.message], entries: 0 };
            else verdict = { kind: 'io', messages: [`could not be read: ${(err as Error).message}`], entries: 0 };
          }
        }
        if (o.stats !== undefined) {
          o.stats.indexFilesChecked++;
          o.stats.indexEntriesChecked += verdict.entries;
        }
        if (verdict.kind === 'ok') continue;
        for (const m of verdict.messages) add({ severity: 'problem', kind: verdict.kind, file, message: m });
        if (verdict.kind !== 'io') rebuild.push({ file, reason: verdict.messages[0] });
      }
      if (!dataClean && rebuild.length > 0) {
        add({
          severity: 'note',
          kind: 'index-mismatch',
          file: rebuild.map((r) => r.file).join(', '),
          message: 'repair does not rebuild these index files: the data file is damaged, and the existing index may still reach intact records past the damage',
        });
        rebuild.length = 0;
      }
    }
    return { findings, rebuild, kept, walk, dataClean };
  } finally {
    handle.close();
  }
}

function damageText(d: Damage): string {
  const tail = d.next >= 0 ? `next intact record at offset ${d.next}` : `nothing intact follows (${d.end - d.start} bytes to the end of the data)`;
  return `corrupt record: ${d.reason}; ${tail}`;
}

/**
 * Judges the active segment's tail as recovery will: `scanCommitted` finds where the writer would resume; every
 * committed event before it is kept. Returns those events.
 */
function classifyActiveTail(handle: FileHandle, end: number, walk: SegmentWalk, add: (f: Omit<Finding, 'bucket' | 'segment'>) => void): EventTable {
  const scan = scanCommitted(handle, SEGMENT_HEADER_BYTES, end, () => {});
  const committedEnd = scan.committedEnd;
  const kept = new EventTable();
  let lost = 0;
  let firstLost = -1;
  for (let i = 0; i < walk.events.length; i++) {
    const offset = walk.events.offsets[i];
    if (offset < committedEnd) {
      kept.add({
        offset,
        eventId: walk.events.eventIds[i],
        partitionId: walk.events.partitionIds[i],
        sequence: walk.events.sequences[i],
        version: walk.events.versions[i],
        streamId: walk.events.streamId(i),
        partitionKey: walk.events.partitionKey(i),
      });
    } else {
      if (firstLost < 0) firstLost = offset;
      lost++;
    }
  }
  // Anything before the resume point that recovery skips silently (an unfinished transaction followed by others).
  for (const t of walk.transactionIssues) {
    if (t.offset < committedEnd) add({ severity: 'problem', kind: 'transaction', offset: t.offset, file: DATA_FILE, message: `${t.message}; recovery skips its events` });
  }
  if (walk.dataEnd <= committedEnd) return kept;
  const tailBytes = walk.dataEnd - committedEnd;
  const reasons = [
    ...walk.damage.filter((d) => d.start >= committedEnd).map((d) => `${d.reason} at offset ${d.start}`),
    ...walk.transactionIssues.filter((t) => t.offset >= committedEnd).map((t) => `${t.message} at offset ${t.offset}`),
  ];
  if (lost === 0) {
    add({
      severity: 'note',
      kind: 'torn-tail',
      offset: committedEnd,
      file: DATA_FILE,
      message: `torn tail (would be truncated on open): ${tailBytes} bytes after the last committed transaction${reasons.length > 0 ? `: ${reasons.join('; ')}` : ''}`,
    });
    return kept;
  }
  for (const d of walk.damage) {
    if (d.start >= committedEnd) add({ severity: 'problem', kind: 'corrupt-record', offset: d.start, file: DATA_FILE, message: damageText(d) });
  }
  for (const t of walk.transactionIssues) {
    if (t.offset >= committedEnd) add({ severity: 'problem', kind: 'transaction', offset: t.offset, file: DATA_FILE, message: t.message });
  }
  add({
    severity: 'problem',
    kind: 'corrupt-record',
    offset: committedEnd,
    file: DATA_FILE,
    message:
      `${lost} committed event(s) from offset ${firstLost} on lie past damage at offset ${committedEnd}: opening the database would truncate them ` +
      '(media corruption of acknowledged data, unless this is the torn last batch of a power cut, whose events were never acknowledged)',
  });
  return kept;
}

// ---------------------------------------------------------------------------------------------------------------
// Index files against the data

interface IndexVerdict {
  kind: 'ok' | 'index-missing' | 'index-corrupt' | 'index-mismatch' | 'io';
  messages: string[];
  entries: number;
}

/** Collects mismatch messages, listing the first `max`. */
class Mismatches {
  readonly #max: number;
  readonly messages: string[] = [];
  count = 0;
  constructor(max: number) {
    this.#max = max;
  }
  add(message: string): void {
    if (this.count++ < this.#max) this.messages.push(message);
  }
  verdict(entries: number): IndexVerdict {
    if (this.count === 0) return { kind: 'ok', messages: [], entries };
    const messages = [...this.messages];
    if (this.count > this.messages.length) messages.push(`... and ${this.count - this.messages.length} more mismatch(es) in this file`);
    return { kind: 'index-mismatch', messages, entries };
  }
}

/** True when an index entry pointing at `offset` is explained by damage already reported for the data file. */
function explainedByDamage(facts: SegmentFacts, offset: number): boolean {
  for (const d of facts.damage) if (offset >= d.start && offset < d.end) return true;
  return facts.damage.length > 0 && facts.uncommitted.has(offset);
}

const idText = (latin1: string) => Buffer.from(latin1, 'latin1').toString('hex');

function checkEventIndex(io: FileIo, filePath: string, facts: SegmentFacts, max: number): IndexVerdict {
  const index = EventIndexFile.open(io, filePath); // structure and checksum
  const h = io.open(filePath, 'read');
  try {
    const ev = facts.events;
    const m = new Mismatches(max);
    const header = Buffer.alloc(EVENT_INDEX_HEADER_BYTES);
    readExactly(h, header, 0, header.length, 0);
    const n = readU64(header, 8);
    const bits = header[6];
    const fanOutOffset = readU64(header, 24);
    const recordsOffset = readU64(header, 40);
    // One entry per event record; for an id repeated in the segment, lookup returns the smallest offset.
    const expected = new Map<string, number>();
    for (let i = 0; i < ev.length; i++) if (!expected.has(ev.eventIds[i])) expected.set(ev.eventIds[i], i);
    const seen = new Uint8Array(ev.length);
    const hashes = new Uint32Array(n);
    const page = Buffer.allocUnsafe(INDEX_PAGE_ENTRIES * EVENT_INDEX_RECORD_BYTES);
    let prevHash = -1;
    let prevId: Buffer | undefined;
    let prevOffset = -1;
    for (let first = 0; first < n; first += INDEX_PAGE_ENTRIES) {
      const count = Math.min(INDEX_PAGE_ENTRIES, n - first);
      readExactly(h, page, 0, count * EVENT_INDEX_RECORD_BYTES, recordsOffset + first * EVENT_INDEX_RECORD_BYTES);
      for (let k = 0; k < count; k++) {
        const at = k * EVENT_INDEX_RECORD_BYTES;
        const hash = page.readUInt32LE(at);
        const idBytes = page.subarray(at + 4, at + 20);
        const offset = readU64(page, at + 20);
        const id = idBytes.toString('latin1');
        hashes[first + k] = hash;
        if (keyHash32(idBytes) !== hash) m.add(`entry ${first + k} (event ${idText(id)}): stored hash 0x${hash.toString(16)} is not the hash of its id`);
        if (prevId !== undefined) {
          const order = hash - prevHash || compareBytes(idBytes, prevId) || offset - prevOffset;
          if (order <= 0) m.add(`entry ${first + k} (event ${idText(id)}) is out of order`);
        }
        prevHash = hash;
        prevId = Buffer.from(idBytes);
        prevOffset = offset;
        const i = ev.find(offset);
        if (i >= 0 && ev.eventIds[i] === id) seen[i] = 1;
        else if (i >= 0) m.add(`entry for event ${idText(id)} points at offset ${offset}, which holds event ${idText(ev.eventIds[i])}`);
        else if (!explainedByDamage(facts, offset)) m.add(`entry for event ${idText(id)} points at offset ${offset}, where no committed event record starts`);
      }
    }
    const fanOut = buildFanOut(hashes, bits);
    const stored = Buffer.alloc(fanOut.length * 4);
    readExactly(h, stored, 0, stored.length, fanOutOffset);
    for (let i = 0; i < fanOut.length; i++) {
      if (stored.readUInt32LE(4 * i) !== fanOut[i]) {
        m.add(`fan-out table entry ${i} is ${stored.readUInt32LE(4 * i)}, the records say ${fanOut[i]}`);
        break;
      }
    }
    for (let i = 0; i < ev.length; i++) {
      if (seen[i] === 0) m.add(`event ${idText(ev.eventIds[i])} at offset ${ev.offsets[i]} has no entry`);
    }
    for (const [id, i] of expected) {
      const found = index.lookup(Buffer.from(id, 'latin1'));
      if (found !== ev.offsets[i]) m.add(`lookup of event ${idText(id)} returns ${found === undefined ? 'nothing' : `offset ${found}`}, expected ${ev.offsets[i]}`);
    }
    return m.verdict(n);
  } finally {
    h.close();
    index.close();
  }
}

function checkPartitionIndex(io: FileIo, filePath: string, facts: SegmentFacts, max: number): IndexVerdict {
  const index = PartitionIndexFile.open(io, filePath);
  try {
    const ev = facts.events;
    const m = new Mismatches(max);
    const seen = new Uint8Array(ev.length);
    let entries = 0;
    for (const pid of index.partitionIds()) {
      const range = index.range(pid)!;
      for (let seq = range.first; seq <= range.last; ) {
        const offsets = index.offsets(pid, seq, INDEX_PAGE_ENTRIES);
        if (offsets.length === 0) {
          m.add(`partition ${pid}: no offsets returned from sequence ${seq} (range ${range.first}..${range.last})`);
          break;
        }
        for (const offset of offsets) {
          entries++;
          const i = ev.find(offset);
          if (i >= 0 && ev.partitionIds[i] === pid && ev.sequences[i] === seq) seen[i] = 1;
          else if (i >= 0) m.add(`partition ${pid} sequence ${seq} points at offset ${offset}, which holds partition ${ev.partitionIds[i]} sequence ${ev.sequences[i]}`);
          else if (!explainedByDamage(facts, offset)) m.add(`partition ${pid} sequence ${seq} points at offset ${offset}, where no committed event record starts`);
          seq++;
        }
      }
    }
    for (let i = 0; i < ev.length; i++) {
      if (seen[i] === 0) m.add(`event at offset ${ev.offsets[i]} (partition ${ev.partitionIds[i]} sequence ${ev.sequences[i]}) has no entry`);
    }
    return m.verdict(entries);
  } finally {
    index.close();
  }
}

function checkStreamIndex(io: FileIo, filePath: string, facts: SegmentFacts, max: number): IndexVerdict {
  const index = StreamIndexFile.open(io, filePath);
  const h = io.open(filePath, 'read');
  try {
    const ev = facts.events;
    const m = new Mismatches(max);
    const seen = new Uint8Array(ev.length);
    const header = Buffer.alloc(STREAM_INDEX_HEADER_BYTES);
    readExactly(h, header, 0, header.length, 0);
    const n = readU64(header, 8);
    const entriesOffset = readU64(header, 40);
    const page = Buffer.allocUnsafe(INDEX_PAGE_ENTRIES * STREAM_INDEX_ENTRY_BYTES);
    let entries = 0;
    let prevHash = -1;
    let prevName: Buffer | undefined;
    for (let first = 0; first < n; first += INDEX_PAGE_ENTRIES) {
      const count = Math.min(INDEX_PAGE_ENTRIES, n - first);
      readExactly(h, page, 0, count * STREAM_INDEX_ENTRY_BYTES, entriesOffset + first * STREAM_INDEX_ENTRY_BYTES);
      for (let k = 0; k < count; k++) {
        const at = k * STREAM_INDEX_ENTRY_BYTES;
        const hash = page.readUInt32LE(at);
        const length = page[at + 4];
        if (length < 1 || length > STREAM_INDEX_STREAM_ID_BYTES_MAX) {
          m.add(`entry ${first + k}: stream id length ${length} is out of range`);
          continue;
        }
        const nameBytes = Buffer.from(page.subarray(at + 8, at + 8 + length));
        const name = nameBytes.toString('utf8');
        const key = page.subarray(at + 72, at + 72 + STREAM_INDEX_PARTITION_KEY_BYTES).toString('latin1');
        const firstVersion = readU64(page, at + 88);
        const lastVersion = readU64(page, at + 96);
        if (keyHash32(nameBytes) !== hash) m.add(`entry for stream ${JSON.stringify(name)}: stored hash is not the hash of its id`);
        if (prevName !== undefined && (hash < prevHash || (hash === prevHash && compareBytes(nameBytes, prevName) <= 0))) m.add(`entry for stream ${JSON.stringify(name)} is out of order`);
        prevHash = hash;
        prevName = nameBytes;
        if (page[at + 5] !== 0 || page[at + 6] !== 0 || page[at + 7] !== 0 || page.subarray(at + 8 + length, at + 72).some((b) => b !== 0)) {
          m.add(`entry for stream ${JSON.stringify(name)}: reserved or padding bytes are not zero`);
        }
        // Offsets through the index's own lookup path (bloom filter, fan-out table, binary search).
        for (let v = firstVersion; v <= lastVersion; ) {
          const offsets = index.offsets(name, v, INDEX_PAGE_ENTRIES);
          if (offsets.length === 0) {
            m.add(`stream ${JSON.stringify(name)}: lookup finds no offsets from version ${v} (entry says ${firstVersion}..${lastVersion})`);
            break;
          }
          for (const offset of offsets) {
            entries++;
            const i = ev.find(offset);
            if (i >= 0 && ev.streamId(i) === name && ev.versions[i] === v && ev.partitionKey(i) === key) seen[i] = 1;
            else if (i >= 0) {
              m.add(
                `stream ${JSON.stringify(name)} version ${v} points at offset ${offset}, which holds stream ${JSON.stringify(ev.streamId(i))} version ${ev.versions[i]}` +
                  (ev.partitionKey(i) !== key ? ' with another partition key' : ''),
              );
            } else if (!explainedByDamage(facts, offset)) m.add(`stream ${JSON.stringify(name)} version ${v} points at offset ${offset}, where no committed event record starts`);
            v++;
          }
        }
      }
    }
    for (let i = 0; i < ev.length; i++) {
      if (seen[i] === 0) m.add(`event at offset ${ev.offsets[i]} (stream ${JSON.stringify(ev.streamId(i))} version ${ev.versions[i]}) has no entry`);
    }
    return m.verdict(entries);
  } finally {
    h.close();
    index.close();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Entry points

/** Rewrites the listed index files of one sealed segment from its committed events. */
function rebuildIndexFiles(io: FileIo, dir: string, bucketId: number, segmentId: number, events: EventTable, files: readonly string[]): void {
  const index = new SegmentIndex();
  for (let i = 0; i < events.length; i++) {
    index.add(
      Buffer.from(events.eventIds[i], 'latin1'),
      0,
      events.partitionIds[i],
      events.sequences[i],
      events.streamId(i),
      Buffer.from(events.partitionKey(i), 'latin1'),
      0,
      events.versions[i],
      events.offsets[i],
    );
  }
  // One event index entry per event record, as the writer seals them (a repeated id keeps every offset).
  writeIndexFiles(io, dir, bucketId, segmentId, { events: index.events.columns(), partitions: index.partitions, streams: index.streams }, files);
}

/** Verifies a data directory (and with `repair`, rebuilds damaged index files and verifies again). */
export function verify(dir: string, options: VerifyOptions = {}): VerifyReport {
  const startedMs = Date.now();
  // Rounds a power cut left in the commit logs only: the data files are checked as the next open will see them.
  const io = options.io ?? nodeFileIo;
  const entries = readCommitLogs(io, dir).logs.flatMap((l) => l.entries);
  const seen: VerifyOptions = entries.length === 0 ? options : { ...options, io: new ReplayedFileIo(io, dir, entries) };
  const logNote: Finding | undefined =
    entries.length === 0
      ? undefined
      : {
          severity: 'note',
          kind: 'commit-log',
          file: commitLogDir(dir),
          message: `the commit log holds ${entries.length} entries (${bytesText(entries.reduce((n, e) => n + e.bytes.length, 0))}) of acknowledged rounds: checked as replayed; opening the database writes them into their segment files`,
        };
  const first = new Verifier(dir, seen);
  if (logNote !== undefined) first.add(logNote);
  const meta = first.run();
  if (first.repairs.length === 0) return first.report(meta, startedMs, []);
  const second = new Verifier(dir, { ...seen, repair: false });
  if (logNote !== undefined) second.add(logNote);
  return second.report(second.run(), startedMs, first.repairs);
}

// ---------------------------------------------------------------------------------------------------------------
// The human report

const n = (x: number) => x.toLocaleString('en-US');

function bytesText(x: number): string {
  if (x >= 1 << 30) return `${(x / (1 << 30)).toFixed(1)} GiB`;
  if (x >= 1 << 20) return `${(x / (1 << 20)).toFixed(1)} MiB`;
  if (x >= 1 << 10) return `${(x / (1 << 10)).toFixed(1)} KiB`;
  return `${x} bytes`;
}

export function findingLocation(f: Finding): string {
  const parts: string[] = [];
  if (f.bucket !== undefined) parts.push(`bucket ${f.bucket}`);
  if (f.segment !== undefined) parts.push(`segment ${f.segment}`);
  if (f.file !== undefined) parts.push(f.file);
  if (f.offset !== undefined) parts.push(`offset ${f.offset}`);
  return parts.join(' ');
}

export function formatReport(report: VerifyReport): string {
  const lines: string[] = [];
  const m = report.meta;
  lines.push(`sierradb verify ${report.dir}`);
  if (m !== undefined) lines.push(`  layout: ${m.bucketCount} buckets, ${m.partitionCount} partitions, segments of ${bytesText(m.segmentSizeBytes)}`);
  for (const r of report.repairs) lines.push(`  repaired: bucket ${r.bucket} segment ${r.segment} ${r.file} (was: ${r.reason})`);
  const problems = report.findings.filter((f) => f.severity === 'problem');
  const notes = report.findings.filter((f) => f.severity === 'note');
  if (problems.length > 0) {
    lines.push(`problems (${report.problems}):`);
    for (const f of problems) lines.push(`  ${findingLocation(f)}: [${f.kind}] ${f.message}`);
  }
  if (notes.length > 0) {
    lines.push(`notes (${report.notes}):`);
    for (const f of notes) lines.push(`  ${findingLocation(f)}: [${f.kind}] ${f.message}`);
  }
  if (report.findingsOmitted > 0) lines.push(`  ... ${n(report.findingsOmitted)} more finding(s) not listed`);
  const s = report.stats;
  lines.push(
    `checked ${n(s.buckets)} buckets, ${n(s.segments)} segments (${n(s.sealedSegments)} sealed), ${n(s.records)} records, ` +
      `${n(s.events)} events in ${n(s.transactions)} transactions (${n(s.multiEventTransactions)} multi-event), ` +
      `${n(s.partitions)} partitions, ${n(s.streams)} streams, ${n(s.indexFilesChecked)} index files (${n(s.indexEntriesChecked)} entries), ` +
      `${bytesText(s.dataBytes)} of data in ${(s.elapsedMs / 1000).toFixed(1)} s`,
  );
  lines.push(report.clean ? `result: clean${report.notes > 0 ? ` (${report.notes} note(s))` : ''}` : `result: ${report.problems} problem(s) found`);
  return `${lines.join('\n')}\n`;
}
