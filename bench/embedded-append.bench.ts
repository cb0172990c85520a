/**
 * Embedded durable appends: 200-byte payloads from 1, 16 and 256 concurrent appenders against a fresh data
 * directory on the real disk (every acknowledged append is fdatasynced). Prints events/s, events per fsync and
 * fsyncs/s per level, and a checksum of the work (sum of acknowledged partition sequences) so the run is honest.
 *
 *   npx node bench/embedded-append.bench.ts [--seconds 5] [--levels 1,16,256] [--dir /path]
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { open } from '../src/database.ts';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    levels: { type: 'string', default: '1,16,256' },
    dir: { type: 'string' },
    streams: { type: 'string', default: '1000' },
    'write-threads': { type: 'string' },
  },
});
const seconds = Number(values.seconds);
const levels = values.levels!.split(',').map(Number);
const streamCount = Number(values.streams);
const payload = Buffer.alloc(200, 'x');
const writeThreads = values['write-threads'] !== undefined ? Number(values['write-threads']) : undefined;

export interface AppendBenchResult {
  concurrency: number;
  events: number;
  seconds: number;
  eventsPerSecond: number;
  fsyncs: number;
  eventsPerFsync: number;
  checksum: number;
}

export async function benchLevel(concurrency: number, dirRoot: string): Promise<AppendBenchResult> {
  const dir = fs.mkdtempSync(path.join(dirRoot, `append-${concurrency}-`));
  const db = await open(dir, { threads: { write: writeThreads } });
  try {
    let events = 0;
    let checksum = 0;
    let stop = false;
    const started = performance.now();
    const deadline = started + seconds * 1000;
    const worker = async (w: number) => {
      for (let i = 0; !stop; i++) {
        const r = await db.append(`bench-${(w * 7919 + i) % streamCount}`, 'BenchEvent', { payload });
        events++;
        checksum = (checksum + r.partitionSequence) % 1_000_000_007;
        if (performance.now() >= deadline) stop = true;
      }
    };
    await Promise.all(Array.from({ length: concurrency }, (_, w) => worker(w)));
    const elapsed = (performance.now() - started) / 1000;
    const stats = await db.writerStats();
    const fsyncs = stats.reduce((n, s) => n + s.fsyncs, 0);
    return { concurrency, events, seconds: elapsed, eventsPerSecond: events / elapsed, fsyncs, eventsPerFsync: events / Math.max(1, fsyncs), checksum };
  } finally {
    await db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const root = values.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'sdb-bench-'));
  console.log(`embedded durable append, 200 B payloads, ${seconds}s per level, data in ${root}`);
  for (const c of levels) {
    const r = await benchLevel(c, root);
    console.log(
      `concurrency ${String(c).padStart(4)}: ${Math.round(r.eventsPerSecond).toLocaleString('en-US').padStart(10)} events/s, ` +
        `${r.eventsPerFsync.toFixed(1).padStart(7)} events/fsync, ${Math.round(r.fsyncs / r.seconds).toLocaleString('en-US')} fsyncs/s (checksum ${r.checksum})`,
    );
  }
  if (values.dir === undefined) fs.rmSync(root, { recursive: true, force: true });
}
