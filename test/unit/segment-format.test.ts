import { describe, expect, it } from 'vitest';
import {
  COMMIT_RECORD_BYTES,
  decodeEventRecord,
  decodeSegmentHeader,
  encodeCommitRecord,
  encodeEventRecord,
  encodeSegmentHeader,
  eventRecordBytes,
  probeRecord,
  RecordKind,
  type EventFields,
} from '../../native-free-io/segment-format.ts';
import { generateEventId, generateTransactionId } from '../../src/ids/event-id.ts';
import { partitionKeyForStream } from '../../src/ids/partition-key.ts';

function sampleFields(): EventFields {
  return {
    eventId: generateEventId(61013, 1_700_000_000_000),
    partitionKey: partitionKeyForStream('user-123'),
    transactionId: generateTransactionId(1),
    partitionId: 21,
    timestampMs: 1_700_000_000_123,
    streamId: Buffer.from('user-123'),
    eventName: Buffer.from('UserRegistered'),
    metadata: Buffer.from('{"m":1}'),
    payload: Buffer.from('{"name":"ada","bytes":"\u0000\r\n"}'),
  };
}

describe('segment header', () => {
  it('round trips and rejects corruption', () => {
    const h = { bucketId: 3, segmentId: 17, createdAtMs: 1_700_000_000_000, segmentSizeBytes: 268_435_456 };
    const buf = encodeSegmentHeader(h);
    expect(decodeSegmentHeader(buf)).toEqual(h);
    for (let bit = 0; bit < buf.length * 8; bit++) {
      const copy = Buffer.from(buf);
      copy[bit >> 3] ^= 1 << (bit & 7);
      expect(() => decodeSegmentHeader(copy)).toThrow();
    }
  });
});

describe('event record', () => {
  it('round trips every field, with large sequence numbers', () => {
    const f = sampleFields();
    const length = eventRecordBytes(f.streamId.length, f.eventName.length, f.metadata.length, f.payload.length);
    const buf = Buffer.alloc(length + 10);
    expect(encodeEventRecord(buf, 5, f, 2 ** 40 + 7, 2 ** 33 + 1)).toBe(length);
    const probe = probeRecord(buf, 5, length, length);
    expect(probe).toEqual({ status: 'ok', kind: RecordKind.event, length, confirmation: 1 });
    const e = decodeEventRecord(buf, 5);
    expect(Buffer.from(e.eventId)).toEqual(Buffer.from(f.eventId));
    expect(Buffer.from(e.partitionKey)).toEqual(Buffer.from(f.partitionKey));
    expect(Buffer.from(e.transactionId)).toEqual(Buffer.from(f.transactionId));
    expect(e).toMatchObject({
      partitionId: 21,
      partitionSequence: 2 ** 40 + 7,
      streamVersion: 2 ** 33 + 1,
      timestampMs: 1_700_000_000_123,
      streamId: 'user-123',
      eventName: 'UserRegistered',
    });
    expect(e.metadata).toEqual(f.metadata);
    expect(e.payload).toEqual(f.payload);
  });

  it('detects every single-bit flip in a record', () => {
    const f = sampleFields();
    const length = eventRecordBytes(f.streamId.length, f.eventName.length, f.metadata.length, f.payload.length);
    const buf = Buffer.alloc(length);
    encodeEventRecord(buf, 0, f, 42, 7);
    let detected = 0;
    for (let bit = 0; bit < length * 8; bit++) {
      const copy = Buffer.from(buf);
      copy[bit >> 3] ^= 1 << (bit & 7);
      const probe = probeRecord(copy, 0, length, length);
      // A flip may make the length claim more bytes than exist ('short' at end of file) or fewer (corrupt);
      // either way the record is never accepted.
      expect(probe.status, `bit ${bit}`).not.toBe('ok');
      detected++;
    }
    expect(detected).toBe(length * 8);
  });

  it('a commit record round trips and its flips are detected', () => {
    const txn = generateTransactionId(3);
    const buf = Buffer.alloc(COMMIT_RECORD_BYTES);
    encodeCommitRecord(buf, 0, txn, 3, 100, 1_700_000_000_000);
    expect(probeRecord(buf, 0, buf.length, buf.length)).toMatchObject({ status: 'ok', kind: RecordKind.commit });
    for (let bit = 0; bit < buf.length * 8; bit++) {
      const copy = Buffer.from(buf);
      copy[bit >> 3] ^= 1 << (bit & 7);
      expect(probeRecord(copy, 0, copy.length, copy.length).status).not.toBe('ok');
    }
  });

  it('a zero header is the end of data', () => {
    expect(probeRecord(Buffer.alloc(64), 0, 64, 64)).toEqual({ status: 'end' });
  });
});
