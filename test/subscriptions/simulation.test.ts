/**
 * Seeded, model-based simulation of the subscription engine (in-process, simulated disk): random single and
 * multi-event appends interleaved with subscriptions made at random moments (partition sets or stream sets; FROM
 * 0, a position, a map, or LATEST; random windows), random ack delays, and random closes. Every subscription must
 * receive exactly the events the model says — per partition gapless in sequence order from its start, per stream
 * in version order — no more, no fewer, and never more than `window` unacknowledged. A failure prints its seed;
 * `SUB_SIM_SEED=<seed>` replays one; `SUB_SIM_COUNT=<n>` runs n seeds (25 by default).
 */
import { describe, expect, it } from 'vitest';
import type { Database, EventRecord } from '../../src/database.ts';
import { partitionIdForKey, partitionKeyForStream } from '../../src/ids/partition-key.ts';
import type { SourceSpec } from '../../src/subscriptions/subscription.ts';
import { CollectingSink, openSimulated, settle, subscribe, waitFor } from './helpers.ts';
import { seededRandom } from '../../bench/load/key-distribution.ts';

const rng = seededRandom;

interface ModelSub {
  kind: 'partition' | 'stream';
  /** Partition id or stream id → first position delivered. */
  starts: Map<number | string, number>;
  /** For FROM LATEST streams: the partition watermark when the subscription was made. */
  latestAt: Map<string, number>;
  window: number;
  sink: CollectingSink;
  sub: ReturnType<typeof subscribe>['sub'];
  closed: boolean;
  maxInFlight: number;
}

const STREAMS = Array.from({ length: 24 }, (_, i) => `sim-${i}`);

async function simulate(seed: number): Promise<void> {
  const random = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)];
  const db: Database = await openSimulated();
  const subs: ModelSub[] = [];
  const pendingAppends: Promise<unknown>[] = [];
  try {
    for (let op = 0; op < 250; op++) {
      const r = random();
      if (r < 0.45) {
        pendingAppends.push(db.append(pick(STREAMS), 'E', { payload: `${op}` }));
      } else if (r < 0.55) {
        // A transaction of 1..3 events on one stream, under the stream's own partition key.
        const streamId = pick(STREAMS);
        const n = 1 + Math.floor(random() * 3);
        pendingAppends.push(db.appendMulti(partitionKeyForStream(streamId), Array.from({ length: n }, () => ({ streamId, eventName: 'M' }))));
      } else if (r < 0.65 && subs.filter((s) => !s.closed).length < 12) {
        const window = 1 + Math.floor(random() * 40);
        const sink = new CollectingSink();
        const starts = new Map<number | string, number>();
        const latestAt = new Map<string, number>();
        let sources: SourceSpec[];
        let kind: 'partition' | 'stream';
        if (random() < 0.6) {
          kind = 'partition';
          const all = random() < 0.5;
          const ids = all ? Array.from({ length: 32 }, (_, p) => p) : [...new Set(Array.from({ length: 1 + Math.floor(random() * 5) }, () => Math.floor(random() * 32)))];
          const mode = random();
          sources = ids.map((partitionId) => {
            const from: number | 'latest' = mode < 0.35 ? 0 : mode < 0.7 ? 'latest' : Math.floor(random() * 6);
            starts.set(partitionId, from === 'latest' ? db.sharedState.watermark(partitionId) : from);
            return { kind: 'partition', partitionId, from };
          });
        } else {
          kind = 'stream';
          const ids = [...new Set(Array.from({ length: 1 + Math.floor(random() * 3) }, () => pick(STREAMS)))];
          sources = ids.map((streamId) => {
            const partitionKey = partitionKeyForStream(streamId);
            const partitionId = partitionIdForKey(partitionKey, 32);
            const from: number | 'latest' = random() < 0.4 ? 'latest' : Math.floor(random() * 4);
            if (from === 'latest') latestAt.set(streamId, db.sharedState.watermark(partitionId));
            else starts.set(streamId, from);
            return { kind: 'stream', streamId, partitionKey, partitionId, from };
          });
        }
        const made = subscribe(db, sources, window, sink);
        const model: ModelSub = { kind, starts, latestAt, window, sink, sub: made.sub, closed: false, maxInFlight: 0 };
        const ackDelay = Math.floor(random() * 3); // 0: in the same turn, 1: next macrotask, 2: a little later
        sink.onSend = (_first, last) => {
          model.maxInFlight = Math.max(model.maxInFlight, last - model.sub.ackedThrough);
          if (ackDelay === 0) model.sub.ack(last);
          else if (ackDelay === 1) setImmediate(() => model.sub.ack(last));
          else setTimeout(() => model.sub.ack(last), 1);
        };
        subs.push(model);
      } else if (r < 0.68) {
        const open = subs.filter((s) => !s.closed);
        if (open.length > 0) {
          const s = pick(open);
          s.sub.close();
          s.closed = true;
        }
      } else {
        const ticks = 1 + Math.floor(random() * 3);
        for (let t = 0; t < ticks; t++) await new Promise((resolve) => setImmediate(resolve));
      }
    }
    await Promise.all(pendingAppends);

    // The model: every durable event, by partition (in sequence order) and by stream (in version order).
    const all: EventRecord[] = [];
    for (let p = 0; p < 32; p++) {
      for (let from = 0; ; ) {
        const page = await db.scanPartition(p, from, Number.MAX_SAFE_INTEGER, { count: 1000 });
        all.push(...page.events);
        if (!page.hasMore) break;
        from = page.events.at(-1)!.partitionSequence + 1;
      }
    }
    const expectedFor = (s: ModelSub): EventRecord[] =>
      all.filter((e) => {
        if (s.kind === 'partition') return s.starts.has(e.partitionId) && e.partitionSequence >= s.starts.get(e.partitionId)!;
        if (s.latestAt.has(e.streamId)) return e.partitionId === partitionIdForKey(partitionKeyForStream(e.streamId), 32) && e.partitionSequence >= s.latestAt.get(e.streamId)!;
        return s.starts.has(e.streamId) && e.streamVersion >= (s.starts.get(e.streamId) as number);
      });
    const key = (e: EventRecord) => `${e.partitionId}:${e.partitionSequence}`;
    for (const s of subs.filter((x) => !x.closed)) {
      const expected = expectedFor(s);
      try {
        await waitFor(() => s.sink.received.length >= expected.length, `subscription to receive ${expected.length} events (seed ${seed})`, 3000);
      } catch (err) {
        const got = s.sink.received.map((r) => key(r.event));
        const missing = expected.filter((e) => !got.includes(key(e))).map((e) => `${key(e)} ${e.streamId} v${e.streamVersion}`);
        console.log(JSON.stringify({ kind: s.kind, starts: [...s.starts], latestAt: [...s.latestAt], window: s.window, got: got.length, expected: expected.length, acked: s.sub.ackedThrough, sent: s.sub.sent, missing: missing.slice(0, 10), positions: s.sub.positions().slice(0, 40) }));
        throw err;
      }
    }
    await settle(20);
    for (const s of subs) {
      const expected = expectedFor(s);
      const got = s.sink.received.map((r) => r.event);
      expect(s.sink.received.map((r) => r.cursor), `cursors (seed ${seed})`).toEqual(got.map((_, i) => i));
      expect(s.maxInFlight, `window (seed ${seed})`).toBeLessThanOrEqual(s.window);
      // Per partition / per stream order is the model's; across partitions or streams any interleaving goes.
      const group = (e: EventRecord) => (s.kind === 'partition' ? String(e.partitionId) : e.streamId);
      const byGroup = (events: EventRecord[]) => {
        const m = new Map<string, string[]>();
        for (const e of events) m.set(group(e), [...(m.get(group(e)) ?? []), key(e)]);
        return m;
      };
      const want = byGroup(expected);
      const have = byGroup(got);
      if (s.closed) {
        // A closed subscription received a prefix of each group.
        for (const [g, keys] of have) expect(want.get(g)!.slice(0, keys.length), `prefix of ${g} (seed ${seed})`).toEqual(keys);
      } else {
        expect(have, `events of an open subscription (seed ${seed})`).toEqual(want);
      }
    }
  } finally {
    for (const s of subs) s.sub.close();
    await db.close();
  }
}

describe('subscription simulation (seeded)', () => {
  const fixed = process.env.SUB_SIM_SEED;
  const count = Number(process.env.SUB_SIM_COUNT ?? 25);
  const seeds = fixed !== undefined ? [Number(fixed)] : Array.from({ length: count }, (_, i) => 1000 + i * 7919);
  for (const seed of seeds) {
    it(`seed ${seed}`, async () => {
      await simulate(seed);
    });
  }
});
