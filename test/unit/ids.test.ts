import { describe, expect, it } from 'vitest';
import {
  bucketIdForPartition,
  formatUuid,
  parseUuid,
  partitionHash,
  partitionIdForKey,
  partitionKeyForStream,
} from '../../src/ids/partition-key.ts';
import { generateEventId, generateTransactionId, isSingleEventTransaction } from '../../src/ids/event-id.ts';

describe('identifier derivation (reference test vectors)', () => {
  const vectors = [
    { stream: 'user-123', key: '7e124fe8-fe28-5398-bb95-53973100148f', hash: 61013, pid: 21, bucket: 1 },
    { stream: 'my-stream', key: 'fa3e31cd-2f38-5aee-bb91-8bc6fbf950a3', hash: 60998, pid: 6, bucket: 2 },
    { stream: 'orders', key: '4a5bf0d6-7d0e-50b2-b05f-ea5a8c8b597f', hash: 49535, pid: 31, bucket: 3 },
  ];
  for (const v of vectors) {
    it(`${v.stream} -> partition ${v.pid}, bucket ${v.bucket}`, () => {
      const key = partitionKeyForStream(v.stream);
      expect(formatUuid(key)).toBe(v.key);
      expect(partitionHash(key)).toBe(v.hash);
      expect(partitionIdForKey(key, 32)).toBe(v.pid);
      expect(bucketIdForPartition(v.pid, 4)).toBe(v.bucket);
    });
  }
  it('an explicit partition key hashes by its own bits', () => {
    const key = parseUuid('550e8400-e29b-41d4-a716-446655440000')!;
    expect(partitionHash(key)).toBe(40025);
    expect(partitionIdForKey(key, 32)).toBe(25);
    expect(bucketIdForPartition(25, 4)).toBe(1);
  });
});

describe('uuid parsing', () => {
  it('accepts hyphenated, simple, braced and urn forms', () => {
    const canonical = '550e8400-e29b-41d4-a716-446655440000';
    for (const form of [canonical, canonical.toUpperCase(), canonical.replaceAll('-', ''), `{${canonical}}`, `urn:uuid:${canonical}`, `  ${canonical} `]) {
      expect(formatUuid(parseUuid(form)!)).toBe(canonical);
    }
  });
  it('rejects malformed text', () => {
    for (const bad of ['', 'x', '550e8400-e29b-41d4-a716-44665544000', '550e8400e29b-41d4-a716-4466554400000', 'g50e8400-e29b-41d4-a716-446655440000']) {
      expect(parseUuid(bad)).toBeUndefined();
    }
  });
});

describe('generated ids', () => {
  it('event ids embed the partition hash, the clock and the version nibble', () => {
    for (const hash of [0, 1, 40025, 61013, 65535]) {
      const now = 1_700_000_000_123;
      const id = generateEventId(hash, now);
      expect(partitionHash(id)).toBe(hash);
      expect(id[7] & 0x0f).toBe(7);
      expect(id[8] >>> 6).toBe(0b10);
      expect(Buffer.from(id.subarray(0, 6)).readUIntBE(0, 6)).toBe(now);
    }
  });
  it('event ids are unique', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 10_000; i++) seen.add(formatUuid(generateEventId(7)));
    expect(seen.size).toBe(10_000);
  });
  it('transaction ids carry the single-event flag', () => {
    expect(isSingleEventTransaction(generateTransactionId(1))).toBe(true);
    expect(isSingleEventTransaction(generateTransactionId(2))).toBe(false);
    expect(formatUuid(generateTransactionId(1))[14]).toBe('4');
  });
});
