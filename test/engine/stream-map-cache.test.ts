/**
 * ESCAN's page cache (StreamMapCache) gives byte-for-byte the replies of a fresh read, has_more included, while the
 * stream grows: through the read workers (threads) and on the calling thread (threads: false).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SimulatedFileIo } from '../../native-free-io/simulated-file-io.ts';
import { open, type Database } from '../../src/database.ts';
import { RespEncoder } from '../../src/protocol/resp-encoder.ts';
import { writeScanPage } from '../../src/server/event-reply.ts';
import { seededRandom } from '../../bench/load/key-distribution.ts';

const dbs: Database[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const db of dbs.splice(0)) await db.close();
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

const seeded = seededRandom;

async function reply(db: Database, streamId: string, from: number, to: number, count: number, resp: boolean): Promise<string> {
  const page = await db.scanStreamRaw(streamId, from, to, count, undefined, resp ? { resp: 3 } : undefined);
  const e = new RespEncoder({ protocol: 3 });
  writeScanPage(e, page);
  return e.take().toString('latin1');
}

const setups: [string, () => Promise<Database>][] = [
  [
    'read workers',
    async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stream-map-cache-'));
      dirs.push(dir);
      return open(dir, { threads: { write: 1, read: 1 } });
    },
  ],
  ['calling thread', () => open('/db', { threads: false, io: new SimulatedFileIo() })],
];

describe.each(setups)('ESCAN page cache (%s)', (_name, start) => {
  it('replies as a fresh read would, has_more included, while the stream grows', async () => {
    const db = await start();
    dbs.push(db);
    const rnd = seeded(7);
    let length = 0;
    const grow = async (n: number) => {
      await Promise.all(Array.from({ length: n }, (_, i) => db.append('s', 'E', { payload: `p${length + i}` })));
      await db.append('other', 'E', { payload: 'x' });
      length += n;
    };
    await grow(300);
    for (let round = 0; round < 200; round++) {
      if (round % 40 === 39) await grow(25);
      const from = Math.floor(rnd() * (length + 5));
      const to = rnd() < 0.3 ? Number.MAX_SAFE_INTEGER : from + Math.floor(rnd() * 120);
      const count = 1 + Math.floor(rnd() * 60);
      const expected = await reply(db, 's', from, to, count, false);
      expect(await reply(db, 's', from, to, count, true), `ESCAN s ${from} ${to} COUNT ${count}`).toBe(expected);
      expect(await reply(db, 's', from, to, count, true), `again: ESCAN s ${from} ${to} COUNT ${count}`).toBe(expected);
    }
    const stats = db.streamMapCacheStats();
    expect(stats.hits).toBeGreaterThan(50);
    expect(stats.bytes).toBeGreaterThan(0);
    expect(stats.bytes).toBeLessThanOrEqual(stats.budgetBytes);
  });
});
