/**
 * Scale: durable append throughput from an empty store to `events` stored events, and the restart time of the
 * store that results (issue: within ±10% from empty to 10 million events; restart under 2 s).
 *
 * The appends go in `chunks` equal runs of the load generator (-c clients -P 16, the bench:compare workload), each
 * timed on its own: the first run fills an empty store, the last one a store that already holds
 * `events - events / chunks` events, across segment rollovers and sealed indexes. Before the first run the server gets
 * the warm-up every other timed run of bench:compare gets (`warmupSeconds` of the same workload, on streams of their
 * own): without it the first run also timed the process's JIT tiering up, and the ratio compared a cold process with
 * a warm one instead of an empty store with a full one. Then the server is stopped with
 * SIGTERM (a clean shutdown) and started again on the same directory; the restart time runs from spawning the
 * process to its first PONG, which is when it serves requests. The store must then report every event: the
 * partitions' sequences (EPSEQ) add up to `events`.
 */
import { SierraClient } from '../../src/client/index.ts';
import type { RunningServer } from '../peers/common.ts';
import { runLoad } from './load-generator.ts';

export type ScaleOptions = {
  /** Starts the server, on the same directory every time (empty the first time); stop() must leave it in place. */
  start: () => Promise<RunningServer>;
  events: number;
  chunks: number;
  clients: number;
  streams: number;
  payloadBytes: number;
  partitionCount: number;
  /** Untimed appends before the first timed run (seconds; 0: none). */
  warmupSeconds: number;
  /** Stream name prefix of the warm-up appends. */
  warmupStreamPrefix: string;
  onProgress?: (line: string) => void;
};

export type ScaleResult = {
  events: number;
  /** Events per second of each chunk, in order. */
  chunkRates: number[];
  firstRate: number;
  lastRate: number;
  /** lastRate ÷ firstRate. */
  lastOverFirst: number;
  /** Slowest chunk ÷ fastest chunk. */
  minOverMax: number;
  restartMs: number;
  /** Events appended by the warm-up (stored too, before the timed runs). */
  warmupEvents: number;
  /** Events the restarted store reports (sum over partitions of EPSEQ + 1): warm-up and timed runs. */
  eventsAfterRestart: number;
};

export async function measureScale(o: ScaleOptions): Promise<ScaleResult> {
  const chunk = Math.ceil(o.events / o.chunks);
  const chunkRates: number[] = [];
  let server = await o.start();
  let stored = 0;
  let warmupEvents = 0;
  /** The workload of every run (-c clients -P 16 appends): `count` events, or for `durationSeconds`. */
  const append = (run: { count?: number; durationSeconds?: number; streamPrefix?: string }) =>
    runLoad({ command: 'eappend', port: server.port, clients: o.clients, pipeline: 16, streams: o.streams, payloadBytes: o.payloadBytes, onProgress: null, count: undefined, durationSeconds: undefined, ...run });
  try {
    if (o.warmupSeconds > 0) {
      const w = await append({ durationSeconds: o.warmupSeconds, streamPrefix: o.warmupStreamPrefix });
      if (w.errors > 0) throw new Error(`warm-up: ${w.errors} errors ${JSON.stringify(w.errorsByCode)}`);
      warmupEvents = w.ops;
      o.onProgress?.(`warm-up: ${warmupEvents.toLocaleString('en-US')} events in ${o.warmupSeconds} s (untimed)`);
    }
    while (stored < o.events) {
      const count = Math.min(chunk, o.events - stored);
      const r = await append({ count });
      if (r.errors > 0) throw new Error(`appending chunk ${chunkRates.length + 1}: ${r.errors} errors ${JSON.stringify(r.errorsByCode)}`);
      stored += count;
      chunkRates.push(r.eventsPerSecond);
      o.onProgress?.(`${stored.toLocaleString('en-US')} events stored; last ${count.toLocaleString('en-US')} at ${Math.round(r.eventsPerSecond).toLocaleString('en-US')}/s`);
    }
  } finally {
    await server.stop();
  }
  const t0 = performance.now();
  server = await o.start();
  const restartMs = performance.now() - t0;
  let eventsAfterRestart = 0;
  try {
    const client = await SierraClient.connect({ host: server.host, port: server.port });
    try {
      for (let p = 0; p < o.partitionCount; p++) {
        const last = await client.epseq(p);
        if (last !== null) eventsAfterRestart += last + 1;
      }
    } finally {
      client.close();
    }
  } finally {
    await server.stop();
  }
  const firstRate = chunkRates[0];
  const lastRate = chunkRates[chunkRates.length - 1];
  return {
    events: stored,
    chunkRates,
    firstRate,
    lastRate,
    lastOverFirst: lastRate / firstRate,
    minOverMax: Math.min(...chunkRates) / Math.max(...chunkRates),
    restartMs,
    warmupEvents,
    eventsAfterRestart,
  };
}
