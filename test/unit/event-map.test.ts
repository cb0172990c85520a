/**
 * writeEventMap writes the event map straight into the encoder's slab; here it is checked byte for byte against
 * the same map written value by value with the encoder's general methods (the reference §1.4 layout), in RESP2
 * and RESP3, over real records with edited fixed fields (sequences, versions, timestamps across digit counts).
 */
import { describe, expect, it } from 'vitest';
import { EVENT_BODY_FIXED_BYTES, RECORD_HEADER_BYTES } from '../../native-free-io/segment-format.ts';
import { SimulatedFileIo } from '../../native-free-io/simulated-file-io.ts';
import { writeU64 } from '../../native-free-io/u64.ts';
import { open } from '../../src/database.ts';
import { encodeEvents, key, writeEventMap } from '../../src/protocol/event-map.ts';
import { RespEncoder, type RespProtocol } from '../../src/protocol/resp-encoder.ts';
import { RespReplyParser, type RespValue } from '../../src/protocol/resp-reply-parser.ts';

/** The map value by value, through the encoder's general methods. */
function referenceMap(e: RespEncoder, buf: Buffer, at: number): void {
  const body = at + RECORD_HEADER_BYTES;
  const u64 = (o: number) => buf.readUInt32LE(o) + buf.readUInt32LE(o + 4) * 2 ** 32;
  e.mapHeader(11);
  e.raw(key.eventId);
  e.uuidSimple(buf, body);
  e.raw(key.partitionKey);
  e.uuidSimple(buf, body + 16);
  e.raw(key.partitionId);
  e.integer(buf.readUInt16LE(body + 72));
  e.raw(key.transactionId);
  e.uuidSimple(buf, body + 32);
  e.raw(key.partitionSequence);
  e.integer(u64(body + 48));
  e.raw(key.streamVersion);
  e.integer(u64(body + 56));
  e.raw(key.timestamp);
  e.integer(u64(body + 64));
  const lengths = [buf[body + 74], buf[body + 75], buf.readUInt32LE(body + 76), buf.readUInt32LE(body + 80)];
  const keys = [key.streamId, key.eventName, key.metadata, key.payload];
  let p = body + EVENT_BODY_FIXED_BYTES;
  for (let i = 0; i < 4; i++) {
    e.raw(keys[i]);
    e.bulkStringRange(buf, p, p + lengths[i]);
    p += lengths[i];
  }
}

async function sampleRecords(): Promise<{ records: Buffer; count: number }> {
  const db = await open('/db', { threads: false, io: new SimulatedFileIo(), bucketCount: 1, partitionCount: 1 });
  const payloads = ['', 'x', 'y'.repeat(32), 'z'.repeat(33), 'é→\r\n', 'p'.repeat(5000)];
  for (let i = 0; i < 24; i++) {
    await db.append(`stream-${i % 5}${'s'.repeat(i * 2)}`, i % 3 === 0 ? '' : `Event${i}`, {
      payload: payloads[i % payloads.length],
      metadata: i % 4 === 0 ? undefined : `meta-${i}`.repeat(i),
    });
  }
  const r = await db.scanPartitionRaw(0, 0, Number.MAX_SAFE_INTEGER, 100);
  await db.close();
  return { records: Buffer.from(r.records), count: r.count };
}

const FIXED_VALUES = [0, 9, 10, 99, 100, 12345, 2 ** 31, 2 ** 32 + 7, 10 ** 15, Number.MAX_SAFE_INTEGER];

describe('writeEventMap', () => {
  it('writes the same bytes as the map written value by value, in RESP2 and RESP3', async () => {
    const { records, count } = await sampleRecords();
    expect(count).toBe(24);
    for (const protocol of [2, 3] as RespProtocol[]) {
      let at = 0;
      for (let i = 0; i < count; i++) {
        const body = at + RECORD_HEADER_BYTES;
        // Edit the fixed integers of the record (the map reads them; no CRC is checked here).
        writeU64(records, body + 48, FIXED_VALUES[i % FIXED_VALUES.length]);
        writeU64(records, body + 56, FIXED_VALUES[(i + 3) % FIXED_VALUES.length]);
        writeU64(records, body + 64, FIXED_VALUES[(i + 7) % FIXED_VALUES.length]);
        // A small slab, so that maps also start near its end and make the encoder move to a new one.
        const fast = new RespEncoder({ protocol, slabBytes: 64 });
        const reference = new RespEncoder({ protocol, slabBytes: 64 });
        fast.simpleString('x'.repeat(i));
        reference.simpleString('x'.repeat(i));
        writeEventMap(fast, records, at);
        referenceMap(reference, records, at);
        expect(fast.take().toString('latin1')).toBe(reference.take().toString('latin1'));
        at += RECORD_HEADER_BYTES + records.readUInt32LE(at + 8);
      }
    }
  });

  it('parses back to the event fields, and encodeEvents bounds each map', async () => {
    const { records, count } = await sampleRecords();
    const bounds = new Uint32Array(count + 1);
    const bytes = encodeEvents(records, count, 3, false, 0, bounds);
    const values: RespValue[] = [];
    expect(new RespReplyParser().feed(bytes, (v) => values.push(v))).toBeUndefined();
    expect(values).toHaveLength(count);
    const first = values[0] as Map<RespValue, RespValue>;
    expect([...first.keys()].map(String)).toEqual([
      'event_id', 'partition_key', 'partition_id', 'transaction_id', 'partition_sequence', 'stream_version', 'timestamp',
      'stream_id', 'event_name', 'metadata', 'payload',
    ]);
    expect(first.get('partition_sequence')).toBe(0);
    expect(String(first.get('stream_id'))).toBe('stream-0');
    for (let i = 0; i < count; i++) {
      const one: RespValue[] = [];
      new RespReplyParser().feed(bytes.subarray(bounds[i], bounds[i + 1]), (v) => one.push(v));
      expect(one).toHaveLength(1);
      expect((one[0] as Map<RespValue, RespValue>).get('partition_sequence')).toBe(i);
    }
    expect(bounds[count]).toBe(bytes.length);
  });
});
