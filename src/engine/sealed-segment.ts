/**
 * A sealed (immutable) segment answered through its three index files. When a file is missing or fails its
 * checksum, the indexes are rebuilt by scanning the data file: the writer (at recovery) writes the files again,
 * readers keep the rebuilt index in memory and never write.
 */
import type { Logger } from 'pino';
import { EventIndexFile } from '../../native-free-io/event-index-file.ts';
import { PartitionIndexFile } from '../../native-free-io/partition-index-file.ts';
import { StreamIndexFile } from '../../native-free-io/stream-index-file.ts';
import type { FileHandle, FileIo } from '../../native-free-io/file-io.ts';
import {
  DATA_FILE,
  EVENT_INDEX_FILE,
  PARTITION_INDEX_FILE,
  segmentFile,
  STREAM_INDEX_FILE,
} from '../../native-free-io/data-layout.ts';
import { SEGMENT_HEADER_BYTES } from '../../native-free-io/segment-format.ts';
import { scanCommitted } from '../../native-free-io/segment-scanner.ts';
import { SegmentIndex, type SegmentLookup } from './segment-index.ts';

class IndexFilesLookup implements SegmentLookup {
  readonly #events: EventIndexFile;
  readonly #partitions: PartitionIndexFile;
  readonly #streams: StreamIndexFile;
  constructor(events: EventIndexFile, partitions: PartitionIndexFile, streams: StreamIndexFile) {
    this.#events = events;
    this.#partitions = partitions;
    this.#streams = streams;
  }
  eventOffset(eventId: Uint8Array): number | undefined {
    return this.#events.mightContain(eventId) ? this.#events.lookup(eventId) : undefined;
  }
  mightContainEvent(eventId: Uint8Array): boolean {
    return this.#events.mightContain(eventId);
  }
  partitionIds(): number[] {
    return this.#partitions.partitionIds();
  }
  partitionRange(partitionId: number) {
    return this.#partitions.range(partitionId);
  }
  partitionOffsets(partitionId: number, fromSequence: number, maxCount: number): number[] {
    return this.#partitions.offsets(partitionId, fromSequence, maxCount);
  }
  mightContainStream(streamId: string): boolean {
    return this.#streams.mightContain(streamId);
  }
  streamRange(streamId: string) {
    if (!this.#streams.mightContain(streamId)) return undefined;
    const r = this.#streams.lookup(streamId);
    return r === undefined ? undefined : { partitionKey: r.partitionKey, first: r.firstVersion, last: r.lastVersion };
  }
  streamOffsets(streamId: string, fromVersion: number, maxCount: number): number[] {
    return this.#streams.offsets(streamId, fromVersion, maxCount);
  }
  close(): void {
    this.#events.close();
    this.#partitions.close();
    this.#streams.close();
  }
}

/** Builds a segment's in-memory index by scanning its data file (committed transactions only). */
export function rebuildSegmentIndex(handle: FileHandle, limit: number): { index: SegmentIndex; end: number } {
  const index = new SegmentIndex();
  const result = scanCommitted(handle, SEGMENT_HEADER_BYTES, limit, (events) => {
    for (const e of events) index.addRecord(e.buf, e.at, e.offset);
  });
  return { index, end: result.committedEnd };
}

export interface SealedSegmentOptions {
  io: FileIo;
  dir: string;
  bucketId: number;
  segmentId: number;
  /** Rewrite missing or corrupt index files (the writer at recovery); readers only rebuild in memory. */
  repairIndexFiles: boolean;
  logger?: Logger;
}

export class SealedSegment {
  readonly segmentId: number;
  readonly lookup: SegmentLookup;
  readonly data: FileHandle;

  private constructor(segmentId: number, lookup: SegmentLookup, data: FileHandle) {
    this.segmentId = segmentId;
    this.lookup = lookup;
    this.data = data;
  }

  static open(o: SealedSegmentOptions): SealedSegment {
    const file = (name: string) => segmentFile(o.dir, o.bucketId, o.segmentId, name);
    const data = o.io.open(file(DATA_FILE), 'read');
    try {
      const lookup = new IndexFilesLookup(
        EventIndexFile.open(o.io, file(EVENT_INDEX_FILE)),
        PartitionIndexFile.open(o.io, file(PARTITION_INDEX_FILE)),
        StreamIndexFile.open(o.io, file(STREAM_INDEX_FILE)),
      );
      return new SealedSegment(o.segmentId, lookup, data);
    } catch (err) {
      o.logger?.warn({ bucket: o.bucketId, segment: o.segmentId, err: String(err) }, 'sealed segment index unusable; rebuilding from the data file');
      const { index } = rebuildSegmentIndex(data, data.size());
      if (o.repairIndexFiles) index.writeFiles(o.io, o.dir, o.bucketId, o.segmentId);
      return new SealedSegment(o.segmentId, index, data);
    }
  }

  /** Wraps an index already in memory (a segment this process just sealed). */
  static fromIndex(segmentId: number, index: SegmentLookup, data: FileHandle): SealedSegment {
    return new SealedSegment(segmentId, index, data);
  }

  close(): void {
    this.lookup.close();
    this.data.close();
  }
}
