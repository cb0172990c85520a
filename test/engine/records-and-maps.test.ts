/**
 * Partition pages for subscriptions (ReadEncoding.records): a read worker returns the raw records and, after them
 * in the same recycled buffer, each event's map encoded in the subscriber's protocol, with the maps' bounds. Checked
 * against a plain read of the same records and the maps encoded here, for pages that fit the recycled buffer and
 * pages of large events that do not.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { open, type Database } from '../../src/database.ts';
import { encodeEvents } from '../../src/protocol/event-map.ts';
import type { RespProtocol } from '../../src/protocol/resp-encoder.ts';

let dir: string;
let db: Database;
const SMALL = 700;
const LARGE = 6;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sierradb-records-maps-'));
  db = await open(dir, { threads: { write: 1, read: 1 }, bucketCount: 1, partitionCount: 1 });
  for (let i = 0; i < SMALL; i++) await db.append(`s-${i % 7}`, 'Small', { payload: `{"i":${i}}`.padEnd(20 + (i % 300), '.'), metadata: i % 2 ? `m${i}` : undefined });
  for (let i = 0; i < LARGE; i++) await db.append('big', 'Large', { payload: 'L'.repeat(200_000 + i) });
});

afterAll(async () => {
  await db.close();
  rmSync(dir, { recursive: true, force: true });
});

async function check(from: number, count: number, protocol: RespProtocol): Promise<{ recycled: boolean; count: number }> {
  const plain = await db.scanPartitionRaw(0, from, Number.MAX_SAFE_INTEGER, count);
  const both = await db.scanPartitionRaw(0, from, Number.MAX_SAFE_INTEGER, count, { resp: protocol, records: true }, true);
  expect(both.count).toBe(plain.count);
  expect(both.hasMore).toBe(plain.hasMore);
  expect(Buffer.compare(both.records, plain.records)).toBe(0);
  const bounds = new Uint32Array(plain.count + 1);
  const maps = encodeEvents(plain.records, plain.count, protocol, false, 0, bounds);
  expect(both.resp).toBeDefined();
  expect(Buffer.compare(both.resp!, maps)).toBe(0);
  expect([...both.bounds!]).toEqual([...bounds]);
  const recycled = both.release !== undefined;
  both.release?.();
  return { recycled, count: both.count };
}

describe('partition pages with records and maps (read workers)', () => {
  it('small events: records and maps share the recycled buffer, in RESP3 and RESP2', async () => {
    for (const protocol of [3, 2] as RespProtocol[]) {
      const first = await check(0, 512, protocol);
      expect(first).toEqual({ recycled: true, count: 512 });
      const rest = await check(512, 512, protocol);
      expect(rest.count).toBe(SMALL + LARGE - 512);
    }
  });

  it('large events that outgrow the recycled buffer come back whole in a buffer of their own', async () => {
    const r = await check(SMALL, LARGE, 3);
    expect(r).toEqual({ recycled: false, count: LARGE });
  });

  it('an empty page', async () => {
    expect(await check(SMALL + LARGE, 10, 3)).toEqual({ recycled: true, count: 0 });
  });
});
