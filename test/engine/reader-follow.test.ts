/**
 * Read workers follow their buckets' active segments while appends go on (PiscinaReadBackend's follow task), so that
 * the first read after a burst of appends does not index the whole burst first. What is checked: follow tasks run
 * once enough is published, and reads stay exact with them running between and during the appends.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { open, type Database } from '../../src/database.ts';
import { waitFor } from '../subscriptions/helpers.ts';

const dirs: string[] = [];
const dbs: Database[] = [];
afterEach(async () => {
  for (const db of dbs.splice(0)) await db.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('read workers following the active segments', () => {
  it('are asked to follow once megabytes are published, and reads stay exact meanwhile', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sierradb-follow-'));
    dirs.push(dir);
    const db = await open(dir, { threads: { write: 2, read: 2 } });
    dbs.push(db);
    expect(db.readerFollows()).toBe(0);
    const pad = 'p'.repeat(1000);
    // ~12 MB into one stream's bucket, in rounds, reading between them while the follower runs.
    for (let round = 0; round < 4; round++) {
      await Promise.all(Array.from({ length: 3000 }, (_, i) => db.append('followed', 'E', { payload: `${round * 3000 + i}:${pad}` })));
      if (round === 1) await waitFor(() => db.readerFollows() > 0, 'a follow task');
      const page = await db.scanStream('followed', round * 3000, round * 3000 + 2999, { count: 3000 });
      expect(page.events.length).toBe(3000);
      // Versions come in append order; payloads were numbered in submission order, which they need not follow.
      expect(page.events.map((e) => e.streamVersion)).toEqual(Array.from({ length: 3000 }, (_, i) => round * 3000 + i));
      expect(new Set(page.events.map((e) => Number(e.payload.toString().split(':')[0]))).size).toBe(3000);
    }
    await waitFor(() => db.readerFollows() >= 2, 'more follow tasks');
    const all = await db.scanStream('followed', 0, Number.MAX_SAFE_INTEGER, { count: 20_000 });
    expect(all.events.length).toBe(12_000);
    expect(new Set(all.events.map((e) => e.payload.toString().split(':')[0])).size).toBe(12_000);
  });
});
