/**
 * The in-memory indexes of one segment (event id → offset, partition → sequence offsets, stream → version offsets),
 * built while a segment is active by its writer and by every reader that follows it, and written out as the three
 * index files when the segment is sealed. Within one segment a partition's sequences, and a stream's versions, are
 * contiguous, so each keeps its first number and one offset per event.
 */
import { writeEventIndexFile, type EventIdColumns } from '../../native-free-io/event-index-file.ts';
import { writePartitionIndexFile } from '../../native-free-io/partition-index-file.ts';
import { writeStreamIndexFile } from '../../native-free-io/stream-index-file.ts';
import type { FileIo } from '../../native-free-io/file-io.ts';
import { EVENT_INDEX_FILE, PARTITION_INDEX_FILE, segmentFile, STREAM_INDEX_FILE } from '../../native-free-io/data-layout.ts';
import { eventRecordField, RECORD_HEADER_BYTES } from '../../native-free-io/segment-format.ts';
import { EventIdTable } from './event-id-table.ts';

export interface PartitionEntry {
  firstSequence: number;
  offsets: number[];
}

export interface StreamEntry {
  partitionKey: Uint8Array;
  firstVersion: number;
  offsets: number[];
}

/** The questions asked of a segment's indexes, answered from memory (active segment) or from its index files. */
export interface SegmentLookup {
  eventOffset(eventId: Uint8Array): number | undefined;
  mightContainEvent(eventId: Uint8Array): boolean;
  partitionIds(): number[];
  partitionRange(partitionId: number): { first: number; last: number } | undefined;
  /** Record offsets of sequences `fromSequence`.. in order, at most `maxCount`, clipped to the segment's range. */
  partitionOffsets(partitionId: number, fromSequence: number, maxCount: number): number[];
  mightContainStream(streamId: string): boolean;
  streamRange(streamId: string): { partitionKey: Uint8Array; first: number; last: number } | undefined;
  streamOffsets(streamId: string, fromVersion: number, maxCount: number): number[];
  close(): void;
}

export class SegmentIndex implements SegmentLookup {
  readonly events = new EventIdTable();
  readonly partitions = new Map<number, PartitionEntry>();
  readonly streams = new Map<string, StreamEntry>();

  /** Indexes an accepted event record at file offset `offset` whose bytes are at `buf[at..]`. */
  addRecord(buf: Buffer, at: number, offset: number): void {
    const body = at + RECORD_HEADER_BYTES;
    this.add(
      buf,
      body,
      eventRecordField.partitionId(buf, at),
      eventRecordField.partitionSequence(buf, at),
      eventRecordField.streamId(buf, at),
      buf,
      body + 16,
      eventRecordField.streamVersion(buf, at),
      offset,
    );
  }

  /**
   * Indexes one event: its id is the 16 bytes at `eventId[eventIdAt..]`, its partition key those at
   * `partitionKey[partitionKeyAt..]` (both copied; the arrays may be reused afterwards).
   */
  add(
    eventId: Uint8Array,
    eventIdAt: number,
    partitionId: number,
    sequence: number,
    streamId: string,
    partitionKey: Uint8Array,
    partitionKeyAt: number,
    version: number,
    offset: number,
  ): void {
    this.events.add(eventId, eventIdAt, offset);
    const p = this.partitions.get(partitionId);
    if (p === undefined) this.partitions.set(partitionId, { firstSequence: sequence, offsets: [offset] });
    else p.offsets.push(offset);
    const s = this.streams.get(streamId);
    if (s === undefined) {
      // A copy (Buffer#slice would be a view of a buffer the caller reuses).
      this.streams.set(streamId, { partitionKey: Uint8Array.prototype.slice.call(partitionKey, partitionKeyAt, partitionKeyAt + 16), firstVersion: version, offsets: [offset] });
    } else s.offsets.push(offset);
  }

  eventOffset(eventId: Uint8Array): number | undefined {
    return this.events.get(eventId);
  }

  mightContainEvent(eventId: Uint8Array): boolean {
    return this.events.has(eventId);
  }

  partitionIds(): number[] {
    return [...this.partitions.keys()].sort((a, b) => a - b);
  }

  partitionRange(partitionId: number): { first: number; last: number } | undefined {
    const p = this.partitions.get(partitionId);
    return p === undefined ? undefined : { first: p.firstSequence, last: p.firstSequence + p.offsets.length - 1 };
  }

  partitionOffsets(partitionId: number, fromSequence: number, maxCount: number): number[] {
    const p = this.partitions.get(partitionId);
    if (p === undefined) return [];
    const start = Math.max(0, fromSequence - p.firstSequence);
    return p.offsets.slice(start, start + Math.max(0, maxCount));
  }

  mightContainStream(streamId: string): boolean {
    return this.streams.has(streamId);
  }

  streamRange(streamId: string): { partitionKey: Uint8Array; first: number; last: number } | undefined {
    const s = this.streams.get(streamId);
    return s === undefined ? undefined : { partitionKey: s.partitionKey, first: s.firstVersion, last: s.firstVersion + s.offsets.length - 1 };
  }

  streamOffsets(streamId: string, fromVersion: number, maxCount: number): number[] {
    const s = this.streams.get(streamId);
    if (s === undefined) return [];
    const start = Math.max(0, fromVersion - s.firstVersion);
    return s.offsets.slice(start, start + Math.max(0, maxCount));
  }

  close(): void {}

  writeFiles(io: FileIo, dir: string, bucketId: number, segmentId: number): void {
    writeIndexFiles(io, dir, bucketId, segmentId, { events: this.events.columns(), partitions: this.partitions, streams: this.streams });
  }
}

type Offsets = ArrayLike<number> & Iterable<number>;

/** What a sealed segment's three index files hold: from a SegmentIndex, or from a sealer's copy of one. */
export interface IndexFileContents {
  events: EventIdColumns;
  partitions: ReadonlyMap<number, { firstSequence: number; offsets: Offsets }>;
  streams: ReadonlyMap<string, { partitionKey: Uint8Array; firstVersion: number; offsets: Offsets }>;
}

/**
 * Writes the segment's index files, each durably (temp file, fdatasync, rename, directory fsync): all three, or the
 * ones named in `only` (a repair rewrites just the damaged ones).
 */
export function writeIndexFiles(io: FileIo, dir: string, bucketId: number, segmentId: number, c: IndexFileContents, only?: readonly string[]): void {
  const wanted = (name: string) => only === undefined || only.includes(name);
  if (wanted(EVENT_INDEX_FILE)) writeEventIndexFile(io, segmentFile(dir, bucketId, segmentId, EVENT_INDEX_FILE), c.events);
  if (wanted(PARTITION_INDEX_FILE)) writePartitionIndexFile(io, segmentFile(dir, bucketId, segmentId, PARTITION_INDEX_FILE), c.partitions);
  if (wanted(STREAM_INDEX_FILE)) writeStreamIndexFile(io, segmentFile(dir, bucketId, segmentId, STREAM_INDEX_FILE), c.streams);
}
