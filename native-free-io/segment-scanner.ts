/**
 * Sequential reading of a segment's records, and grouping them into committed transactions.
 *
 * A single-event transaction (transaction id byte-8 MSB set) is committed by itself. A multi-event transaction is
 * committed only when its commit record (same transaction id, matching event count) follows its events; until then
 * its events are invisible, and recovery truncates them with the torn tail.
 */
import type { FileHandle } from './file-io.ts';
import {
  decodeCommitRecord,
  eventRecordField,
  probeRecord,
  RecordKind,
  RECORD_HEADER_BYTES,
} from './segment-format.ts';

const CHUNK_BYTES = 1 << 20;

export type ScanStep =
  | { status: 'record'; kind: RecordKind; offset: number; length: number; buf: Buffer; at: number }
  | { status: 'end'; offset: number }
  | { status: 'corrupt'; offset: number; reason: string };

/** Reads records one after another from `offset`, never past `limit` (a durable offset or the segment size). */
export class SegmentScanner {
  readonly #handle: FileHandle;
  #buf: Buffer = Buffer.allocUnsafe(CHUNK_BYTES);
  #bufStart = 0; // file offset of #buf[0]
  #bufLength = 0;
  #offset: number;
  readonly #limit: number;
  readonly #verifyChecksums: boolean;

  constructor(handle: FileHandle, offset: number, limit: number, verifyChecksums = true) {
    this.#handle = handle;
    this.#offset = offset;
    this.#bufStart = offset;
    this.#limit = limit;
    this.#verifyChecksums = verifyChecksums;
  }

  get offset(): number {
    return this.#offset;
  }

  next(): ScanStep {
    const offset = this.#offset;
    const maxLength = this.#limit - offset;
    if (maxLength <= 0) return { status: 'end', offset };
    for (;;) {
      const at = offset - this.#bufStart;
      const available = this.#bufLength - at;
      const probe = probeRecord(this.#buf, at, available, maxLength, this.#verifyChecksums);
      if (probe.status === 'end') return { status: 'end', offset };
      if (probe.status === 'corrupt') return { status: 'corrupt', offset, reason: probe.reason };
      if (probe.status === 'short') {
        const need = Math.min(probe.needBytes, maxLength);
        if (!this.#fill(offset, need)) {
          // The file ends (or holds zeros) before the record does: a torn write.
          if (this.#bufLength - (offset - this.#bufStart) < RECORD_HEADER_BYTES) return { status: 'end', offset };
          return { status: 'corrupt', offset, reason: 'record runs past the end of the file' };
        }
        continue;
      }
      this.#offset = offset + probe.length;
      return { status: 'record', kind: probe.kind, offset, length: probe.length, buf: this.#buf, at };
    }
  }

  /** Makes #buf hold at least `need` bytes starting at file offset `from`; false if the file is shorter. */
  #fill(from: number, need: number): boolean {
    const want = Math.max(need, CHUNK_BYTES);
    if (this.#buf.length < want) this.#buf = Buffer.allocUnsafe(want);
    const readable = Math.min(want, this.#limit - from);
    let got = 0;
    while (got < readable) {
      const n = this.#handle.read(this.#buf, got, readable - got, from + got);
      if (n === 0) break;
      got += n;
    }
    this.#bufStart = from;
    this.#bufLength = got;
    return got >= need;
  }
}

export interface CommittedEvent {
  /** Record offset in the segment file. */
  offset: number;
  length: number;
  /** The buffer holding the record, valid only during the callback. */
  buf: Buffer;
  at: number;
}

export interface CommittedScanResult {
  /** Offset just past the last committed transaction: where a writer appends next. */
  committedEnd: number;
  /** Why the scan stopped. */
  stop: 'end' | 'corrupt' | 'limit';
  reason?: string;
  /** Offset of the first bad or uncommitted byte when stop !== 'end' (or uncommitted events were dropped). */
  badOffset?: number;
  /** Events of an uncommitted transaction dropped at the tail. */
  droppedEvents: number;
}

const EMPTY = Buffer.alloc(0);
/** Where the transaction id sits in an event record's body. */
const TRANSACTION_ID_AT = 32;

/**
 * Scans from `offset` to `limit`, calling `onTransaction` with the events of each committed transaction in order.
 * The array, its entries and the event buffers are valid only during the call (copy what you keep).
 */
export function scanCommitted(
  handle: FileHandle,
  offset: number,
  limit: number,
  onTransaction: (events: CommittedEvent[]) => void,
  /** false: skip the CRC32C of each record (see probeRecord); recovery always verifies. */
  verifyChecksums = true,
): CommittedScanResult {
  const scanner = new SegmentScanner(handle, offset, limit, verifyChecksums);
  const one: CommittedEvent[] = [{ offset: 0, length: 0, buf: EMPTY, at: 0 }];
  let committedEnd = offset;
  let pending: CommittedEvent[] = [];
  let pendingTxn: Buffer | undefined;
  let pendingStart = offset;
  const dropPending = () => {
    const n = pending.length;
    pending = [];
    pendingTxn = undefined;
    return n;
  };
  for (;;) {
    const step = scanner.next();
    if (step.status !== 'record') {
      const droppedEvents = dropPending();
      if (step.status === 'end') {
        const atLimit = step.offset >= limit;
        return {
          committedEnd,
          stop: atLimit ? 'limit' : 'end',
          droppedEvents,
          badOffset: droppedEvents > 0 ? pendingStart : undefined,
        };
      }
      return { committedEnd, stop: 'corrupt', reason: step.reason, badOffset: droppedEvents > 0 ? pendingStart : step.offset, droppedEvents };
    }
    if (step.kind === RecordKind.event) {
      // The transaction id's byte 8 MSB: set for a transaction of one event (no commit record follows).
      const single = (step.buf[step.at + RECORD_HEADER_BYTES + TRANSACTION_ID_AT + 8] & 0x80) !== 0;
      if (single) {
        if (pending.length > 0) dropPending(); // an unfinished transaction cannot be followed by another
        // One array and entry for every single-event transaction: valid only during the call, like the buffer.
        const only = one[0];
        only.offset = step.offset;
        only.length = step.length;
        only.buf = step.buf;
        only.at = step.at;
        onTransaction(one);
        committedEnd = step.offset + step.length;
        continue;
      }
      const txn = eventRecordField.transactionId(step.buf, step.at);
      if (pendingTxn === undefined || !pendingTxn.equals(txn)) {
        dropPending();
        pendingTxn = Buffer.from(txn);
        pendingStart = step.offset;
      }
      pending.push({ offset: step.offset, length: step.length, buf: Buffer.from(step.buf.subarray(step.at, step.at + step.length)), at: 0 });
      continue;
    }
    // Commit record.
    const commit = decodeCommitRecord(step.buf, step.at);
    if (pendingTxn !== undefined && pendingTxn.equals(commit.transactionId) && commit.eventCount === pending.length) {
      onTransaction(pending);
      committedEnd = step.offset + step.length;
      dropPending();
    } else {
      const droppedEvents = dropPending();
      return { committedEnd, stop: 'corrupt', reason: 'commit record without its events', badOffset: step.offset, droppedEvents };
    }
  }
}
